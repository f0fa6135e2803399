"""PhoneNumberSync and its registry: activation, analytics rows, totals, eviction, routing
of events without a partition, and state as JSON."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from opsync.dispatcher import Done, Ignore, Reroute
from opsync.errors import UpstreamUnavailable
from opsync.sync import ActorRegistry, make_handler
from tests.sync.conftest import PUBLIC_BASE, Env


async def test_analytics_rows_and_totals_follow_a_call_life(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=60)
    handler = make_handler(registry)
    life = env.call_life(call_id)
    for raw in [*life, life[-1]]:
        async with asyncio.timeout(10):
            assert await handler(env.inbox_event(raw)) == Done()

    store = env.ctx.store
    history = await store.execute_query(
        "SELECT resource_type, resource_id, sync_status, notion_page_id, canvas_id, "
        "processing_time_ms FROM sync_history ORDER BY id"
    )
    page = env.call_pages(call_id)[0]
    statuses = [row[2] for row in history.rows]
    assert statuses == ["success"] * 5 + ["skipped"]
    assert {(row[0], row[1], row[3], row[4]) for row in history.rows} == {
        ("call", call_id, page, env.canvas_page)
    }
    assert all(row[5] is not None for row in history.rows)
    metrics = await store.execute_query(
        "SELECT metric_type, operation, success FROM performance_metrics"
    )
    operations = {(row[0], row[1]) for row in metrics.rows}
    assert {("api_call", "get_call_recordings"), ("api_call", "list_phone_numbers")} <= operations
    assert {("notion_query", "create_page"), ("notion_query", "update_page")} <= operations
    assert ("notion_query", "append_blocks") in operations
    assert all(row[2] == 1 for row in metrics.rows)
    row = await store.get_phone_number(env.pn_id)
    assert row is not None
    assert (row.number, row.total_calls_synced, row.total_messages_synced) == (
        env.own_number,
        1,
        0,
    )
    assert row.last_call_sync_at is not None


async def test_a_failure_is_recorded_and_raised(env: Env, registry: ActorRegistry) -> None:
    call_id = env.add_call(talk_seconds=30)
    completed = env.call_life(call_id)[2]  # call.recording.completed: fetches recordings
    actor = await registry.actor(env.pn_id)
    env.openphone_sim.faults.configure(p500=1.0)
    with pytest.raises(UpstreamUnavailable):
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(completed))
    env.openphone_sim.faults.clear()

    history = await env.ctx.store.execute_query(
        "SELECT sync_status, error_message FROM sync_history"
    )
    assert len(history.rows) == 1
    assert history.rows[0][0] == "failed"
    assert "UpstreamUnavailable" in history.rows[0][1]


async def test_an_unknown_event_type_is_ignored(env: Env, registry: ActorRegistry) -> None:
    handler = make_handler(registry)
    raw = {"id": "EVx1", "type": "contact.updated", "createdAt": "2026-04-01T00:00:00Z",
           "data": {"object": {"id": "CT1"}}}  # fmt: skip

    async with asyncio.timeout(10):
        routed = await handler(env.inbox_event(raw, partition=None))
        handled = await handler(env.inbox_event(raw))

    assert isinstance(routed, Ignore)
    assert isinstance(handled, Ignore)
    assert env.notion_requests() == 0


async def test_an_event_without_partition_is_routed_through_the_fetched_call(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=45)
    env.workspace.finish_call(call_id)
    summary = env.emitter.call_event("call.summary.completed", call_id, env.clock.now())
    raw = summary.envelope("new")
    handler = make_handler(registry)

    async with asyncio.timeout(10):
        routed = await handler(env.inbox_event(raw, partition=None))
        again = await handler(env.inbox_event(raw, partition=None))
        done = await handler(env.inbox_event(raw, partition=env.pn_id))

    assert routed == again == Reroute(env.pn_id)
    assert done == Done()
    assert env.openphone_sim.counters["GET /v1/calls/{callId}"] == 1  # the snapshot is reused
    props = env.properties(env.call_pages(call_id)[0])
    assert props["Has Summary"]["checkbox"] is True


async def test_a_backfill_fetches_the_voicemail_and_stores_its_audio(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(outcome="voicemail")
    ringing = env.emitter.call_event("call.ringing", call_id, env.clock.now())
    assert env.workspace.advance_call(call_id) == "completed"
    completed = env.emitter.call_event("call.completed", call_id, env.clock.now())
    actor = await registry.actor(env.pn_id)
    for event in (ringing, completed):
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(event.envelope("legacy")))
    pending = env.properties(env.call_pages(call_id)[0])
    assert pending["Has Voicemail"]["checkbox"] is True  # announced, not yet transcribed
    assert pending["Voicemail URL"]["url"] is None
    assert env.workspace.advance_call(call_id) == "voicemail"  # no webhook for this stage
    backfill = {**completed.envelope("legacy"), "id": "EVbackfill1"}

    async with asyncio.timeout(10):
        result = await actor.handle(env.inbox_event(backfill, source="cron"))

    assert result.status == "success"
    props = env.properties(env.call_pages(call_id)[0])
    assert props["Has Voicemail"]["checkbox"] is True
    assert props["Voicemail URL"]["url"].startswith(f"{PUBLIC_BASE}/media/voicemails/")
    assert plain_text(props["Voicemail Transcript"]["rich_text"])
    files = [p for p in (env.blobs_root / "voicemails").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert re.fullmatch(r"AC[0-9a-f]+-\d+\.mp3", files[0].name)


def plain_text(rich: list[dict[str, str]]) -> str:
    return "".join(item["plain_text"] for item in rich)


async def test_idle_actors_are_evicted_and_state_survives_in_the_store(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=30)
    actor = await registry.actor(env.pn_id)
    async with asyncio.timeout(10):
        await actor.handle(env.inbox_event(env.call_life(call_id)[0]))
    live = await registry.state_of(env.pn_id)
    assert live is not None
    assert live["active"]
    assert live["canvas_memory"]
    json.dumps(live)

    env.clock.advance(599)
    assert registry.evict_idle() == []
    assert env.pn_id in registry
    env.clock.advance(1)
    assert registry.evict_idle() == [env.pn_id]
    assert len(registry) == 0

    stored = await registry.state_of(env.pn_id)
    assert stored is not None
    assert not stored["active"]
    assert stored["phone_number"]["total_calls_synced"] == 1
    assert await registry.state_of("PNunknown") is None
    again = await registry.actor(env.pn_id)
    assert again is not actor
    assert again.active
    assert again.canvas_memory == {}


async def test_cursors_are_written_through(env: Env, registry: ActorRegistry) -> None:
    actor = await registry.actor(env.pn_id)
    await actor.set_cursor("calls", {"last_value": 123})
    registry.evict_idle()
    env.clock.advance(10_000)
    registry.evict_idle()

    fresh = await registry.actor(env.pn_id)

    assert fresh is not actor
    assert fresh.state()["cursors"] == {"calls": {"last_value": 123}}
