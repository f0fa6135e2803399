"""Store operations on the seed's analytics tables: phone numbers, sync history, metrics."""

from __future__ import annotations

from sqlalchemy import RowMapping, select

from opsync.store._base import StoreBase
from opsync.store.rows import MetricType, PhoneNumber, SyncStatus
from opsync.store.schema import performance_metrics, phone_numbers, sync_history


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


def _phone_number(row: RowMapping) -> PhoneNumber:
    fields = dict(row)
    fields["is_active"] = bool(fields["is_active"])
    fields["total_calls_synced"] = fields["total_calls_synced"] or 0
    fields["total_messages_synced"] = fields["total_messages_synced"] or 0
    return PhoneNumber(**fields)
