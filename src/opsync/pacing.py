"""Request pacing: a token bucket per upstream credential, paused by a 429's Retry-After.

This in-process bucket is shared by everything in one process. A database-backed bucket for
several machines implements the same :class:`Pacer` protocol.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from opsync.clock import Clock, SystemClock


@dataclass(frozen=True)
class RateLimit:
    """``rate`` requests per second on average, at most ``burst`` at once."""

    rate: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")


_EPSILON = 1e-9

NOTION_LIMIT = RateLimit(rate=3.0, burst=3)
# OpenPhone counts requests in fixed one-second windows ("429 until the next one-second
# window"). A bucket of rate r and burst b can send b + r in one such window, so 9/s with a
# burst of 1 keeps every window at or under the documented 10.
OPENPHONE_LIMIT = RateLimit(rate=9.0, burst=1)


class Pacer(Protocol):
    async def acquire(self) -> float:
        """Wait for a token; returns the seconds spent waiting."""

    def pause(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` (a 429's Retry-After)."""


class TokenBucket:
    """A token bucket on a :class:`Clock`; safe for many tasks of one event loop."""

    def __init__(self, limit: RateLimit, clock: Clock | None = None) -> None:
        self.limit = limit
        self._clock = clock or SystemClock()
        self._tokens = float(limit.burst)
        self._updated = self._clock.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.limit.rate)
        self._updated = now

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock.monotonic() + seconds
        self._paused_until = max(self._paused_until, until)
        # One request may go when the pause ends; nothing more accrues while paused.
        self._tokens = min(self._tokens, 1.0)
        self._updated = max(self._updated, self._paused_until)

    async def acquire(self) -> float:
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                if now < self._paused_until:
                    delay = self._paused_until - now
                else:
                    self._refill(now)
                    if self._tokens >= 1.0 - _EPSILON:  # float refill can fall a hair short
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return waited
                    delay = (1.0 - self._tokens) / self.limit.rate
                waited += delay
                await self._clock.sleep(delay)
