"""Token bucket and retry policy, on a fake clock."""

from __future__ import annotations

import random

import pytest

from opsync.clock import FakeClock
from opsync.pacing import NOTION_LIMIT, RateLimit, TokenBucket
from opsync.retry import RetryPolicy, parse_retry_after


async def test_burst_is_free_then_paced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(NOTION_LIMIT, clock)
    waits = [await bucket.acquire() for _ in range(9)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(w == pytest.approx(1 / 3) for w in waits[3:])
    assert clock.monotonic() == pytest.approx(2.0)  # 6 paced tokens at 3/s


async def test_idle_time_refills_up_to_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(rate=10, burst=2), clock)
    await bucket.acquire()
    await bucket.acquire()
    clock.advance(60)
    assert [await bucket.acquire() for _ in range(2)] == [0.0, 0.0]
    assert await bucket.acquire() == pytest.approx(0.1)


async def test_pause_blocks_for_retry_after_and_does_not_accrue() -> None:
    clock = FakeClock()
    bucket = TokenBucket(NOTION_LIMIT, clock)
    bucket.pause(5)
    assert await bucket.acquire() == pytest.approx(5.0)
    # One request goes when the pause ends; nothing was saved up beyond it.
    assert await bucket.acquire() == pytest.approx(1 / 3)


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(rate=1, burst=0)


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base=1, cap=8, max_attempts=6)
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 8), (10, 8)]:
        delays = {policy.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_retry_after_replaces_backoff() -> None:
    assert RetryPolicy(base=1, cap=2).delay(0, random.Random(1), retry_after=30) == 30


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(a) for a in range(3)] == [False, False, True]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-1", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
