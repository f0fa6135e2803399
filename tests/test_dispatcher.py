"""The dispatcher on a real SQLite store: outcomes, retries, partitions, leases, shutdown.

Tests step with ``asyncio.Event``s and wrap every wait in ``asyncio.timeout`` so a hang fails
fast; none sleeps to wait for a condition.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from opsync.clock import FakeClock, SystemClock
from opsync.dispatcher import Defer, Dispatcher, Done, Handler, Ignore, Outcome, Reroute
from opsync.errors import NotFound, RateLimited, UpstreamUnavailable
from opsync.retry import RetryPolicy
from opsync.store import InboxEvent, Store

NOW_POLICY = RetryPolicy(base=0.0, cap=0.0, max_attempts=8)  # retries are due at once
HANG = 5.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opsync.db'}"


@pytest.fixture
async def store(db_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(db_url, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


def dispatcher(
    store: Store, handler: Handler, clock: Any, policy: RetryPolicy = NOW_POLICY, **kw: Any
) -> Dispatcher:
    kw.setdefault("owner_id", "d1")
    return Dispatcher(store, handler, policy=policy, clock=clock, rng=random.Random(1), **kw)


async def enqueue(store: Store, *events: tuple[str, str | None]) -> dict[str, int]:
    for event_id, partition in events:
        assert await store.inbox_enqueue(event_id, "call.completed", partition, {"id": event_id})
    return {e.event_id: e.id for e in await store.inbox_list(limit=1000)}


async def state_of(store: Store, inbox_id: int) -> InboxEvent:
    event = await store.inbox_get(inbox_id)
    assert event is not None
    return event


def failing(times: int, error: Callable[[], Exception]) -> tuple[Handler, list[str]]:
    calls: list[str] = []

    async def handler(event: InboxEvent) -> None:
        calls.append(event.event_id)
        if len(calls) <= times:
            raise error()

    return handler, calls


# --- outcomes ---------------------------------------------------------------------------------


async def test_transient_failures_retry_until_done(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await enqueue(store, ("e1", "A"))
    handler, calls = failing(2, lambda: UpstreamUnavailable("OpenPhone answered 503"))
    caplog.set_level(logging.INFO, logger="opsync.dispatcher")
    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock).run_until_idle() == 3
    event = await state_of(store, ids["e1"])
    assert (event.state, event.attempts, event.lease_owner) == ("done", 3, None)
    assert calls == ["e1"] * 3
    errors = await store.inbox_errors_for(ids["e1"])
    assert [(e.attempt, e.error_class) for e in errors] == [
        (1, "UpstreamUnavailable"),
        (2, "UpstreamUnavailable"),
    ]
    actions = [getattr(r, "action", None) for r in caplog.records]
    assert actions.count("event_claimed") == 3
    assert actions.count("event_retry") == 2
    assert actions.count("event_done") == 1


async def test_a_retry_waits_for_its_time(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("e1", "A"))
    handler, calls = failing(1, lambda: RateLimited("429", retry_after=30))
    run = dispatcher(store, handler, clock, RetryPolicy(base=1, cap=60, max_attempts=8))
    async with asyncio.timeout(HANG):
        assert await run.run_until_idle() == 1
        event = await state_of(store, ids["e1"])
        assert (event.state, event.next_attempt_at) == ("pending", int(clock.now() * 1000) + 30_000)
        clock.advance(29.5)
        assert await run.run_until_idle() == 0
        clock.advance(0.5)
        assert await run.run_until_idle() == 1
    assert (await state_of(store, ids["e1"])).state == "done"
    assert len(calls) == 2


async def test_a_permanent_error_sends_the_event_to_the_dead_letters(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await enqueue(store, ("e1", "A"), ("e2", "A"))
    handler, calls = failing(1, lambda: NotFound("call AC9 does not exist in OpenPhone"))
    caplog.set_level(logging.INFO, logger="opsync.dispatcher")
    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock).run_until_idle() == 2
    dead = await state_of(store, ids["e1"])
    assert (dead.state, dead.attempts) == ("dead", 1)
    assert dead.last_error == "NotFound: call AC9 does not exist in OpenPhone"
    assert (await state_of(store, ids["e2"])).state == "done"  # the partition keeps flowing
    assert calls == ["e1", "e2"]
    [record] = [r for r in caplog.records if getattr(r, "action", None) == "event_dead"]
    assert record.reason == "NotFound: call AC9 does not exist in OpenPhone"  # type: ignore[attr-defined]


async def test_the_last_attempt_dead_letters(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("e1", None))
    handler, calls = failing(100, lambda: UpstreamUnavailable("502"))
    policy = RetryPolicy(base=0, cap=0, max_attempts=3)
    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock, policy).run_until_idle() == 3
    dead = await state_of(store, ids["e1"])
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert calls == ["e1"] * 3
    errors = await store.inbox_errors_for(ids["e1"])
    assert errors[-1].message == "gave up after 3 attempts; last error UpstreamUnavailable: 502"
    assert len(errors) == 3


async def test_a_handler_bug_is_logged_and_retried(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await enqueue(store, ("e1", "A"))
    handler, _ = failing(1, lambda: KeyError("transcript"))
    async with asyncio.timeout(HANG):
        await dispatcher(store, handler, clock).run_until_idle()
    assert (await state_of(store, ids["e1"])).state == "done"
    [bug] = [r for r in caplog.records if getattr(r, "action", None) == "event_bug"]
    assert bug.levelno == logging.ERROR
    assert bug.exc_info is not None


async def test_ignore_and_reroute_outcomes(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("unknown", None), ("a1", "A"), ("late", None))
    seen: list[tuple[str, str | None]] = []

    async def handler(event: InboxEvent) -> Outcome | None:
        seen.append((event.event_id, event.partition_key))
        if event.event_id == "unknown":
            return Ignore("contact.updated is not handled")
        if event.partition_key is None:
            return Reroute("A")
        return Done() if event.event_id == "a1" else None

    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock).run_until_idle() == 4
    assert (await state_of(store, ids["unknown"])).state == "ignored"
    late = await state_of(store, ids["late"])
    assert (late.state, late.partition_key, late.attempts) == ("done", "A", 1)
    assert seen[-1] == ("late", "A")


async def test_defer_outcome_looks_again_when_due(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("a1", "A"))
    runs: list[int] = []

    async def handler(event: InboxEvent) -> Outcome | None:
        runs.append(event.attempts)
        if len(runs) == 1:
            return Defer(int(clock.now() * 1000) + 30_000)
        return Done()

    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock).run_until_idle() == 1
        waiting = await state_of(store, ids["a1"])
        assert (waiting.state, waiting.attempts) == ("pending", 0)
        clock.advance(30)
        assert await dispatcher(store, handler, clock).run_until_idle() == 1
    assert (await state_of(store, ids["a1"])).state == "done"
    assert runs == [1, 1]  # a deferral is not an attempt


async def test_an_event_claimed_too_often_without_an_outcome_is_dead_lettered(
    store: Store, clock: FakeClock
) -> None:
    ids = await enqueue(store, ("poison", "A"))
    for _ in range(2):  # two workers died while handling it
        assert await store.inbox_claim("crashed", 1.0)
        clock.advance(2)
    handler, calls = failing(0, lambda: AssertionError("not called"))
    policy = RetryPolicy(base=0, cap=0, max_attempts=2)
    async with asyncio.timeout(HANG):
        await dispatcher(store, handler, clock, policy).run_until_idle()
    dead = await state_of(store, ids["poison"])
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert dead.last_error is not None
    assert "claimed 3 times without an outcome" in dead.last_error
    assert calls == []


# --- partitions -------------------------------------------------------------------------------


async def test_partitions_run_in_parallel_but_never_overlap_within(
    store: Store, clock: FakeClock
) -> None:
    await enqueue(store, *[(f"{p}{i}", p) for i in range(3) for p in "ABC"])
    active: dict[str | None, int] = defaultdict(int)
    overlaps: list[str] = []
    peak = 0
    order: dict[str | None, list[str]] = defaultdict(list)
    first_wave = {"A0", "B0", "C0"}
    started: set[str] = set()
    all_first_started = asyncio.Event()

    async def handler(event: InboxEvent) -> None:
        nonlocal peak
        active[event.partition_key] += 1
        if active[event.partition_key] > 1:
            overlaps.append(event.event_id)
        peak = max(peak, sum(active.values()))
        order[event.partition_key].append(event.event_id)
        started.add(event.event_id)
        if first_wave <= started:
            all_first_started.set()
        if event.event_id in first_wave:
            # Finish only once the three partitions' first events are all running together.
            await all_first_started.wait()
        await asyncio.sleep(0)
        active[event.partition_key] -= 1

    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock, concurrency=4).run_until_idle() == 9
    assert overlaps == []
    assert peak == 3
    assert order == {p: [f"{p}{i}" for i in range(3)] for p in "ABC"}


async def test_concurrency_one_runs_a_single_event_at_a_time(
    store: Store, clock: FakeClock
) -> None:
    await enqueue(store, ("a", "A"), ("b", "B"), ("n", None))
    running = 0
    peak = 0

    async def handler(event: InboxEvent) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1

    async with asyncio.timeout(HANG):
        assert await dispatcher(store, handler, clock, concurrency=1).run_until_idle() == 3
    assert peak == 1


# --- leases, cancellation, shutdown -----------------------------------------------------------


def blocking() -> tuple[Handler, asyncio.Event, asyncio.Event, asyncio.Event]:
    """A handler that signals ``started``, waits for ``finish`` and records cancellation."""
    started, finish, cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(event: InboxEvent) -> None:
        started.set()
        try:
            await finish.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return handler, started, finish, cancelled


async def test_cancelling_mid_handler_releases_the_event(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("e1", "A"))
    handler, started, _, cancelled = blocking()
    task = asyncio.create_task(dispatcher(store, handler, clock).run_until_idle())
    async with asyncio.timeout(HANG):
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert cancelled.is_set()
    released = await state_of(store, ids["e1"])
    assert (released.state, released.attempts, released.lease_owner) == ("pending", 0, None)
    done, _ = failing(0, lambda: AssertionError())
    async with asyncio.timeout(HANG):
        assert await dispatcher(store, done, clock, owner_id="d2").run_until_idle() == 1
    assert (await state_of(store, ids["e1"])).attempts == 1


async def test_an_outcome_being_written_survives_a_cancel(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await enqueue(store, ("e1", "A"))
    writing, proceed = asyncio.Event(), asyncio.Event()
    real_complete = store.inbox_complete

    async def slow_complete(*args: Any, **kw: Any) -> bool:
        writing.set()
        await proceed.wait()
        return await real_complete(*args, **kw)

    monkeypatch.setattr(store, "inbox_complete", slow_complete)
    handler, _ = failing(0, lambda: AssertionError())
    task = asyncio.create_task(dispatcher(store, handler, clock).run_until_idle())
    async with asyncio.timeout(HANG):
        await writing.wait()
        task.cancel()
        await asyncio.sleep(0)  # deliver the cancel while the write is still waiting
        proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    event = await state_of(store, ids["e1"])
    assert (event.state, event.attempts) == ("done", 1)


async def test_graceful_shutdown_finishes_what_it_can_and_releases_the_rest(
    store: Store, clock: FakeClock
) -> None:
    ids = await enqueue(store, ("quick", "A"), ("slow", "B"))
    quick_started, slow_started, finish_quick = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(event: InboxEvent) -> None:
        if event.event_id == "quick":
            quick_started.set()
            await finish_quick.wait()
        else:
            slow_started.set()
            await asyncio.Event().wait()  # never finishes on its own

    stop = asyncio.Event()
    run = dispatcher(store, handler, clock, poll_interval=0.01, shutdown_grace=0.2)
    task = asyncio.create_task(run.run_forever(stop))
    async with asyncio.timeout(HANG):
        await quick_started.wait()
        await slow_started.wait()
        stop.set()
        finish_quick.set()
        await task
    assert (await state_of(store, ids["quick"])).state == "done"
    slow = await state_of(store, ids["slow"])
    assert (slow.state, slow.attempts, slow.lease_owner) == ("pending", 0, None)


async def test_shutdown_releases_interruptible_events_at_once_and_waits_for_the_rest(
    store: Store, clock: FakeClock
) -> None:
    ids = await enqueue(store, ("job", "A"), ("webhook", "B"))
    started = {"job": asyncio.Event(), "webhook": asyncio.Event()}
    finish_webhook, job_cancelled = asyncio.Event(), asyncio.Event()

    async def handler(event: InboxEvent) -> None:
        started[event.event_id].set()
        if event.event_id == "webhook":
            await finish_webhook.wait()
            return
        try:
            await asyncio.Event().wait()  # a long sync job
        except asyncio.CancelledError:
            job_cancelled.set()
            raise

    stop = asyncio.Event()
    run = dispatcher(
        store, handler, clock, poll_interval=0.01, shutdown_grace=HANG * 2,
        interruptible=lambda event: event.event_id == "job",
    )  # fmt: skip
    task = asyncio.create_task(run.run_forever(stop))
    async with asyncio.timeout(HANG):
        await started["job"].wait()
        await started["webhook"].wait()
        stop.set()
        # The job is stopped while the webhook still runs within its (long) grace.
        await job_cancelled.wait()
        assert (await state_of(store, ids["webhook"])).state == "in_flight"
        finish_webhook.set()
        await task
    job = await state_of(store, ids["job"])
    assert (job.state, job.attempts, job.lease_owner) == ("pending", 0, None)
    assert (await state_of(store, ids["webhook"])).state == "done"


async def test_run_forever_picks_up_events_enqueued_while_it_runs(
    store: Store, clock: FakeClock
) -> None:
    seen = asyncio.Event()

    async def handler(event: InboxEvent) -> None:
        seen.set()

    stop = asyncio.Event()
    task = asyncio.create_task(
        dispatcher(store, handler, clock, poll_interval=0.01).run_forever(stop)
    )
    async with asyncio.timeout(HANG):
        ids = await enqueue(store, ("late", "A"))
        await seen.wait()
        stop.set()
        await task
    assert (await state_of(store, ids["late"])).state == "done"


async def test_the_heartbeat_keeps_the_lease(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lease = 0.3
    async with await Store.open(db_url) as store, await Store.open(db_url) as rival:
        ids = await enqueue(store, ("e1", "A"))
        beats: list[bool] = []
        three_beats = asyncio.Event()
        real_heartbeat = store.inbox_heartbeat

        async def counting_heartbeat(*args: Any) -> bool:
            beats.append(await real_heartbeat(*args))
            if len(beats) == 3:
                three_beats.set()
            return beats[-1]

        monkeypatch.setattr(store, "inbox_heartbeat", counting_heartbeat)

        async def handler(event: InboxEvent) -> None:
            await three_beats.wait()  # by now the first lease (0.3 s) has run out
            assert await rival.inbox_claim("rival", lease) == []

        run = dispatcher(store, handler, SystemClock(), lease_seconds=lease)
        async with asyncio.timeout(HANG):
            assert await run.run_until_idle() == 1
        assert beats == [True, True, True]
        assert (await state_of(store, ids["e1"])).state == "done"


async def test_a_lost_lease_cancels_the_handler(store: Store, clock: FakeClock) -> None:
    ids = await enqueue(store, ("e1", "A"))
    handler, started, _, cancelled = blocking()
    run = dispatcher(store, handler, clock, lease_seconds=0.3)
    task = asyncio.create_task(run.run_until_idle())
    async with asyncio.timeout(HANG):
        await started.wait()
        clock.advance(1)  # the lease runs out before the first heartbeat; a rival takes over
        [stolen] = await store.inbox_claim("rival", 60)
        await cancelled.wait()
        assert await task == 1
    assert stolen.id == ids["e1"]
    event = await state_of(store, ids["e1"])
    assert (event.state, event.lease_owner, event.attempts) == ("in_flight", "rival", 2)
