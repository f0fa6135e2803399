"""The seed system's Notion workspace in the simulator: a root page and the Canvas, Calls and
Messages databases (:func:`seed_databases`).

The schema itself is product data and lives in :mod:`opsync.notion.seed_schema` (``opsync
notion setup`` creates the same databases in real Notion); its names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsync.notion.seed_schema import (
    CALL_DIRECTIONS,
    CALL_STATUSES,
    CALLS,
    CALLS_PROPERTIES,
    CANVAS,
    CANVAS_PROPERTIES,
    CANVAS_RELATION,
    MESSAGE_STATUSES,
    MESSAGES,
    MESSAGES_PROPERTIES,
    TRANSCRIPT_STATUSES,
    DatabaseSpec,
    canvas_relation,
    database_body,
)
from opsync.sandbox.notion.state import NotionState

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
    "SeededDatabases",
    "canvas_relation",
    "database_body",
    "seed_databases",
]


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
