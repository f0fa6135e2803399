"""Benchmark 3 — webhook ingest: accepted events per second, accept latency at 200 events/s,
and the same server stack answering a do-nothing endpoint.

The server (:mod:`bench._ingest_server`) runs in its own process — opsync's web app under
uvicorn on a loopback port, a real :class:`~opsync.store.Store` on a temporary SQLite file
(WAL, the store's default durability: each 202 is sent after its commit) and a
:class:`~opsync.openphone.signatures.WebhookVerifier` checking every signature. The load
generator runs in this process, so on a 2-core machine client and server each get a core.

The load generator is a minimal HTTP/1.1 keep-alive client over asyncio streams, on
pre-built requests (bodies signed before the clock starts): a pure-Python client light
enough not to be the bottleneck — it drives the do-nothing endpoint at several thousand
requests/s, far above what ingest reaches. It reads every response in full and counts
status codes; nothing else is skipped.

Phases, each on both endpoints (do-nothing first, then ingest):

* **capacity** — closed loop, ``connections`` keep-alive connections each sending its next
  request as soon as the previous answer arrives, for ``seconds``; rate = answered / elapsed;
  for the webhook only 202 ``accepted`` answers count. Run at each of ``connection_levels``
  (do-nothing and ingest alternately, so that a drift in the machine's speed hits both), and
  each endpoint's capacity is its best level: the do-nothing endpoint peaks at few connections,
  ingest — whose answers wait for a commit shared by the deliveries in flight — at more;
* **steady** — open loop at ``steady_rate`` requests/s for ``steady_seconds``: request *i*
  is due at ``t0 + i / rate``; latency is measured from that due time (so a stalled server
  cannot hide its queueing — no coordinated omission), each request on an idle connection
  from a pool that grows when all are busy.

Events are realistic deliveries: the envelopes the OpenPhone simulator's emitter builds for
the calls (every stage of their lives) and messages of a generated workspace, each with a
unique event id, signed with the legacy ``openphone-signature`` scheme that webhooks
created through the v1 API use (``standard`` is measured too when ``schemes`` says so).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import cycle, islice
from pathlib import Path
from typing import Any, Literal

from bench._common import HOST, REPO_ROOT, BenchResult, latency_summary_ms
from bench._ingest_server import KEYS_ENV, NOOP_PATH, WEBHOOK_PATH
from opsync.openphone.signatures import sign_legacy, standard_headers
from opsync.sandbox.openphone import WebhookEmitter, WorkspaceSize, generate_workspace

Scheme = Literal["legacy", "standard"]
INGEST_TARGET_RATE = 1000.0
INGEST_TARGET_RATIO = 0.5


@dataclass(frozen=True)
class IngestSize:
    """How hard and how long to push; the defaults are the full benchmark."""

    seconds: float = 6.0
    connection_levels: tuple[int, ...] = (32, 128)
    warmup: int = 300
    steady_rate: float = 200.0
    steady_seconds: float = 10.0
    schemes: tuple[Scheme, ...] = ("legacy", "standard")
    #: measure a second server with TCP_NODELAY set on its listening socket
    nodelay_variant: bool = True

    @classmethod
    def tiny(cls) -> IngestSize:
        return cls(
            seconds=0.3,
            connection_levels=(4,),
            warmup=10,
            steady_rate=50.0,
            steady_seconds=0.3,
            schemes=("legacy",),
            nodelay_variant=False,
        )


# --- the events --------------------------------------------------------------------------


@dataclass
class EventFactory:
    """Signed request bytes for unique webhook events built from a generated workspace."""

    port: int
    legacy_key: str
    standard_key: str
    templates: list[dict[str, Any]] = field(default_factory=list)
    _next: int = 0

    @classmethod
    def build(cls, port: int, legacy_key: str, standard_key: str) -> EventFactory:
        now = time.time()
        ws = generate_workspace(7, now, WorkspaceSize(phone_numbers=3, counterparts_per_number=6))
        emitter = WebhookEmitter(ws, _NoSleep(), [], media_base_url="http://127.0.0.1:9")
        templates: list[dict[str, Any]] = []
        for call in ws.calls.values():
            kinds = ["call.ringing", "call.completed"]
            if call.recordings:
                kinds.append("call.recording.completed")
            if call.transcript is not None:
                kinds.append("call.transcript.completed")
            if call.summary is not None:
                kinds.append("call.summary.completed")
            for kind in kinds:
                templates.append(emitter.call_event(kind, call.id, now).envelope("legacy"))
        for message in ws.messages.values():
            kind = "message.received" if message.direction == "incoming" else "message.delivered"
            templates.append(emitter.message_event(kind, message.id, now).envelope("legacy"))
        return cls(port, legacy_key, standard_key, templates)

    def request(self, path: str, scheme: Scheme) -> bytes:
        """The next unique event as a complete HTTP/1.1 request to ``path``."""
        index = self._next
        self._next += 1
        envelope = dict(self.templates[index % len(self.templates)])
        envelope["id"] = f"EVbench{index:010d}{secrets.token_hex(4)}"
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Host": f"{HOST}:{self.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "User-Agent": "opsync-bench",
        }
        if scheme == "legacy":
            stamp = int(time.time() * 1000)
            headers["openphone-signature"] = sign_legacy(self.legacy_key, stamp, body)
        else:
            msg_id = "msg_" + secrets.token_hex(11)
            headers.update(standard_headers(self.standard_key, msg_id, int(time.time()), body))
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return head.encode("latin-1") + b"\r\n" + body

    def batch(self, path: str, scheme: Scheme, count: int) -> list[bytes]:
        return [self.request(path, scheme) for _ in range(count)]


class _NoSleep:
    """The emitter is only used to build envelopes; it never waits."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        return None


