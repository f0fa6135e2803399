"""Fixtures: the end-to-end ``pipeline`` (both simulators and the service over real HTTP) and
the store ``backend`` (SQLite; PostgreSQL when ``OPSYNC_TEST_POSTGRES_URL`` is set), shared
with their suites, and ``captured_logs``: opsync's JSON logs at DEBUG into a string.

Ask for ``captured_logs`` before ``pipeline`` so that the pipeline's start is captured too."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from opsync import logs
from tests.e2e.conftest import pipeline
from tests.store.conftest import backend

__all__ = ["CapturedLogs", "backend", "captured_logs", "pipeline"]


class CapturedLogs:
    """What :func:`opsync.logs.configure` wrote, as text and as parsed lines."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    captured = CapturedLogs()
    root = logging.getLogger()
    level = root.level
    logs.configure("DEBUG", stream=captured.stream)
    try:
        yield captured
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_opsync", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
