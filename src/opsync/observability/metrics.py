"""Prometheus metrics of one service, in a registry of its own, served at ``GET /metrics``.

Each :class:`Metrics` owns a ``CollectorRegistry`` (never prometheus_client's global one), so
tests and several services in one process do not collide. The series:

=========================================================  ===================================
``opsync_webhooks_received_total{event_type,outcome}``     deliveries answered by the webhook
``opsync_events_processed_total{resource_type,outcome}``   handler runs, by how they ended
``opsync_event_processing_seconds{resource_type}``         histogram of those runs' durations
``opsync_external_requests_total{api,operation,status}``   every attempt, retries included
``opsync_rate_limit_wait_seconds_total{api}``              time spent waiting for a token
``opsync_rate_limit_pauses_total{api}``                    429s that paused the shared bucket
``opsync_inbox_events{state}``                             inbox depth, read at scrape time
``opsync_dead_letters``                                    dead letters, read at scrape time
``opsync_store_up``                                        1 if that read worked, else 0
``opsync_canvas_cache_hits_total{tier}``                   Canvas lookups answered from cache
``opsync_canvas_cache_misses_total{result}``               lookups that asked Notion
``opsync_canvas_cache_negative_hits_total``                lookups answered by a cached miss
``opsync_scheduled_run_last_success_timestamp_seconds``    per ``phone_number_id``, epoch s
``process_*``                                              prometheus_client's process metrics
=========================================================  ===================================

Labels are bounded: ``event_type`` is a handled type (normalised), ``other`` or ``unknown``
(refused before it could be read); ``resource_type`` is ``call``, ``message``, ``sync`` or
``other``; ``operation`` is a Notion SDK method or an OpenPhone ``METHOD /path`` with ids
replaced by ``{id}``; ``status`` is ``ok`` (an answer was read), the HTTP status of an error
answer (``404``, ``429``, ...), ``timeout``, or ``error`` (no usable answer). A processing
``outcome`` is ``done``, ``ignored``, ``deferred``, ``rerouted``, ``failed`` (the handler
raised: the dispatcher retries or dead-letters it) or ``cancelled``; a webhook ``outcome`` is
``accepted``, ``ignored``, ``duplicate`` or the error the delivery was refused with.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from notion_client import RequestTimeoutError
from notion_client.errors import HTTPResponseError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsync.clock import Clock, SystemClock
from opsync.dispatcher import Defer, Handler, Ignore, Outcome, Reroute
from opsync.observability.hooks import MeteredPacer, RequestHook
from opsync.openphone.events import kind_of, normalise_event_type
from opsync.web.admin import AdminAuth
from opsync.web.routing import HANDLED_EVENT_TYPES

if TYPE_CHECKING:
    from opsync.canvas import CanvasStats
    from opsync.pacing import Pacer
    from opsync.store import InboxEvent, Store

__all__ = ["LastRunsProvider", "Metrics", "metrics_route", "request_status"]

log = logging.getLogger(__name__)

LastRunsProvider = Callable[[], Awaitable[dict[str, int]]]
"""Phone number id → epoch **milliseconds** of its last successful scheduled run (the store's
unit; ``Scheduler.last_runs``). The gauge shows it in seconds."""

PROCESSING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_ID_SEGMENT = re.compile(r"/[^/]+")


class Metrics:
    """The metrics of one service; see the module docstring for the series.

    ``store`` is read at scrape time for the inbox gauges; ``canvas_stats`` (the Canvas
    lookup's counters) and ``last_runs`` may be set after construction."""

    def __init__(
        self,
        *,
        store: Store | None = None,
        canvas_stats: CanvasStats | None = None,
        last_runs: LastRunsProvider | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.store = store
        self.canvas_stats = canvas_stats
        self.last_runs = last_runs
        self._clock: Clock = clock or SystemClock()
        self._snapshot = _Snapshot()
        reg = self.registry
        self.webhooks = Counter(
            "opsync_webhooks_received",
            "Webhook deliveries answered, by event type and outcome.",
            ["event_type", "outcome"],
            registry=reg,
        )
        self.events = Counter(
            "opsync_events_processed",
            "Inbox events run through the handler, by resource type and outcome.",
            ["resource_type", "outcome"],
            registry=reg,
        )
        self.processing = Histogram(
            "opsync_event_processing_seconds",
            "Time the handler took for one inbox event, by resource type.",
            ["resource_type"],
            buckets=PROCESSING_BUCKETS,
            registry=reg,
        )
        self.requests = Counter(
            "opsync_external_requests",
            "Requests to OpenPhone and Notion (every attempt), by API, operation and status.",
            ["api", "operation", "status"],
            registry=reg,
        )
        self.rate_limit_wait = Counter(
            "opsync_rate_limit_wait_seconds",
            "Seconds spent waiting for a rate-limit token, by API.",
            ["api"],
            registry=reg,
        )
        self.rate_limit_pauses = Counter(
            "opsync_rate_limit_pauses",
            "Rate-limited answers (429) that paused every request to the API.",
            ["api"],
            registry=reg,
        )
        reg.register(_ScrapeCollector(self))
        ProcessCollector(registry=reg)

    # -- instruments ---------------------------------------------------------------------------

    def webhook_received(self, event_type: str | None, outcome: str) -> None:
        """Count one answered delivery (``WebhookIngest``'s ``on_received``)."""
        self.webhooks.labels(_event_type_label(event_type), outcome).inc()

    def request_hook(self, api: str) -> RequestHook:
        """The ``on_request`` hook of ``api``'s client (``openphone`` or ``notion``)."""
        name = _openphone_operation if api == "openphone" else str

        def hook(operation: str, error: BaseException | None) -> None:
            self.requests.labels(api, name(operation), request_status(error)).inc()

        return hook

    def metered(self, pacer: Pacer, api: str) -> MeteredPacer:
        """``pacer``, counting its waits and pauses under ``api``."""
        return MeteredPacer(
            pacer, self.rate_limit_wait.labels(api), self.rate_limit_pauses.labels(api)
        )

    def instrument(self, handler: Handler) -> Handler:
        """``handler``, timed and counted per event (the dispatcher runs the result)."""

        async def timed(event: InboxEvent) -> Outcome | None:
            started = self._clock.monotonic()
            outcome_name = "failed"
            try:
                outcome = await handler(event)
                outcome_name = _outcome_label(outcome)
                return outcome
            except asyncio.CancelledError:
                outcome_name = "cancelled"  # shutdown or a lost lease: released, not failed
                raise
            finally:
                resource = _resource_type(event.event_type)
                elapsed = max(0.0, self._clock.monotonic() - started)
                self.processing.labels(resource).observe(elapsed)
                self.events.labels(resource, outcome_name).inc()

        return timed

    # -- exposition ----------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read what lives in the store (inbox counts, last scheduled runs) for the next
        exposition. A failed read drops those series (and sets ``opsync_store_up`` to 0)
        rather than expose stale values; it is logged, never raised."""
        snapshot = _Snapshot()
        if self.store is not None:
            try:
                counts = await self.store.inbox_counts()
                snapshot.inbox = {str(state): n for state, n in counts.items()}
            except Exception:
                log.warning(
                    "metrics: inbox counts unavailable",
                    exc_info=True,
                    extra={"action": "metrics_store_failed"},
                )
                snapshot.store_up = False
        if self.last_runs is not None:
            try:
                snapshot.last_runs = await self.last_runs()
            except Exception:
                log.warning(
                    "metrics: last scheduled runs unavailable",
                    exc_info=True,
                    extra={"action": "metrics_last_runs_failed"},
                )
        self._snapshot = snapshot

    async def render(self) -> bytes:
        """Refresh, then the Prometheus text exposition of every series."""
        await self.refresh()
        return generate_latest(self.registry)


def metrics_route(metrics: Metrics, *, admin_token: str | None = None) -> Route:
    """``GET /metrics`` in Prometheus text format, an admin route.

    It requires ``Authorization: Bearer <token>`` (Prometheus: ``authorization:
    {credentials_file: ...}``), since the service usually faces the internet to receive
    webhooks and the series name phone numbers and traffic; with no ``OPSYNC_ADMIN_TOKEN`` it
    is off (404). In :func:`opsync.web.build_app` the admin gate checks that already; the route
    checks it itself too, so that it is never open when mounted elsewhere."""

    async def endpoint(request: Request) -> Response:
        body = await metrics.render()
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return Route(
        "/metrics", AdminAuth(admin_token).protect(endpoint), methods=["GET"], name="metrics"
    )


def request_status(error: BaseException | None) -> str:
    """The ``status`` label of a request attempt that ended with ``error`` (see module doc)."""
    if error is None:
        return "ok"
    if isinstance(error, httpx.HTTPStatusError):
        return str(error.response.status_code)
    if isinstance(error, HTTPResponseError):
        return str(error.status)
    if isinstance(error, httpx.TimeoutException | RequestTimeoutError):
        return "timeout"
    return "error"


@dataclass
class _Snapshot:
    inbox: dict[str, int] | None = None
    store_up: bool = True
    last_runs: dict[str, int] | None = None


class _ScrapeCollector:
    """The series read at scrape time: inbox, dead letters, last runs, Canvas counters."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return list(self._families(_Snapshot(inbox={}, last_runs={}), None))

    def collect(self) -> Iterable[Metric]:
        metrics = self._metrics
        return list(self._families(metrics._snapshot, metrics.canvas_stats))

    def _families(self, snap: _Snapshot, canvas: CanvasStats | None) -> Iterable[Metric]:
        up = GaugeMetricFamily("opsync_store_up", "1 if the store answered the last scrape.")
        up.add_metric([], 1.0 if snap.store_up else 0.0)
        yield up
        if snap.inbox is not None:
            depth = GaugeMetricFamily(
                "opsync_inbox_events", "Inbox events by state.", labels=["state"]
            )
            for state, count in sorted(snap.inbox.items()):
                depth.add_metric([state], float(count))
            yield depth
            yield GaugeMetricFamily(
                "opsync_dead_letters",
                "Events given up on (inbox state dead).",
                value=float(snap.inbox.get("dead", 0)),
            )
        if snap.last_runs is not None:
            runs = GaugeMetricFamily(
                "opsync_scheduled_run_last_success_timestamp_seconds",
                "When each phone number's last scheduled sync run completed (epoch seconds).",
                labels=["phone_number_id"],
            )
            for phone_number_id, at_ms in sorted(snap.last_runs.items()):
                runs.add_metric([phone_number_id], at_ms / 1000)
            yield runs
        if canvas is not None:
            yield from _canvas_families(canvas)


def _canvas_families(stats: CanvasStats) -> Iterable[Metric]:
    hits = CounterMetricFamily(
        "opsync_canvas_cache_hits", "Canvas lookups answered from a cache tier.", labels=["tier"]
    )
    hits.add_metric(["memory"], stats.memory_hits)
    hits.add_metric(["table"], stats.table_hits)
    misses = CounterMetricFamily(
        "opsync_canvas_cache_misses",
        "Canvas lookups not cached, so asked of Notion, by whether a page was found.",
        labels=["result"],
    )
    misses.add_metric(["found"], stats.notion_hits)
    misses.add_metric(["not_found"], stats.misses)
    negative = CounterMetricFamily(
        "opsync_canvas_cache_negative_hits",
        "Canvas lookups answered by a remembered miss (no Notion request).",
        value=stats.negative_hits,
    )
    return [hits, misses, negative]


def _event_type_label(event_type: str | None) -> str:
    if event_type is None:
        return "unknown"
    name = normalise_event_type(event_type)
    return name if name in HANDLED_EVENT_TYPES else "other"


def _resource_type(event_type: str) -> str:
    name = normalise_event_type(event_type)
    kind = kind_of(name)
    if kind in ("call", "summary", "transcript"):
        return "call"
    if kind == "message":
        return "message"
    return "sync" if name.startswith("sync.") else "other"


def _outcome_label(outcome: Outcome | None) -> str:
    if isinstance(outcome, Ignore):
        return "ignored"
    if isinstance(outcome, Defer):
        return "deferred"
    if isinstance(outcome, Reroute):
        return "rerouted"
    return "done"


def _openphone_operation(request: str) -> str:
    """``GET /calls/AC1`` → ``GET /calls/{id}``; a media download (``GET host/path``) →
    ``GET media``."""
    method, _, path = request.partition(" ")
    if not path.startswith("/"):
        return f"{method} media"
    first, _, rest = path[1:].partition("/")
    return f"{method} /{first}" + _ID_SEGMENT.sub("/{id}", "/" + rest if rest else "")
