"""Routing decisions, pure: event type, handled or not, partition."""

from __future__ import annotations

from typing import Any

import pytest

from opsync.errors import InvalidPayload
from opsync.web.routing import (
    HANDLED_EVENT_TYPES,
    MAX_ID_LENGTH,
    EventRoute,
    route_event,
)

CREATED = "2026-04-01T00:00:00.000Z"


def legacy(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": "EV1", "createdAt": CREATED, "type": event_type, "data": {"object": obj}}


def new(event_type: str, resource: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    data = {"resource": resource, "context": context}
    return {"id": "EV1", "createdAt": CREATED, "type": event_type, "data": data}


CALL = {"id": "ACc", "object": "call", "phoneNumberId": "PNa"}
MESSAGE = {"id": "ACm", "object": "message", "phoneNumberId": "PNb"}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (legacy("call.ringing", CALL), EventRoute("EV1", "call.ringing", True, "PNa")),
        (legacy("call.completed", CALL), EventRoute("EV1", "call.completed", True, "PNa")),
        (
            legacy("call.recording.completed", CALL),
            EventRoute("EV1", "call.recording.completed", True, "PNa"),
        ),
        (legacy("message.received", MESSAGE), EventRoute("EV1", "message.received", True, "PNb")),
        (
            legacy("message.delivered", MESSAGE),
            EventRoute("EV1", "message.delivered", True, "PNb"),
        ),
        (
            new("message.received", {"id": "ACm"}, {"phoneNumber": {"id": "PNctx"}}),
            EventRoute("EV1", "message.received", True, "PNctx"),
        ),
        (
            legacy("callSummary", {"callId": "ACc", "object": "callSummary"}),
            EventRoute("EV1", "call.summary.completed", True, None, lookup_call_id="ACc"),
        ),
        (
            legacy("call.transcript.completed", {"callId": "ACc", "object": "callTranscript"}),
            EventRoute("EV1", "call.transcript.completed", True, None, lookup_call_id="ACc"),
        ),
        (
            legacy("callTranscript", {"callId": "ACc", "phoneNumberId": "PNz"}),
            EventRoute("EV1", "call.transcript.completed", True, "PNz"),
        ),
        (
            new("call.completed", {"id": "ACc"}, {}),
            EventRoute("EV1", "call.completed", True, None, lookup_call_id="ACc"),
        ),
        (
            new("message.received", {"id": "ACm"}, {}),
            EventRoute("EV1", "message.received", True, None),
        ),
        (
            {"id": "EV1", "type": "contact.updated"},
            EventRoute("EV1", "contact.updated", False, None),
        ),
        (
            {"id": "EV1", "type": "call.voicemail.completed", "data": "odd"},
            EventRoute("EV1", "call.voicemail.completed", False, None),
        ),
    ],
)
def test_route_event(document: dict[str, Any], expected: EventRoute) -> None:
    assert route_event(document) == expected


def test_handled_types_are_the_seven_of_the_issue() -> None:
    assert len(HANDLED_EVENT_TYPES) == 7
    assert all(t.startswith(("call.", "message.")) for t in HANDLED_EVENT_TYPES)


def test_state_follows_handled() -> None:
    assert EventRoute("E", "call.completed", True, "P").state == "pending"
    assert EventRoute("E", "contact.deleted", False, None).state == "ignored"


@pytest.mark.parametrize(
    "document",
    [
        None,
        "text",
        [],
        {},
        {"id": "EV1"},
        {"type": "call.completed"},
        {"id": "", "type": "x"},
        {"id": "EV1", "type": " "},
        {"id": "EV1", "type": ["call.completed"]},
        {"id": "E" * (MAX_ID_LENGTH + 1), "type": "x"},
        {"id": "EV\n1", "type": "x"},
        legacy("call.completed", {"object": "call"}),
        legacy("message.received", {"id": 5}),
        legacy("call.completed", {"id": "ACc", "phoneNumberId": "P" * (MAX_ID_LENGTH + 1)}),
        {"id": "EV1", "type": "call.completed", "createdAt": CREATED, "data": {}},
    ],
)
def test_invalid_documents_raise_invalid_payload(document: object) -> None:
    with pytest.raises(InvalidPayload):
        route_event(document)
