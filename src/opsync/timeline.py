"""The contact timeline: every call and message with one number or one Canvas page, newest
first, paginated, from the local store only (no Notion or OpenPhone request).

Where the data comes from (docs/decisions/0022-contact-timeline.md):

* what a call or message was — its snapshot (``resource_snapshots``), as the sync keeps it;
* its Notion page — the resource ledger;
* the Canvas page its Notion page links to — ``sync_history.canvas_id`` of its last
  successful sync (the sync records it already: nothing new is written on the sync's path);
* who the other parties were — the snapshot's participants (calls) or sender and recipients
  (messages), in E.164, less the workspace's own numbers.

Snapshots hold JSON that no index can search by number, so a small derived index
(``timeline_entries``, ``timeline_parties``) is kept and *caught up on every read*: snapshots
not yet indexed, and Canvas links recorded since the last catch-up minus a lag window
(:data:`LAG_MS`; a write whose timestamp was taken before a slow commit is still seen). The
first read after an upgrade indexes the whole history; later reads index only what is new.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsync.canvas.phones import normalize_phone
from opsync.notion.ids import InvalidNotionId, normalize_id
from opsync.render import to_e164
from opsync.store import Store
from opsync.store._timeline import (
    TIMELINE_TYPES,
    TimelineEntry,
    TimelineKey,
    TimelineRow,
    UnindexedSnapshot,
)

if TYPE_CHECKING:
    from opsync.sync._call_state import CallSnapshot
    from opsync.sync.messages import MessageSnapshot

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ContactUnknown",
    "InvalidTimelineInput",
    "MediaUrl",
    "Timeline",
    "TimelinePage",
    "decode_cursor",
    "encode_cursor",
    "notion_url",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
LAG_MS = 300_000
"""How far before the last catch-up each catch-up looks again (5 minutes)."""
BATCH = 500
"""Snapshots indexed per transaction while catching up."""

MediaUrl = Callable[[str], str | None]
"""A blob key → its public (signed) link, or ``None`` when the blob store makes none."""


class InvalidTimelineInput(ValueError):
    """A phone number, Canvas id, limit or cursor that cannot be read; the message says why."""


class ContactUnknown(LookupError):
    """Nothing in the store is about that number or Canvas page."""


def notion_url(page_id: str) -> str:
    """The browser link of a Notion page: ``https://www.notion.so/<id without dashes>``."""
    return f"https://www.notion.so/{page_id.replace('-', '')}"


def encode_cursor(key: TimelineKey) -> str:
    """An opaque cursor for the position after ``key``."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> TimelineKey:
    """The position a cursor from :func:`encode_cursor` names; raises InvalidTimelineInput."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, kind, rid = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidTimelineInput("invalid cursor: pass next_cursor as it was given") from exc
    if not (isinstance(at, int) and isinstance(kind, str) and isinstance(rid, str)):
        raise InvalidTimelineInput("invalid cursor: pass next_cursor as it was given")
    return at, kind, rid


def parse_limit(raw: str | int | None) -> int:
    """A page size: a whole number 1..:data:`MAX_LIMIT` (default :data:`DEFAULT_LIMIT`)."""
    if raw is None:
        return DEFAULT_LIMIT
    text = str(raw)
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidTimelineInput(f"limit must be a whole number 1..{MAX_LIMIT}")
    return int(text)


def parse_phone(raw: str) -> str:
    """``raw`` in E.164, any common spelling accepted; raises InvalidTimelineInput."""
    e164 = normalize_phone(raw)
    if e164 is None:
        raise InvalidTimelineInput(f"not a complete phone number: {raw[:40]!r}")
    return e164


def parse_canvas_id(raw: str) -> str:
    """A Canvas page id (with or without dashes, or its Notion link) as a dashed UUID."""
    try:
        return normalize_id(raw)
    except InvalidNotionId as exc:
        raise InvalidTimelineInput(f"not a Notion page id: {raw[:60]!r}") from exc


