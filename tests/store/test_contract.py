"""The store's contract, run on SQLite and (when configured) PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time

import pytest

from opsync.clock import FakeClock
from opsync.errors import StoreUnavailable
from opsync.store import QueryError, Store
from opsync.store.migrations import load_migrations
from opsync.store.schema import metadata

from .conftest import Backend

_ALL_VERSIONS = [m.version for m in load_migrations()]

# The seed's "Querying Analytics" examples, verbatim.
SEED_SYNC_STATS_TODAY = "SELECT * FROM sync_stats_today"
SEED_CANVAS_CACHE_STATS = "SELECT * FROM canvas_cache_stats"
SEED_RECENT_SYNC_HISTORY = """
SELECT
  phone_number_id,
  resource_type,
  sync_status,
  COUNT(*) as count,
  AVG(processing_time_ms) as avg_time_ms
FROM sync_history
WHERE synced_at > (strftime('%s', 'now') - 3600) * 1000
GROUP BY phone_number_id, resource_type, sync_status
"""
SEED_SLOW_OPERATIONS = """
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

HOUR = 3600.0
DAY = 86400.0


def _by_key(columns: list[str], rows: list[tuple[object, ...]], *key: str) -> dict[tuple, dict]:
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return {tuple(r[k] for k in key): r for r in records}


# --- migrations ------------------------------------------------------------------------------


async def test_migrations_are_recorded_once_and_idempotent(backend: Backend) -> None:
    clock = FakeClock()
    store = await backend.open(clock=clock, migrate=False)
    try:
        first = await store.migrate()
        clock.advance(60)
        second = await store.migrate()
        recorded = await store.applied_migrations()
    finally:
        await store.close()
    expected = [(m.version, m.name) for m in load_migrations()]
    assert [(m.version, m.name) for m in first] == expected
    assert expected[:3] == [(1, "analytics"), (2, "internal"), (3, "webhooks")]
    assert second == []
    assert recorded == first
    assert {m.applied_at for m in recorded} == {int(FakeClock().now() * 1000)}


async def test_open_migrates_and_reopening_applies_nothing(backend: Backend) -> None:
    async with await backend.open() as store:
        versions = [m.version for m in await store.applied_migrations()]
    async with await backend.open() as again:
        assert await again.migrate() == []
        assert [m.version for m in await again.applied_migrations()] == versions == _ALL_VERSIONS


async def test_concurrent_migrations_apply_each_version_once(backend: Backend) -> None:
    stores = [await backend.open(migrate=False) for _ in range(3)]
    try:
        async with asyncio.timeout(10):
            results = await asyncio.gather(*(s.migrate() for s in stores))
        applied = sorted(m.version for result in results for m in result)
        _, rows = await stores[0].execute_query("SELECT COUNT(*) FROM schema_migrations")
    finally:
        for s in stores:
            await s.close()
    assert applied == _ALL_VERSIONS
    assert rows == [(len(_ALL_VERSIONS),)]


async def test_tables_have_the_columns_the_queries_use(store: Store) -> None:
    for table in metadata.sorted_tables:
        columns, _ = await store.execute_query(f"SELECT * FROM {table.name} WHERE 1 = 0")
        assert columns == [c.name for c in table.columns], table.name


# --- the seed's analytics queries ------------------------------------------------------------


async def test_strftime_now_gives_epoch_seconds(store: Store) -> None:
    before = int(time.time())
    _, rows = await store.execute_query("SELECT strftime('%s', 'now')")
    assert before <= int(rows[0][0]) <= int(time.time())


