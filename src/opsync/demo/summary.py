"""The demo's summary: what the service received and did, what it cost, and whether Notion
ended up right. :func:`build_summary` is pure; :func:`store_figures` reads the store;
:func:`render_summary` draws the Rich table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from opsync.demo.verify import Verification
from opsync.store import Store

MAX_PROBLEMS_SHOWN = 20
#: the economy targets: Notion requests per call life (Canvas cached), per message
CALL_TARGET = 3
MESSAGE_TARGET = 2


@dataclass(frozen=True)
class StoreFigures:
    """What the store says about the run."""

    inbox: Mapping[str, int]
    failed_attempts: int
    latencies_ms: Sequence[int]
    sync_statuses: Mapping[str, int]


@dataclass(frozen=True)
class RateLimits:
    """Requests per second: the real services' limits and what the demo ran with."""

    notion_real: float
    notion_demo: float
    openphone_real: float
    openphone_demo: float

    def to_json(self) -> dict[str, Any]:
        return {
            "notion": _limit(self.notion_real, self.notion_demo),
            "openphone": _limit(self.openphone_real, self.openphone_demo),
        }


@dataclass(frozen=True)
class RunFacts:
    """What the runner measured outside the store."""

    calls: int
    messages: int
    duplicate_deliveries: int
    failed_deliveries: int
    notion_requests: Mapping[str, int]
    openphone_requests: Mapping[str, int]
    canvas: Mapping[str, float] = field(default_factory=dict)
    #: Notion requests that touched each call's / message's own page, one number per resource
    notion_per_call: Sequence[int] = ()
    notion_per_message: Sequence[int] = ()
    compression: float = 1.0
    rate_limits: RateLimits | None = None
    #: the service's call settle window: default and as compressed for the demo
    settle_seconds: tuple[float, float] | None = None
    elapsed_seconds: float = 0.0


def _limit(real: float, demo: float) -> dict[str, float]:
    return {"real": real, "demo": demo, "factor": round(demo / real, 2)}


def percentile(values: Sequence[int], share: float) -> int | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _requests(counts: Mapping[str, int], calls: int, messages: int) -> dict[str, Any]:
    served = {kind: int(counts.get(kind, 0)) for kind in ("calls", "messages", "canvas", "shared")}
    total = sum(served.values())
    resources = calls + messages
    return {
        "total": total,
        **served,
        "per_resource": round(total / resources, 2) if resources else 0.0,
        "per_call": round(served["calls"] / calls, 2) if calls else 0.0,
        "per_message": round(served["messages"] / messages, 2) if messages else 0.0,
    }


def _spread(counts: Sequence[int], kind: str, target: int) -> dict[str, int]:
    return {
        f"max_per_{kind}": max(counts, default=0),
        f"{kind}s_over_{target}": sum(1 for n in counts if n > target),
    }


def build_summary(facts: RunFacts, store: StoreFigures, check: Verification) -> dict[str, Any]:
    """The summary as one JSON-ready dict; ``ok`` is True only when every resource has exactly
    one correct page and nothing was dead-lettered."""
    inbox = store.inbox
    dead = int(inbox.get("dead", 0))
    summary: dict[str, Any] = {
        "ok": check.ok and dead == 0,
        "events_received": sum(int(n) for n in inbox.values()),
        "events_processed": int(inbox.get("done", 0)),
        "duplicates": facts.duplicate_deliveries,
        "ignored": int(inbox.get("ignored", 0)),
        "failed": store.failed_attempts,
        "dead_letters": dead,
        "undelivered": facts.failed_deliveries,
        "resources": {"calls": facts.calls, "messages": facts.messages},
        "notion_pages": dict(check.pages),
        "duplicate_pages": check.duplicate_pages,
        "missing_pages": check.missing_pages,
        "mismatched_pages": check.mismatched_pages,
        "problems": [str(problem) for problem in check.problems],
        "canvas_links": check.canvas_links,
        "canvas_cache_hit_rate": round(float(facts.canvas.get("cache_hit_rate", 0.0)), 3),
        "canvas_lookups": int(facts.canvas.get("lookups", 0)),
        "sync_history": dict(store.sync_statuses),
        "notion_requests": {
            **_requests(facts.notion_requests, facts.calls, facts.messages),
            **_spread(facts.notion_per_call, "call", CALL_TARGET),
            **_spread(facts.notion_per_message, "message", MESSAGE_TARGET),
        },
        "openphone_requests": _requests(facts.openphone_requests, facts.calls, facts.messages),
        "latency_ms": {
            "p50": percentile(store.latencies_ms, 0.50),
            "p95": percentile(store.latencies_ms, 0.95),
        },
        "compression": facts.compression,
        "rate_limits": facts.rate_limits.to_json() if facts.rate_limits else None,
        "call_settle_seconds": (
            {"real": facts.settle_seconds[0], "demo": round(facts.settle_seconds[1], 3)}
            if facts.settle_seconds
            else None
        ),
        "elapsed_seconds": round(facts.elapsed_seconds, 1),
    }
    return summary


