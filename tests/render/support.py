"""Builders of OpenPhone objects and render states for the render tests, and a Notion workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsync.clock import FakeClock
from opsync.openphone.models import (
    Call,
    CallSummary,
    CallTranscript,
    CallVoicemail,
    Message,
)
from opsync.render.text import JSON
from opsync.sandbox.notion.seed_schema import SeededDatabases, seed_databases
from opsync.sandbox.notion.state import NotionState

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
OWN = "+15555550199"
CALLER = "+13214436893"


def make_call(**changes: Any) -> Call:
    data: dict[str, Any] = {
        "id": "AC123abc",
        "phoneNumberId": "PN123abc",
        "userId": "US123abc",
        "direction": "incoming",
        "status": "completed",
        "participants": [CALLER],
        "createdAt": "2026-04-01T10:00:00Z",
        "updatedAt": "2026-04-01T10:05:00.123Z",
        "answeredAt": "2026-04-01T10:00:05Z",
        "answeredBy": "US123abc",
        "initiatedBy": None,
        "completedAt": "2026-04-01T10:05:00Z",
        "duration": 295,
        "callRoute": "phone-number",
        "forwardedFrom": None,
        "forwardedTo": None,
        "aiHandled": None,
    }
    data.update(changes)
    return Call.model_validate(data)


def make_message(**changes: Any) -> Message:
    data: dict[str, Any] = {
        "id": "AC9message",
        "from": CALLER,
        "to": [OWN],
        "text": "Hello",
        "phoneNumberId": "PN123abc",
        "direction": "incoming",
        "userId": None,
        "status": "received",
        "createdAt": "2026-04-01T10:00:00.420Z",
        "updatedAt": "2026-04-01T10:00:01Z",
    }
    data.update(changes)
    return Message.model_validate(data)


def entry(
    content: str, start: float, *, user_id: str | None = None, who: str | None = None
) -> JSON:
    return {
        "content": content,
        "start": float(start),
        "end": float(start) + 1.0,
        "identifier": who,
        "userId": user_id,
    }


def make_transcript(dialogue: list[JSON] | None, status: str = "completed") -> CallTranscript:
    return CallTranscript.model_validate(
        {
            "callId": "AC123abc",
            "createdAt": "2026-04-01T10:06:00Z",
            "dialogue": dialogue,
            "duration": 295.0,
            "status": status,
        }
    )


def make_summary(summary: list[str] | None, next_steps: list[str] | None = None) -> CallSummary:
    return CallSummary.model_validate(
        {"callId": "AC123abc", "status": "completed", "summary": summary, "nextSteps": next_steps}
    )


def make_voicemail(transcript: str | None) -> CallVoicemail:
    return CallVoicemail.model_validate(
        {
            "id": "VM1",
            "status": "completed",
            "duration": 12,
            "transcript": transcript,
            "recordingUrl": "https://files.openphone.example/vm1.mp3",
        }
    )


def rich_segments(properties: JSON, blocks: list[JSON]) -> list[JSON]:
    """Every rich-text object of the rendered properties and blocks."""
    out: list[JSON] = []
    for value in properties.values():
        for key in ("title", "rich_text"):
            out.extend(value.get(key) or [])
    for block in blocks:
        out.extend(block[block["type"]]["rich_text"])
    return out


@dataclass
class Workspace:
    """The simulated Notion workspace with the seed's databases and one Canvas page."""

    state: NotionState
    seeded: SeededDatabases
    canvas_page_id: str

    def create(self, data_source_id: str, properties: JSON, children: list[JSON]) -> JSON:
        return self.state.create_page(
            {
                "parent": {"type": "data_source_id", "data_source_id": data_source_id},
                "properties": properties,
                "children": children,
            }
        )


def workspace() -> Workspace:
    state = NotionState(FakeClock(), seed=3)
    seeded = seed_databases(state)
    canvas = state.create_page(
        {
            "parent": {"type": "data_source_id", "data_source_id": seeded.canvas_data_source_id},
            "properties": {
                "Name": {"title": [{"text": {"content": "Acme"}}]},
                "Phone": {"phone_number": CALLER},
            },
        }
    )
    return Workspace(state, seeded, canvas["id"])
