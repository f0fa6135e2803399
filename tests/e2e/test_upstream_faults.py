"""Upstream faults and outages, over real HTTP on loopback (issue 5, "Upstream faults").

* Both simulators answer 20% of requests with 429, 500, 502, 503 or 504, and delay some: the
  webhook path and a backfill still leave exactly one correct page per resource, nothing in
  the dead letters.
* A permanent error (the Calls database's ``Duration`` is text) dead-letters the event with a
  reason naming the database, the property and the fix; the rest keeps flowing; after the
  fix a replay makes exactly one correct page.
* Notion or OpenPhone down for 35 minutes (on a :class:`FakeClock`, with the default retry
  policy): the events back off, none is dead-lettered, all drain when the service returns.
  An outage longer than the budget ends in the dead letters after exactly
  ``OPSYNC_MAX_ATTEMPTS`` attempts, and a replay recovers them.
* The store unavailable (SQLite locked past its busy timeout; PostgreSQL restarted): the
  webhook answers 503 with Retry-After, never 2xx for an event it did not store, and accepts
  the delivery once the store is back.

``OPSYNC_RELIABILITY_REPORT=path`` adds the figures to that JSON file (key
``upstream_faults``); they are printed too (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsync._uvicorn import bind_socket, bound_port
from opsync.cli.backfill import BackfillRequest, enqueue_jobs, resolve_numbers, run_jobs
from opsync.clock import Clock, FakeClock
from opsync.config import load_settings
from opsync.demo.scenario import (
    CompressedClock,
    ScenarioOptions,
    build_scenario,
    play_scenario,
    seed_canvas,
)
from opsync.demo.verify import NotionIds, Verification, verify
from opsync.dispatcher import Dispatcher
from opsync.inbox import inbox_policy
from opsync.openphone import OpenPhoneClient
from opsync.openphone.signatures import sign_legacy
from opsync.openphone.subscriptions import subscribe_all
from opsync.pacing import RateLimit, TokenBucket
from opsync.retry import RetryPolicy
from opsync.sandbox._server import serve
from opsync.sandbox.notion import FaultConfig, NotionSimulator, NotionState, seed_databases
from opsync.sandbox.notion.faults import FaultInjector as NotionFaultInjector
from opsync.sandbox.notion.seed_schema import SeededDatabases
from opsync.sandbox.openphone import FaultConfig as OpenPhoneFaults
from opsync.sandbox.openphone import FaultInjector as OpenPhoneFaultInjector
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    WebhookEmitter,
    Workspace,
    WorkspaceSize,
    generate_workspace,
)
from opsync.sandbox.openphone.webhooks import Event
from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from opsync.service import Pacers, Service, open_service, run_service
from opsync.store import Store, _sqlite_direct
from opsync.sync import make_handler
from opsync.sync.incremental import SyncOptions
from tests.support.private_postgres import PrivatePostgres
from tests.support.sandbox_env import API_KEY, sandbox_environ

FAST = RateLimit(rate=2_000.0, burst=2_000)
FAULT_SHARE = 0.20
"""Share of requests each simulator answers with an error status (one fifth per status)."""
SLOW_SHARE = 0.05
SLOW_SECONDS = 0.2
COMPRESSION = 600.0
"""The scenario's simulated seconds per real second (call lives, the settle window)."""
TIME_SCALE = 0.02
"""The inbox backoff of the fault tests, as a share of the default (10 s → 0.2 s)."""
CUSTOMERS = ("+13214436893", "+14155550177", "+12125550101")
FAULT_KINDS = frozenset({"429", "500", "502", "503", "504", "slow"})
OUTAGE_SURVIVED = 35 * 60
LONG_OUTAGE = 3 * 60 * 60


# --- the world: both simulators, the service ----------------------------------------------------


