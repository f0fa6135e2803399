"""The backfill world of benchmarks 1 and 2: both simulators here, the service in a child.

:func:`build_world` makes a workspace holding exactly the calls (every one through its whole
life: completed, recording, transcript, summary or voicemail) and messages asked for, spread
over ``phone_numbers`` lines and ``counterparts`` people each, over the last ``days`` days;
half the counterparts have a Canvas page. :func:`run_backfill` serves both simulators on
loopback in this process, starts :mod:`bench._service_proc` (the service as ``opsync
serve`` builds it, running one ``--all`` sync job per phone number), samples the child's
resident memory and the simulators' request counters every ``sample_every`` seconds, and
returns what it saw.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import REPO_ROOT, rss_mb, serve_simulator
from opsync.pacing import RateLimit
from opsync.sandbox.notion import NotionSimulator, SeededDatabases, seed_databases
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, WorkspaceSize
from opsync.sandbox.openphone import generate_workspace as generate
from opsync.sandbox.openphone.content import MESSAGES
from opsync.sandbox.openphone.generator import CALL_KINDS
from opsync.sandbox.openphone.workspace import Workspace

OPENPHONE_KEY = "bench-openphone-key"
NOTION_KEY = "secret_bench_notion_token"
DAY = 86_400.0


@dataclass(frozen=True)
class WorldSize:
    phone_numbers: int = 3
    calls: int = 300
    messages: int = 2000
    counterparts: int = 20
    days: float = 20.0
    seed: int = 11


@dataclass
class World:
    workspace: Workspace
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    ids: SeededDatabases
    canvas_pages: int


def build_workspace(size: WorldSize, now: float) -> Workspace:
    """Exactly ``size.calls`` finished calls and ``size.messages`` messages (pure)."""
    ws = generate(size.seed, now, WorkspaceSize(phone_numbers=size.phone_numbers,
                                                counterparts_per_number=0))  # fmt: skip
    ws.calls.clear()  # the generator's two recent calls: the benchmark wants exact counts
    ws.messages.clear()
    ws.conversations.clear()
    rng = random.Random(size.seed)
    lines = [str(n["id"]) for n in ws.phone_numbers]
    own = {str(n["number"]) for n in ws.phone_numbers}
    contacts = [str(c["defaultFields"]["phoneNumbers"][0]["value"]) for c in ws.contacts]
    people: dict[str, list[str]] = {}
    for line in lines:
        mine = [n for n in contacts if n not in own][: size.counterparts // 2]
        while len(mine) < size.counterparts:
            mine.append(f"+1321{rng.randint(2000000, 9999999)}")
        people[line] = mine
    plan: list[tuple[float, int, str, str]] = []
    for index in range(size.calls):
        plan.append(
            (now - rng.uniform(0.1, size.days) * DAY, index, "call", lines[index % len(lines)])
        )
    for index in range(size.messages):
        line = lines[index % len(lines)]
        plan.append((now - rng.uniform(0.1, size.days) * DAY, index, "message", line))
    for at, index, kind, line in sorted(plan):
        other = rng.choice(people[line])
        if kind == "call":
            direction, outcome = CALL_KINDS[index % len(CALL_KINDS)]
            long_call = outcome == "answered" and index % 10 == 5
            talk = rng.randint(900, 1500) if long_call else rng.randint(25, 420)
            call = ws.add_call(line, other, at=at, direction=direction, outcome=outcome,
                               talk_seconds=talk)  # fmt: skip
            ws.finish_call(call.id)
        else:
            direction = rng.choice(("incoming", "outgoing"))
            media = ["image/png"] if direction == "incoming" and rng.random() < 0.1 else None
            message = ws.add_message(line, [other], rng.choice(MESSAGES), at=at,
                                     direction=direction, media=media)  # fmt: skip
            if direction == "outgoing":
                ws.deliver_message(message.id, at + 5)
    return ws


def build_world(
    size: WorldSize, *, notion_rate: RateLimit | None, openphone_rate: int, now: float
) -> World:
    ws = build_workspace(size, now)
    openphone = OpenPhoneSimulator(ws, SimulatorConfig(api_key=OPENPHONE_KEY,
                                                       rate_limit=openphone_rate))  # fmt: skip
    notion = NotionSimulator(api_key=NOTION_KEY, rate_limit=notion_rate)
    ids = seed_databases(notion.state)
    counterparts = sorted({c.participant for c in ws.calls.values()}
                          | {p for m in ws.messages.values() for p in [*m.recipients, m.sender]}
                          - {str(n["number"]) for n in ws.phone_numbers})  # fmt: skip
    pages = 0
    for index, number in enumerate(counterparts[::2]):
        notion.state.create_page(
            {
                "parent": {"type": "data_source_id", "data_source_id": ids.canvas_data_source_id},
                "properties": {
                    "Name": {"title": [{"text": {"content": f"Customer {index + 1}"}}]},
                    "Phone": {"phone_number": number},
                },
            }
        )
        pages += 1
    return World(ws, openphone, notion, ids, pages)


@dataclass
class Sample:
    t: float
    rss_mb: float
    notion_requests: int
    notion_pages_created: int
    openphone_requests: int


@dataclass
class RunOutcome:
    ready_at: float = 0.0
    enqueued_at: float = 0.0
    drained_at: float = 0.0
    drained: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    notion_at_enqueue: int = 0
    openphone_at_enqueue: int = 0
    error: str | None = None

    @property
    def elapsed(self) -> float:
        return max(1e-9, self.drained_at - self.enqueued_at)


def notion_total(sim: NotionSimulator, status: str | None = None) -> int:
    counts = sim.counter.to_json().values()
    if status is None:
        return sum(sum(by.values()) for by in counts)
    return sum(by.get(status, 0) for by in counts)


def _settings(world: World, urls: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {
        "OPENPHONE_API_KEY": OPENPHONE_KEY,
        "OPENPHONE_API_BASE": urls["openphone"] + "/v1",
        "NOTION_API_KEY": NOTION_KEY,
        "OPSYNC_NOTION_BASE_URL": urls["notion"],
        "NOTION_CALLS_DATABASE_ID": world.ids.calls_database_id,
        "NOTION_MESSAGES_DATABASE_ID": world.ids.messages_database_id,
        "NOTION_CANVAS_DATABASE_ID": world.ids.canvas_database_id,
        "WEBHOOK_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
        "OPSYNC_DATABASE_URL": f"sqlite:///{data_dir / 'opsync.db'}",
        "OPSYNC_BLOB_URL": str(data_dir / "media"),
        "OPSYNC_PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "INFO",
    }


async def run_backfill(
    world: World,
    *,
    notion_pacer: RateLimit,
    openphone_pacer: RateLimit,
    drain_timeout: float,
    sample_every: float = 0.5,
    on_sample: Callable[[Sample], None] | None = None,
) -> RunOutcome:
    """Serve the simulators, run the service child until its sync jobs drain; see module."""
    outcome = RunOutcome()
    with tempfile.TemporaryDirectory(prefix="opsync-bench-backfill-") as tmp:
        data_dir = Path(tmp)
        async with (
            serve_simulator(world.openphone.app) as openphone_url,
            serve_simulator(world.notion.app) as notion_url,
        ):
            urls = {"openphone": openphone_url, "notion": notion_url}
            config = {
                "env": _settings(world, urls, data_dir),
                "notion_pacer": [notion_pacer.rate, notion_pacer.burst],
                "openphone_pacer": [openphone_pacer.rate, openphone_pacer.burst],
                "phone_numbers": [str(n["id"]) for n in world.workspace.phone_numbers],
                "drain_timeout": drain_timeout,
            }
            config_path = data_dir / "config.json"
            config_path.write_text(json.dumps(config))
            await _child(world, config_path, outcome, sample_every, drain_timeout, on_sample)
    return outcome


async def _child(
    world: World,
    config_path: Path,
    outcome: RunOutcome,
    sample_every: float,
    drain_timeout: float,
    on_sample: Callable[[Sample], None] | None,
) -> None:
    env = {**os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench._service_proc", str(config_path),
        stdout=asyncio.subprocess.PIPE, env=env, cwd=str(REPO_ROOT),
    )  # fmt: skip
    assert proc.stdout is not None
    pid = proc.pid
    sampling = True

    def sample() -> Sample:
        return Sample(
            time.monotonic(),
            rss_mb(pid) or 0.0,
            notion_total(world.notion),
            world.notion.counter.count("POST /v1/pages", 200),
            world.openphone.counters.total,
        )

    async def sampler() -> None:
        while sampling:
            point = sample()
            outcome.samples.append(point)
            if on_sample is not None:
                on_sample(point)
            await asyncio.sleep(sample_every)

    sampler_task: asyncio.Task[None] | None = None
    try:
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=drain_timeout + 60)
            if not line:
                outcome.error = outcome.error or f"the service exited ({await proc.wait()})"
                break
            message = json.loads(line)
            event = message.get("event")
            if event == "ready":
                outcome.ready_at = time.monotonic()
                outcome.notion_at_enqueue = notion_total(world.notion)
                outcome.openphone_at_enqueue = world.openphone.counters.total
                sampler_task = asyncio.create_task(sampler())
            elif event == "enqueued":
                outcome.enqueued_at = time.monotonic()
            elif event == "drained":
                outcome.drained_at = time.monotonic()
                outcome.drained = message
                break
            elif event in ("timeout", "error"):
                outcome.drained_at = time.monotonic()
                outcome.error = json.dumps(message)[:2000]
                break
    finally:
        sampling = False
        if sampler_task is not None:
            await sampler_task
        outcome.samples.append(sample())
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
