from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from tests.web.support import ADMIN_TOKEN, LEGACY_KEY, STANDARD_KEY, WEBHOOK_PATH


@dataclass
class Wakes:
    """Counts the dispatcher wake-ups of ``on_accepted``."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@dataclass
class PhoneStates:
    """A phone-state provider serving a dict of states."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def __call__(self, phone_number_id: str) -> dict[str, Any] | None:
        return self.states.get(phone_number_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'x.db'}", clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def verifier(clock: FakeClock) -> WebhookVerifier:
    return WebhookVerifier([STANDARD_KEY, LEGACY_KEY], clock=clock)


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def phone_states() -> PhoneStates:
    return PhoneStates()


@pytest.fixture
def app(
    store: Store, verifier: WebhookVerifier, wakes: Wakes, phone_states: PhoneStates
) -> Starlette:
    return build_app(
        store=store,
        verifier=verifier,
        webhook_path=WEBHOOK_PATH,
        admin_token=ADMIN_TOKEN,
        on_accepted=wakes,
        phone_state=phone_states,
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsync.test") as http:
        yield http
