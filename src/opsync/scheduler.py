"""The scheduler: on each firing of ``OPSYNC_SYNC_CRON``, one sync job per active phone number.

Each tick decides with :func:`opsync.cron.due` whether a period is due (against the last
completed period in the store), then claims that period deployment-wide (a lease in the store,
see :mod:`opsync.store._schedule`): with several instances on one database exactly one fires.
The firing lists the workspace's numbers from the phone-numbers API (a new one gets its
``phone_numbers`` row on first sight; a row marked inactive is skipped) and queues a sync job
per number with the event id ``sync:{phone_number_id}:{period_start}``, unless one is already
waiting for that number. A firing that fails gives its claim back, so the next tick retries it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from opsync.clock import Clock, SystemClock
from opsync.cron import due, next_fire, parse
from opsync.openphone.models import PhoneNumber
from opsync.store import Store
from opsync.sync.jobs import SyncJob, enqueue_sync_job

__all__ = ["PhoneNumberLister", "Scheduler", "default_owner"]

log = logging.getLogger(__name__)


class PhoneNumberLister(Protocol):
    """Where the workspace's numbers come from (an :class:`~opsync.openphone.OpenPhoneClient`;
    asked afresh at each firing, so that numbers added since are found)."""

    async def list_phone_numbers(self) -> list[PhoneNumber]: ...


def default_owner() -> str:
    """An instance name for claims: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class _Outcome:
    queued: list[str]
    contested: bool = False  # a due period is claimed by another instance, not yet completed


class Scheduler:
    """Fires ``cron`` (five fields, UTC) deployment-wide; see the module docstring.

    Raises ``ValueError`` naming the field for a bad ``cron`` expression."""

    def __init__(
        self,
        store: Store,
        openphone: PhoneNumberLister,
        *,
        cron: str,
        clock: Clock | None = None,
        name: str = "sync",
        owner: str | None = None,
        lease_seconds: float = 300.0,
        retry_seconds: float = 60.0,
        max_sleep_seconds: float = 3600.0,
    ) -> None:
        self.schedule = parse(cron)
        self.name = name
        self.owner = owner or default_owner()
        self._store = store
        self._leases = store
        self._openphone = openphone
        self._clock: Clock = clock or SystemClock()
        self._lease_seconds = lease_seconds
        self._retry_seconds = retry_seconds
        self._max_sleep_seconds = max_sleep_seconds

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def tick(self) -> list[str]:
        """Fire if a period is due and this instance wins its claim; returns the phone number
        ids a sync job was queued for now (empty when nothing was due, another instance
        fired, or every number already had a job waiting). Raises what the phone-numbers API
        or the store raise, after giving the claim back."""
        return (await self._tick()).queued

    async def _tick(self) -> _Outcome:
        last_ms = await self._leases.scheduler_last_period(self.name)
        last = None if last_ms is None else datetime.fromtimestamp(last_ms / 1000, UTC)
        period = due(self.schedule, last, self._now())
        if period is None:
            return _Outcome([])
        period_ms = int(period.timestamp() * 1000)
        claimed = await self._leases.scheduler_claim(
            self.name, period_ms, self.owner, lease_seconds=self._lease_seconds
        )
        if not claimed:
            log.debug(
                "scheduled period claimed by another instance",
                extra={
                    "action": "schedule_contested",
                    "schedule": self.name,
                    "period_start": _iso(period),
                },
            )
            return _Outcome([], contested=True)
        try:
            queued = await self._fire(period)
        except BaseException:
            await asyncio.shield(self._release(period_ms))
            raise
        completed = await asyncio.shield(
            self._leases.scheduler_complete(
                self.name, period_ms, self.owner, phone_number_ids=queued
            )
        )
        if not completed:
            # The lease ran out mid-firing and another instance took the period over; the jobs
            # queued here stay (their event ids make the other firing's enqueues no-ops).
            log.warning(
                "scheduler claim lost before the firing completed",
                extra={"action": "schedule_lease_lost", "schedule": self.name},
            )
        log.info(
            "scheduled sync fired",
            extra={
                "action": "schedule_fired",
                "schedule": self.name,
                "period_start": _iso(period),
                "queued": len(queued),
                "phone_number_ids": queued,
                "owner": self.owner,
            },
        )
        return _Outcome(queued)

    async def _fire(self, period: datetime) -> list[str]:
        queued: list[str] = []
        for number in await self._openphone.list_phone_numbers():
            if not await self._is_active(number):
                continue
            job = SyncJob(number.id, source="cron")
            event_id = f"sync:{number.id}:{_iso(period)}"
            if await enqueue_sync_job(self._store, job, event_id=event_id):
                queued.append(number.id)
        return queued

    async def _is_active(self, number: PhoneNumber) -> bool:
        row = await self._store.get_phone_number(number.id)
        if row is not None:
            return row.is_active
        await self._store.upsert_phone_number(number.id, number.number, name=number.name)
        log.info(
            "new phone number",
            extra={"action": "phone_number_discovered", "phone_number_id": number.id},
        )
        return True

    async def _release(self, period_ms: int) -> None:
        try:
            await self._leases.scheduler_release(self.name, period_ms, self.owner)
        except Exception:
            # The lease expires on its own; the next tick after that retries the period.
            log.warning(
                "could not release a scheduler claim",
                extra={"action": "schedule_release_failed", "schedule": self.name},
                exc_info=True,
            )

    async def last_runs(self) -> dict[str, int]:
        """Phone number id → epoch ms of its last scheduled run (the completion of the last
        firing that queued a sync job for it)."""
        return await self._leases.scheduler_last_runs(self.name)

    def seconds_until_next(self) -> float:
        """Seconds from the clock's now to the next firing."""
        now = self._now()
        return (next_fire(self.schedule, now) - now).total_seconds()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Tick, then sleep until the next firing, until ``stop`` is set (a sleep ends at once
        then). A failed tick is logged and retried after ``retry_seconds``; while another
        instance holds an unfinished claim, this one looks again after ``lease_seconds`` (and
        takes the period over if that instance died)."""
        while not stop.is_set():
            try:
                outcome = await self._tick()
            except Exception:
                log.exception(
                    "scheduled sync failed",
                    extra={"action": "schedule_failed", "schedule": self.name},
                )
                delay = self._retry_seconds
            else:
                delay = self.seconds_until_next()
                if outcome.contested:
                    delay = min(delay, self._lease_seconds)
            await _sleep_or_stop(self._clock, min(delay, self._max_sleep_seconds), stop)


async def _sleep_or_stop(clock: Clock, seconds: float, stop: asyncio.Event) -> None:
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, stopper):
            task.cancel()
        await asyncio.gather(sleeper, stopper, return_exceptions=True)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
