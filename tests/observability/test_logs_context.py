"""Log lines carry the event, phone number and resource they are about (structlog
contextvars), bound by the dispatcher per event and by the actor per resource."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import structlog

from opsync.clock import FakeClock
from opsync.dispatcher import Dispatcher, Outcome
from opsync.retry import RetryPolicy
from opsync.store import InboxEvent, Store
from tests.e2e.conftest import Pipeline
from tests.observability.conftest import CapturedLogs

log = logging.getLogger("tests.observability")


async def test_every_line_logged_while_an_event_runs_names_it(
    captured_logs: CapturedLogs, tmp_path: Path
) -> None:
    async def handler(event: InboxEvent) -> Outcome | None:
        log.info("inside the handler")  # no extra: the context alone names the event
        await asyncio.sleep(0)  # interleave with the other partition's event
        log.info("still inside", extra={"partition": "explicit"})
        return None

    async with await Store.open(f"sqlite:///{tmp_path / 'l.db'}", clock=FakeClock()) as store:
        await store.inbox_enqueue("EV-A", "call.completed", "PN-A", {"id": "EV-A"})
        await store.inbox_enqueue("EV-B", "message.received", "PN-B", {"id": "EV-B"})
        dispatcher = Dispatcher(
            store, handler, policy=RetryPolicy(), clock=FakeClock(), rng=random.Random(1)
        )
        assert await dispatcher.run_until_idle() == 2
    log.info("after the run")

    lines = captured_logs.lines()
    inside = [line for line in lines if line["event"] == "inside the handler"]
    assert sorted((line["event_id"], line["partition"]) for line in inside) == [
        ("EV-A", "PN-A"),
        ("EV-B", "PN-B"),
    ]
    still = [line for line in lines if line["event"] == "still inside"]
    assert {line["partition"] for line in still} == {"explicit"}  # an explicit extra wins
    assert sorted(line["event_id"] for line in still) == ["EV-A", "EV-B"]
    done = [line for line in lines if line.get("action") == "event_done"]
    assert sorted(line["event_id"] for line in done) == ["EV-A", "EV-B"]
    [after] = [line for line in lines if line["event"] == "after the run"]
    assert "event_id" not in after  # the binding stayed in the event's task
    assert structlog.contextvars.get_contextvars() == {}


async def test_a_webhook_events_lines_name_its_phone_number_and_resource(
    captured_logs: CapturedLogs, pipeline: Pipeline
) -> None:
    ws = pipeline.workspace
    message = ws.add_message(pipeline.pn_id, ["+13214436893"], "Ready?", at=0)
    received = pipeline.emitter.message_event("message.received", message.id, 1.0)
    await pipeline.emitter.deliver([received])
    await pipeline.drain()

    lines = [line for line in captured_logs.lines() if line.get("event_id") == received.id]
    actions = {line.get("action") for line in lines}
    assert {"webhook_received", "event_claimed", "event_done"} <= actions
    [done] = [line for line in lines if line.get("action") == "event_done"]
    assert done["partition"] == pipeline.pn_id
    assert done["phone_number_id"] == pipeline.pn_id
    assert done["resource_type"] == "message"
    assert done["resource_id"] == message.id
