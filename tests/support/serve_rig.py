"""``opsync serve`` as a real process against both simulators: a rig for end-to-end tests that
start, kill and restart the service (crash safety, load).

The simulators run in the test's event loop (:func:`opsync.sandbox._server.serve`); the
service is a child process, so ``SIGKILL`` is a real crash: no ``finally``, no shielded
bookkeeping, open SQLite transactions cut short. Typical use::

    workspace = generate_workspace(seed=1, now=time.time())
    async with open_rig(tmp_path, workspace) as rig:   # webhooks registered, env built
        await rig.start()                              # returns once /health answers
        async with rig.emitter() as emitter: ...       # deliveries to rig.webhook_url
        await rig.kill()                               # SIGKILL, reaped
        await rig.start()                              # same store, same port
        counts = await rig.inbox_counts()
        assert await rig.stop() == 0                   # SIGTERM: graceful exit

The child runs ``python -m tests.support.serve_rig serve --port N``: the real ``opsync serve``
command (:func:`main` below), with the service's pacing limits raised to ``notion_rate`` and
``openphone_rate`` requests/s so that a test is not held to Notion's 3 requests/s — pass
``notion_rate=None`` for the real limits (a load test that throttles the simulator instead).
Its stdout and stderr go to ``<data_dir>/serve.log`` (every start appends), which a failing
test can print with :meth:`ServeRig.log_tail`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import subscribe_all
from opsync.sandbox._server import free_port, serve
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from opsync.sandbox.openphone import (
    DeliveryOptions,
    OpenPhoneSimulator,
    SimulatorConfig,
    WebhookEmitter,
    Workspace,
)
from opsync.store import Store
from opsync.store.rows import InboxState
from tests.support.sandbox_env import API_KEY, sandbox_environ

REPO_ROOT = Path(__file__).resolve().parents[2]
#: environment variables the launcher reads (test-only: opsync itself never sees them)
NOTION_RATE_VAR = "OPSYNC_RIG_NOTION_RATE"
OPENPHONE_RATE_VAR = "OPSYNC_RIG_OPENPHONE_RATE"
#: PostgreSQL schema the child's store lives in (as ``Store.open(pg_schema=...)``)
PG_SCHEMA_VAR = "OPSYNC_RIG_PG_SCHEMA"
#: file the child appends a JSON line to when a handler starts and when it ends
HANDLED_LOG_VAR = "OPSYNC_RIG_HANDLED_LOG"
LOG_FILE = "serve.log"


class RigError(AssertionError):
    """The service did not start, or did not stop, as the test expected."""


@dataclass
class ServeRig:
    """Both simulators (in this process), the service's environment, and its process."""

    workspace: Workspace
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    seeded: SeededDatabases
    openphone_url: str
    notion_url: str
    port: int
    env: dict[str, str]
    data_dir: Path
    http: httpx.AsyncClient
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    _store: Store | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/openphone"

    @property
    def database_url(self) -> str:
        return self.env["OPSYNC_DATABASE_URL"]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    # --- the process ------------------------------------------------------------------------

    async def start(self, within: float = 30.0) -> asyncio.subprocess.Process:
        """Start the service and wait (at most ``within`` s) until ``/health`` answers 200.
        Raises :class:`RigError` when it exits or does not answer in time."""
        if self.running:
            raise RigError("the service is already running")
        log = (self.data_dir / LOG_FILE).open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.support.serve_rig", "serve", "--port", str(self.port),
                env=self.env, cwd=self.data_dir, stdout=log, stderr=log,
            )  # fmt: skip
        finally:
            log.close()  # the child holds its own descriptor
        self.process = process
        self.starts += 1
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RigError(f"opsync serve exited with {process.returncode} during start-up")
            try:
                if (await self.http.get(f"{self.base_url}/health")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise RigError(f"opsync serve did not answer /health within {within:g} s")

    async def kill(self) -> None:
        """SIGKILL the service and reap it (nothing of it runs afterwards)."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self, within: float = 40.0) -> int:
        """SIGTERM the service and return its exit status; SIGKILL after ``within`` s."""
        process = self.process
        if process is None:
            raise RigError("the service was never started")
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(within):
                    await process.wait()
            except TimeoutError:
                await self.kill()
                raise RigError(f"opsync serve did not stop within {within:g} s") from None
        assert process.returncode is not None
        return process.returncode

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the service wrote (all starts)."""
        path = self.data_dir / LOG_FILE
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- traffic and the store --------------------------------------------------------------

    def emitter(self, options: DeliveryOptions | None = None) -> WebhookEmitter:
        """An emitter delivering to every webhook registered with the OpenPhone simulator."""
        return self.openphone.emitter(self.openphone_url, options=options)

    async def store(self) -> Store:
        """The service's store, opened from this process (SQLite in WAL mode allows it)."""
        if self._store is None:
            schema = self.env.get(PG_SCHEMA_VAR) or None
            self._store = await Store.open(self.database_url, pg_schema=schema)
        return self._store

    async def inbox_counts(self) -> dict[InboxState, int]:
        return await (await self.store()).inbox_counts()

    def replica(self, name: str) -> ServeRig:
        """Another instance of the service on the same simulators, store and environment:
        its own port, and its own folder ``data_dir/name`` for its log (and, with
        ``HANDLED_LOG_VAR`` set, its handler log). Not started; the caller closes it."""
        folder = self.data_dir / name
        folder.mkdir(exist_ok=True)
        env = dict(self.env)
        if HANDLED_LOG_VAR in env:
            env[HANDLED_LOG_VAR] = str(folder / "handled.jsonl")
        return replace(
            self, port=free_port(), env=env, data_dir=folder, process=None, starts=0, _store=None
        )

    async def aclose(self) -> None:
        await self.kill()
        if self._store is not None:
            await self._store.close()
            self._store = None


@asynccontextmanager
async def open_rig(
    data_dir: Path,
    workspace: Workspace,
    *,
    notion: NotionSimulator | None = None,
    openphone_rate_limit: int = 10_000,
    notion_rate: float | None = 1_000.0,
    openphone_rate: float | None = 1_000.0,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServeRig]:
    """Serve both simulators, register the webhooks (one per family, at the service's
    future URL), and build the service's environment: the store and media under
    ``data_dir``; ``env`` adds or overrides variables. ``notion``: the Notion simulator to
    serve (default: one without rate limit); its databases are seeded here. The service is
    not started; it is killed, if still running, when the block exits."""
    notion_sim = notion or NotionSimulator(NotionState(seed=7), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    openphone_sim = OpenPhoneSimulator(
        workspace, SimulatorConfig(api_key=API_KEY, rate_limit=openphone_rate_limit)
    )
    port = free_port()
    async with AsyncExitStack() as stack:
        op_url = await stack.enter_async_context(serve(openphone_sim.app))
        notion_url = await stack.enter_async_context(serve(notion_sim.app))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        registrar = OpenPhoneClient(http, API_KEY, base_url=f"{op_url}/v1")
        keys = await subscribe_all(registrar, f"http://127.0.0.1:{port}/webhooks/openphone")
        environ = {
            "PATH": os.environ.get("PATH", ""),
            # this checkout's opsync and tests, whatever the interpreter has installed
            "PYTHONPATH": os.pathsep.join((str(REPO_ROOT / "src"), str(REPO_ROOT))),
            "LOG_LEVEL": "WARNING",
            **sandbox_environ(
                openphone_url=op_url,
                notion_url=notion_url,
                seeded=seeded,
                data_dir=data_dir,
                public_base_url=f"http://127.0.0.1:{port}",
                webhook_keys=keys,
            ),
        }
        if notion_rate is not None:
            environ[NOTION_RATE_VAR] = str(notion_rate)
        if openphone_rate is not None:
            environ[OPENPHONE_RATE_VAR] = str(openphone_rate)
        environ.update(env or {})
        rig = ServeRig(
            workspace, openphone_sim, notion_sim, seeded, op_url, notion_url, port, environ,
            data_dir, http,
        )  # fmt: skip
        stack.push_async_callback(rig.aclose)
        yield rig


class RoundRobin:
    """A load balancer in front of several instances (an ASGI app): each request goes to the
    next backend in turn; one that refuses the connection or drops it is skipped for the next
    (as a balancer's health check would), and 502 answers when none took the request.
    Replaying a webhook on another backend is safe: the inbox deduplicates by event id."""

    def __init__(self, backends: list[str], http: httpx.AsyncClient) -> None:
        self.backends = backends
        self._http = http
        self._next = 0
        #: backend URL → requests it answered
        self.answered: dict[str, int] = {url: 0 for url in backends}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k != b"host"]
        start, self._next = self._next, self._next + 1
        status, answer = 502, b"no backend answered"
        for offset in range(len(self.backends)):
            backend = self.backends[(start + offset) % len(self.backends)]
            try:
                response = await self._http.request(
                    scope["method"], backend + path, content=body, headers=headers
                )
            except httpx.TransportError:
                continue
            status, answer = response.status_code, response.content
            self.answered[backend] += 1
            break
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(answer)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})


