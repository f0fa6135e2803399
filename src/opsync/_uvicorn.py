"""Uvicorn as opsync hosts it: no signal handlers of its own, on a socket bound beforehand.

Binding the socket first (port 0 picks a free one) means the port is known before the server
starts and cannot be taken in between, and a bind failure is an ordinary ``OSError`` here —
not uvicorn's ``sys.exit`` inside a task.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import uvicorn


class QuietServer(uvicorn.Server):
    """``uvicorn.Server`` without its own SIGINT/SIGTERM handlers."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int = 0) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for sockets
    # that say they are TCP; without it every kept-alive response waits for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@asynccontextmanager
async def hosted(
    app: Any,
    sock: socket.socket,
    *,
    lifespan: Literal["on", "off"] = "on",
    shutdown_timeout: float | None = None,
) -> AsyncIterator[None]:
    """Serve ``app`` on ``sock`` as a task of this event loop until the block exits; then stop
    accepting and let requests in progress finish (for ``shutdown_timeout`` s at most)."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
        access_log=False,
        timeout_graceful_shutdown=None if shutdown_timeout is None else int(shutdown_timeout),
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise a start-up failure
                raise RuntimeError(f"the server on port {bound_port(sock)} did not start")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
