"""build_summary(), percentile() and render_summary()."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console

from opsync.demo.summary import (
    RateLimits,
    RunFacts,
    StoreFigures,
    build_summary,
    percentile,
    render_summary,
)
from opsync.demo.verify import Mismatch, Verification

REQUIRED_KEYS = {
    "events_received", "events_processed", "dead_letters", "resources", "notion_pages",
    "duplicate_pages", "mismatched_pages", "notion_requests", "openphone_requests",
}  # fmt: skip


def figures(**inbox: int) -> StoreFigures:
    counts = {"pending": 0, "in_flight": 0, "done": 0, "dead": 0, "ignored": 0} | inbox
    return StoreFigures(counts, 2, [30, 10, 20, 40, 500], {"success": 9, "skipped": 3})


def facts() -> RunFacts:
    return RunFacts(
        calls=2,
        messages=4,
        duplicate_deliveries=3,
        failed_deliveries=0,
        notion_requests={"calls": 6, "messages": 5, "canvas": 2, "shared": 3},
        openphone_requests={"calls": 8, "messages": 0, "shared": 4, "setup": 4},
        canvas={"cache_hit_rate": 0.75, "lookups": 8},
        notion_per_call=[1, 5],
        notion_per_message=[1, 1, 2, 1],
        compression=120.0,
        rate_limits=RateLimits(3.0, 30.0, 10.0, 50.0),
        elapsed_seconds=12.34,
    )


def passed() -> Verification:
    return Verification(pages={"calls": 2, "messages": 4}, canvas_links=3)


def test_the_summary_has_the_documented_keys_and_is_json() -> None:
    summary = build_summary(facts(), figures(done=14, ignored=1), passed())

    assert summary.keys() >= REQUIRED_KEYS
    assert json.loads(json.dumps(summary)) == summary
    assert summary["ok"] is True
    assert summary["events_received"] == 15
    assert summary["events_processed"] == 14
    assert summary["ignored"] == 1
    assert summary["failed"] == 2
    assert summary["duplicates"] == 3
    assert summary["resources"] == {"calls": 2, "messages": 4}
    assert summary["notion_pages"] == {"calls": 2, "messages": 4}
    assert summary["canvas_links"] == 3
    assert summary["canvas_cache_hit_rate"] == 0.75
    assert summary["latency_ms"] == {"p50": 30, "p95": 500}
    assert summary["rate_limits"]["notion"] == {"real": 3.0, "demo": 30.0, "factor": 10.0}
    assert summary["rate_limits"]["openphone"]["factor"] == 5.0


def test_requests_are_given_in_total_and_per_resource() -> None:
    summary = build_summary(facts(), figures(done=14), passed())

    assert summary["notion_requests"] == {
        "total": 16, "calls": 6, "messages": 5, "canvas": 2, "shared": 3,
        "per_resource": 2.67, "per_call": 3.0, "per_message": 1.25,
        "max_per_call": 5, "calls_over_3": 1, "max_per_message": 2, "messages_over_2": 0,
    }  # fmt: skip
    # the demo's own webhook registration is not the service's cost
    assert summary["openphone_requests"]["total"] == 12
    assert summary["openphone_requests"]["per_call"] == 4.0


@pytest.mark.parametrize(
    ("inbox", "check"),
    [
        ({"done": 10, "dead": 1}, passed()),
        ({"done": 10}, Verification(duplicate_pages=1)),
        ({"done": 10}, Verification(mismatched_pages=1)),
        ({"done": 10}, Verification(missing_pages=1)),
    ],
)
def test_the_verdict_fails_on_dead_letters_and_wrong_pages(
    inbox: dict[str, int], check: Verification
) -> None:
    assert build_summary(facts(), figures(**inbox), check)["ok"] is False


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert percentile(list(range(1, 101)), 0.5) == 50
    assert percentile(list(range(1, 101)), 0.95) == 95


def render(summary: dict[str, Any]) -> str:
    console = Console(record=True, width=160)
    render_summary(summary, console)
    return console.export_text()


def test_the_table_shows_costs_limits_and_the_verdict() -> None:
    text = render(build_summary(facts(), figures(done=14), passed()))

    assert "16 total · 3.0/call · 1.25/message" in text
    assert "3/s → 30/s (10x)" in text
    assert "p50 30 ms · p95 500 ms" in text
    assert "at most 5 per call (1 over 3) · at most 2 per message (0 over 2)" in text
    assert "every resource has exactly one correct page" in text


def test_the_table_lists_the_problems() -> None:
    check = Verification(mismatched_pages=1)
    check.problems.append(Mismatch("call", "AC1", "Status is 'ringing', expected 'completed'"))

    text = render(build_summary(facts(), figures(done=14), check))

    assert "call AC1: Status is 'ringing', expected 'completed'" in text
    assert "does not match" in text