@dataclass
class World:
    workspace: Workspace
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    seeded: SeededDatabases
    service: Service
    openphone_url: str
    webhook_url: str
    sock: socket.socket
    http: httpx.AsyncClient
    canvas_pages: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.service.store

    def inject_faults(self, seed: int) -> None:
        """20% error statuses (429, 500, 502, 503, 504 alike) and 5% slow, on both."""
        self.notion.set_faults(notion_faults(seed))
        self.openphone.faults = OpenPhoneFaultInjector(seed, openphone_faults())

    def injected(self) -> dict[str, dict[str, int]]:
        op = self.openphone.faults
        return {
            "notion": dict(sorted(self.notion.faults.injected.items())),
            "openphone": {str(k): v for k, v in sorted(op.injected.items())} | {"slow": op.slowed},
        }

    def check(self, call_ids: Iterable[str], message_ids: Iterable[str]) -> Verification:
        """Every page against the OpenPhone data: one per resource, equal, Canvas-linked."""
        ids = NotionIds(self.seeded.calls_data_source_id, self.seeded.messages_data_source_id)
        pages = self.notion.state.dump()["pages"]
        return verify(self.workspace, call_ids, message_ids, pages, ids, self.canvas_pages)

    async def drain(self, expected: int, limit: float) -> dict[str, int]:
        """Until ``expected`` events are stored and none is pending or in flight."""
        async with asyncio.timeout(limit):
            while True:
                found = await self.store.inbox_counts()
                counts = {str(state): n for state, n in found.items()}
                done = counts["pending"] == 0 and counts["in_flight"] == 0
                if done and sum(counts.values()) >= expected:
                    return counts
                await asyncio.sleep(0.05)


def notion_faults(seed: int) -> FaultConfig:
    each = FAULT_SHARE / 5
    return FaultConfig(
        rate_limited=each,
        internal_error=each,
        bad_gateway=each,
        service_unavailable=each,
        gateway_timeout=each,
        slow=SLOW_SHARE,
        slow_seconds=SLOW_SECONDS,
        seed=seed,
    )


def openphone_faults() -> OpenPhoneFaults:
    each = FAULT_SHARE / 5
    return OpenPhoneFaults(
        p429=each, p500=each, p502=each, p503=each, p504=each,
        slow_probability=SLOW_SHARE, slow_seconds=SLOW_SECONDS,
    )  # fmt: skip


def covering_seed(start: int, within: int) -> int:
    """The first seed from ``start`` whose draws give every fault kind within the first
    ``within`` requests to each simulator (the n-th request's fault depends on n and the
    seed alone), so that a run of a few dozen requests meets every kind."""
    for seed in itertools.count(start):
        notion = NotionFaultInjector(notion_faults(seed))
        openphone = OpenPhoneFaultInjector(seed, openphone_faults())
        for _ in range(within):
            notion.draw(is_write=False)
            notion.slow()
            openphone.draw("/v1/calls")
        op_kinds = {str(status) for status in openphone.injected}
        op_kinds |= {"slow"} if openphone.slowed else set()
        if set(notion.injected) >= FAULT_KINDS and op_kinds >= FAULT_KINDS:
            return seed
    raise AssertionError("unreachable")


@asynccontextmanager
async def world(
    tmp_path: Path, workspace: Workspace, *, clock: Clock | None = None, **env: str
) -> AsyncIterator[World]:
    """Both simulators served, webhooks registered, the service built (not running)."""
    op_sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=10_000))
    notion_sim = NotionSimulator(NotionState(seed=5), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    sock = bind_socket("127.0.0.1")
    service_url = f"http://127.0.0.1:{bound_port(sock)}"
    webhook_url = f"{service_url}/webhooks/openphone"
    async with (
        serve(op_sim.app) as op_url,
        serve(notion_sim.app) as notion_url,
        httpx.AsyncClient(timeout=30.0) as http,
    ):
        registrar = OpenPhoneClient(http, API_KEY, base_url=f"{op_url}/v1")
        keys = await subscribe_all(registrar, webhook_url)
        environ = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            public_base_url=service_url,
            webhook_keys=keys,
            LOG_LEVEL="WARNING",
        )
        settings = load_settings(environ | env)
        pacers = Pacers(TokenBucket(FAST), TokenBucket(FAST))
        try:
            async with open_service(
                settings, clock=clock, pacers=pacers, poll_interval=0.02
            ) as svc:
                yield World(
                    workspace, op_sim, notion_sim, seeded, svc, op_url, webhook_url, sock, http
                )
        finally:
            sock.close()


@asynccontextmanager
async def running(w: World, policy: RetryPolicy) -> AsyncIterator[None]:
    """The service serving webhooks and working the inbox with ``policy``."""
    service = w.service
    handler = make_handler(service.registry)
    service.dispatcher = Dispatcher(
        service.store,
        service.metrics.instrument(handler) if service.metrics else handler,
        policy=policy,
        concurrency=service.settings.concurrency,
        poll_interval=0.02,
    )
    stop, started = asyncio.Event(), asyncio.Event()
    port = bound_port(w.sock)
    task = asyncio.create_task(
        run_service(service, host="127.0.0.1", port=port, stop=stop, started=started, sock=w.sock)
    )
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield
    finally:
        stop.set()
        await task


