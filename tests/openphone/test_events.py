from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsync.errors import InvalidPayload
from opsync.openphone import EventRef, event_ref, parse_envelope
from opsync.openphone.models import Call, CallSummary, CallTranscript, Message
from tests.openphone.support import CALL

# Vector B1 of the reference (§5.4): a legacy envelope, exact bytes.
LEGACY_MESSAGE = (
    b'{"id":"EVtestvector0002","object":"event","apiVersion":"v4",'
    b'"createdAt":"2026-04-01T00:00:00.000Z","type":"message.received","data":{"object":'
    b'{"id":"ACtestvector0002","object":"message","from":"+15555550100","to":["+15555550199"],'
    b'"direction":"incoming","text":"Hello, world!","status":"received",'
    b'"createdAt":"2026-03-31T23:59:59.900Z","userId":"UStestuser1","phoneNumberId":"PNtestnum1"}}}'
)
# Vectors A1 and A2: the new envelope, the second with non-ASCII text.
NEW_MESSAGE = (
    b'{"id":"EVtestvector0001","apiVersion":"2026-03-30","createdAt":"2026-04-01T00:00:00.000Z",'
    b'"type":"message.received","data":{"resource":{"id":"ACtestvector0001",'
    b'"text":"Hello, world!"},"context":{},"links":{"quo":null}}}'
)
NEW_MESSAGE_UTF8 = (
    '{"id":"EVtestvector0003","apiVersion":"2026-03-30","createdAt":"2026-04-01T00:00:00.000Z",'
    '"type":"message.received","data":{"resource":{"id":"ACtestvector0003","text":"Olá 👋"},'
    '"context":{},"links":{"quo":null}}}'
).encode()


def legacy(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "EV0ea54cadfbf342e6ac4ca1f22ed1700c",
        "object": "event",
        "apiVersion": "v4",
        "createdAt": "2022-06-24T19:35:46.825Z",
        "type": event_type,
        "data": {"object": obj},
    }


SUMMARY = {
    "callId": "ACea724hac8c30465bcbcff0b76e4c1c7b",
    "object": "callSummary",
    "status": "completed",
    "summary": ["You talked about the weather."],
    "nextSteps": ["Bring an umbrella."],
}
TRANSCRIPT = {
    "callId": "ACea724hac8c30465bcbcff0b76e4c1c7b",
    "object": "callTranscript",
    "createdAt": "2022-06-24T19:35:46Z",
    "dialogue": [
        {"content": "Hi", "start": 0.5, "end": 1.25, "identifier": "+19876543210", "userId": None}
    ],
    "duration": 12.5,
    "status": "completed",
    "contactIds": ["6824dfb69aee85c132b7dg65"],
}


def test_legacy_message_vector() -> None:
    envelope = parse_envelope(LEGACY_MESSAGE)

    assert envelope.is_legacy
    assert envelope.created_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert event_ref(envelope) == EventRef(
        event_id="EVtestvector0002",
        event_type="message.received",
        kind="message",
        call_id=None,
        message_id="ACtestvector0002",
        phone_number_id="PNtestnum1",
    )
    message = envelope.resource_as(Message)
    assert (message.text, message.user_id, message.updated_at) == (
        "Hello, world!",
        "UStestuser1",
        None,
    )


@pytest.mark.parametrize(
    ("body", "message_id", "text"),
    [
        (NEW_MESSAGE, "ACtestvector0001", "Hello, world!"),
        (NEW_MESSAGE_UTF8, "ACtestvector0003", "Olá 👋"),
    ],
)
def test_new_envelope_vectors(body: bytes, message_id: str, text: str) -> None:
    envelope = parse_envelope(body)
    ref = event_ref(envelope)

    assert not envelope.is_legacy
    assert envelope.resource["text"] == text
    assert envelope.data.links == {"quo": None}
    assert (ref.kind, ref.message_id, ref.phone_number_id) == ("message", message_id, None)


def test_legacy_call_event() -> None:
    obj = {**CALL, "id": "ACsXlF0", "object": "call", "forwardedFrom": "US123abc"}
    envelope = parse_envelope(legacy("call.ringing", obj))
    ref = event_ref(envelope)

    assert (ref.kind, ref.call_id, ref.phone_number_id) == ("call", "ACsXlF0", "PN123abc")
    assert envelope.resource_as(Call).forwarded_from == "US123abc"


@pytest.mark.parametrize(
    ("alias", "name", "obj", "model", "kind"),
    [
        ("callSummary", "call.summary.completed", SUMMARY, CallSummary, "summary"),
        ("callTranscript", "call.transcript.completed", TRANSCRIPT, CallTranscript, "transcript"),
        ("call.summary.completed", "call.summary.completed", SUMMARY, CallSummary, "summary"),
    ],
)
def test_summary_and_transcript_aliases_are_normalised(
    alias: str, name: str, obj: dict[str, Any], model: type[CallSummary], kind: str
) -> None:
    envelope = parse_envelope(json.dumps(legacy(alias, obj)))
    ref = event_ref(envelope)

    assert envelope.type == name
    assert (ref.event_type, ref.kind) == (name, kind)
    assert ref.call_id == "ACea724hac8c30465bcbcff0b76e4c1c7b"
    assert ref.message_id is None
    assert envelope.resource_as(model).status == "completed"