async def test_seed_sync_history_queries_count_only_their_window(backend: Backend) -> None:
    # strftime('now') in the queries reads the real time, so rows are stamped relative to it.
    clock = FakeClock(start=time.time())
    async with await backend.open(clock=clock) as store:
        await store.upsert_phone_number("PN1", "+15550000001")
        await store.upsert_phone_number("PN2", "+15550000002")
        clock.advance(-2 * DAY)  # outside both windows
        await store.record_sync("PN1", "call", "AC0", "success", processing_time_ms=9000)
        clock.advance(2 * DAY - 5 * HOUR)  # inside the day, outside the hour
        await store.record_sync("PN1", "call", "AC1", "success", processing_time_ms=400)
        await store.record_sync("PN2", "message", "AC2", "failed", processing_time_ms=50)
        clock.advance(5 * HOUR - 60)  # a minute ago: inside both
        await store.record_sync("PN1", "call", "AC3", "success", processing_time_ms=200)
        await store.record_sync("PN1", "call", "AC4", "skipped")

        today = await store.execute_query(SEED_SYNC_STATS_TODAY)
        recent = await store.execute_query(SEED_RECENT_SYNC_HISTORY)

    assert today.columns == [
        "phone_number_id",
        "resource_type",
        "sync_status",
        "count",
        "avg_processing_time_ms",
    ]
    stats = _by_key(today.columns, today.rows, "phone_number_id", "resource_type", "sync_status")
    assert set(stats) == {
        ("PN1", "call", "success"),
        ("PN1", "call", "skipped"),
        ("PN2", "message", "failed"),
    }
    assert stats["PN1", "call", "success"]["count"] == 2
    assert float(stats["PN1", "call", "success"]["avg_processing_time_ms"]) == 300.0
    assert stats["PN1", "call", "skipped"]["avg_processing_time_ms"] is None
    assert stats["PN2", "message", "failed"]["count"] == 1

    hour = _by_key(recent.columns, recent.rows, "phone_number_id", "resource_type", "sync_status")
    assert set(hour) == {("PN1", "call", "success"), ("PN1", "call", "skipped")}
    assert hour["PN1", "call", "success"]["count"] == 1
    assert float(hour["PN1", "call", "success"]["avg_time_ms"]) == 200.0


async def test_seed_slow_operations_query(backend: Backend) -> None:
    clock = FakeClock(start=time.time() - 2 * DAY)
    async with await backend.open(clock=clock) as store:
        await store.record_metric("api_call", "get_call", 99_999, success=True)  # too old
        clock.advance(2 * DAY - HOUR)
        await store.record_metric("api_call", "get_call", 100, success=True)
        await store.record_metric("api_call", "get_call", 300, success=False)
        await store.record_metric("notion_query", "find_page", 900, success=True)
        result = await store.execute_query(SEED_SLOW_OPERATIONS)

    assert result.columns == ["metric_type", "operation", "avg_duration", "max_duration", "count"]
    rows = [(r[0], r[1], float(r[2]), int(r[3]), int(r[4])) for r in result.rows]
    assert rows == [
        ("notion_query", "find_page", 900.0, 900, 1),
        ("api_call", "get_call", 200.0, 300, 2),
    ]


async def test_seed_canvas_cache_stats_view(store: Store) -> None:
    await store.execute_query(
        """
        INSERT INTO canvas_cache (lookup_key, lookup_type, canvas_id, cached_at, hit_count,
                                  last_used_at)
        VALUES ('+15550000001', 'phone', 'c1', 1, 3, 1),
               ('+15550000002', 'phone', 'c2', 1, 6, 1),
               ('a@example.com', 'email', 'c3', 1, 1, 1);
        """
    )
    columns, rows = await store.execute_query(SEED_CANVAS_CACHE_STATS)
    assert columns == ["lookup_type", "total_entries", "total_hits", "avg_hits_per_entry"]
    stats = {r[0]: (r[1], r[2], float(r[3])) for r in rows}
    assert stats == {"phone": (2, 9, 4.5), "email": (1, 1, 1.0)}


# --- ad-hoc SQL ------------------------------------------------------------------------------


async def test_execute_query_runs_a_script_and_returns_the_last_rows(store: Store) -> None:
    result = await store.execute_query(
        "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 0);\n"
        "INSERT INTO kv (key, value, updated_at) VALUES ('b', '2', 0);\n"
        "SELECT key, value FROM kv ORDER BY key;\n"
    )
    assert result.columns == ["key", "value"]
    assert result.rows == [("a", "1"), ("b", "2")]
    assert await store.execute_query("DELETE FROM kv") == ([], [])


@pytest.mark.parametrize("sql", ["SELEC 1", "SELECT * FROM no_such_table", "   "])
async def test_bad_sql_raises_a_one_line_query_error(store: Store, sql: str) -> None:
    with pytest.raises(QueryError) as caught:
        await store.execute_query(sql)
    assert str(caught.value)
    assert "\n" not in str(caught.value)


