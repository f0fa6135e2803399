from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel, ValidationError

from opsync.openphone.models import (
    Call,
    CallRecording,
    CallSummary,
    CallTranscript,
    CallVoicemail,
    Contact,
    Conversation,
    Message,
    PhoneNumber,
    User,
    Webhook,
    lenient_timestamp,
)
from tests.openphone.support import CALL, MESSAGE

SPEC = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "openphone-openapi.json").read_text("utf-8")
)

# (path, method, success status, model, is the data a list)
RESPONSES: list[tuple[str, str, str, type[BaseModel], bool]] = [
    ("/v1/calls", "get", "200", Call, True),
    ("/v1/calls/{callId}", "get", "200", Call, False),
    ("/v1/call-recordings/{callId}", "get", "200", CallRecording, True),
    ("/v1/call-summaries/{callId}", "get", "200", CallSummary, False),
    ("/v1/call-transcripts/{id}", "get", "200", CallTranscript, False),
    ("/v1/call-voicemails/{callId}", "get", "200", CallVoicemail, False),
    ("/v1/messages", "get", "200", Message, True),
    ("/v1/messages/{id}", "get", "200", Message, False),
    ("/v1/messages", "post", "202", Message, False),
    ("/v1/phone-numbers", "get", "200", PhoneNumber, True),
    ("/v1/phone-numbers/{phoneNumberId}", "get", "200", PhoneNumber, False),
    ("/v1/users", "get", "200", User, True),
    ("/v1/users/{userId}", "get", "200", User, False),
    ("/v1/contacts", "get", "200", Contact, True),
    ("/v1/contacts/{id}", "get", "200", Contact, False),
    ("/v1/conversations", "get", "200", Conversation, True),
    ("/v1/webhooks", "get", "200", Webhook, True),
    ("/v1/webhooks/{id}", "get", "200", Webhook, False),
    ("/v1/webhooks/calls", "post", "201", Webhook, False),
]

_PATTERN_VALUES = {
    r"^\+[1-9]\d{1,14}$": "+15555555555",
    "^AC(.*)$": "ACexample",
    "^PN(.*)$": "PNexample",
    "^US(.*)$": "USexample",
    "^CN(.*)$": "CNexample",
    "^WH(.*)$": "WHexample",
    "^OR(.*)$": "ORexample",
    "^GR(.*)$": "GRexample",
    "^VM(.*)$": "VMexample",
}


def instance(schema: dict[str, Any], *, nulls: bool, branch: int = 0) -> Any:
    """An instance of ``schema`` built from its examples (``nulls``: null wherever allowed)."""
    if "$ref" in schema:
        return instance(resolve(schema), nulls=nulls, branch=branch)
    if "anyOf" in schema:
        options = schema["anyOf"]
        if nulls and any(option.get("type") == "null" for option in options):
            return None
        usable = [option for option in options if option.get("type") != "null"]
        return instance(usable[min(branch, len(usable) - 1)], nulls=nulls, branch=branch)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(instance(part, nulls=nulls, branch=branch))
        return merged
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: instance(sub, nulls=nulls, branch=branch) for key, sub in props.items()}
    if kind == "array":
        return [instance(schema["items"], nulls=nulls, branch=branch)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2022-01-01T00:00:00Z"
        if schema.get("format") == "email":
            return "someone@example.com"
        return _PATTERN_VALUES.get(schema.get("pattern", ""), "text")
    return {"integer": 7, "number": 2.5, "boolean": True}[str(kind)]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].removeprefix("#/components/schemas/")
    found: dict[str, Any] = SPEC["components"]["schemas"][name]
    return found


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    content = SPEC["paths"][path][method]["responses"][status]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return resolve(schema) if "$ref" in schema else schema


@pytest.mark.parametrize("nulls", [False, True], ids=["examples", "nulls"])
@pytest.mark.parametrize("branch", [0, 1, 4])
@pytest.mark.parametrize(
    ("path", "method", "status", "model", "is_list"),
    RESPONSES,
    ids=[f"{m} {p}" for p, m, *_ in RESPONSES],
)
def test_models_accept_the_spec_examples(
    path: str,
    method: str,
    status: str,
    model: type[BaseModel],
    is_list: bool,
    nulls: bool,
    branch: int,
) -> None:
    schema = response_schema(path, method, status)
    body = instance(schema, nulls=nulls, branch=branch)
    jsonschema.validate(body, schema)  # the synthesised body is valid for the spec itself
    items = body["data"] if is_list else [body["data"]]

    for item in items:
        parsed = model.model_validate(item)
        dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if isinstance(parsed, Webhook):
            dumped["key"] = item["key"]
        assert dumped == item