async def store_figures(store: Store) -> StoreFigures:
    """Inbox states, failed attempts, processing times and sync outcomes from the store."""
    inbox = await store.inbox_counts()
    errors = await store.execute_query("SELECT COUNT(*) FROM inbox_errors")
    times = await store.execute_query(
        "SELECT processing_time_ms FROM sync_history WHERE processing_time_ms IS NOT NULL"
    )
    statuses = await store.execute_query(
        "SELECT sync_status, COUNT(*) FROM sync_history GROUP BY sync_status"
    )
    return StoreFigures(
        inbox={str(state): int(count) for state, count in inbox.items()},
        failed_attempts=int(errors.rows[0][0]) if errors.rows else 0,
        latencies_ms=[int(row[0]) for row in times.rows],
        sync_statuses={str(row[0]): int(row[1]) for row in statuses.rows},
    )


def _ms(value: int | None) -> str:
    return "n/a" if value is None else f"{value} ms"


def _costs(requests: Mapping[str, Any], *, canvas: bool) -> str:
    parts = [
        f"{requests['total']} total",
        f"{requests['per_call']}/call",
        f"{requests['per_message']}/message",
        *([f"Canvas {requests['canvas']}"] if canvas else []),
        f"shared {requests['shared']}",
    ]
    return " · ".join(parts)


def _worst(requests: Mapping[str, Any]) -> str:
    return (
        f"at most {requests['max_per_call']} per call "
        f"({requests[f'calls_over_{CALL_TARGET}']} over {CALL_TARGET}) · "
        f"at most {requests['max_per_message']} per message "
        f"({requests[f'messages_over_{MESSAGE_TARGET}']} over {MESSAGE_TARGET})"
    )


def render_summary(summary: Mapping[str, Any], console: Console) -> None:
    """The summary as a two-column table, then any problems found."""
    pages, resources = summary["notion_pages"], summary["resources"]
    latency = summary["latency_ms"]
    rows: list[tuple[str, str]] = [
        ("Resources played", f"{resources['calls']} calls · {resources['messages']} messages"),
        ("Events received", str(summary["events_received"])),
        ("Events processed", str(summary["events_processed"])),
        ("Duplicate deliveries", str(summary["duplicates"])),
        ("Deliveries not accepted", str(summary["undelivered"])),
        ("Ignored events", str(summary["ignored"])),
        ("Failed attempts (retried)", str(summary["failed"])),
        ("Dead letters", str(summary["dead_letters"])),
        ("Notion pages", f"{pages['calls']} calls · {pages['messages']} messages"),
        ("Duplicate pages", str(summary["duplicate_pages"])),
        (
            "Missing / mismatched pages",
            f"{summary['missing_pages']} / {summary['mismatched_pages']}",
        ),
        ("Canvas links", str(summary["canvas_links"])),
        (
            "Canvas cache hit rate",
            f"{summary['canvas_cache_hit_rate']:.0%} of {summary['canvas_lookups']} lookups",
        ),
        ("Notion requests", _costs(summary["notion_requests"], canvas=True)),
        ("Notion requests per page", _worst(summary["notion_requests"])),
        ("OpenPhone requests", _costs(summary["openphone_requests"], canvas=False)),
        ("Processing latency", f"p50 {_ms(latency['p50'])} · p95 {_ms(latency['p95'])}"),
        ("Clock compression", f"{summary['compression']:g}x"),
    ]
    limits = summary.get("rate_limits")
    for name in ("notion", "openphone"):
        if limits:
            limit = limits[name]
            rows.append(
                (
                    f"{'Notion' if name == 'notion' else 'OpenPhone'} rate limit",
                    f"{limit['real']:g}/s → {limit['demo']:g}/s ({limit['factor']:g}x)",
                )
            )
    settle = summary.get("call_settle_seconds")
    if settle:
        window = f"{settle['real']:g} s → {settle['demo']:g} s (compressed with the clock)"
        rows.append(("Call settle window", window))
    rows.append(("Elapsed", f"{summary['elapsed_seconds']} s"))
    table = Table(title="opsync demo", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    problems = summary["problems"]
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        console.print(f"[red]✗[/red] {problem}", markup=True, highlight=False)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
    verdict = "[green]every resource has exactly one correct page[/green]"
    if not summary["ok"]:
        verdict = "[red]the Notion workspace does not match OpenPhone[/red]"
    console.print(verdict)
