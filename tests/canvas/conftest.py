"""A Canvas workspace in the Notion simulator (in-process, over ``httpx.ASGITransport``), a
SQLite store in ``tmp_path``, and one :class:`FakeClock` shared by the lookup and the store."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsync.canvas import CanvasLookup, CanvasStats
from opsync.clock import FakeClock
from opsync.notion import NotionAdapter
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.retry import RetryPolicy
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from opsync.sandbox.notion.seed_schema import DatabaseSpec, database_body
from opsync.store import Store

TOKEN = "ntn_canvasTestToken"
QUERY = "POST /v1/data_sources/{data_source_id}/query"


def title(text: str) -> dict[str, Any]:
    return {"title": [{"type": "text", "text": {"content": text}}]}


def rich(text: str) -> dict[str, Any]:
    return {"rich_text": [{"type": "text", "text": {"content": text}}]}


@dataclass
class Workspace:
    """The simulator, its seeded databases, and what a test builds lookups from."""

    simulator: NotionSimulator
    seeded: SeededDatabases
    adapter: NotionAdapter
    store: Store
    clock: FakeClock
    lookups: list[CanvasLookup] = field(default_factory=list)

    @property
    def canvas_ds(self) -> str:
        return self.seeded.canvas_data_source_id

    def requests(self) -> int:
        """Every ``/v1`` request the simulator has answered so far."""
        return sum(
            sum(by_status.values()) for by_status in self.simulator.counter.to_json().values()
        )

    def queries(self) -> int:
        return self.simulator.counter.count(QUERY)

    def add_database(self, name: str, properties: dict[str, Any]) -> tuple[str, str]:
        """Create another Canvas-like database; returns (database id, data source id)."""
        spec = DatabaseSpec(name, "🗂️", properties, links_to_canvas=False)
        db = self.simulator.state.create_database(database_body(spec, self.seeded.root_page_id))
        return db["id"], db["data_sources"][0]["id"]

    def add_page(self, data_source_id: str, properties: dict[str, Any]) -> str:
        page = self.simulator.state.create_page(
            {"parent": {"type": "data_source_id", "data_source_id": data_source_id},
             "properties": properties}
        )  # fmt: skip
        return str(page["id"])

    def add_customer(self, name: str, phone: str | None = None, email: str | None = None) -> str:
        """A page of the seeded Canvas database (``Phone`` is a phone_number property)."""
        properties: dict[str, Any] = {"Name": title(name)}
        if phone is not None:
            properties["Phone"] = {"phone_number": phone}
        if email is not None:
            properties["Email"] = {"email": email}
        return self.add_page(self.canvas_ds, properties)

    def lookup(self, database_id: str | None = None, **kwargs: Any) -> CanvasLookup:
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("stats", CanvasStats())
        lookup = CanvasLookup(
            self.adapter, self.store, database_id or self.seeded.canvas_database_id, **kwargs
        )
        self.lookups.append(lookup)
        return lookup


@pytest.fixture
async def ws(tmp_path: Path) -> AsyncIterator[Workspace]:
    clock = FakeClock()
    simulator = NotionSimulator(NotionState(clock, seed=5), api_key=TOKEN, rate_limit=None)
    seeded = seed_databases(simulator.state)
    pacer_clock = FakeClock()  # the pacer's waits must not move the cache's clock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator.app)) as http:
        adapter = NotionAdapter.from_token(
            TOKEN,
            base_url="http://notion.test",
            http=http,
            pacer=TokenBucket(NOTION_LIMIT, pacer_clock),
            retry=RetryPolicy(base=0.1, cap=0.5, max_attempts=2),
            clock=pacer_clock,
            rng=random.Random(1),
        )
        store = await Store.open(f"sqlite:///{tmp_path / 'opsync.db'}", clock=clock)
        try:
            yield Workspace(simulator, seeded, adapter, store, clock)
        finally:
            await store.close()
            await adapter.aclose()