# --- a minimal HTTP/1.1 client ----------------------------------------------------------------


class RawConnection:
    """One keep-alive connection; :meth:`send` writes a prepared request and reads the whole
    answer, returning its status code."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        with suppress(OSError):
            await self.writer.wait_closed()


async def capacity(
    port: int, requests: Iterable[bytes], connections: int, seconds: float
) -> tuple[Counter[int], float]:
    """Closed loop over ``connections`` until the requests or ``seconds`` run out; returns the
    status counts and the elapsed seconds."""
    statuses: Counter[int] = Counter()
    pending: Iterator[bytes] = iter(requests)
    conns = [await RawConnection.open(port) for _ in range(connections)]
    began = time.perf_counter()
    deadline = began + seconds

    async def worker(conn: RawConnection) -> None:
        for request in pending:
            statuses[await conn.send(request)] += 1
            if time.perf_counter() >= deadline:
                return

    try:
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - began
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return statuses, elapsed


async def steady(
    port: int, requests: list[bytes], rate: float
) -> tuple[Counter[int], list[float], int]:
    """Open loop: request ``i`` due at ``t0 + i / rate``; latency from its due time. Returns
    status counts, latencies (s) and the connections the pool grew to."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    idle: list[RawConnection] = [await RawConnection.open(port) for _ in range(4)]
    opened = len(idle)
    tasks: set[asyncio.Task[None]] = set()

    async def one(request: bytes, due: float) -> None:
        nonlocal opened
        if idle:
            conn = idle.pop()
        else:
            conn = await RawConnection.open(port)
            opened += 1
        statuses[await conn.send(request)] += 1
        latencies.append(time.perf_counter() - due)
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
    await asyncio.gather(*(c.close() for c in idle))
    return statuses, latencies, opened


# --- the server process -----------------------------------------------------------------------


