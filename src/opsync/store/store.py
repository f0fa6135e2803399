"""The :class:`Store`: every query opsync runs, as named async operations.

SQLite and PostgreSQL share each query; where a dialect differs, the branch sits in the
operation it affects. Each operation is one transaction. Connection and locking failures raise
:class:`~opsync.errors.StoreUnavailable` (mapped once, in ``StoreBase._transaction``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError

from opsync.clock import Clock
from opsync.store import migrations
from opsync.store._analytics import AnalyticsOps
from opsync.store._base import to_json
from opsync.store._engine import (
    QueryError,
    create_engine,
    is_unavailable,
    query_error,
    split_statements,
)
from opsync.store._inbox import InboxOps
from opsync.store._phone_state import PhoneStateOps
from opsync.store._rates import RateOps
from opsync.store._resources import ResourceOps
from opsync.store._schedule import ScheduleOps
from opsync.store._sqlite_direct import insert_inbox
from opsync.store._sync_queries import SyncQueryOps
from opsync.store._timeline import TimelineOps
from opsync.store._webhooks import WebhookKeyOps
from opsync.store.migrations import AppliedMigration
from opsync.store.rows import InboxSource, InboxState, NewEvent, QueryResult
from opsync.store.schema import inbox, kv, resource_snapshots

_TERMINAL_STATES = frozenset({"done", "dead", "ignored"})


class Store(
    InboxOps,
    ResourceOps,
    AnalyticsOps,
    PhoneStateOps,
    ScheduleOps,
    SyncQueryOps,
    WebhookKeyOps,
    TimelineOps,
    RateOps,
):
    """The SQL store. Build with :meth:`open`; close with :meth:`close` (or ``async with``)."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        migrate: bool = True,
        pg_schema: str | None = None,
    ) -> Store:
        """Connect to ``url`` (``sqlite:///path`` or ``postgresql://…``) and, unless told
        otherwise, apply pending migrations. ``pg_schema`` sets PostgreSQL's search path.

        Raises ``StoreUnavailable`` if the database cannot be reached, ``DatabaseURLInvalid``
        for an unsupported URL."""
        store = cls(create_engine(url, pg_schema=pg_schema), clock=clock)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await store.close()
                raise
        return store

    async def close(self) -> None:
        """Close every pooled connection. Idempotent."""
        await self.canvas_cache_flush_hits()
        await self._close_direct()
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- migrations and ad-hoc SQL ----------------------------------------------------------

    async def migrate(self) -> list[AppliedMigration]:
        """Apply pending migrations; returns those applied now (empty when up to date).
        Idempotent and safe to run from several processes at once."""
        async with self._transaction() as conn:
            return await migrations.apply_pending(conn, now_ms=self._now())

    async def applied_migrations(self) -> list[AppliedMigration]:
        """The versions recorded in ``schema_migrations``, oldest first."""
        async with self._transaction() as conn:
            return await migrations.applied_migrations(conn)

    async def execute_query(self, sql: str) -> QueryResult:
        """Run ad-hoc SQL (one or more ``;``-terminated statements, in one transaction) and
        return the last result that has rows. Not idempotent if the SQL writes.

        Raises ``QueryError`` with a one-line message for bad SQL."""
        statements = split_statements(sql)
        if not statements:
            raise QueryError("no SQL statement given")
        await self.canvas_cache_flush_hits()  # the seed's views count the hits
        result = QueryResult([], [])
        async with self._transaction(write=False) as conn:
            for statement in statements:
                try:
                    cursor = await conn.exec_driver_sql(statement)
                except DBAPIError as exc:
                    if is_unavailable(exc):
                        raise
                    raise query_error(exc) from exc
                if cursor.returns_rows:
                    result = QueryResult(list(cursor.keys()), [tuple(r) for r in cursor.all()])
        return result

    # --- key-value ----------------------------------------------------------------------------

    async def kv_get(self, key: str) -> str | None:
        """The value of ``key``, or ``None`` if absent or expired."""
        query = select(kv.c.value).where(
            kv.c.key == key, or_(kv.c.expires_at.is_(None), kv.c.expires_at > self._now())
        )
        async with self._transaction(write=False) as conn:
            value: str | None = (await conn.execute(query)).scalar_one_or_none()
        return value

    async def kv_set(self, key: str, value: str, *, ttl_seconds: float | None = None) -> None:
        """Set ``key``, expiring after ``ttl_seconds`` (never when ``None``). Idempotent."""
        now = self._now()
        expires_at = None if ttl_seconds is None else now + int(ttl_seconds * 1000)
        stmt = self._insert(kv).values(key=key, value=value, expires_at=expires_at, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[kv.c.key],
            set_={"value": value, "expires_at": expires_at, "updated_at": now},
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)

    async def kv_delete(self, key: str) -> bool:
        """Delete ``key``; returns whether a live (unexpired) value was there."""
        stmt = kv.delete().where(kv.c.key == key).returning(kv.c.expires_at)
        async with self._transaction() as conn:
            row = (await conn.execute(stmt)).first()
        return row is not None and (row.expires_at is None or row.expires_at > self._now())

    async def kv_purge_expired(self) -> int:
        """Delete expired keys; returns how many."""
        stmt = kv.delete().where(kv.c.expires_at <= self._now())
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount

    # --- inbox ----------------------------------------------------------------------------------

    async def inbox_enqueue(
        self,
        event_id: str,
        event_type: str,
        partition_key: str | None,
        payload: str | Mapping[str, Any],
        *,
        source: InboxSource = "webhook",
        state: InboxState = "pending",
    ) -> bool:
        """Durably add an event, due now; returns ``False`` if ``event_id`` is already known
        (nothing is changed then). A ``str`` payload is kept as is (the raw body)."""
        item = NewEvent(event_id, event_type, partition_key, payload, source, state)
        return (await self.inbox_enqueue_many([item]))[0]

    async def _inbox_insert(
        self, rows: list[dict[str, Any]], lookup_calls: list[str | None]
    ) -> set[str]:
        """The portable form of :func:`_sqlite_direct.insert_inbox`, through SQLAlchemy."""
        wanted = {
            call
            for row, call in zip(rows, lookup_calls, strict=True)
            if call is not None and row["partition_key"] is None
        }
        t = resource_snapshots
        # executemany form (not .values(rows)): one cached compiled statement whatever the
        # batch size; SQLAlchemy sends it as multi-row INSERTs with RETURNING on both dialects.
        stmt = (
            self._insert(inbox)
            .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
            .returning(inbox.c.event_id)
        )
        async with self._transaction() as conn:
            if wanted:
                query = select(t.c.resource_id, t.c.phone_number_id).where(
                    t.c.resource_type == "call",
                    t.c.resource_id.in_(sorted(wanted)),
                    t.c.phone_number_id.is_not(None),
                )
                partitions = {row[0]: row[1] for row in await conn.execute(query)}
                for row, call in zip(rows, lookup_calls, strict=True):
                    if row["partition_key"] is None and call is not None:
                        row["partition_key"] = partitions.get(call)
            return {row[0] for row in await conn.execute(stmt, rows)}

    async def inbox_enqueue_many(self, items: Sequence[NewEvent]) -> list[bool]:
        """Durably add several events in ONE transaction (group commit); for each item, in
        order, whether it was new. An id known before, or repeated earlier in ``items``, is
        not new (nothing is changed for it)."""
        if not items:
            return []
        now = self._now()
        rows = [
            {
                "event_id": item.event_id,
                "event_type": item.event_type,
                "source": item.source,
                "partition_key": item.partition_key,
                "payload": item.payload if isinstance(item.payload, str) else to_json(item.payload),
                "state": item.state,
                "attempts": 0,
                "next_attempt_at": now,
                "received_at": now,
                "updated_at": now,
                "completed_at": now if item.state in _TERMINAL_STATES else None,
            }
            for item in items
        ]
        lookups = [item.partition_call_id for item in items]
        if self._direct_writer is not None:
            inserted = await self._direct_writer.run(lambda c: insert_inbox(c, rows, lookups))
        else:
            inserted = await self._inbox_insert(rows, lookups)
        result: list[bool] = []
        for item in items:
            result.append(item.event_id in inserted)
            inserted.discard(item.event_id)  # a repeat later in the batch is a duplicate
        return result
