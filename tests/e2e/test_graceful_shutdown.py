"""Graceful shutdown of ``opsync serve`` as a real process (issue 5): on SIGTERM it stops
accepting webhooks, in-flight work finishes or is released within ``OPSYNC_SHUTDOWN_TIMEOUT``,
it exits 0, and a restart continues with nothing lost or doubled.

The service runs under :mod:`tests.support.serve_rig` with ``OPSYNC_SHUTDOWN_TIMEOUT=3``.
What is held in flight:

* a Notion page create kept slow by the simulator — shorter than the timeout (the event
  finishes before the exit) and longer (the event is released, and the restart adopts the
  page the held create made instead of creating a second one);
* a backfill sync job, paced at Notion's real 3 requests/s — released at once (sync jobs
  resume from their saved cursor), then finished by the restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import ClientDisconnect

from opsync.openphone.signatures import sign_legacy
from opsync.sandbox.notion import FaultConfig, NotionSimulator, NotionState
from opsync.sandbox.openphone import WorkspaceSize, generate_workspace
from opsync.store import Store
from opsync.sync.jobs import SyncJob, enqueue_sync_job
from tests.support.serve_rig import ServeRig, open_rig

SHUTDOWN_TIMEOUT = 3.0
#: start-up of the interpreter's exit, closing the store and the HTTP clients
EXIT_MARGIN = 1.5
CREATE = "POST /v1/pages"

pytestmark = pytest.mark.timeout(120)

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class RequestWatch:
    """ASGI wrapper around the Notion simulator: requests started and finished, by method and
    path, so that a test knows when a create is held in flight."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.started: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = f"{scope['method']} {scope['path']}"
        self.started[key] += 1
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            pass  # a held request the service gave up on: the simulator never applies it
        finally:
            self.finished[key] += 1

    def in_flight(self, key: str) -> int:
        return self.started[key] - self.finished[key]


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    """Poll ``condition`` every 50 ms until true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def stop_timed(rig: ServeRig) -> tuple[int, float]:
    """SIGTERM the service; its exit status and the seconds it took to exit."""
    began = time.monotonic()
    status = await rig.stop(SHUTDOWN_TIMEOUT + 20)
    return status, time.monotonic() - began


async def sigterm_and_keep_delivering(rig: ServeRig) -> tuple[int, float, dict[str, str]]:
    """SIGTERM the service, then deliver a new message at a time, each on a new connection,
    until a connection is refused (fails if the process exits first: it kept accepting).
    Returns the exit status, the seconds to exit, and message id → event id of the
    deliveries answered 202 meanwhile."""
    process = rig.process
    assert process is not None
    ws, line = rig.workspace, str(rig.workspace.phone_numbers[0]["id"])
    async with rig.emitter() as emitter:  # builds the events; sent below
        target = next(t for t in emitter.targets if "message.received" in (t.events or ()))
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    accepted: dict[str, str] = {}
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=no_keepalive, timeout=10) as http:
        while True:
            assert process.returncode is None, "the service exited before refusing a delivery"
            message = ws.add_message(line, ["+14155550188"], "after SIGTERM", at=time.time())
            event = emitter.message_event("message.received", message.id, time.time())
            # A new emitter repeats the first one's event ids (same seed): make it new.
            event = dataclasses.replace(event, id=f"EV{uuid.uuid4().hex}")
            body = json.dumps(event.envelope(target.envelope)).encode()
            signature = sign_legacy(target.secret, int(time.time() * 1000), body)
            headers = {"content-type": "application/json", "openphone-signature": signature}
            try:
                response = await http.post(rig.webhook_url, content=body, headers=headers)
            except httpx.ConnectError:
                break  # the listener is closed
            except httpx.TransportError:
                continue  # accepted by the kernel, then dropped unread as the listener closed
            assert response.status_code == 202, response.text
            accepted[message.id] = event.id
    async with asyncio.timeout(SHUTDOWN_TIMEOUT + 20):
        status = await process.wait()
    return status, time.monotonic() - began, accepted


async def drained(rig: ServeRig) -> bool:
    counts = await rig.inbox_counts()
    return counts["pending"] == 0 and counts["in_flight"] == 0


async def inbox_rows(store: Store) -> dict[str, tuple[str, int]]:
    """event id → (state, attempts) of every inbox row."""
    _, rows = await store.execute_query("SELECT event_id, state, attempts FROM inbox")
    return {str(event_id): (str(state), int(attempts)) for event_id, state, attempts in rows}


def titles(rig: ServeRig, data_source_id: str, title_property: str) -> Counter[str]:
    """How many pages carry each title in a data source of the Notion simulator."""
    found: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"page_size": 100}
        if cursor:
            body["start_cursor"] = cursor
        listed = rig.notion.state.query(data_source_id, body)
        for page in listed["results"]:
            title = page["properties"][title_property]["title"]
            found["".join(part["plain_text"] for part in title)] += 1
        cursor = listed.get("next_cursor")
        if not listed.get("has_more"):
            return found


@pytest.fixture
async def watched_rig(tmp_path: Path) -> AsyncIterator[tuple[ServeRig, RequestWatch]]:
    """A rig whose first start syncs nothing (a 1-second initial window) and whose Notion
    requests are watched; no Canvas database, so a message's first Notion request is its
    page create."""
    workspace = generate_workspace(seed=41, now=time.time())
    notion = NotionSimulator(NotionState(seed=3), rate_limit=None)
    watch = RequestWatch(notion.app)
    notion.app = watch  # type: ignore[assignment]
    env = {
        "OPSYNC_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "OPSYNC_INITIAL_WINDOW": "1",
        "OPSYNC_PENDING_WINDOW": "0",
        "NOTION_CANVAS_DATABASE_ID": "",
    }
    async with open_rig(tmp_path, workspace, notion=notion, env=env) as rig:
        yield rig, watch


@pytest.mark.parametrize(
    ("slow_seconds", "state_at_exit"),
    [(1.5, "done"), (6.0, "pending")],
    ids=["create-finishes-within-the-timeout", "create-outlasts-the-timeout"],
)
async def test_sigterm_during_a_slow_notion_create(
    watched_rig: tuple[ServeRig, RequestWatch], slow_seconds: float, state_at_exit: str
) -> None:
    rig, watch = watched_rig
    ws = rig.workspace
    await rig.start()

    async def synced_once() -> bool:  # the first start's sync job of every number is done
        counts = await rig.inbox_counts()
        return await drained(rig) and counts["done"] == len(ws.phone_numbers)

    await wait_for(synced_once, 20, "the first start's sync jobs")
    rig.notion.set_faults(FaultConfig(slow=1.0, slow_seconds=slow_seconds))
    messages = [
        ws.add_message(str(line["id"]), [f"+1415555019{n}"], f"held {n}", at=time.time())
        for n, line in enumerate(ws.phone_numbers[:2])
    ]
    async with rig.emitter() as emitter:
        events = [emitter.message_event("message.received", m.id, time.time()) for m in messages]
        deliveries = await emitter.deliver(events)
    assert [d.status_code for d in deliveries] == [202, 202]

    async def both_held() -> bool:
        rows = await inbox_rows(await rig.store())
        held = watch.in_flight(CREATE) == 2
        return held and all(rows[e.id][0] == "in_flight" for e in events)

    await wait_for(both_held, 10, "both page creates to be held by the simulator")
    status, seconds, late = await sigterm_and_keep_delivering(rig)
    print(f"SIGTERM with two creates held {slow_seconds:g} s: exit {status} in {seconds:.2f} s")
    assert status == 0, rig.log_tail()
    assert seconds <= SHUTDOWN_TIMEOUT + EXIT_MARGIN, f"took {seconds:.2f} s to exit"
    rows = await inbox_rows(await rig.store())
    assert all(state != "in_flight" for state, _ in rows.values())
    # Finished, or released without counting the attempt: nothing is stuck or lost.
    assert {rows[e.id] for e in events} == {(state_at_exit, 1 if state_at_exit == "done" else 0)}
    # A delivery answered 2xx while stopping is stored (and is synced after the restart).
    assert all(rows[event_id] == ("pending", 0) for event_id in late.values())
    messages += [ws.messages[message_id] for message_id in late]

    async def creates_ended() -> bool:
        return watch.in_flight(CREATE) == 0

    # The restart sees the ledger's intent of a create it gave up on, looks the page up
    # (there is none: the simulator drops a request whose client has gone) and creates it.
    await wait_for(creates_ended, slow_seconds + 5, "the held creates to end")
    rig.notion.set_faults(FaultConfig())
    await rig.start()
    await wait_for(lambda: drained(rig), 20, "the inbox to drain after the restart")
    status, _ = await stop_timed(rig)
    assert status == 0, rig.log_tail()
    counts = await rig.inbox_counts()
    assert (counts["dead"], counts["in_flight"], counts["pending"]) == (0, 0, 0)
    assert {(await inbox_rows(await rig.store()))[e.id][0] for e in events} == {"done"}
    pages = titles(rig, rig.seeded.messages_data_source_id, "Message ID")
    assert pages == Counter({m.id: 1 for m in messages})  # each once, nothing else


async def test_sigterm_during_a_backfill_releases_the_job_and_the_restart_finishes_it(
    tmp_path: Path,
) -> None:
    size = WorkspaceSize(
        phone_numbers=1, contacts=4, counterparts_per_number=4, calls_per_counterpart=1,
        messages_per_counterpart=3, days=10,
    )  # fmt: skip
    workspace = generate_workspace(seed=43, now=time.time(), size=size)
    pn = str(workspace.phone_numbers[0]["id"])
    env = {"OPSYNC_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT), "OPSYNC_CALL_SETTLE_SECONDS": "0"}
    # Notion paced at its real 3 requests/s: the backfill takes ~7 s, long enough to stop.
    async with open_rig(tmp_path, workspace, notion_rate=None, env=env) as rig:
        store = await rig.store()
        job_id = f"backfill:{pn}:graceful"
        assert await enqueue_sync_job(store, SyncJob(pn, all=True, source="cli"), event_id=job_id)
        await rig.start()

        async def some_pages_written() -> bool:
            return len(titles(rig, rig.seeded.messages_data_source_id, "Message ID")) >= 3

        await wait_for(some_pages_written, 30, "the backfill to write its first pages")
        assert (await inbox_rows(store))[job_id][0] == "in_flight"
        status, seconds = await stop_timed(rig)
        print(f"SIGTERM during a backfill: exit {status} in {seconds:.2f} s")
        assert status == 0, rig.log_tail()
        assert seconds <= SHUTDOWN_TIMEOUT + EXIT_MARGIN, f"took {seconds:.2f} s to exit"
        # Released at once, uncounted, for the next start to resume.
        assert (await inbox_rows(store))[job_id] == ("pending", 0)
        written_before = sum(titles(rig, rig.seeded.messages_data_source_id, "Message ID").values())
        assert written_before < len(workspace.messages)  # it really was interrupted

        await rig.start()
        await wait_for(lambda: drained(rig), 60, "the backfill to finish after the restart")
        status, _ = await stop_timed(rig)
        assert status == 0, rig.log_tail()

        counts = await rig.inbox_counts()
        assert (counts["dead"], counts["in_flight"], counts["pending"]) == (0, 0, 0)
        assert (await inbox_rows(store))[job_id][0] == "done"
        messages = titles(rig, rig.seeded.messages_data_source_id, "Message ID")
        calls = titles(rig, rig.seeded.calls_data_source_id, "Call ID")
        assert messages == Counter({m: 1 for m in workspace.messages})
        assert calls == Counter({c: 1 for c in workspace.calls})
