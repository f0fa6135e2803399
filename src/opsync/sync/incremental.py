"""Incremental sync of one phone number: new calls and messages since the cursor, then the
calls whose artefacts were still pending (the seed's late-enrichment pass).

The v1 API lists calls and messages only per counterpart, so the counterparts come from
``GET /v1/conversations?phoneNumbers=PN…&updatedAfter=…`` (most recently active first): a
conversation not updated since the window's start has nothing new and costs no request, and
one that comes back unchanged since the last run (same ``updatedAt``) is skipped too. Each
remaining conversation's calls (its one participant: calls are 1:1) and messages (its
participants) created in the window are streamed page by page, and every item is reconciled
through the actor's webhook path, with the listed object as the known state.

The cursor (:mod:`opsync.sync._sync_state`) is saved after each conversation; it moves past
a window only when every conversation in it was done, except the ones with a failed item,
which are kept ``behind`` and tried first next time. A cancelled run (Ctrl-C, shutdown, lost
lease) leaves its window open, and the next run resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opsync.clock import epoch_ms
from opsync.config import Settings
from opsync.openphone import WebhookEnvelope
from opsync.openphone.models import Call, Conversation, Message
from opsync.store._sync_queries import call_snapshots_page
from opsync.store.rows import ResourceType
from opsync.sync._call_state import CallSnapshot, is_over, was_answered
from opsync.sync._sync_progress import ProgressReporter, Status, SyncSummary
from opsync.sync._sync_state import (
    CURSOR_NAME,
    DEFAULT_LAG,
    Behind,
    Kind,
    SyncState,
    Window,
    fingerprint,
    load_state,
)
from opsync.sync.context import SyncContext
from opsync.sync.jobs import SyncJob
from opsync.sync.pages import Outcome

log = logging.getLogger(__name__)

LISTED_EVENT = {"calls": "call.listed", "messages": "message.listed"}
"""The ``type`` of the envelope that carries a listed item to the reconcile code (no webhook
has these names: only their resource kind matters)."""
FINAL_ARTIFACT = frozenset({"completed", "failed", "absent"})
FINAL_RECORDING = FINAL_ARTIFACT | {"deleted", "stopped"}

Reconcile = Callable[[ResourceType, str, WebhookEnvelope | None], Awaitable[Outcome]]
"""Reconcile one call or message and record it (the actor's path); raises on failure."""


@dataclass(frozen=True)
class SyncOptions:
    """How far a first run looks back, how far back pending artefacts are looked for, the
    overlap of consecutive windows, and the page size of the list requests."""

    initial_window: timedelta = timedelta(days=1)
    pending_window: timedelta = timedelta(days=7)
    lag: timedelta = DEFAULT_LAG
    page_size: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncOptions:
        return cls(
            initial_window=timedelta(seconds=settings.initial_window),
            pending_window=timedelta(seconds=settings.pending_window),
        )


def listed_envelope(kind: Kind, item: Call | Message, at: datetime) -> WebhookEnvelope:
    """A listed call or message in the envelope shape the reconcile code reads."""
    resource: dict[str, Any] = item.model_dump(mode="json", by_alias=True)
    resource["object"] = "call" if kind == "calls" else "message"
    return WebhookEnvelope.model_validate(
        {
            "id": f"listed:{item.id}",
            "object": "event",
            "createdAt": at.isoformat(),
            "type": LISTED_EVENT[kind],
            "data": {"object": resource},
        }
    )


def awaiting_artifacts(snap: CallSnapshot) -> bool:
    """Whether the call may still get something: it is not over, or (answered) its
    recording, transcript or summary is not final, or its voicemail is still in progress."""
    call = snap.call
    if call is None:
        return False
    if not is_over(call):
        return True
    if was_answered(call):
        recordings = snap.recordings
        return (
            recordings is None
            or any(rec.status not in FINAL_RECORDING for rec in recordings)
            or snap.transcript is None
            or snap.transcript.status not in FINAL_ARTIFACT
            or snap.summary is None
            or snap.summary.status not in FINAL_ARTIFACT
        )
    voicemail = snap.voicemail
    return voicemail is not None and voicemail.status != "completed"


class IncrementalSync:
    """One run of a sync job for one phone number; see the module docstring."""

    def __init__(
        self,
        ctx: SyncContext,
        job: SyncJob,
        *,
        reconcile: Reconcile,
        cursors: dict[str, Any],
        save_cursor: Callable[[str, Any], Awaitable[None]],
        options: SyncOptions | None = None,
        event_id: str | None = None,
    ) -> None:
        self._ctx = ctx
        self._job = job
        self._reconcile = reconcile
        self._save_cursor = save_cursor
        self._options = options or SyncOptions()
        self._state: SyncState = load_state(cursors.get(CURSOR_NAME))
        self.pn = job.phone_number_id
        self.kinds: list[Kind] = [k for k in ("calls", "messages") if getattr(job, k)]
        self.summary = SyncSummary(
            self.pn, job.source, list(self.kinds), ctx.clock.now(), event_id=event_id
        )
        self._progress = ProgressReporter(ctx.store, ctx.clock, self.summary)
        self._own: Collection[str] = ()

    async def run(self) -> SyncSummary:
        """Sync, then record the summary (also when failing or cancelled). Raises what listing
        the conversations raises; failed items are counted, not raised."""
        started_ms = epoch_ms(self._ctx.clock)
        status: Status = "failed"
        try:
            self._own = await self._ctx.directory.own_numbers()
            job = self._job
            if await self._pass(job.since, job.all):
                await self._pass(None, False)  # the interrupted window is done: what is new
            if self._job.calls:
                await self._pending(started_ms)
            status = "done"
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        finally:
            await self._progress.finish(status)
        log.info(
            "sync finished",
            extra={
                "action": "sync_finished",
                "partition": self.pn,
                "sync_status": self.summary.status,
                "items_seen": self.summary.seen,
                "items_synced": self.summary.synced,
                "items_failed": self.summary.failed,
                "summary": self.summary.line(),
            },
        )
        return self.summary

    async def _save(self) -> None:
        await self._save_cursor(CURSOR_NAME, self._state.to_json())

    # --- the windows ------------------------------------------------------------------------

    async def _pass(self, since: datetime | None, everything: bool) -> bool:
        """Sync every kind's window (from the cursor, or ``since``, or ``everything``);
        returns whether a window was resumed."""
        options, now = self._options, self._ctx.now()
        if not self.kinds:
            return False
        windows: dict[Kind, Window] = {}
        resumed = False
        for kind in self.kinds:
            cursor = self._state[kind]
            start = cursor.start_for(
                now=now,
                since=since,
                everything=everything,
                initial_window=options.initial_window,
                lag=options.lag,
            )
            window, was_open = cursor.open_window(start, now)
            windows[kind] = window
            resumed = resumed or was_open
            self.summary.windows[kind] = {
                "start": None if window.start is None else window.start.isoformat(),
                "end": window.end.isoformat(),
                "resumed": was_open,
            }
        await self._save()
        await self._progress.tick("behind")
        for kind in self.kinds:
            await self._behind(kind, windows[kind])
        await self._progress.tick("conversations")
        starts = [window.start for window in windows.values()]
        after = None if any(s is None for s in starts) else min(s for s in starts if s)
        conversations = self._ctx.openphone.list_conversations(
            [self.pn], updated_after=after, page_size=options.page_size
        )
        # The changed conversations are listed first (small objects, one per counterpart) so
        # that progress knows how many there are: the backfill display's ETA counts on it.
        # Their calls and messages are still streamed one page at a time.
        listed = [conversation async for conversation in conversations]
        self.summary.conversations_total = len(listed)
        for conversation in listed:
            self.summary.conversations += 1
            for kind in self.kinds:
                if await self._conversation(kind, conversation, windows[kind]):
                    await self._save()
            await self._progress.tick()
        for kind in self.kinds:
            self._state[kind].close_window()
        await self._save()
        return resumed

    async def _behind(self, kind: Kind, window: Window) -> None:
        cursor = self._state[kind]
        for conversation_id, behind in list(cursor.behind.items()):
            since = behind.since
            if since is not None and window.start is not None:
                since = min(since, window.start)
            else:
                since = None
            if await self._items(kind, behind.participants, since, window, frozenset()):
                del cursor.behind[conversation_id]
                window.done.append(conversation_id)
            else:
                behind.since = since
            await self._save()

    async def _conversation(self, kind: Kind, conversation: Conversation, window: Window) -> bool:
        """Sync one listed conversation's items of ``kind``; returns whether the cursor
        changed (False when there was nothing to do)."""
        cursor, lag = self._state[kind], self._options.lag
        others = [p for p in conversation.participants if p not in self._own]
        pointless = not others or (kind == "calls" and len(others) != 1)  # calls are 1:1
        if pointless or cursor.skips(conversation, window, lag):
            if conversation.id not in cursor.behind:
                self._note_seen(conversation, window)
            return False
        boundary = frozenset(cursor.boundary_ids)
        if await self._items(kind, others, window.start, window, boundary):
            window.done.append(conversation.id)
            self._note_seen(conversation, window)
        else:
            cursor.behind[conversation.id] = Behind(window.start, others)
        return True

    def _note_seen(self, conversation: Conversation, window: Window) -> None:
        updated, mark = conversation.updated_at, fingerprint(conversation)
        recent = updated is not None and window.end - self._options.lag <= updated < window.end
        if recent and mark is not None and mark not in window.seen:
            window.seen.append(mark)

    async def _items(
        self,
        kind: Kind,
        participants: list[str],
        since: datetime | None,
        window: Window,
        boundary: frozenset[str],
    ) -> bool:
        """Stream and reconcile the items of one conversation in the window; returns whether
        every one succeeded (a failed listing counts as a failure too)."""
        client, page_size = self._ctx.openphone, self._options.page_size
        edge = window.end - self._options.lag
        ok = True
        try:
            items = (
                client.list_calls(self.pn, participants[0], since, window.end, page_size)
                if kind == "calls"
                else client.list_messages(self.pn, participants, since, window.end, page_size)
            )
            async for item in items:
                self.summary.seen += 1
                if item.id in boundary:
                    self.summary.skipped += 1
                    continue
                envelope = listed_envelope(kind, item, self._ctx.now())
                if await self._item("call" if kind == "calls" else "message", item.id, envelope):
                    if item.created_at >= edge:
                        window.boundary_ids.append(item.id)
                else:
                    ok = False
                await self._progress.tick()
        except Exception as exc:
            self.summary.fail(exc)
            log.warning(
                "listing failed",
                extra={"action": "sync_list_failed", "partition": self.pn, "kind": kind,
                       "error": self.summary.last_error},
            )  # fmt: skip
            return False
        return ok

    async def _item(
        self, resource_type: ResourceType, resource_id: str, envelope: WebhookEnvelope | None
    ) -> bool:
        try:
            outcome = await self._reconcile(resource_type, resource_id, envelope)
        except Exception as exc:
            self.summary.fail(exc)
            log.warning(
                "sync item failed",
                extra={"action": "sync_item_failed", "partition": self.pn,
                       "resource_id": resource_id, "error": self.summary.last_error},
            )  # fmt: skip
            return False
        self.summary.count(outcome.action)
        return True

    # --- late enrichment --------------------------------------------------------------------

    async def _pending(self, started_ms: int) -> None:
        """Refresh the recent calls whose artefacts were pending, fetching only what is
        missing; snapshots written by this run (since ``started_ms``) are fresh already."""
        await self._progress.tick("pending")
        window = self._options.pending_window
        cutoff = self._ctx.now() - window
        after = ""
        while True:
            page = await call_snapshots_page(
                self._ctx.store,
                self.pn,
                updated_from_ms=started_ms - round(window.total_seconds() * 1000),
                updated_before_ms=started_ms,
                after_id=after,
            )
            if not page:
                return
            after = page[-1][0]
            for call_id, payload in page:
                try:
                    snap = CallSnapshot.from_json(payload)
                except ValueError:
                    continue
                if snap.call is None or snap.call.created_at < cutoff:
                    continue
                if awaiting_artifacts(snap):
                    await self._refresh(call_id, snap.call)
                    await self._progress.tick()

    async def _refresh(self, call_id: str, call: Call) -> None:
        self.summary.pending_checked += 1
        envelope = None
        if not is_over(call):  # only the call itself can tell that it has ended
            try:
                async with self._ctx.metrics.timed("api_call", "get_call", self.pn):
                    fresh = await self._ctx.openphone.get_call(call_id)
            except Exception as exc:
                self.summary.fail(exc)
                return
            envelope = listed_envelope("calls", fresh, self._ctx.now())
        await self._item("call", call_id, envelope)