def test_unknown_type_falls_back_to_the_object_discriminator() -> None:
    ref = event_ref(parse_envelope(legacy("summaryReady", SUMMARY)))
    assert (ref.kind, ref.call_id) == ("summary", SUMMARY["callId"])


def test_new_call_voicemail_event_uses_call_id_and_context_number() -> None:
    body = {
        "id": "EV9",
        "apiVersion": "2026-03-30",
        "createdAt": "2026-04-13T12:00:00Z",
        "type": "call.voicemail.completed",
        "data": {
            "resource": {"id": "VM1", "callId": "AC77"},
            "context": {"phoneNumber": {"id": "PN42", "number": "+15555550100"}},
            "links": {"quo": "https://my.quo.com/x"},
        },
    }
    ref = event_ref(parse_envelope(body))
    assert (ref.kind, ref.call_id, ref.phone_number_id) == ("call", "AC77", "PN42")


def test_contact_events_are_other() -> None:
    obj = {"id": "CT1", "object": "contact", "firstName": "Ann"}
    ref = event_ref(parse_envelope(legacy("contact.updated", obj)))
    assert (ref.kind, ref.call_id, ref.message_id, ref.phone_number_id) == (
        "other",
        None,
        None,
        None,
    )


def test_legacy_app_message_payload() -> None:
    obj = {
        "id": "AC5",
        "object": "message",
        "from": "+15555550100",
        "to": "+15555550199,+15555550198",
        "body": "see attached",
        "media": [{"url": "https://cdn.example/a.jpg", "type": "image/jpeg"}],
        "conversationId": "CN9",
        "direction": "incoming",
        "status": "received",
        "createdAt": "2021-06-24T19:35:46Z",
        "phoneNumberId": "PN1",
    }
    envelope = parse_envelope({**legacy("message.received", obj), "apiVersion": "v3"})
    message = envelope.resource_as(Message)

    assert (message.text, message.to) == ("see attached", ["+15555550199", "+15555550198"])
    assert message.conversation_id == "CN9"
    assert event_ref(envelope).message_id == "AC5"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        ({"id": "EV1", "createdAt": "2022-01-01T00:00:00Z", "type": "call.completed"}, "data"),
        ({**legacy("call.completed", CALL), "type": None}, "envelope.type"),
        ({**legacy("call.completed", CALL), "createdAt": "soon"}, "envelope.createdAt"),
        ({**legacy("call.completed", CALL), "data": {"context": {}}}, "object"),
        ({**legacy("call.completed", CALL), "data": {"object": [1]}}, "envelope.data.object"),
    ],
)
def test_invalid_envelopes_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidPayload, match=field.replace(".", r"\.")):
        parse_envelope(body)


@pytest.mark.parametrize(
    ("event_type", "obj", "field"),
    [
        ("call.completed", {"object": "call"}, "data.object.id"),
        ("callSummary", {"object": "callSummary"}, "data.object.callId"),
        ("message.received", {"id": 5}, "data.object.id"),
        ("message.received", {"id": "AC1", "phoneNumberId": ["PN1"]}, "data.object.phoneNumberId"),
    ],
)
def test_event_ref_names_a_missing_or_bad_id(
    event_type: str, obj: dict[str, Any], field: str
) -> None:
    envelope = parse_envelope(legacy(event_type, obj))
    with pytest.raises(InvalidPayload, match=field.replace(".", r"\.")):
        event_ref(envelope)


def test_resource_validation_names_the_field() -> None:
    envelope = parse_envelope(legacy("call.completed", {**CALL, "duration": "abc"}))
    with pytest.raises(InvalidPayload, match=r"data\.object\.duration"):
        envelope.resource_as(Call)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["id", "callId", "object", "phoneNumberId", "text", "body", "to", "type", "createdAt"]
)
RESOURCE = st.dictionaries(KEYS, st.one_of(st.text(min_size=1, max_size=8), JSON), max_size=6)
ENVELOPE = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=6), JSON),
        "createdAt": st.sampled_from(["2022-01-01T00:00:00Z", "2022-01-01T00:00:00.5Z", 7, ""]),
        "type": st.sampled_from(
            ["call.completed", "callSummary", "callTranscript", "message.received", "x", 3]
        ),
        "data": st.one_of(
            st.fixed_dictionaries({"object": RESOURCE}),
            st.fixed_dictionaries({"resource": RESOURCE, "context": st.dictionaries(KEYS, JSON)}),
            JSON,
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.dictionaries(st.text(max_size=10), JSON, max_size=6), ENVELOPE))
def test_parsing_only_ever_raises_invalid_payload(body: dict[str, Any]) -> None:
    for raw in (body, json.dumps(body)):
        try:
            envelope = parse_envelope(raw)
            event_ref(envelope)
            envelope.resource_as(Message)
        except InvalidPayload:
            pass
