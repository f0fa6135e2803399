"""``run_demo``: both simulators and the service on loopback, one scenario, one verdict.

Everything runs in the current event loop: the simulators are served with
:func:`opsync.sandbox._server.serve`, the service with :func:`opsync.service.run_service` in a
task. The webhooks are registered with the OpenPhone simulator through
:meth:`OpenPhoneClient.create_webhook` — one per family — and the keys it returns become the
service's ``WEBHOOK_SECRET``; the service's port is picked first so the URL is known.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shlex
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console

from opsync._uvicorn import bind_socket, bound_port
from opsync.clock import SystemClock
from opsync.config import Settings, load_settings
from opsync.demo.metering import NotionMeter, openphone_requests
from opsync.demo.scenario import (
    DEFAULT_COMPRESSION,
    CompressedClock,
    Played,
    Scenario,
    ScenarioOptions,
    build_scenario,
    play_scenario,
    seed_canvas,
)
from opsync.demo.summary import RateLimits, RunFacts, build_summary, store_figures
from opsync.demo.verify import NotionIds, verify
from opsync.errors import OpsyncError
from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import register_webhooks
from opsync.pacing import NOTION_LIMIT, RateLimit, TokenBucket
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, SeededDatabases, seed_databases
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig
from opsync.service import Pacers, Service, open_service, run_service
from opsync.store import Store

HOST = "127.0.0.1"
OPENPHONE_KEY = "demo-openphone-key"
NOTION_KEY = "secret_demo_notion_token"
#: the documented limits, and the demo's: our pacers, and the simulators a little above them
OPENPHONE_REAL_RATE = 10.0
OPENPHONE_DEMO = RateLimit(rate=50.0, burst=1)
NOTION_DEMO = RateLimit(rate=30.0, burst=10)
#: the service's default settle window, in real seconds; the demo compresses it with the clock
CALL_SETTLE_SECONDS = float(Settings.model_fields["call_settle_seconds"].default)
WEBHOOK_PATH = str(Settings.model_fields["webhook_path"].default)
DB_FILE = "opsync.db"
DUMP_FILE = "notion-dump.json"
MEDIA_DIR = "media"


class DemoError(OpsyncError):
    """The demo could not finish (the inbox did not drain in time, the service stopped)."""


@dataclass(frozen=True)
class DemoOptions:
    calls: int = 30
    messages: int = 100
    seed: int = 1
    data_dir: Path = Path("demo-data")
    serve: bool = False
    compression: float = DEFAULT_COMPRESSION
    #: seconds the inbox may take to drain once every life has been played
    drain_timeout: float = 120.0
    phone_numbers: int = 3

    @property
    def call_settle_seconds(self) -> float:
        """The settle window on the compressed clock: the same span of simulated time."""
        return CALL_SETTLE_SECONDS / self.compression

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / DB_FILE).resolve()}"


def fresh_data_dir(data_dir: Path) -> None:
    """Create ``data_dir``; remove what an earlier demo left there (only the demo's files)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", DUMP_FILE):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / MEDIA_DIR, ignore_errors=True)


async def register_demo_webhooks(
    http: httpx.AsyncClient, openphone_api: str, url: str, database_url: str
) -> None:
    """Register ``url`` with the simulated OpenPhone as ``opsync webhooks register`` does: the
    signing keys go to the store, where the service reads them (no ``WEBHOOK_SECRET``)."""
    client = OpenPhoneClient(http, OPENPHONE_KEY, base_url=openphone_api)
    async with await Store.open(database_url) as store:
        await register_webhooks(client, store, url, label="opsync demo")


def demo_settings(options: DemoOptions, ids: SeededDatabases, urls: Mapping[str, str]) -> Settings:
    return load_settings(
        {
            "OPENPHONE_API_KEY": OPENPHONE_KEY,
            "OPENPHONE_API_BASE": urls["openphone"] + "/v1",
            "NOTION_API_KEY": NOTION_KEY,
            "OPSYNC_NOTION_BASE_URL": urls["notion"],
            "NOTION_CALLS_DATABASE_ID": ids.calls_database_id,
            "NOTION_MESSAGES_DATABASE_ID": ids.messages_database_id,
            "NOTION_CANVAS_DATABASE_ID": ids.canvas_database_id,
            "OPSYNC_DATABASE_URL": options.database_url,
            "OPSYNC_BLOB_URL": str((options.data_dir / MEDIA_DIR).resolve()),
            "OPSYNC_PUBLIC_BASE_URL": urls["service"],
            "OPSYNC_ADMIN_TOKEN": secrets.token_urlsafe(16),
            "OPSYNC_CALL_SETTLE_SECONDS": str(options.call_settle_seconds),
            "LOG_LEVEL": "WARNING",
            "OPSYNC_MAPPING_FILE": "",  # the seeded databases have the seed's names
        }
    )


async def wait_for_drain(
    store: Store, expected: int, limit: float, service_task: asyncio.Task[None]
) -> None:
    """Until every accepted event is in the inbox and none is pending or in flight."""
    deadline = time.monotonic() + limit
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        if service_task.done():
            service_task.result()
            raise DemoError("the service stopped before the inbox drained")
        counts = {str(state): n for state, n in (await store.inbox_counts()).items()}
        received = sum(counts.values())
        if received >= expected and counts["pending"] == 0 and counts["in_flight"] == 0:
            return
        await asyncio.sleep(0.1)
    raise DemoError(
        f"the inbox did not drain within {limit:g} s: {counts} ({expected} events were delivered)"
    )


async def _start(service: Service, sock: socket.socket, stop: asyncio.Event) -> asyncio.Task[None]:
    started = asyncio.Event()
    port = bound_port(sock)
    task = asyncio.create_task(
        run_service(service, host=HOST, port=port, stop=stop, started=started, sock=sock)
    )
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not started.is_set():
        stop.set()
        if task.done():
            task.result()
        raise DemoError(f"the service did not start on {HOST}:{port}")
    return task


def _facts(
    options: DemoOptions,
    played: Played,
    service: Service,
    meter: NotionMeter,
    openphone: OpenPhoneSimulator,
    elapsed: float,
) -> RunFacts:
    return RunFacts(
        calls=len(played.call_ids),
        messages=len(played.message_ids),
        duplicate_deliveries=sum(1 for d in played.deliveries if d.status_code == 200),
        failed_deliveries=sum(1 for d in played.deliveries if not d.ok),
        notion_requests=meter.requests,
        notion_per_call=[meter.by_title[call_id] for call_id in played.call_ids],
        notion_per_message=[meter.by_title[message_id] for message_id in played.message_ids],
        openphone_requests=openphone_requests(openphone.counters.by_endpoint),
        canvas=service.canvas.stats.as_dict() if service.canvas else {},
        compression=options.compression,
        rate_limits=RateLimits(
            NOTION_LIMIT.rate, NOTION_DEMO.rate, OPENPHONE_REAL_RATE, OPENPHONE_DEMO.rate
        ),
        settle_seconds=(CALL_SETTLE_SECONDS, options.call_settle_seconds),
        elapsed_seconds=elapsed,
    )


def _explore(options: DemoOptions, console: Console) -> None:
    db = f"opsync --db {options.database_url}"
    folder = options.data_dir.resolve()
    console.print(f"Data in {folder}: {DB_FILE}, {MEDIA_DIR}/, {DUMP_FILE}", soft_wrap=True)
    query = '"SELECT * FROM sync_stats_today"'
    console.print(f"Explore: {db} db query {query}", highlight=False, soft_wrap=True)
    numbers = '"SELECT id, number, total_calls_synced, total_messages_synced FROM phone_numbers"'
    console.print(f"         {db} db query {numbers}", highlight=False, soft_wrap=True)
    slow = '"SELECT * FROM sync_history ORDER BY processing_time_ms DESC LIMIT 10"'
    console.print(f"         {db} db query {slow}", highlight=False, soft_wrap=True)


async def run_demo(
    options: DemoOptions,
    console: Console | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Play the scenario end to end and return the summary (``summary["ok"]`` is the verdict).

    ``report`` is called with the summary as soon as it is known — before the demo keeps
    running with ``options.serve``. ``console`` receives progress, how to explore the data
    and the URLs to look around. Raises :class:`DemoError` when the service does not start or
    the inbox does not drain in time.
    """
    console = console or Console(stderr=True, quiet=True)
    began = time.monotonic()
    fresh_data_dir(options.data_dir)
    box = Sandbox.build(options)
    async with (
        serve(box.openphone.app, HOST) as openphone_url,
        serve(box.meter, HOST) as notion_url,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        # Bound now, so its port is known for the webhook URL and cannot be taken meanwhile.
        sock = bind_socket(HOST)
        port = bound_port(sock)
        urls = {
            "service": f"http://{HOST}:{port}",
            "openphone": openphone_url,
            "notion": notion_url,
        }
        webhook_url = urls["service"] + WEBHOOK_PATH
        await register_demo_webhooks(
            http, urls["openphone"] + "/v1", webhook_url, options.database_url
        )
        settings = demo_settings(options, box.ids, urls)
        clock = SystemClock()
        pacers = Pacers(TokenBucket(NOTION_DEMO, clock), TokenBucket(OPENPHONE_DEMO, clock))
        async with open_service(settings, pacers=pacers, poll_interval=0.05) as service:
            stop = asyncio.Event()
            task = await _start(service, sock, stop)
            try:
                console.print(f"Playing {options.calls} calls and {options.messages} messages…")
                played = await play_scenario(
                    box.scenario, CompressedClock(options.compression), openphone_url, http
                )
                expected = len(played.accepted_event_ids())
                await wait_for_drain(service.store, expected, options.drain_timeout, task)
                summary = await _check(options, box, played, service, time.monotonic() - began)
                if report is not None:
                    report(summary)
                _explore(options, console)
                if options.serve:
                    await _keep_serving(service, settings, urls, webhook_url, console, stop)
            finally:
                stop.set()
                await task
    return summary


@dataclass
class Sandbox:
    """The simulated world: scenario, both simulators, the seeded ids, the Canvas pages."""

    scenario: Scenario
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    ids: SeededDatabases
    canvas_pages: dict[str, str]
    meter: NotionMeter

    @classmethod
    def build(cls, options: DemoOptions) -> Sandbox:
        scenario = build_scenario(
            ScenarioOptions(options.calls, options.messages, options.phone_numbers, options.seed),
            now=time.time(),
        )
        openphone = OpenPhoneSimulator(
            scenario.workspace,
            SimulatorConfig(api_key=OPENPHONE_KEY, rate_limit=int(OPENPHONE_DEMO.rate) + 10),
        )
        notion = NotionSimulator(
            api_key=NOTION_KEY,
            rate_limit=RateLimit(NOTION_DEMO.rate + 10, NOTION_DEMO.burst + 10),
        )
        ids = seed_databases(notion.state)
        canvas_pages = seed_canvas(notion.state, ids.canvas_data_source_id, scenario.canvas)
        kinds = {
            ids.calls_data_source_id: "calls",
            ids.messages_data_source_id: "messages",
            ids.canvas_data_source_id: "canvas",
        }
        meter = NotionMeter(notion.app, notion.state, kinds)
        return cls(scenario, openphone, notion, ids, canvas_pages, meter)


async def _check(
    options: DemoOptions, box: Sandbox, played: Played, service: Service, elapsed: float
) -> dict[str, Any]:
    """Verify, write the Notion dump, and build the summary."""
    figures = await store_figures(service.store)
    dump = box.notion.dump()
    check = verify(
        box.scenario.workspace,
        played.call_ids,
        played.message_ids,
        dump["state"]["pages"],
        NotionIds(box.ids.calls_data_source_id, box.ids.messages_data_source_id),
        box.canvas_pages,
    )
    (options.data_dir / DUMP_FILE).write_text(json.dumps(dump, indent=1))
    facts = _facts(options, played, service, box.meter, box.openphone, elapsed)
    return build_summary(facts, figures, check)


async def _keep_serving(
    service: Service,
    settings: Settings,
    urls: Mapping[str, str],
    webhook_url: str,
    console: Console,
    stop: asyncio.Event,
) -> None:
    """After the verified run: the scheduler too (as ``opsync serve`` runs it, so ``opsync
    doctor`` finds its last run), the URLs, and the settings to try other commands with."""
    scheduler = service.scheduler
    ticking = (
        asyncio.create_task(scheduler.run_forever(stop), name="scheduler")
        if scheduler is not None
        else None
    )
    try:
        _print_urls(urls, settings, webhook_url, console)
        _print_env(settings, console)
        await stop.wait()
    finally:
        stop.set()
        if ticking is not None:
            await ticking


#: the settings another shell needs to run opsync's commands against the demo
_ENV_VARIABLES = (
    "OPENPHONE_API_KEY",
    "OPENPHONE_API_BASE",
    "NOTION_API_KEY",
    "OPSYNC_NOTION_BASE_URL",
    "NOTION_CALLS_DATABASE_ID",
    "NOTION_MESSAGES_DATABASE_ID",
    "NOTION_CANVAS_DATABASE_ID",
    "OPSYNC_DATABASE_URL",
    "OPSYNC_BLOB_URL",
    "OPSYNC_PUBLIC_BASE_URL",
    "OPSYNC_MAPPING_FILE",
)


def demo_environment(settings: Settings) -> dict[str, str]:
    """``_ENV_VARIABLES`` as the demo set them. The simulators' keys are the demo's own fake
    ones; no webhook signing key is among them (the service reads those from the store)."""
    values: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if not isinstance(alias, str) or alias not in _ENV_VARIABLES:
            continue
        value = getattr(settings, name)
        if value is None:
            continue
        values[alias] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return values


def _print_env(settings: Settings, console: Console) -> None:
    console.print("Try opsync's commands against the demo from another shell:", highlight=False)
    for name, value in demo_environment(settings).items():
        console.print(f"  export {name}={shlex.quote(value)}", highlight=False, soft_wrap=True)
    console.print("  opsync doctor", highlight=False)
    console.print("  opsync webhooks list", highlight=False)
    console.print("Everything keeps running; press Ctrl-C to stop.", highlight=False)


def _print_urls(
    urls: Mapping[str, str], settings: Settings, webhook_url: str, console: Console
) -> None:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    lines = [
        f"Service:             {urls['service']}/health  (webhooks: {webhook_url})",
        f"Phone number state:  {urls['service']}/phone/{{id}}/state  (admin token {token})",
        f"OpenPhone simulator: {urls['openphone']}/v1  (API key {OPENPHONE_KEY})",
        f"Notion simulator:    {urls['notion']}/v1  (token {NOTION_KEY}); "
        f"whole state at {urls['notion']}/__sandbox/state",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