def _snapshot_types() -> tuple[type[CallSnapshot], type[MessageSnapshot]]:
    # Imported when first used: opsync.sync imports the blob store, which imports the web
    # app, which imports this module (through its timeline routes).
    from opsync.sync._call_state import CallSnapshot
    from opsync.sync.messages import MessageSnapshot

    return CallSnapshot, MessageSnapshot


@functools.lru_cache(maxsize=65_536)
def _e164(raw: str) -> str | None:
    return to_e164(raw)  # the same few numbers come back again and again: parse each once


def _wire_ms(value: Any) -> int | None:
    """An OpenPhone timestamp as stored in a snapshot (``2026-03-01T12:00:00.000Z``)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _numbers(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def entry_of(snapshot: UnindexedSnapshot, own: set[str]) -> TimelineEntry | None:
    """The index entry of a call or message snapshot; ``None`` when it holds no call or
    message yet (a snapshot stored before its object was known).

    Reads the snapshot's wire-named JSON directly (the whole snapshot through its models
    costs ten times more, and a first catch-up reads every snapshot). The other party is
    :func:`opsync.render.counterparty`'s: a call's first participant that is not one of
    ours; an incoming message's sender; an outgoing message's first recipient not ours.
    """
    payload = snapshot.payload if isinstance(snapshot.payload, dict) else {}
    item = payload.get(snapshot.resource_type)
    if not isinstance(item, dict):
        return None
    occurred_at = _wire_ms(item.get("createdAt"))
    if occurred_at is None:
        return None
    if snapshot.resource_type == "call":
        numbers = candidates = _numbers(item.get("participants"))
    else:
        sender, recipients = _numbers([item.get("from")]), _numbers(item.get("to"))
        numbers = sender + recipients
        candidates = sender if item.get("direction") == "incoming" else recipients
    theirs = [e for e in map(_e164, numbers) if e is not None and e not in own]
    other = next((e for e in map(_e164, candidates) if e is not None and e not in own), None)
    phone_number_id = item.get("phoneNumberId")
    return TimelineEntry(
        resource_type=snapshot.resource_type,
        resource_id=snapshot.resource_id,
        phone_number_id=phone_number_id
        if isinstance(phone_number_id, str)
        else snapshot.phone_number_id,
        occurred_at=occurred_at,
        counterparty=other,
        parties=tuple(dict.fromkeys(theirs)),
    )


@dataclass(frozen=True)
class TimelinePage:
    """One page of a timeline: the contact, its items newest first, and the cursor of the
    next page (``None`` on the last)."""

    contact: dict[str, Any]
    items: list[dict[str, Any]]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "count": len(self.items),
            "items": self.items,
            "next_cursor": self.next_cursor,
        }


@dataclass
class Timeline:
    """Timelines over ``store``; ``media_url`` makes the links to stored audio."""

    store: Store
    media_url: MediaUrl | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def refresh(self) -> int:
        """Catch the index up with the store; returns how many entries were added.
        Idempotent; safe alongside other processes doing the same."""
        async with self._lock:
            store = self.store
            previous, started = await store.timeline_refresh_begin()
            since = 0 if previous is None else max(0, previous - LAG_MS)
            own = {e for e in map(to_e164, await store.timeline_own_numbers()) if e is not None}
            added = 0
            for resource_type in TIMELINE_TYPES:
                added += await self._index_new(resource_type, since, own)
            # After indexing: a resource is synced (and linked) after its snapshot is written.
            await store.timeline_link_canvases(since)
            await store.timeline_refresh_end(started)
            return added

    async def _index_new(self, resource_type: str, since: int, own: set[str]) -> int:
        added, after = 0, None
        while batch := await self.store.timeline_unindexed(resource_type, since, after, BATCH):
            entries = [e for e in (entry_of(s, own) for s in batch) if e is not None]
            await self.store.timeline_index(entries)
            added += len(entries)
            after = (batch[-1].updated_at, batch[-1].resource_id)
            if len(batch) < BATCH:
                break
        return added

    async def for_phone(
        self, phone: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> TimelinePage:
        """The calls and messages with ``phone`` (any spelling). Raises InvalidTimelineInput,
        or ContactUnknown when the store has nothing with that number."""
        e164 = parse_phone(phone)
        before = None if cursor is None else decode_cursor(cursor)
        await self.refresh()
        rows = await self.store.timeline_page(party=e164, before=before, limit=limit + 1)
        if not rows and before is None:
            raise ContactUnknown(f"no call or message with {e164}")
        cached = await self.store.canvas_cache_get("phone", e164, touch=False)
        contact = {
            "phone": e164,
            "canvas_id": cached.canvas_id if cached else None,
            "canvas_url": notion_url(cached.canvas_id) if cached else None,
            "canvas_name": cached.canvas_name if cached else None,
        }
        return self._page(contact, rows, limit)

    async def for_canvas(
        self, canvas_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> TimelinePage:
        """The calls and messages whose Notion page links to that Canvas page. Raises
        InvalidTimelineInput, or ContactUnknown for a page opsync has never seen."""
        page_id = parse_canvas_id(canvas_id)
        before = None if cursor is None else decode_cursor(cursor)
        await self.refresh()
        rows = await self.store.timeline_page(canvas_id=page_id, before=before, limit=limit + 1)
        if not rows and before is None and not await self.store.timeline_canvas_known(page_id):
            raise ContactUnknown(f"no call or message linked to Canvas page {page_id}")
        contact = {
            "canvas_id": page_id,
            "canvas_url": notion_url(page_id),
            "phones": await self.store.timeline_canvas_phones(page_id),
        }
        return self._page(contact, rows, limit)

    def _page(self, contact: dict[str, Any], rows: list[TimelineRow], limit: int) -> TimelinePage:
        more = len(rows) > limit
        shown = rows[:limit]
        items = [item_document(row, self.media_url) for row in shown]
        return TimelinePage(contact, items, encode_cursor(shown[-1].key) if more else None)


def _iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _link(media_url: MediaUrl | None, key: str | None) -> str | None:
    return None if media_url is None or key is None else media_url(key)


def item_document(row: TimelineRow, media_url: MediaUrl | None) -> dict[str, Any]:
    """What a timeline shows of one call or message (JSON-ready)."""
    page = row.notion_page_id
    document: dict[str, Any] = {
        "type": row.resource_type,
        "id": row.resource_id,
        "occurred_at": _iso_ms(row.occurred_at),
        "phone_number_id": row.phone_number_id,
        "counterparty": row.counterparty,
        "notion_page_id": page,
        "notion_url": notion_url(page) if page else None,
        "canvas_id": row.canvas_id,
        "canvas_url": notion_url(row.canvas_id) if row.canvas_id else None,
    }
    call_snapshot, message_snapshot = _snapshot_types()
    if row.resource_type == "call":
        document.update(_call_fields(call_snapshot.from_json(row.payload), media_url))
    else:
        document.update(_message_fields(message_snapshot.from_json(row.payload)))
    return document


def _call_fields(snap: CallSnapshot, media_url: MediaUrl | None) -> dict[str, Any]:
    call = snap.call
    if call is None:  # the snapshot is gone: the index entry is all there is
        return {}
    recordings = [
        link
        for rec in snap.recordings or []
        if (link := _link(media_url, snap.audio.get(rec.id))) is not None
    ]
    vm = snap.voicemail
    summary, transcript = snap.summary, snap.transcript
    return {
        "direction": call.direction,
        "status": call.status,
        "duration": call.duration,
        "answered": call.answered_at is not None,
        "recording_urls": recordings,
        "voicemail_url": _link(media_url, snap.audio.get(vm.id)) if vm else None,
        "voicemail_transcript": vm.transcript if vm else None,
        "summary": list(summary.summary or []) if summary else [],
        "next_steps": list(summary.next_steps or []) if summary else [],
        "transcript_status": transcript.status if transcript else None,
    }


def _message_fields(snap: MessageSnapshot) -> dict[str, Any]:
    message = snap.message
    if message is None:
        return {}
    return {
        "direction": message.direction,
        "status": message.status,
        "text": message.text,
        "media_urls": list(snap.media_urls or []),
    }
