"""The opsync service of the backfill and memory benchmarks, in its own process.

``python -m bench._service_proc CONFIG.json`` builds the service exactly as ``opsync serve``
does (:func:`opsync.service.open_service` + :func:`opsync.service.run_service`: web app,
dispatcher, actors), pointed at the simulators the parent process serves, with the token
buckets the config names. Then, in ``sync`` mode, it enqueues one sync job per phone number
(:func:`opsync.sync.jobs.enqueue_sync_job`, ``--all`` history, as ``opsync backfill --all``
does), and waits until the inbox has nothing pending or in flight. Running it apart lets the
parent read this process's resident memory alone (``/proc/<pid>/status``), without the
simulators' state in it, and gives service and simulators a core each.

It reports on stdout, one JSON object a line: ``{"event": "ready", ...}`` once serving,
``{"event": "enqueued", ...}``, then ``{"event": "drained", ...}`` with the inbox counts,
each job's summary, the sync_history counts and this process's peak RSS; or
``{"event": "error", ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from contextlib import suppress
from pathlib import Path
from typing import Any

from opsync import logs
from opsync._uvicorn import bind_socket, bound_port
from opsync.clock import SystemClock
from opsync.config import load_settings
from opsync.pacing import RateLimit, TokenBucket
from opsync.service import Pacers, open_service, run_service
from opsync.store import Store

HOST = "127.0.0.1"


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}, default=str), flush=True)


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


async def _counts(store: Store) -> dict[str, int]:
    return {str(state): n for state, n in (await store.inbox_counts()).items()}


async def main(config: dict[str, Any]) -> None:
    settings = load_settings(config["env"])
    clock = SystemClock()
    notion_rate, notion_burst = config["notion_pacer"]
    openphone_rate, openphone_burst = config["openphone_pacer"]
    pacers = Pacers(
        TokenBucket(RateLimit(notion_rate, int(notion_burst)), clock),
        TokenBucket(RateLimit(openphone_rate, int(openphone_burst)), clock),
    )
    poll = float(config.get("poll_interval", 0.05))
    async with open_service(settings, pacers=pacers, poll_interval=poll) as service:
        sock = bind_socket(HOST)
        stop = asyncio.Event()
        started = asyncio.Event()
        task = asyncio.create_task(
            run_service(service, host=HOST, port=bound_port(sock), stop=stop, started=started,
                        sock=sock)
        )  # fmt: skip
        try:
            await asyncio.wait_for(started.wait(), timeout=60)
            emit("ready", pid=os.getpid(), rss_kb=_status_kb("VmRSS"))
            await _work(config, service.store, task)
        finally:
            stop.set()
            with suppress(Exception):
                await task


async def _work(config: dict[str, Any], store: Store, task: asyncio.Task[None]) -> None:
    from opsync.sync._sync_progress import LAST_KEY
    from opsync.sync.jobs import SyncJob, enqueue_sync_job

    numbers: list[str] = list(config["phone_numbers"])
    if config.get("mode", "sync") == "sync":
        for number in numbers:
            job = SyncJob(number, calls=True, messages=True, all=True, source="cli")
            await enqueue_sync_job(store, job, event_id=f"backfill:{number}:bench")
    emit("enqueued", jobs=len(numbers))
    deadline = time.monotonic() + float(config.get("drain_timeout", 900))
    expected = int(config.get("expected_events", len(numbers)))
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        if task.done():
            task.result()
            raise RuntimeError("the service stopped before the inbox drained")
        counts = await _counts(store)
        settled = counts.get("pending", 0) == 0 and counts.get("in_flight", 0) == 0
        if settled and sum(counts.values()) >= expected:
            break
        await asyncio.sleep(0.2)
    else:
        emit("timeout", counts=counts)
        return
    summaries = {}
    for number in numbers:
        raw = await store.kv_get(LAST_KEY.format(number))
        summaries[number] = json.loads(raw) if raw else None
    history = await store.execute_query(
        "SELECT resource_type, sync_status, COUNT(*) FROM sync_history "
        "GROUP BY resource_type, sync_status"
    )
    emit(
        "drained",
        counts=counts,
        summaries=summaries,
        sync_history=[list(row) for row in history.rows],
        peak_rss_kb=_status_kb("VmHWM"),
        rss_kb=_status_kb("VmRSS"),
    )


def entry(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    # JSON logs at the configured level, as opsync serve writes them, into /dev/null
    with open(os.devnull, "w") as sink:
        logs.configure(str(config["env"].get("LOG_LEVEL", "INFO")), stream=sink)
        if os.environ.get("BENCH_PROFILE"):  # a developer's aid: cProfile the event loop
            import cProfile

            profile = cProfile.Profile()
            profile.runcall(asyncio.run, main(config))
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        else:
            asyncio.run(main(config))


if __name__ == "__main__":
    try:
        entry(sys.argv[1])
    except Exception as exc:
        emit("error", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
        raise SystemExit(1) from None
