"""``opsync stats``: the seed's analytics queries over known rows, as data, tables and JSON."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opsync.cli._common import CliState
from opsync.cli.stats import cursor_summary, stats
from opsync.clock import FakeClock
from opsync.observability.stats import SLOW_OPERATIONS_SQL, collect_stats, slow_operations_sql
from opsync.store import Store
from tests.store.conftest import Backend

TWO_DAYS = 2 * 86_400
CURSORS = {"sync": {"state_version": 1, "calls": {"last_value": "2026-11-28T10:00:00Z"}}}


async def seed_rows(store: Store, old: Store, old_clock: FakeClock) -> None:
    """Rows of every table ``collect_stats`` reads. ``store`` stamps now; ``old`` stamps two
    days ago (outside the seed's 24 h windows) and orders the dead letters."""
    await store.upsert_phone_number("PN1", "+13215550001", name="Main line")
    await store.upsert_phone_number("PN2", "+13215550002", active=False)
    for ms in (100, 300):
        await store.record_sync("PN1", "call", f"AC{ms}", "success", processing_time_ms=ms)
    await store.record_sync("PN1", "message", "AM1", "failed", processing_time_ms=50)
    await store.record_sync("PN2", "call", "AC9", "skipped", processing_time_ms=20)
    await old.record_sync("PN1", "call", "AC0", "success", processing_time_ms=9_999)
    await store.record_metric("api_call", "get_call", 100, success=True)
    await store.record_metric("api_call", "get_call", 300, success=True)
    await store.record_metric("notion_query", "pages.create", 1_000, success=True)
    await store.record_metric("canvas_lookup", "phone", 10, success=False)
    await old.record_metric("notion_query", "pages.create", 99_999, success=True)
    await store.canvas_cache_put("phone", "+13214436893", "c1", "Acme")
    await store.canvas_cache_get("phone", "+13214436893")  # a hit: hit_count 2
    await store.canvas_cache_put("email", "jane@example.com", "c2", "Jane")
    for n in range(12):
        await old.inbox_enqueue(f"E{n}", "call.completed", f"PN{n}", {"id": f"E{n}"})
        [claimed] = await old.inbox_claim("w", 60)
        await old.inbox_dead_letter(claimed.id, "w", "InvalidPayload", f"reason {n}")
        old_clock.advance(1)
    await store.inbox_enqueue("P1", "message.received", "PN1", {"id": "P1"})
    await store.phone_number_synced("PN1", "call", new_page=True)
    await store.phone_number_synced("PN1", "call", new_page=True)
    await store.phone_number_synced("PN1", "message", new_page=True)
    await store.phone_cursors_put("PN1", CURSORS)


async def test_collect_stats_runs_the_seeds_queries(backend: Backend) -> None:
    old_clock = FakeClock(time.time() - TWO_DAYS)
    store = await backend.open()
    old = await backend.open(clock=old_clock, migrate=False)
    try:
        await seed_rows(store, old, old_clock)
        data = await collect_stats(store)
    finally:
        await old.close()
        await store.close()

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(v) for v in row.values())

    assert sorted(data["sync_stats_today"], key=key) == [
        {"phone_number_id": "PN1", "resource_type": "call", "sync_status": "success",
         "count": 2, "avg_processing_time_ms": 200.0},
        {"phone_number_id": "PN1", "resource_type": "message", "sync_status": "failed",
         "count": 1, "avg_processing_time_ms": 50.0},
        {"phone_number_id": "PN2", "resource_type": "call", "sync_status": "skipped",
         "count": 1, "avg_processing_time_ms": 20.0},
    ]  # fmt: skip
    assert sorted(data["canvas_cache"], key=key) == [
        {"lookup_type": "email", "total_entries": 1, "total_hits": 1, "avg_hits_per_entry": 1.0},
        {"lookup_type": "phone", "total_entries": 1, "total_hits": 2, "avg_hits_per_entry": 2.0},
    ]
    assert data["slow_operations"] == [
        {"metric_type": "notion_query", "operation": "pages.create", "avg_duration": 1000,
         "max_duration": 1000, "count": 1},
        {"metric_type": "api_call", "operation": "get_call", "avg_duration": 200,
         "max_duration": 300, "count": 2},
        {"metric_type": "canvas_lookup", "operation": "phone", "avg_duration": 10,
         "max_duration": 10, "count": 1},
    ]  # fmt: skip
    assert data["inbox"] == {"pending": 1, "in_flight": 0, "done": 0, "dead": 12, "ignored": 0}
    dead = data["dead_letters"]
    assert dead["count"] == 12
    assert [row["event_id"] for row in dead["recent"]] == [f"E{n}" for n in range(11, 1, -1)]
    assert dead["recent"][0]["reason"] == "reason 11"
    assert dead["recent"][0]["partition_key"] == "PN11"
    first, second = data["phone_numbers"]
    assert first["id"] == "PN1"
    assert first["name"] == "Main line"
    assert first["is_active"] is True
    assert (first["total_calls_synced"], first["total_messages_synced"]) == (2, 1)
    assert first["last_call_sync_at"] is not None
    assert first["cursors"] == CURSORS
    assert second["id"] == "PN2"
    assert second["is_active"] is False
    assert (second["total_calls_synced"], second["cursors"]) == (0, {})
    json.dumps(data)  # JSON-able as it is


