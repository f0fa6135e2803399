"""Store operations on the seed's analytics tables: phone numbers, sync history, metrics,
and the Canvas cache.

The Canvas cache keeps the seed's ``canvas_cache`` table for what was found (its view
``canvas_cache_stats`` then counts real entries only). A lookup that found no page is kept
apart, in the ``kv`` table under ``canvas:miss:{type}:{key}`` with an expiry: ``canvas_id``
is ``NOT NULL`` in the seed's schema, and a sentinel row there would count in its view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, func, or_, select

from opsync.store._base import StoreBase
from opsync.store._sqlite_direct import execute_many, fetch_one
from opsync.store.rows import MetricType, PhoneNumber, SyncStatus
from opsync.store.schema import canvas_cache, kv, performance_metrics, phone_numbers, sync_history

log = logging.getLogger(__name__)

LookupType = Literal["phone", "email"]
CANVAS_MISS_PREFIX = "canvas:miss:"
HIT_FLUSH_DELAY_S = 0.5
"""How long Canvas cache hit counts wait in memory before being written together."""

_CANVAS_GET_SQL = (
    "SELECT lookup_key, lookup_type, canvas_id, canvas_name, cached_at, hit_count, last_used_at"
    " FROM canvas_cache WHERE lookup_key = ? AND lookup_type = ?"
)
_CANVAS_HITS_SQL = (
    "UPDATE canvas_cache SET hit_count = COALESCE(hit_count, 0) + ?, last_used_at = ?"
    " WHERE lookup_key = ? AND lookup_type = ?"
)
_MISS_GET_SQL = "SELECT 1 FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"


@dataclass(frozen=True)
class CanvasCacheEntry:
    """A row of ``canvas_cache``: the Canvas page found for a normalised phone or email."""

    lookup_key: str
    lookup_type: str
    canvas_id: str
    canvas_name: str | None
    cached_at: int
    hit_count: int
    last_used_at: int


@dataclass(frozen=True)
class CanvasCacheRow:
    """One entry to write with :meth:`AnalyticsOps.canvas_cache_replace`."""

    lookup_type: LookupType
    lookup_key: str
    canvas_id: str
    canvas_name: str | None


class AnalyticsOps(StoreBase):
    """Rows of ``phone_numbers``, ``sync_history`` and ``performance_metrics``."""

    async def upsert_phone_number(
        self, phone_number_id: str, number: str, *, name: str | None = None, active: bool = True
    ) -> PhoneNumber:
        """Insert or update a phone number; ``first_seen_at`` and the totals are kept."""
        now = self._now()
        t = phone_numbers
        stmt = self._insert(t).values(
            id=phone_number_id,
            number=number,
            name=name,
            first_seen_at=now,
            total_calls_synced=0,
            total_messages_synced=0,
            is_active=int(active),
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.id],
            set_={"number": number, "name": name, "is_active": int(active), "updated_at": now},
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)
            row = (await conn.execute(select(t).where(t.c.id == phone_number_id))).one()
        return _phone_number(row._mapping)

    async def get_phone_number(self, phone_number_id: str) -> PhoneNumber | None:
        """A phone number by OpenPhone id (``PN…``)."""
        t = phone_numbers
        async with self._transaction(write=False) as conn:
            row = (await conn.execute(select(t).where(t.c.id == phone_number_id))).first()
        return None if row is None else _phone_number(row._mapping)

    async def record_sync(
        self,
        phone_number_id: str,
        resource_type: str,
        resource_id: str,
        sync_status: SyncStatus,
        *,
        direction: str | None = None,
        notion_page_id: str | None = None,
        canvas_id: str | None = None,
        error_message: str | None = None,
        processing_time_ms: int | None = None,
    ) -> int:
        """Append a ``sync_history`` row stamped now; returns its id. The phone number must
        exist (foreign key)."""
        stmt = (
            sync_history.insert()
            .values(
                phone_number_id=phone_number_id,
                resource_type=resource_type,
                resource_id=resource_id,
                direction=direction,
                notion_page_id=notion_page_id,
                canvas_id=canvas_id,
                sync_status=sync_status,
                error_message=error_message,
                processing_time_ms=processing_time_ms,
                synced_at=self._now(),
            )
            .returning(sync_history.c.id)
        )
        async with self._transaction() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def record_metric(
        self,
        metric_type: MetricType,
        operation: str,
        duration_ms: int,
        *,
        success: bool,
        phone_number_id: str | None = None,
    ) -> int:
        """Append a ``performance_metrics`` row stamped now; returns its id."""
        stmt = (
            performance_metrics.insert()
            .values(
                metric_type=metric_type,
                operation=operation,
                duration_ms=duration_ms,
                success=int(success),
                phone_number_id=phone_number_id,
                timestamp=self._now(),
            )
            .returning(performance_metrics.c.id)
        )
        async with self._transaction() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    # --- Canvas cache -------------------------------------------------------------------------

    async def canvas_cache_get(
        self, lookup_type: LookupType, key: str, *, touch: bool = True
    ) -> CanvasCacheEntry | None:
        """The cached Canvas page for ``key``. With ``touch`` (a cache hit), ``hit_count`` is
        incremented and ``last_used_at`` set to now.

        A hit is a read only: its count is written behind, within :data:`HIT_FLUSH_DELAY_S`,
        many hits in one transaction (an UPDATE per hit cost a commit — milliseconds — on the
        lookup's path). Entries returned by this store include the hits not yet written;
        :meth:`canvas_cache_flush_hits` (and :meth:`close`) write them at once."""
        t = canvas_cache
        if self._direct_reader is not None:
            found = await self._direct_reader.run(
                lambda c: fetch_one(c, _CANVAS_GET_SQL, (key, lookup_type))
            )
        else:
            query = select(t).where(t.c.lookup_key == key, t.c.lookup_type == lookup_type)
            async with self._transaction(write=False) as conn:
                row = (await conn.execute(query)).first()
            found = None if row is None else dict(row._mapping)
        if found is None:
            return None
        if touch:
            count, _ = self._canvas_hits.get((lookup_type, key), (0, 0))
            self._canvas_hits[(lookup_type, key)] = (count + 1, self._now())
            self._schedule_hit_flush()
        count, used = self._canvas_hits.get((lookup_type, key), (0, 0))
        if count:
            found["hit_count"] = (found["hit_count"] or 0) + count
            found["last_used_at"] = max(found["last_used_at"] or 0, used)
        return _canvas_entry(found)

    async def canvas_cache_flush_hits(self) -> int:
        """Write the Canvas cache hits not yet written; returns how many entries changed."""
        pending, self._canvas_hits = self._canvas_hits, {}
        if not pending:
            return 0
        params = [(n, used, key, kind) for (kind, key), (n, used) in pending.items()]
        try:
            if self._direct_writer is not None:
                await self._direct_writer.run(
                    lambda c: execute_many(c, _CANVAS_HITS_SQL, list(params))
                )
            else:
                t = canvas_cache
                stmt = (
                    t.update()
                    .where(t.c.lookup_key == bindparam("k"), t.c.lookup_type == bindparam("ty"))
                    .values(
                        hit_count=func.coalesce(t.c.hit_count, 0) + bindparam("n"),
                        last_used_at=bindparam("used"),
                    )
                )
                rows = [{"n": n, "used": used, "k": k, "ty": ty} for n, used, k, ty in params]
                async with self._transaction() as conn:
                    await conn.execute(stmt, rows)
        except BaseException:
            for (kind, key), (n, used) in pending.items():  # keep them for the next flush
                count, last = self._canvas_hits.get((kind, key), (0, 0))
                self._canvas_hits[(kind, key)] = (count + n, max(last, used))
            raise
        return len(params)

    def _schedule_hit_flush(self) -> None:
        if self._canvas_hit_flush is None or self._canvas_hit_flush.done():
            self._canvas_hit_flush = asyncio.create_task(self._flush_hits_later())

    async def _flush_hits_later(self) -> None:
        await asyncio.sleep(HIT_FLUSH_DELAY_S)
        try:
            await self.canvas_cache_flush_hits()
        except Exception:
            # Counts are analytics: kept in memory for the next flush, never worth a failure.
            log.warning("canvas hit counts not written yet", exc_info=True)

    async def canvas_cache_put(
        self, lookup_type: LookupType, key: str, canvas_id: str, canvas_name: str | None
    ) -> CanvasCacheEntry:
        """Insert or update the entry for ``key`` (``cached_at`` and ``last_used_at`` now;
        ``hit_count`` 1 for a new entry, kept for an existing one) and forget a cached miss."""
        await self.canvas_cache_flush_hits()  # the rows below include every hit
        now = self._now()
        t = canvas_cache
        stmt = self._insert(t).values(
            lookup_key=key,
            lookup_type=lookup_type,
            canvas_id=canvas_id,
            canvas_name=canvas_name,
            cached_at=now,
            hit_count=1,
            last_used_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.lookup_key],
            set_={
                "lookup_type": lookup_type,
                "canvas_id": canvas_id,
                "canvas_name": canvas_name,
                "cached_at": now,
                "last_used_at": now,
            },
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)
            await conn.execute(kv.delete().where(kv.c.key == _miss_key(lookup_type, key)))
            row = (await conn.execute(select(t).where(t.c.lookup_key == key))).one()
        return _canvas_entry(row._mapping)

    async def canvas_cache_delete(self, lookup_type: LookupType, key: str) -> bool:
        """Delete the entry for ``key``; returns whether there was one."""
        await self.canvas_cache_flush_hits()  # the rows below include every hit
        t = canvas_cache
        stmt = t.delete().where(t.c.lookup_key == key, t.c.lookup_type == lookup_type)
        async with self._transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def canvas_cache_clear(self, lookup_type: LookupType | None = None) -> int:
        """Delete every entry (of ``lookup_type`` when given); returns how many."""
        stmt = canvas_cache.delete()
        if lookup_type is not None:
            stmt = stmt.where(canvas_cache.c.lookup_type == lookup_type)
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount

    async def canvas_cache_entries(
        self, lookup_type: LookupType | None = None
    ) -> list[CanvasCacheEntry]:
        """Every entry (of ``lookup_type`` when given), by key."""
        query = select(canvas_cache).order_by(canvas_cache.c.lookup_key)
        if lookup_type is not None:
            query = query.where(canvas_cache.c.lookup_type == lookup_type)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [_canvas_entry(row._mapping) for row in rows]

    async def canvas_cache_replace(self, rows: Iterable[CanvasCacheRow]) -> int:
        """Make the table hold exactly ``rows`` (the first row of a repeated key wins), in one
        transaction: other entries are deleted, kept keys keep their ``hit_count``, every
        cached miss is forgotten. Returns the number of entries."""
        await self.canvas_cache_flush_hits()  # the rows below include every hit
        now = self._now()
        wanted: dict[str, CanvasCacheRow] = {}
        for row in rows:
            wanted.setdefault(row.lookup_key, row)
        t = canvas_cache
        async with self._transaction() as conn:
            existing = set((await conn.execute(select(t.c.lookup_key))).scalars())
            stale = sorted(existing - wanted.keys())
            for start in range(0, len(stale), 500):
                await conn.execute(t.delete().where(t.c.lookup_key.in_(stale[start : start + 500])))
            if wanted:
                stmt = self._insert(t)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[t.c.lookup_key],
                    set_={
                        "lookup_type": stmt.excluded.lookup_type,
                        "canvas_id": stmt.excluded.canvas_id,
                        "canvas_name": stmt.excluded.canvas_name,
                        "cached_at": stmt.excluded.cached_at,
                    },
                )
                values = [
                    {
                        "lookup_key": r.lookup_key,
                        "lookup_type": r.lookup_type,
                        "canvas_id": r.canvas_id,
                        "canvas_name": r.canvas_name,
                        "cached_at": now,
                        "hit_count": 1,
                        "last_used_at": now,
                    }
                    for r in wanted.values()
                ]
                await conn.execute(stmt, values)
            await conn.execute(kv.delete().where(kv.c.key.startswith(CANVAS_MISS_PREFIX)))
        return len(wanted)

    async def canvas_miss_put(self, lookup_type: LookupType, key: str, ttl_seconds: float) -> None:
        """Remember for ``ttl_seconds`` that no Canvas page has ``key``."""
        now = self._now()
        expires_at = now + int(ttl_seconds * 1000)
        stmt = self._insert(kv).values(
            key=_miss_key(lookup_type, key), value=str(now), expires_at=expires_at, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[kv.c.key],
            set_={"value": str(now), "expires_at": expires_at, "updated_at": now},
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)

    async def canvas_miss_get(self, lookup_type: LookupType, key: str) -> bool:
        """Whether a miss for ``key`` is remembered and not yet expired."""
        miss_key, now = _miss_key(lookup_type, key), self._now()
        if self._direct_reader is not None:
            found = await self._direct_reader.run(
                lambda c: fetch_one(c, _MISS_GET_SQL, (miss_key, now))
            )
            return found is not None
        query = select(kv.c.key).where(
            kv.c.key == miss_key, or_(kv.c.expires_at.is_(None), kv.c.expires_at > now)
        )
        async with self._transaction(write=False) as conn:
            return (await conn.execute(query)).first() is not None

    async def canvas_miss_clear(self) -> int:
        """Forget every remembered miss (expired or not); returns how many were live."""
        now = self._now()
        stmt = kv.delete().where(kv.c.key.startswith(CANVAS_MISS_PREFIX)).returning(kv.c.expires_at)
        async with self._transaction() as conn:
            rows = (await conn.execute(stmt)).all()
        return sum(1 for row in rows if row.expires_at is None or row.expires_at > now)


def _miss_key(lookup_type: str, key: str) -> str:
    return f"{CANVAS_MISS_PREFIX}{lookup_type}:{key}"


def _canvas_entry(row: Mapping[Any, Any]) -> CanvasCacheEntry:
    fields = dict(row)
    fields["hit_count"] = fields["hit_count"] or 0
    return CanvasCacheEntry(**fields)


def _phone_number(row: Mapping[Any, Any]) -> PhoneNumber:
    fields = dict(row)
    fields["is_active"] = bool(fields["is_active"])
    fields["total_calls_synced"] = fields["total_calls_synced"] or 0
    fields["total_messages_synced"] = fields["total_messages_synced"] or 0
    return PhoneNumber(**fields)