def _record_handlers(path: str) -> None:
    """Wrap the service's inbox handler so that each run appends ``start`` and ``end`` lines
    (event id, partition, wall-clock time) to ``path``: the handler runs strictly inside the
    claim, so two runs of one partition that overlap are two claims that overlapped."""
    import json

    from opsync import service
    from opsync.store.rows import InboxEvent

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    make_handler = getattr(service, "make_handler")  # noqa: B009 (not re-exported)

    def note(what: str, event: InboxEvent, **more: str) -> None:
        line = {
            "what": what, "event_id": event.event_id, "inbox_id": event.id,
            "partition": event.partition_key, "at": time.time(), "pid": os.getpid(), **more,
        }  # fmt: skip
        os.write(fd, (json.dumps(line) + "\n").encode())  # one write: survives a SIGKILL

    def wrapped_factory(*args: Any, **kwargs: Any) -> Any:
        handler = make_handler(*args, **kwargs)

        async def handle(event: InboxEvent) -> Any:
            note("start", event)
            outcome = "error"
            try:
                result = await handler(event)
                outcome = type(result).__name__
                return result
            finally:
                note("end", event, outcome=outcome)

        return handle

    setattr(service, "make_handler", wrapped_factory)  # noqa: B010


def _use_schema(schema: str) -> None:
    """Open the child's store in ``schema`` (its search path), as the store tests do."""
    from opsync.store import store as store_module

    create_engine = getattr(store_module, "create_engine")  # noqa: B009 (not re-exported)

    def in_schema(url: str, *, pg_schema: str | None = None) -> Any:
        return create_engine(url, pg_schema=pg_schema or schema)

    setattr(store_module, "create_engine", in_schema)  # noqa: B010


def main(argv: list[str]) -> None:
    """The child process: ``opsync`` with ``argv``, the pacing limits from the environment
    (and, when set, the PostgreSQL schema and the handler log)."""
    from opsync import service
    from opsync.cli.main import main as opsync_main
    from opsync.pacing import RateLimit

    if os.environ.get(PG_SCHEMA_VAR):
        _use_schema(os.environ[PG_SCHEMA_VAR])
    if os.environ.get(HANDLED_LOG_VAR):
        _record_handlers(os.environ[HANDLED_LOG_VAR])

    for variable, name in (
        (NOTION_RATE_VAR, "NOTION_LIMIT"),
        (OPENPHONE_RATE_VAR, "OPENPHONE_LIMIT"),
    ):
        rate = os.environ.get(variable)
        if rate:
            # Pacers.default reads these module globals when the service is built.
            setattr(service, name, RateLimit(rate=float(rate), burst=max(1, int(float(rate)))))
    sys.argv = ["opsync", *argv]
    opsync_main()


if __name__ == "__main__":
    main(sys.argv[1:])