async def test_a_failed_script_writes_nothing(store: Store) -> None:
    with pytest.raises(QueryError):
        await store.execute_query(
            "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 0);\nSELEC 1;\n"
        )
    assert await store.kv_get("a") is None


# --- inbox -----------------------------------------------------------------------------------


async def test_inbox_enqueue_deduplicates_by_event_id(store: Store) -> None:
    raw = '{"id":"EV1","type":"call.completed"}'
    assert await store.inbox_enqueue("EV1", "call.completed", "PN1", raw) is True
    assert await store.inbox_enqueue("EV1", "call.completed", "PN1", "{}", source="cron") is False
    assert await store.inbox_enqueue("EV2", "message.received", None, {"b": 1, "a": [1]}) is True
    _, rows = await store.execute_query(
        "SELECT event_id, source, partition_key, payload, state, attempts, completed_at "
        "FROM inbox ORDER BY event_id"
    )
    assert rows == [
        ("EV1", "webhook", "PN1", raw, "pending", 0, None),
        ("EV2", "webhook", None, '{"a":[1],"b":1}', "pending", 0, None),
    ]


async def test_concurrent_enqueues_of_one_event_accept_it_once(store: Store) -> None:
    async with asyncio.timeout(10):
        results = await asyncio.gather(
            *(store.inbox_enqueue("EV9", "call.ringing", "PN1", "{}") for _ in range(5))
        )
    assert sorted(results) == [False, False, False, False, True]


async def test_inbox_enqueue_in_a_final_state_is_completed(backend: Backend) -> None:
    clock = FakeClock()
    async with await backend.open(clock=clock) as store:
        await store.inbox_enqueue(
            "EV3", "call.ringing", "PN1", "{}", source="backfill", state="done"
        )
        _, rows = await store.execute_query(
            "SELECT source, state, received_at, next_attempt_at, completed_at FROM inbox"
        )
    now = int(clock.now() * 1000)
    assert rows == [("backfill", "done", now, now, now)]


# --- resource ledger -------------------------------------------------------------------------


async def test_ledger_records_intent_then_created(store: Store) -> None:
    assert await store.ledger_get("call", "AC1") is None
    first = await store.ledger_record_intent("call", "AC1", notion_database_id="db-calls")
    again = await store.ledger_record_intent("call", "AC1")
    assert (first.state, first.attempts, first.notion_page_id) == ("intent", 1, None)
    assert (again.state, again.attempts, again.notion_database_id) == ("intent", 2, "db-calls")

    await store.ledger_mark_created("call", "AC1", "page-1", "hash-1")
    after_create = await store.ledger_record_intent("call", "AC1")
    assert after_create.state == "created"
    assert after_create.attempts == 2  # an entry already created is left as it is
    assert (after_create.notion_page_id, after_create.content_hash) == ("page-1", "hash-1")

    assert await store.ledger_set_hash("call", "AC1", "hash-2") is True
    entry = await store.ledger_get("call", "AC1")
    assert entry is not None
    assert (entry.content_hash, entry.notion_database_id) == ("hash-2", "db-calls")


async def test_ledger_keys_calls_and_messages_apart(store: Store) -> None:
    await store.ledger_mark_created("call", "AC7", "page-call", "h1")
    assert await store.ledger_get("message", "AC7") is None
    assert await store.ledger_set_hash("message", "AC7", "h2") is False
    await store.ledger_mark_created("message", "AC7", "page-message", "h3")
    call = await store.ledger_get("call", "AC7")
    message = await store.ledger_get("message", "AC7")
    assert call is not None
    assert message is not None
    assert (call.notion_page_id, call.content_hash) == ("page-call", "h1")
    assert (message.notion_page_id, message.state, message.attempts) == (
        "page-message",
        "created",
        1,
    )


# --- snapshots -------------------------------------------------------------------------------


