"""Benchmark 5 — several instances: webhook ingest and end-to-end sync with 1, 2 and 3
``opsync serve`` processes on one PostgreSQL database, beside one process on SQLite.

Each configuration starts from an empty store (a SQLite file; on PostgreSQL a database of
its own, created here and dropped afterwards, migrated before the instances start) and runs
the real ``opsync serve`` command in N child processes (``python -m bench.instances serve
--port P``, the launcher at the bottom of this module), all pointed at the same two
simulators served in this process: the OpenPhone simulator (limit raised to 10,000
requests/s) and the Notion simulator (no limit). The service's own pacing is raised to
``pacing_rate`` requests/s per API (:data:`opsync.service.NOTION_LIMIT` and
``OPENPHONE_LIMIT``, as :mod:`tests.support.serve_rig` does): on PostgreSQL the instances
still share one GCRA bucket per credential through the ``rate_buckets`` table (one
``UPDATE … RETURNING`` per upstream request), so that cost is measured; at the real limits
(3 Notion requests/s for the whole deployment) every configuration would sync at the same
~2 resources/s and say nothing about the instances.

One run per configuration measures both figures:

* **ingest** — ``messages`` unique ``message.received`` / ``message.delivered`` deliveries
  (the simulator's own envelopes, legacy-signed before the clock starts) are sent
  round-robin to the instances by :func:`bench.ingest.capacity` (the closed-loop keep-alive
  load generator of benchmark 3), ``connections`` in all, split over the instances;
  accepted/s = 202 answers / elapsed. Unlike benchmark 3 the workers run meanwhile, as they
  do in a deployment (the scheduler's first firing, one sync job per number, is let drain
  before the clock starts);
* **end to end** — from the first delivery until the inbox has nothing pending or in
  flight: resources/s = Notion pages created / elapsed. ``pages_per_resource`` checks that
  each message became exactly one page.

On a 2-core machine the simulators, the load generator, PostgreSQL and every instance share
the two cores: CPU is what limits there, not the pacing; more instances cannot add cores.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench._common import HOST, REPO_ROOT, BenchResult, serve_simulator
from bench._ingest_server import WEBHOOK_PATH
from bench._pipeline import NOTION_KEY, OPENPHONE_KEY, WorldSize, build_workspace
from bench.ingest import EventFactory, _NoSleep, capacity
from opsync.sandbox._server import free_port
from opsync.sandbox.notion import NotionSimulator, seed_databases
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, WebhookEmitter
from opsync.store import Store, normalize_url

PG_URL_VARIABLES = ("OPSYNC_BENCH_POSTGRES_URL", "OPSYNC_TEST_POSTGRES_URL")
PACING_VAR = "OPSYNC_BENCH_PACING_RATE"


@dataclass(frozen=True)
class InstancesSize:
    """The default run: 1,000 messages over 10 numbers, SQLite then 1, 2 and 3 instances."""

    messages: int = 1000
    phone_numbers: int = 10
    instance_counts: tuple[int, ...] = (1, 2, 3)
    #: keep-alive connections in all, split evenly over the instances
    connections: int = 32
    pacing_rate: float = 1000.0
    drain_timeout: float = 300.0

    @classmethod
    def tiny(cls) -> InstancesSize:
        return cls(messages=24, phone_numbers=4, instance_counts=(2,), connections=4)


def postgres_url() -> str | None:
    """The server the PostgreSQL rows run on, or ``None`` (those rows are skipped)."""
    for name in PG_URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


async def postgres_reachable(url: str) -> str | None:
    """``None`` when a connection to ``url`` succeeds, else why not (the URL left out: it may
    hold a password)."""
    engine = _admin_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        return f"PostgreSQL unreachable: {type(exc).__name__}"
    finally:
        await engine.dispose()
    return None


def _admin_engine(url: str) -> AsyncEngine:
    """Outside transactions (``CREATE DATABASE`` refuses to run in one)."""
    return create_async_engine(
        normalize_url(url), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )


@asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of ``url``; its URL; dropped afterwards."""
    name = f"opsync_bench_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield (
                normalize_url(url)
                .set(drivername="postgresql", database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            async with engine.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await engine.dispose()


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    envelopes: list[dict[str, Any]]
    env: dict[str, str]
    legacy_key: str


def build_world(size: InstancesSize, now: float) -> World:
    ws = build_workspace(
        WorldSize(phone_numbers=size.phone_numbers, calls=0, messages=size.messages,
                  counterparts=6, days=5.0, seed=23),
        now,
    )  # fmt: skip
    openphone = OpenPhoneSimulator(ws, SimulatorConfig(api_key=OPENPHONE_KEY, rate_limit=10_000))
    notion = NotionSimulator(api_key=NOTION_KEY, rate_limit=None)
    ids = seed_databases(notion.state)
    legacy_key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        "OPENPHONE_API_KEY": OPENPHONE_KEY,
        "NOTION_API_KEY": NOTION_KEY,
        "NOTION_CALLS_DATABASE_ID": ids.calls_database_id,
        "NOTION_MESSAGES_DATABASE_ID": ids.messages_database_id,
        "WEBHOOK_SECRET": legacy_key,
        "OPSYNC_MEDIA_SIGNING_KEY": secrets.token_hex(32),
        "OPSYNC_PUBLIC_BASE_URL": "http://127.0.0.1:9",
        "OPSYNC_MAPPING_FILE": "",
        # the scheduler's first sync at start-up looks back 1 s: it finds nothing to write, so
        # every page comes from the webhooks measured
        "OPSYNC_INITIAL_WINDOW": "1",
        "LOG_LEVEL": "WARNING",
        PACING_VAR: str(size.pacing_rate),
    }
    return World(openphone, notion, [], env, legacy_key)


