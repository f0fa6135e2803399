"""A small finished OpenPhone workspace and a Notion simulator state holding, by default, the
correct page of every call and message (request-form properties written by hand here, so the
checks do not depend on opsync's own renderer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from opsync.clock import FakeClock
from opsync.demo.verify import NotionIds
from opsync.sandbox.notion import NotionState, SeededDatabases, seed_databases
from opsync.sandbox.openphone import Workspace, WorkspaceSize, generate_workspace
from opsync.sandbox.openphone.models import Call, Message

JSON = dict[str, Any]
NOW = 1_775_001_600.0


def rich(text: str) -> JSON:
    parts = [text[i : i + 2000] for i in range(0, len(text), 2000)]
    return {"rich_text": [{"type": "text", "text": {"content": part}} for part in parts]}


def call_properties(call: Call, canvas: str | None) -> JSON:
    transcript = call.transcript.dialogue if call.transcript else None
    lines = [
        f"[00:{i:02d}] Speaker {i % 2}: {e['content']}" for i, e in enumerate(transcript or [])
    ]
    summary = call.summary
    recorded = bool(call.recordings) and all(r.status == "completed" for r in call.recordings)
    return {
        "Call ID": {"title": [{"type": "text", "text": {"content": call.id}}]},
        "Direction": {"select": {"name": call.direction}},
        "Status": {"select": {"name": call.status}},
        "Duration": {"number": call.duration},
        "Phone Number ID": rich(call.phone_number_id),
        "Has Recording": {"checkbox": recorded},
        "Recording URL": {"url": "https://media.example/rec.mp3" if recorded else None},
        "Has Transcript": {"checkbox": bool(lines)},
        "Transcript": rich("\n".join(lines)),
        "Has Summary": {"checkbox": bool(summary and summary.summary)},
        "Summary": rich("\n".join(summary.summary or []) if summary else ""),
        "Next Steps": rich("\n".join(summary.next_steps or []) if summary else ""),
        "Has Voicemail": {"checkbox": call.voicemail is not None},
        "Voicemail Transcript": rich(call.voicemail.transcript or "" if call.voicemail else ""),
        "Canvas": {"relation": [{"id": canvas}] if canvas else []},
    }


def message_properties(message: Message, canvas: str | None) -> JSON:
    return {
        "Message ID": {"title": [{"type": "text", "text": {"content": message.id}}]},
        "Direction": {"select": {"name": message.direction}},
        "From": {"phone_number": message.sender},
        "To": {"phone_number": message.recipients[0]},
        "Content": rich(message.text),
        "Status": {
            "select": {"name": "received" if message.direction == "incoming" else message.status}
        },
        "Phone Number ID": rich(message.phone_number_id),
        "Canvas": {"relation": [{"id": canvas}] if canvas else []},
    }


@dataclass
class World:
    workspace: Workspace
    state: NotionState
    seeded: SeededDatabases
    canvas_pages: dict[str, str] = field(default_factory=dict)
    call_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    page_of: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> NotionIds:
        return NotionIds(self.seeded.calls_data_source_id, self.seeded.messages_data_source_id)

    @property
    def pages(self) -> list[JSON]:
        return list(self.state.dump()["pages"])

    def add_page(self, data_source_id: str, properties: JSON) -> str:
        parent = {"type": "data_source_id", "data_source_id": data_source_id}
        return str(self.state.create_page({"parent": parent, "properties": properties})["id"])

    def set(self, resource_id: str, properties: JSON) -> None:
        self.state.update_page(self.page_of[resource_id], {"properties": properties})


@pytest.fixture
def world() -> World:
    ws = generate_workspace(
        7, NOW - 3600, WorkspaceSize(phone_numbers=2, counterparts_per_number=0)
    )
    state = NotionState(FakeClock(NOW))
    seeded = seed_databases(state)
    w = World(ws, state, seeded)
    own = [n["id"] for n in ws.phone_numbers]
    second_line = ws.phone_numbers[1]["number"]
    linked, unlinked = (c["defaultFields"]["phoneNumbers"][0]["value"] for c in ws.contacts[:2])
    for number, spelled in ((linked, f"({linked[2:5]}) {linked[5:8]}-{linked[8:]}"),
                            (second_line, second_line)):  # fmt: skip
        page = w.add_page(
            seeded.canvas_data_source_id,
            {
                "Name": {"title": [{"text": {"content": number}}]},
                "Phone": {"phone_number": spelled},
            },
        )
        w.canvas_pages[number] = page
    at = NOW - 3000
    calls = [
        ws.add_call(own[0], linked, at=at, outcome="answered", talk_seconds=400),
        ws.add_call(own[1], unlinked, at=at + 1, outcome="voicemail"),
        ws.add_call(own[0], unlinked, at=at + 2, direction="outgoing", outcome="busy"),
    ]
    for call in calls:
        ws.finish_call(call.id)
        w.call_ids.append(call.id)
        props = call_properties(call, w.canvas_pages.get(call.participant))
        w.page_of[call.id] = w.add_page(seeded.calls_data_source_id, props)
    messages = [
        ws.add_message(own[0], [linked], "Hi there", at=at + 3),
        ws.add_message(own[1], [unlinked], "Your order shipped", at=at + 4, direction="outgoing"),
        ws.add_message(own[0], [second_line], "Internal note", at=at + 5, direction="outgoing"),
    ]
    ws.deliver_message(messages[1].id, at + 8)
    ws.deliver_message(messages[2].id, at + 9)
    for message in messages:
        w.message_ids.append(message.id)
        canvas = w.canvas_pages.get(linked) if message.sender == linked else None
        w.page_of[message.id] = w.add_page(
            seeded.messages_data_source_id, message_properties(message, canvas)
        )
    return w
