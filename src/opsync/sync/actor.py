"""``PhoneNumberSync``: one actor per phone number (the seed's Durable Object).

An actor is activated by the first event of its number: it loads the ``phone_numbers`` row
(creating it from the workspace directory when new) and its cursors, and keeps a Canvas
cache in memory. Every handled event writes through to the store: a ``sync_history`` row, the
number's totals and last-sync times. :class:`ActorRegistry` hands out actors by phone number
id and evicts those idle for ``idle_seconds`` (their state is all in the store, so a later
event simply activates a fresh one).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import structlog

from opsync.canvas import CanvasMatch
from opsync.clock import Clock, epoch_ms
from opsync.openphone import WebhookEnvelope, parse_envelope
from opsync.openphone.events import normalise_event_type
from opsync.store import PhoneNumber, Store
from opsync.store.rows import InboxEvent, InboxSource, ResourceType
from opsync.sync._sync_progress import SyncSummary
from opsync.sync.calls import call_id_of, reconcile_call
from opsync.sync.context import SyncContext
from opsync.sync.incremental import IncrementalSync, SyncOptions
from opsync.sync.jobs import SYNC_EVENT_TYPE, SyncJob
from opsync.sync.messages import message_id_of, reconcile_message
from opsync.sync.pages import Outcome

log = logging.getLogger(__name__)

CALL_EVENTS = frozenset(
    {
        "call.ringing",
        "call.completed",
        "call.recording.completed",
        "call.transcript.completed",
        "call.summary.completed",
    }
)
MESSAGE_EVENTS = frozenset({"message.received", "message.delivered"})
HANDLED_EVENTS = CALL_EVENTS | MESSAGE_EVENTS | {SYNC_EVENT_TYPE}
MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class HandleResult:
    """What an actor did with one event: ``success`` (a page was written), ``skipped`` (the
    page was already up to date), ``ignored`` (an event type opsync does not handle),
    ``deferred`` (the call is still expecting its artefacts; look again later)."""

    status: Literal["success", "skipped", "ignored", "deferred"]
    event_type: str
    outcome: Outcome | None = None
    reason: str = ""


class PhoneNumberSync:
    """The actor of one phone number; see the module docstring. One event at a time."""

    def __init__(
        self, phone_number_id: str, ctx: SyncContext, sync_options: SyncOptions | None = None
    ) -> None:
        self.phone_number_id = phone_number_id
        self._ctx = ctx
        self.sync_options = sync_options or SyncOptions()
        self.canvas_memory: dict[str, CanvasMatch] = {}
        self._row: PhoneNumber | None = None
        self._cursors: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._activated_at: int | None = None
        self.events_handled = 0
        self.last_used = ctx.clock.monotonic()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def active(self) -> bool:
        return self._row is not None

    async def activate(self) -> None:
        """Load (or create) the number's row and cursors. Idempotent."""
        async with self._lock:
            if self._row is not None:
                return
            store = self._ctx.store
            row = await store.get_phone_number(self.phone_number_id)
            if row is None:
                line = await self._ctx.directory.phone_number(self.phone_number_id)
                row = await store.upsert_phone_number(
                    self.phone_number_id,
                    line.number if line is not None else "",
                    name=line.name if line is not None else None,
                )
            self._cursors = await store.phone_cursors_get(self.phone_number_id)
            self._row = row
            self._activated_at = epoch_ms(self._ctx.clock)
            log.info(
                "actor activated",
                extra={"action": "actor_activated", "partition": self.phone_number_id},
            )

    async def handle(self, event: InboxEvent) -> HandleResult:
        """Reconcile the call or message the event is about and record the outcome.

        Raises what reconciling raises (after writing a ``failed`` sync_history row);
        InvalidPayload for a payload that is not a webhook envelope.
        """
        await self.activate()
        event_type = normalise_event_type(event.event_type)
        if event_type not in HANDLED_EVENTS:
            return HandleResult("ignored", event_type, reason=f"{event_type} is not handled")
        async with self._lock:
            self.last_used = self._ctx.clock.monotonic()
            try:
                return await self._handle(event, event_type)
            finally:
                self.events_handled += 1
                self.last_used = self._ctx.clock.monotonic()

    async def _handle(self, event: InboxEvent, event_type: str) -> HandleResult:
        if event_type == SYNC_EVENT_TYPE:
            if event.source == "webhook":  # only opsync's own sources queue sync jobs
                return HandleResult("ignored", event_type, reason="a webhook cannot start a sync")
            summary = await self.sync(SyncJob.from_json(event.payload), job_id=event.event_id)
            return HandleResult("success", event_type, reason=summary.line())
        envelope = parse_envelope(event.payload)
        backfill = event.source != "webhook"
        resource_type: ResourceType = "call" if event_type in CALL_EVENTS else "message"
        resource_id = call_id_of(envelope) if resource_type == "call" else message_id_of(envelope)
        # The event's own task (the dispatcher's): every later line of the event names these.
        structlog.contextvars.bind_contextvars(
            phone_number_id=self.phone_number_id,
            resource_type=resource_type,
            resource_id=resource_id,
        )
        return await self._reconcile(resource_type, resource_id, envelope, event_type, backfill)

    async def _reconcile(
        self,
        resource_type: ResourceType,
        resource_id: str,
        envelope: WebhookEnvelope | None,
        event_type: str,
        backfill: bool,
    ) -> HandleResult:
        ctx = self._ctx
        started = ctx.clock.monotonic()
        try:
            if resource_type == "call":
                outcome = await reconcile_call(
                    ctx,
                    resource_id,
                    event=envelope,
                    fetch_missing_artifacts=backfill,
                    canvas_memory=self.canvas_memory,
                    settle_seconds=0.0 if backfill else ctx.call_settle_seconds,
                )
            else:
                outcome = await reconcile_message(
                    ctx, resource_id, event=envelope, canvas_memory=self.canvas_memory
                )
        except Exception as exc:
            await self._record_failure(resource_type, resource_id, exc, started)
            raise
        if outcome.action == "deferred":
            return HandleResult("deferred", event_type, outcome, "waiting for the call to settle")
        status: Literal["success", "skipped"] = (
            "skipped" if outcome.action == "unchanged" else "success"
        )
        await ctx.store.record_sync(
            self.phone_number_id,
            resource_type,
            resource_id,
            status,
            direction=outcome.direction,
            notion_page_id=outcome.page_id,
            canvas_id=outcome.canvas_id,
            processing_time_ms=self._elapsed_ms(started),
        )
        ops = ctx.store
        await ops.phone_number_synced(self.phone_number_id, resource_type, new_page=outcome.created)
        self._row = await ctx.store.get_phone_number(self.phone_number_id) or self._row
        return HandleResult(status, event_type, outcome)

    async def _record_failure(
        self, resource_type: str, resource_id: str, exc: Exception, started: float
    ) -> None:
        try:
            await self._ctx.store.record_sync(
                self.phone_number_id,
                resource_type,
                resource_id,
                "failed",
                error_message=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT],
                processing_time_ms=self._elapsed_ms(started),
            )
        except Exception:
            log.exception("sync failure not recorded", extra={"action": "sync_record_failed"})

    # --- incremental sync (the seed's sync_calls / sync_messages) ---------------------------

    async def sync(self, job: SyncJob, *, job_id: str | None = None) -> SyncSummary:
        """Run a sync job (see :mod:`opsync.sync.incremental`); the caller holds the actor's
        lock (``handle`` does). Every item goes through the webhook path above, so it gets its
        sync_history row. Raises what listing conversations raises; cancellable, with the
        cursor saved."""
        if job.phone_number_id != self.phone_number_id:
            raise ValueError(f"job for {job.phone_number_id} given to {self.phone_number_id}")

        async def reconcile(
            resource_type: ResourceType, resource_id: str, envelope: WebhookEnvelope | None
        ) -> Outcome:
            event_type = envelope.type if envelope is not None else "call.pending"
            with structlog.contextvars.bound_contextvars(
                phone_number_id=self.phone_number_id,
                resource_type=resource_type,
                resource_id=resource_id,
            ):
                result = await self._reconcile(
                    resource_type, resource_id, envelope, event_type, True
                )
            assert result.outcome is not None  # a backfill reconcile is never deferred
            return result.outcome

        # Another process (a backfill beside the server) may have moved the cursor since this
        # actor loaded it; no other sync of this number runs now (the inbox's partition rule).
        self._cursors = await self._ctx.store.phone_cursors_get(self.phone_number_id)
        run = IncrementalSync(
            self._ctx,
            job,
            reconcile=reconcile,
            cursors=self._cursors,
            save_cursor=self.set_cursor,
            options=self.sync_options,
            event_id=job_id,
        )
        return await run.run()

    async def sync_calls(
        self, *, since: datetime | None = None, all_: bool = False, source: InboxSource = "cli"
    ) -> SyncSummary:
        """Sync the number's calls created since the cursor (or ``since``, or ``all_``)."""
        job = SyncJob(self.phone_number_id, True, False, since, all_, source)
        await self.activate()
        async with self._lock:
            return await self.sync(job)

    async def sync_messages(
        self, *, since: datetime | None = None, all_: bool = False, source: InboxSource = "cli"
    ) -> SyncSummary:
        """Sync the number's messages created since the cursor (or ``since``, or ``all_``)."""
        job = SyncJob(self.phone_number_id, False, True, since, all_, source)
        await self.activate()
        async with self._lock:
            return await self.sync(job)

    def _elapsed_ms(self, started: float) -> int:
        return max(0, round((self._ctx.clock.monotonic() - started) * 1000))

    async def set_cursor(self, name: str, value: Any) -> None:
        """Set one sync cursor, written through to the store."""
        cursors = {**self._cursors, name: value}
        await self._ctx.store.phone_cursors_put(self.phone_number_id, cursors)
        self._cursors = cursors

    def state(self) -> dict[str, Any]:
        """The actor's state as JSON-able data (``GET /phone/{id}/state``)."""
        row = asdict(self._row) if self._row is not None else None
        return {
            "phone_number_id": self.phone_number_id,
            "active": self.active,
            "activated_at": self._activated_at,
            "phone_number": row,
            "cursors": dict(self._cursors),
            "canvas_memory": {
                key: {"page_id": match.page_id, "name": match.name}
                for key, match in sorted(self.canvas_memory.items())
            },
            "events_handled": self.events_handled,
            "busy": self.busy,
        }


