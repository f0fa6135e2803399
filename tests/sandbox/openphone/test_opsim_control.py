"""Rate limit, fault injection and request counters (deterministic through a FakeClock)."""

from __future__ import annotations

import pytest

from opsync.clock import FakeClock
from opsync.sandbox.openphone import FaultConfig, FaultInjector, RateLimiter
from tests.sandbox.openphone.support import NOW, client, make_sim, validate


async def test_eleventh_request_in_one_second_is_429() -> None:
    clock = FakeClock(NOW)
    sim = make_sim(clock=clock)
    async with client(sim) as http:
        statuses = [(await http.get("/v1/phone-numbers")).status_code for _ in range(11)]
        limited = await http.get("/v1/phone-numbers")
        clock.advance(1.0)
        after_window = await http.get("/v1/phone-numbers")
    assert statuses == [200] * 10 + [429]
    body = limited.json()
    assert body["status"] == 429
    assert body["code"] == "0400429"
    assert body["docs"] == "https://openphone.com/docs"
    assert "retry-after" not in limited.headers
    assert after_window.status_code == 200


async def test_rate_limit_is_per_key() -> None:
    sim = make_sim(clock=FakeClock(NOW), api_key=None)
    async with client(sim, "key-a") as a, client(sim, "key-b") as b:
        statuses = []
        for _ in range(10):
            statuses.append((await a.get("/v1/phone-numbers")).status_code)
            statuses.append((await b.get("/v1/phone-numbers")).status_code)
        assert set(statuses) == {200}
        assert (await a.get("/v1/phone-numbers")).status_code == 429
        assert (await b.get("/v1/phone-numbers")).status_code == 429
    assert sim.counters.by_key == {"key-a": 11, "key-b": 11}


async def test_retry_after_header_can_be_switched_on() -> None:
    sim = make_sim(clock=FakeClock(NOW), retry_after_header=True)
    async with client(sim) as http:
        responses = [await http.get("/v1/webhooks") for _ in range(11)]
    assert responses[-1].status_code == 429
    assert responses[-1].headers["retry-after"] == "1"


def test_rate_limiter_windows_follow_the_clock() -> None:
    clock = FakeClock(NOW)
    limiter = RateLimiter(clock, limit=2)
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    clock.advance(0.5)
    assert not limiter.allow("k")
    clock.advance(0.5)
    assert limiter.allow("k")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_fault_at_probability_one(status: int) -> None:
    sim = make_sim()
    sim.faults.configure(**{f"p{status}": 1.0})
    async with client(sim) as http:
        responses = [await http.get("/v1/users", params={"maxResults": 5}) for _ in range(3)]
    assert [r.status_code for r in responses] == [status] * 3
    assert sim.faults.injected[status] == 3
    if status in (500,):
        assert responses[0].json()["code"] == "1101500"
        validate(responses[0])
    if status >= 502:
        assert responses[0].headers["content-type"].startswith("text/plain")


async def test_slow_responses_wait_on_the_clock() -> None:
    clock = FakeClock(NOW)
    sim = make_sim(clock=clock)
    sim.faults.configure(slow_probability=1.0, slow_seconds=3.5)
    async with client(sim) as http:
        response = await http.get("/v1/phone-numbers")
    assert response.status_code == 200
    assert clock.slept == [3.5]


async def test_faults_cleared_and_exempt_paths() -> None:
    sim = make_sim()
    sim.faults.configure(p503=1.0, exempt_prefixes=("/v1/users",))
    async with client(sim) as http:
        assert (await http.get("/v1/users", params={"maxResults": 1})).status_code == 200
        assert (await http.get("/v1/phone-numbers")).status_code == 503
        sim.faults.clear()
        assert (await http.get("/v1/phone-numbers")).status_code == 200


def test_fault_draws_are_seeded_and_proportional() -> None:
    config = FaultConfig(p500=0.25, p503=0.25)
    first = FaultInjector(seed=7, config=config)
    second = FaultInjector(seed=7, config=config)
    draws = [first.draw("/v1/calls")[0] for _ in range(400)]
    assert draws == [second.draw("/v1/calls")[0] for _ in range(400)]
    assert 60 < draws.count(500) < 140
    assert 60 < draws.count(503) < 140
    assert 120 < draws.count(None) < 280


def test_fault_probabilities_are_checked() -> None:
    injector = FaultInjector()
    with pytest.raises(ValueError, match="sum"):
        injector.configure(p500=0.7, p502=0.7)
    assert injector.config.p500 == 0.0


async def test_counters_per_endpoint_template_and_status() -> None:
    sim = make_sim()
    call_ids = list(sim.workspace.calls)[:3]
    async with client(sim) as http:
        for call_id in call_ids:
            await http.get(f"/v1/calls/{call_id}")
        await http.get("/v1/calls/ACmissing")
        await http.get("/v1/users", params={"maxResults": 2})
    assert sim.counters["GET /v1/calls/{callId}"] == 4
    assert sim.counters["GET /v1/users"] == 1
    assert sim.counters.by_status[404] == 1
    assert sim.counters.total == 5
    sim.counters.reset()
    assert sim.counters.total == 0
