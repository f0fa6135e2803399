"""The scheduler against the OpenPhone simulator (in-process) and a SQLite store, on a
FakeClock: firings, the lease between instances, inactive and new numbers, run_forever."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.config import load_settings
from opsync.errors import ConfigError, UpstreamUnavailable
from opsync.openphone import OpenPhoneClient
from opsync.openphone.models import PhoneNumber
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace
from opsync.scheduler import PhoneNumberLister, Scheduler
from opsync.service import open_service, stop_within
from opsync.store import InboxEvent, Store
from opsync.sync.jobs import SYNC_EVENT_TYPE, SyncJob

API_KEY = "scheduler-test-key"
MIDNIGHT = 1_775_001_600.0  # 2026-04-01T00:00:00Z
HOUR = 3600.0
CRON = "0 */6 * * *"


class StepClock(FakeClock):
    """A FakeClock that sets ``stop`` at its ``stop_after``-th sleep; a ``blocking`` one never
    wakes from a sleep (``sleeping`` is set once one starts)."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.stop = asyncio.Event()
        self.stop_after = 0
        self.blocking = False
        self.sleeping = asyncio.Event()
        self.on_sleep: Callable[[], Awaitable[None]] | None = None

    async def sleep(self, seconds: float) -> None:
        if self.blocking:
            self.slept.append(seconds)
            self.sleeping.set()
            await asyncio.Event().wait()
        await super().sleep(seconds)
        if self.on_sleep is not None:
            await self.on_sleep()
        if self.stop_after and len(self.slept) >= self.stop_after:
            self.stop.set()


@dataclass
class Env:
    clock: StepClock
    store: Store
    url: str
    sim: OpenPhoneSimulator
    openphone: OpenPhoneClient

    @property
    def numbers(self) -> list[str]:
        return [n["id"] for n in self.sim.workspace.phone_numbers]

    def scheduler(self, owner: str = "instance-a") -> Scheduler:
        return Scheduler(self.store, self.openphone, cron=CRON, clock=self.clock, owner=owner)

    async def sync_events(self) -> list[InboxEvent]:
        events = await self.store.inbox_list(limit=1000)
        return [e for e in events if e.event_type == SYNC_EVENT_TYPE]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = StepClock(MIDNIGHT + 3 * HOUR)
    workspace = generate_workspace(seed=3, now=clock.now())
    sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY), clock=clock)
    url = f"sqlite:///{tmp_path / 'opsync.db'}"
    store = await Store.open(url, clock=clock)
    assert isinstance(store, Store)
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport) as http:
        openphone = OpenPhoneClient(http, API_KEY, base_url="http://sim.test/v1", clock=clock)
        try:
            yield Env(clock, store, url, sim, openphone)
        finally:
            await store.close()


