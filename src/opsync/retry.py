"""Retry policy as values and pure functions: backoff with jitter; Retry-After wins."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**attempt`` capped at ``cap``, at most ``max_attempts``."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 5

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based).

        Jitter spreads the retries of many workers; a server's ``Retry-After`` replaces it.
        """
        ceiling = min(self.cap, self.base * (2**attempt))
        jittered = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return max(retry_after, 0.0)
        return jittered

    def gives_up_after(self, attempt: int) -> bool:
        """True when ``attempt`` (0-based, just failed) was the last one allowed."""
        return attempt + 1 >= self.max_attempts


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds (integer or decimal); None when absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