def call_life(w: World, emitter: WebhookEmitter, pn_id: str, participant: str) -> list[Event]:
    """A new call and every event of its life, the workspace advanced stage by stage."""
    now = time.time()
    call = w.workspace.add_call(pn_id, participant, at=now)
    events = [emitter.call_event("call.ringing", call.id, now)]
    while (stage := w.workspace.advance_call(call.id)) is not None:
        event_type = STAGE_EVENTS[stage]
        if event_type is not None:
            events.append(emitter.call_event(event_type, call.id, now))
    return events


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the figures and merge them into ``$OPSYNC_RELIABILITY_REPORT`` (if set)."""
    text = json.dumps(figures, indent=2, sort_keys=True)
    print(f"upstream-faults figures, {name}:\n{text}")
    path = os.environ.get("OPSYNC_RELIABILITY_REPORT")
    if not path:
        return
    target = Path(path)
    try:
        existing = json.loads(target.read_text()) if target.exists() else {}
    except ValueError:
        existing = {}
    if not isinstance(existing, dict):
        existing = {}
    section = existing.get("upstream_faults")
    section = section if isinstance(section, dict) else {}
    existing["upstream_faults"] = {**section, name: figures}
    partial = target.with_suffix(target.suffix + ".partial")
    partial.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    partial.replace(target)


def verdict(check: Verification) -> dict[str, Any]:
    return {
        "pages": check.pages,
        "lost": check.missing_pages,
        "duplicated": check.duplicate_pages,
        "mismatched": check.mismatched_pages,
    }


async def dead_letters(store: Store) -> list[str]:
    return [f"{e.event_type} {e.event_id}: {e.last_error}" for e in await store.inbox_list("dead")]


# --- 0. the faults behave as the real services' (reference docs) ---------------------------


async def test_injected_faults_answer_as_the_real_services_do() -> None:
    # Notion: JSON error bodies, Retry-After on 429, and a 429 never after the write was
    # applied (Notion rate-limits before it does anything; the adapter retries a 429 create).
    notion_sim = NotionSimulator(NotionState(seed=5), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    notion_sim.set_faults(FaultConfig(rate_limited=1.0, write_applied=1.0))
    transport = httpx.ASGITransport(app=notion_sim.app)
    headers = {"authorization": "Bearer ntn_x", "notion-version": "2025-09-03"}
    body = {
        "parent": {"data_source_id": seeded.calls_data_source_id},
        "properties": {"Call ID": {"title": [{"text": {"content": "AC1"}}]}},
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
        limited = await http.post("/v1/pages", json=body, headers=headers)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == "rate_limited"
    assert calls_pages_count(notion_sim, seeded) == 0
    assert notion_sim.faults.injected == {"429": 1}

    # OpenPhone: the flat error body; Retry-After only when the simulator is told to send it
    # (the reference does not document one), like its rate limiter's own 429.
    for header in (False, True):
        config = SimulatorConfig(api_key=API_KEY, retry_after_header=header)
        op_sim = OpenPhoneSimulator(generate_workspace(seed=1, now=time.time()), config)
        op_sim.faults.configure(p429=1.0)
        transport = httpx.ASGITransport(app=op_sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as http:
            answer = await http.get("/v1/phone-numbers", headers={"authorization": API_KEY})
        assert answer.status_code == 429
        assert answer.json()["status"] == 429
        assert answer.headers.get("retry-after") == ("1" if header else None)


def calls_pages_count(notion_sim: NotionSimulator, seeded: SeededDatabases) -> int:
    return len(notion_sim.state.query(seeded.calls_data_source_id, {})["results"])


# --- 1. 20% faults on both upstreams ------------------------------------------------------------


@pytest.mark.timeout(120)
async def test_webhooks_through_20_percent_upstream_faults_make_one_correct_page_each(
    tmp_path: Path,
) -> None:
    scenario = build_scenario(
        ScenarioOptions(calls=10, messages=20, phone_numbers=3, seed=17, spread=60.0),
        now=time.time(),
    )
    began = time.monotonic()
    settle = str(600 / COMPRESSION)
    async with world(tmp_path, scenario.workspace, OPSYNC_CALL_SETTLE_SECONDS=settle) as w:
        w.canvas_pages = seed_canvas(
            w.notion.state, w.seeded.canvas_data_source_id, scenario.canvas
        )
        w.inject_faults(covering_seed(17, within=25))
        async with running(w, inbox_policy(time_scale=TIME_SCALE)):
            played = await play_scenario(
                scenario, CompressedClock(COMPRESSION), w.openphone_url, w.http
            )
            accepted = played.accepted_event_ids()
            counts = await w.drain(len(accepted), limit=60)
        retried = [e for e in await w.store.inbox_list(limit=10_000) if e.attempts > 1]
        check = w.check(played.call_ids, played.message_ids)
        injected = w.injected()
        dead = await dead_letters(w.store)

    assert accepted == {event.id for event in played.events}  # every webhook acknowledged
    assert dead == []
    assert counts["dead"] == 0
    assert check.ok, [str(problem) for problem in check.problems[:10]]
    assert check.pages == {"calls": 10, "messages": 20}
    for upstream in ("notion", "openphone"):
        kinds = injected[upstream]
        assert {kind for kind, n in kinds.items() if n} == FAULT_KINDS, (upstream, kinds)
    assert retried, "no fault reached the inbox: the test would prove nothing about retries"
    record(
        "webhooks_20pct",
        {
            "events": len(accepted),
            "deliveries": len(played.deliveries),
            "duplicate_deliveries": sum(1 for d in played.deliveries if d.status_code == 200),
            "faults_injected": injected,
            "events_retried_by_inbox": len(retried),
            "inbox_attempts_max": max(e.attempts for e in retried),
            "dead": counts["dead"],
            **verdict(check),
            "seconds": round(time.monotonic() - began, 1),
        },
    )


@pytest.mark.timeout(120)
async def test_a_backfill_through_20_percent_upstream_faults_makes_one_correct_page_each(
    tmp_path: Path,
) -> None:
    size = WorkspaceSize(
        phone_numbers=4,
        users=2,
        contacts=4,
        counterparts_per_number=2,
        calls_per_counterpart=2,
        messages_per_counterpart=2,
        days=10,
    )
    workspace = generate_workspace(seed=43, now=time.time(), size=size)
    for call_id in list(workspace.calls):
        workspace.finish_call(call_id)
    began = time.monotonic()
    async with world(tmp_path, workspace) as w:
        w.inject_faults(covering_seed(43, within=25))
        service = w.service
        service.registry.sync_options = SyncOptions.from_settings(service.settings)
        numbers = await resolve_numbers(service, ())
        rounds: list[dict[str, int]] = []
        while not rounds or rounds[-1]["failed"] or rounds[-1]["errors"]:
            # Items that failed stay "behind" and are tried first by the next sync (the
            # scheduler's next run; here at once): at most a few rounds at 20% faults.
            assert len(rounds) < 6, rounds
            jobs = await enqueue_jobs(service, numbers, BackfillRequest(all=True))
            async with asyncio.timeout(60):
                results = await run_jobs(service, jobs, poll_seconds=0.02)
            rows = [result.row() for result in results]
            rounds.append(
                {
                    "synced": sum(r["synced"] for r in rows),
                    "failed": sum(r["failed"] for r in rows),
                    "errors": sum(1 for r in rows if r["status"] != "done"),
                }
            )
        check = w.check(workspace.calls, workspace.messages)
        injected = w.injected()
        dead = await dead_letters(w.store)

    assert dead == []
    assert check.ok, [str(problem) for problem in check.problems[:10]]
    assert check.pages == {"calls": len(workspace.calls), "messages": len(workspace.messages)}
    assert sum(injected["notion"].values()) > 0
    assert sum(injected["openphone"].values()) > 0
    record(
        "backfill_20pct",
        {
            "resources": len(workspace.calls) + len(workspace.messages),
            "rounds": rounds,
            "faults_injected": injected,
            "dead": len(dead),
            **verdict(check),
            "seconds": round(time.monotonic() - began, 1),
        },
    )


# --- 2. a permanent error ---------------------------------------------------------------------


@asynccontextmanager
async def manual(tmp_path: Path, clock: FakeClock, **env: str) -> AsyncIterator[World]:
    """The world on a :class:`FakeClock`, its webhooks served; the test drives the service's
    own dispatcher (``run_until_idle``) and the clock.

    One event at a time: every ``sleep`` of a fake clock moves it for all, so the in-request
    retries of eight concurrent events would add up to more than a lease (60 s) while the
    heartbeat, on real time, never runs: the lease would expire under a working handler, an
    artefact of the fake clock."""
    workspace = generate_workspace(seed=21, now=clock.now())
    settings = {"OPSYNC_CALL_SETTLE_SECONDS": "0", "OPSYNC_CONCURRENCY": "1", **env}
    async with (
        world(tmp_path, workspace, clock=clock, **settings) as w,
        serve(w.service.app, sock=w.sock),
    ):
        yield w


def set_duration_type(w: World, kind: str) -> None:
    """Change the Calls data source's ``Duration`` property type, as a person would in Notion."""
    body: dict[str, Any] = {"properties": {"Duration": {kind: {}}}}
    w.notion.state.update_data_source(w.seeded.calls_data_source_id, body)


