"""Store operations of the scheduler: a deployment-wide lease per cron period, and the record
of what ran (rows of ``kv``, so no table of its own).

Keys, for a schedule ``name`` (``"sync"``):

- ``scheduler:{name}:claim:{period_ms}`` — the claim of one period (arq's ``name:timestamp``
  cron id). Its value is ``claimed:{owner}`` while the owner works, with ``expires_at`` as the
  lease; ``done:{owner}`` once the firing completed (kept :data:`DONE_RETENTION_S`, then
  purgeable). An expired ``claimed:`` row can be claimed again (its owner died), a ``done:``
  row never.
- ``scheduler:{name}:last`` — the start of the latest completed period, epoch ms; only grows.
- ``scheduler:{name}:ran:{phone_number_id}`` — when the latest completed firing queued a sync
  job for that number, epoch ms (what ``GET /metrics`` reports).

A claim is one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` (atomic on both dialects: SQLite runs
it under ``BEGIN IMMEDIATE``; PostgreSQL re-checks the ``WHERE`` against the committed row after
waiting for a concurrent inserter), so of N instances claiming one period exactly one wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BigInteger, and_, cast, select, update

from opsync.store._base import StoreBase
from opsync.store.schema import kv

DONE_RETENTION_S = 7 * 86400
_CLAIMED = "claimed:"
_DONE = "done:"


def _claim_key(name: str, period_start_ms: int) -> str:
    return f"scheduler:{name}:claim:{period_start_ms}"


def _last_key(name: str) -> str:
    return f"scheduler:{name}:last"


def _ran_prefix(name: str) -> str:
    return f"scheduler:{name}:ran:"


class ScheduleOps(StoreBase):
    """The scheduler's lease and bookkeeping (see the module docstring for the keys)."""

    async def scheduler_last_period(self, name: str) -> int | None:
        """The start (epoch ms) of the latest completed period of ``name``; ``None`` if none."""
        query = select(kv.c.value).where(kv.c.key == _last_key(name))
        async with self._transaction(write=False) as conn:
            value: str | None = (await conn.execute(query)).scalar_one_or_none()
        return None if value is None else int(value)

    async def scheduler_claim(
        self, name: str, period_start_ms: int, owner: str, *, lease_seconds: float = 300.0
    ) -> bool:
        """Claim the period starting at ``period_start_ms`` for ``owner`` for ``lease_seconds``.

        Returns ``True`` for exactly one of any number of concurrent callers, and only if that
        period (or a later one) has not completed and nobody holds a live claim on it. Not
        idempotent: the winner's second call returns ``False``."""
        now = self._now()
        lease_until = now + int(lease_seconds * 1000)
        value = _CLAIMED + owner
        insert = self._insert(kv).values(
            key=_claim_key(name, period_start_ms),
            value=value,
            expires_at=lease_until,
            updated_at=now,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[kv.c.key],
            set_={"value": value, "expires_at": lease_until, "updated_at": now},
            where=and_(kv.c.value.startswith(_CLAIMED), kv.c.expires_at <= now),
        ).returning(kv.c.key)
        last = select(kv.c.value).where(kv.c.key == _last_key(name))
        async with self._transaction() as conn:
            done = (await conn.execute(last)).scalar_one_or_none()
            if done is not None and int(done) >= period_start_ms:
                return False
            return (await conn.execute(stmt)).first() is not None

    async def scheduler_complete(
        self,
        name: str,
        period_start_ms: int,
        owner: str,
        *,
        phone_number_ids: Iterable[str] = (),
    ) -> bool:
        """Mark ``owner``'s claim of the period done, raise the last completed period to it,
        and stamp now as the last scheduled run of each of ``phone_number_ids``.

        Returns ``False`` (and records nothing) if ``owner`` no longer holds the claim: its
        lease expired and another instance took the period over."""
        now = self._now()
        mark_done = (
            update(kv)
            .where(kv.c.key == _claim_key(name, period_start_ms), kv.c.value == _CLAIMED + owner)
            .values(value=_DONE + owner, expires_at=now + DONE_RETENTION_S * 1000, updated_at=now)
        )
        last = self._insert(kv).values(
            key=_last_key(name), value=str(period_start_ms), expires_at=None, updated_at=now
        )
        last = last.on_conflict_do_update(
            index_elements=[kv.c.key],
            set_={"value": last.excluded.value, "updated_at": now},
            where=cast(kv.c.value, BigInteger) < period_start_ms,
        )
        async with self._transaction() as conn:
            if (await conn.execute(mark_done)).rowcount != 1:
                return False
            await conn.execute(last)
            for phone_number_id in sorted(set(phone_number_ids)):
                ran = self._insert(kv).values(
                    key=_ran_prefix(name) + phone_number_id,
                    value=str(now),
                    expires_at=None,
                    updated_at=now,
                )
                ran = ran.on_conflict_do_update(
                    index_elements=[kv.c.key], set_={"value": str(now), "updated_at": now}
                )
                await conn.execute(ran)
        return True

    async def scheduler_release(self, name: str, period_start_ms: int, owner: str) -> bool:
        """Give up ``owner``'s claim of the period (after a failed firing) so that the next
        tick, here or elsewhere, can claim it again. Returns whether the claim was held."""
        stmt = kv.delete().where(
            kv.c.key == _claim_key(name, period_start_ms), kv.c.value == _CLAIMED + owner
        )
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def scheduler_last_runs(self, name: str) -> dict[str, int]:
        """Phone number id → epoch ms of its last scheduled run (as stamped on completion)."""
        prefix = _ran_prefix(name)
        query = select(kv.c.key, kv.c.value).where(kv.c.key.startswith(prefix, autoescape=True))
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return {row.key[len(prefix) :]: int(row.value) for row in rows}
