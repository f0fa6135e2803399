"""The deployment-wide token bucket: processes sharing a store share the rate and the pauses.

Each "process" is a Store of its own on the same database (its own connections), as separate
machines would be. Time is frozen, so every request arrives at the same instant and the wait
each acquire sleeps is exactly its slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from opsync.clock import FakeClock
from opsync.pacing import RateLimit, TokenBucket
from opsync.pacing_shared import SharedTokenBucket, bucket_name
from opsync.service import Pacers
from opsync.store import Store

from .conftest import Backend

LIMIT = RateLimit(rate=4.0, burst=2)  # a slot every 0.25 s, two at once


class FrozenClock(FakeClock):
    """Records each sleep without spending it: every request arrives at the same instant."""

    async def sleep(self, seconds: float) -> None:
        self.slept.append(max(0.0, seconds))


@pytest.fixture
async def stores(backend: Backend) -> AsyncIterator[tuple[Store, Store]]:
    first = await backend.open()
    second = await backend.open(migrate=False)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def waits(clock: FrozenClock, *pacers: SharedTokenBucket) -> list[float]:
    """The wait of each pacer's next acquire, in order (0 when it went at once)."""
    out = []
    for pacer in pacers:
        before = len(clock.slept)
        await pacer.acquire()
        out.append(sum(clock.slept[before:]))
    return out


async def test_two_processes_share_one_rate(stores: tuple[Store, Store]) -> None:
    clock = FrozenClock()
    a = SharedTokenBucket(stores[0], "notion:k", LIMIT, clock)
    b = SharedTokenBucket(stores[1], "notion:k", LIMIT, clock)
    # burst 2 at once, then one every 0.25 s, whichever process asks
    assert await waits(clock, a, b, a, b, a, b) == pytest.approx([0, 0, 0.25, 0.5, 0.75, 1.0])


async def test_a_pause_seen_by_one_process_holds_the_other(stores: tuple[Store, Store]) -> None:
    clock = FrozenClock()
    a = SharedTokenBucket(stores[0], "openphone:k", LIMIT, clock)
    b = SharedTokenBucket(stores[1], "openphone:k", LIMIT, clock)
    assert await waits(clock, b) == [0.0]
    a.pause(10.0)  # a 429 with Retry-After: 10 seen by the first process
    await a.flush()
    # the other process's first slot is when the pause ends, then the rate resumes
    assert await waits(clock, b, b) == pytest.approx([10.0, 10.25])
    before = len(clock.slept)
    await a.acquire()
    assert clock.slept[before] == pytest.approx(10.0)  # it waits out its own pause first


async def test_buckets_of_other_credentials_do_not_share(stores: tuple[Store, Store]) -> None:
    clock = FrozenClock()
    one = SharedTokenBucket(stores[0], bucket_name("notion", "secret-one"), LIMIT, clock)
    two = SharedTokenBucket(stores[1], bucket_name("notion", "secret-two"), LIMIT, clock)
    assert await waits(clock, one, one, one) == pytest.approx([0, 0, 0.25])
    assert await waits(clock, two, two, two) == pytest.approx([0, 0, 0.25])
    assert "secret" not in bucket_name("notion", "secret-one")


async def test_the_service_shares_its_buckets_on_postgresql_only(backend: Backend) -> None:
    clock = FrozenClock()
    async with await backend.open() as store:
        pacers = Pacers.for_store(store, clock, notion_token="ntn_x", openphone_key="op_x")
        shared = backend.name == "postgresql"
        assert isinstance(pacers.notion, SharedTokenBucket) is shared
        assert isinstance(pacers.openphone, SharedTokenBucket) is shared
        assert isinstance(pacers.notion, TokenBucket) is not shared
