"""A token bucket shared through the store by every process of a deployment.

Several ``opsync serve`` instances on one PostgreSQL database must stay, together, within
Notion's 3 requests/s and OpenPhone's 10 requests/s per credential, and a 429 seen by one
must pause all. Each request reserves its slot with one atomic ``UPDATE … RETURNING`` of the
bucket's GCRA "theoretical arrival time" (``tat``) and then sleeps until the slot: with rate
``r`` (interval ``T = 1/r``) and burst ``b``, a request arriving at ``t`` may go at
``max(t, tat - T - (b - 1)*T)`` where ``tat`` is the value after its reservation. A 429's
Retry-After moves ``tat`` forward for everyone. Time is the machines' wall clock (kept in step
by NTP; a skew of a few milliseconds only shifts a slot by as much).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from opsync.clock import Clock, SystemClock
from opsync.errors import StoreUnavailable
from opsync.pacing import RateLimit
from opsync.store import Store

log = logging.getLogger(__name__)


def bucket_name(api: str, credential: str) -> str:
    """The bucket of one upstream credential: the API and a fingerprint, never the secret."""
    digest = hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]
    return f"{api}:{digest}"


class SharedTokenBucket:
    """A :class:`~opsync.pacing.Pacer` whose tokens are shared through ``store``."""

    def __init__(
        self, store: Store, name: str, limit: RateLimit, clock: Clock | None = None
    ) -> None:
        self._store = store
        self._name = name
        self._interval = 1.0 / limit.rate
        self._tolerance = (limit.burst - 1) * self._interval
        self._clock = clock or SystemClock()
        self._paused_until = 0.0
        self._holds: set[asyncio.Task[None]] = set()

    async def acquire(self) -> float:
        started = self._clock.monotonic()
        now = self._clock.now()
        if now < self._paused_until:  # a pause this process saw: no round trip until it ends
            await self._clock.sleep(self._paused_until - now)
            now = self._clock.now()
        tat = await self._store.rate_reserve(self._name, now, self._interval)
        wait = max(0.0, tat - self._interval - self._tolerance - now)
        if wait > 0:
            await self._clock.sleep(wait)
        return self._clock.monotonic() - started

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock.now() + seconds
        self._paused_until = max(self._paused_until, until)
        # Tell the other processes: the first slot after the pause is at ``until`` (a slot is
        # ``tat - tolerance`` once the next reservation has added its interval).
        task = asyncio.get_running_loop().create_task(self._hold(until + self._tolerance))
        self._holds.add(task)
        task.add_done_callback(self._holds.discard)

    async def flush(self) -> None:
        """Wait until every pause this process saw has been shared."""
        if self._holds:
            await asyncio.gather(*self._holds, return_exceptions=True)

    async def _hold(self, tat: float) -> None:
        try:
            await self._store.rate_hold(self._name, tat)
        except StoreUnavailable:
            # This process still pauses; the others learn of the 429 from their own.
            log.warning("could not share a rate-limit pause", extra={"action": "pause_unshared"})
