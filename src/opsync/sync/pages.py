"""The ledger-guarded page write shared by calls and messages (invariants 2 and 4).

:func:`upsert_page` writes one rendering of a resource to its single Notion page:

* the ledger holds the hash of what was last written: the same hash costs no request at all;
* a page the ledger knows is updated (its properties), and only the body sections that are
  new, or were cut short, are appended (see :mod:`opsync.sync._body`);
* no page yet: the intent is recorded in the ledger before the create. An earlier intent
  whose outcome is unknown is resolved by looking the page up by its title property first,
  and a page found is adopted instead of creating a second one.

Failures propagate: :class:`~opsync.notion.OutcomeUnknown` is transient, and the retry looks
the page up before creating again; a body write that may or may not have landed leaves the
body state marked for verification, and the retry counts the page's children first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from opsync.errors import NotionSchemaMismatch
from opsync.notion import BlocksIncomplete
from opsync.render import Rendered, batched
from opsync.render.text import JSON, MAX_REQUEST_BYTES, payload_size
from opsync.store.rows import ResourceType
from opsync.sync._body import (
    BodyState,
    Section,
    pending_blocks,
    record_written,
    split_sections,
    state_from_children,
)
from opsync.sync.columns import PageContent
from opsync.sync.context import SyncContext

log = logging.getLogger(__name__)

PageAction = Literal["created", "updated", "unchanged", "deferred"]
MIN_CHILDREN_BUDGET = 50_000
"""Send no children with a create whose properties leave less room than this (bytes)."""


@dataclass(frozen=True)
class PageWrite:
    """What :func:`upsert_page` did: ``created`` also covers a page adopted after an unknown
    outcome (it is new: our earlier attempt made it)."""

    action: PageAction
    page_id: str


def _body_key(resource_type: ResourceType) -> str:
    return f"{resource_type}_body"


async def _load_body(ctx: SyncContext, resource_type: ResourceType, resource_id: str) -> BodyState:
    snapshot = await ctx.store.snapshot_get(_body_key(resource_type), resource_id)
    return BodyState() if snapshot is None else BodyState.from_json(snapshot.payload)


async def _save_body(
    ctx: SyncContext, resource_type: ResourceType, resource_id: str, state: BodyState
) -> None:
    await ctx.store.snapshot_put(_body_key(resource_type), resource_id, state.to_json())


async def upsert_page(
    ctx: SyncContext,
    resource_type: ResourceType,
    resource_id: str,
    rendered: Rendered,
    data_source_id: str,
    title_property: str,
    *,
    phone_number_id: str | None = None,
) -> PageWrite:
    """Make the resource's one page show ``rendered``; idempotent.

    ``rendered`` and ``title_property`` use the seed's property names; the mapping file's
    names are applied here (:mod:`opsync.sync.columns`), and a property the database lacks is
    left out (once Notion's rejection showed it) instead of failing the page.

    Raises the Notion port's errors (``OutcomeUnknown`` and ``BlocksIncomplete`` are
    transient: calling again completes the write without a second page or duplicate blocks).
    """
    columns = ctx.columns
    title = columns.title(resource_type, title_property)
    for attempt in range(2):
        content = await columns.content(
            ctx.notion, ctx.clock, resource_type, data_source_id, rendered
        )
        try:
            return await _upsert(
                ctx, resource_type, resource_id, content, data_source_id, title, phone_number_id
            )
        except NotionSchemaMismatch:
            # Rejected before anything was written (a 400): safe to write again, once, without
            # what the database turns out to lack.
            if attempt or not await columns.relearn(
                ctx.notion, ctx.clock, resource_type, data_source_id, content
            ):
                raise
    raise AssertionError("unreachable")


async def _upsert(
    ctx: SyncContext,
    resource_type: ResourceType,
    resource_id: str,
    content: PageContent,
    data_source_id: str,
    title_property: str,
    phone_number_id: str | None,
) -> PageWrite:
    writer = _PageWriter(ctx, resource_type, resource_id, content, phone_number_id)
    entry = await ctx.store.ledger_get(resource_type, resource_id)
    digest = content.content_hash
    if entry is not None and entry.state == "created" and entry.notion_page_id:
        if entry.content_hash == digest:
            return PageWrite("unchanged", entry.notion_page_id)
        await writer.update(entry.notion_page_id)
        return PageWrite("updated", entry.notion_page_id)
    if entry is not None and entry.state == "intent":
        found = await writer.find(data_source_id, title_property)
        if found is not None:
            log.info(
                "page adopted",
                extra={"action": "page_adopted", "resource_id": resource_id, "page_id": found},
            )
            await ctx.store.ledger_mark_created(
                resource_type, resource_id, found, "", notion_database_id=data_source_id
            )
            await writer.update(found, body=BodyState(verify=True))
            return PageWrite("created", found)
    entry = await ctx.store.ledger_record_intent(
        resource_type, resource_id, notion_database_id=data_source_id
    )
    if entry.state == "created" and entry.notion_page_id:  # created meanwhile elsewhere
        await writer.update(entry.notion_page_id)
        return PageWrite("updated", entry.notion_page_id)
    page_id = await writer.create(data_source_id)
    return PageWrite("created", page_id)


class _PageWriter:
    """The Notion requests of one :func:`upsert_page` call, each timed into the metrics."""

    def __init__(
        self,
        ctx: SyncContext,
        resource_type: ResourceType,
        resource_id: str,
        rendered: PageContent,
        phone_number_id: str | None,
    ) -> None:
        self.ctx = ctx
        self.resource_type: ResourceType = resource_type
        self.resource_id = resource_id
        self.rendered = rendered
        self.sections: list[Section] = split_sections(rendered.blocks)
        self.pn = phone_number_id

    async def find(self, data_source_id: str, title_property: str) -> str | None:
        async with self.ctx.metrics.timed("notion_query", "find_pages_by_title", self.pn):
            found = await self.ctx.notion.find_pages_by_title(
                data_source_id, title_property, self.resource_id
            )
        return found[0] if found else None

    async def update(self, page_id: str, body: BodyState | None = None) -> None:
        """Properties, then the body sections still missing, then the hash."""
        ctx = self.ctx
        async with ctx.metrics.timed("notion_query", "update_page", self.pn):
            await ctx.notion.update_page(page_id, self.rendered.properties)
        if self.sections:  # no body to write (a message, a call without artefacts yet)
            state = body or await _load_body(ctx, self.resource_type, self.resource_id)
            await self._write_body(page_id, state)
        await ctx.store.ledger_set_hash(
            self.resource_type, self.resource_id, self.rendered.content_hash
        )

    async def create(self, data_source_id: str) -> str:
        """The page with the first run of its body; then the rest of the body."""
        ctx, properties = self.ctx, self.rendered.properties
        state = BodyState(verify=True)
        pending, _ = pending_blocks(self.sections, BodyState())
        budget = MAX_REQUEST_BYTES - payload_size(properties)
        first: list[tuple[str, JSON]] = []
        if pending and budget >= MIN_CHILDREN_BUDGET:
            run = next(batched((block for _, block in pending), max_bytes=budget))
            first = pending[: len(run)]
        if pending:
            await _save_body(ctx, self.resource_type, self.resource_id, state)
        try:
            async with ctx.metrics.timed("notion_query", "create_page", self.pn):
                page_id = await ctx.notion.create_page(
                    data_source_id, properties, children=[block for _, block in first]
                )
        except BlocksIncomplete as exc:
            await ctx.store.ledger_mark_created(
                self.resource_type,
                self.resource_id,
                exc.parent_id,
                "",
                notion_database_id=data_source_id,
            )
            raise
        await ctx.store.ledger_mark_created(
            self.resource_type,
            self.resource_id,
            page_id,
            "" if pending else self.rendered.content_hash,
            notion_database_id=data_source_id,
        )
        if pending:
            state = BodyState()
            record_written(state, self.sections, first)
            await self._write_body(page_id, state)
            await ctx.store.ledger_set_hash(
                self.resource_type, self.resource_id, self.rendered.content_hash
            )
        return page_id

    async def _write_body(self, page_id: str, state: BodyState) -> None:
        ctx = self.ctx
        if state.verify:
            async with ctx.metrics.timed("notion_query", "list_block_children", self.pn):
                children = await ctx.notion.list_block_children(page_id)
            state = state_from_children(children, self.sections, state)
        pending, changed = pending_blocks(self.sections, state)
        for name in changed:
            log.warning(
                "body section changed after it was written; left as it is",
                extra={"action": "body_section_stale", "resource_id": self.resource_id,
                       "section": name},
            )  # fmt: skip
        if pending:
            state.verify = True
            await _save_body(ctx, self.resource_type, self.resource_id, state)
            done = 0
            for run in batched(block for _, block in pending):
                async with ctx.metrics.timed("notion_query", "append_blocks", self.pn):
                    await ctx.notion.append_blocks(page_id, run)
                record_written(state, self.sections, pending[done : done + len(run)])
                done += len(run)
            state.verify = False
        await _save_body(ctx, self.resource_type, self.resource_id, state)


@dataclass(frozen=True)
class Outcome:
    """The result of reconciling one call or message: what happened to its page, which line
    it belongs to and which Canvas page it links to."""

    resource_type: ResourceType
    resource_id: str
    action: PageAction
    page_id: str | None
    phone_number_id: str | None
    canvas_id: str | None = None
    direction: str | None = None
    #: with action "deferred": when to look again (epoch seconds)
    defer_until: float | None = None

    @property
    def created(self) -> bool:
        """Whether the page is new (counted once in the phone number's totals)."""
        return self.action == "created"
