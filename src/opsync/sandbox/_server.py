"""Run an ASGI app on a loopback port, in-process: ``async with serve(app) as url: ...``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from opsync._uvicorn import bind_socket, bound_port, hosted


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, sock: socket.socket | None = None
) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0 picks a free port), or on an already bound ``sock``,
    and yield its base URL. The server is a task of this event loop until the block exits."""
    sock = sock or bind_socket(host, port)
    try:
        async with hosted(app, sock):
            yield f"http://{host}:{bound_port(sock)}"
    finally:
        sock.close()


def run_forever(app: Any, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until Ctrl-C (the standalone simulators)."""
    uvicorn.run(app, host=host, port=port, log_level="info")
