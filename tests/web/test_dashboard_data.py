"""``GET /api/dashboard``'s document, computed from a store filled the way the service fills it
(on a FakeClock, so that every row lands in a known hour)."""

from __future__ import annotations

import httpx
import pytest

from opsync.canvas.lookup import CanvasStats
from opsync.clock import FakeClock
from opsync.observability.metrics import Metrics
from opsync.store import Store
from opsync.web.dashboard_data import (
    DEAD_LETTERS_SHOWN,
    HOUR_MS,
    DashboardSources,
    RateMeter,
    dashboard_snapshot,
)
from tests.support.dead_letters import dead_letter
from tests.web.conftest import PhoneStates
from tests.web.support import ADMIN_TOKEN

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}
PN = "PNdash"


async def _fill(store: Store, clock: FakeClock) -> None:
    """Two hours of work: 3 events and 2 syncs (one failed) three hours ago, 2 events and
    3 syncs now, a metric row per request, a Canvas entry hit twice, a dead letter."""
    await store.upsert_phone_number(PN, "+15550100", name="Front desk")
    await dead_letter(store, "EVdead", partition=PN)  # first: claims are one per partition
    clock.advance(-3 * 3600)
    for i, event_type in enumerate(("call.completed", "callSummary", "message.received")):
        await store.inbox_enqueue(f"EVold{i}", event_type, PN, "{}")
    await store.record_sync(PN, "call", "AC1", "success", processing_time_ms=100)
    await store.record_sync(PN, "message", "AC2", "failed", processing_time_ms=900)
    await store.record_metric("notion_query", "create_page", 50, success=True)
    clock.advance(3 * 3600)
    await store.inbox_enqueue("EVnew0", "message.received", PN, "{}")
    await store.inbox_enqueue("EVnew1", "message.delivered", PN, "{}")
    for ms, kind in ((200, "message"), (300, "message"), (400, "call")):
        await store.record_sync(PN, kind, f"AC{ms}", "success", processing_time_ms=ms)
    await store.phone_number_synced(PN, "message", new_page=True)
    await store.phone_number_synced(PN, "message", new_page=True)
    await store.phone_number_synced(PN, "call", new_page=True)
    for _ in range(4):
        await store.record_metric("api_call", "get_call", 10, success=True)
    await store.record_metric("canvas_lookup", "phone", 10, success=True)
    await store.canvas_cache_put("phone", "+15550123", "canvas-page", "Acme")
    assert await store.canvas_cache_get("phone", "+15550123") is not None
    await store.phone_cursors_put(PN, {"calls": {"last_value": 1775000000000}})


async def test_the_snapshot_counts_what_the_store_holds(store: Store, clock: FakeClock) -> None:
    await _fill(store, clock)
    data = await dashboard_snapshot(DashboardSources(store, clock=clock))
    now_ms = int(clock.now() * 1000)
    assert data["now_ms"] == now_ms
    assert len(data["hours"]) == 24
    assert data["hours"][-1] == now_ms // HOUR_MS * HOUR_MS
    assert data["inbox"] == {"pending": 5, "in_flight": 0, "done": 0, "dead": 1, "ignored": 0}
    assert data["totals"] == {
        "events_received": 6,
        "events_24h": 6,
        "calls_synced": 1,
        "messages_synced": 2,
        "synced_24h": 4,
        "failed_24h": 1,
        "inbox_depth": 5,
        "dead_letters": 1,
        "phone_numbers": 1,
    }
    events = data["events_by_type"]
    # normalised names; 3 hours ago is slot 20, now slot 23
    assert events["call.summary.completed"][20] == 1
    assert events["message.received"][20] == 1
    assert events["message.received"][23] == 1
    assert events["call.completed"][23] == 1  # the dead letter, received now
    assert sum(sum(series) for series in events.values()) == 6
    synced = data["synced_by_type"]
    assert synced["call"][20] == 1
    assert synced["call"][23] == 1
    assert synced["message"][23] == 2
    assert synced["failed"][20] == 1
    latency = data["latency"]
    assert latency["by_type"]["message"] == {
        "count": 3,
        "avg_ms": pytest.approx(466.7),
        "p50_ms": 300,
        "p95_ms": 900,
        "max_ms": 900,
    }
    assert latency["hourly_avg_ms"]["message"][23] == 250.0
    assert latency["hourly_avg_ms"]["message"][20] == 900.0
    assert latency["hourly_avg_ms"]["call"][0] is None
    assert data["canvas"] == {"entries": 1, "hits": 2, "live": None}
    requests = data["requests"]["apis"]
    assert requests["openphone"]["per_minute"][-1] == 4
    assert requests["notion"]["per_minute"][-1] == 1  # the Canvas lookup; the 3 h old is out
    assert requests["notion"]["limit_per_s"] == 3.0
    assert requests["openphone"]["limit_per_s"] == 10.0
    assert requests["notion"]["total"] is None  # no metrics: this process's counters unknown
    [letter] = data["dead_letters"]["recent"]
    assert (letter["event_id"], letter["state"], data["dead_letters"]["count"]) == (
        "EVdead",
        "dead",
        1,
    )
    [card] = data["phone_numbers"]
    assert card["id"] == PN
    assert card["name"] == "Front desk"
    assert (card["total_calls_synced"], card["total_messages_synced"]) == (1, 2)
    assert (card["pending"], card["in_flight"], card["dead"]) == (5, 0, 1)
    assert card["state"] == "queued"
    assert card["cursors"] == {"calls": {"last_value": 1775000000000}}
    assert card["last_message_sync_at"] is not None