async def test_snapshot_put_upserts_and_keeps_the_known_phone_number(backend: Backend) -> None:
    clock = FakeClock()
    async with await backend.open(clock=clock) as store:
        assert await store.snapshot_get("call", "AC1") is None
        await store.snapshot_put(
            "call", "AC1", {"id": "AC1", "status": "ringing"}, phone_number_id="PN1"
        )
        clock.advance(5)
        await store.snapshot_put("call", "AC1", {"id": "AC1", "status": "completed"}, fetched_at=42)
        snapshot = await store.snapshot_get("call", "AC1")
        assert await store.snapshot_get("transcript", "AC1") is None
    assert snapshot is not None
    assert snapshot.payload == {"id": "AC1", "status": "completed"}
    assert snapshot.phone_number_id == "PN1"
    assert snapshot.fetched_at == 42
    assert snapshot.updated_at == int(clock.now() * 1000)


# --- key-value -------------------------------------------------------------------------------


async def test_kv_round_trip(store: Store) -> None:
    assert await store.kv_get("k") is None
    await store.kv_set("k", "v1")
    await store.kv_set("k", "v2")
    assert await store.kv_get("k") == "v2"
    assert await store.kv_delete("k") is True
    assert await store.kv_delete("k") is False
    assert await store.kv_get("k") is None


async def test_kv_expiry_follows_the_clock(backend: Backend) -> None:
    clock = FakeClock()
    async with await backend.open(clock=clock) as store:
        await store.kv_set("short", "1", ttl_seconds=10)
        await store.kv_set("forever", "2")
        clock.advance(9.999)
        assert await store.kv_get("short") == "1"
        clock.advance(0.001)
        assert await store.kv_get("short") is None
        assert await store.kv_delete("short") is False  # expired values do not count
        await store.kv_set("again", "3", ttl_seconds=1)
        clock.advance(2)
        assert await store.kv_purge_expired() == 1
        await store.kv_set("short", "4", ttl_seconds=10)  # setting again revives the key
        assert await store.kv_get("short") == "4"
        assert await store.kv_get("forever") == "2"


# --- analytics rows --------------------------------------------------------------------------


async def test_upsert_phone_number_keeps_first_seen(backend: Backend) -> None:
    clock = FakeClock()
    async with await backend.open(clock=clock) as store:
        first = await store.upsert_phone_number("PN1", "+15550000001", name="Main")
        clock.advance(30)
        second = await store.upsert_phone_number("PN1", "+15550000009", active=False)
        assert await store.get_phone_number("PN1") == second
        assert await store.get_phone_number("PN2") is None
    assert first.first_seen_at == second.first_seen_at == first.created_at
    assert (second.number, second.name, second.is_active) == ("+15550000009", None, False)
    assert second.updated_at == first.updated_at + 30_000
    assert (second.total_calls_synced, second.total_messages_synced) == (0, 0)


async def test_record_sync_and_metric_return_increasing_ids(store: Store) -> None:
    await store.upsert_phone_number("PN1", "+15550000001")
    a = await store.record_sync("PN1", "call", "AC1", "success", notion_page_id="p1")
    b = await store.record_sync("PN1", "message", "AC2", "failed", error_message="boom")
    m1 = await store.record_metric("canvas_lookup", "phone", 12, success=True)
    m2 = await store.record_metric(
        "canvas_lookup", "phone", 15, success=False, phone_number_id="PN1"
    )
    assert b > a
    assert m2 > m1
    _, rows = await store.execute_query(
        "SELECT resource_id, sync_status, error_message FROM sync_history ORDER BY id"
    )
    assert rows == [("AC1", "success", None), ("AC2", "failed", "boom")]


# --- failures --------------------------------------------------------------------------------


async def test_unreachable_postgres_raises_store_unavailable_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await Store.open("postgresql://opsync:hunter2@127.0.0.1:1/opsync")
    assert time.monotonic() - started < 5
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is not None


async def test_unopenable_sqlite_file_raises_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await Store.open("sqlite:////nonexistent-opsync-dir/sub/opsync.db")


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(QueryError):
        await store.execute_query(
            "INSERT INTO sync_history (phone_number_id, resource_type, resource_id, sync_status, "
            "synced_at) VALUES ('PN-unknown', 'call', 'AC1', 'success', 1)"
        )


async def test_postgres_strftime_refuses_formats_it_cannot_honour(store: Store) -> None:
    if store.dialect == "sqlite":
        pytest.skip("SQLite's own strftime supports every format")
    with pytest.raises(QueryError, match="only strftime"):
        await store.execute_query("SELECT strftime('%Y', 'now')")
