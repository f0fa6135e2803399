"""Store queries of the incremental sync: enqueue a sync job unless one is already waiting for
its phone number, and page through a number's recent call snapshots.

Module functions over any :class:`StoreBase` (so they work with the :class:`Store` as it is);
:class:`SyncQueryOps` offers them as methods for when it joins the Store's bases.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, literal, select, text

from opsync.store._base import StoreBase, to_json
from opsync.store.rows import InboxSource
from opsync.store.schema import inbox, resource_snapshots

_PG_PARTITION_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(partition_key: str) -> int:
    # A stable 31-bit key per partition (pg_advisory_xact_lock takes a bigint).
    return zlib.crc32(f"sync-enqueue:{partition_key}".encode()) & 0x7FFFFFFF


async def enqueue_unless_waiting(
    store: StoreBase,
    event_id: str,
    event_type: str,
    partition_key: str,
    payload: Mapping[str, Any],
    *,
    source: InboxSource,
) -> bool:
    """Add an event of ``event_type`` for ``partition_key``, due now, unless one of that type
    is already waiting (``pending``) in the partition or ``event_id`` is known. Returns
    whether it was added. Check and insert are one transaction (SQLite's write lock, or a
    per-partition advisory lock on PostgreSQL), so concurrent callers add at most one."""
    now = store._now()
    encoded = to_json(dict(payload))
    waiting = select(inbox.c.id).where(
        inbox.c.event_type == event_type,
        inbox.c.partition_key == partition_key,
        inbox.c.state == "pending",
    )
    values = select(
        literal(event_id),
        literal(event_type),
        literal(source),
        literal(partition_key),
        literal(encoded),
        literal("pending"),
        literal(0),
        literal(now),
        literal(now),
        literal(now),
    ).where(~waiting.exists())
    columns = [
        inbox.c.event_id,
        inbox.c.event_type,
        inbox.c.source,
        inbox.c.partition_key,
        inbox.c.payload,
        inbox.c.state,
        inbox.c.attempts,
        inbox.c.next_attempt_at,
        inbox.c.received_at,
        inbox.c.updated_at,
    ]
    stmt = (
        store._insert(inbox)
        .from_select(columns, values)
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.id)
    )
    async with store._transaction() as conn:
        if store.dialect == "postgresql":
            await conn.execute(_PG_PARTITION_LOCK, {"key": _lock_key(partition_key)})
        return (await conn.execute(stmt)).first() is not None


async def waiting_event(
    store: StoreBase, event_type: str, partition_key: str
) -> tuple[str, str] | None:
    """(event id, payload) of the oldest event of ``event_type`` waiting (``pending``) in the
    partition, if any."""
    query = (
        select(inbox.c.event_id, inbox.c.payload)
        .where(
            inbox.c.event_type == event_type,
            inbox.c.partition_key == partition_key,
            inbox.c.state == "pending",
        )
        .order_by(inbox.c.id)
        .limit(1)
    )
    async with store._transaction(write=False) as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else (str(row.event_id), str(row.payload))


async def call_snapshots_page(
    store: StoreBase,
    phone_number_id: str,
    *,
    updated_from_ms: int,
    updated_before_ms: int,
    after_id: str = "",
    limit: int = 100,
) -> list[tuple[str, Any]]:
    """Up to ``limit`` (call id, decoded snapshot) of the number's call snapshots written in
    ``[updated_from_ms, updated_before_ms)``, by call id after ``after_id`` (keyset paging:
    pass the last id of a page to get the next; an empty page ends)."""
    t = resource_snapshots
    query = (
        select(t.c.resource_id, t.c.payload)
        .where(
            and_(
                t.c.resource_type == "call",
                t.c.phone_number_id == phone_number_id,
                t.c.updated_at >= updated_from_ms,
                t.c.updated_at < updated_before_ms,
                t.c.resource_id > after_id,
            )
        )
        .order_by(t.c.resource_id)
        .limit(limit)
    )
    async with store._transaction(write=False) as conn:
        rows = (await conn.execute(query)).all()
    return [(str(row.resource_id), json.loads(row.payload)) for row in rows]


class SyncQueryOps(StoreBase):
    """The queries above as Store methods."""

    async def inbox_enqueue_unless_waiting(
        self,
        event_id: str,
        event_type: str,
        partition_key: str,
        payload: Mapping[str, Any],
        *,
        source: InboxSource,
    ) -> bool:
        """See :func:`enqueue_unless_waiting`."""
        return await enqueue_unless_waiting(
            self, event_id, event_type, partition_key, payload, source=source
        )

    async def inbox_waiting_event(
        self, event_type: str, partition_key: str
    ) -> tuple[str, str] | None:
        """See :func:`waiting_event`."""
        return await waiting_event(self, event_type, partition_key)

    async def call_snapshots_page(
        self,
        phone_number_id: str,
        *,
        updated_from_ms: int,
        updated_before_ms: int,
        after_id: str = "",
        limit: int = 100,
    ) -> list[tuple[str, Any]]:
        """See :func:`call_snapshots_page`."""
        return await call_snapshots_page(
            self,
            phone_number_id,
            updated_from_ms=updated_from_ms,
            updated_before_ms=updated_before_ms,
            after_id=after_id,
            limit=limit,
        )
