"""Several machines on one PostgreSQL: three ``opsync serve`` processes behind a round-robin
balancer share the inbox, the Notion limit and the media bucket, and survive each other's
death.

The OpenPhone simulator streams calls and messages across 10 phone numbers (duplicates,
shuffled and burst deliveries, retries of failed deliveries) to one URL: a balancer in this
process (:class:`tests.support.serve_rig.RoundRobin`) hands each webhook to the next instance.
The Notion simulator enforces its real 3 requests/s (429 beyond it); the instances pace
themselves at their real limits, through the buckets they share in the database. Media go to
moto's S3 server over the real S3 protocol. Each instance's store is one fresh PostgreSQL
schema. Mid-stream one instance is SIGKILLed while it is handling an event, later a second:
their leases (``OPSYNC_LEASE_SECONDS=3`` here) expire and the last instance finishes
everything.

Checked: every call and message has exactly one Notion page, equal to OpenPhone's data; per
phone number, no two handler runs overlapped, across all instances (each child logs the start
and end of every handler run, :data:`tests.support.serve_rig.HANDLED_LOG_VAR`); Notion saw no
429 (nor OpenPhone, at its real 10 requests/s) and no 10-second window held more than
(10 s + 1 s of jitter) x 3 requests/s + the burst of 3 (36 requests; three unshared buckets
would allow ~90).

Size: ~100 events by default (the test takes ~60 s, most of it Notion's 3 requests/s);
``OPSYNC_SOAK=1`` plays at least 1,000; ``OPSYNC_SEVERAL_EVENTS=N`` any other count.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from opsync.demo.scenario import (
    CompressedClock,
    Played,
    ScenarioOptions,
    build_scenario,
    play_scenario,
    seed_canvas,
)
from opsync.demo.verify import NotionIds, verify
from opsync.openphone import OpenPhoneClient
from opsync.pacing import NOTION_LIMIT
from opsync.render.state import user_names as render_user_names
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState
from opsync.store import normalize_url
from opsync.store.rows import InboxEvent
from tests.e2e.test_crash_kill import page_problems
from tests.support.sandbox_env import API_KEY
from tests.support.serve_rig import (
    HANDLED_LOG_VAR,
    PG_SCHEMA_VAR,
    RoundRobin,
    ServeRig,
    open_rig,
)

PG_URL = os.environ.get("OPSYNC_TEST_POSTGRES_URL")
SOAK = os.environ.get("OPSYNC_SOAK") == "1"
# The issue asks for at least 1,000 events; the plan lands within a few percent of EVENTS.
EVENTS = int(os.environ.get("OPSYNC_SEVERAL_EVENTS") or (1050 if SOAK else 100))
INSTANCES = 3
PHONE_NUMBERS = 10
LEASE_SECONDS = 3.0
#: simulated time runs this many times faster than the wall clock (lives, retry delays)
COMPRESSION = 200.0
#: OpenPhone's retries of a failed delivery, in real seconds (compressed)
RETRY_SECONDS = (0.1, 0.5, 1.5, 3.0, 6.0, 10.0)
#: the call settle window in real seconds: long enough for a call's whole (compressed) life,
#: so that its page is written about once (Notion's 3 requests/s is the test's budget)
SETTLE_SECONDS = 2.0
#: Notion's limit over a window: its rate times the window, plus the bucket's burst. The
#: simulator sees a request when it arrives, up to JITTER s after the shared bucket let it go
#: (event loops of four busy processes on a small machine): a window of arrivals spans at most
#: WINDOW + JITTER s of the bucket's time. Three unshared buckets would allow ~90.
WINDOW = 10.0
JITTER = 1.0
WINDOW_LIMIT = NOTION_LIMIT.rate * (WINDOW + JITTER) + NOTION_LIMIT.burst
DRAIN_TIMEOUT = 1200.0 if SOAK else 120.0
BUCKET = "opsync-several"
S3_KEYS = ("AKIAOPSYNCSEVERAL", "opsync-several-secret")

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="OPSYNC_TEST_POSTGRES_URL is not set: several instances need PostgreSQL"
)


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh schema for the deployment's store, dropped afterwards."""
    assert PG_URL is not None
    schema = f"opsync_several_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalize_url(PG_URL))
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield schema
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.dispose()