def envelopes(world: World, media_base_url: str) -> list[dict[str, Any]]:
    """One delivery per message, oldest first: what OpenPhone sends when it happens."""
    emitter = WebhookEmitter(world.openphone.workspace, _NoSleep(), [],
                             media_base_url=media_base_url)  # fmt: skip
    out = []
    for message in sorted(world.openphone.workspace.messages.values(), key=lambda m: m.created_at):
        kind = "message.received" if message.direction == "incoming" else "message.delivered"
        out.append(emitter.message_event(kind, message.id, message.created_at).envelope("legacy"))
    return out


# --- the instances ------------------------------------------------------------------------


@dataclass
class Instance:
    port: int
    process: asyncio.subprocess.Process


@asynccontextmanager
async def instances(
    count: int, env: dict[str, str], data_dir: Path
) -> AsyncIterator[list[Instance]]:
    """``count`` ``opsync serve`` processes, each answering ``/health``; SIGTERM at exit."""
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")) if p
    )
    started: list[Instance] = []
    try:
        for index in range(count):
            port = free_port()
            with (data_dir / f"serve-{index}.log").open("ab") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.instances", "serve", "--port", str(port),
                    env=child_env, cwd=str(data_dir), stdout=log, stderr=log,
                )  # fmt: skip
            started.append(Instance(port, process))
        async with httpx.AsyncClient(timeout=2.0) as http:
            for instance in started:
                await _healthy(http, instance, data_dir)
        yield started
    finally:
        for instance in started:
            if instance.process.returncode is None:
                instance.process.terminate()
        for instance in started:
            try:
                await asyncio.wait_for(instance.process.wait(), timeout=40)
            except TimeoutError:
                instance.process.kill()
                await instance.process.wait()


