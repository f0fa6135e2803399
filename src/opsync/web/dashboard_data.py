"""What the dashboard shows, as one JSON document (``GET /api/dashboard``).

Most of it is read from the store, so that every instance of a deployment shows the same
numbers and a restart loses nothing: the inbox (totals, states, events per hour by type, dead
letters, work per phone number), the seed's analytics tables (``sync_history``: synced
resources per hour and processing latency; ``performance_metrics``: requests per minute;
``canvas_cache``: entries and hits), ``phone_numbers`` and the sync cursors. What only this
process knows comes from its :class:`~opsync.observability.metrics.Metrics`: the request
counters (the live request rate against the limits), the Canvas lookup counters (the cache
hit rate of this process) and the scheduler's last runs.

The SQL is portable (SQLite and PostgreSQL): hours and minutes are integer divisions of the
epoch-millisecond columns, and the only values spliced into it are integers computed here.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsync.clock import Clock, SystemClock
from opsync.openphone.events import normalise_event_type
from opsync.store import QueryResult, Store
from opsync.web.admin_api import dead_letter_summary, iso_ms
from opsync.web.health import PhoneStateProvider

if TYPE_CHECKING:
    from opsync.observability.metrics import Metrics

__all__ = ["DEAD_LETTERS_SHOWN", "LIMITS", "DashboardSources", "RateMeter", "dashboard_snapshot"]

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
HOURS = 24
MINUTES = 60
DEAD_LETTERS_SHOWN = 50
LATENCY_SAMPLE = 10_000
"""At most this many recent ``sync_history`` rows feed the latency percentiles."""
LIMITS = {"notion": 3.0, "openphone": 10.0}
"""Requests per second each API allows (Notion ~3/s per integration, OpenPhone 10/s per key)."""
METRIC_API = {"notion_query": "notion", "canvas_lookup": "notion", "api_call": "openphone"}
"""Which API a ``performance_metrics`` row's ``metric_type`` was a request to."""


class RateMeter:
    """Request rates from the monotonic request counters, sampled at each snapshot.

    The rate is the counters' growth since the newest sample at least ``window`` seconds old
    (or the oldest one, if younger); ``None`` until two samples exist. Samples older than
    ``keep`` seconds are dropped. A counter that went down (a new process) restarts the meter.
    """

    def __init__(self, *, window: float = 5.0, keep: float = 300.0) -> None:
        self._window = window
        self._keep = keep
        self._samples: deque[tuple[float, dict[str, float]]] = deque()

    def observe(self, at: float, totals: Mapping[str, float]) -> dict[str, float | None]:
        """Record ``totals`` (per API) at monotonic time ``at``; the rate per API."""
        if self._samples and any(
            totals.get(api, 0.0) < seen for api, seen in self._samples[-1][1].items()
        ):
            self._samples.clear()
        while self._samples and at - self._samples[0][0] > self._keep:
            self._samples.popleft()
        base = None
        for sample in self._samples:
            if at - sample[0] >= self._window or base is None:
                base = sample
        self._samples.append((at, dict(totals)))
        rates: dict[str, float | None] = {}
        for api, total in totals.items():
            if base is None or at - base[0] <= 0:
                rates[api] = None
            else:
                rates[api] = max(0.0, total - base[1].get(api, 0.0)) / (at - base[0])
        return rates


@dataclass
class DashboardSources:
    """Where the dashboard's numbers come from. ``metrics`` (this process's counters) and
    ``phone_state`` (the actors' live state) are optional: without them the dashboard shows
    what the store knows."""

    store: Store
    metrics: Metrics | None = None
    phone_state: PhoneStateProvider | None = None
    clock: Clock = field(default_factory=SystemClock)
    rates: RateMeter = field(default_factory=RateMeter)


