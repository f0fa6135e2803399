"""``python -m bench`` — run the five benchmarks, print a table, write ``bench/results.json``.

Options::

    --only NAME [NAME ...]   backfill, memory, ingest, canvas, instances (default: all five,
                             in order; instances runs its PostgreSQL rows when
                             OPSYNC_BENCH_POSTGRES_URL or OPSYNC_TEST_POSTGRES_URL is set)
    --full                   the issue's sizes (300 calls + 2,000 messages; 50,000 messages):
                             about 40 minutes on a 2-core machine
    --tiny                   the smoke-test sizes (seconds; the numbers mean nothing)
    --output PATH            where to write the JSON (default bench/results.json)
    --markdown               also print the table as Markdown (for the README)

A missed target is reported as a finding (✗ in the table, ``"met": false`` in the JSON); the
exit status is 0 when every benchmark ran, whatever it measured, and 1 when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import backfill, canvas, ingest, instances, memory
from bench._common import BenchResult, fmt, machine_facts

ORDER = ("backfill", "memory", "ingest", "canvas", "instances")
NUMBERS = {"backfill": 1, "memory": 2, "ingest": 3, "canvas": 4, "instances": 5}
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


def plan(mode: str) -> dict[str, Callable[[], Awaitable[BenchResult]]]:
    """The benchmark coroutines at the sizes of ``mode`` (``default``, ``full``, ``tiny``)."""
    if mode == "tiny":
        return {
            "backfill": lambda: backfill.run(backfill.BackfillSize.tiny()),
            "memory": lambda: memory.run(memory.MemorySize.tiny()),
            "ingest": lambda: ingest.run(ingest.IngestSize.tiny()),
            "canvas": lambda: canvas.run(canvas.CanvasSize.tiny()),
            "instances": lambda: instances.run(instances.InstancesSize.tiny()),
        }
    if mode == "full":
        return {
            "backfill": lambda: backfill.run(backfill.BackfillSize.full()),
            "memory": lambda: memory.run(memory.MemorySize.full()),
            "ingest": lambda: ingest.run(),
            "canvas": lambda: canvas.run(),
            "instances": lambda: instances.run(),
        }
    return {
        "backfill": lambda: backfill.run(),
        "memory": lambda: memory.run(),
        "ingest": lambda: ingest.run(),
        "canvas": lambda: canvas.run(),
        "instances": lambda: instances.run(),
    }


async def run_all(
    names: list[str], mode: str, console: Console
) -> tuple[list[BenchResult], dict[str, str]]:
    runners = plan(mode)
    results: list[BenchResult] = []
    failures: dict[str, str] = {}
    for name in names:
        console.print(f"[bold]{NUMBERS[name]}. {name}[/bold] …", highlight=False)
        began = time.perf_counter()
        try:
            result = await runners[name]()
        except Exception as exc:
            failures[name] = "".join(traceback.format_exception(exc))
            console.print(f"  [red]failed[/red]: {type(exc).__name__}: {exc}", highlight=False)
            continue
        results.append(result)
        console.print(f"  done in {time.perf_counter() - began:.0f} s", highlight=False)
    return results, failures


def mark(met: bool | None) -> str:
    return "" if met is None else ("✓" if met else "✗ missed")


def table(results: list[BenchResult]) -> Table:
    out = Table(title="opsync benchmarks", show_lines=False)
    out.add_column("#", justify="right")
    out.add_column("Benchmark / metric")
    out.add_column("Value", justify="right")
    out.add_column("Target", justify="right")
    out.add_column("Met")
    for result in results:
        out.add_row(str(NUMBERS.get(result.name, "")), f"[bold]{result.title}[/bold]", "", "", "")
        for check in result.checks:
            style = {True: "green", False: "red", None: ""}[check.met]
            met = f"[{style}]{mark(check.met)}[/{style}]" if style else ""
            value = f"{fmt(check.value)} {check.unit}".rstrip()
            out.add_row("", check.label, value, check.target_text, met)
    return out


def markdown(results: list[BenchResult], facts: dict[str, Any]) -> str:
    """The table as Markdown, with the machine it ran on (for the README)."""
    lines = [
        f"Measured {facts['date'][:10]} on {facts['cores']} cores ({facts['processor']}), "
        f"Python {facts['python']}; load average before/after "
        f"{facts['load_average_1_5_15'][0]}/{facts.get('load_average_after', ['?'])[0]}.",
        "",
        "| # | Benchmark / metric | Value | Target | Met |",
        "|---|---|---:|---:|---|",
    ]
    for result in results:
        lines.append(f"| {NUMBERS.get(result.name, '')} | **{result.title}** | | | |")
        for check in result.checks:
            value = f"{fmt(check.value)} {check.unit}".rstrip()
            lines.append(
                f"| | {check.label.strip()} | {value} | {check.target_text} | {mark(check.met)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=ORDER, default=list(ORDER))
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--full", action="store_true", help="the issue's sizes (~40 min)")
    sizes.add_argument("--tiny", action="store_true", help="smoke-test sizes")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--markdown", action="store_true", help="also print Markdown")
    args = parser.parse_args(argv)
    mode = "full" if args.full else "tiny" if args.tiny else "default"
    names = [name for name in ORDER if name in args.only]
    console = Console()
    facts = machine_facts()
    console.print(
        f"opsync benchmarks ({mode} sizes) on {facts['cores']} cores, Python {facts['python']}",
        highlight=False,
    )
    if facts["load_average_1_5_15"][0] > 0.5:
        console.print(
            f"[yellow]load average {facts['load_average_1_5_15'][0]}: other processes are "
            "busy on this machine; rates may come out low and latencies high[/yellow]",
            highlight=False,
        )
    began = time.perf_counter()
    results, failures = asyncio.run(run_all(names, mode, console))
    console.print(table(results))
    for result in results:
        for note in result.notes:
            console.print(f"[dim]{NUMBERS[result.name]}. {note}[/dim]", highlight=False)
    facts["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    document = {
        "machine": facts,
        "mode": mode,
        "seconds": round(time.perf_counter() - began, 1),
        "benchmarks": {r.name: r.to_json() for r in results},
        "failures": failures,
        "targets": {
            "met": sum(1 for r in results for c in r.checks if c.met is True),
            "missed": [
                f"{r.name}: {c.label.strip()}" for r in results for c in r.checks if c.met is False
            ],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    console.print(f"Results written to {args.output}", highlight=False)
    if args.markdown:
        print(markdown(results, facts))
    for name, trace in failures.items():
        console.print(f"[red]{name} failed[/red]\n{trace}", highlight=False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