async def _healthy(http: httpx.AsyncClient, instance: Instance, data_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if instance.process.returncode is not None:
            tail = _log_tail(data_dir)
            raise RuntimeError(f"opsync serve exited with {instance.process.returncode}:\n{tail}")
        with suppress(httpx.TransportError):
            if (await http.get(f"http://{HOST}:{instance.port}/health")).status_code == 200:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("opsync serve did not answer /health within 60 s")


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    return "\n".join(
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for path in sorted(data_dir.glob("serve-*.log"))
    )


# --- one configuration --------------------------------------------------------------------


async def run_config(
    size: InstancesSize, database_url: str | None, count: int, now: float
) -> dict[str, Any]:
    """One configuration: ``count`` instances on ``database_url`` (``None``: SQLite)."""
    world = build_world(size, now)
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="opsync-bench-inst-")))
        openphone_url = await stack.enter_async_context(serve_simulator(world.openphone.app))
        notion_url = await stack.enter_async_context(serve_simulator(world.notion.app))
        if database_url is None:
            database_url = f"sqlite:///{tmp / 'opsync.db'}"
            backend = "sqlite"
        else:
            database_url = await stack.enter_async_context(fresh_database(database_url))
            backend = "postgresql"
        env = {
            **world.env,
            "OPENPHONE_API_BASE": openphone_url + "/v1",
            "OPSYNC_NOTION_BASE_URL": notion_url,
            "OPSYNC_DATABASE_URL": database_url,
            "OPSYNC_BLOB_URL": str(tmp / "media"),
        }
        store = await Store.open(database_url)  # migrated before any instance starts
        stack.push_async_callback(store.close)
        templates = envelopes(world, openphone_url)
        running = await stack.enter_async_context(instances(count, env, tmp))
        # the scheduler's first firing (one sync job per number, once for the deployment)
        # runs before the clock starts, not inside the measurement
        startup = await _drain(store, size.phone_numbers, 60.0)
        per_instance: list[list[bytes]] = [[] for _ in running]
        factory = EventFactory(running[0].port, world.legacy_key, "", templates)
        for index in range(len(templates)):
            per_instance[index % count].append(factory.request(WEBHOOK_PATH, "legacy"))
        pages_before = world.notion.counter.count("POST /v1/pages", 200)
        notion_before = _notion_requests(world.notion)

        began = time.perf_counter()
        answers = await asyncio.gather(
            *(
                capacity(inst.port, requests, max(1, size.connections // count), 3600.0)
                for inst, requests in zip(running, per_instance, strict=True)
            )
        )
        ingest_elapsed = time.perf_counter() - began
        accepted = sum(status[202] for status, _ in answers)
        statuses: dict[str, int] = {}
        for status, _ in answers:
            for code, n in status.items():
                statuses[str(code)] = statuses.get(str(code), 0) + n
        expected = accepted + sum(startup.values())
        counts = await _drain(store, expected, size.drain_timeout)
        e2e_elapsed = time.perf_counter() - began
        pages = world.notion.counter.count("POST /v1/pages", 200) - pages_before
        notion_requests = _notion_requests(world.notion) - notion_before
    return {
        "backend": backend,
        "instances": count,
        "events": len(templates),
        "ingest_accepted_per_s": round(accepted / ingest_elapsed, 1),
        "ingest_seconds": round(ingest_elapsed, 2),
        "ingest_statuses": statuses,
        "e2e_resources_per_s": round(pages / e2e_elapsed, 1),
        "e2e_seconds": round(e2e_elapsed, 2),
        "pages_created": pages,
        "pages_per_resource": round(pages / max(1, len(templates)), 3),
        "notion_requests": notion_requests,
        "notion_requests_per_s": round(notion_requests / e2e_elapsed, 1),
        "inbox": counts,
        "inbox_before": startup,
    }


def _notion_requests(sim: NotionSimulator) -> int:
    return sum(sum(by.values()) for by in sim.counter.to_json().values())


async def _drain(store: Store, expected: int, within: float) -> dict[str, int]:
    """Wait until ``expected`` events are stored and none is pending or in flight."""
    deadline = time.monotonic() + within
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = {str(state): n for state, n in (await store.inbox_counts()).items()}
        busy = counts.get("pending", 0) + counts.get("in_flight", 0)
        if busy == 0 and sum(counts.values()) >= expected:
            return counts
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the inbox did not drain within {within:g} s: {counts}")


# --- the benchmark ------------------------------------------------------------------------


async def run(size: InstancesSize | None = None) -> BenchResult:
    size = size or InstancesSize()
    began = time.perf_counter()
    result = BenchResult(
        "instances",
        "Several instances (ingest + end-to-end sync; SQLite x1 vs PostgreSQL xN)",
        params={
            "messages": size.messages,
            "phone_numbers": size.phone_numbers,
            "instance_counts": list(size.instance_counts),
            "connections_in_all": size.connections,
            "service_pacing_per_api_rps": size.pacing_rate,
            "notion_simulator_limit": None,
            "openphone_simulator_limit_rps": 10_000,
            "load_generator": "bench.ingest.capacity, round-robin over the instances",
        },
    )
    now = time.time()
    configs: list[tuple[str, str | None, int]] = [("sqlite_1", None, 1)]
    url = postgres_url()
    skipped = (
        f"no PostgreSQL: set {' or '.join(PG_URL_VARIABLES)}"
        if url is None
        else await postgres_reachable(url)
    )
    if skipped is None and url is not None:
        configs += [(f"postgresql_{n}", url, n) for n in size.instance_counts]
    else:
        result.params["postgresql_skipped"] = skipped
        result.notes.append(f"PostgreSQL rows skipped: {skipped}")
    for key, database_url, count in configs:
        metrics = await run_config(size, database_url, count, now)
        result.metrics[key] = metrics
        label = f"{metrics['backend']} x{count}"
        result.check(f"{label}: ingest accepted/s", metrics["ingest_accepted_per_s"], "ev/s")
        result.check(f"{label}: end-to-end resources/s", metrics["e2e_resources_per_s"], "res/s")
        off = abs(metrics["pages_created"] - metrics["events"])  # exactly one page each
        result.check(f"{label}: pages ≠ messages", off, "pages", 0, "<=")
        if metrics["ingest_statuses"].keys() - {"202"}:
            result.notes.append(f"{label} answered {metrics['ingest_statuses']}")
        if metrics["inbox"].get("dead", 0):
            result.notes.append(f"{label}: {metrics['inbox']['dead']} events dead-lettered")
    result.notes.append(
        "Service pacing raised to "
        f"{size.pacing_rate:g} req/s per API (shared GCRA buckets on PostgreSQL), simulators "
        "unlimited: what limits is CPU — simulators, load generator, database and every "
        "instance share this machine's cores. At the real limits (3 Notion req/s for the "
        "whole deployment) end-to-end throughput is the same for any number of instances."
    )
    result.elapsed_seconds = time.perf_counter() - began
    return result


# --- the child process ----------------------------------------------------------------------


def serve_main(argv: list[str]) -> None:
    """``opsync serve`` with the service's pacing limits raised to ``OPSYNC_BENCH_PACING_RATE``."""
    from opsync import service
    from opsync.cli.main import main as opsync_main
    from opsync.pacing import RateLimit

    rate = float(os.environ.get(PACING_VAR) or 0)
    if rate > 0:  # Pacers.default and Pacers.shared read these module globals
        limit = RateLimit(rate=rate, burst=max(1, int(rate)))
        setattr(service, "NOTION_LIMIT", limit)  # noqa: B010 (module globals, not exported)
        setattr(service, "OPENPHONE_LIMIT", limit)  # noqa: B010
    sys.argv = ["opsync", *argv]
    opsync_main()


if __name__ == "__main__":
    serve_main(sys.argv[1:])
