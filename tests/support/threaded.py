"""Serve an ASGI app from a background thread with its own event loop, for tests that drive
synchronous code (the CLI through ``CliRunner``) against a simulator over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opsync.sandbox._server import serve


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Yield the base URL of ``app`` served on a free loopback port until the block exits."""
    ready = threading.Event()
    url: list[str] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with serve(app) as base_url:
                url.append(base_url)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        if not ready.wait(10) or failure:
            raise RuntimeError(f"server did not start: {failure}")
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
