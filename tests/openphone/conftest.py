from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.openphone import OpenPhoneClient
from opsync.pacing import Pacer
from opsync.retry import RetryPolicy
from tests.openphone.support import Script, SpyPacer

API_KEY = "sk-test-1234567890"
POLICY = RetryPolicy(base=0.5, cap=30.0, max_attempts=4)
SEED = 7

ClientFactory = Callable[..., OpenPhoneClient]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer() -> SpyPacer:
    return SpyPacer()


@pytest.fixture
async def make_client(
    clock: FakeClock, pacer: SpyPacer
) -> AsyncIterator[Callable[..., OpenPhoneClient]]:
    """Build a client on a scripted transport; the default pacer is the spy."""
    opened: list[httpx.AsyncClient] = []

    def build(
        script: Script,
        *,
        use_pacer: Pacer | None = None,
        retry: RetryPolicy = POLICY,
        base_url: str = "https://api.openphone.com/v1",
    ) -> OpenPhoneClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        opened.append(http)
        return OpenPhoneClient(
            http,
            API_KEY,
            base_url=base_url,
            pacer=use_pacer or pacer,
            retry=retry,
            clock=clock,
            rng=random.Random(SEED),
        )

    yield build
    for http in opened:
        await http.aclose()


def expected_delays(count: int, policy: RetryPolicy = POLICY) -> list[float]:
    """The backoff delays the client computes with the same seed."""
    rng = random.Random(SEED)
    return [policy.delay(attempt, rng) for attempt in range(count)]