def test_the_slow_operations_query_is_the_seeds_on_sqlite_and_translated_for_postgres() -> None:
    assert slow_operations_sql("sqlite") == SLOW_OPERATIONS_SQL
    assert "strftime('%s', 'now') - 86400" in SLOW_OPERATIONS_SQL
    translated = slow_operations_sql("postgresql")
    assert "strftime" not in translated
    assert "extract(epoch FROM now())" in translated
    assert (
        translated.replace("floor(extract(epoch FROM now()))::BIGINT", "strftime('%s', 'now')")
        == SLOW_OPERATIONS_SQL
    )


def test_cursor_summary_shows_scalars_and_leaves_long_lists_out() -> None:
    cursors = {"sync": {"calls": {"last_value": "T1", "boundary_ids": ["a", "b"]}, "v": 1}}
    assert cursor_summary(cursors) == "sync.calls.last_value=T1\nsync.v=1"
    assert cursor_summary({}) == "-"
    many = {f"k{n}": n for n in range(8)}
    assert cursor_summary(many).splitlines()[-1] == "(+2 more, see --json)"


# --- the command --------------------------------------------------------------------------------

runner = CliRunner()
cli = typer.Typer()


@cli.callback()
def _root(ctx: typer.Context, db: str = typer.Option(..., "--db")) -> None:
    ctx.obj = CliState(db=db)


cli.command("stats")(stats)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file holding the rows of :func:`seed_rows`; no .env file, wide output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.delenv("OPSYNC_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'stats.db'}"

    async def fill() -> None:
        clock = FakeClock(time.time() - TWO_DAYS)
        async with await Store.open(url) as store, await Store.open(url, clock=clock) as old:
            await seed_rows(store, old, clock)

    asyncio.run(fill())
    return url


def test_stats_json_is_the_collected_data(database: str) -> None:
    result = runner.invoke(cli, ["--db", database, "stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {
        "sync_stats_today",
        "canvas_cache",
        "slow_operations",
        "inbox",
        "dead_letters",
        "phone_numbers",
    }
    assert data["dead_letters"]["count"] == 12
    assert data["slow_operations"][0]["operation"] == "pages.create"
    assert data["phone_numbers"][0]["cursors"] == CURSORS


def test_stats_prints_a_table_per_section(database: str) -> None:
    result = runner.invoke(cli, ["--db", database, "stats"])
    assert result.exit_code == 0, result.output
    out = result.output
    for title in (
        "Sync stats (last 24 h)",
        "Canvas cache",
        "Slowest operations (last 24 h, ms)",
        "Inbox",
        "Dead letters: 12 (the 10 most recent)",
        "Phone numbers",
    ):
        assert title in out, title
    assert "pages.create" in out
    assert "reason 11" in out
    assert "reason 1 " not in out  # the 11th most recent is not listed
    assert "+13215550001" in out
    assert "sync.calls.last_value=2026-11-28T10:00:00Z" in out
    assert "Main line" in out


def test_stats_of_an_empty_database_still_names_every_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "220")
    result = runner.invoke(cli, ["--db", f"sqlite:///{tmp_path / 'empty.db'}", "stats"])
    assert result.exit_code == 0, result.output
    for title in (
        "Sync stats (last 24 h)",
        "Canvas cache",
        "Slowest operations",
        "Inbox",
        "Dead letters: 0",
        "Phone numbers",
    ):
        assert title in result.output, title
    assert result.output.count("no rows") == 5
    assert "avg_processing_time_ms" in result.output
