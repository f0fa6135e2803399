"""Routing of a webhook event: which type it is, whether opsync handles it, which partition.

Pure: no I/O. The one thing routing cannot know by itself is the phone number of an event that
carries only a ``callId`` (summaries, transcripts, voicemails); :class:`EventRoute` then names
the call in ``lookup_call_id`` and the caller looks it up in the store's snapshot of that call
(:func:`with_snapshot_partition`). When the call is not known locally either, the partition
stays ``None`` and the worker routes the event once it has fetched the call.

Only the ``id`` and ``type`` of an event whose type opsync does not handle are checked: such an
event is stored as ignored whatever the shape of its ``data`` (the new system adds event types
whose payloads are not documented), so a new event type is never answered with an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsync.errors import InvalidPayload
from opsync.openphone.events import event_ref, normalise_event_type, parse_envelope
from opsync.store.rows import InboxState

HANDLED_EVENT_TYPES = frozenset(
    {
        "call.ringing",
        "call.completed",
        "call.recording.completed",
        "call.transcript.completed",
        "call.summary.completed",
        "message.received",
        "message.delivered",
    }
)
"""Event names (after :func:`~opsync.openphone.events.normalise_event_type`) opsync handles."""

MAX_ID_LENGTH = 255
"""Longest event id, event type or partition key accepted (OpenPhone's are ~30 characters)."""


@dataclass(frozen=True)
class EventRoute:
    """Where an event goes: stored ``pending`` in ``partition_key`` if handled, else ignored."""

    event_id: str
    event_type: str
    handled: bool
    partition_key: str | None
    lookup_call_id: str | None = None
    """Set when the partition is unknown but the event names a call whose snapshot may say."""

    @property
    def state(self) -> InboxState:
        """The inbox state the event is stored in."""
        return "pending" if self.handled else "ignored"


def _identifier(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if value is None:
        raise InvalidPayload(f"webhook envelope.{key}: missing")
    if not isinstance(value, str):
        raise InvalidPayload(f"webhook envelope.{key}: expected a string")
    _check_text(value, f"envelope.{key}")
    return value


def _check_text(value: str, where: str) -> None:
    if not value.strip():
        raise InvalidPayload(f"webhook {where}: empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidPayload(f"webhook {where}: longer than {MAX_ID_LENGTH} characters")
    if not value.isprintable():
        raise InvalidPayload(f"webhook {where}: contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload(f"webhook {where}: not valid Unicode text") from None


def route_event(document: object) -> EventRoute:
    """Route a decoded webhook body (the JSON value of the request).

    Raises :class:`InvalidPayload` when the body is not an object, lacks a usable ``id`` or
    ``type``, or is a handled event whose envelope or resource id is malformed.
    """
    if not isinstance(document, Mapping):
        raise InvalidPayload(f"webhook body must be a JSON object, not {type(document).__name__}")
    event_id = _identifier(document, "id")
    event_type = normalise_event_type(_identifier(document, "type"))
    if event_type not in HANDLED_EVENT_TYPES:
        return EventRoute(event_id, event_type, handled=False, partition_key=None)
    ref = event_ref(parse_envelope(dict(document)))
    partition = ref.phone_number_id
    if partition is not None:
        _check_text(partition, "phoneNumberId")
    lookup = ref.call_id if partition is None else None
    return EventRoute(
        event_id, ref.event_type, handled=True, partition_key=partition, lookup_call_id=lookup
    )