@pytest.fixture
def s3() -> Iterator[tuple[str, Any]]:
    """moto's S3 server on a loopback port with an empty bucket; (endpoint, boto3 client)."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=S3_KEYS[0], aws_secret_access_key=S3_KEYS[1],
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint, client
    finally:
        client.close()
        server.stop()


def trace(began: float, what: str) -> None:
    print(f"[{time.monotonic() - began:6.1f} s] {what}")


@dataclass(frozen=True)
class Run:
    """One handler run of an event in one process; ``end`` is the kill time if it never ended."""

    partition: str | None
    inbox_id: int
    pid: int
    start: float
    end: float
    ended: bool


def handler_runs(instances: list[ServeRig], killed_at: dict[int, float]) -> list[Run]:
    """Every handler run the instances logged; a start without its end (its process was
    killed) ends at the kill."""
    runs: list[Run] = []
    for instance in instances:
        path = instance.data_dir / "handled.jsonl"
        if not path.exists():
            continue
        open_runs: dict[tuple[int, int], dict[str, Any]] = {}
        for line in path.read_text().splitlines():
            record = json.loads(line)
            key = (record["pid"], record["inbox_id"])
            if record["what"] == "start":
                assert key not in open_runs, f"two runs of one event at once in one process: {key}"
                open_runs[key] = record
            else:
                start = open_runs.pop(key)
                runs.append(
                    Run(start["partition"], key[1], key[0], start["at"], record["at"], True)
                )
        for (pid, inbox_id), start in open_runs.items():
            assert pid in killed_at, f"process {pid} left event {inbox_id} unfinished"
            runs.append(Run(start["partition"], inbox_id, pid, start["at"], killed_at[pid], False))
    return runs


def overlaps(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Pairs of runs of one partition whose intervals intersect (events of no partition
    run side by side by design)."""
    by_partition: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.partition is not None:
            by_partition[run.partition].append(run)
    found: list[tuple[Run, Run]] = []
    for partition_runs in by_partition.values():
        partition_runs.sort(key=lambda r: r.start)
        latest = partition_runs[0]
        for run in partition_runs[1:]:
            if run.start < latest.end:
                found.append((latest, run))
            if run.end > latest.end:
                latest = run
    return found


def busiest_window(times: list[float], window: float) -> int:
    """The most requests any ``window``-second interval held."""
    ordered, best, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - window:
            first += 1
        best = max(best, last - first + 1)
    return best


async def done_count(rig: ServeRig) -> int:
    return (await rig.inbox_counts())["done"]


async def kill_while_busy(
    victim: ServeRig, rig: ServeRig, done_at_least: int, not_after: float, began: float
) -> float:
    """Once ``done_at_least`` events are done or the monotonic time ``not_after`` has come
    (whichever is first: a slow machine still kills mid-stream), SIGKILL ``victim`` while one
    of its handlers runs (so that an event is left in flight under its lease); returns the
    kill's wall-clock time."""
    async with asyncio.timeout(DRAIN_TIMEOUT):
        while True:
            if time.monotonic() >= not_after or await done_count(rig) >= done_at_least:
                break
            await asyncio.sleep(0.1)
    path = victim.data_dir / "handled.jsonl"
    async with asyncio.timeout(30):
        while True:
            lines = path.read_text().splitlines() if path.exists() else []
            open_runs = Counter[str]()
            for line in lines:
                record = json.loads(line)
                open_runs[str(record["inbox_id"])] += 1 if record["what"] == "start" else -1
            if any(n > 0 for n in open_runs.values()):
                break
            await asyncio.sleep(0.01)
    await victim.kill()
    trace(began, f"killed instance {victim.data_dir.name} (done {await done_count(rig)})")
    return time.time()


