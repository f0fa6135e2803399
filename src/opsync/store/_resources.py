"""Store operations on the sync's own records: the Notion page ledger and object snapshots."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from opsync.store._base import StoreBase, to_json
from opsync.store.rows import LedgerEntry, ResourceType, Snapshot
from opsync.store.schema import resource_ledger, resource_snapshots


class ResourceOps(StoreBase):
    """The resource ledger (one Notion page per call or message) and snapshots."""

    async def ledger_get(self, resource_type: ResourceType, resource_id: str) -> LedgerEntry | None:
        """The ledger entry of a call or message, if any."""
        async with self._transaction(write=False) as conn:
            return await _ledger_row(conn, resource_type, resource_id)

    async def ledger_record_intent(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        notion_database_id: str | None = None,
    ) -> LedgerEntry:
        """Record that a page is about to be created and count the attempt; call before the
        create. An entry already ``created`` is left as it is. Returns the entry afterwards,
        so a caller that sees ``state == "created"`` must update, not create."""
        now = self._now()
        t = resource_ledger
        stmt = self._insert(t).values(
            resource_type=resource_type,
            resource_id=resource_id,
            notion_database_id=notion_database_id,
            state="intent",
            attempts=1,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.resource_type, t.c.resource_id],
            set_={
                "state": "intent",
                "attempts": t.c.attempts + 1,
                "notion_database_id": func.coalesce(
                    stmt.excluded.notion_database_id, t.c.notion_database_id
                ),
                "updated_at": now,
            },
            where=t.c.state != "created",
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)
            entry = await _ledger_row(conn, resource_type, resource_id)
        assert entry is not None  # written in this transaction
        return entry

    async def ledger_mark_created(
        self,
        resource_type: ResourceType,
        resource_id: str,
        notion_page_id: str,
        content_hash: str,
        *,
        notion_database_id: str | None = None,
    ) -> None:
        """Record the page a resource now has and the hash of what was written. Creates the
        entry if missing (a page found by lookup). Idempotent."""
        now = self._now()
        t = resource_ledger
        stmt = self._insert(t).values(
            resource_type=resource_type,
            resource_id=resource_id,
            notion_page_id=notion_page_id,
            notion_database_id=notion_database_id,
            content_hash=content_hash,
            state="created",
            attempts=1,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.resource_type, t.c.resource_id],
            set_={
                "notion_page_id": notion_page_id,
                "content_hash": content_hash,
                "state": "created",
                "notion_database_id": func.coalesce(
                    stmt.excluded.notion_database_id, t.c.notion_database_id
                ),
                "updated_at": now,
            },
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)

    async def ledger_set_hash(
        self, resource_type: ResourceType, resource_id: str, content_hash: str
    ) -> bool:
        """Record the hash of what was last written to an existing page; returns whether the
        entry exists."""
        t = resource_ledger
        stmt = (
            update(t)
            .where(t.c.resource_type == resource_type, t.c.resource_id == resource_id)
            .values(content_hash=content_hash, updated_at=self._now())
        )
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    # --- snapshots ------------------------------------------------------------------------------

    async def snapshot_insert(
        self,
        resource_type: str,
        resource_id: str,
        payload: Any,
        *,
        phone_number_id: str | None = None,
    ) -> bool:
        """Store an object as JSON unless one of that kind and id is stored already; returns
        whether it was stored. For writers outside the resource's partition, which must not
        overwrite what its actor stored meanwhile."""
        now = self._now()
        stmt = (
            self._insert(resource_snapshots)
            .values(
                resource_type=resource_type,
                resource_id=resource_id,
                phone_number_id=phone_number_id,
                payload=to_json(payload),
                fetched_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["resource_type", "resource_id"])
        )
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def snapshot_get(self, resource_type: str, resource_id: str) -> Snapshot | None:
        """The last stored object of that kind and id, its JSON payload decoded."""
        t = resource_snapshots
        query = select(t).where(t.c.resource_type == resource_type, t.c.resource_id == resource_id)
        async with self._transaction(write=False) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        fields = dict(row._mapping)
        fields["payload"] = json.loads(fields["payload"])
        return Snapshot(**fields)

    async def snapshot_put(
        self,
        resource_type: str,
        resource_id: str,
        payload: Any,
        *,
        phone_number_id: str | None = None,
        fetched_at: int | None = None,
    ) -> None:
        """Store (insert or replace) an object as JSON; ``fetched_at`` defaults to now.
        A ``None`` phone number keeps the one already known. Idempotent."""
        now = self._now()
        t = resource_snapshots
        encoded = to_json(payload)
        stmt = self._insert(t).values(
            resource_type=resource_type,
            resource_id=resource_id,
            phone_number_id=phone_number_id,
            payload=encoded,
            fetched_at=now if fetched_at is None else fetched_at,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.resource_type, t.c.resource_id],
            set_={
                "payload": encoded,
                "phone_number_id": func.coalesce(
                    stmt.excluded.phone_number_id, t.c.phone_number_id
                ),
                "fetched_at": stmt.excluded.fetched_at,
                "updated_at": now,
            },
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)


async def _ledger_row(
    conn: AsyncConnection, resource_type: str, resource_id: str
) -> LedgerEntry | None:
    t = resource_ledger
    query = select(t).where(t.c.resource_type == resource_type, t.c.resource_id == resource_id)
    row = (await conn.execute(query)).first()
    return None if row is None else LedgerEntry(**row._mapping)
