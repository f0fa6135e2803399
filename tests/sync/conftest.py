"""Both simulators in-process, a SQLite store and a local blob store in ``tmp_path``, and a
:class:`SyncContext` over them; helpers to build inbox events the way the OpenPhone
simulator's webhook emitter builds them."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsync.blobs import LocalBlobStore, MediaSigner
from opsync.canvas import CanvasLookup
from opsync.clock import FakeClock
from opsync.notion import NotionAdapter
from opsync.openphone import OpenPhoneClient, parse_envelope
from opsync.openphone.events import WebhookEnvelope
from opsync.pacing import NOTION_LIMIT, RateLimit, TokenBucket
from opsync.retry import RetryPolicy
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    WebhookEmitter,
    Workspace,
    generate_workspace,
)
from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from opsync.store import InboxEvent, Store
from opsync.sync import ActorRegistry, Directory, SyncContext

API_KEY = "op-sync-test-key"
NOTION_TOKEN = "ntn_syncTestToken"
PUBLIC_BASE = "https://opsync.test"
CUSTOMER = "+14155550123"
CUSTOMER_IN_CANVAS = "(415) 555-0123"


@dataclass
class Env:
    clock: FakeClock
    workspace: Workspace
    openphone_sim: OpenPhoneSimulator
    notion_sim: NotionSimulator
    seeded: SeededDatabases
    ctx: SyncContext
    emitter: WebhookEmitter
    blobs_root: Path
    pn_id: str
    own_number: str
    canvas_page: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- counters ------------------------------------------------------------------------

    def notion_requests(self) -> int:
        counts = self.notion_sim.counter.to_json()
        return sum(sum(by_status.values()) for by_status in counts.values())

    def notion_count(self, endpoint: str) -> int:
        return self.notion_sim.counter.count(endpoint)

    def openphone_requests(self) -> int:
        return self.openphone_sim.counters.total

    # -- events --------------------------------------------------------------------------

    def inbox_event(
        self,
        envelope: dict[str, Any],
        *,
        partition: str | None = "",
        source: str = "webhook",
        event_type: str | None = None,
    ) -> InboxEvent:
        """An inbox row holding ``envelope`` as its raw payload ("" partition: the line's)."""
        number = next(self._ids)
        return InboxEvent(
            id=number,
            event_id=str(envelope["id"]),
            event_type=event_type or str(envelope["type"]),
            source=source,
            partition_key=self.pn_id if partition == "" else partition,
            payload=json.dumps(envelope),
            state="in_flight",
            attempts=1,
            next_attempt_at=0,
            lease_owner="test",
            lease_expires_at=None,
            last_error=None,
            received_at=0,
            updated_at=0,
            completed_at=None,
        )

    def call_life(self, call_id: str, envelope: str = "legacy") -> list[dict[str, Any]]:
        """Envelopes of every event of the call's remaining life, stage by stage (the
        workspace advances as it goes, so the REST API agrees with each event)."""
        out = [self.emitter.call_event("call.ringing", call_id, self.clock.now())]
        while (stage := self.workspace.advance_call(call_id)) is not None:
            self.clock.advance(30)
            event_type = STAGE_EVENTS[stage]
            if event_type is not None:
                out.append(self.emitter.call_event(event_type, call_id, self.clock.now()))
        return [event.envelope("legacy" if envelope == "legacy" else "new") for event in out]

    def add_call(self, participant: str = CUSTOMER, **kwargs: Any) -> str:
        call = self.workspace.add_call(self.pn_id, participant, at=self.clock.now(), **kwargs)
        return call.id

    # -- Notion state --------------------------------------------------------------------

    def pages_titled(self, data_source_id: str, title_property: str, value: str) -> list[str]:
        body = {"filter": {"property": title_property, "title": {"equals": value}}}
        return [page["id"] for page in self.notion_sim.state.query(data_source_id, body)["results"]]

    def call_pages(self, call_id: str) -> list[str]:
        return self.pages_titled(self.seeded.calls_data_source_id, "Call ID", call_id)

    def message_pages(self, message_id: str) -> list[str]:
        return self.pages_titled(self.seeded.messages_data_source_id, "Message ID", message_id)

    def properties(self, page_id: str) -> dict[str, Any]:
        page: dict[str, Any] = self.notion_sim.state.get_page(page_id)
        return dict(page["properties"])

    def children(self, page_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            listed = self.notion_sim.state.list_children(page_id, cursor, 100)
            out.extend(listed["results"])
            cursor = listed.get("next_cursor")
            if not listed.get("has_more"):
                return out


def envelope_of(raw: dict[str, Any]) -> WebhookEnvelope:
    return parse_envelope(raw)


def plain(rich: list[dict[str, Any]]) -> str:
    return "".join(
        str(item.get("plain_text", item.get("text", {}).get("content", ""))) for item in rich
    )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = FakeClock()
    workspace = generate_workspace(seed=11, now=clock.now())
    op_sim = OpenPhoneSimulator(
        workspace, SimulatorConfig(api_key=API_KEY, rate_limit=10_000), clock=clock
    )
    notion_sim = NotionSimulator(NotionState(clock, seed=3), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    canvas_page = notion_sim.state.create_page(
        {
            "parent": {"type": "data_source_id", "data_source_id": seeded.canvas_data_source_id},
            "properties": {
                "Name": {"title": [{"type": "text", "text": {"content": "Acme"}}]},
                "Phone": {"phone_number": CUSTOMER_IN_CANVAS},
            },
        }
    )["id"]
    pacer_clock = FakeClock()  # pacing waits must not move the simulated time
    fast = RateLimit(rate=10_000.0, burst=10_000)
    async with (
        serve(op_sim.app) as op_url,
        httpx.AsyncClient(timeout=10) as op_http,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=notion_sim.app)) as notion_http,
    ):
        openphone = OpenPhoneClient(
            op_http,
            API_KEY,
            base_url=f"{op_url}/v1",
            pacer=TokenBucket(fast, pacer_clock),
            retry=RetryPolicy(base=0.01, cap=0.05, max_attempts=2),
            clock=pacer_clock,
            rng=random.Random(1),
        )
        notion = NotionAdapter.from_token(
            NOTION_TOKEN,
            base_url="http://notion.test",
            http=notion_http,
            pacer=TokenBucket(NOTION_LIMIT, pacer_clock),
            retry=RetryPolicy(base=0.01, cap=0.05, max_attempts=2),
            clock=pacer_clock,
            rng=random.Random(1),
        )
        store = await Store.open(f"sqlite:///{tmp_path / 'opsync.db'}", clock=clock)
        blobs = LocalBlobStore(
            tmp_path / "media",
            signer=MediaSigner("s" * 32, clock=clock),
            public_base_url=PUBLIC_BASE,
        )
        emitter = op_sim.emitter(op_url)
        try:
            ctx = SyncContext(
                store=store,
                openphone=openphone,
                notion=notion,
                blobs=blobs,
                canvas=CanvasLookup(notion, store, seeded.canvas_database_id, clock=clock),
                directory=Directory(openphone, clock=clock),
                calls_data_source_id=seeded.calls_data_source_id,
                messages_data_source_id=seeded.messages_data_source_id,
                clock=clock,
            )
            line = workspace.phone_numbers[0]
            yield Env(
                clock, workspace, op_sim, notion_sim, seeded, ctx, emitter, tmp_path / "media",
                str(line["id"]), str(line["number"]), str(canvas_page),
            )  # fmt: skip
        finally:
            await emitter.aclose()
            await store.close()
            await notion.aclose()


@pytest.fixture
def registry(env: Env) -> ActorRegistry:
    return ActorRegistry(env.ctx, idle_seconds=600.0)
