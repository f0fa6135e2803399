"""Pydantic models of the OpenPhone v1 objects (spec 1.0.0 up to changelog 1.2.0).

Field names are snake_case in Python and camelCase on the wire (``by_alias=True`` when
dumping). The models follow the spec's nullability, with these deliberate relaxations:

* unknown fields are kept (``extra="allow"``): newer API revisions add fields such as
  ``contactIds`` and the webhook copies add ``object``;
* enums that the reference calls open (call, message, recording and summary statuses, roles,
  ...) are typed ``Literal[...] | str``: known values are listed, unknown ones are kept as text;
* numbers, booleans and timestamps are strict: ``"60"`` or ``"abc"`` is not a duration, and a
  bare number is not a timestamp (nor is ``NaN`` or ``Infinity`` a number). Timestamps must
  carry a zone and come back as UTC;
* ``Message.user_id``, ``Message.phone_number_id`` and ``Message.updated_at`` may be null or
  absent (incoming messages, webhook copies); legacy app payloads (``body`` instead of
  ``text``, ``to`` as a comma-separated string) are normalised on the way in, and a null
  text (a media-only message) becomes ``""``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic.alias_generators import to_camel


def _timestamp_text(value: object) -> object:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("expected an ISO 8601 timestamp string")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_to_utc)]
"""An ISO 8601 string with a zone (``Z``), with or without milliseconds; parsed to UTC."""

Direction = Literal["incoming", "outgoing"]
CallStatus = Literal[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
    "missed",
    "answered",
    "forwarded",
    "abandoned",
]
MessageStatus = Literal["queued", "sent", "delivered", "undelivered", "received", "failed"]
RecordingStatus = Literal[
    "absent",
    "completed",
    "deleted",
    "failed",
    "in-progress",
    "paused",
    "processing",
    "stopped",
    "stopping",
]
ArtifactStatus = Literal["absent", "in-progress", "completed", "failed"]
VoicemailStatus = Literal["completed", "in-progress"]
Role = Literal["owner", "admin", "member"]
Restriction = Literal["restricted", "unrestricted"]
WebhookStatus = Literal["enabled", "disabled"]


class OpenPhoneModel(BaseModel):
    """Base of every OpenPhone object: camelCase aliases, unknown fields kept, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="allow",
        frozen=True,
        # ``NaN`` and ``Infinity`` are not JSON, but Python's parser accepts them: refuse them
        # here, or a transcript turn starting at NaN would break rendering later.
        allow_inf_nan=False,
    )


class Call(OpenPhoneModel):
    id: StrictStr
    phone_number_id: StrictStr
    user_id: StrictStr
    direction: Direction
    status: CallStatus | StrictStr
    participants: list[StrictStr]
    created_at: Timestamp
    updated_at: Timestamp | None
    answered_at: Timestamp | None
    answered_by: StrictStr | None
    initiated_by: StrictStr | None
    completed_at: Timestamp | None
    duration: StrictInt
    call_route: StrictStr | None
    forwarded_from: StrictStr | None = Field(description="E.164 number or a US... user id")
    forwarded_to: StrictStr | None = Field(description="E.164 number or a US... user id")
    ai_handled: StrictStr | None


class CallRecording(OpenPhoneModel):
    id: StrictStr
    duration: StrictInt | None
    start_time: Timestamp | None
    status: RecordingStatus | StrictStr | None
    type: StrictStr | None
    url: StrictStr | None


class JobResultItem(OpenPhoneModel):
    name: StrictStr
    value: StrictStr | StrictBool | StrictInt | StrictFloat


class JobResult(OpenPhoneModel):
    data: list[JobResultItem]


class Job(OpenPhoneModel):
    icon: StrictStr
    name: StrictStr
    result: JobResult


class CallSummary(OpenPhoneModel):
    call_id: StrictStr
    status: ArtifactStatus | StrictStr
    summary: list[StrictStr] | None
    next_steps: list[StrictStr] | None
    jobs: list[Job] | None = None


class DialogueEntry(OpenPhoneModel):
    content: StrictStr
    start: StrictFloat
    end: StrictFloat
    identifier: StrictStr | None
    user_id: StrictStr | None


class CallTranscript(OpenPhoneModel):
    call_id: StrictStr
    created_at: Timestamp
    dialogue: list[DialogueEntry] | None
    duration: StrictFloat
    status: ArtifactStatus | StrictStr


class CallVoicemail(OpenPhoneModel):
    id: StrictStr
    status: VoicemailStatus | StrictStr
    duration: StrictInt | None
    transcript: StrictStr | None
    recording_url: StrictStr | None


class MediaItem(OpenPhoneModel):
    """An attachment in a legacy app-webhook payload (``media[]``); absent from v1 REST."""

    url: StrictStr
    type: StrictStr | None = None
    duration: StrictInt | StrictFloat | None = None


