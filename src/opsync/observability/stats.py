"""The data of ``opsync stats``: the seed's analytics queries ("Querying Analytics" in its
README) and the state of the inbox and of each phone number, as one JSON-able dict.

The seed's views (``sync_stats_today``, ``canvas_cache_stats``) are read as they are; the
"find slow operations" query runs verbatim on SQLite, and on PostgreSQL with its time bound
spelled as migration 0001 spells it for the views. Numbers come back as ``int``/``float``
(PostgreSQL's ``numeric`` averages included), timestamps as the store keeps them (epoch ms).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from opsync.store import QueryResult, Store

__all__ = ["DEAD_LETTERS_SHOWN", "SLOW_OPERATIONS_SQL", "collect_stats"]

DEAD_LETTERS_SHOWN = 10
"""How many of the most recent dead letters are listed (the query's ``LIMIT``)."""

SLOW_OPERATIONS_SQL = """
SELECT
  metric_type,
  operation,
  AVG(duration_ms) as avg_duration,
  MAX(duration_ms) as max_duration,
  COUNT(*) as count
FROM performance_metrics
WHERE timestamp > (strftime('%s', 'now') - 86400) * 1000
GROUP BY metric_type, operation
ORDER BY avg_duration DESC
"""
"""The seed's "find slow operations" query, verbatim (SQLite)."""

_SQLITE_NOW_S = "strftime('%s', 'now')"
_POSTGRES_NOW_S = "floor(extract(epoch FROM now()))::BIGINT"

_DEAD_LETTERS_SQL = """
SELECT id, event_id, event_type, partition_key, attempts, last_error AS reason,
  completed_at
FROM inbox
WHERE state = 'dead'
ORDER BY COALESCE(completed_at, updated_at) DESC, id DESC
LIMIT 10
"""

_PHONE_NUMBERS_SQL = """
SELECT id, number, name, is_active, total_calls_synced, total_messages_synced,
  last_call_sync_at, last_message_sync_at
FROM phone_numbers
ORDER BY id
"""


def slow_operations_sql(dialect: str) -> str:
    """The slow-operations query for the store's ``dialect``."""
    if dialect == "postgresql":
        return SLOW_OPERATIONS_SQL.replace(_SQLITE_NOW_S, _POSTGRES_NOW_S)
    return SLOW_OPERATIONS_SQL


async def collect_stats(store: Store) -> dict[str, Any]:
    """Everything ``opsync stats`` shows, read from ``store`` (nothing is written):

    ``sync_stats_today`` and ``canvas_cache`` (the seed's views, one object per row),
    ``slow_operations`` (last 24 h, slowest average first), ``inbox`` (count per state),
    ``dead_letters`` (``count`` and the ``recent`` ten, newest first, with their ``reason``),
    ``phone_numbers`` (each row's totals and last-sync times, and its sync ``cursors``).

    Raises ``StoreUnavailable`` when the store cannot be reached."""
    inbox = await store.inbox_counts()
    phone_rows = _objects(await store.execute_query(_PHONE_NUMBERS_SQL))
    phone_numbers = []
    for row in phone_rows:
        phone_numbers.append(
            {
                **row,
                "is_active": None if row["is_active"] is None else bool(row["is_active"]),
                "total_calls_synced": row["total_calls_synced"] or 0,
                "total_messages_synced": row["total_messages_synced"] or 0,
                "cursors": await store.phone_cursors_get(str(row["id"])),
            }
        )
    return {
        "sync_stats_today": _objects(await store.execute_query("SELECT * FROM sync_stats_today")),
        "canvas_cache": _objects(await store.execute_query("SELECT * FROM canvas_cache_stats")),
        "slow_operations": _objects(await store.execute_query(slow_operations_sql(store.dialect))),
        "inbox": dict(inbox),
        "dead_letters": {
            "count": inbox["dead"],
            "recent": _objects(await store.execute_query(_DEAD_LETTERS_SQL)),
        },
        "phone_numbers": phone_numbers,
    }


def _objects(result: QueryResult) -> list[dict[str, Any]]:
    return [
        {column: _plain(value) for column, value in zip(result.columns, row, strict=True)}
        for row in result.rows
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
