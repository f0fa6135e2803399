"""The incremental sync of a phone number, against both simulators in-process: every item
once, nothing again when nothing is new, new items picked up, interruptions resumed, late
artefacts filled in, and list pages streamed."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsync.dispatcher import Dispatcher
from opsync.errors import InvalidPayload
from opsync.retry import RetryPolicy
from opsync.store.rows import ResourceType
from opsync.sync import ActorRegistry, make_handler
from opsync.sync._sync_state import CURSOR_NAME, SyncState, load_state
from opsync.sync.incremental import SyncOptions
from opsync.sync.jobs import SYNC_EVENT_TYPE, SyncJob, enqueue_sync_job
from tests.sync.conftest import Env

LIST_CALLS = "GET /v1/calls"
LIST_MESSAGES = "GET /v1/messages"
LIST_CONVERSATIONS = "GET /v1/conversations"
_ids = itertools.count(1)


def options(page_size: int = 2) -> SyncOptions:
    return SyncOptions(page_size=page_size)


def own_calls(env: Env) -> list[str]:
    return [c.id for c in env.workspace.calls.values() if c.phone_number_id == env.pn_id]


def own_messages(env: Env) -> list[str]:
    return [m.id for m in env.workspace.messages.values() if m.phone_number_id == env.pn_id]


def finish_all(env: Env) -> None:
    for call_id in own_calls(env):
        env.workspace.finish_call(call_id)


def assert_one_page_each(env: Env) -> None:
    assert [c for c in own_calls(env) if len(env.call_pages(c)) != 1] == []
    assert [m for m in own_messages(env) if len(env.message_pages(m)) != 1] == []


async def run_job(
    env: Env, registry: ActorRegistry, *, queue: bool = True, **job: Any
) -> dict[str, Any]:
    """Queue a sync job (unless ``queue`` is False: one is waiting for its retry) and drain
    the inbox with the real dispatcher; the stored summary of the last run."""
    store = env.ctx.store
    if queue:
        queued = await enqueue_sync_job(
            store, SyncJob(env.pn_id, **job), event_id=f"test:{env.pn_id}:{next(_ids)}"
        )
        assert queued
    dispatcher = Dispatcher(
        store, make_handler(registry), policy=RetryPolicy(max_attempts=3), clock=env.clock
    )
    async with asyncio.timeout(30):
        await dispatcher.run_until_idle()
    raw = await store.kv_get(f"sync:last:{env.pn_id}")
    assert raw is not None
    summary: dict[str, Any] = json.loads(raw)
    return summary


@pytest.fixture
def registry(env: Env) -> ActorRegistry:
    return ActorRegistry(env.ctx, idle_seconds=600.0, sync_options=options())


async def test_every_call_and_message_gets_exactly_one_page(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    calls, messages = own_calls(env), own_messages(env)
    assert len(calls) >= 10
    assert len(messages) >= 10

    summary = await run_job(env, registry, all=True, source="backfill")

    assert_one_page_each(env)
    assert summary["status"] == "done"
    assert summary["created"] == len(calls) + len(messages)
    assert summary["failed"] == 0
    # streamed: with 2 items a page, counterparts with 3+ calls or messages took several pages
    conversations = sum(
        1 for c in env.workspace.conversations.values() if c.phone_number_id == env.pn_id
    )
    assert env.openphone_sim.counters[LIST_CALLS] > conversations
    assert env.openphone_sim.counters[LIST_MESSAGES] > conversations
    assert env.openphone_sim.counters[LIST_CONVERSATIONS] >= conversations / 2
    cursor = (await env.ctx.store.phone_cursors_get(env.pn_id))[CURSOR_NAME]
    assert cursor["calls"]["window"] is None  # closed: the cursor moved to the window's end
    assert cursor["calls"]["last_value"] is not None


async def test_a_run_with_nothing_new_lists_conversations_only(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    await run_job(env, registry, all=True)
    env.clock.advance(60)
    env.openphone_sim.counters.reset()
    notion_before = env.notion_requests()

    summary = await run_job(env, registry)

    assert env.notion_requests() == notion_before
    assert set(env.openphone_sim.counters.by_endpoint) <= {LIST_CONVERSATIONS}
    assert env.openphone_sim.counters.total <= 1
    assert summary["seen"] == 0
    assert summary["synced"] == 0
    assert summary["failed"] == 0


async def test_new_items_after_a_run_are_picked_up(env: Env, registry: ActorRegistry) -> None:
    finish_all(env)
    await run_job(env, registry, all=True)
    env.clock.advance(600)
    known = own_calls(env)[0]
    old_party = env.workspace.calls[known].participant
    first = env.add_call(old_party, talk_seconds=40)
    env.workspace.finish_call(first)
    second = env.add_call("+14155559876", direction="outgoing", outcome="busy")
    env.workspace.finish_call(second)
    text = env.workspace.add_message(env.pn_id, [old_party], "Any news?", at=env.clock.now())
    env.clock.advance(600)
    env.openphone_sim.counters.reset()

    summary = await run_job(env, registry)

    assert summary["created"] == 3
    assert summary["failed"] == 0
    assert summary["skipped"] == 0
    assert summary["unchanged"] == 0
    assert_one_page_each(env)
    assert len(env.message_pages(text.id)) == 1
    counters = env.openphone_sim.counters
    assert counters[LIST_CALLS] == 2
    assert counters[LIST_MESSAGES] == 2


async def test_a_run_failing_midway_resumes_without_duplicates_or_gaps(
    env: Env, registry: ActorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    finish_all(env)
    actor = await registry.actor(env.pn_id)
    original = actor._reconcile
    done = itertools.count(1)

    async def failing_after_five(*args: Any) -> Any:
        result = await original(*args)
        if next(done) == 5:  # from now on, every OpenPhone request fails
            env.openphone_sim.faults.configure(p500=1.0, exempt_prefixes=("/media/",))
        return result

    monkeypatch.setattr(actor, "_reconcile", failing_after_five)
    first = await run_job(env, registry, all=True)
    assert first["failed"] > 0
    missing = [c for c in own_calls(env) if not env.call_pages(c)]
    missing += [m for m in own_messages(env) if not env.message_pages(m)]
    assert missing  # the run really stopped short

    # The conversations were listed before the failures began: the job finishes, with the
    # conversations whose items failed kept "behind" for the next run to take first.
    assert first["status"] == "done"
    behind = (await env.ctx.store.phone_cursors_get(env.pn_id))[CURSOR_NAME]
    assert behind["calls"]["behind"] or behind["messages"]["behind"]

    env.openphone_sim.faults.clear()
    env.clock.advance(3600)
    second = await run_job(env, registry)

    assert second["failed"] == 0
    assert_one_page_each(env)
    cursor = (await env.ctx.store.phone_cursors_get(env.pn_id))[CURSOR_NAME]
    assert cursor["calls"]["behind"] == {}
    assert cursor["messages"]["behind"] == {}


async def test_a_cancelled_run_is_released_with_its_cursor_saved_and_resumes(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    actor = await registry.actor(env.pn_id)
    original = actor._reconcile
    reconciled: list[str] = []
    enough, never = asyncio.Event(), asyncio.Event()

    async def stalling(resource_type: ResourceType, resource_id: str, *rest: Any) -> Any:
        if len(reconciled) == 8:
            enough.set()
            await never.wait()  # hangs until cancelled
        result = await original(resource_type, resource_id, *rest)
        reconciled.append(resource_id)
        return result

    actor._reconcile = stalling  # type: ignore[method-assign]
    store = env.ctx.store
    assert await enqueue_sync_job(store, SyncJob(env.pn_id, all=True), event_id="backfill:1")
    dispatcher = Dispatcher(
        store, make_handler(registry), policy=RetryPolicy(max_attempts=3), clock=env.clock
    )
    worker = asyncio.create_task(dispatcher.run_forever(asyncio.Event()))  # as Ctrl-C finds it
    async with asyncio.timeout(20):
        await enough.wait()
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker

    (event,) = await store.inbox_list()
    assert (event.state, event.attempts, event.lease_owner) == ("pending", 0, None)  # released
    cursor = (await store.phone_cursors_get(env.pn_id))[CURSOR_NAME]
    window = cursor["calls"]["window"]
    assert window is not None
    assert window["done"]  # saved as it went
    last = json.loads(await store.kv_get(f"sync:last:{env.pn_id}") or "{}")
    assert last["status"] == "interrupted"

    actor._reconcile = original  # type: ignore[method-assign]
    resumed = await run_job(env, registry, queue=False)

    assert resumed["status"] == "done"
    assert_one_page_each(env)
    total = len(own_calls(env)) + len(own_messages(env))
    assert resumed["created"] == total - len(reconciled)
    assert resumed["seen"] < total  # the conversations done before the cancel: not listed


async def test_the_pending_pass_fills_a_transcript_that_arrived_later(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)  # the generated calls have everything: only this one will be pending
    call_id = env.add_call(talk_seconds=60)
    workspace = env.workspace
    assert workspace.advance_call(call_id) == "completed"
    assert workspace.advance_call(call_id) == "recording"
    env.clock.advance(600)
    await run_job(env, registry)
    page = env.call_pages(call_id)[0]
    assert env.properties(page)["Has Transcript"]["checkbox"] is False

    assert workspace.finish_call(call_id) == ["transcript", "summary"]
    env.clock.advance(3600)
    env.openphone_sim.counters.reset()
    summary = await run_job(env, registry)

    props = env.properties(page)
    assert props["Has Transcript"]["checkbox"] is True
    assert props["Has Summary"]["checkbox"] is True
    assert summary["pending_checked"] >= 1
    counters = env.openphone_sim.counters
    assert counters["GET /v1/call-transcripts/{id}"] == 1
    assert counters["GET /v1/call-summaries/{callId}"] == 1
    assert counters["GET /v1/call-recordings/{callId}"] == 0  # it had them already
    assert counters["GET /v1/calls/{callId}"] == 0


async def test_the_first_run_covers_the_initial_window_only(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    now = datetime.fromtimestamp(env.clock.now(), UTC)
    recent = [
        c for c in own_calls(env)
        if env.workspace.calls[c].created_at >= (now - timedelta(days=1)).timestamp()
    ]  # fmt: skip

    summary = await run_job(env, registry, messages=False)

    synced = [c for c in own_calls(env) if env.call_pages(c)]
    assert sorted(synced) == sorted(recent)
    assert summary["created"] == len(recent)


async def test_a_waiting_job_is_not_queued_twice(env: Env) -> None:
    store = env.ctx.store
    job = SyncJob(env.pn_id)
    assert await enqueue_sync_job(store, job, event_id="sync:a:1")
    assert not await enqueue_sync_job(store, job, event_id="sync:a:2")
    assert not await enqueue_sync_job(store, job, event_id="sync:a:1")
    assert await enqueue_sync_job(store, SyncJob("PNother"), event_id="sync:b:1")
    claimed = await store.inbox_claim("worker", 60, limit=5)
    assert {event.event_id for event in claimed} == {"sync:a:1", "sync:b:1"}
    # running is not waiting: the next period's job may queue behind it
    assert await enqueue_sync_job(store, job, event_id="sync:a:3")


async def test_reconcile_outcomes_are_counted(env: Env, registry: ActorRegistry) -> None:
    finish_all(env)
    await run_job(env, registry, all=True)
    env.clock.advance(60)
    again = await run_job(env, registry, all=True)  # everything listed again
    assert again["created"] == 0
    assert again["updated"] == 0
    assert again["unchanged"] + again["skipped"] == len(own_calls(env)) + len(own_messages(env))


def test_a_sync_job_round_trips_through_its_payload() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    job = SyncJob("PN1", calls=True, messages=False, since=since, all=False, source="backfill")
    assert SyncJob.from_json(json.dumps(job.to_json())) == job
    assert SyncJob.from_json({"phone_number_id": "PN2"}) == SyncJob("PN2")


@pytest.mark.parametrize(
    "payload",
    [
        "[]",
        "{}",
        '{"phone_number_id": "PN1", "calls": "yes"}',
        '{"phone_number_id": "PN1", "since": "yesterday"}',
        '{"phone_number_id": "PN1", "source": "moon"}',
        '{"phone_number_id": "PN1", "since": "2026-03-01T00:00:00"}',
    ],
)
def test_a_bad_sync_job_payload_is_invalid(payload: str) -> None:
    with pytest.raises(InvalidPayload, match="sync job payload"):
        SyncJob.from_json(payload)


SAVED_V1 = {
    "state_version": 1,
    "calls": {
        "last_value": "2026-04-01T00:00:00+00:00",
        "boundary_ids": ["ACcall1"],
        "seen": ["CNa@2026-03-31T23:58:00+00:00"],
        "window": {
            "start": "2026-03-31T23:55:00+00:00",
            "end": "2026-04-01T06:00:00+00:00",
            "done": ["CNa"],
            "boundary_ids": [],
            "seen": [],
        },
        "behind": {"CNb": {"since": None, "participants": ["+14155550123"]}},
    },
    "messages": {
        "last_value": None,
        "boundary_ids": [],
        "seen": [],
        "window": None,
        "behind": {},
    },
}


def test_a_saved_cursor_loads_as_it_was() -> None:
    state = load_state(SAVED_V1)
    assert state.to_json() == SAVED_V1
    calls = state["calls"]
    assert calls.window is not None
    assert calls.window.covers(datetime(2026, 4, 1, tzinfo=UTC))
    assert calls.behind["CNb"].since is None


@pytest.mark.parametrize("raw", [None, "text", {"state_version": 99}, {"state_version": "1"}])
def test_an_unreadable_or_newer_cursor_starts_afresh(raw: Any) -> None:
    assert load_state(raw).to_json() == SyncState().to_json()


def test_a_window_starts_a_lag_before_the_cursor_or_earlier_when_asked() -> None:
    state = load_state(SAVED_V1)
    now = datetime(2026, 4, 2, tzinfo=UTC)
    lag, day = timedelta(minutes=5), timedelta(days=1)
    calls, messages = state["calls"], state["messages"]
    last = datetime(2026, 4, 1, tzinfo=UTC)
    start = calls.start_for(now=now, since=None, everything=False, initial_window=day, lag=lag)
    assert start == last - lag
    earlier = datetime(2026, 1, 1, tzinfo=UTC)
    asked = calls.start_for(now=now, since=earlier, everything=False, initial_window=day, lag=lag)
    assert asked == earlier
    later = calls.start_for(now=now, since=now, everything=False, initial_window=day, lag=lag)
    assert later == last - lag  # never skips what the cursor has not covered
    first = messages.start_for(now=now, since=None, everything=False, initial_window=day, lag=lag)
    assert first == now - day
    whole = messages.start_for(now=now, since=None, everything=True, initial_window=day, lag=lag)
    assert whole is None


async def test_sync_calls_and_sync_messages_each_sync_their_kind(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    actor = await registry.actor(env.pn_id)

    calls = await actor.sync_calls(all_=True)

    assert calls.kinds == ["calls"]
    assert calls.created == len(own_calls(env))
    assert [m for m in own_messages(env) if env.message_pages(m)] == []
    messages = await actor.sync_messages(all_=True)
    assert messages.created == len(own_messages(env))
    assert_one_page_each(env)


async def test_a_webhook_cannot_start_a_sync(env: Env, registry: ActorRegistry) -> None:
    actor = await registry.actor(env.pn_id)
    event = env.inbox_event(
        {"id": "EVsync", "type": SYNC_EVENT_TYPE, **SyncJob(env.pn_id).to_json()},
        event_type=SYNC_EVENT_TYPE,
    )
    result = await actor.handle(event)
    assert result.status == "ignored"
    assert await env.ctx.store.kv_get(f"sync:last:{env.pn_id}") is None


async def test_an_openphone_outage_fails_the_job_for_the_inbox_to_retry(
    env: Env, registry: ActorRegistry
) -> None:
    finish_all(env)
    env.openphone_sim.faults.configure(p500=1.0, exempt_prefixes=("/media/",))
    store = env.ctx.store
    assert await enqueue_sync_job(store, SyncJob(env.pn_id, all=True), event_id="first")
    dispatcher = Dispatcher(
        store, make_handler(registry), policy=RetryPolicy(max_attempts=3), clock=env.clock
    )
    async with asyncio.timeout(30):
        await dispatcher.run_until_idle()
    [waiting] = await store.inbox_list(state="pending")
    assert waiting.attempts == 1  # failed once, waiting for its retry
    assert waiting.last_error is not None
    assert not await enqueue_sync_job(env.ctx.store, SyncJob(env.pn_id), event_id="cron:1")
    env.openphone_sim.faults.clear()
    env.clock.advance(3600)
    second = await run_job(env, registry, queue=False)
    assert second["status"] == "done"
    assert_one_page_each(env)