async def wait_processed(
    rig: ServeRig, survivor: ServeRig, acknowledged: set[str]
) -> list[InboxEvent]:
    """Until every acknowledged event is done (or ignored) and nothing is pending or in
    flight; the inbox rows (what is there at the deadline, if it passes)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        rows = await (await rig.store()).inbox_list(limit=100_000)
        finished = {r.event_id for r in rows if r.state in ("done", "ignored")}
        idle = not any(r.state in ("pending", "in_flight") for r in rows)
        if (acknowledged <= finished and idle) or time.monotonic() > deadline:
            return rows
        assert survivor.running, "the last instance died:\n" + survivor.log_tail()
        await asyncio.sleep(0.2)


def scenario_options(seed: int) -> ScenarioOptions:
    """Mostly messages (one event each), some calls (two to five events each)."""
    calls = max(2, EVENTS // 25)
    messages = max(10, EVENTS - 3 * calls)
    return ScenarioOptions(
        calls=calls,
        messages=messages,
        phone_numbers=PHONE_NUMBERS,
        seed=seed,
        # the lives start over about the time Notion needs to write them: both kills land
        # while webhooks still come
        spread=EVENTS / NOTION_LIMIT.rate * 0.8 * COMPRESSION,
        duplicate_probability=0.1,
        retry_delays=tuple(s * COMPRESSION for s in RETRY_SECONDS),
    )


@pytest.mark.timeout(1800 if SOAK else 180)
async def test_three_instances_share_the_work_and_survive_two_kills(
    tmp_path: Path, pg_schema: str, s3: tuple[str, Any]
) -> None:
    assert PG_URL is not None
    endpoint, boto = s3
    began = time.monotonic()
    scenario = build_scenario(scenario_options(seed=11), now=time.time())
    env = {
        "OPSYNC_DATABASE_URL": PG_URL,
        PG_SCHEMA_VAR: pg_schema,
        HANDLED_LOG_VAR: "per-instance",
        "OPSYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "OPSYNC_CALL_SETTLE_SECONDS": str(SETTLE_SECONDS),
        "OPSYNC_BLOB_URL": f"s3://{BUCKET}/media",
        "OPSYNC_S3_ENDPOINT_URL": endpoint,
        "OPSYNC_S3_REGION": "us-east-1",
        "OPSYNC_S3_ACCESS_KEY_ID": S3_KEYS[0],
        "OPSYNC_S3_SECRET_ACCESS_KEY": S3_KEYS[1],
        "OPSYNC_MEDIA_SIGNING_KEY": "several-instances-signing-key",
    }
    notion = NotionSimulator(NotionState(seed=7))  # its real 3 requests/s per token
    async with (
        open_rig(
            tmp_path, scenario.workspace, notion=notion, openphone_rate_limit=10,
            notion_rate=None, openphone_rate=None, env=env,
        ) as rig,
        AsyncExitStack() as stack,
        httpx.AsyncClient(timeout=10.0) as http,
    ):  # fmt: skip
        canvas = seed_canvas(rig.notion.state, rig.seeded.canvas_data_source_id, scenario.canvas)
        instances = [rig.replica(f"instance-{n}") for n in range(INSTANCES)]
        for instance in instances:
            stack.push_async_callback(instance.aclose)
            await instance.start()  # one after the other: the first migrates the schema
        trace(began, f"{INSTANCES} instances up")
        balancer = RoundRobin([i.base_url for i in instances], http)
        await stack.enter_async_context(serve(balancer, port=rig.port))

        traffic = asyncio.create_task(
            play_scenario(scenario, CompressedClock(COMPRESSION), rig.openphone_url, http)
        )
        killed_at: dict[int, float] = {}
        streaming = time.monotonic()
        stream_seconds = scenario.options.spread / COMPRESSION
        try:
            for victim, share in ((instances[0], 1 / 3), (instances[1], 0.55)):
                assert victim.process is not None
                pid = victim.process.pid
                killed_at[pid] = await kill_while_busy(
                    victim, rig, int(EVENTS * share), streaming + share * stream_seconds, began
                )
            stream_open_at_kills = not traffic.done()
            played: Played = await traffic
        finally:
            traffic.cancel()
        trace(began, f"traffic played: {len(played.events)} events")
        survivor = instances[2]
        rows = await wait_processed(rig, survivor, played.accepted_event_ids())
        trace(began, "drained")

        by_state = Counter(r.state for r in rows)
        unfinished = sorted(
            e for e in played.accepted_event_ids()
            if e not in {r.event_id for r in rows if r.state in ("done", "ignored")}
        )  # fmt: skip
        ids = NotionIds(rig.seeded.calls_data_source_id, rig.seeded.messages_data_source_id)
        ws, pages = rig.workspace, rig.notion.state.dump()["pages"]
        check = verify(ws, list(ws.calls), list(ws.messages), pages, ids, canvas)
        openphone = OpenPhoneClient(rig.http, API_KEY, base_url=f"{rig.openphone_url}/v1")
        user_names = render_user_names([user async for user in openphone.list_users()])
        details = page_problems(rig, user_names)
        runs = handler_runs(instances, killed_at)
        notion_log = rig.notion.counter.log
        busiest = busiest_window([at for at, _, _ in notion_log], WINDOW)
        too_many = Counter(status for _, _, status in notion_log)[429]
        media = boto.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
        exit_status = await survivor.stop()
        figures = {
            "events_sent": len({e.id for e in played.events}),
            "deliveries": len(played.deliveries),
            "calls": len(played.call_ids),
            "messages": len(played.message_ids),
            "inbox": dict(sorted(by_state.items())),
            "runs_per_instance": {
                i.data_dir.name: sum(1 for r in runs if r.pid in pids(i)) for i in instances
            },
            "runs_cut_by_kills": sum(1 for r in runs if not r.ended),
            "balanced": balancer.answered,
            "notion_requests": len(notion_log),
            "notion_busiest_10s": busiest,
            "notion_429": too_many,
            "openphone_requests": rig.openphone.counters.total,
            "openphone_429": rig.openphone.counters.by_status[429],
            "s3_objects": media,
            "seconds": round(time.monotonic() - began, 1),
        }
        print("several-instances figures:\n" + json.dumps(figures, indent=2, sort_keys=True))
        logs = "\n".join(f"--- {i.data_dir.name}:\n{i.log_tail(15)}" for i in instances)

        assert len(played.events) >= EVENTS * 0.9, figures
        if SOAK:
            assert len({e.id for e in played.events}) >= 1000, figures
        assert played.accepted_event_ids() == {e.id for e in played.events}, logs
        assert unfinished == [], f"acknowledged, not processed: {unfinished[:5]}\n{logs}"
        assert (by_state["dead"], by_state["in_flight"], by_state["pending"]) == (0, 0, 0)
        assert check.ok, [str(problem) for problem in check.problems[:10]]
        assert details == [], details[:10]
        assert check.pages == {"calls": len(ws.calls), "messages": len(ws.messages)}, check.pages
        # every instance took webhooks and worked the inbox; the kills cut handlers short
        assert all(n > 0 for n in balancer.answered.values()), figures
        assert all(n > 0 for n in figures["runs_per_instance"].values()), figures
        assert figures["runs_cut_by_kills"] >= 2, figures
        assert stream_open_at_kills, "the webhooks stopped before the second kill"
        taken_over = [
            any(o.inbox_id == r.inbox_id and o.pid != r.pid and o.ended for o in runs)
            for r in runs
            if not r.ended
        ]
        assert all(taken_over), "an event cut short by a kill was not taken over"
        clashes = overlaps(runs)
        assert clashes == [], clashes[:3]
        assert too_many == 0, figures
        assert figures["openphone_429"] == 0, figures  # 10 requests/s, shared too
        assert busiest <= WINDOW_LIMIT, figures
        assert media > 0, "no recording reached the S3 bucket"
        assert exit_status == 0, survivor.log_tail()


def pids(instance: ServeRig) -> set[int]:
    path = instance.data_dir / "handled.jsonl"
    if not path.exists():
        return set()
    return {json.loads(line)["pid"] for line in path.read_text().splitlines()}
