"""Store operations of the contact timeline's index (``timeline_entries``, ``timeline_parties``).

The index is derived data (see :mod:`opsync.timeline`): every call and message snapshot gets
one entry (when it happened, the other party, the Canvas page its Notion page links to) and
one party row per number of another party. A read catches the index up first — snapshots
not yet indexed, and Canvas links recorded in ``sync_history`` since the last catch-up — and
then pages through it newest first with a keyset cursor, joining the snapshot (what the call
or message was) and the ledger (its Notion page).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, tuple_

from opsync.store._base import StoreBase
from opsync.store.schema import (
    canvas_cache,
    kv,
    phone_numbers,
    resource_ledger,
    resource_snapshots,
    sync_history,
    timeline_entries,
    timeline_parties,
)

TIMELINE_TYPES = ("call", "message")
"""The snapshot kinds the timeline shows."""
REFRESHED_KEY = "timeline:refreshed_at"
"""``kv`` key: the store time (epoch ms) at which the last catch-up began."""

TimelineKey = tuple[int, str, str]
"""A position in a timeline: (occurred_at ms, resource type, resource id), newest first."""


@dataclass(frozen=True)
class UnindexedSnapshot:
    """A call or message snapshot the timeline index does not have yet."""

    resource_type: str
    resource_id: str
    phone_number_id: str | None
    payload: Any
    updated_at: int


@dataclass(frozen=True)
class TimelineEntry:
    """What the index keeps of one call or message; ``parties`` are E.164 numbers."""

    resource_type: str
    resource_id: str
    phone_number_id: str | None
    occurred_at: int
    counterparty: str | None
    parties: tuple[str, ...]


@dataclass(frozen=True)
class TimelineRow:
    """One item of a timeline page: the index entry, the snapshot payload (decoded) and the
    Notion page id from the ledger (``None`` until the page exists)."""

    resource_type: str
    resource_id: str
    occurred_at: int
    phone_number_id: str | None
    counterparty: str | None
    canvas_id: str | None
    payload: Any
    notion_page_id: str | None

    @property
    def key(self) -> TimelineKey:
        return (self.occurred_at, self.resource_type, self.resource_id)


class TimelineOps(StoreBase):
    """The timeline index: catch-up writes and newest-first pages."""

    async def timeline_refresh_begin(self) -> tuple[int | None, int]:
        """When the last catch-up began (``None``: never) and the store's time now."""
        query = select(kv.c.value).where(kv.c.key == REFRESHED_KEY)
        async with self._transaction(write=False) as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return (None if value is None else int(value)), self._now()

    async def timeline_refresh_end(self, started_ms: int) -> None:
        """Record that a catch-up which began at ``started_ms`` is complete (a later one
        already recorded is kept)."""
        now = self._now()
        stmt = self._insert(kv).values(
            key=REFRESHED_KEY, value=str(started_ms), expires_at=None, updated_at=now
        )
        async with self._transaction() as conn:
            current = (
                await conn.execute(select(kv.c.value).where(kv.c.key == REFRESHED_KEY))
            ).scalar_one_or_none()
            if current is not None and int(current) >= started_ms:
                return
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[kv.c.key], set_={"value": str(started_ms), "updated_at": now}
                )
            )

    async def timeline_own_numbers(self) -> list[str]:
        """The workspace's own numbers as stored (``phone_numbers.number``), any spelling."""
        async with self._transaction(write=False) as conn:
            return [str(n) for n in (await conn.execute(select(phone_numbers.c.number))).scalars()]

    async def timeline_unindexed(
        self, resource_type: str, since_ms: int, after: tuple[int, str] | None, limit: int
    ) -> list[UnindexedSnapshot]:
        """Snapshots of ``resource_type`` written at or after ``since_ms`` that have no index
        entry, oldest write first, after the ``(updated_at, id)`` position ``after``. The
        order is the index ``(resource_type, updated_at, resource_id)``'s: no sort."""
        s, e = resource_snapshots, timeline_entries
        indexed = exists().where(
            e.c.resource_type == s.c.resource_type, e.c.resource_id == s.c.resource_id
        )
        query = (
            select(s.c.resource_id, s.c.phone_number_id, s.c.payload, s.c.updated_at)
            .where(s.c.resource_type == resource_type, s.c.updated_at >= since_ms, ~indexed)
            .order_by(s.c.updated_at, s.c.resource_id)
            .limit(limit)
        )
        if after is not None:
            at, rid = after
            query = query.where(
                s.c.updated_at >= at, or_(s.c.updated_at > at, s.c.resource_id > rid)
            )
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [
            UnindexedSnapshot(resource_type, r[0], r[1], json.loads(r[2]), int(r[3])) for r in rows
        ]

    async def timeline_index(self, entries: Sequence[TimelineEntry]) -> None:
        """Add entries (and their parties) to the index, without their Canvas link (see
        :meth:`timeline_link_canvases`). An entry already indexed is left as it is.
        Idempotent."""
        if not entries:
            return
        now = self._now()
        e, p = timeline_entries, timeline_parties
        rows = [
            {
                "resource_type": x.resource_type,
                "resource_id": x.resource_id,
                "phone_number_id": x.phone_number_id,
                "occurred_at": x.occurred_at,
                "counterparty": x.counterparty,
                "canvas_id": None,
                "indexed_at": now,
            }
            for x in entries
        ]
        parties = [
            {
                "party": party,
                "resource_type": x.resource_type,
                "resource_id": x.resource_id,
                "occurred_at": x.occurred_at,
            }
            for x in entries
            for party in x.parties
        ]
        async with self._transaction() as conn:
            await conn.execute(self._insert(e).on_conflict_do_nothing(), rows)
            if parties:
                await conn.execute(self._insert(p).on_conflict_do_nothing(), parties)

    async def timeline_link_canvases(self, since_ms: int) -> int:
        """Bring the Canvas link of every entry synced at or after ``since_ms`` up to date
        (the last ``success`` or ``skipped`` row of ``sync_history``); returns how many
        entries changed."""
        h, e = sync_history, timeline_entries
        recent = select(h.c.resource_type, h.c.resource_id).where(h.c.synced_at >= since_ms)
        async with self._transaction() as conn:
            result = await conn.execute(
                _link_canvas(tuple_(e.c.resource_type, e.c.resource_id).in_(recent))
            )
            return int(result.rowcount)

    async def timeline_page(
        self,
        *,
        party: str | None = None,
        canvas_id: str | None = None,
        before: TimelineKey | None = None,
        limit: int,
    ) -> list[TimelineRow]:
        """Up to ``limit`` items with that other party's number (E.164) or linked to that
        Canvas page (give one), newest first, strictly older than the position ``before``."""
        if (party is None) == (canvas_id is None):
            raise ValueError("give either a party or a canvas_id")
        e, p = timeline_entries, timeline_parties
        if party is not None:
            order = (p.c.occurred_at, p.c.resource_type, p.c.resource_id)
            query = _page_columns().select_from(
                p.join(
                    e,
                    and_(e.c.resource_type == p.c.resource_type,
                         e.c.resource_id == p.c.resource_id),
                )
            )  # fmt: skip
            query = query.where(p.c.party == party)
        else:
            order = (e.c.occurred_at, e.c.resource_type, e.c.resource_id)
            query = _page_columns().select_from(e).where(e.c.canvas_id == canvas_id)
        query = _with_details(query)
        if before is not None:
            query = query.where(_older_than(order, before))
        query = query.order_by(*(column.desc() for column in order)).limit(limit)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [
            TimelineRow(
                resource_type=r.resource_type,
                resource_id=r.resource_id,
                occurred_at=int(r.occurred_at),
                phone_number_id=r.phone_number_id,
                counterparty=r.counterparty,
                canvas_id=r.canvas_id,
                payload=None if r.payload is None else json.loads(r.payload),
                notion_page_id=r.notion_page_id,
            )
            for r in rows
        ]

    async def timeline_canvas_known(self, canvas_id: str) -> bool:
        """Whether the Canvas lookup has ever found this page (a ``canvas_cache`` entry)."""
        query = select(canvas_cache.c.lookup_key).where(canvas_cache.c.canvas_id == canvas_id)
        async with self._transaction(write=False) as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def timeline_canvas_phones(self, canvas_id: str) -> list[str]:
        """The phone keys the Canvas cache maps to this page, sorted."""
        c = canvas_cache
        query = (
            select(c.c.lookup_key)
            .where(c.c.canvas_id == canvas_id, c.c.lookup_type == "phone")
            .order_by(c.c.lookup_key)
        )
        async with self._transaction(write=False) as conn:
            return [str(k) for k in (await conn.execute(query)).scalars()]