def at(hours: float) -> str:
    """The event id suffix of the period starting ``hours`` after 2026-04-01T00:00Z."""
    return datetime.fromtimestamp(MIDNIGHT + hours * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- tick ---------------------------------------------------------------------------------------


async def test_a_due_tick_queues_one_sync_job_per_number(env: Env) -> None:
    assert len(env.numbers) == 3
    queued = await env.scheduler().tick()
    assert sorted(queued) == sorted(env.numbers)
    events = await env.sync_events()
    assert sorted(e.event_id for e in events) == sorted(f"sync:{pn}:{at(0)}" for pn in env.numbers)
    for event in events:
        assert (event.source, event.state, event.partition_key) == (
            "cron",
            "pending",
            event.event_id.split(":")[1],
        )
        assert SyncJob.from_json(event.payload) == SyncJob(event.partition_key or "", source="cron")
    # Each number got its phone_numbers row on first sight.
    for number in env.sim.workspace.phone_numbers:
        row = await env.store.get_phone_number(number["id"])
        assert row is not None
        assert (row.number, row.name, row.is_active) == (number["number"], number["name"], True)


async def test_the_same_period_fires_once_and_the_next_period_fires_again(env: Env) -> None:
    scheduler = env.scheduler()
    assert len(await scheduler.tick()) == 3
    env.clock.advance(2 * HOUR + 59 * 60)  # 05:59, same period
    assert await scheduler.tick() == []
    assert len(await env.sync_events()) == 3
    await _finish_all(env)
    env.clock.advance(60)  # 06:00
    assert sorted(await scheduler.tick()) == sorted(env.numbers)
    ids = {e.event_id for e in await env.sync_events()}
    assert ids == {f"sync:{pn}:{h}" for pn in env.numbers for h in (at(0), at(6))}


async def test_a_number_whose_job_still_waits_is_not_queued_again(env: Env) -> None:
    scheduler = env.scheduler()
    await scheduler.tick()
    first, *others = env.numbers
    await _finish(env, first)
    env.clock.advance(6 * HOUR)
    assert await scheduler.tick() == [first]
    pending = [e for e in await env.sync_events() if e.state == "pending"]
    assert sorted((e.partition_key or "", e.event_id) for e in pending) == sorted(
        [(first, f"sync:{first}:{at(6)}")] + [(pn, f"sync:{pn}:{at(0)}") for pn in others]
    )
    # Nothing was queued for the others, yet the period is done: no retry of it.
    assert await scheduler.tick() == []
    assert len(await env.sync_events()) == 4


async def test_inactive_numbers_are_skipped_and_new_ones_are_found(env: Env) -> None:
    inactive = env.sim.workspace.phone_numbers[0]
    await env.store.upsert_phone_number(inactive["id"], inactive["number"], active=False)
    scheduler = env.scheduler()
    assert sorted(await scheduler.tick()) == sorted(env.numbers[1:])
    await _finish_all(env)
    added = copy.deepcopy(env.sim.workspace.phone_numbers[1])
    added.update(id="PNaddedLater", number="+14155550199", name="Added later")
    env.sim.workspace.phone_numbers.append(added)
    env.clock.advance(6 * HOUR)
    assert sorted(await scheduler.tick()) == sorted(env.numbers[1:])
    row = await env.store.get_phone_number("PNaddedLater")
    assert row is not None
    assert (row.number, row.name, row.is_active) == ("+14155550199", "Added later", True)
    assert (await env.store.get_phone_number(inactive["id"])) is not None


async def test_two_instances_on_one_store_fire_once_per_period(env: Env) -> None:
    a, b = env.scheduler("instance-a"), env.scheduler("instance-b")
    for hours in (0, 6, 12):
        async with asyncio.timeout(10):
            results = await asyncio.gather(a.tick(), b.tick(), b.tick(), a.tick())
        winners = [r for r in results if r]
        assert len(winners) == 1
        assert sorted(winners[0]) == sorted(env.numbers)
        assert {e.event_id for e in await env.sync_events() if e.state == "pending"} == {
            f"sync:{pn}:{at(hours)}" for pn in env.numbers
        }
        await _finish_all(env)
        env.clock.advance(6 * HOUR)
    assert len(await env.sync_events()) == 9


async def test_a_failed_firing_gives_its_claim_back(env: Env) -> None:
    class Down:
        async def list_phone_numbers(self) -> list[PhoneNumber]:
            raise UpstreamUnavailable("OpenPhone is down")

    broken = Scheduler(env.store, Down(), cron=CRON, clock=env.clock, owner="broken")
    with pytest.raises(UpstreamUnavailable):
        await broken.tick()
    assert await env.sync_events() == []
    # Another instance (or this one, later) fires the period at once: no lease to wait out.
    assert len(await env.scheduler().tick()) == 3


async def test_a_firing_that_outlives_its_lease_queues_nothing_twice(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    other = env.scheduler("instance-b")

    class Slow:
        """Takes longer than the lease; meanwhile the other instance takes the period over."""

        async def list_phone_numbers(self) -> list[PhoneNumber]:
            env.clock.advance(301)
            assert len(await other.tick()) == 3
            return await env.openphone.list_phone_numbers()

    slow = Scheduler(env.store, Slow(), cron=CRON, clock=env.clock, owner="slow")
    with caplog.at_level(logging.WARNING, logger="opsync.scheduler"):
        assert await slow.tick() == []
    assert len(await env.sync_events()) == 3
    assert [getattr(r, "action", None) for r in caplog.records] == ["schedule_lease_lost"]


async def test_last_runs_per_number(env: Env) -> None:
    scheduler = env.scheduler()
    assert await scheduler.last_runs() == {}
    await scheduler.tick()
    fired = int(env.clock.now() * 1000)
    assert await scheduler.last_runs() == dict.fromkeys(env.numbers, fired)


async def test_the_firing_is_logged_with_its_action(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="opsync.scheduler"):
        await env.scheduler().tick()
    fired = [r for r in caplog.records if getattr(r, "action", None) == "schedule_fired"]
    assert len(fired) == 1
    assert fired[0].__dict__["period_start"] == at(0)
    assert fired[0].__dict__["queued"] == 3
    discovered = [
        r for r in caplog.records if getattr(r, "action", None) == "phone_number_discovered"
    ]
    assert len(discovered) == 3


async def test_a_second_store_on_the_same_database_shares_the_lease(env: Env) -> None:
    second = await Store.open(env.url, clock=env.clock)
    try:
        scheduler = Scheduler(second, env.openphone, cron=CRON, clock=env.clock, owner="second")
        assert len(await scheduler.tick()) == 3
        assert not await env.scheduler("instance-b").tick()
    finally:
        await second.close()


def test_a_bad_expression_is_refused_naming_the_field(env: Env) -> None:
    with pytest.raises(ValueError, match="hour field '\\*/0'"):
        Scheduler(env.store, env.openphone, cron="0 */0 * * *", clock=env.clock)


# --- run_forever --------------------------------------------------------------------------------


def _run(
    env: Env, stop_after: int, openphone: PhoneNumberLister | None = None, **options: float
) -> Scheduler:
    """A scheduler on the env's clock, whose ``stop_after``-th sleep sets ``env.clock.stop``."""
    env.clock.stop_after = stop_after
    return Scheduler(
        env.store,
        openphone or env.openphone,
        cron=CRON,
        clock=env.clock,
        owner="loop",
        lease_seconds=options.get("lease_seconds", 300.0),
        retry_seconds=options.get("retry_seconds", 60.0),
        max_sleep_seconds=options.get("max_sleep_seconds", 24 * HOUR),
    )


async def test_run_forever_sleeps_until_each_firing(env: Env) -> None:
    env.clock.on_sleep = lambda: _finish_all(env)  # a worker empties the inbox meanwhile
    async with asyncio.timeout(5):
        await _run(env, stop_after=2).run_forever(env.clock.stop)
    # At 03:00 it fires the 00:00 period, sleeps to 06:00, fires that one, sleeps 6 h.
    assert env.clock.slept == [3 * HOUR, 6 * HOUR]
    ids = {e.event_id for e in await env.sync_events()}
    assert ids == {f"sync:{pn}:{h}" for pn in env.numbers for h in (at(0), at(6))}


async def test_run_forever_sleeps_in_bounded_steps(env: Env) -> None:
    async with asyncio.timeout(5):
        await _run(env, stop_after=4, max_sleep_seconds=HOUR).run_forever(env.clock.stop)
    assert env.clock.slept == [HOUR, HOUR, HOUR, HOUR]
    # The 06:00 period fired too, though nothing was queued: the 00:00 jobs still wait.
    assert await env.store.scheduler_last_period("sync") == int((MIDNIGHT + 6 * HOUR) * 1000)
    assert {e.event_id for e in await env.sync_events()} == {
        f"sync:{pn}:{at(0)}" for pn in env.numbers
    }


async def test_run_forever_stops_promptly_while_sleeping(env: Env) -> None:
    env.clock.blocking = True
    scheduler = _run(env, stop_after=1000)
    task = asyncio.create_task(scheduler.run_forever(env.clock.stop))
    async with asyncio.timeout(5):
        await env.clock.sleeping.wait()
        env.clock.stop.set()
        await task
    assert env.clock.slept == [3 * HOUR]
    assert len(await env.sync_events()) == 3


async def test_run_forever_retries_a_failed_firing_soon(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    class Flaky:
        async def list_phone_numbers(self) -> list[PhoneNumber]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise UpstreamUnavailable("OpenPhone is down")
            return await env.openphone.list_phone_numbers()

    scheduler = _run(env, stop_after=2, openphone=Flaky(), retry_seconds=30)
    with caplog.at_level(logging.ERROR, logger="opsync.scheduler"):
        async with asyncio.timeout(5):
            await scheduler.run_forever(env.clock.stop)
    assert env.clock.slept == [30, 3 * HOUR - 30]
    assert len(await env.sync_events()) == 3
    assert [getattr(r, "action", None) for r in caplog.records] == ["schedule_failed"]


async def test_run_forever_takes_over_a_period_whose_claimant_died(env: Env) -> None:
    period_ms = int(MIDNIGHT * 1000)
    assert await env.store.scheduler_claim("sync", period_ms, "dead-instance", lease_seconds=120)
    async with asyncio.timeout(5):
        await _run(env, stop_after=2, lease_seconds=120).run_forever(env.clock.stop)
    # It looked again when the dead instance's lease ran out, and fired the period.
    assert env.clock.slept == [120, 3 * HOUR - 120]
    assert {e.event_id for e in await env.sync_events()} == {
        f"sync:{pn}:{at(0)}" for pn in env.numbers
    }


# --- helpers ------------------------------------------------------------------------------------


async def _finish(env: Env, phone_number_id: str) -> None:
    """Work the waiting sync job of one number to done (as the dispatcher would)."""
    others = [pn for pn in env.numbers if pn != phone_number_id]
    claimed = await env.store.inbox_claim("worker", 60, limit=10, exclude_partitions=others)
    assert [e.partition_key for e in claimed] == [phone_number_id]
    assert await env.store.inbox_complete(claimed[0].id, "worker")


async def _finish_all(env: Env) -> None:
    while claimed := await env.store.inbox_claim("worker", 60, limit=10):
        for event in claimed:
            assert await env.store.inbox_complete(event.id, "worker")


async def test_the_service_refuses_a_bad_cron_before_any_network_call(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "OPENPHONE_API_KEY": API_KEY,
            "NOTION_API_KEY": "ntn_unused",
            "NOTION_CALLS_DATABASE_ID": "0" * 32,
            "NOTION_MESSAGES_DATABASE_ID": "1" * 32,
            "OPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
            "OPSYNC_SYNC_CRON": "0 */6 * *",
        }
    )
    with pytest.raises(ConfigError, match=r"OPSYNC_SYNC_CRON is invalid: .*expected 5 fields"):
        async with open_service(settings, insecure_accept_unsigned=True):
            pass
    assert not (tmp_path / "never.db").exists()


async def test_a_firing_stuck_at_shutdown_is_cut_at_the_deadline_and_gives_its_claim_back(
    env: Env,
) -> None:
    listing = asyncio.Event()

    class Stuck:
        async def list_phone_numbers(self) -> list[PhoneNumber]:
            listing.set()
            await asyncio.Event().wait()  # OpenPhone never answers
            return []

    task = asyncio.create_task(_run(env, stop_after=1000, openphone=Stuck()).run_forever(
        env.clock.stop
    ))  # fmt: skip
    async with asyncio.timeout(5):
        await listing.wait()
        env.clock.stop.set()
        await stop_within([task], 0.05)  # what run_service does at OPSYNC_SHUTDOWN_TIMEOUT
    assert task.cancelled()
    # The claim was given back: another instance can fire the period at once.
    assert await env.store.scheduler_claim("sync", int(MIDNIGHT * 1000), "b", lease_seconds=60)
