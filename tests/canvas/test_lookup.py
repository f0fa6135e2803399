"""CanvasLookup against the Notion simulator and a real SQLite store: tiers, request counts,
negative caching, formats, property types and refresh."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from opsync.canvas import CanvasMatch
from opsync.errors import NotionSchemaMismatch, UpstreamUnavailable
from opsync.sandbox.notion import FaultConfig
from tests.canvas.conftest import Workspace, rich, title

NUMBER = "+13214436893"
STORED_FORMATS = ["321-443-6893", "(321) 443-6893", "+13214436893"]


@pytest.mark.parametrize("stored", STORED_FORMATS)
async def test_each_stored_format_matches_the_normalised_number(ws: Workspace, stored: str) -> None:
    decoy = ws.add_customer("Decoy", phone="321-443-6894")
    ws.add_customer("Same groups", phone="443-321-6893")  # passes the filter, not the check
    page = ws.add_customer("Acme", phone=stored)
    lookup = ws.lookup()

    found = await lookup.find_by_phone("1 (321) 443 6893")

    assert found == CanvasMatch(page, "Acme")
    assert ws.queries() == 1
    assert await ws.lookup().find_by_phone("+1 321-443-6894") == CanvasMatch(decoy, "Decoy")


@pytest.mark.parametrize("stored", [*STORED_FORMATS, "mobile: 321 443-6893 (after 5pm)"])
async def test_a_rich_text_phone_property_matches_every_format(ws: Workspace, stored: str) -> None:
    db_id, ds_id = ws.add_database(
        "Canvas RT", {"Name": {"title": {}}, "Phone": {"rich_text": {}}, "Email": {"email": {}}}
    )
    ws.add_page(ds_id, {"Name": title("Decoy"), "Phone": rich("321-443-6894")})
    ws.add_page(ds_id, {"Name": title("Same groups"), "Phone": rich("(443) 321-6893")})
    page = ws.add_page(ds_id, {"Name": title("Acme"), "Phone": rich(stored)})

    found = await ws.lookup(db_id).find_by_phone(NUMBER)

    assert found == CanvasMatch(page, "Acme")
    assert ws.queries() == 1


async def test_memory_then_table_then_notion(ws: Workspace) -> None:
    page = ws.add_customer("Acme", phone="321-443-6893")
    first = ws.lookup()
    assert (await first.resolve("phone", "321.443.6893")).source == "notion"
    after_first = ws.requests()
    assert ws.queries() == 1
    assert first.memory == {f"phone:{NUMBER}": CanvasMatch(page, "Acme")}

    again = await first.resolve("phone", "(321) 443-6893")
    assert (again.source, again.match) == ("memory", CanvasMatch(page, "Acme"))
    assert ws.requests() == after_first

    fresh = ws.lookup()  # an actor activated later: empty memory, same store
    from_table = await fresh.resolve("phone", NUMBER)
    assert (from_table.source, from_table.match) == ("table", CanvasMatch(page, "Acme"))
    assert ws.requests() == after_first
    entry = await ws.store.canvas_cache_get("phone", NUMBER, touch=False)
    assert entry is not None
    assert (entry.canvas_id, entry.canvas_name, entry.hit_count) == (page, "Acme", 2)
    assert first.stats.notion_hits == 1
    assert first.stats.memory_hits == 1
    assert fresh.stats.table_hits == 1
    assert fresh.stats.notion_queries == 0


async def test_a_table_hit_updates_hit_count_and_last_used_at(ws: Workspace) -> None:
    ws.add_customer("Acme", phone=NUMBER)
    await ws.lookup().find_by_phone(NUMBER)
    cached = await ws.store.canvas_cache_get("phone", NUMBER, touch=False)
    assert cached is not None
    ws.clock.advance(60)
    for expected_hits in (2, 3):
        await ws.lookup().find_by_phone(NUMBER)
        entry = await ws.store.canvas_cache_get("phone", NUMBER, touch=False)
        assert entry is not None
        assert entry.hit_count == expected_hits
        assert entry.last_used_at == cached.last_used_at + 60_000
        assert entry.cached_at == cached.cached_at


async def test_a_miss_is_cached_until_its_ttl_and_a_later_page_is_then_found(
    ws: Workspace,
) -> None:
    lookup = ws.lookup(negative_ttl=3600)
    assert await lookup.find_by_phone(NUMBER) is None
    assert ws.queries() == 1
    requests = ws.requests()

    assert await lookup.find_by_phone("321-443-6893") is None
    assert await ws.lookup(negative_ttl=3600).find_by_phone(NUMBER) is None  # another actor
    assert ws.requests() == requests
    assert lookup.stats.misses == 1
    assert lookup.stats.negative_hits == 1

    page = ws.add_customer("Late Customer", phone="321-443-6893")
    ws.clock.advance(3599)
    assert await lookup.find_by_phone(NUMBER) is None
    assert ws.queries() == 1
    ws.clock.advance(2)
    assert await lookup.find_by_phone(NUMBER) == CanvasMatch(page, "Late Customer")
    assert ws.queries() == 2
    assert await ws.lookup().find_by_phone(NUMBER) == CanvasMatch(page, "Late Customer")
    assert ws.queries() == 2


async def test_misses_stay_out_of_the_canvas_cache_and_its_stats_view(ws: Workspace) -> None:
    await ws.lookup().find_by_phone(NUMBER)
    await ws.lookup().find_by_email("nobody@example.com")
    assert await ws.store.canvas_cache_entries() == []
    view = await ws.store.execute_query("SELECT * FROM canvas_cache_stats")
    assert view.rows == []


async def test_a_zero_ttl_remembers_no_miss(ws: Workspace) -> None:
    lookup = ws.lookup(negative_ttl=0)
    assert await lookup.find_by_phone(NUMBER) is None
    assert await lookup.find_by_phone(NUMBER) is None
    assert ws.queries() == 2


async def test_every_notion_query_records_a_metric(ws: Workspace) -> None:
    ws.add_customer("Acme", phone=NUMBER, email="a@acme.test")
    lookup = ws.lookup()
    await lookup.find_by_phone(NUMBER, phone_number_id="PN1")
    await lookup.find_by_phone(NUMBER)  # memory: no metric
    await lookup.find_by_email("A@Acme.test")
    await lookup.refresh()
    result = await ws.store.execute_query(
        "SELECT operation, success, phone_number_id FROM performance_metrics "
        "WHERE metric_type = 'canvas_lookup' ORDER BY id"
    )
    assert result.rows == [("phone", 1, "PN1"), ("email", 1, None), ("refresh", 1, None)]


async def test_a_failed_query_propagates_and_records_a_failed_metric(ws: Workspace) -> None:
    lookup = ws.lookup()
    await lookup.find_by_email("warm@up.test")  # schema fetched while Notion is up
    ws.simulator.set_faults(FaultConfig(service_unavailable=1.0))
    with pytest.raises(UpstreamUnavailable):
        await lookup.find_by_phone(NUMBER)
    result = await ws.store.execute_query(
        "SELECT operation, success FROM performance_metrics ORDER BY id"
    )
    assert result.rows == [("email", 1), ("phone", 0)]
    assert not await ws.store.canvas_miss_get("phone", NUMBER)  # an error is not a miss


async def test_concurrent_lookups_of_one_number_make_one_query(ws: Workspace) -> None:
    page = ws.add_customer("Acme", phone=NUMBER)
    lookup = ws.lookup()
    results = await asyncio.gather(
        *(lookup.find_by_phone(raw) for raw in ["321-443-6893", NUMBER, "(321) 443-6893"] * 3)
    )
    assert results == [CanvasMatch(page, "Acme")] * 9
    assert ws.queries() == 1


async def test_concurrent_first_lookups_read_the_schema_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = ["+13214436893", "+14155550100", "+12125550123", "+13105550199"]
    lookup = ws.lookup()
    gate, all_checked, reads, misses_checked = asyncio.Event(), asyncio.Event(), [0], [0]
    data_source_id, miss_get = ws.adapter.data_source_id, ws.store.canvas_miss_get

    async def held_schema_read(database_id: str) -> str:
        reads[0] += 1
        await gate.wait()
        return await data_source_id(database_id)

    async def counted_miss_get(*args: Any) -> bool:
        found = await miss_get(*args)
        misses_checked[0] += 1
        if misses_checked[0] == len(numbers):  # every lookup is on its way to the schema
            all_checked.set()
        return found

    monkeypatch.setattr(ws.adapter, "data_source_id", held_schema_read)
    monkeypatch.setattr(ws.store, "canvas_miss_get", counted_miss_get)
    tasks = [asyncio.create_task(lookup.find_by_phone(n)) for n in numbers]
    await asyncio.wait_for(all_checked.wait(), timeout=10)
    for _ in range(10):  # let each take its next steps, up to the schema read
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert reads[0] == 1
    assert ws.queries() == len(numbers)


async def test_a_per_call_memory_is_used_and_filled(ws: Workspace) -> None:
    page = ws.add_customer("Acme", phone=NUMBER)
    lookup = ws.lookup()
    actor_memory: dict[str, CanvasMatch] = {}
    await lookup.find_by_phone(NUMBER, memory=actor_memory)
    assert actor_memory == {f"phone:{NUMBER}": CanvasMatch(page, "Acme")}
    assert lookup.memory == {}
    shared: dict[str, CanvasMatch] = {f"phone:{NUMBER}": CanvasMatch("p-1", "From memory")}
    assert await ws.lookup(memory=shared).find_by_phone(NUMBER) == CanvasMatch("p-1", "From memory")


async def test_invalid_input_asks_nobody(ws: Workspace) -> None:
    lookup = ws.lookup()
    for raw in ["", "hello", "555-0100", "12"]:
        resolution = await lookup.resolve("phone", raw)
        assert (resolution.key, resolution.match, resolution.source) == (None, None, "invalid")
    assert (await lookup.resolve("email", "not an email")).source == "invalid"
    assert ws.requests() == 0
    assert lookup.stats.invalid == 5


async def test_email_lookup_ignores_case_and_rejects_partial_matches(ws: Workspace) -> None:
    page = ws.add_customer("Jane", email="Jane.Doe@Example.com")
    lookup = ws.lookup()
    assert await lookup.find_by_email(" mailto:jane.doe@EXAMPLE.com ") == CanvasMatch(page, "Jane")
    assert await lookup.find_by_email("doe@example.com") is None  # "contains" matched; rejected
    assert ws.queries() == 2
    entry = await ws.store.canvas_cache_get("email", "jane.doe@example.com", touch=False)
    assert entry is not None
    assert entry.canvas_id == page


async def test_properties_are_found_by_type_when_names_differ(ws: Workspace) -> None:
    db_id, ds_id = ws.add_database(
        "Customers",
        {"Customer": {"title": {}}, "Mobile": {"phone_number": {}}, "E-mail": {"email": {}}},
    )
    page = ws.add_page(
        ds_id,
        {"Customer": title("Zed"), "Mobile": {"phone_number": "321.443.6893"},
         "E-mail": {"email": "zed@zed.test"}},
    )  # fmt: skip
    lookup = ws.lookup(db_id)
    assert await lookup.find_by_phone(NUMBER) == CanvasMatch(page, "Zed")
    assert await lookup.find_by_email("ZED@zed.test") == CanvasMatch(page, "Zed")


async def test_an_explicit_property_name_wins(ws: Workspace) -> None:
    db_id, ds_id = ws.add_database(
        "Two phones",
        {"Name": {"title": {}}, "Phone": {"phone_number": {}}, "Work": {"rich_text": {}}},
    )
    worker = ws.add_page(ds_id, {"Name": title("Worker"), "Work": rich("321-443-6893")})
    ws.add_page(ds_id, {"Name": title("Other"), "Work": rich("321-443-6894")})
    found = await ws.lookup(db_id, phone_property="Work").find_by_phone(NUMBER)
    assert found == CanvasMatch(worker, "Worker")
    assert await ws.lookup(db_id).find_by_phone("+13214436894") is None  # "Phone" is empty


async def test_a_database_without_a_phone_property_is_a_schema_mismatch(ws: Workspace) -> None:
    db_id, _ = ws.add_database("Plain", {"Name": {"title": {}}, "Notes": {"rich_text": {}}})
    with pytest.raises(NotionSchemaMismatch, match="no phone property"):
        await ws.lookup(db_id).find_by_phone(NUMBER)
    db_id, _ = ws.add_database("Numbers", {"Name": {"title": {}}, "Phone": {"number": {}}})
    with pytest.raises(NotionSchemaMismatch, match="type 'number'"):
        await ws.lookup(db_id).find_by_phone(NUMBER)


async def test_the_schema_is_fetched_once(ws: Workspace) -> None:
    ws.add_customer("Acme", phone=NUMBER)
    lookup = ws.lookup()
    for raw in [NUMBER, "+14155550100", "+14155550101", "a@b.test"]:
        await lookup.resolve("email" if "@" in raw else "phone", raw)
    counter = ws.simulator.counter
    assert counter.count("GET /v1/data_sources/{data_source_id}") == 1
    assert counter.count("GET /v1/databases/{database_id}") == 1
    assert ws.queries() == 4


async def test_an_old_entry_is_revalidated_and_a_changed_number_unlinked(
    ws: Workspace,
) -> None:
    page = ws.add_customer("Acme", phone=NUMBER)
    await ws.lookup(revalidate_after=86_400).find_by_phone(NUMBER)
    ws.simulator.state.update_page(
        page, {"properties": {"Phone": {"phone_number": "+14155550199"}}}
    )
    ws.clock.advance(3600)
    assert await ws.lookup(revalidate_after=86_400).find_by_phone(NUMBER) == CanvasMatch(
        page, "Acme"
    )  # young entry: trusted
    assert ws.queries() == 1
    ws.clock.advance(86_400)
    lookup = ws.lookup(revalidate_after=86_400)
    assert await lookup.find_by_phone(NUMBER) is None
    assert ws.queries() == 2
    assert await ws.store.canvas_cache_get("phone", NUMBER, touch=False) is None
    assert await lookup.find_by_phone("+14155550199") == CanvasMatch(page, "Acme")


async def test_an_old_entry_is_kept_when_notion_is_down(ws: Workspace) -> None:
    page = ws.add_customer("Acme", phone=NUMBER)
    lookup = ws.lookup(revalidate_after=60)
    await lookup.find_by_phone(NUMBER)
    ws.clock.advance(120)
    ws.simulator.set_faults(FaultConfig(service_unavailable=1.0))
    resolution = await ws.lookup(revalidate_after=60).resolve("phone", NUMBER)
    assert (resolution.source, resolution.match) == ("table", CanvasMatch(page, "Acme"))


async def test_refresh_rebuilds_the_cache_from_every_page(ws: Workspace) -> None:
    acme = ws.add_customer("Acme", phone="321-443-6893", email="Ops@Acme.test")
    ws.add_customer("Acme duplicate", phone="(321) 443-6893")  # newer: the older page wins
    bolt = ws.add_customer("Bolt", phone="415 555 0100")
    ws.add_customer("No phone")
    await ws.store.canvas_cache_put("phone", "+19995550100", "gone-page", "Gone")
    lookup = ws.lookup()
    await lookup.find_by_phone("+14155550111")  # a remembered miss
    assert await ws.store.canvas_miss_get("phone", "+14155550111")

    assert await lookup.refresh() == 3

    entries = {
        e.lookup_key: (e.lookup_type, e.canvas_id) for e in await ws.store.canvas_cache_entries()
    }
    assert entries == {
        NUMBER: ("phone", acme),
        "+14155550100": ("phone", bolt),
        "ops@acme.test": ("email", acme),
    }
    assert not await ws.store.canvas_miss_get("phone", "+14155550111")
    before = ws.requests()
    fresh = ws.lookup()
    assert await fresh.find_by_phone("415-555-0100") == CanvasMatch(bolt, "Bolt")
    assert await fresh.find_by_email("ops@acme.test") == CanvasMatch(acme, "Acme")
    assert ws.requests() == before


async def test_refresh_maps_every_number_of_a_multi_number_cell(ws: Workspace) -> None:
    db_id, ds_id = ws.add_database(
        "Canvas RT", {"Name": {"title": {}}, "Phone": {"rich_text": {}}, "Email": {"email": {}}}
    )
    page = ws.add_page(
        ds_id, {"Name": title("Two lines"), "Phone": rich("321-443-6893 / +44 20 7946 0958")}
    )
    lookup = ws.lookup(db_id)
    assert await lookup.find_by_phone("+44 20 7946 0958") == CanvasMatch(page, "Two lines")
    assert await lookup.refresh() == 2
    assert {e.lookup_key for e in await ws.store.canvas_cache_entries()} == {
        NUMBER,
        "+442079460958",
    }


async def test_stats_summarise_the_tiers(ws: Workspace) -> None:
    ws.add_customer("Acme", phone=NUMBER)
    lookup = ws.lookup()
    for raw in [NUMBER, NUMBER, "+14155550100", "+14155550100", "junk"]:
        await lookup.resolve("phone", raw)
    assert lookup.stats.as_dict() == {
        "memory_hits": 1,
        "table_hits": 0,
        "notion_hits": 1,
        "misses": 1,
        "negative_hits": 1,
        "invalid": 1,
        "notion_queries": 2,
        "lookups": 5,
        "cache_hit_rate": 0.5,
    }