async def test_live_numbers_come_from_the_metrics(
    store: Store, clock: FakeClock, phone_states: PhoneStates
) -> None:
    await store.upsert_phone_number(PN, "+15550100")
    metrics = Metrics(store=store, clock=clock)
    metrics.canvas_stats = CanvasStats(memory_hits=6, table_hits=1, notion_hits=2, misses=1)

    async def last_runs() -> dict[str, int]:
        return {PN: 1_775_001_600_000}

    metrics.last_runs = last_runs
    phone_states.states[PN] = {"busy": True}
    hook = metrics.request_hook("notion")
    sources = DashboardSources(store, metrics=metrics, phone_state=phone_states, clock=clock)
    first = await dashboard_snapshot(sources)
    assert first["requests"]["apis"]["notion"]["rate_per_s"] is None  # one sample: no rate yet
    for _ in range(12):
        hook("pages.create", None)
    metrics.request_hook("openphone")("GET /calls/AC1", None)
    metrics.metered(_NoPacer(), "notion").pause(1.0)
    clock.advance(6)
    data = await dashboard_snapshot(sources)
    notion = data["requests"]["apis"]["notion"]
    assert (notion["total"], notion["rate_per_s"], notion["pauses_429"]) == (12, 2.0, 1)
    assert data["requests"]["apis"]["openphone"]["total"] == 1
    assert data["canvas"]["live"] == {"lookups": 10, "cached": 7, "notion": 3, "hit_rate": 0.7}
    [card] = data["phone_numbers"]
    assert card["state"] == "syncing"
    assert card["last_scheduled_run"] == "2026-04-01T00:00:00.000Z"


class _NoPacer:
    async def acquire(self) -> float:
        return 0.0

    def pause(self, seconds: float) -> None:
        pass


def test_the_rate_meter_measures_growth_over_its_window() -> None:
    meter = RateMeter(window=5.0, keep=60.0)
    assert meter.observe(0.0, {"notion": 0}) == {"notion": None}
    assert meter.observe(2.0, {"notion": 4}) == {"notion": 2.0}  # younger than the window
    assert meter.observe(10.0, {"notion": 24}) == {"notion": 2.5}  # since t=2
    assert meter.observe(11.0, {"notion": 26}) == {"notion": pytest.approx(22 / 9)}  # since t=2
    assert meter.observe(12.0, {"notion": 1}) == {"notion": None}  # counters restarted
    assert meter.observe(50.0, {"notion": 1}) == {"notion": 0.0}
    assert meter.observe(200.0, {"notion": 1}) == {"notion": None}  # older samples dropped


async def test_dead_letters_shown_are_capped_but_counted(store: Store) -> None:
    for i in range(DEAD_LETTERS_SHOWN + 2):
        await dead_letter(store, f"EVcap{i}", partition=None)
    data = await dashboard_snapshot(DashboardSources(store))
    assert data["dead_letters"]["count"] == DEAD_LETTERS_SHOWN + 2
    assert len(data["dead_letters"]["recent"]) == DEAD_LETTERS_SHOWN


async def test_the_endpoint_serves_the_snapshot(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    await _fill(store, clock)
    response = await client.get("/api/dashboard", headers=BEARER)
    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["events_received"] == 6
    assert body["phone_numbers"][0]["id"] == PN