def messages_on(w: World, emitter: WebhookEmitter, pn_id: str, count: int) -> list[Event]:
    events = []
    for index in range(count):
        party = CUSTOMERS[index % len(CUSTOMERS)]
        message = w.workspace.add_message(pn_id, [party], f"order #{index} is ready", at=0)
        events.append(emitter.message_event("message.received", message.id, 1.0))
    return events


async def deliver_all(emitter: WebhookEmitter, events: list[Event]) -> None:
    deliveries = await emitter.deliver(events)
    assert [d.status_code for d in deliveries] == [202] * len(events)


@pytest.mark.timeout(60)
async def test_a_text_duration_dead_letters_with_an_actionable_reason_and_replays_once_fixed(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=time.time())
    async with manual(tmp_path, clock) as w, w.openphone.emitter(w.openphone_url) as emitter:
        pn_id = str(w.workspace.phone_numbers[0]["id"])
        calls_ds = w.seeded.calls_data_source_id
        set_duration_type(w, "rich_text")
        broken = call_life(w, emitter, pn_id, CUSTOMERS[0])
        before = messages_on(w, emitter, pn_id, 3)
        await deliver_all(emitter, broken + before)
        await w.service.dispatcher.run_until_idle()

        dead = await w.store.inbox_list("dead")
        counts = await w.store.inbox_counts()
        expected = (
            "NotionSchemaMismatch: Notion rejected the page: property 'Duration' of the "
            f"'Calls' database (data source {calls_ds}) is rich_text, expected number; "
            "change the property's type to number in Notion, then replay the event from the "
            "dead letters"
        )
        # Every event of the broken call wrote its page and was refused at once (no retry:
        # retrying cannot fix a schema); the messages on the same number synced meanwhile.
        assert sorted(e.event_id for e in dead) == sorted(e.id for e in broken)
        assert {e.last_error for e in dead} == {expected}
        assert {e.attempts for e in dead} == {1}
        [error] = await w.store.inbox_errors_for(dead[0].id)
        assert (error.error_class, error.message) == ("NotionSchemaMismatch", expected)
        assert counts["done"] == len(before)
        message_ids = [e.resource["id"] for e in before]
        assert w.check([], message_ids).ok
        [call_id] = {e.resource.get("callId") or e.resource["id"] for e in broken}
        assert w.check([call_id], []).missing_pages == 1

        # A person fixes the property; new work flows at once, and a replay completes the rest.
        set_duration_type(w, "number")
        fresh = call_life(w, emitter, pn_id, CUSTOMERS[1])
        after = messages_on(w, emitter, pn_id, 2)
        await deliver_all(emitter, fresh + after)
        await w.service.dispatcher.run_until_idle()
        assert await w.store.inbox_list("dead") == dead  # untouched until replayed
        replayed = await w.store.inbox_replay_all_dead()
        await w.service.dispatcher.run_until_idle()
        counts = await w.store.inbox_counts()
        fresh_id = fresh[0].resource["id"]
        check = w.check([call_id, fresh_id], message_ids + [e.resource["id"] for e in after])

    assert replayed == len(broken)
    assert counts["dead"] == 0
    assert counts["done"] == len(broken) + len(before) + len(fresh) + len(after)
    assert check.ok, [str(problem) for problem in check.problems]
    assert check.pages == {"calls": 2, "messages": 5}
    record(
        "permanent_error",
        {
            "events": counts["done"],
            "dead_lettered": len(dead),
            "reason": expected,
            "replayed": replayed,
            "dead_after_replay": counts["dead"],
            **verdict(check),
        },
    )


