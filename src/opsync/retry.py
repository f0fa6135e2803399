"""Retry policy as values and pure functions: backoff with jitter; Retry-After wins."""

from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_EXPONENT = 64
"""Beyond this many doublings (or triplings) every ceiling is the cap anyway."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * multiplier**attempt`` capped at ``cap``, at most
    ``max_attempts`` attempts in all."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 5
    multiplier: float = 2.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number ``attempt`` (0-based); jitter draws between
        half of it and all of it."""
        return min(self.cap, self.base * self.multiplier ** min(attempt, _MAX_EXPONENT))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based).

        Jitter spreads the retries of many workers; a server's ``Retry-After`` replaces it.
        """
        ceiling = self.ceiling(attempt)
        jittered = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return max(retry_after, 0.0)
        return jittered

    def gives_up_after(self, attempt: int) -> bool:
        """True when ``attempt`` (0-based, just failed) was the last one allowed."""
        return attempt + 1 >= self.max_attempts

    def outage_budget(self) -> tuple[float, float]:
        """Seconds between the first and the last allowed attempt, at least and at most
        (jitter decides where in between): an outage shorter than the first figure is
        always ridden out; one longer than the second always exhausts the attempts."""
        ceilings = [self.ceiling(attempt) for attempt in range(max(self.max_attempts - 1, 0))]
        return sum(ceilings) / 2, sum(ceilings)


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds (integer or decimal); None when absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
