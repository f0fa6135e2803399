"""Webhook event envelopes: the legacy (app and v1 API) shape and the new (2026-03-30) one.

Legacy::

    {"id": "EV...", "object": "event", "apiVersion": "v4", "createdAt": "...",
     "type": "call.completed", "data": {"object": {"id": "AC...", "object": "call", ...}}}

New::

    {"id": "EV...", "apiVersion": "2026-03-30", "createdAt": "...",
     "type": "message.received", "data": {"resource": {...}, "context": {...}, "links": {...}}}

The envelope keeps the resource as a plain mapping (the new system's per-event fields are not
documented, and legacy app payloads differ from the API's); :func:`event_ref` extracts what
routing needs, and :meth:`WebhookEnvelope.resource_as` validates the resource into a model.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, StrictStr, field_validator, model_validator

from opsync.errors import InvalidPayload
from opsync.openphone._errors import validate
from opsync.openphone.models import OpenPhoneModel, Timestamp

M = TypeVar("M", bound=BaseModel)

ResourceKind = Literal["call", "message", "summary", "transcript", "other"]

TYPE_ALIASES = {
    "callSummary": "call.summary.completed",
    "callTranscript": "call.transcript.completed",
}
"""Envelope ``type`` values seen in the official samples, mapped to the event names."""

_OBJECT_KINDS: dict[str, ResourceKind] = {
    "call": "call",
    "message": "message",
    "callSummary": "summary",
    "callTranscript": "transcript",
}


def normalise_event_type(value: str) -> str:
    """``callSummary`` -> ``call.summary.completed`` and so on; other names unchanged."""
    return TYPE_ALIASES.get(value, value)


def kind_of(event_type: str) -> ResourceKind:
    """The kind of resource an (already normalised) event name is about."""
    if event_type.startswith("call.summary."):
        return "summary"
    if event_type.startswith("call.transcript."):
        return "transcript"
    if event_type.startswith("call."):
        return "call"
    if event_type.startswith("message."):
        return "message"
    return "other"


class EventData(OpenPhoneModel):
    object: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_resource(self) -> EventData:
        if self.object is None and self.resource is None:
            raise ValueError("needs an object (legacy) or a resource (new envelope)")
        return self


class WebhookEnvelope(OpenPhoneModel):
    """One webhook event. ``type`` is normalised to the event name (see TYPE_ALIASES)."""

    id: StrictStr
    object: StrictStr | None = None
    api_version: StrictStr | None = None
    created_at: Timestamp
    type: StrictStr
    data: EventData

    @field_validator("type")
    @classmethod
    def _normalise_type(cls, value: str) -> str:
        return normalise_event_type(value)

    @property
    def is_legacy(self) -> bool:
        """True for the ``data.object`` envelope (``openphone-signature`` deliveries)."""
        return self.data.object is not None

    @property
    def resource(self) -> dict[str, Any]:
        """The business object: ``data.object`` (legacy) or ``data.resource`` (new)."""
        found = self.data.object if self.data.object is not None else self.data.resource
        return found or {}

    @property
    def resource_path(self) -> str:
        return "data.object" if self.is_legacy else "data.resource"

    def resource_as(self, model: builtins.type[M]) -> M:
        """Validate the resource into ``model``; InvalidPayload names ``data.object.<field>``."""
        return validate(model, self.resource, self.resource_path)


def parse_envelope(raw: bytes | str | dict[str, Any]) -> WebhookEnvelope:
    """Parse a webhook body (bytes or text as received, or already-decoded JSON).

    Raises InvalidPayload, naming the field, for bad JSON or an unrecognised envelope.
    """
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InvalidPayload(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidPayload(f"webhook body must be a JSON object, not {type(raw).__name__}")
    return validate(WebhookEnvelope, raw, "envelope")


@dataclass(frozen=True)
class EventRef:
    """What routing needs from an event: which resource, of which kind, on which number."""

    event_id: str
    event_type: str
    kind: ResourceKind
    call_id: str | None
    message_id: str | None
    phone_number_id: str | None


def _optional_text(mapping: dict[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"webhook {where}.{key}: expected a non-empty string")
    return value


def _required_text(mapping: dict[str, Any], key: str, where: str) -> str:
    value = _optional_text(mapping, key, where)
    if value is None:
        raise InvalidPayload(f"webhook {where}.{key}: missing")
    return value


def _phone_number_id(envelope: WebhookEnvelope) -> str | None:
    found = _optional_text(envelope.resource, "phoneNumberId", envelope.resource_path)
    if found is not None:
        return found
    context = envelope.data.context
    found = _optional_text(context, "phoneNumberId", "data.context")
    if found is None and isinstance(context.get("phoneNumber"), dict):
        found = _optional_text(context["phoneNumber"], "id", "data.context.phoneNumber")
    return found


def event_ref(envelope: WebhookEnvelope) -> EventRef:
    """Route an event: normalised type, resource kind, call or message id, phone number id.

    The kind comes from the event name, or from ``data.object.object`` when the name is not
    one we know. Call events carry the call id in ``id`` (calls) or ``callId`` (voicemails,
    summaries, transcripts). Raises InvalidPayload when the id the kind needs is missing.
    """
    resource, where = envelope.resource, envelope.resource_path
    kind = kind_of(envelope.type)
    if kind == "other" and isinstance(resource.get("object"), str):
        kind = _OBJECT_KINDS.get(resource["object"], "other")
    call_id = message_id = None
    if kind in ("summary", "transcript"):
        call_id = _required_text(resource, "callId", where)
    elif kind == "call":
        call_id = _optional_text(resource, "callId", where) or _required_text(resource, "id", where)
    elif kind == "message":
        message_id = _required_text(resource, "id", where)
    return EventRef(
        event_id=envelope.id,
        event_type=envelope.type,
        kind=kind,
        call_id=call_id,
        message_id=message_id,
        phone_number_id=_phone_number_id(envelope),
    )
