"""The scenario plan, the compressed clock, and request attribution."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.demo.metering import NotionMeter, openphone_kind, openphone_requests
from opsync.demo.scenario import (
    CompressedClock,
    ScenarioOptions,
    build_scenario,
    play_scenario,
    seed_canvas,
)
from opsync.sandbox.notion import NotionSimulator, seed_databases
from opsync.sandbox.openphone import Target, WebhookEmitter
from opsync.sandbox.openphone.webhooks import Delivery, Event

NOW = 1_775_001_600.0


def test_the_plan_is_seeded_and_has_every_ingredient() -> None:
    first = build_scenario(ScenarioOptions(seed=4), NOW)
    again = build_scenario(ScenarioOptions(seed=4), NOW)
    other = build_scenario(ScenarioOptions(seed=5), NOW)

    assert first.calls == again.calls
    assert first.messages == again.messages
    assert first.canvas == again.canvas
    assert first.calls != other.calls
    assert (len(first.calls), len(first.messages)) == (30, 100)
    assert {c.phone_number_id for c in first.calls} == {
        n["id"] for n in first.workspace.phone_numbers
    }
    assert Counter(c.delivering for c in first.calls).keys() == {"ordered", "shuffled", "burst"}
    assert Counter(m.delivering for m in first.messages).keys() == {"ordered", "burst"} | {
        "shuffled"
    }
    assert {c.outcome for c in first.calls} >= {"answered", "voicemail", "missed", "busy"}
    assert {c.direction for c in first.calls} == {"incoming", "outgoing"}
    assert max(c.talk_seconds for c in first.calls) >= 1500  # a long transcript


async def test_lives_start_at_the_real_time_they_are_played() -> None:
    """The ringing goes out at ``createdAt`` (wall time); the later stages carry their natural
    times, reached sooner on the compressed clock. (One life: the sleeps of concurrent
    tasks on a FakeClock would add up.)"""
    scenario = build_scenario(ScenarioOptions(calls=1, messages=0, burst_share=0.0), NOW)
    base = FakeClock(NOW)
    clock = CompressedClock(100.0, base)
    sent: dict[tuple[str, str], float] = {}

    async def deliver(events: list[Event]) -> list[Delivery]:
        for event in events:
            resource_id = event.resource.get("id") or event.resource["callId"]
            sent[(event.type, resource_id)] = base.now()
        return []

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WebhookEmitter, "add_registered_webhooks", _one_target)
        patch.setattr(WebhookEmitter, "deliver", lambda self, events: deliver(events))
        async with httpx.AsyncClient() as http:
            played = await play_scenario(scenario, clock, "http://sim", http)

    (call_id,) = played.call_ids
    call = scenario.workspace.calls[call_id]
    assert call.created_at == pytest.approx(sent[("call.ringing", call_id)], abs=0.01)
    assert call.completed_at is not None
    assert call.completed_at - call.created_at == 6 + call.talk_seconds
    real = sent[("call.completed", call_id)] - sent[("call.ringing", call_id)]
    assert real == pytest.approx((6 + call.talk_seconds) / 100, abs=0.01)


def _one_target(self: WebhookEmitter) -> None:
    self.targets.append(Target("http://service/webhooks/openphone", "c2VjcmV0"))


def test_canvas_pages_spell_numbers_three_ways_and_one_is_ours() -> None:
    scenario = build_scenario(ScenarioOptions(), NOW)
    spelled = [entry.spelled for entry in scenario.canvas]
    own = scenario.own_numbers

    assert any(s.startswith("+1") for s in spelled)
    assert any(s.startswith("(") for s in spelled)
    assert any(s[3] == "-" for s in spelled)
    assert own[1] in {entry.e164 for entry in scenario.canvas}
    internal = scenario.messages[-1]
    assert internal.participant == own[1]
    assert internal.direction == "outgoing"


def test_seed_canvas_creates_one_page_per_entry() -> None:
    scenario = build_scenario(ScenarioOptions(calls=2, messages=2), NOW)
    sim = NotionSimulator(clock=FakeClock(NOW), rate_limit=None)
    ids = seed_databases(sim.state)

    pages = seed_canvas(sim.state, ids.canvas_data_source_id, scenario.canvas)

    assert set(pages) == {entry.e164 for entry in scenario.canvas}
    stored = {p.id: p for p in sim.state.pages.values()}
    assert all(
        stored[page_id].data_source_id == ids.canvas_data_source_id for page_id in pages.values()
    )


async def test_the_compressed_clock_keeps_wall_time_and_speeds_up_waiting() -> None:
    base = FakeClock(NOW)
    clock = CompressedClock(100.0, base)

    await clock.sleep(50.0)

    assert base.slept == [0.5]
    assert clock.now() == base.now() == NOW + 0.5
    assert clock.monotonic() == pytest.approx(50.0)
    with pytest.raises(ValueError, match="compression"):
        CompressedClock(0)


@pytest.mark.parametrize(
    ("endpoint", "kind"),
    [
        ("GET /v1/calls/{callId}", "calls"),
        ("GET /v1/call-recordings/{callId}", "calls"),
        ("GET /v1/call-transcripts/{id}", "calls"),
        ("GET /media/{kind}/{name}", "calls"),
        ("GET /v1/messages/{id}", "messages"),
        ("GET /v1/phone-numbers", "shared"),
        ("POST /v1/webhooks/calls", "setup"),
    ],
)
def test_openphone_requests_are_attributed_by_endpoint(endpoint: str, kind: str) -> None:
    assert openphone_kind(endpoint) == kind


def test_openphone_requests_add_up_per_kind() -> None:
    counts = openphone_requests({"GET /v1/calls/{callId}": 3, "GET /v1/call-summaries/{callId}": 2})
    assert counts == Counter({"calls": 5})


def test_notion_requests_are_attributed_by_what_they_touch() -> None:
    sim = NotionSimulator(clock=FakeClock(NOW), rate_limit=None)
    ids = seed_databases(sim.state)
    meter = NotionMeter(
        sim.app,
        sim.state,
        {ids.calls_data_source_id: "calls", ids.canvas_data_source_id: "canvas"},
    )
    page = sim.state.create_page(
        {
            "parent": {"data_source_id": ids.calls_data_source_id},
            "properties": {"Call ID": {"title": [{"text": {"content": "AC1"}}]}},
            "children": [{"paragraph": {"rich_text": [{"text": {"content": "x"}}]}}],
        }
    )
    block = sim.state.pages[page["id"]].children[0]
    calls_parent = f'{{"parent": {{"data_source_id": "{ids.calls_data_source_id}"}}}}'.encode()
    db_parent = f'{{"parent": {{"database_id": "{ids.calls_database_id}"}}}}'.encode()

    assert meter.kind("POST", "/v1/pages", calls_parent) == "calls"
    assert meter.kind("POST", "/v1/pages", db_parent) == "calls"
    assert meter.kind("POST", "/v1/pages", b"not json") == "shared"
    assert meter.kind("PATCH", f"/v1/pages/{page['id'].replace('-', '')}", b"") == "calls"
    assert meter.kind("PATCH", f"/v1/blocks/{page['id']}/children", b"") == "calls"
    assert meter.kind("DELETE", f"/v1/blocks/{block}", b"") == "calls"
    assert (
        meter.kind("POST", f"/v1/data_sources/{ids.canvas_data_source_id}/query", b"") == "canvas"
    )
    assert meter.kind("GET", f"/v1/databases/{ids.calls_database_id}", b"") == "shared"
    title_body = b'{"properties": {"Call ID": {"title": [{"text": {"content": "AC2"}}]}}}'
    assert meter.title("POST", "/v1/pages", title_body) == "AC2"
    assert meter.title("PATCH", f"/v1/pages/{page['id']}", b"") == "AC1"
    assert meter.title("DELETE", f"/v1/blocks/{block}", b"") == "AC1"
    assert meter.title("POST", f"/v1/data_sources/{ids.calls_data_source_id}/query", b"") is None
