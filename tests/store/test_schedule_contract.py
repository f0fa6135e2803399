"""The scheduler's lease (``ScheduleOps``), on SQLite and (when configured) PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from opsync.clock import Clock, FakeClock
from opsync.store import Store
from opsync.store._schedule import DONE_RETENTION_S

from .conftest import Backend

PERIOD = 1_775_001_600_000
NEXT = PERIOD + 6 * 3600 * 1000


async def _open(backend: Backend, clock: Clock) -> Store:
    store = await Store.open(backend.url, clock=clock, pg_schema=backend.pg_schema)
    assert isinstance(store, Store)
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(PERIOD / 1000 + 60)


@pytest.fixture
async def sched(backend: Backend, clock: FakeClock) -> AsyncIterator[Store]:
    store = await _open(backend, clock)
    try:
        yield store
    finally:
        await store.close()


async def test_of_concurrent_claimers_of_one_period_exactly_one_wins(
    backend: Backend, clock: FakeClock
) -> None:
    stores = [await _open(backend, clock) for _ in range(6)]
    try:
        async with asyncio.timeout(20):
            for period in (PERIOD, NEXT):
                results = await asyncio.gather(
                    *(
                        s.scheduler_claim("sync", period, f"owner-{i}-{j}")
                        for i, s in enumerate(stores)
                        for j in range(3)
                    )
                )
                assert results.count(True) == 1, (period, results)
    finally:
        for s in stores:
            await s.close()


async def test_a_live_claim_blocks_others_and_an_expired_one_is_taken_over(
    sched: Store, clock: FakeClock
) -> None:
    assert await sched.scheduler_claim("sync", PERIOD, "a", lease_seconds=60)
    assert not await sched.scheduler_claim("sync", PERIOD, "b", lease_seconds=60)
    assert not await sched.scheduler_claim("sync", PERIOD, "a", lease_seconds=60)
    clock.advance(59)
    assert not await sched.scheduler_claim("sync", PERIOD, "b", lease_seconds=60)
    clock.advance(1)
    assert await sched.scheduler_claim("sync", PERIOD, "b", lease_seconds=60)
    # The first owner lost its claim: it cannot complete the period any more.
    assert not await sched.scheduler_complete("sync", PERIOD, "a", phone_number_ids=["PN1"])
    assert await sched.scheduler_last_period("sync") is None
    assert await sched.scheduler_last_runs("sync") == {}
    assert await sched.scheduler_complete("sync", PERIOD, "b", phone_number_ids=["PN1"])
    assert await sched.scheduler_last_period("sync") == PERIOD


async def test_a_completed_period_is_never_claimed_again(sched: Store, clock: FakeClock) -> None:
    assert await sched.scheduler_last_period("sync") is None
    assert await sched.scheduler_claim("sync", PERIOD, "a", lease_seconds=60)
    assert await sched.scheduler_complete("sync", PERIOD, "a")
    assert not await sched.scheduler_complete("sync", PERIOD, "a")  # already done
    assert await sched.scheduler_last_period("sync") == PERIOD
    clock.advance(3600)  # long past the lease
    assert not await sched.scheduler_claim("sync", PERIOD, "b")
    assert not await sched.scheduler_claim("sync", PERIOD - 1, "b")  # nor an earlier one
    assert await sched.scheduler_claim("sync", NEXT, "b")
    # Schedules of other names are independent.
    assert await sched.scheduler_claim("other", PERIOD, "b")


async def test_a_done_claim_outlives_a_reader_that_saw_the_old_last_period(
    sched: Store, clock: FakeClock
) -> None:
    # Even with the "last" row lost, the done claim itself refuses the period while retained.
    assert await sched.scheduler_claim("sync", PERIOD, "a", lease_seconds=60)
    assert await sched.scheduler_complete("sync", PERIOD, "a")
    await sched.execute_query("DELETE FROM kv WHERE key = 'scheduler:sync:last'")
    clock.advance(DONE_RETENTION_S - 1)
    assert not await sched.scheduler_claim("sync", PERIOD, "b")
    clock.advance(1)
    assert await sched.kv_purge_expired() == 1


async def test_the_last_completed_period_only_grows(sched: Store) -> None:
    assert await sched.scheduler_claim("sync", PERIOD, "a")
    assert await sched.scheduler_claim("sync", NEXT, "b")
    assert await sched.scheduler_complete("sync", NEXT, "b")
    assert await sched.scheduler_complete("sync", PERIOD, "a")
    assert await sched.scheduler_last_period("sync") == NEXT


async def test_a_released_claim_can_be_claimed_again_at_once(sched: Store) -> None:
    assert await sched.scheduler_claim("sync", PERIOD, "a", lease_seconds=600)
    assert not await sched.scheduler_release("sync", PERIOD, "b")
    assert not await sched.scheduler_claim("sync", PERIOD, "b")
    assert await sched.scheduler_release("sync", PERIOD, "a")
    assert not await sched.scheduler_release("sync", PERIOD, "a")
    assert await sched.scheduler_claim("sync", PERIOD, "b")


async def test_last_runs_are_stamped_per_number_on_completion(
    sched: Store, clock: FakeClock
) -> None:
    first = int(clock.now() * 1000)
    assert await sched.scheduler_claim("sync", PERIOD, "a")
    assert await sched.scheduler_complete("sync", PERIOD, "a", phone_number_ids=["PN1", "PN2"])
    clock.advance(6 * 3600)
    assert await sched.scheduler_claim("sync", NEXT, "a")
    assert await sched.scheduler_complete("sync", NEXT, "a", phone_number_ids=["PN2"])
    second = int(clock.now() * 1000)
    assert await sched.scheduler_last_runs("sync") == {"PN1": first, "PN2": second}
    # The key prefix is matched literally: LIKE wildcards in a name match nothing else.
    assert await sched.scheduler_last_runs("syn_") == {}
    assert await sched.scheduler_last_runs("%") == {}
