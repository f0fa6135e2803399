"""A uvicorn server that leaves signal handling to its host (the CLI, a test, the demo)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


class QuietServer(uvicorn.Server):
    """``uvicorn.Server`` without its own SIGINT/SIGTERM handlers."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
