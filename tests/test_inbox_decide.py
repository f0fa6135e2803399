"""``inbox.decide``: retry or dead letter, by error class, as a table."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.errors import (
    AuthError,
    ConfigError,
    InvalidPayload,
    NotFound,
    RateLimited,
    StoreUnavailable,
    TransientError,
    UpstreamUnavailable,
)
from opsync.inbox import (
    DEFAULT_MAX_ATTEMPTS,
    DeadLetter,
    Retry,
    decide,
    describe,
    inbox_policy,
)
from opsync.retry import RetryPolicy

NOW = 1_775_001_600_000
POLICY = RetryPolicy(base=1.0, cap=60.0, max_attempts=DEFAULT_MAX_ATTEMPTS)


def rng() -> random.Random:
    return random.Random(7)


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        (NotFound("call AC1 does not exist"), 1, "NotFound: call AC1 does not exist"),
        (AuthError("Notion answered 401: check NOTION_API_KEY"), 3, None),
        (InvalidPayload("message.received without data.object"), 1, None),
        (ConfigError("NOTION_CALLS_DATABASE_ID", "calls go there"), 1, None),
        (UpstreamUnavailable("OpenPhone answered 503"), 8, "gave up after 8 attempts; last "),
        (StoreUnavailable("database is locked"), 9, "gave up after 9 attempts; last "),
        (KeyError("transcript"), 8, "gave up after 8 attempts; last error KeyError: 'transcript'"),
    ],
)
def test_dead_letters(error: Exception, attempts: int, expected: str | None) -> None:
    decision = decide(error, attempts, POLICY, NOW, rng())
    assert isinstance(decision, DeadLetter)
    assert decision.error_class == type(error).__name__
    assert decision.reason.startswith(expected or f"{type(error).__name__}: {error}")
    assert str(error) in decision.reason


@pytest.mark.parametrize("attempts", range(1, DEFAULT_MAX_ATTEMPTS))
def test_transient_errors_back_off_exponentially_with_jitter(attempts: int) -> None:
    decision = decide(UpstreamUnavailable("502"), attempts, POLICY, NOW, rng())
    assert isinstance(decision, Retry)
    ceiling = min(POLICY.cap, POLICY.base * 2 ** (attempts - 1))
    assert NOW + ceiling * 500 <= decision.at_ms <= NOW + ceiling * 1000
    assert (decision.error_class, decision.message, decision.unexpected) == (
        "UpstreamUnavailable",
        "502",
        False,
    )


def test_jitter_spreads_retries_and_is_reproducible() -> None:
    error = TransientError("timeout")
    decisions = [decide(error, 4, POLICY, NOW, random.Random(seed)) for seed in range(20)]
    assert len({d.at_ms for d in decisions if isinstance(d, Retry)}) > 10
    assert decide(error, 4, POLICY, NOW, rng()) == decide(error, 4, POLICY, NOW, rng())


def test_rate_limited_waits_for_retry_after_when_it_is_longer_than_the_backoff() -> None:
    decision = decide(RateLimited("429", retry_after=120.0), 1, POLICY, NOW, rng())
    assert decision == Retry(NOW + 120_000, "RateLimited", "429")


@pytest.mark.parametrize("retry_after", [0.25, 0.0])
def test_a_short_retry_after_does_not_shorten_the_backoff(retry_after: float) -> None:
    # The HTTP client already honoured it within the attempt: a throttle lasting minutes
    # must not burn the inbox's attempts in seconds.
    decision = decide(RateLimited("429", retry_after=retry_after), 1, POLICY, NOW, rng())
    assert isinstance(decision, Retry)
    assert NOW + 500 <= decision.at_ms <= NOW + 1000


def test_rate_limited_without_retry_after_backs_off() -> None:
    decision = decide(RateLimited("429"), 2, POLICY, NOW, rng())
    assert isinstance(decision, Retry)
    assert NOW + 1000 <= decision.at_ms <= NOW + 2000


def test_unknown_exceptions_are_bugs_retried_and_flagged() -> None:
    decision = decide(ZeroDivisionError("division by zero"), 1, POLICY, NOW, rng())
    assert isinstance(decision, Retry)
    assert decision.unexpected
    assert decision.error_class == "ZeroDivisionError"
    last = decide(ZeroDivisionError("division by zero"), 8, POLICY, NOW, rng())
    assert isinstance(last, DeadLetter)
    assert last.unexpected


def test_a_single_allowed_attempt_never_retries() -> None:
    once = RetryPolicy(max_attempts=1)
    assert isinstance(decide(UpstreamUnavailable("503"), 1, once, NOW, rng()), DeadLetter)


def test_describe_gives_one_line_and_falls_back_to_the_docstring() -> None:
    assert describe(InvalidPayload("bad\n  JSON at\tline 3")) == (
        "InvalidPayload",
        "bad JSON at line 3",
    )
    assert describe(NotFound()) == (
        "NotFound",
        "The upstream resource does not exist, or is not shared with us.",
    )

    long = describe(UpstreamUnavailable("x" * 5000))[1]
    assert (len(long), long[-1]) == (2000, "…")

    class Undocumented(Exception):
        pass

    assert describe(Undocumented()) == ("Undocumented", "(no message)")


@given(
    attempts=st.integers(min_value=1, max_value=20),
    seed=st.integers(min_value=0, max_value=2**32),
    retry_after=st.none() | st.floats(min_value=0, max_value=3600),
)
def test_retries_are_never_in_the_past_and_stop_at_the_limit(
    attempts: int, seed: int, retry_after: float | None
) -> None:
    error = RateLimited("429", retry_after=retry_after)
    decision = decide(error, attempts, POLICY, NOW, random.Random(seed))
    if attempts >= POLICY.max_attempts:
        assert isinstance(decision, DeadLetter)
    else:
        assert isinstance(decision, Retry)
        assert decision.at_ms >= NOW
        assert decision.at_ms <= NOW + max(POLICY.cap, retry_after or 0) * 1000 + 1


def test_the_inbox_policy_rides_out_a_long_outage() -> None:
    policy = inbox_policy()
    assert policy.max_attempts == DEFAULT_MAX_ATTEMPTS == 8
    ceilings = [policy.ceiling(i) for i in range(policy.max_attempts - 1)]
    assert ceilings == [10, 30, 90, 270, 810, 1800, 1800]
    least, most = policy.outage_budget()
    assert (least, most) == (sum(ceilings) / 2, sum(ceilings))
    assert least >= 40 * 60  # jitter draws between half and all of each ceiling
    assert most <= 81 * 60
    assert inbox_policy(3).max_attempts == 3
    assert inbox_policy(time_scale=0.01).outage_budget() == pytest.approx((least / 100, most / 100))
