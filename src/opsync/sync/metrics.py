"""One ``performance_metrics`` row per external call: ``api_call`` for OpenPhone,
``notion_query`` for Notion (the Canvas lookup writes its own ``canvas_lookup`` rows)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opsync.clock import Clock
from opsync.store import Store
from opsync.store.rows import MetricType

log = logging.getLogger(__name__)


class Metrics:
    """Times external calls and appends a ``performance_metrics`` row for each."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @asynccontextmanager
    async def timed(
        self, metric_type: MetricType, operation: str, phone_number_id: str | None = None
    ) -> AsyncIterator[None]:
        """Time the block; the row records whether it raised. A failure to write the row is
        logged, never raised: the metric must not turn a successful call into a failed one."""
        started = self._clock.monotonic()
        success = False
        try:
            yield
            success = True
        finally:
            duration_ms = max(0, round((self._clock.monotonic() - started) * 1000))
            try:
                await self._store.record_metric(
                    metric_type,
                    operation,
                    duration_ms,
                    success=success,
                    phone_number_id=phone_number_id,
                )
            except Exception:
                log.exception(
                    "metric not recorded",
                    extra={"action": "metric_failed", "operation": operation},
                )
