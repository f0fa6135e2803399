"""Benchmark 1 — backfill throughput with the Notion simulator at its 3 requests/s limit.

The world (:mod:`bench._pipeline`): 3 phone numbers, finished calls (every stage of their
lives done: recording, transcript, summary, voicemail) and messages over the last 20 days,
half the counterparts with a Canvas page. The service runs in its own process as
``opsync serve`` builds it, with opsync's real token buckets (Notion 3/s burst 3, OpenPhone
9/s burst 1); the simulators enforce the real limits too (Notion 3/s burst 10, OpenPhone
10 per one-second window). One ``--all`` sync job per phone number is enqueued — what
``opsync backfill --all`` does — and the clock runs until the inbox has nothing pending.

Reported: resources per second; Notion requests per resource (by endpoint too); the achieved
Notion request rate as a fraction of the 3/s limit while work was pending (over the whole
run, and over its middle 80 %); 429s received from either API; OpenPhone requests per call
(requests for calls — lists, artefacts, recordings — over the calls) and per resource.

The issue's size (300 calls + 2,000 messages) needs ≥ 13 minutes at 3 requests/s; the
default here keeps its ratio of calls to messages at a tenth of the size (``--full`` runs
the issue's size).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench._common import BenchResult
from bench._pipeline import Sample, WorldSize, build_world, notion_total, run_backfill
from opsync.demo.metering import openphone_requests
from opsync.pacing import NOTION_LIMIT, OPENPHONE_LIMIT
from opsync.sandbox.notion import NOTION_RATE

FULL = WorldSize(phone_numbers=3, calls=300, messages=2000, counterparts=20)
DEFAULT = WorldSize(phone_numbers=3, calls=30, messages=200, counterparts=8)
RATE_FRACTION_TARGET = 0.9
OPENPHONE_PER_CALL_TARGET = 5.0
OPENPHONE_WINDOW_LIMIT = 10


@dataclass(frozen=True)
class BackfillSize:
    world: WorldSize = DEFAULT
    drain_timeout: float = 600.0

    @classmethod
    def full(cls) -> BackfillSize:
        return cls(FULL, drain_timeout=3600.0)

    @classmethod
    def tiny(cls) -> BackfillSize:
        return cls(WorldSize(phone_numbers=3, calls=1, messages=3, counterparts=1), 120.0)


async def run(size: BackfillSize | None = None) -> BenchResult:
    size = size or BackfillSize()
    began = time.perf_counter()
    w = size.world
    scaled = (w.calls, w.messages) != (FULL.calls, FULL.messages)
    result = BenchResult(
        "backfill",
        "Backfill throughput (Notion simulator at its 3 req/s limit)",
        params={
            "phone_numbers": w.phone_numbers,
            "calls": w.calls,
            "messages": w.messages,
            "counterparts_per_number": w.counterparts,
            "issue_size": {"calls": FULL.calls, "messages": FULL.messages},
            "scaled_down": scaled,
            "driven_by": "sync jobs (opsync.sync.jobs.enqueue_sync_job, all history)",
            "notion_simulator_limit": f"{NOTION_RATE.rate:g}/s burst {NOTION_RATE.burst}",
            "opsync_notion_pacer": f"{NOTION_LIMIT.rate:g}/s burst {NOTION_LIMIT.burst}",
            "openphone_simulator_limit": f"{OPENPHONE_WINDOW_LIMIT} per 1-s window",
            "opsync_openphone_pacer": f"{OPENPHONE_LIMIT.rate:g}/s burst {OPENPHONE_LIMIT.burst}",
        },
    )
    if scaled:
        result.notes.append(
            f"scaled down from {FULL.calls} calls + {FULL.messages} messages (>= 13 min at "
            f"3 Notion requests/s) to {w.calls} + {w.messages} ({w.calls / w.messages:.2f} "
            f"calls per message, the issue's {FULL.calls / FULL.messages:.2f}), to keep "
            "`make bench` within ~10 minutes on 2 cores; `python -m bench --full` runs the "
            "issue's size"
        )
    world = build_world(w, notion_rate=NOTION_RATE, openphone_rate=OPENPHONE_WINDOW_LIMIT,
                        now=time.time())  # fmt: skip
    outcome = await run_backfill(
        world,
        notion_pacer=NOTION_LIMIT,
        openphone_pacer=OPENPHONE_LIMIT,
        drain_timeout=size.drain_timeout,
    )
    if outcome.error:
        result.notes.append(f"the run did not finish cleanly: {outcome.error}")
    calls, messages = len(world.workspace.calls), len(world.workspace.messages)
    resources = calls + messages
    elapsed = outcome.elapsed
    notion_requests = notion_total(world.notion) - outcome.notion_at_enqueue
    notion_429 = notion_total(world.notion, "429")
    by_kind = openphone_requests(world.openphone.counters.by_endpoint)
    openphone_total = world.openphone.counters.total - outcome.openphone_at_enqueue
    openphone_429 = world.openphone.counters.by_status[429]
    fraction = notion_requests / (elapsed * NOTION_LIMIT.rate)
    middle = _middle_fraction(outcome.samples, outcome.enqueued_at, outcome.drained_at)
    synced = _synced(outcome.drained)
    result.metrics.update(
        {
            "calls": calls,
            "messages": messages,
            "seconds": round(elapsed, 2),
            "resources_per_s": round(resources / elapsed, 3),
            "notion_requests": notion_requests,
            "notion_requests_by_endpoint": _endpoints(world.notion.counter.to_json()),
            "notion_rate_per_s": round(notion_requests / elapsed, 3),
            "notion_rate_fraction": round(fraction, 3),
            "notion_rate_fraction_middle_80pct": round(middle, 3),
            "notion_429": notion_429,
            "openphone_requests": openphone_total,
            "openphone_requests_by_kind": dict(by_kind),
            "openphone_requests_by_endpoint": dict(world.openphone.counters.by_endpoint),
            "openphone_429": openphone_429,
            "synced": synced,
            "inbox": outcome.drained.get("counts", {}),
            "job_summaries": outcome.drained.get("summaries", {}),
            "service_peak_rss_mb": round(outcome.drained.get("peak_rss_kb", 0) / 1024, 1),
        }
    )
    written = synced.get("success", 0) + synced.get("skipped", 0)
    if written != resources:
        result.notes.append(f"sync_history has {synced} for {resources} resources")
    result.check("resources per second", resources / elapsed, "res/s")
    result.check("Notion requests per resource", notion_requests / max(1, resources), "req")
    result.check("Notion rate / limit while pending", fraction, "x", RATE_FRACTION_TARGET)
    result.check("  same, middle 80 % of the run", middle, "x", RATE_FRACTION_TARGET)
    result.check("429s received (Notion + OpenPhone)", notion_429 + openphone_429, "", 0, "<=")
    per_call = by_kind.get("calls", 0) / max(1, calls)
    result.check("OpenPhone requests per call", per_call, "req", OPENPHONE_PER_CALL_TARGET, "<=")
    result.check("OpenPhone requests per resource", openphone_total / max(1, resources), "req")
    result.elapsed_seconds = time.perf_counter() - began
    return result


def _middle_fraction(samples: list[Sample], start: float, end: float) -> float:
    """The Notion rate over the middle 80 % of [start, end], as a fraction of the limit."""
    span = end - start
    lo, hi = start + 0.1 * span, end - 0.1 * span
    inside = [s for s in samples if lo <= s.t <= hi]
    if len(inside) < 2:
        return 0.0
    first, last = inside[0], inside[-1]
    seconds = last.t - first.t
    if seconds <= 0:
        return 0.0
    return (last.notion_requests - first.notion_requests) / seconds / NOTION_LIMIT.rate


def _synced(drained: dict[str, Any]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for _resource_type, status, count in drained.get("sync_history", []):
        out[str(status)] += int(count)
    return dict(out)


def _endpoints(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {endpoint: sum(by.values()) for endpoint, by in counts.items()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()).to_json(), indent=1))