@pytest.mark.timeout(60)
async def test_a_property_changed_under_an_existing_page_names_the_database_too(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=time.time())
    async with manual(tmp_path, clock) as w, w.openphone.emitter(w.openphone_url) as emitter:
        pn_id = str(w.workspace.phone_numbers[0]["id"])
        ringing, *rest = call_life(w, emitter, pn_id, CUSTOMERS[2])
        await deliver_all(emitter, [ringing])
        await w.service.dispatcher.run_until_idle()  # the page exists
        set_duration_type(w, "rich_text")
        await deliver_all(emitter, rest)
        await w.service.dispatcher.run_until_idle()  # its updates are refused
        dead = await w.store.inbox_list("dead")
        set_duration_type(w, "number")
        await w.store.inbox_replay_all_dead()
        await w.service.dispatcher.run_until_idle()
        counts = await w.store.inbox_counts()
        check = w.check([str(ringing.resource["id"])], [])

    calls_ds = w.seeded.calls_data_source_id
    assert sorted(e.event_id for e in dead) == sorted(e.id for e in rest)
    assert {e.last_error for e in dead} == {
        "NotionSchemaMismatch: Notion rejected the page: property 'Duration' of the 'Calls' "
        f"database (data source {calls_ds}) is rich_text, expected number; change the "
        "property's type to number in Notion, then replay the event from the dead letters"
    }
    assert counts["dead"] == 0
    assert check.ok, [str(problem) for problem in check.problems]