def _page_columns() -> Select[Any]:
    e, s, ledger = timeline_entries, resource_snapshots, resource_ledger
    return select(
        e.c.resource_type,
        e.c.resource_id,
        e.c.occurred_at,
        e.c.phone_number_id,
        e.c.counterparty,
        e.c.canvas_id,
        s.c.payload,
        ledger.c.notion_page_id,
    )


def _with_details(query: Select[Any]) -> Select[Any]:
    """Join the snapshot and the ledger entry of each index entry."""
    e, s, ledger = timeline_entries, resource_snapshots, resource_ledger
    return query.outerjoin(
        s, and_(s.c.resource_type == e.c.resource_type, s.c.resource_id == e.c.resource_id)
    ).outerjoin(
        ledger,
        and_(ledger.c.resource_type == e.c.resource_type, ledger.c.resource_id == e.c.resource_id),
    )


def _older_than(order: tuple[Any, Any, Any], before: TimelineKey) -> ColumnElement[bool]:
    """``(at, type, id) < before``, spelled so that both databases range-scan the index on
    its first column (a row-value or bare OR comparison may not use it)."""
    at, kind, rid = order
    b_at, b_kind, b_id = before
    return and_(
        at <= b_at,
        or_(
            at < b_at,
            and_(kind <= b_kind, or_(kind < b_kind, rid < b_id)),
        ),
    )


def _link_canvas(which: ColumnElement[bool]) -> Any:
    """UPDATE the Canvas link of the entries ``which`` selects from their last successful
    sync_history row, where it differs."""
    h, e = sync_history, timeline_entries
    latest = (
        select(h.c.canvas_id)
        .where(
            h.c.resource_type == e.c.resource_type,
            h.c.resource_id == e.c.resource_id,
            h.c.sync_status.in_(("success", "skipped")),
        )
        .order_by(h.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return e.update().where(which, e.c.canvas_id.is_distinct_from(latest)).values(canvas_id=latest)
