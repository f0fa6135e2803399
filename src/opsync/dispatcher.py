"""The worker loop: claim inbox events, run the handler, record each outcome.

Up to ``concurrency`` events run at once, each from a different partition (the store's claim
guarantees one in flight per partition across every worker of the deployment). While a handler
runs, a heartbeat extends its lease every third of ``lease_seconds``; if the lease is lost (the
event was claimed again elsewhere), the handler is cancelled. Outcomes are written inside
``asyncio.shield``: a cancel arriving mid-write cannot lose them. A failed handler's error goes
through :func:`opsync.inbox.decide` to a retry or a dead letter.

Time of day (``clock``) stamps decisions; waits between polls and heartbeats are asyncio timers,
so a ``FakeClock`` in tests never makes a background loop spin.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import structlog

from opsync.clock import Clock, SystemClock, epoch_ms
from opsync.inbox import DeadLetter, Retry, decide
from opsync.owners import new_owner_id, owner_gone
from opsync.retry import RetryPolicy
from opsync.store import InboxEvent, Store

__all__ = ["Dispatcher", "Done", "Handler", "Ignore", "Outcome", "Reroute", "default_owner_id"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Done:
    """The event was handled (a handler returning ``None`` means the same)."""


@dataclass(frozen=True)
class Ignore:
    """The event needs no work (for example a type opsync does not handle)."""

    reason: str = ""


@dataclass(frozen=True)
class Reroute:
    """The event belongs to ``partition_key`` (its phone number was unknown at ingest): give
    it back, uncounted, to queue behind that partition's events."""

    partition_key: str


@dataclass(frozen=True)
class Defer:
    """Look at the event again at ``at_ms`` (epoch ms), uncounted: the handler is waiting for
    more of the resource to arrive before it writes."""

    at_ms: int


Outcome = Done | Ignore | Reroute | Defer
Handler = Callable[[InboxEvent], Awaitable[Outcome | None]]


def default_owner_id() -> str:
    """``host:pid:random:pidns``: unique per dispatcher, readable in ``inbox.lease_owner``,
    and naming its process so that a restart can tell it is gone (:mod:`opsync.owners`)."""
    return new_owner_id()