class ActorRegistry:
    """The live actors, by phone number id: created on first use, evicted when idle."""

    def __init__(
        self,
        ctx: SyncContext,
        *,
        idle_seconds: float = 900.0,
        clock: Clock | None = None,
        sync_options: SyncOptions | None = None,
    ) -> None:
        self.ctx = ctx
        self.sync_options = sync_options or SyncOptions()
        self.idle_seconds = idle_seconds
        self._clock: Clock = clock or ctx.clock
        self._actors: dict[str, PhoneNumberSync] = {}

    def __len__(self) -> int:
        return len(self._actors)

    def __contains__(self, phone_number_id: object) -> bool:
        return phone_number_id in self._actors

    async def actor(self, phone_number_id: str) -> PhoneNumberSync:
        """The number's actor, activated (created now if it was not live)."""
        self.evict_idle()
        actor = self._actors.get(phone_number_id)
        if actor is None:
            actor = PhoneNumberSync(phone_number_id, self.ctx, self.sync_options)
            self._actors[phone_number_id] = actor
        actor.last_used = self._clock.monotonic()
        await actor.activate()
        return actor

    def evict_idle(self) -> list[str]:
        """Drop actors idle for at least ``idle_seconds`` (never one handling an event)."""
        now = self._clock.monotonic()
        idle = [
            pn
            for pn, actor in self._actors.items()
            if not actor.busy and now - actor.last_used >= self.idle_seconds
        ]
        for pn in idle:
            del self._actors[pn]
            log.info("actor evicted", extra={"action": "actor_evicted", "partition": pn})
        return idle

    async def state_of(self, phone_number_id: str) -> dict[str, Any] | None:
        """The live actor's state, else what the store holds for the number (None: unknown)."""
        actor = self._actors.get(phone_number_id)
        if actor is not None:
            return actor.state()
        return await stored_state(self.ctx.store, phone_number_id)


async def stored_state(store: Store, phone_number_id: str) -> dict[str, Any] | None:
    """A number's state as the store holds it (no live actor); None for an unknown number."""
    row = await store.get_phone_number(phone_number_id)
    if row is None:
        return None
    return {
        "phone_number_id": phone_number_id,
        "active": False,
        "activated_at": None,
        "phone_number": asdict(row),
        "cursors": await store.phone_cursors_get(phone_number_id),
        "canvas_memory": {},
        "events_handled": 0,
        "busy": False,
    }
