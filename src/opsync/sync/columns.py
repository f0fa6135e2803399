"""What a page write sends: the rendered properties under the mapping file's names, minus the
ones the user's database does not have.

Nothing is read from Notion while every write succeeds: with the seed's databases a write
costs what it did before. When Notion rejects a page for a property (``NotionSchemaMismatch``),
:meth:`PageColumns.relearn` reads the data source once; properties it lacks are from then on
left out of every write to it, each with one warning per process, and the write is tried again.
While something is left out, the schema is read again at most every ``recheck_after``
seconds, so a property added in Notion (``opsync notion check --fix``) is written without a
restart. A property with the wrong type is not skipped: its rejection reaches the dead letters
with the reason.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from opsync.clock import Clock
from opsync.errors import NotionSchemaMismatch
from opsync.notion import NotionPort
from opsync.notion.mapping import PropertyMapping, apply_mapping, title_of
from opsync.notion.seed_schema import Kind
from opsync.render import Rendered
from opsync.render.hashing import canonical_json

__all__ = ["PageColumns", "PageContent"]

log = logging.getLogger(__name__)

RECHECK_SECONDS = 600.0
"""How often a schema that lacks a property the mapping wants is read again."""


@dataclass(frozen=True)
class PageContent:
    """One write: properties under their target names, the body, and the hash the ledger
    keeps (the rendering's own hash when nothing was renamed or left out)."""

    properties: dict[str, Any]
    blocks: list[dict[str, Any]]
    content_hash: str


@dataclass
class _Known:
    names: frozenset[str]
    title: str
    learned_at: float
    #: some property the mapping wants is absent, so the schema is worth reading again
    incomplete: bool


@dataclass
class PageColumns:
    """The mapping, and per data source what it has (once Notion gave a reason to look)."""

    mapping: PropertyMapping = field(default_factory=PropertyMapping)
    recheck_after: float = RECHECK_SECONDS
    _known: dict[str, _Known] = field(default_factory=dict, init=False, repr=False)
    _warned: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)

    def title(self, kind: Kind, seed_title: str | None = None) -> str:
        """The title property's name in the user's database."""
        name = seed_title or title_of(kind)
        return self.mapping.target(kind, name) or name

    async def content(
        self, notion: NotionPort, clock: Clock, kind: Kind, data_source_id: str, rendered: Rendered
    ) -> PageContent:
        """What to write for ``rendered``. Raises :class:`NotionSchemaMismatch` when the
        database is known to lack the title property."""
        known = self._known.get(data_source_id)
        stale = known is not None and clock.now() - known.learned_at >= self.recheck_after
        if known is not None and known.incomplete and stale:
            known = await self._learn(notion, clock, kind, data_source_id)
        mapped = apply_mapping(
            rendered.properties, self.mapping, kind, known.names if known else None
        )
        title = self.mapping.title(kind)
        if known is not None and title not in known.names:
            raise NotionSchemaMismatch(_no_title(kind, data_source_id, title, known.title))
        for target in mapped.skipped:
            self._warn(kind, data_source_id, target)
        renamed = any(target != seed for target, seed in mapped.seeds.items())
        if not renamed and len(mapped.properties) == len(rendered.properties):
            digest = rendered.content_hash
        else:  # the names are part of what was written: a new mapping rewrites the page
            names = canonical_json(sorted(mapped.seeds.items()))
            text = f"{rendered.content_hash}\n{names}"
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return PageContent(mapped.properties, rendered.blocks, digest)

    async def relearn(
        self,
        notion: NotionPort,
        clock: Clock,
        kind: Kind,
        data_source_id: str,
        sent: PageContent,
    ) -> bool:
        """After Notion rejected ``sent``: read the schema again; True when the database lacks
        something ``sent`` had (so writing again differs or explains itself)."""
        known = await self._learn(notion, clock, kind, data_source_id)
        return any(name not in known.names for name in sent.properties)

    async def _learn(
        self, notion: NotionPort, clock: Clock, kind: Kind, data_source_id: str
    ) -> _Known:
        schema = await notion.retrieve_data_source(data_source_id)
        names = frozenset(schema.properties)
        wanted = self.mapping.targets(kind).values()
        known = _Known(
            names=names,
            title=schema.title_property,
            learned_at=clock.now(),
            incomplete=any(name not in names for name in wanted),
        )
        self._known[data_source_id] = known
        return known

    def _warn(self, kind: Kind, data_source_id: str, target: str) -> None:
        if (data_source_id, target) in self._warned:
            return
        self._warned.add((data_source_id, target))
        section = "calls" if kind == "call" else "messages"
        log.warning(
            "Notion database lacks property %r: pages are written without it (add it with "
            "'opsync notion check --fix', or switch it off in opsync.toml [%s])",
            target,
            section,
            extra={
                "action": "notion_property_skipped",
                "property": target,
                "data_source_id": data_source_id,
            },
        )


def _no_title(kind: Kind, data_source_id: str, title: str, actual: str) -> str:
    section = "calls" if kind == "call" else "messages"
    return (
        f"the Notion database (data source {data_source_id}) has no title property {title!r}; "
        f"its title is {actual!r}: rename it to {title!r} in Notion, or map it in opsync.toml: "
        f'[{section}] "{title_of(kind)}" = "{actual}", then replay the event from the dead letters'
    )