# --- 3. an upstream down for a long time --------------------------------------------------------


def go_down(w: World, upstream: str) -> None:
    """Every request answered 503, as by a service that is down (nothing is applied)."""
    if upstream == "notion":
        w.notion.set_faults(FaultConfig(service_unavailable=1.0, write_applied=0.0))
    else:
        w.openphone.faults.configure(p503=1.0)


def come_back(w: World, upstream: str) -> None:
    if upstream == "notion":
        w.notion.set_faults(FaultConfig())
    else:
        w.openphone.faults.clear()


async def ride(w: World, clock: FakeClock, seconds: float) -> None:
    """Work the inbox, moving the clock from one due retry to the next, for ``seconds``."""
    end = clock.now() + seconds
    while True:
        await w.service.dispatcher.run_until_idle()
        pending = await w.store.inbox_list("pending", limit=10_000)
        if not pending:
            return
        due = min(event.next_attempt_at for event in pending) / 1000
        if due >= end:
            clock.advance(max(0.0, end - clock.now()))
            return
        clock.advance(max(0.0, due - clock.now()))


async def backoff_waits(
    w: World, records: Iterable[logging.LogRecord]
) -> dict[str, dict[int, float]]:
    """Per event, the wait (s) the inbox chose after each failed attempt: from the retry's
    due time (the dispatcher's ``event_retry`` line) to the failure (its error history)."""
    due = {
        (str(vars(r)["event_id"]), int(vars(r)["attempt"])): int(vars(r)["next_attempt_at"])
        for r in records
        if getattr(r, "action", None) == "event_retry"
    }
    ids = {e.event_id: e.id for e in await w.store.inbox_list(limit=10_000)}
    waits: dict[str, dict[int, float]] = {}
    for (event_id, attempt), at_ms in due.items():
        history = await w.store.inbox_errors_for(ids[event_id])
        failed = next(error for error in history if error.attempt == attempt)
        waits.setdefault(event_id, {})[attempt] = (at_ms - failed.at) / 1000
    return waits


async def drain_on(w: World, clock: FakeClock) -> dict[str, int]:
    """Work the inbox, moving the clock to each due event, until nothing is pending."""
    for _ in range(50):
        await w.service.dispatcher.run_until_idle()
        pending = await w.store.inbox_list("pending", limit=10_000)
        if not pending:
            return {str(state): n for state, n in (await w.store.inbox_counts()).items()}
        due = min(event.next_attempt_at for event in pending) / 1000
        clock.advance(max(0.0, due - clock.now()))
    raise AssertionError("the inbox did not drain")


async def play_during_outage(w: World) -> tuple[list[str], list[str], int]:
    """A call and a message on one number, a message on another, delivered (and stored)
    while down."""
    async with w.openphone.emitter(w.openphone_url) as emitter:
        first, second = (str(line["id"]) for line in w.workspace.phone_numbers[:2])
        life = call_life(w, emitter, first, CUSTOMERS[0])
        texts = messages_on(w, emitter, first, 1) + messages_on(w, emitter, second, 1)
        await deliver_all(emitter, life + texts)
    calls = [str(life[0].resource["id"])]
    return calls, [str(e.resource["id"]) for e in texts], len(life) + len(texts)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("upstream", ["notion", "openphone"])
