"""Fixtures: a simulator on a FakeClock, its seeded databases, and the official SDK aimed at it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from notion_client import AsyncClient

from opsync.clock import FakeClock
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases

BASE_URL = "http://notion.sandbox"
SDK_LOGGER = logging.getLogger("tests.notion_sdk")
TOKEN = "secret_x"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> NotionSimulator:
    return NotionSimulator(NotionState(clock, seed=7), clock=clock, rate_limit=None)


@pytest.fixture
def seeded(simulator: NotionSimulator) -> SeededDatabases:
    return seed_databases(simulator.state)


def sdk_for(simulator: NotionSimulator, **options: Any) -> AsyncClient:
    """The official SDK talking to ``simulator`` in-process (no retries unless asked)."""
    options.setdefault("auth", TOKEN)
    options.setdefault("retry", False)
    options.setdefault("logger", SDK_LOGGER)
    transport = httpx.ASGITransport(app=simulator.app)
    return AsyncClient(base_url=BASE_URL, client=httpx.AsyncClient(transport=transport), **options)


@pytest.fixture
async def notion(simulator: NotionSimulator) -> AsyncIterator[AsyncClient]:
    client = sdk_for(simulator)
    yield client
    await client.aclose()


@pytest.fixture
async def raw(simulator: NotionSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """Plain httpx against the simulator, for requests the SDK cannot make."""
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


HEADERS = {"Authorization": f"Bearer {TOKEN}", "Notion-Version": "2025-09-03"}


def text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]


def paragraph(content: str) -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": text(content)}}


def ds_parent(data_source_id: str) -> dict[str, str]:
    return {"type": "data_source_id", "data_source_id": data_source_id}
