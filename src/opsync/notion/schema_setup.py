"""``opsync notion setup``: create the Calls and Messages databases (and a starter Canvas) under
a page the integration can see, with the seed's schema under the mapping file's names.

Creating a database is not idempotent: running setup twice makes a second set. A failure
part-way leaves what was already created in :attr:`NotionSetup.created`, so the command can
still print its ``.env`` lines.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from opsync.errors import NotFound
from opsync.notion.adapter import NotionAdapter
from opsync.notion.ids import normalize_id
from opsync.notion.mapping import PropertyMapping
from opsync.notion.seed_schema import (
    CALLS,
    CANVAS,
    MESSAGES,
    DatabaseSpec,
    Kind,
    database_body,
)

__all__ = ["CreatedDatabase", "NotionSetup", "mapped_body"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class CreatedDatabase:
    """A database setup made: its setting, ids and link."""

    name: str
    variable: str
    database_id: str
    data_source_id: str
    url: str | None = None

    def env_line(self) -> str:
        return f"{self.variable}={self.database_id}"


def mapped_body(
    spec: DatabaseSpec,
    kind: Kind | None,
    parent_page_id: str,
    canvas_data_source_id: str | None,
    mapping: PropertyMapping,
) -> JSON:
    """The create-database body of ``spec`` with each property under its mapped name and
    the switched-off ones left out (``kind`` None: no mapping, as for Canvas)."""
    if canvas_data_source_id is None:
        spec = dataclasses.replace(spec, links_to_canvas=False)
    body = database_body(spec, parent_page_id, canvas_data_source_id)
    if kind is None:
        return body
    properties: dict[str, JSON] = body["initial_data_source"]["properties"]
    renamed: dict[str, JSON] = {}
    for seed, schema in properties.items():
        target = mapping.target(kind, seed)
        if target is not None:
            renamed[target] = schema
    body["initial_data_source"]["properties"] = renamed
    return body


@dataclass
class NotionSetup:
    """One run of ``opsync notion setup``."""

    notion: NotionAdapter
    mapping: PropertyMapping = field(default_factory=PropertyMapping)
    created: list[CreatedDatabase] = field(default_factory=list)
    #: the Canvas data source the relations point at (None: created without ``Canvas``)
    canvas_data_source_id: str | None = None

    async def run(
        self, parent: str, *, canvas: bool = False, canvas_database_id: str | None = None
    ) -> list[CreatedDatabase]:
        """Create [Canvas,] Calls and Messages under the page ``parent`` (id or URL).

        With ``canvas`` a starter Canvas database (``Name``, ``Phone``, ``Email``) is created
        first; else the relations point at ``canvas_database_id`` when given, and without
        either the databases have no ``Canvas`` relation. Raises ``InvalidNotionId`` for a bad
        parent, ``NotFound`` when the page is not shared with the integration, and the
        adapter's errors (``OutcomeUnknown``: look in Notion before running again).
        """
        parent_id = normalize_id(parent)
        if canvas:
            made = await self._create(
                "Canvas", "NOTION_CANVAS_DATABASE_ID", CANVAS, None, parent_id
            )
            self.canvas_data_source_id = made.data_source_id
        elif canvas_database_id:
            self.canvas_data_source_id = await self.notion.data_source_id(canvas_database_id)
        await self._create("Calls", "NOTION_CALLS_DATABASE_ID", CALLS, "call", parent_id)
        await self._create(
            "Messages", "NOTION_MESSAGES_DATABASE_ID", MESSAGES, "message", parent_id
        )
        return self.created

    async def _create(
        self, name: str, variable: str, spec: DatabaseSpec, kind: Kind | None, parent_id: str
    ) -> CreatedDatabase:
        body = mapped_body(spec, kind, parent_id, self.canvas_data_source_id, self.mapping)
        try:
            database = await self.notion.create_database(body)
        except NotFound as exc:
            raise NotFound(
                f"Notion page {parent_id} was not found, or is not shared with the integration: "
                "open the page in Notion, ••• → Connections → add your integration, then run "
                "setup again"
            ) from exc
        sources = database.get("data_sources") or [{}]
        made = CreatedDatabase(
            name=name,
            variable=variable,
            database_id=normalize_id(str(database["id"])),
            data_source_id=normalize_id(str(sources[0]["id"])),
            url=database.get("url") if isinstance(database.get("url"), str) else None,
        )
        self.created.append(made)
        return made
