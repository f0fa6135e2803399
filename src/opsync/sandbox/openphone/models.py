"""Mutable records of the simulated workspace and their v1 JSON shapes.

Times are Unix epoch seconds (floats) and render as ISO 8601 UTC with milliseconds and ``Z``.
Media URLs are rendered against the simulator's own base URL, so recordings and voicemails
download from ``{base}/media/recordings/{id}.mp3`` and ``{base}/media/voicemails/{id}.mp3``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Direction = Literal["incoming", "outgoing"]


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ``2026-04-01T00:00:00.000Z`` (``None`` stays ``None``)."""
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """ISO 8601 (``Z`` or offset, with or without fraction) → epoch seconds; ValueError if bad."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class Recording:
    id: str
    start_time: float | None
    duration: int | None
    status: str = "completed"

    def to_json(self, base_url: str) -> dict[str, Any]:
        ready = self.status == "completed"
        return {
            "id": self.id,
            "duration": self.duration,
            "startTime": iso(self.start_time),
            "status": self.status,
            "type": "audio/mpeg" if ready else None,
            "url": f"{base_url}/media/recordings/{self.id}.mp3" if ready else None,
        }


@dataclass
class Transcript:
    status: str
    created_at: float
    duration: float
    dialogue: list[dict[str, Any]] | None

    def to_json(self, call_id: str) -> dict[str, Any]:
        return {
            "callId": call_id,
            "createdAt": iso(self.created_at),
            "dialogue": self.dialogue,
            "duration": self.duration,
            "status": self.status,
        }

    def text_length(self) -> int:
        return sum(len(entry["content"]) for entry in self.dialogue or [])


@dataclass
class Summary:
    status: str
    summary: list[str] | None
    next_steps: list[str] | None
    jobs: list[dict[str, Any]] | None = None

    def to_json(self, call_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "callId": call_id,
            "status": self.status,
            "summary": self.summary,
            "nextSteps": self.next_steps,
        }
        if self.jobs is not None:
            body["jobs"] = self.jobs
        return body


@dataclass
class Voicemail:
    id: str
    status: str
    duration: int | None
    transcript: str | None

    def to_json(self, base_url: str) -> dict[str, Any]:
        done = self.status == "completed"
        return {
            "id": self.id,
            "status": self.status,
            "duration": self.duration if done else None,
            "transcript": self.transcript if done else None,
            "recordingUrl": f"{base_url}/media/voicemails/{self.id}.mp3" if done else None,
        }


@dataclass
class Call:
    id: str
    phone_number_id: str
    user_id: str
    direction: Direction
    status: str
    participant: str
    created_at: float
    conversation_id: str
    updated_at: float | None = None
    answered_at: float | None = None
    answered_by: str | None = None
    initiated_by: str | None = None
    completed_at: float | None = None
    duration: int = 0
    call_route: str | None = None
    forwarded_from: str | None = None
    forwarded_to: str | None = None
    ai_handled: str | None = None
    recordings: list[Recording] = field(default_factory=list)
    transcript: Transcript | None = None
    summary: Summary | None = None
    voicemail: Voicemail | None = None
    #: lifecycle stages still to happen (see ``workspace.STAGES``); not part of the JSON
    stages: list[str] = field(default_factory=list)
    #: planned talk time and outcome, applied when the call completes; not part of the JSON
    talk_seconds: int = 0
    outcome: str = "answered"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phoneNumberId": self.phone_number_id,
            "userId": self.user_id,
            "direction": self.direction,
            "status": self.status,
            "participants": [self.participant],
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "answeredAt": iso(self.answered_at),
            "answeredBy": self.answered_by,
            "initiatedBy": self.initiated_by,
            "completedAt": iso(self.completed_at),
            "duration": self.duration,
            "callRoute": self.call_route,
            "forwardedFrom": self.forwarded_from,
            "forwardedTo": self.forwarded_to,
            "aiHandled": self.ai_handled,
        }


@dataclass
class Media:
    """A message attachment, served by the simulator at ``/media/files/{name}``."""

    name: str
    type: str

    def to_json(self, base_url: str) -> dict[str, str]:
        return {"url": f"{base_url}/media/files/{self.name}", "type": self.type}


@dataclass
class Message:
    id: str
    phone_number_id: str
    user_id: str
    direction: Direction
    sender: str
    recipients: list[str]
    text: str
    status: str
    created_at: float
    updated_at: float
    conversation_id: str
    media: list[Media] = field(default_factory=list)

    def counterparts(self, own_number: str) -> set[str]:
        return {n for n in [self.sender, *self.recipients] if n != own_number}

    def to_json(self) -> dict[str, Any]:
        """The v1 REST shape: no ``media``, no ``conversationId`` (the spec has neither)."""
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.recipients),
            "text": self.text,
            "phoneNumberId": self.phone_number_id,
            "direction": self.direction,
            "userId": self.user_id,
            "status": self.status,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass
class Conversation:
    id: str
    phone_number_id: str
    participants: list[str]
    created_at: float
    name: str | None = None
    assigned_to: str | None = None
    updated_at: float | None = None
    last_activity_at: float | None = None
    last_activity_id: str | None = None

    def touch(self, activity_id: str, at: float) -> None:
        self.last_activity_id = activity_id
        self.last_activity_at = at
        self.updated_at = at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phoneNumberId": self.phone_number_id,
            "participants": list(self.participants),
            "name": self.name,
            "assignedTo": self.assigned_to,
            "lastActivityAt": iso(self.last_activity_at),
            "lastActivityId": self.last_activity_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "deletedAt": None,
            "mutedUntil": None,
            "snoozedUntil": None,
        }
