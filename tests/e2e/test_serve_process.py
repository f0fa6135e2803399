"""``opsync serve`` as a real process: it starts, syncs, and on SIGTERM stops taking work,
lets in-flight events finish or releases them, and exits 0 — nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from opsync.clock import SystemClock
from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import subscribe_all
from opsync.sandbox._server import free_port, serve
from opsync.sandbox.notion import FaultConfig, NotionSimulator, NotionState, seed_databases
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace
from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from opsync.store import Store
from tests.support.sandbox_env import API_KEY, sandbox_environ


@dataclass
class Rig:
    env: dict[str, str]
    port: int
    db_url: str
    openphone_sim: OpenPhoneSimulator
    notion_sim: NotionSimulator
    op_url: str
    calls_ds: str


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SystemClock()
    workspace = generate_workspace(seed=31, now=clock.now())
    op_sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion_sim = NotionSimulator(NotionState(clock, seed=7), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'opsync.db'}"
    async with (
        serve(op_sim.app) as op_url,
        serve(notion_sim.app) as notion_url,
        httpx.AsyncClient() as http,
    ):
        registrar = OpenPhoneClient(http, API_KEY, base_url=f"{op_url}/v1")
        keys = await subscribe_all(registrar, f"http://127.0.0.1:{port}/webhooks/openphone")
        env = {
            "PATH": os.environ.get("PATH", ""),
            **sandbox_environ(
                openphone_url=op_url,
                notion_url=notion_url,
                seeded=seeded,
                data_dir=tmp_path,
                public_base_url=f"http://127.0.0.1:{port}",
                webhook_keys=keys,
                OPSYNC_CALL_SETTLE_SECONDS="0",
            ),
        }
        yield Rig(env, port, db_url, op_sim, notion_sim, op_url, seeded.calls_data_source_id)


async def start(rig: Rig, cwd: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsync", "serve", "--port", str(rig.port),
        env=rig.env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient() as http, asyncio.timeout(20):
        while True:
            try:
                if (await http.get(f"http://127.0.0.1:{rig.port}/health")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            assert process.returncode is None, "opsync serve exited during start-up"
            await asyncio.sleep(0.1)


async def counts(db_url: str) -> dict[str, int]:
    """Inbox rows by state: the delivered webhooks only (the scheduler also queues a sync
    job per number when the service first starts)."""
    store = await Store.open(db_url)
    try:
        _, rows = await store.execute_query(
            "SELECT state, COUNT(*) FROM inbox WHERE source = 'webhook' GROUP BY state"
        )
    finally:
        await store.close()
    found = {str(state): int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in ("pending", "in_flight", "done", "dead")}


async def test_sigterm_finishes_or_releases_in_flight_work_and_loses_nothing(
    rig: Rig, tmp_path: Path
) -> None:
    ws = rig.openphone_sim.workspace
    pn = str(ws.phone_numbers[0]["id"])
    emitter = rig.openphone_sim.emitter(rig.op_url)
    process = await start(rig, tmp_path)
    try:
        # Slow Notion: events are mid-flight when the signal arrives.
        rig.notion_sim.set_faults(FaultConfig(slow=1.0, slow_seconds=1.0))
        events, calls = [], set()
        for n in range(4):
            call = ws.add_call(pn, f"+1415555011{n}", at=SystemClock().now())
            calls.add(call.id)
            events.append(emitter.call_event("call.ringing", call.id, SystemClock().now()))
            while (stage := ws.advance_call(call.id)) is not None:
                kind = STAGE_EVENTS[stage]
                if kind is not None:
                    events.append(emitter.call_event(kind, call.id, SystemClock().now()))
        deliveries = await emitter.deliver(events)
        assert all(d.status_code == 202 for d in deliveries)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await emitter.aclose()
    after_stop = await counts(rig.db_url)
    assert after_stop["in_flight"] == 0
    assert sum(after_stop.values()) == len(events)  # every acknowledged event is stored

    rig.notion_sim.set_faults(FaultConfig())
    process = await start(rig, tmp_path)
    try:
        async with asyncio.timeout(30):
            while True:
                now = await counts(rig.db_url)
                if now["pending"] == 0 and now["in_flight"] == 0:
                    break
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
    final = await counts(rig.db_url)
    assert final["done"] == len(events)
    assert final["dead"] == 0
    body = {"filter": {"property": "Call ID", "title": {"is_not_empty": True}}}
    pages = rig.notion_sim.state.query(rig.calls_ds, body)["results"]
    titles = ["".join(t["plain_text"] for t in p["properties"]["Call ID"]["title"]) for p in pages]
    assert len(titles) == len(set(titles))  # no call has two pages
    assert calls <= set(titles)  # (the first start's scheduled sync adds the workspace's own)
