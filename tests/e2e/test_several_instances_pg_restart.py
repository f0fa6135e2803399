"""Several instances and a PostgreSQL restart (issue 7): two ``opsync serve`` processes on a
private PostgreSQL cluster behind a round-robin balancer take a stream of webhooks; mid-stream
the cluster stops for a few seconds and starts again.

While it is down every delivery is answered 503 (never 2xx: an event acknowledged but not
stored would be lost), and the emitter retries it as OpenPhone does. Once it is back the same
two processes, never restarted, reconnect (the pool's pre-ping replaces the connections that
died with the old server) and finish everything: every event processed, exactly one correct
Notion page per call and message, nothing dead, nothing pending or in flight.

The Notion simulator has no rate limit and the instances pace at 1,000 requests/s: the test
is about the store, not Notion's 3 requests/s (the several-instances test holds that).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

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
from opsync.render.state import user_names as render_user_names
from opsync.sandbox._server import serve
from opsync.store.rows import InboxEvent
from tests.e2e.test_crash_kill import page_problems
from tests.support.private_postgres import PrivatePostgres
from tests.support.sandbox_env import API_KEY
from tests.support.serve_rig import RoundRobin, ServeRig, open_rig

INSTANCES = 2
#: simulated time runs this many times faster than the wall clock (lives, retry delays)
COMPRESSION = 100.0
#: real seconds over which the lives start; the cluster is down inside that window
STREAM_SECONDS = 8.0
DOWN_AFTER = 2.0
DOWN_FOR = 4.0
#: OpenPhone's re-deliveries of a refused webhook, in real seconds: they outlast the outage
RETRY_SECONDS = (0.3, 1.0, 2.0, 4.0, 8.0)
LEASE_SECONDS = 3.0
DRAIN_TIMEOUT = 60.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class AnswerLog:
    """An ASGI wrapper in front of the balancer: the monotonic time and status of every
    answer it sent to the emitter."""

    def __init__(self, app: RoundRobin) -> None:
        self.app = app
        self.answers: list[tuple[float, int]] = []

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:  # fmt: skip
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((time.monotonic(), int(message["status"])))
            await send(message)

        await self.app(scope, receive, noting)


def trace(began: float, what: str) -> None:
    print(f"[{time.monotonic() - began:6.1f} s] {what}")


async def wait_processed(
    rig: ServeRig, instances: list[ServeRig], acknowledged: set[str]
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
        for instance in instances:
            assert instance.running, "an instance died:\n" + instance.log_tail()
        await asyncio.sleep(0.2)


@pytest.mark.timeout(120)
async def test_two_instances_ride_out_a_postgresql_restart(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    pg = private_postgres
    began = time.monotonic()
    options = ScenarioOptions(
        calls=4, messages=26, phone_numbers=3, seed=23,
        spread=STREAM_SECONDS * COMPRESSION, duplicate_probability=0.1,
        retry_delays=tuple(s * COMPRESSION for s in RETRY_SECONDS),
    )  # fmt: skip
    scenario = build_scenario(options, now=time.time())
    env = {
        "OPSYNC_DATABASE_URL": pg.url,
        "OPSYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "OPSYNC_CALL_SETTLE_SECONDS": "1.0",
    }
    async with (
        open_rig(tmp_path, scenario.workspace, env=env) as rig,
        AsyncExitStack() as stack,
        httpx.AsyncClient(timeout=10.0) as http,
    ):
        canvas = seed_canvas(rig.notion.state, rig.seeded.canvas_data_source_id, scenario.canvas)
        instances = [rig.replica(f"instance-{n}") for n in range(INSTANCES)]
        for instance in instances:
            stack.push_async_callback(instance.aclose)
            await instance.start()  # one after the other: the first migrates the schema
        pids = [i.process.pid for i in instances if i.process is not None]
        trace(began, f"{INSTANCES} instances up")
        balancer = RoundRobin([i.base_url for i in instances], http)
        answers = AnswerLog(balancer)
        await stack.enter_async_context(serve(answers, port=rig.port))

        traffic = asyncio.create_task(
            play_scenario(scenario, CompressedClock(COMPRESSION), rig.openphone_url, http)
        )
        try:
            await asyncio.wait({traffic}, timeout=DOWN_AFTER)
            assert not traffic.done(), "the stream ended before the outage"
            await asyncio.to_thread(pg.stop)
            down_from = time.monotonic()
            trace(began, "PostgreSQL stopped")
            await asyncio.wait({traffic}, timeout=DOWN_FOR)
            down_until = time.monotonic()
            await asyncio.to_thread(pg.start)
            trace(began, "PostgreSQL started")
            stream_open_at_restart = not traffic.done()
            played: Played = await traffic
        finally:
            traffic.cancel()
        trace(began, f"traffic played: {len(played.events)} events")
        rows = await wait_processed(rig, instances, played.accepted_event_ids())
        trace(began, "drained")

        by_state = Counter(r.state for r in rows)
        rows_per_event = Counter(r.event_id for r in rows)
        sent = {e.id for e in played.events}
        done = {r.event_id for r in rows if r.state in ("done", "ignored")}
        unfinished = sorted(e for e in played.accepted_event_ids() if e not in done)
        ids = NotionIds(rig.seeded.calls_data_source_id, rig.seeded.messages_data_source_id)
        ws, pages = rig.workspace, rig.notion.state.dump()["pages"]
        check = verify(ws, list(ws.calls), list(ws.messages), pages, ids, canvas)
        openphone = OpenPhoneClient(rig.http, API_KEY, base_url=f"{rig.openphone_url}/v1")
        user_names = render_user_names([user async for user in openphone.list_users()])
        details = page_problems(rig, user_names)
        while_down = Counter(s for at, s in answers.answers if down_from <= at <= down_until)
        after = Counter(s for at, s in answers.answers if at > down_until)
        same_processes = [i.process.pid for i in instances if i.process is not None] == pids
        still_running = all(i.running for i in instances)
        exits = [await i.stop() for i in instances]
        figures = {
            "events_sent": len(sent),
            "inbox_rows": len(rows),
            "scheduled_sync_jobs": len(set(rows_per_event) - sent),  # the cron's own rows
            "deliveries": len(played.deliveries),
            "answers_while_down": dict(while_down),
            "answers_after_restart": dict(after),
            "balanced": balancer.answered,
            "inbox": dict(sorted(by_state.items())),
            "down_seconds": round(down_until - down_from, 1),
            "seconds": round(time.monotonic() - began, 1),
        }
        print("pg-restart figures:\n" + json.dumps(figures, indent=2, sort_keys=True))
        logs = "\n".join(f"--- {i.data_dir.name}:\n{i.log_tail(15)}" for i in instances)

    assert stream_open_at_restart, "the webhooks stopped before PostgreSQL came back"
    assert sum(while_down.values()) > 0, figures  # the outage did see deliveries
    assert set(while_down) == {503}, figures  # never 2xx for an event it could not store
    assert any(200 <= s < 300 for s in after), figures  # the instances took webhooks again
    assert still_running, logs  # reconnected without a restart ...
    assert same_processes, logs  # ... the very processes started before the outage
    assert played.accepted_event_ids() == sent, logs
    assert max(rows_per_event.values()) == 1, figures  # stored once, whoever took it
    assert all(e.startswith("sync:") for e in set(rows_per_event) - sent), figures
    assert unfinished == [], f"acknowledged, not processed: {unfinished[:5]}\n{logs}"
    assert (by_state["dead"], by_state["in_flight"], by_state["pending"]) == (0, 0, 0), figures
    assert check.ok, [str(problem) for problem in check.problems[:10]]
    assert details == [], details[:10]
    assert check.pages == {"calls": len(ws.calls), "messages": len(ws.messages)}, check.pages
    assert exits == [0] * INSTANCES, logs
