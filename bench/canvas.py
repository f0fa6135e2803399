"""Benchmark 4 — Canvas lookup: latency of a cached lookup, Notion requests per distinct number.

The Notion simulator is served on a loopback port at its **real** pacing (~3 requests/s, a
burst of 10) and opsync's :class:`~opsync.notion.NotionAdapter` talks to it through its own
token bucket (``NOTION_LIMIT``), as ``opsync serve`` does. The Canvas database holds
``filler`` unrelated customers plus one page for each of ``known`` numbers, spelled in the
three ways customers type them (``415-555-0100``, ``(415) 555-0100``, ``+14155550100``);
``unknown`` more numbers have no page.

1. **cold** — every distinct number is asked for by ``askers`` concurrent lookups, each in a
   different spelling (the way a burst of webhooks for one counterpart arrives): the Notion
   requests this costs, divided by the distinct numbers, is the "requests per distinct
   number" (the one-time schema read is counted in, and reported apart).
2. **cached** — then, per tier, ``lookups`` timed calls of :meth:`CanvasLookup.resolve`
   (phone-number parsing included):

   * ``memory`` — the actor's in-memory map (what every event of an active phone number uses);
   * ``table`` — the ``canvas_cache`` table (a fresh actor, or after a restart; each hit also
     bumps ``hit_count``/``last_used_at``, a write);
   * ``negative`` — a remembered miss (``kv`` table) for a number without a page.

   No cached lookup may reach Notion: the requests counted during this phase are reported.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import BenchResult, latency_summary_ms, serve_simulator
from opsync.canvas import CanvasLookup, CanvasMatch
from opsync.clock import SystemClock
from opsync.notion import NotionAdapter
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.sandbox.notion import NOTION_RATE, NotionSimulator, seed_databases
from opsync.store import Store

NOTION_KEY = "secret_bench_notion_token"
QUERY = "POST /v1/data_sources/{data_source_id}/query"
SPELLINGS = ("{a}-{b}-{c}", "({a}) {b}-{c}", "+1{a}{b}{c}", "1{a}{b}{c}")
P99_TARGET_MS = 1.0


@dataclass(frozen=True)
class CanvasSize:
    known: int = 16
    unknown: int = 8
    filler: int = 300
    askers: int = 4
    lookups: int = 5000
    table_lookups: int = 1000

    @classmethod
    def tiny(cls) -> CanvasSize:
        return cls(known=2, unknown=1, filler=5, askers=2, lookups=50, table_lookups=20)


def _number(index: int) -> tuple[str, str, str]:
    return "415", f"{555 + index // 10000:03d}", f"{index % 10000:04d}"


def _spell(parts: tuple[str, str, str], pattern: str) -> str:
    a, b, c = parts
    return pattern.format(a=a, b=b, c=c)


def _requests(simulator: NotionSimulator) -> int:
    return sum(sum(by.values()) for by in simulator.counter.to_json().values())


def _statuses(simulator: NotionSimulator, status: str) -> int:
    return sum(by.get(status, 0) for by in simulator.counter.to_json().values())


async def run(size: CanvasSize | None = None) -> BenchResult:
    size = size or CanvasSize()
    began = time.perf_counter()
    result = BenchResult(
        "canvas",
        "Canvas lookup (memory / table / remembered-miss tiers; Notion at its 3 req/s)",
        params={
            "distinct_numbers": size.known + size.unknown,
            "with_canvas_page": size.known,
            "without_page": size.unknown,
            "filler_pages": size.filler,
            "concurrent_askers_per_number": size.askers,
            "timed_lookups_memory": size.lookups,
            "timed_lookups_table_and_negative": size.table_lookups,
            "notion_simulator_rate": f"{NOTION_RATE.rate:g}/s burst {NOTION_RATE.burst}",
            "opsync_pacer": f"{NOTION_LIMIT.rate:g}/s burst {NOTION_LIMIT.burst}",
        },
    )
    simulator = NotionSimulator(api_key=NOTION_KEY, rate_limit=NOTION_RATE)
    seeded = seed_databases(simulator.state)
    rng = random.Random(4)
    known = [_number(i) for i in range(size.known)]
    unknown = [_number(5000 + i) for i in range(size.unknown)]
    for index in range(size.filler):
        _page(simulator, seeded.canvas_data_source_id, f"Filler {index}", _number(8000 + index))
    for index, parts in enumerate(known):
        spelled = _spell(parts, SPELLINGS[index % 3])
        _page(simulator, seeded.canvas_data_source_id, f"Customer {index}", parts, spelled)

    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="opsync-bench-canvas-") as tmp:
        async with serve_simulator(simulator.app) as url:
            adapter = NotionAdapter.from_token(
                NOTION_KEY, pacer=TokenBucket(NOTION_LIMIT, clock), base_url=url, clock=clock
            )
            store = await Store.open(f"sqlite:///{Path(tmp) / 'opsync.db'}", clock=clock)
            try:
                lookup = CanvasLookup(adapter, store, seeded.canvas_database_id, clock=clock)
                memory: dict[str, CanvasMatch] = {}
                await _cold(simulator, lookup, memory, known, unknown, size, result)
                await _cached(simulator, lookup, memory, known, unknown, size, rng, result)
            finally:
                await store.close()
                await adapter.aclose()
    result.elapsed_seconds = time.perf_counter() - began
    return result


def _page(
    simulator: NotionSimulator,
    data_source_id: str,
    name: str,
    parts: tuple[str, str, str],
    spelled: str | None = None,
) -> None:
    simulator.state.create_page(
        {
            "parent": {"type": "data_source_id", "data_source_id": data_source_id},
            "properties": {
                "Name": {"title": [{"text": {"content": name}}]},
                "Phone": {"phone_number": spelled or _spell(parts, SPELLINGS[0])},
            },
        }
    )


async def _cold(
    simulator: NotionSimulator,
    lookup: CanvasLookup,
    memory: dict[str, CanvasMatch],
    known: list[tuple[str, str, str]],
    unknown: list[tuple[str, str, str]],
    size: CanvasSize,
    result: BenchResult,
) -> None:
    before = _requests(simulator)
    queries_before = simulator.counter.count(QUERY)
    started = time.perf_counter()
    asks = [
        lookup.resolve("phone", _spell(parts, SPELLINGS[k % len(SPELLINGS)]), memory=memory)
        for parts in known + unknown
        for k in range(size.askers)
    ]
    answers = await asyncio.gather(*asks)
    elapsed = time.perf_counter() - started
    distinct = len(known) + len(unknown)
    requests = _requests(simulator) - before
    queries = simulator.counter.count(QUERY) - queries_before
    found = {a.key for a in answers if a.match is not None}
    result.metrics["cold"] = {
        "lookups": len(asks),
        "distinct_numbers": distinct,
        "notion_requests": requests,
        "notion_queries": queries,
        "schema_requests": requests - queries,
        "numbers_found": len(found),
        "seconds": round(elapsed, 2),
        "notion_429": _statuses(simulator, "429"),
        "notion_requests_by_endpoint": simulator.counter.to_json(),
    }
    if len(found) != len(known):
        result.notes.append(f"cold pass found {len(found)} of {len(known)} Canvas pages")
    result.check("Notion requests per distinct number (cold)", requests / distinct, "req")
    result.check("Notion queries per distinct number", queries / distinct, "req", 1.0, "<=")


async def _cached(
    simulator: NotionSimulator,
    lookup: CanvasLookup,
    memory: dict[str, CanvasMatch],
    known: list[tuple[str, str, str]],
    unknown: list[tuple[str, str, str]],
    size: CanvasSize,
    rng: random.Random,
    result: BenchResult,
) -> None:
    before = _requests(simulator)
    tiers: dict[str, Any] = {}

    async def timed(
        numbers: list[tuple[str, str, str]], count: int, fresh_memory: bool
    ) -> tuple[list[float], set[str]]:
        samples: list[float] = []
        sources: set[str] = set()
        for _ in range(count):
            raw = _spell(rng.choice(numbers), rng.choice(SPELLINGS))
            mem: dict[str, CanvasMatch] = {} if fresh_memory else memory
            t0 = time.perf_counter()
            answer = await lookup.resolve("phone", raw, memory=mem)
            samples.append(time.perf_counter() - t0)
            sources.add(answer.source)
        return samples, sources

    for tier, numbers, count, fresh in (
        ("memory", known, size.lookups, False),
        ("table", known, size.table_lookups, True),
        ("negative", unknown, size.table_lookups, True),
    ):
        if not numbers:
            continue
        samples, sources = await timed(numbers, count, fresh)
        tiers[tier] = {**latency_summary_ms(samples), "sources": sorted(sources)}
        if sources != {tier}:
            result.notes.append(f"{tier} tier answered from {sorted(sources)}")
    result.metrics["cached"] = tiers
    result.metrics["notion_requests_during_cached"] = _requests(simulator) - before
    result.metrics["lookup_stats"] = lookup.stats.as_dict()
    for tier, label in (
        ("memory", "cached lookup, actor memory"),
        ("table", "cached lookup, canvas_cache table"),
        ("negative", "remembered miss (kv table)"),
    ):
        if tier in tiers:
            result.check(f"{label}: p50", tiers[tier]["p50_ms"], "ms")
            result.check(f"{label}: p99", tiers[tier]["p99_ms"], "ms", P99_TARGET_MS, "<")
    result.check(
        "Notion requests during cached lookups", result.metrics["notion_requests_during_cached"],
        "req", 0, "<=",
    )  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()).to_json(), indent=1))