class ServerProcess:
    """``python -m bench._ingest_server`` in a child process; ``port`` once it serves."""

    def __init__(self, db_path: Path, keys: list[str], *, nodelay: bool = False) -> None:
        self.db_path, self.keys, self.nodelay = db_path, keys, nodelay
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.pid = 0

    async def __aenter__(self) -> ServerProcess:
        env = {**os.environ, KEYS_ENV: ",".join(self.keys)}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._ingest_server",
            str(self.db_path),
            *(["--nodelay"] if self.nodelay else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(REPO_ROOT),
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
        if not line:
            await self.proc.wait()
            raise RuntimeError(f"the ingest server exited with {self.proc.returncode}")
        ready = json.loads(line)
        self.port, self.pid = int(ready["port"]), int(ready["pid"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# --- the benchmark ----------------------------------------------------------------------------


async def run(size: IngestSize | None = None) -> BenchResult:
    size = size or IngestSize()
    began = time.perf_counter()
    result = BenchResult(
        "ingest",
        "Webhook ingest (loopback, signature check, durable SQLite commit)",
        params={
            "capacity_seconds": size.seconds,
            "connection_levels": list(size.connection_levels),
            "steady_rate": size.steady_rate,
            "steady_seconds": size.steady_seconds,
            "schemes": list(size.schemes),
            "server": "uvicorn via opsync._uvicorn (bind_socket + hosted), own process",
            "client": "raw HTTP/1.1 keep-alive over asyncio streams, this process",
            "store": "SQLite file (WAL), each 202 after its commit",
            "logging": "JSON logs at INFO as opsync serve configures them, to /dev/null",
        },
    )
    shipped = await _one_server(size, size.schemes, nodelay=False)
    result.metrics["as_shipped"] = shipped
    fixed = await _one_server(size, size.schemes[:1], nodelay=True) if size.nodelay_variant else {}
    if fixed:
        result.metrics["with_tcp_nodelay"] = fixed

    first = size.schemes[0]
    rate = f"{size.steady_rate:g}/s"
    legacy = shipped[f"ingest_{first}"]["accepted_per_s"]
    result.check(f"ingest accepted/s ({first} signature)", legacy, "ev/s", INGEST_TARGET_RATE)
    for scheme in size.schemes[1:]:
        value = shipped[f"ingest_{scheme}"]["accepted_per_s"]
        result.check(f"ingest accepted/s ({scheme} signature)", value, "ev/s")
    result.check("do-nothing endpoint, same stack", shipped["noop"]["rps"], "req/s")
    result.check("ingest / do-nothing", shipped["ratio_ingest_to_noop"], "x", INGEST_TARGET_RATIO)
    steady_ingest = shipped["steady"]["ingest"]
    result.check(f"accept latency p50 @ {rate}", steady_ingest["p50_ms"], "ms")
    result.check(f"accept latency p99 @ {rate}", steady_ingest["p99_ms"], "ms")
    result.check(f"do-nothing latency p99 @ {rate}", shipped["steady"]["noop"]["p99_ms"], "ms")
    if fixed:
        tag = "with TCP_NODELAY"
        value = fixed[f"ingest_{first}"]["accepted_per_s"]
        result.check(f"{tag}: ingest accepted/s", value, "ev/s", INGEST_TARGET_RATE)
        result.check(f"{tag}: do-nothing req/s", fixed["noop"]["rps"], "req/s")
        ratio = fixed["ratio_ingest_to_noop"]
        result.check(f"{tag}: ingest / do-nothing", ratio, "x", INGEST_TARGET_RATIO)
        result.check(f"{tag}: accept p50 @ {rate}", fixed["steady"]["ingest"]["p50_ms"], "ms")
        result.check(f"{tag}: accept p99 @ {rate}", fixed["steady"]["ingest"]["p99_ms"], "ms")
        result.notes.append(
            "The 'with TCP_NODELAY' rows set TCP_NODELAY explicitly on the listening socket, as "
            "a cross-check: opsync._uvicorn.bind_socket creates its sockets with IPPROTO_TCP so "
            "that asyncio sets it on every accepted connection (without it, uvicorn's separate "
            "head and body writes wait ~40 ms for a delayed ACK); both rows should agree."
        )
    levels = ", ".join(
        f"{n} conn: {shipped['noop']['by_connections'][str(n)]:,.0f} / "
        f"{shipped[f'ingest_{first}']['by_connections'][str(n)]:,.0f}"
        for n in size.connection_levels
    )
    result.notes.append(
        f"Capacity is each endpoint's best over the connection counts tried "
        f"(do-nothing req/s / ingest ev/s: {levels})."
    )
    for variant in (shipped, fixed):
        result.notes.extend(variant.get("anomalies", []))
    result.elapsed_seconds = time.perf_counter() - began
    return result


async def _one_server(size: IngestSize, schemes: tuple[Scheme, ...], *, nodelay: bool) -> Any:
    """Start a server process, run every phase against it, return its metrics."""
    legacy_key = base64.b64encode(secrets.token_bytes(32)).decode()
    standard_key = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    keys = [legacy_key, standard_key]
    with tempfile.TemporaryDirectory(prefix="opsync-bench-ingest-") as tmp:
        async with ServerProcess(Path(tmp) / "opsync.db", keys, nodelay=nodelay) as server:
            factory = EventFactory.build(server.port, legacy_key, standard_key)
            return await _measure(server.port, factory, size, schemes)


async def _measure(
    port: int, factory: EventFactory, size: IngestSize, schemes: tuple[Scheme, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {"anomalies": []}
    tag = "" if schemes == size.schemes else " (TCP_NODELAY)"
    guess = int(size.seconds * 2500) + 100  # unique events: more than ingest reaches
    # warm up both routes (imports, the SQLite page cache, the connection pool)
    for path in (NOOP_PATH, WEBHOOK_PATH):
        await capacity(port, factory.batch(path, "legacy", size.warmup), 4, 30.0)

    # the do-nothing endpoint stores nothing: a few hundred requests, cycled, will do
    noop_pool = factory.batch(NOOP_PATH, "legacy", 500)
    noop_rates: dict[str, float] = {}
    noop_status: Counter[int] = Counter()
    ingest: dict[Scheme, dict[str, Any]] = {s: {"by_connections": {}} for s in schemes}
    for level in size.connection_levels:
        requests = islice(cycle(noop_pool), 100 * guess)
        status, elapsed = await capacity(port, requests, level, size.seconds)
        noop_rates[str(level)] = round(status[202] / elapsed, 1)
        noop_status.update(status)
        for scheme in schemes:
            status, elapsed = await capacity(
                port, factory.batch(WEBHOOK_PATH, scheme, guess), level, size.seconds
            )
            rate = round(status[202] / elapsed, 1)
            ingest[scheme]["by_connections"][str(level)] = rate
            if rate >= ingest[scheme].get("accepted_per_s", -1.0):
                ingest[scheme].update(
                    accepted_per_s=rate,
                    connections=level,
                    answered=sum(status.values()),
                    statuses=_codes(status),
                    seconds=round(elapsed, 2),
                )
            if set(status) - {202}:
                out["anomalies"].append(f"ingest {scheme}{tag} answered: {_codes(status)}")
    noop_rate = max(noop_rates.values())
    out["noop"] = {
        "rps": noop_rate,
        "connections": int(max(noop_rates, key=lambda level: noop_rates[level])),
        "by_connections": noop_rates,
        "statuses": _codes(noop_status),
    }
    for scheme in schemes:
        out[f"ingest_{scheme}"] = ingest[scheme]

    count = max(1, int(size.steady_rate * size.steady_seconds))
    steady_out: dict[str, dict[str, float]] = {}
    for label, path in (("noop", NOOP_PATH), ("ingest", WEBHOOK_PATH)):
        status, latencies, pool = await steady(
            port, factory.batch(path, "legacy", count), size.steady_rate
        )
        steady_out[label] = {**latency_summary_ms(latencies), "connections": float(pool)}
        if set(status) - {202}:
            out["anomalies"].append(f"steady {label}{tag} answered: {_codes(status)}")
    out["steady"] = steady_out
    first = out[f"ingest_{schemes[0]}"]["accepted_per_s"]
    out["ratio_ingest_to_noop"] = round(first / noop_rate, 3) if noop_rate else 0.0
    return out


def _codes(counter: Counter[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(counter.items())}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()).to_json(), indent=1))