class Dispatcher:
    """Claims and runs inbox events; see the module docstring. Not reentrant: run one of
    :meth:`run_until_idle` or :meth:`run_forever` at a time."""

    def __init__(
        self,
        store: Store,
        handler: Handler,
        *,
        policy: RetryPolicy,
        concurrency: int = 8,
        lease_seconds: float = 60.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        owner_id: str | None = None,
        poll_interval: float = 1.0,
        shutdown_grace: float = 10.0,
        interruptible: Callable[[InboxEvent], bool] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._store = store
        self._handler = handler
        self._policy = policy
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self.owner_id = owner_id or default_owner_id()
        self._poll_interval = poll_interval
        self._shutdown_grace = shutdown_grace
        self._interruptible = interruptible or _never
        self._running: dict[asyncio.Task[None], InboxEvent] = {}
        self._bookkeeping: set[asyncio.Task[Any]] = set()

    async def run_until_idle(self) -> int:
        """Drain mode: run events until nothing is claimable and nothing is in flight; returns
        how many were run. Events waiting for a later retry are left for a later call. If
        cancelled, handlers still running are cancelled and their events released."""
        processed = 0
        try:
            while await self._fill() or self._running:
                processed += await self._reap(await self._wait_any(None))
        finally:
            await self._shutdown(grace=0.0)
        return processed

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, polling every ``poll_interval`` when idle. Then stop
        claiming, let in-flight handlers finish for up to ``shutdown_grace`` seconds, cancel
        the rest and release their events (nothing is lost: they are claimed again later).
        Events ``interruptible`` picks (long, resumable work such as a sync job) are cancelled
        and released at once instead: waiting for them would only delay the stop."""
        await self._release_orphans()
        stop_wait = asyncio.create_task(stop.wait())
        grace = self._shutdown_grace
        try:
            while not stop.is_set():
                try:
                    await self._fill()
                except Exception:
                    # StoreUnavailable (or a bug in a claim): keep the loop alive, poll again.
                    log.exception("claim failed", extra={"action": "claim_failed"})
                full = len(self._running) >= self._concurrency
                done = await self._wait_any(None if full else self._poll_interval, stop_wait)
                await self._reap(done)
        except asyncio.CancelledError:
            grace = 0.0
            raise
        finally:
            stop_wait.cancel()
            await self._shutdown(grace)

    # --- one event ------------------------------------------------------------------------

    async def _process(self, event: InboxEvent) -> None:
        # A task of its own (``_fill``): what is bound here names every line of this event.
        structlog.contextvars.bind_contextvars(
            event_id=event.event_id, partition=event.partition_key
        )
        extra = _extra(event)
        log.info("claimed", extra={"action": "event_claimed", **extra})
        if event.attempts > self._policy.max_attempts:
            # Claimed again and again without an outcome: its handler kills or stalls workers.
            reason = (
                f"claimed {event.attempts} times without an outcome: the worker crashed or "
                f"lost its lease while handling it (lease {self._lease_seconds:g} s)"
            )
            await self._shielded(self._dead_letter(event, DeadLetter("LeaseExpired", reason)))
            return
        beat = asyncio.create_task(self._heartbeat(event, asyncio.current_task()))
        try:
            outcome = await self._handler(event)
        except Exception as exc:
            now = epoch_ms(self._clock)
            decision = decide(exc, event.attempts, self._policy, now, self._rng)
            if decision.unexpected:
                log.error("handler bug", exc_info=exc, extra={"action": "event_bug", **extra})
            await self._shielded(self._record_failure(event, decision))
        except BaseException:
            await self._shielded(self._release(event))
            raise
        else:
            await self._shielded(self._record_outcome(event, outcome or Done()))
        finally:
            beat.cancel()
            # asyncio.wait, not ``await beat``: a cancel aimed at this task must not be
            # mistaken for the heartbeat's own and swallowed.
            await asyncio.wait({beat})

    async def _record_outcome(self, event: InboxEvent, outcome: Outcome) -> None:
        store, owner = self._store, self.owner_id
        more: dict[str, Any]
        if isinstance(outcome, Reroute):
            ok = await store.inbox_reroute(event.id, owner, outcome.partition_key)
            action, more = "event_rerouted", {"to_partition": outcome.partition_key}
        elif isinstance(outcome, Defer):
            ok = await store.inbox_defer(event.id, owner, outcome.at_ms)
            action, more = "event_deferred", {"next_attempt_at": outcome.at_ms}
        else:
            state: Literal["done", "ignored"] = "ignored" if isinstance(outcome, Ignore) else "done"
            ok = await store.inbox_complete(event.id, owner, state)
            action, more = "event_done", {"state": state}
        self._logged(ok, event, action, **more)

    async def _record_failure(self, event: InboxEvent, decision: Retry | DeadLetter) -> None:
        if isinstance(decision, DeadLetter):
            await self._dead_letter(event, decision)
            return
        ok = await self._store.inbox_retry(
            event.id, self.owner_id, decision.at_ms, decision.error_class, decision.message
        )
        error = f"{decision.error_class}: {decision.message}"
        self._logged(ok, event, "event_retry", next_attempt_at=decision.at_ms, error=error)

    async def _dead_letter(self, event: InboxEvent, decision: DeadLetter) -> None:
        ok = await self._store.inbox_dead_letter(
            event.id, self.owner_id, decision.error_class, decision.reason
        )
        self._logged(ok, event, "event_dead", reason=decision.reason)

    async def _release_orphans(self) -> None:
        """Give back now the events of workers of this machine whose process is gone (killed,
        crashed): a restart resumes their phone numbers at once instead of after the lease.
        The crash counts as an attempt (an event that kills its worker every time ends in the
        dead letters), except for resumable work (``interruptible``): it resumes from its
        saved progress, so the crash cost it nothing (decision record 0016)."""
        try:
            in_flight = await self._store.inbox_list("in_flight", limit=10_000)
            owners = {e.lease_owner for e in in_flight if e.lease_owner}
            gone = sorted(o for o in owners if o != self.owner_id and owner_gone(o))
            released = 0
            for event in in_flight:
                if event.lease_owner in gone and self._interruptible(event):
                    released += await self._store.inbox_release(event.id, event.lease_owner)
            released += await self._store.inbox_release_owners(gone)
        except Exception:
            # The store is not reachable yet: those leases simply expire as they would have.
            log.exception("orphan check failed", extra={"action": "orphans_check_failed"})
            return
        if released:
            log.warning(
                "events of dead workers released",
                extra={"action": "orphans_released", "events": released, "owners": gone},
            )

    async def _release(self, event: InboxEvent) -> None:
        ok = await self._store.inbox_release(event.id, self.owner_id)
        self._logged(ok, event, "event_released")

    def _logged(self, ok: bool, event: InboxEvent, action: str, **more: Any) -> None:
        extra = {**_extra(event), **more}
        if not ok:
            # The lease expired and another worker claimed the event: its outcome wins.
            log.warning("lease lost", extra={"action": "event_stale", "outcome": action, **extra})
        elif action in ("event_dead", "event_retry"):
            log.warning(action, extra={"action": action, **extra})
        else:
            log.info(action, extra={"action": action, **extra})

    async def _heartbeat(self, event: InboxEvent, handler: asyncio.Task[Any] | None) -> None:
        interval = self._lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                owned = await self._store.inbox_heartbeat(
                    event.id, self.owner_id, self._lease_seconds
                )
            except Exception:
                # Keep the handler going: the lease still has two intervals left to recover.
                log.exception("heartbeat failed", extra={"action": "heartbeat_failed"})
                continue
            if not owned:
                log.warning("lease lost", extra={"action": "lease_lost", **_extra(event)})
                if handler is not None:
                    handler.cancel()
                return

    # --- the pool -------------------------------------------------------------------------

    async def _fill(self) -> int:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return 0
        busy = {e.partition_key for e in self._running.values() if e.partition_key is not None}
        events = await self._store.inbox_claim(self.owner_id, self._lease_seconds, free, busy)
        for event in events:
            task = asyncio.create_task(self._process(event), name=f"inbox-{event.id}")
            self._running[task] = event
        return len(events)

    async def _wait_any(
        self, at_most: float | None, *also: asyncio.Task[Any]
    ) -> set[asyncio.Task[None]]:
        waiting: set[asyncio.Task[Any]] = {*self._running, *also}
        done, _ = await asyncio.wait(waiting, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
        return {t for t in done if t in self._running}

    async def _reap(self, done: set[asyncio.Task[None]]) -> int:
        for task in done:
            event = self._running.pop(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                # Already logged if a shielded write failed; anything else is a bug here.
                log.error(
                    "event task failed",
                    exc_info=exc,
                    extra={"action": "event_task_failed", **_extra(event)},
                )
        return len(done)

    async def _shutdown(self, grace: float) -> None:
        in_flight = len(self._running)
        if in_flight:
            log.info(
                "stopping workers",
                extra={"action": "dispatcher_stopping", "in_flight": in_flight, "grace": grace},
            )
        for task, event in self._running.items():
            if self._interruptible(event):
                task.cancel()
        waiting = [task for task in self._running if not task.cancelling()]
        if waiting and grace > 0:
            await asyncio.wait(waiting, timeout=grace)
        for task in self._running:
            task.cancel()
        if self._running:
            await asyncio.wait(self._running)
            await self._reap(set(self._running))
        if self._bookkeeping:
            await asyncio.wait(self._bookkeeping)

    async def _shielded(self, write: Coroutine[Any, Any, T]) -> T:
        # The write runs in a task of its own that a cancel cannot reach; shutdown awaits it.
        task = asyncio.create_task(write)
        self._bookkeeping.add(task)
        task.add_done_callback(self._bookkept)
        return await asyncio.shield(task)

    def _bookkept(self, task: asyncio.Task[Any]) -> None:
        self._bookkeeping.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # The store failed while recording: the lease will expire and the event will be
            # claimed again, so the outcome is delayed, not lost.
            log.error("outcome not recorded", exc_info=exc, extra={"action": "outcome_failed"})


def _never(event: InboxEvent) -> bool:
    return False


def _extra(event: InboxEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "inbox_id": event.id,
        "event_type": event.event_type,
        "partition": event.partition_key,
        "attempt": event.attempts,
    }
