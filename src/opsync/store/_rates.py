"""Store operations of the deployment-wide request pacer (:mod:`opsync.pacing_shared`).

A bucket is one row: its GCRA "theoretical arrival time" (``tat``, Unix seconds). Reserving a
request slot is one atomic ``UPDATE … RETURNING``, so processes on any number of machines
sharing the database share the rate without a lock held across a round trip.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func

from opsync.store._base import StoreBase
from opsync.store.schema import rate_buckets


class RateOps(StoreBase):
    """Slots of the shared token buckets."""

    async def rate_reserve(self, name: str, now: float, interval: float) -> float:
        """Reserve the next request slot of bucket ``name`` for a request arriving at ``now``
        (seconds): ``tat`` becomes ``max(tat, now) + interval``; returns the new ``tat``."""
        t = rate_buckets
        await self._ensure_bucket(name, now)
        stmt = (
            t.update()
            .where(t.c.name == name)
            .values(tat=self._greatest(t.c.tat, now) + interval)
            .returning(t.c.tat)
        )
        async with self._transaction() as conn:
            return float((await conn.execute(stmt)).scalar_one())

    async def rate_hold(self, name: str, until: float) -> None:
        """Move bucket ``name``'s ``tat`` to at least ``until`` (a 429's Retry-After for every
        process sharing the bucket)."""
        t = rate_buckets
        await self._ensure_bucket(name, until)
        stmt = t.update().where(t.c.name == name).values(tat=self._greatest(t.c.tat, until))
        async with self._transaction() as conn:
            await conn.execute(stmt)

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        # SQLite's two-argument max() is PostgreSQL's greatest().
        if self.dialect == "postgresql":
            return func.greatest(column, value)
        return func.max(column, value)

    async def _ensure_bucket(self, name: str, now: float) -> None:
        known: set[str] = self.__dict__.setdefault("_rate_buckets_known", set())
        if name in known:
            return
        stmt = self._insert(rate_buckets).values(name=name, tat=now)
        stmt = stmt.on_conflict_do_nothing(index_elements=[rate_buckets.c.name])
        async with self._transaction() as conn:
            await conn.execute(stmt)
        known.add(name)
