"""Load (issue 5): ``opsync serve`` as a subprocess takes 200 signed webhooks per second for
30 seconds while the Notion simulator throttles to 3 requests/s.

The stream: 6,000 ``message.received`` deliveries of 1,200 distinct incoming text messages
spread over 12 conversations of 6 phone numbers, signed with the legacy scheme as the v1
webhooks are. Each message is delivered five times — first, then again about 1, 3, 10 and
20 s later with the same event id and body, as OpenPhone redelivers what it did not see
acknowledged in time (a retry storm after an outage) — so that the backlog, every event of
which the service must process, can be drained within the suite's time. The stream is sent
open loop from this process over raw HTTP/1.1 keep-alive connections: request *i* is due at
``t0 + i / 200`` and its latency is measured from that due time, so a stalled server cannot
hide its queueing.

What is checked:

* every delivery is answered 2xx (202 for a first delivery, 200 ``duplicate`` for a
  redelivery), and the 99th percentile of latency is under 100 ms;
* none lost: every acknowledged event id is in the inbox once the load ends;
* memory stays bounded while the backlog grows: the service's RSS (``/proc/PID/status``,
  sampled every second) grows by less than 50 MB between the 10th and the 30th second,
  while the inbox's pending backlog grows by more than 500 events (Notion's 3 requests/s
  let the service write only ~90 pages in those 30 s);
* the service stops on SIGTERM with that backlog and exits 0 within
  ``OPSYNC_SHUTDOWN_TIMEOUT`` (+1.5 s);
* the backlog drains: at 3 requests/s 1,200 page creates take over 6 minutes, so the service
  is restarted with the simulator's throttle and its own Notion pacing raised (the rig's
  launcher) and must bring the inbox to nothing pending and nothing in flight within 150 s;
  then every event is done, none is dead, and each message has exactly one Notion page.

The figures (sent, statuses, p50/p99/max latency, RSS at 10 s / 30 s / max and its growth,
backlog, stop and drain times, lost, duplicated, dead) are printed and, when
``OPSYNC_RELIABILITY_REPORT`` names a file, merged into it as JSON under the key ``load``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bench.ingest import RawConnection

from opsync.openphone.signatures import sign_legacy
from opsync.sandbox.notion import NOTION_RATE, NotionSimulator, NotionState
from opsync.sandbox.openphone import WorkspaceSize, generate_workspace
from opsync.store import Store
from tests.support.serve_rig import NOTION_RATE_VAR, ServeRig, open_rig

RATE = 200.0
SECONDS = 30.0
P99_LIMIT_S = 0.100
RSS_GROWTH_LIMIT_KB = 50 * 1024
DRAIN_LIMIT_S = 150.0
SHUTDOWN_TIMEOUT = 5.0
REPORT_VAR = "OPSYNC_RELIABILITY_REPORT"
DELIVERIES = 5
REDELIVERY_LAGS = (0, 40, 120, 400, 800)

pytestmark = pytest.mark.timeout(330)


# --- the load generator -------------------------------------------------------------------------


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0
    resent: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_loop(port: int, requests: list[bytes], rate: float) -> LoadResult:
    """Send request ``i`` at ``t0 + i / rate`` on an idle connection (the pool grows when all
    are busy); latency runs from the due time to the end of the answer."""
    result = LoadResult()
    idle = [await RawConnection.open(port) for _ in range(8)]
    result.connections = len(idle)
    tasks: set[asyncio.Task[None]] = set()

    async def connection() -> RawConnection:
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof():
                return conn
            await conn.close()  # the server closed it while idle (its keep-alive timeout)
        result.connections += 1
        return await RawConnection.open(port)

    async def one(request: bytes, due: float) -> None:
        conn = await connection()
        try:
            try:
                status = await conn.send(request)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
                # Closed by the server as the request went out (its keep-alive timeout), no
                # byte answered: resend on a new connection, as HTTP clients do.
                await conn.close()
                result.resent += 1
                conn = await connection()
                status = await conn.send(request)
        except (OSError, asyncio.IncompleteReadError) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            await conn.close()
            return
        result.statuses[status] += 1
        result.latencies.append(time.perf_counter() - due)
        idle.append(conn)

    start = time.perf_counter() + 0.05
    for index, request in enumerate(requests):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(request, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    await asyncio.gather(*(conn.close() for conn in idle))
    return result


# --- the stream ---------------------------------------------------------------------------------


@dataclass
class Stream:
    event_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)


async def build_stream(rig: ServeRig, count: int) -> Stream:
    """``count`` signed ``message.received`` deliveries: ``count / DELIVERIES`` distinct
    messages, each delivered ``DELIVERIES`` times — first, then again ``REDELIVERY_LAGS``
    first deliveries later (about 1, 3, 10 and 20 s), same event id and body, as OpenPhone
    retries a delivery it did not see acknowledged in time."""
    ws = rig.workspace
    async with rig.emitter() as emitter:  # builds the events; this test sends them
        pass
    conversations = [
        (str(line["id"]), f"+1415555{n:02d}{k:02d}")
        for n, line in enumerate(ws.phone_numbers)
        for k in range(2)
    ]
    now = time.time()
    stream = Stream()
    bodies: list[tuple[bytes, str]] = []
    for i in range(count // DELIVERIES):
        pn, other = conversations[i % len(conversations)]
        message = ws.add_message(pn, [other], f"load message {i}", at=now - 60 + i / RATE)
        event = emitter.message_event("message.received", message.id, message.created_at)
        target = next(t for t in emitter.targets if t.wants(event))
        body = json.dumps(event.envelope(target.envelope), separators=(",", ":")).encode()
        stream.event_ids.append(event.id)
        stream.message_ids.append(message.id)
        bodies.append((body, target.secret))
    for slot in range(count):
        first, attempt = divmod(slot, DELIVERIES)
        body, secret = bodies[max(0, first - REDELIVERY_LAGS[attempt])]
        signature = sign_legacy(secret, int(time.time() * 1000), body)
        head = (
            f"POST /webhooks/openphone HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\n"
            f"Content-Type: application/json\r\nopenphone-signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        stream.requests.append(head.encode() + body)
    return stream


# --- watching the service -----------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def sample(
    pid: int, store: Store, began: float, samples: list[tuple[float, int, int]]
) -> None:
    """Every second until cancelled: (seconds since ``began``, RSS kB, pending events)."""
    while True:
        counts = await store.inbox_counts()
        samples.append((time.perf_counter() - began, rss_kb(pid), counts["pending"]))
        await asyncio.sleep(1.0)


async def webhook_rows(store: Store) -> dict[str, str]:
    """event id → state of every webhook row of the inbox."""
    _, rows = await store.execute_query(
        "SELECT event_id, state FROM inbox WHERE source = 'webhook'"
    )
    return {str(event_id): str(state) for event_id, state in rows}


def pages_by_title(rig: ServeRig) -> Counter[str]:
    found: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"page_size": 100}
        if cursor:
            body["start_cursor"] = cursor
        listed = rig.notion.state.query(rig.seeded.messages_data_source_id, body)
        for page in listed["results"]:
            title = page["properties"]["Message ID"]["title"]
            found["".join(part["plain_text"] for part in title)] += 1
        cursor = listed.get("next_cursor")
        if not listed.get("has_more"):
            return found


def at_second(samples: list[tuple[float, int, int]], second: float) -> tuple[float, int, int]:
    return min(samples, key=lambda s: abs(s[0] - second))


def record(figures: dict[str, Any]) -> None:
    print("\nload figures:", json.dumps(figures, indent=2))
    path = os.environ.get(REPORT_VAR)
    if not path:
        return
    report = Path(path)
    existing = json.loads(report.read_text()) if report.exists() else {}
    existing["load"] = figures
    report.write_text(json.dumps(existing, indent=2) + "\n")


# --- the test -----------------------------------------------------------------------------------


async def test_200_webhooks_per_second_for_30_s_with_notion_at_3_per_s(tmp_path: Path) -> None:
    size = WorkspaceSize(
        phone_numbers=6, contacts=4, counterparts_per_number=1, calls_per_counterpart=0,
        messages_per_counterpart=0, days=5,
    )  # fmt: skip
    workspace = generate_workspace(seed=53, now=time.time(), size=size)
    notion = NotionSimulator(NotionState(seed=9), rate_limit=NOTION_RATE)  # 3/s, burst 10
    env = {
        "OPSYNC_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "OPSYNC_INITIAL_WINDOW": "1",
        "OPSYNC_PENDING_WINDOW": "0",
    }
    async with open_rig(tmp_path, workspace, notion=notion, notion_rate=None, env=env) as rig:
        count = int(RATE * SECONDS)
        stream = await build_stream(rig, count)
        event_ids, message_ids = stream.event_ids, stream.message_ids
        process = await rig.start()
        store = await rig.store()

        samples: list[tuple[float, int, int]] = []
        began = time.perf_counter()
        sampler = asyncio.create_task(sample(process.pid, store, began, samples))
        try:
            result = await open_loop(rig.port, stream.requests, RATE)
        finally:
            sampler.cancel()
            with suppress(asyncio.CancelledError):
                await sampler
        load_seconds = time.perf_counter() - began

        rows = await webhook_rows(store)
        backlog = (await store.inbox_counts())["pending"]
        stop_began = time.monotonic()
        stop_status = await rig.stop(SHUTDOWN_TIMEOUT + 20)
        stop_seconds = time.monotonic() - stop_began

        # Drain: the throttle and the service's own pacing raised, the same store.
        rig.notion.limiter = None
        rig.env[NOTION_RATE_VAR] = "1000"
        await rig.start()
        drain_began = time.monotonic()
        async with asyncio.timeout(DRAIN_LIMIT_S):
            while True:
                counts = await store.inbox_counts()
                if counts["pending"] == 0 and counts["in_flight"] == 0:
                    break
                await asyncio.sleep(0.5)
        drain_seconds = time.monotonic() - drain_began
        final_status = await rig.stop(SHUTDOWN_TIMEOUT + 20)
        final_rows = await webhook_rows(store)
        final_counts = await store.inbox_counts()
        pages = pages_by_title(rig)

    rss_10, rss_30 = at_second(samples, 10.0), at_second(samples, SECONDS)
    window = [s for s in samples if 10.0 <= s[0] <= SECONDS + 0.5]
    growth_kb = max(s[1] for s in window) - rss_10[1]
    figures = {
        "rate_per_s": RATE,
        "seconds": SECONDS,
        "sent": count,
        "distinct_events": len(event_ids),
        "answered": sum(result.statuses.values()),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "transport_errors": len(result.errors),
        "connections": result.connections,
        "resent_on_closed_keepalive": result.resent,
        "load_seconds": round(load_seconds, 2),
        "latency_ms": {
            "p50": round(result.percentile(0.50) * 1000, 2),
            "p99": round(result.percentile(0.99) * 1000, 2),
            "max": round(max(result.latencies) * 1000, 2),
        },
        "rss_mb": {
            "at_10s": round(rss_10[1] / 1024, 1),
            "at_30s": round(rss_30[1] / 1024, 1),
            "max": round(max(s[1] for s in samples) / 1024, 1),
            "growth_10s_to_30s": round(growth_kb / 1024, 1),
        },
        "backlog": {"at_10s": rss_10[2], "at_30s": rss_30[2], "at_end_of_load": backlog},
        "stop_seconds_with_backlog": round(stop_seconds, 2),
        "drain_seconds": round(drain_seconds, 2),
        "lost": sum(1 for e in event_ids if e not in final_rows),
        "duplicated": sum(1 for m in message_ids if pages[m] > 1),
        "dead": final_counts["dead"],
    }
    record(figures)

    assert result.errors == []
    # The first delivery of each event is accepted, every redelivery is a duplicate.
    assert result.statuses == Counter({202: len(event_ids), 200: count - len(event_ids)})
    assert result.percentile(0.99) < P99_LIMIT_S, figures["latency_ms"]
    assert all(e in rows for e in event_ids)  # acknowledged means stored
    assert rss_30[2] - rss_10[2] > 500, "the backlog did not grow: was Notion throttled?"
    assert growth_kb < RSS_GROWTH_LIMIT_KB, figures["rss_mb"]
    assert stop_status == 0
    assert final_status == 0
    assert stop_seconds <= SHUTDOWN_TIMEOUT + 1.5
    assert {final_rows[e] for e in event_ids} == {"done"}
    assert final_counts["dead"] == 0
    assert final_counts["in_flight"] == 0
    assert {m: pages[m] for m in message_ids} == {m: 1 for m in message_ids}