def test_call_timestamps_with_and_without_milliseconds_are_utc() -> None:
    call = Call.model_validate({**CALL, "createdAt": "2022-01-23T16:55:52.420+02:00"})

    assert call.created_at == datetime(2022, 1, 23, 14, 55, 52, 420000, tzinfo=UTC)
    assert call.created_at.utcoffset() is not None
    assert call.updated_at == datetime(2022, 1, 1, 0, 1, 0, 123000, tzinfo=UTC)
    assert call.answered_at == datetime(2022, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert call.initiated_by is None
    assert call.forwarded_to == "USlHhXmRMz"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration", "abc", "valid integer"),
        ("duration", "60", "valid integer"),
        ("duration", 60.5, "valid integer"),
        ("createdAt", "2022-01-01T00:00:00", "timezone"),
        ("createdAt", 1640995200, "ISO 8601"),
        ("createdAt", "not a time", "datetime"),
        ("participants", "+15555555555", "valid list"),
        ("direction", "sideways", "incoming"),
        ("id", 12, "valid string"),
        ("updatedAt", "", "datetime"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Call.model_validate({**CALL, field: value})

    assert caught.value.errors()[0]["loc"][0] == field
    assert message in str(caught.value)


def test_required_fields_are_required() -> None:
    without = {key: value for key, value in CALL.items() if key != "duration"}
    with pytest.raises(ValidationError, match="duration"):
        Call.model_validate(without)


def test_unknown_fields_and_unknown_statuses_are_kept() -> None:
    call = Call.model_validate(
        {**CALL, "status": "transferred", "object": "call", "contactIds": ["6824dfb6"]}
    )

    assert call.status == "transferred"
    assert call.model_extra == {"object": "call", "contactIds": ["6824dfb6"]}


def test_message_user_id_is_nullable_and_status_is_open() -> None:
    message = Message.model_validate(MESSAGE)
    failed = Message.model_validate({**MESSAGE, "status": "failed", "userId": "US1"})

    assert (message.user_id, message.status, message.from_) == (None, "received", "+15555550100")
    assert message.created_at.microsecond == 420000
    assert (failed.user_id, failed.status) == ("US1", "failed")
    assert message.media == []
    assert message.model_dump(by_alias=True)["from"] == "+15555550100"


def test_legacy_app_message_shape_is_normalised() -> None:
    legacy = {
        "id": "AC1",
        "object": "message",
        "from": "+15555550100",
        "to": "+15555550199, +15555550198",
        "body": "Photo attached",
        "media": [{"url": "https://cdn.example/1.jpg", "type": "image/jpeg"}],
        "conversationId": "CN123",
        "direction": "incoming",
        "status": "received",
        "createdAt": "2022-01-23T16:55:52.420Z",
    }
    message = Message.model_validate(legacy)

    assert message.text == "Photo attached"
    assert message.to == ["+15555550199", "+15555550198"]
    assert [(m.url, m.type) for m in message.media] == [("https://cdn.example/1.jpg", "image/jpeg")]
    assert message.conversation_id == "CN123"
    assert (message.user_id, message.phone_number_id, message.updated_at) == (None, None, None)


def test_a_media_only_message_has_empty_text() -> None:
    assert Message.model_validate({**MESSAGE, "text": None}).text == ""
    with pytest.raises(ValidationError, match="text"):
        Message.model_validate({**MESSAGE, "text": 5})


def test_a_message_without_text_or_body_is_rejected() -> None:
    without = {key: value for key, value in MESSAGE.items() if key != "text"}
    with pytest.raises(ValidationError, match="text"):
        Message.model_validate(without)


def test_summary_jobs_and_transcript_dialogue() -> None:
    summary = CallSummary.model_validate(
        {
            "callId": "ACea724",
            "status": "completed",
            "summary": ["You talked about the weather."],
            "nextSteps": ["Bring an umbrella."],
            "jobs": [
                {
                    "icon": "☂",
                    "name": "Lead",
                    "result": {"data": [{"name": "budget", "value": 12.5}]},
                }
            ],
        }
    )
    transcript = CallTranscript.model_validate(
        {
            "callId": "ACea724",
            "createdAt": "2022-01-01T00:00:00Z",
            "dialogue": [
                {
                    "content": "Hello, world!",
                    "start": 5.123456,
                    "end": 10,
                    "identifier": "+19876543210",
                    "userId": None,
                }
            ],
            "duration": 100,
            "status": "completed",
        }
    )

    assert summary.jobs is not None
    assert summary.jobs[0].result.data[0].value == 12.5
    assert transcript.dialogue is not None
    assert transcript.dialogue[0].end == 10.0
    assert transcript.duration == 100.0


def test_voicemail_fields_are_null_while_in_progress() -> None:
    pending = {"id": "VM1", "status": "in-progress", "duration": None}
    voicemail = CallVoicemail.model_validate({**pending, "transcript": None, "recordingUrl": None})
    assert voicemail.recording_url is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" '2022-01-01T00:00:00Z'", datetime(2022, 1, 1, tzinfo=UTC)),
        ("2022-01-01T00:00:00.250Z", datetime(2022, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2022-01-01T00:00:00", datetime(2022, 1, 1, tzinfo=UTC)),
        ("garbage", None),
        ("", None),
    ],
)
def test_phone_number_dates_are_parsed_leniently(text: str, expected: datetime | None) -> None:
    assert lenient_timestamp(text) == expected


def test_webhook_key_is_masked() -> None:
    schema = response_schema("/v1/webhooks/{id}", "get", "200")
    data = instance(schema, nulls=False)["data"]
    webhook = Webhook.model_validate({**data, "key": "super-secret-signing-key"})

    assert "super-secret-signing-key" not in repr(webhook)
    assert webhook.key.get_secret_value() == "super-secret-signing-key"
