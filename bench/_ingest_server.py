"""The server side of the ingest benchmark, run in its own process by :mod:`bench.ingest`.

``python -m bench._ingest_server DB_PATH [--nodelay]`` serves the opsync web app
(:func:`opsync.web.build_app` around a real :class:`~opsync.store.Store` on the SQLite
file ``DB_PATH`` and a :class:`~opsync.openphone.signatures.WebhookVerifier` holding the keys in
``BENCH_WEBHOOK_KEYS``) under uvicorn on a free loopback port, exactly as ``opsync serve``
hosts it (:func:`opsync._uvicorn.hosted`), with JSON logs at INFO as ``opsync serve``
configures them by default (written to /dev/null). Beside the webhook route the same app
answers ``POST /noop``, a do-nothing endpoint (reads the body, answers a small JSON 202), so
both are measured on the same server stack.

``--nodelay`` also sets ``TCP_NODELAY`` on the listening socket (accepted connections
inherit it), a cross-check of :func:`opsync._uvicorn.bind_socket`, which creates its sockets
with ``IPPROTO_TCP`` so that asyncio sets ``TCP_NODELAY`` on every accepted connection
(without it uvicorn's separate header and body writes wait ~40 ms for a delayed ACK).

It prints one line ``{"port": N, "pid": P}`` on stdout once it is serving and stops on
SIGTERM or when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from contextlib import suppress

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsync import logs
from opsync._uvicorn import bind_socket, bound_port, hosted
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import admin, build_app

HOST = "127.0.0.1"
WEBHOOK_PATH = "/webhooks/openphone"
NOOP_PATH = "/noop"
KEYS_ENV = "BENCH_WEBHOOK_KEYS"


async def noop(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "ok"}, status_code=202)


async def serve(db_path: str, keys: list[str], nodelay: bool = False) -> None:
    # The do-nothing route goes through the admin gate's open-route path, as the webhook does
    # (every other route needs the admin token).
    admin.OPEN_ROUTES = admin.OPEN_ROUTES | {"noop"}
    store = await Store.open(f"sqlite:///{db_path}")
    try:
        app = build_app(
            store=store,
            verifier=WebhookVerifier(keys),
            webhook_path=WEBHOOK_PATH,
            admin_token=None,
            extra_routes=[Route(NOOP_PATH, noop, methods=["POST"], name="noop")],
        )
        sock = bind_socket(HOST)
        if nodelay:  # inherited by every accepted connection
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with suppress(OSError, ValueError):
            loop.add_reader(sys.stdin.fileno(), _on_stdin, stop)
        async with hosted(app, sock, lifespan="off"):
            print(json.dumps({"port": bound_port(sock), "pid": os.getpid()}), flush=True)
            await stop.wait()
        sock.close()
    finally:
        await store.close()


def _on_stdin(stop: asyncio.Event) -> None:
    if not os.read(sys.stdin.fileno(), 4096):  # EOF: the parent is gone
        asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
        stop.set()


def main(argv: list[str]) -> None:
    keys = [k for k in os.environ.get(KEYS_ENV, "").split(",") if k]
    with open(os.devnull, "w") as sink:  # the log handler's stream: logs cost, unseen
        logs.configure("INFO", secrets=keys, stream=sink)
        asyncio.run(serve(argv[0], keys, nodelay="--nodelay" in argv[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