class Message(OpenPhoneModel):
    id: StrictStr
    from_: StrictStr = Field(alias="from")
    to: list[StrictStr]
    text: StrictStr
    phone_number_id: StrictStr | None = None
    direction: Direction
    user_id: StrictStr | None = None
    status: MessageStatus | StrictStr
    created_at: Timestamp
    updated_at: Timestamp | None = None
    media: list[MediaItem] = Field(default_factory=list)
    conversation_id: StrictStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_app_shape(cls, data: Any) -> Any:
        """Accept legacy app payloads: ``body`` for ``text``, ``to`` as one string."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "text" not in data and "body" in data:
            data["text"] = data["body"]
        if "text" in data and data["text"] is None:
            data["text"] = ""  # a media-only message
        to = data.get("to")
        if isinstance(to, str):
            data["to"] = [part.strip() for part in to.split(",") if part.strip()]
        if data.get("media") is None and "media" in data:
            data["media"] = []
        return data


class PhoneNumberUser(OpenPhoneModel):
    id: StrictStr
    email: StrictStr
    first_name: StrictStr | None
    last_name: StrictStr | None
    role: Role | StrictStr
    group_id: StrictStr


class RestrictionSet(OpenPhoneModel):
    ca: Restriction | StrictStr = Field(alias="CA")
    intl: Restriction | StrictStr = Field(alias="Intl")
    us: Restriction | StrictStr = Field(alias="US")


class Restrictions(OpenPhoneModel):
    calling: RestrictionSet
    messaging: RestrictionSet


def lenient_timestamp(text: str | None) -> datetime | None:
    """Parse a loosely formatted timestamp (quotes, spaces, ``Z``); None when unparseable."""
    if not text:
        return None
    cleaned = text.strip().strip("'\"").strip()
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class PhoneNumber(OpenPhoneModel):
    id: StrictStr
    number: StrictStr
    formatted_number: StrictStr | None
    name: StrictStr
    symbol: StrictStr | None
    group_id: StrictStr
    forward: StrictStr | None
    port_request_id: StrictStr | None
    porting_status: StrictStr | None
    users: list[PhoneNumberUser]
    created_at: StrictStr = Field(description="plain string in the spec; see created")
    updated_at: StrictStr = Field(description="plain string in the spec; see updated")
    restrictions: Restrictions | None = None

    @property
    def created(self) -> datetime | None:
        """``created_at`` parsed leniently; None when it is not a recognisable timestamp."""
        return lenient_timestamp(self.created_at)

    @property
    def updated(self) -> datetime | None:
        """``updated_at`` parsed leniently; None when it is not a recognisable timestamp."""
        return lenient_timestamp(self.updated_at)


class User(OpenPhoneModel):
    id: StrictStr
    email: StrictStr
    first_name: StrictStr | None
    last_name: StrictStr | None
    picture_url: StrictStr | None
    role: Role | StrictStr
    created_at: Timestamp
    updated_at: Timestamp


class ContactEntry(OpenPhoneModel):
    """One ``emails[]`` or ``phoneNumbers[]`` item; values are not validated as E.164."""

    name: StrictStr
    value: StrictStr | None
    id: StrictStr | None = None


class ContactDefaultFields(OpenPhoneModel):
    first_name: StrictStr | None
    last_name: StrictStr | None
    company: StrictStr | None
    role: StrictStr | None
    emails: list[ContactEntry]
    phone_numbers: list[ContactEntry]


class CustomFieldValue(OpenPhoneModel):
    name: StrictStr
    key: StrictStr | None = None
    id: StrictStr | None = None
    type: StrictStr
    value: list[StrictStr] | StrictStr | StrictBool | StrictInt | StrictFloat | None


class Contact(OpenPhoneModel):
    id: StrictStr
    external_id: StrictStr | None
    source: StrictStr | None
    source_url: StrictStr | None
    default_fields: ContactDefaultFields
    custom_fields: list[CustomFieldValue]
    created_at: Timestamp
    updated_at: Timestamp
    created_by_user_id: StrictStr


class Conversation(OpenPhoneModel):
    id: StrictStr
    phone_number_id: StrictStr
    participants: list[StrictStr]
    name: StrictStr | None
    assigned_to: StrictStr | None
    last_activity_at: Timestamp | None
    last_activity_id: StrictStr | None
    created_at: Timestamp | None
    updated_at: Timestamp | None
    deleted_at: Timestamp | None
    muted_until: Timestamp | None
    snoozed_until: Timestamp | None


class Webhook(OpenPhoneModel):
    """A v1 (legacy) webhook. ``key`` is secret: it is masked in ``repr`` and logs."""

    id: StrictStr
    user_id: StrictStr
    org_id: StrictStr
    label: StrictStr | None
    status: WebhookStatus | StrictStr
    url: StrictStr
    key: SecretStr
    events: list[StrictStr]
    resource_ids: list[StrictStr]
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: Timestamp | None
