"""The whole pipeline over real HTTP on loopback: both simulators, and the service as
``opsync serve`` builds it (``open_service`` + ``run_service``), with webhooks registered
through the OpenPhone API and delivered by the simulator's signed emitter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsync._uvicorn import bind_socket, bound_port
from opsync.clock import SystemClock
from opsync.config import load_settings
from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import subscribe_all
from opsync.pacing import RateLimit, TokenBucket
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    WebhookEmitter,
    Workspace,
    generate_workspace,
)
from opsync.sandbox.openphone.webhooks import Event
from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from opsync.service import Pacers, Service, open_service, run_service
from tests.support.private_postgres import PrivatePostgres, private_cluster
from tests.support.sandbox_env import API_KEY, sandbox_environ

FAST = RateLimit(rate=1_000.0, burst=1_000)


@dataclass
class Pipeline:
    workspace: Workspace
    openphone_sim: OpenPhoneSimulator
    notion_sim: NotionSimulator
    seeded: SeededDatabases
    service: Service
    emitter: WebhookEmitter
    webhook_url: str
    keys: list[str]
    pn_id: str
    own_number: str

    async def drain(self) -> dict[str, int]:
        """Wait (at most 20 s) until nothing is pending or in flight; return the counts."""
        async with asyncio.timeout(20):
            while True:
                counts = await self.service.store.inbox_counts()
                if counts["pending"] == 0 and counts["in_flight"] == 0:
                    return dict(counts)
                await asyncio.sleep(0.05)

    def call_events(self, call_id: str) -> list[Event]:
        """Every event of the call's life, advancing the workspace stage by stage so that the
        REST API agrees with each event when it is processed."""
        now = SystemClock().now()
        events = [self.emitter.call_event("call.ringing", call_id, now)]
        while (stage := self.workspace.advance_call(call_id)) is not None:
            event_type = STAGE_EVENTS[stage]
            if event_type is not None:
                events.append(self.emitter.call_event(event_type, call_id, now))
        return events

    def add_call(self, participant: str, **kwargs: Any) -> str:
        call = self.workspace.add_call(self.pn_id, participant, at=SystemClock().now(), **kwargs)
        return call.id

    def notion_requests(self) -> int:
        counts = self.notion_sim.counter.to_json()
        return sum(sum(by_status.values()) for by_status in counts.values())

    def pages(self, data_source_id: str, title_property: str, value: str) -> list[dict[str, Any]]:
        body = {"filter": {"property": title_property, "title": {"equals": value}}}
        return list(self.notion_sim.state.query(data_source_id, body)["results"])

    def call_pages(self, call_id: str) -> list[dict[str, Any]]:
        return self.pages(self.seeded.calls_data_source_id, "Call ID", call_id)

    def message_pages(self, message_id: str) -> list[dict[str, Any]]:
        return self.pages(self.seeded.messages_data_source_id, "Message ID", message_id)

    def canvas_page(self, name: str, phone: str) -> str:
        page = self.notion_sim.state.create_page(
            {
                "parent": {
                    "type": "data_source_id",
                    "data_source_id": self.seeded.canvas_data_source_id,
                },
                "properties": {
                    "Name": {"title": [{"type": "text", "text": {"content": name}}]},
                    "Phone": {"phone_number": phone},
                },
            }
        )
        return str(page["id"])

    def body_text(self, page_id: str) -> str:
        texts: list[str] = []
        cursor: str | None = None
        while True:
            listed = self.notion_sim.state.list_children(page_id, cursor, 100)
            for block in listed["results"]:
                inner = block.get(block["type"], {})
                texts.extend(r.get("plain_text", "") for r in inner.get("rich_text", []))
            cursor = listed.get("next_cursor")
            if not listed.get("has_more"):
                return "\n".join(texts)


def plain(value: dict[str, Any]) -> str:
    kind = value["type"]
    return "".join(item.get("plain_text", "") for item in value[kind])


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    clock = SystemClock()
    workspace = generate_workspace(seed=21, now=clock.now())
    op_sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion_sim = NotionSimulator(NotionState(clock, seed=5), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    sock = bind_socket("127.0.0.1")
    port = bound_port(sock)
    service_url = f"http://127.0.0.1:{port}"
    webhook_url = f"{service_url}/webhooks/openphone"
    async with (
        serve(op_sim.app) as op_url,
        serve(notion_sim.app) as notion_url,
        httpx.AsyncClient() as http,
    ):
        registrar = OpenPhoneClient(http, API_KEY, base_url=f"{op_url}/v1")
        keys = await subscribe_all(registrar, webhook_url)
        settings = load_settings(
            sandbox_environ(
                openphone_url=op_url,
                notion_url=notion_url,
                seeded=seeded,
                data_dir=tmp_path,
                public_base_url=service_url,
                webhook_keys=keys,
                OPSYNC_ADMIN_TOKEN="e2e-admin-token",
                OPSYNC_CALL_SETTLE_SECONDS="2",
            )
        )
        pacers = Pacers(TokenBucket(FAST), TokenBucket(FAST))
        async with open_service(settings, pacers=pacers, poll_interval=0.02) as service:
            stop, started = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(
                run_service(
                    service, host="127.0.0.1", port=port, stop=stop, started=started, sock=sock
                )
            )
            emitter = op_sim.emitter(op_url)
            try:
                async with asyncio.timeout(10):
                    await started.wait()
                line = workspace.phone_numbers[0]
                yield Pipeline(
                    workspace, op_sim, notion_sim, seeded, service, emitter, webhook_url, keys,
                    str(line["id"]), str(line["number"]),
                )  # fmt: skip
            finally:
                await emitter.aclose()
                stop.set()
                await task


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own that it may stop and start (skipped when one
    cannot be made here)."""
    with private_cluster() as cluster:
        yield cluster
