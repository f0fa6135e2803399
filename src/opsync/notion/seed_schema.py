"""The seed system's Notion schema: the Calls, Messages and Canvas databases (pure data).

The schemas are in the request form of ``POST /v1/databases`` (API 2025-09-03), so the same
definitions create the databases in real Notion (``opsync notion setup``), add a missing
property (``opsync notion check --fix``) and seed the simulator. Only the ``Canvas`` relation
needs a runtime value: the Canvas data source id (:func:`canvas_relation`).

Select options carry colours so a new database reads at a glance (green for what went well,
red for what did not); the seed named the options but not their colours.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CALLS",
    "CALLS_PROPERTIES",
    "CALL_DIRECTIONS",
    "CALL_STATUSES",
    "CANVAS",
    "CANVAS_PROPERTIES",
    "CANVAS_RELATION",
    "MESSAGES",
    "MESSAGES_PROPERTIES",
    "MESSAGE_STATUSES",
    "TRANSCRIPT_STATUSES",
    "DatabaseSpec",
    "canvas_relation",
    "database_body",
    "schema_type",
    "seed_schema",
    "spec_for",
]

JSON = dict[str, Any]
Kind = Literal["call", "message"]

CALL_DIRECTIONS = ["incoming", "outgoing"]
CALL_STATUSES = [
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
    "canceled", "missed", "answered", "forwarded", "abandoned",
]  # fmt: skip
TRANSCRIPT_STATUSES = ["absent", "in-progress", "completed", "failed"]
MESSAGE_STATUSES = ["queued", "sent", "delivered", "undelivered"]
CANVAS_RELATION = "Canvas"

_COLOURS: dict[str, str] = {
    "incoming": "blue", "outgoing": "purple",
    "queued": "gray", "initiated": "gray", "ringing": "yellow", "in-progress": "yellow",
    "completed": "green", "answered": "green", "sent": "blue", "delivered": "green",
    "busy": "orange", "no-answer": "orange", "canceled": "brown", "abandoned": "brown",
    "forwarded": "purple", "missed": "red", "failed": "red", "undelivered": "red",
    "absent": "default",
}  # fmt: skip


def _select(names: list[str]) -> JSON:
    options = [{"name": name, "color": _COLOURS.get(name, "default")} for name in names]
    return {"select": {"options": options}}


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


def spec_for(kind: Kind) -> DatabaseSpec:
    """The database a call or a message is written to."""
    return CALLS if kind == "call" else MESSAGES


def canvas_relation(canvas_data_source_id: str) -> JSON:
    """The one-way ``Canvas`` relation schema pointing at the Canvas data source."""
    return {
        "relation": {
            "data_source_id": canvas_data_source_id,
            "type": "single_property",
            "single_property": {},
        }
    }


def seed_schema(spec: DatabaseSpec, canvas_data_source_id: str | None = None) -> dict[str, JSON]:
    """Every property of ``spec`` (a copy), with the ``Canvas`` relation when it links to
    Canvas and the Canvas data source id is given."""
    properties = copy.deepcopy(spec.properties)
    if spec.links_to_canvas and canvas_data_source_id is not None:
        properties[CANVAS_RELATION] = canvas_relation(canvas_data_source_id)
    return properties


def schema_type(schema: JSON) -> str:
    """The property type of a schema object (``{"number": {...}}`` → ``number``)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    kinds = [key for key in schema if key not in ("id", "name", "description")]
    if len(kinds) != 1:
        raise ValueError(f"not a property schema: {sorted(schema)}")
    return kinds[0]


def database_body(
    spec: DatabaseSpec, parent_page_id: str, canvas_data_source_id: str | None = None
) -> JSON:
    """The ``POST /v1/databases`` body creating ``spec`` under a page.

    Raises ValueError when ``spec`` links to Canvas and no Canvas data source id is given
    (pass ``dataclasses.replace(spec, links_to_canvas=False)`` to create it without).
    """
    if spec.links_to_canvas and canvas_data_source_id is None:
        raise ValueError(f"{spec.title} links to Canvas: give the Canvas data source id")
    return {
        "parent": {"type": "page_id", "page_id": parent_page_id},
        "title": [{"type": "text", "text": {"content": spec.title}}],
        "icon": {"type": "emoji", "emoji": spec.icon},
        "is_inline": False,
        "initial_data_source": {"properties": seed_schema(spec, canvas_data_source_id)},
    }