async def dashboard_snapshot(sources: DashboardSources) -> dict[str, Any]:
    """The dashboard's document (see the module docstring). Raises ``StoreUnavailable``."""
    store = sources.store
    now_ms = int(sources.clock.now() * 1000)
    first_hour = (now_ms // HOUR_MS - (HOURS - 1)) * HOUR_MS
    first_minute = (now_ms // MINUTE_MS - (MINUTES - 1)) * MINUTE_MS
    inbox = dict(await store.inbox_counts())
    events = await _events_by_type(store, first_hour)
    synced, latency = await _sync_history(store, first_hour)
    phones = await _phone_numbers(sources, now_ms)
    dead = await store.inbox_dead_recent(DEAD_LETTERS_SHOWN)
    requests = await _requests(sources, first_minute)
    return {
        "generated_at": iso_ms(now_ms),
        "now_ms": now_ms,
        "hours": [first_hour + i * HOUR_MS for i in range(HOURS)],
        "totals": {
            "events_received": sum(inbox.values()),
            "events_24h": sum(sum(series) for series in events.values()),
            "calls_synced": sum(p["total_calls_synced"] for p in phones),
            "messages_synced": sum(p["total_messages_synced"] for p in phones),
            "synced_24h": sum(sum(s) for k, s in synced.items() if k != "failed"),
            "failed_24h": sum(synced.get("failed", [])),
            "inbox_depth": inbox.get("pending", 0) + inbox.get("in_flight", 0),
            "dead_letters": inbox.get("dead", 0),
            "phone_numbers": len(phones),
        },
        "inbox": inbox,
        "events_by_type": events,
        "synced_by_type": synced,
        "latency": latency,
        "canvas": await _canvas(sources),
        "requests": requests,
        "dead_letters": {
            "count": inbox.get("dead", 0),
            "recent": [dead_letter_summary(event) for event in dead],
        },
        "phone_numbers": phones,
    }


async def _events_by_type(store: Store, first_hour: int) -> dict[str, list[int]]:
    """Inbox events received per hour, by (normalised) event type."""
    result = await store.execute_query(
        f"SELECT received_at / {HOUR_MS} AS hour, event_type, COUNT(*) AS n FROM inbox "  # noqa: S608 (integers only)
        f"WHERE received_at >= {int(first_hour)} GROUP BY received_at / {HOUR_MS}, event_type"
    )
    series: dict[str, list[int]] = {}
    for hour, event_type, count in result.rows:
        slot = int(hour) - first_hour // HOUR_MS
        if 0 <= slot < HOURS:
            name = normalise_event_type(str(event_type))
            series.setdefault(name, [0] * HOURS)[slot] += int(count)
    return dict(sorted(series.items()))


async def _sync_history(
    store: Store, first_hour: int
) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Synced resources per hour (``call``/``message`` written or unchanged, and ``failed``),
    and the processing latency: per resource type over 24 h, and its hourly average."""
    result = await store.execute_query(
        f"SELECT synced_at / {HOUR_MS} AS hour, resource_type, sync_status, COUNT(*) AS n, "  # noqa: S608 (integers only)
        "SUM(processing_time_ms) AS total_ms, COUNT(processing_time_ms) AS timed "
        f"FROM sync_history WHERE synced_at >= {int(first_hour)} "
        f"GROUP BY synced_at / {HOUR_MS}, resource_type, sync_status"
    )
    synced: dict[str, list[int]] = {}
    hourly_ms: dict[str, list[float]] = {}
    hourly_n: dict[str, list[int]] = {}
    for hour, resource_type, status, count, total_ms, timed in result.rows:
        slot = int(hour) - first_hour // HOUR_MS
        if not 0 <= slot < HOURS:
            continue
        kind = "failed" if status == "failed" else str(resource_type)
        synced.setdefault(kind, [0] * HOURS)[slot] += int(count)
        hourly_ms.setdefault(str(resource_type), [0.0] * HOURS)[slot] += float(total_ms or 0)
        hourly_n.setdefault(str(resource_type), [0] * HOURS)[slot] += int(timed or 0)
    hourly = {
        kind: [
            round(total / n, 1) if n else None
            for total, n in zip(hourly_ms[kind], hourly_n[kind], strict=True)
        ]
        for kind in sorted(hourly_ms)
    }
    sample = await store.execute_query(
        "SELECT resource_type, processing_time_ms FROM sync_history "  # noqa: S608 (integers only)
        f"WHERE synced_at >= {int(first_hour)} AND processing_time_ms IS NOT NULL "
        f"ORDER BY synced_at DESC LIMIT {LATENCY_SAMPLE}"
    )
    return dict(sorted(synced.items())), {"by_type": _latency(sample), "hourly_avg_ms": hourly}


def _latency(sample: QueryResult) -> dict[str, dict[str, float | int]]:
    durations: dict[str, list[int]] = {}
    for resource_type, ms in sample.rows:
        durations.setdefault(str(resource_type), []).append(int(ms))
    summary: dict[str, dict[str, float | int]] = {}
    for kind, values in sorted(durations.items()):
        values.sort()
        summary[kind] = {
            "count": len(values),
            "avg_ms": round(sum(values) / len(values), 1),
            "p50_ms": _percentile(values, 0.50),
            "p95_ms": _percentile(values, 0.95),
            "max_ms": values[-1],
        }
    return summary


def _percentile(ordered: list[int], share: float) -> int:
    """The nearest-rank percentile of a sorted, non-empty list."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def _canvas(sources: DashboardSources) -> dict[str, Any]:
    """The Canvas cache: entries and hits in the table (every instance, since ever), and this
    process's lookups with their cache hit rate (``None`` without a Canvas database)."""
    result = await sources.store.execute_query(
        "SELECT COUNT(*) AS entries, COALESCE(SUM(hit_count), 0) AS hits FROM canvas_cache"
    )
    entries, hits = result.rows[0] if result.rows else (0, 0)
    stats = None if sources.metrics is None else sources.metrics.canvas_stats
    live = None
    if stats is not None:
        cached = stats.memory_hits + stats.table_hits + stats.negative_hits
        live = {
            "lookups": stats.lookups - stats.invalid,
            "cached": cached,
            "notion": stats.notion_hits + stats.misses,
            "hit_rate": round(stats.cache_hit_rate, 4),
        }
    return {"entries": int(entries), "hits": int(hits), "live": live}


async def _requests(sources: DashboardSources, first_minute: int) -> dict[str, Any]:
    """Per API: its limit, this process's request total and live rate (every attempt, from
    the metrics), 429 pauses, and requests per minute over the last hour (the store's
    ``performance_metrics``: every instance, one row per timed operation)."""
    result = await sources.store.execute_query(
        f"SELECT timestamp / {MINUTE_MS} AS minute, metric_type, COUNT(*) AS n "  # noqa: S608 (integers only)
        f"FROM performance_metrics WHERE timestamp >= {int(first_minute)} "
        f"GROUP BY timestamp / {MINUTE_MS}, metric_type"
    )
    per_minute = {api: [0] * MINUTES for api in LIMITS}
    for minute, metric_type, count in result.rows:
        slot = int(minute) - first_minute // MINUTE_MS
        api = METRIC_API.get(str(metric_type))
        if api is not None and 0 <= slot < MINUTES:
            per_minute[api][slot] += int(count)
    totals, pauses = _request_counters(sources.metrics)
    rates = sources.rates.observe(sources.clock.monotonic(), totals) if totals else {}
    return {
        "minutes": [first_minute + i * MINUTE_MS for i in range(MINUTES)],
        "apis": {
            api: {
                "limit_per_s": limit,
                "total": None if sources.metrics is None else int(totals.get(api, 0)),
                "rate_per_s": None if rates.get(api) is None else round(rates[api] or 0.0, 2),
                "pauses_429": None if sources.metrics is None else int(pauses.get(api, 0)),
                "per_minute": per_minute[api],
            }
            for api, limit in LIMITS.items()
        },
    }


def _request_counters(metrics: Metrics | None) -> tuple[dict[str, float], dict[str, float]]:
    """Request attempts and 429 pauses per API, summed over their labels."""
    if metrics is None:
        return {}, {}
    totals = dict.fromkeys(LIMITS, 0.0)
    pauses = dict.fromkeys(LIMITS, 0.0)
    for family in metrics.requests.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("api") in totals:
                totals[sample.labels["api"]] += sample.value
    for family in metrics.rate_limit_pauses.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("api") in pauses:
                pauses[sample.labels["api"]] += sample.value
    return totals, pauses


_WORK_SQL = (
    "SELECT partition_key, state, COUNT(*) AS n FROM inbox "
    "WHERE state IN ('pending', 'in_flight', 'dead') AND partition_key IS NOT NULL "
    "GROUP BY partition_key, state"
)


async def _phone_numbers(sources: DashboardSources, now_ms: int) -> list[dict[str, Any]]:
    """One card per phone number: totals, last syncs, cursors, inbox work, and its state."""
    store = sources.store
    work: dict[str, dict[str, int]] = {}
    for partition, state, count in (await store.execute_query(_WORK_SQL)).rows:
        work.setdefault(str(partition), {})[str(state)] = int(count)
    last_runs: dict[str, int] = {}
    provider = None if sources.metrics is None else sources.metrics.last_runs
    if provider is not None:
        last_runs = await provider()
    result = await store.execute_query(
        "SELECT id, number, name, is_active, total_calls_synced, total_messages_synced, "
        "last_call_sync_at, last_message_sync_at FROM phone_numbers ORDER BY id"
    )
    cards = []
    for row in result.rows:
        fields = dict(zip(result.columns, row, strict=True))
        pn = str(fields["id"])
        counts = work.get(pn, {})
        live = None if sources.phone_state is None else await sources.phone_state(pn)
        card = {
            "id": pn,
            "number": fields["number"],
            "name": fields["name"],
            "is_active": bool(fields["is_active"]) if fields["is_active"] is not None else True,
            "total_calls_synced": int(fields["total_calls_synced"] or 0),
            "total_messages_synced": int(fields["total_messages_synced"] or 0),
            "last_call_sync_at": iso_ms(_int(fields["last_call_sync_at"])),
            "last_message_sync_at": iso_ms(_int(fields["last_message_sync_at"])),
            "last_scheduled_run": iso_ms(last_runs.get(pn)),
            "cursors": await store.phone_cursors_get(pn),
            "pending": counts.get("pending", 0),
            "in_flight": counts.get("in_flight", 0),
            "dead": counts.get("dead", 0),
        }
        card["state"] = _card_state(card, live)
        cards.append(card)
    return cards


def _card_state(card: Mapping[str, Any], live: Mapping[str, Any] | None) -> str:
    """``syncing`` (an event in flight, or the live actor busy), ``queued`` (work pending),
    ``attention`` (dead letters), ``inactive``, else ``idle``."""
    if card["in_flight"] or (live is not None and live.get("busy")):
        return "syncing"
    if card["pending"]:
        return "queued"
    if card["dead"]:
        return "attention"
    return "idle" if card["is_active"] else "inactive"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
