"""The seed system's Notion schema: Calls, Messages and Canvas databases.

The schemas are plain data in the request form of ``POST /v1/databases`` (API 2025-09-03), so
the same definitions can create the databases in real Notion (``opsync notion setup``) or in the
simulator (:func:`seed_databases`). Only the ``Canvas`` relation needs a runtime value: the
Canvas data source id (:func:`database_body`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from opsync.sandbox.notion.state import NotionState

JSON = dict[str, Any]

CALL_DIRECTIONS = ["incoming", "outgoing"]
CALL_STATUSES = [
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
    "canceled", "missed", "answered", "forwarded", "abandoned",
]  # fmt: skip
TRANSCRIPT_STATUSES = ["absent", "in-progress", "completed", "failed"]
MESSAGE_STATUSES = ["queued", "sent", "delivered", "undelivered"]
CANVAS_RELATION = "Canvas"


def _select(names: list[str]) -> JSON:
    return {"select": {"options": [{"name": name, "color": "default"} for name in names]}}


_TEXT: JSON = {"rich_text": {}}
_DATE: JSON = {"date": {}}
_CHECK: JSON = {"checkbox": {}}
_URL: JSON = {"url": {}}
_SECONDS: JSON = {"number": {"format": "number"}}
_PHONE: JSON = {"phone_number": {}}

CALLS_PROPERTIES: dict[str, JSON] = {
    "Call ID": {"title": {}},
    "Direction": _select(CALL_DIRECTIONS),
    "Status": _select(CALL_STATUSES),
    "Duration": _SECONDS,
    "Participants": _TEXT,
    "OpenPhone User": _TEXT,
    "Phone Number Used": _TEXT,
    "Phone Number ID": _TEXT,
    "Created At": _DATE,
    "Answered At": _DATE,
    "Completed At": _DATE,
    "Has Recording": _CHECK,
    "Recording URL": _URL,
    "Recording Duration": _SECONDS,
    "Has Transcript": _CHECK,
    "Transcript": _TEXT,
    "Transcript Status": _select(TRANSCRIPT_STATUSES),
    "Has Summary": _CHECK,
    "Summary": _TEXT,
    "Next Steps": _TEXT,
    "Has Voicemail": _CHECK,
    "Voicemail URL": _URL,
    "Voicemail Transcript": _TEXT,
    "Call Route": _TEXT,
    "Forwarded From": _TEXT,
    "Forwarded To": _TEXT,
    "Raw Data": _TEXT,
    "Synced At": _DATE,
    "Last Updated": _DATE,
}
"""Calls, without the ``Canvas`` relation (see :func:`canvas_relation`)."""

MESSAGES_PROPERTIES: dict[str, JSON] = {
    "Message ID": {"title": {}},
    "Direction": _select(CALL_DIRECTIONS),
    "From": _PHONE,
    "To": _PHONE,
    "Content": _TEXT,
    "Status": _select(MESSAGE_STATUSES),
    "OpenPhone Number": _TEXT,
    "Phone Number ID": _TEXT,
    "User ID": _TEXT,
    "Created At": _DATE,
    "Updated At": _DATE,
    "Has Media": _CHECK,
    "Media URLs": _TEXT,
    "Conversation ID": _TEXT,
    "Raw Data": _TEXT,
    "Synced At": _DATE,
}
"""Messages, without the ``Canvas`` relation (see :func:`canvas_relation`)."""

CANVAS_PROPERTIES: dict[str, JSON] = {
    "Name": {"title": {}},
    "Phone": _PHONE,
    "Email": {"email": {}},
}


@dataclass(frozen=True)
class DatabaseSpec:
    """One database to create: its title, icon and data-source schema."""

    title: str
    icon: str
    properties: dict[str, JSON]
    links_to_canvas: bool


CANVAS = DatabaseSpec("Canvas", "🗂️", CANVAS_PROPERTIES, links_to_canvas=False)
CALLS = DatabaseSpec("Calls", "📞", CALLS_PROPERTIES, links_to_canvas=True)
MESSAGES = DatabaseSpec("Messages", "💬", MESSAGES_PROPERTIES, links_to_canvas=True)


def canvas_relation(canvas_data_source_id: str) -> JSON:
    """The one-way ``Canvas`` relation schema pointing at the Canvas data source."""
    return {
        "relation": {
            "data_source_id": canvas_data_source_id,
            "type": "single_property",
            "single_property": {},
        }
    }


def database_body(
    spec: DatabaseSpec, parent_page_id: str, canvas_data_source_id: str | None = None
) -> JSON:
    """The ``POST /v1/databases`` body creating ``spec`` under a page."""
    properties = copy.deepcopy(spec.properties)
    if spec.links_to_canvas:
        if canvas_data_source_id is None:
            raise ValueError(f"{spec.title} links to Canvas: give the Canvas data source id")
        properties[CANVAS_RELATION] = canvas_relation(canvas_data_source_id)
    return {
        "parent": {"type": "page_id", "page_id": parent_page_id},
        "title": [{"type": "text", "text": {"content": spec.title}}],
        "icon": {"type": "emoji", "emoji": spec.icon},
        "is_inline": False,
        "initial_data_source": {"properties": properties},
    }


@dataclass(frozen=True)
class SeededDatabases:
    """Ids of the seeded workspace: a root page and the three databases with their sources."""

    root_page_id: str
    calls_database_id: str
    calls_data_source_id: str
    messages_database_id: str
    messages_data_source_id: str
    canvas_database_id: str
    canvas_data_source_id: str

    def env_lines(self) -> list[str]:
        """The seed's configuration variables (``NAME=value``) pointing at these databases."""
        return [
            f"NOTION_CALLS_DATABASE_ID={self.calls_database_id}",
            f"NOTION_MESSAGES_DATABASE_ID={self.messages_database_id}",
            f"NOTION_CANVAS_DATABASE_ID={self.canvas_database_id}",
        ]


def seed_databases(state: NotionState, root_title: str = "OpenPhone Sync") -> SeededDatabases:
    """Create a root page and the Canvas, Calls and Messages databases in ``state``."""
    root = state.create_page(
        {
            "parent": {"type": "workspace", "workspace": True},
            "properties": {"title": {"title": [{"text": {"content": root_title}}]}},
        }
    )
    canvas = state.create_database(database_body(CANVAS, root["id"]))
    canvas_ds = canvas["data_sources"][0]["id"]
    calls = state.create_database(database_body(CALLS, root["id"], canvas_ds))
    messages = state.create_database(database_body(MESSAGES, root["id"], canvas_ds))
    return SeededDatabases(
        root_page_id=root["id"],
        calls_database_id=calls["id"],
        calls_data_source_id=calls["data_sources"][0]["id"],
        messages_database_id=messages["id"],
        messages_data_source_id=messages["data_sources"][0]["id"],
        canvas_database_id=canvas["id"],
        canvas_data_source_id=canvas_ds,
    )
