"""A dispatcher starting on a machine where a worker died (kill -9) takes that worker's events
over at once, instead of waiting for their leases to expire; live workers keep theirs."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from opsync.dispatcher import Dispatcher
from opsync.owners import pid_alive, pid_namespace
from opsync.retry import RetryPolicy
from opsync.store import InboxEvent, Store


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(child.stdout)
    if pid_alive(pid):
        pytest.skip("the system gave the child's pid to another process already")
    return pid


def owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:dead0000:{pid_namespace()}"


@pytest.mark.parametrize(
    ("event_type", "attempts"),
    [
        ("call.completed", 2),  # the crash counts: an event that kills every worker ends dead
        ("sync.phone_number", 1),  # resumable from its saved cursor: the crash cost nothing
    ],
)
async def test_events_of_a_dead_worker_are_taken_over_at_start(
    tmp_path: Path, event_type: str, attempts: int
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'opsync.db'}")
    try:
        for event_id, partition in (("E1", "PN1"), ("E2", "PN2")):
            assert await store.inbox_enqueue(event_id, event_type, partition, {})
        [orphan] = await store.inbox_claim(owner(dead_pid()), 3600.0, 1)
        [alive] = await store.inbox_claim(owner(os.getppid()), 3600.0, 1)
        handled: list[str] = []
        done = asyncio.Event()

        async def handler(event: InboxEvent) -> None:
            handled.append(event.event_id)
            done.set()

        dispatcher = Dispatcher(
            store,
            handler,
            policy=RetryPolicy(base=0.0, cap=0.0, max_attempts=8),
            rng=random.Random(1),
            poll_interval=0.01,
            interruptible=lambda event: event.event_type == "sync.phone_number",
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(dispatcher.run_forever(stop))
        async with asyncio.timeout(5):
            await done.wait()
        stop.set()
        await worker

        assert handled == [orphan.event_id]  # an hour's lease, taken over at once
        finished = await store.inbox_get(orphan.id)
        assert finished is not None
        assert finished.state == "done"
        assert finished.attempts == attempts
        still = await store.inbox_get(alive.id)
        assert still is not None
        assert still.state == "in_flight"  # its process (our parent) lives: left to its lease
    finally:
        await store.close()
