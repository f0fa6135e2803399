"""Store operations on a phone number's sync totals and cursors (``phone_numbers`` + ``kv``).

The seed's ``phone_numbers`` row already has the totals and last-sync columns; the
incremental-sync cursors are a JSON document in ``kv`` under ``phone:{id}:cursors``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlalchemy import func, update

from opsync.store._base import StoreBase, to_json
from opsync.store.schema import kv, phone_numbers

CURSORS_KEY = "phone:{}:cursors"


class PhoneStateOps(StoreBase):
    """Totals, last-sync times and cursors of one phone number."""

    async def phone_number_synced(
        self, phone_number_id: str, resource_type: Literal["call", "message"], *, new_page: bool
    ) -> bool:
        """Stamp ``last_call_sync_at`` / ``last_message_sync_at`` now and, for a ``new_page``,
        add one to ``total_calls_synced`` / ``total_messages_synced``. Returns whether the
        row exists. Not idempotent for a new page: call once per page created."""
        t = phone_numbers
        now = self._now()
        if resource_type == "call":
            stamp, total = t.c.last_call_sync_at, t.c.total_calls_synced
        else:
            stamp, total = t.c.last_message_sync_at, t.c.total_messages_synced
        values: dict[Any, Any] = {stamp: now, t.c.updated_at: now}
        if new_page:
            values[total] = func.coalesce(total, 0) + 1
        stmt = update(t).where(t.c.id == phone_number_id).values(values)
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def phone_cursors_get(self, phone_number_id: str) -> dict[str, Any]:
        """The number's sync cursors (empty when none were saved)."""
        query = kv.select().where(kv.c.key == CURSORS_KEY.format(phone_number_id))
        async with self._transaction(write=False) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return {}
        value = json.loads(row.value)
        return value if isinstance(value, dict) else {}

    async def phone_cursors_put(self, phone_number_id: str, cursors: dict[str, Any]) -> None:
        """Replace the number's sync cursors. Idempotent."""
        now = self._now()
        encoded = to_json(cursors)
        stmt = self._insert(kv).values(
            key=CURSORS_KEY.format(phone_number_id), value=encoded, expires_at=None, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[kv.c.key],
            set_={"value": encoded, "expires_at": None, "updated_at": now},
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)
