"""The Canvas cache operations of the store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from opsync.clock import FakeClock
from opsync.store import Store
from opsync.store._analytics import CanvasCacheRow

from .conftest import Backend

PHONE = "+13214436893"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def cache(backend: Backend, clock: FakeClock) -> AsyncIterator[Store]:
    store = await backend.open(clock=clock)
    try:
        yield store
    finally:
        await store.close()


def now_ms(clock: FakeClock) -> int:
    return int(clock.now() * 1000)


async def test_put_then_get_bumps_hits_and_last_use(cache: Store, clock: FakeClock) -> None:
    created = now_ms(clock)
    entry = await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    assert (entry.lookup_key, entry.lookup_type, entry.canvas_id, entry.canvas_name) == (
        PHONE,
        "phone",
        "page-1",
        "Acme",
    )
    assert (entry.cached_at, entry.hit_count, entry.last_used_at) == (created, 1, created)

    clock.advance(30)
    hit = await cache.canvas_cache_get("phone", PHONE)
    assert hit is not None
    assert (hit.hit_count, hit.last_used_at, hit.cached_at) == (2, created + 30_000, created)
    peek = await cache.canvas_cache_get("phone", PHONE, touch=False)
    assert peek == hit


async def test_get_of_an_unknown_key_or_other_type_is_none(cache: Store) -> None:
    assert await cache.canvas_cache_get("phone", PHONE) is None
    await cache.canvas_cache_put("email", "a@b.test", "page-1", None)
    assert await cache.canvas_cache_get("phone", "a@b.test") is None
    assert await cache.canvas_cache_get("email", "a@b.test", touch=False) is not None


async def test_put_again_updates_the_page_and_keeps_hits(cache: Store, clock: FakeClock) -> None:
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    await cache.canvas_cache_get("phone", PHONE)
    clock.advance(10)
    entry = await cache.canvas_cache_put("phone", PHONE, "page-2", "Acme Inc")
    assert (entry.canvas_id, entry.canvas_name, entry.hit_count) == ("page-2", "Acme Inc", 2)
    assert entry.cached_at == entry.last_used_at == now_ms(clock)


async def test_delete_and_clear(cache: Store) -> None:
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    await cache.canvas_cache_put("phone", "+14155550100", "page-2", None)
    await cache.canvas_cache_put("email", "a@b.test", "page-1", "Acme")
    assert await cache.canvas_cache_delete("phone", PHONE)
    assert not await cache.canvas_cache_delete("phone", PHONE)
    assert not await cache.canvas_cache_delete("phone", "a@b.test")  # wrong type
    assert await cache.canvas_cache_clear("phone") == 1
    assert [e.lookup_key for e in await cache.canvas_cache_entries()] == ["a@b.test"]
    assert await cache.canvas_cache_clear() == 1
    assert await cache.canvas_cache_entries() == []


async def test_misses_expire_and_a_put_forgets_one(cache: Store, clock: FakeClock) -> None:
    await cache.canvas_miss_put("phone", PHONE, 60)
    assert await cache.canvas_miss_get("phone", PHONE)
    assert not await cache.canvas_miss_get("email", PHONE)
    clock.advance(59.9)
    assert await cache.canvas_miss_get("phone", PHONE)
    clock.advance(0.2)
    assert not await cache.canvas_miss_get("phone", PHONE)

    await cache.canvas_miss_put("phone", PHONE, 60)
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    assert not await cache.canvas_miss_get("phone", PHONE)


async def test_misses_do_not_count_in_the_seed_view(cache: Store) -> None:
    await cache.canvas_miss_put("phone", PHONE, 60)
    await cache.canvas_miss_put("email", "x@y.test", 60)
    assert (await cache.execute_query("SELECT * FROM canvas_cache_stats")).rows == []
    await cache.canvas_cache_put("phone", "+14155550100", "page-1", "Acme")
    await cache.canvas_cache_get("phone", "+14155550100")
    view = await cache.execute_query(
        "SELECT lookup_type, total_entries, total_hits FROM canvas_cache_stats"
    )
    assert [tuple(int(v) if not isinstance(v, str) else v for v in row) for row in view.rows] == [
        ("phone", 1, 2)
    ]


async def test_miss_clear_counts_live_misses_and_leaves_other_keys(
    cache: Store, clock: FakeClock
) -> None:
    await cache.canvas_miss_put("phone", PHONE, 10)
    await cache.canvas_miss_put("phone", "+14155550100", 100)
    await cache.kv_set("canvas:missing-but-not-a-miss", "1")
    await cache.kv_set("other", "1")
    clock.advance(20)
    assert await cache.canvas_miss_clear() == 1
    assert not await cache.canvas_miss_get("phone", "+14155550100")
    assert await cache.kv_get("other") == "1"
    assert await cache.kv_get("canvas:missing-but-not-a-miss") == "1"


async def test_replace_makes_the_table_hold_exactly_the_rows(
    cache: Store, clock: FakeClock
) -> None:
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    await cache.canvas_cache_get("phone", PHONE)
    await cache.canvas_cache_put("phone", "+19995550100", "gone", "Gone")
    await cache.canvas_miss_put("email", "x@y.test", 60)
    clock.advance(5)

    count = await cache.canvas_cache_replace(
        [
            CanvasCacheRow("phone", PHONE, "page-1b", "Acme renamed"),
            CanvasCacheRow("phone", "+14155550100", "page-2", None),
            CanvasCacheRow("phone", "+14155550100", "page-3", "Later duplicate"),
            CanvasCacheRow("email", "ops@acme.test", "page-1b", "Acme renamed"),
        ]
    )

    assert count == 3
    entries = {e.lookup_key: e for e in await cache.canvas_cache_entries()}
    assert set(entries) == {PHONE, "+14155550100", "ops@acme.test"}
    kept = entries[PHONE]
    assert (kept.canvas_id, kept.canvas_name, kept.hit_count) == ("page-1b", "Acme renamed", 2)
    assert kept.cached_at == now_ms(clock)
    assert entries["+14155550100"].canvas_id == "page-2"
    assert entries["+14155550100"].hit_count == 1
    assert not await cache.canvas_miss_get("email", "x@y.test")
    assert [e.lookup_key for e in await cache.canvas_cache_entries("email")] == ["ops@acme.test"]


async def test_replace_with_nothing_empties_the_table(cache: Store) -> None:
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    assert await cache.canvas_cache_replace([]) == 0
    assert await cache.canvas_cache_entries() == []


async def test_hits_are_written_behind_and_reach_other_processes(
    backend: Backend, cache: Store, clock: FakeClock
) -> None:
    await cache.canvas_cache_put("phone", PHONE, "page-1", "Acme")
    for _ in range(3):
        assert await cache.canvas_cache_get("phone", PHONE) is not None
    other = await backend.open(clock=clock, migrate=False)  # another process's view
    try:
        # Written within HIT_FLUSH_DELAY_S without being asked (bounded wait on the condition).
        seen = 1
        for _ in range(200):
            entry = await other.canvas_cache_get("phone", PHONE, touch=False)
            assert entry is not None
            seen = entry.hit_count
            if seen == 4:
                break
            await asyncio.sleep(0.05)
        assert seen == 4
        assert await cache.canvas_cache_flush_hits() == 0  # nothing left to write
        assert await cache.canvas_cache_get("phone", PHONE) is not None
        await cache.close()  # closing writes what is pending
        entry = await other.canvas_cache_get("phone", PHONE, touch=False)
        assert entry is not None
        assert entry.hit_count == 5
    finally:
        await other.close()