async def test_an_outage_within_the_budget_backs_off_and_drains_when_the_upstream_returns(
    tmp_path: Path, upstream: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = inbox_policy()  # what the service runs with the default OPSYNC_MAX_ATTEMPTS
    least, most = policy.outage_budget()
    assert least > OUTAGE_SURVIVED
    clock = FakeClock(start=time.time())
    async with manual(tmp_path, clock) as w:
        assert w.service.settings.max_attempts == policy.max_attempts == 8
        go_down(w, upstream)
        calls, messages, events = await play_during_outage(w)
        began = clock.now()
        await ride(w, clock, OUTAGE_SURVIVED)
        lasted = clock.now() - began
        dead_during = (await w.store.inbox_counts())["dead"]
        waits_by_event = await backoff_waits(w, list(caplog.records))
        come_back(w, upstream)
        counts = await drain_on(w, clock)
        check = w.check(calls, messages)

    assert lasted >= OUTAGE_SURVIVED
    assert dead_during == 0
    assert counts["dead"] == 0
    assert counts["done"] == events
    assert check.ok, [str(problem) for problem in check.problems]
    assert check.pages == {"calls": 1, "messages": 2}
    # The backoff grows: each wait is drawn between half and all of its ceiling (10 s, then
    # tripling up to 30 min), so it is longer than the one before until the cap is reached.
    longest = max(waits_by_event.values(), key=len)
    assert len(longest) >= 5, waits_by_event
    for waits in waits_by_event.values():
        assert max(waits) < policy.max_attempts  # bounded: the budget was not used up
        for attempt, wait in waits.items():
            ceiling = policy.ceiling(attempt - 1)
            assert ceiling / 2 - 0.001 <= wait <= ceiling + 0.001, (attempt, wait)
        growing = [waits[a] for a in sorted(waits) if policy.ceiling(a - 2) < policy.cap]
        assert growing == sorted(growing), waits
        assert len(set(growing)) == len(growing), waits
    record(
        f"outage_{upstream}",
        {
            "events": events,
            "outage_seconds": round(lasted),
            "budget_seconds": {"least": least, "most": most},
            "attempts_max": max(max(w) for w in waits_by_event.values()),
            "waits_of_one_event": {str(a): round(s, 1) for a, s in sorted(longest.items())},
            "dead": counts["dead"],
            **verdict(check),
        },
    )


@pytest.mark.timeout(60)
async def test_an_outage_beyond_the_budget_dead_letters_after_max_attempts_and_replays(
    tmp_path: Path,
) -> None:
    policy = inbox_policy()
    least, most = policy.outage_budget()
    assert most + 10 * 60 < LONG_OUTAGE
    clock = FakeClock(start=time.time())
    async with manual(tmp_path, clock) as w:
        go_down(w, "notion")
        calls, messages, events = await play_during_outage(w)
        began = clock.now()
        await ride(w, clock, LONG_OUTAGE)
        dead = await w.store.inbox_list("dead")
        histories = [await w.store.inbox_errors_for(event.id) for event in dead]
        come_back(w, "notion")
        replayed = await w.store.inbox_replay_all_dead()
        counts = await drain_on(w, clock)
        check = w.check(calls, messages)

    assert len(dead) == events  # attempts are bounded: every event gave up, none vanished
    for event, history in zip(dead, histories, strict=True):
        assert event.attempts == len(history) == policy.max_attempts
        assert event.last_error is not None
        assert event.last_error.startswith("gave up after 8 attempts; last error Upstream")
        assert "HTTP 503 service_unavailable" in event.last_error
        assert (history[-1].at - history[0].at) / 1000 >= least  # it rode out 40 min first
        assert history[-1].at / 1000 <= began + most + 5 * 60
    assert replayed == events
    assert counts["dead"] == 0
    assert counts["done"] == events
    assert check.ok, [str(problem) for problem in check.problems]
    record(
        "outage_beyond_budget",
        {
            "events": events,
            "outage_seconds": LONG_OUTAGE,
            "dead_lettered": len(dead),
            "attempts_each": policy.max_attempts,
            "replayed": replayed,
            **verdict(check),
        },
    )


# --- 4. the store unavailable -----------------------------------------------------------------


async def post_signed(w: World, emitter: WebhookEmitter, event: Event) -> httpx.Response:
    """One delivery of ``event`` as OpenPhone sends it (legacy signature), to read the answer's
    headers (the emitter keeps only the status)."""
    [target] = [t for t in emitter.targets if t.wants(event)]
    assert target.scheme == "legacy"
    body = json.dumps(event.envelope(target.envelope)).encode()
    signature = sign_legacy(target.secret, int(time.time() * 1000), body)
    headers = {"content-type": "application/json", "openphone-signature": signature}
    return await w.http.post(w.webhook_url, content=body, headers=headers)


def assert_refused_with_retry_after(answer: httpx.Response) -> None:
    assert answer.status_code == 503
    assert answer.json() == {"error": "store_unavailable"}
    assert int(answer.headers["retry-after"]) > 0


@pytest.mark.timeout(60)
async def test_a_locked_sqlite_store_answers_503_and_accepts_the_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another connection holds the write lock longer than the inbox writer waits (5 s in
    # production; 0.2 s here, so that the test does not wait).
    monkeypatch.setattr(_sqlite_direct, "SQLITE_BUSY_TIMEOUT_MS", 200)
    clock = FakeClock(start=time.time())
    async with manual(tmp_path, clock) as w, w.openphone.emitter(w.openphone_url) as emitter:
        pn_id = str(w.workspace.phone_numbers[0]["id"])
        events = call_life(w, emitter, pn_id, CUSTOMERS[0]) + messages_on(w, emitter, pn_id, 2)
        locker = sqlite3.connect(tmp_path / "opsync.db", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            refused = await emitter.deliver(events)
            direct = await post_signed(w, emitter, events[0])
            stored_while_locked = sum((await w.store.inbox_counts()).values())
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        stored_after_unlock = sum((await w.store.inbox_counts()).values())
        accepted = await emitter.deliver(events)  # OpenPhone's retry of each delivery
        await w.service.dispatcher.run_until_idle()
        counts = await w.store.inbox_counts()
        call_id = str(events[0].resource["id"])
        check = w.check([call_id], [str(e.resource["id"]) for e in events[-2:]])

    assert [d.status_code for d in refused] == [503] * len(events)
    assert_refused_with_retry_after(direct)
    assert stored_while_locked == stored_after_unlock == 0  # no 2xx, and nothing stored
    assert [d.status_code for d in accepted] == [202] * len(events)
    assert counts["done"] == len(events)
    assert check.ok, [str(problem) for problem in check.problems]
    record(
        "store_sqlite_locked",
        {
            "deliveries_refused_503": len(refused) + 1,
            "stored_while_locked": stored_while_locked,
            "accepted_after_unlock": len(accepted),
            **verdict(check),
        },
    )


@pytest.mark.timeout(120)
async def test_a_postgresql_restart_answers_503_while_down_and_accepts_after(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    clock = FakeClock(start=time.time())
    pg = private_postgres
    async with (
        manual(tmp_path, clock, OPSYNC_DATABASE_URL=pg.url) as w,
        w.openphone.emitter(w.openphone_url) as emitter,
    ):
        pn_id = str(w.workspace.phone_numbers[0]["id"])
        events = call_life(w, emitter, pn_id, CUSTOMERS[0]) + messages_on(w, emitter, pn_id, 2)
        before, during = events[:3], events[3:]
        await deliver_all(emitter, before)
        await asyncio.to_thread(pg.stop)
        refused = await emitter.deliver(during)
        direct = await post_signed(w, emitter, during[0])
        await asyncio.to_thread(pg.start)
        stored_before_retry = sum((await w.store.inbox_counts()).values())
        # OpenPhone retries a refused delivery; the first use of a pooled connection that
        # died with the old server is caught by the pool's pre-ping.
        retried = await emitter.deliver(during)
        await w.service.dispatcher.run_until_idle()
        counts = await w.store.inbox_counts()
        call_id = str(events[0].resource["id"])
        check = w.check([call_id], [str(e.resource["id"]) for e in events[-2:]])

    assert [d.status_code for d in refused] == [503] * len(during)
    assert_refused_with_retry_after(direct)
    assert stored_before_retry == len(before)  # nothing acknowledged, nothing stored
    assert [d.status_code for d in retried] == [202] * len(during)
    assert counts["done"] == len(events)
    assert check.ok, [str(problem) for problem in check.problems]
    record(
        "store_postgresql_restart",
        {
            "deliveries_refused_503": len(refused) + 1,
            "accepted_after_restart": len(retried),
            "events": counts["done"],
            **verdict(check),
        },
    )
