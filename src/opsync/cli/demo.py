"""``opsync demo``: play a traffic scenario through the whole pipeline and check the result."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from opsync import logs
from opsync.cli._common import run

DEFAULT_DATA_DIR = Path("demo-data")


def demo(
    ctx: typer.Context,
    calls: int = typer.Option(30, min=0, help="Calls to play through their whole life."),
    messages: int = typer.Option(100, min=0, help="Messages to play."),
    seed: int = typer.Option(1, help="Seed of the workspace and the scenario."),
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the store, media and Notion dump go.")
    ] = DEFAULT_DATA_DIR,
    json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    serve: bool = typer.Option(
        False, "--serve", help="Keep the simulators and the service running (until Ctrl-C)."
    ),
    compression: float = typer.Option(
        0.0, min=0.0, help="Clock compression of the scenario (0: the default)."
    ),
) -> None:
    """Run both simulators and the service, play calls and messages, verify Notion.

    Exits 0 only when every call and message has exactly one correct Notion page.
    """
    from opsync.demo import DemoOptions, render_summary, run_demo
    from opsync.demo.scenario import DEFAULT_COMPRESSION

    logs.configure("WARNING", stream=sys.stderr)
    console = Console(stderr=json)
    options = DemoOptions(
        calls=calls,
        messages=messages,
        seed=seed,
        data_dir=data_dir,
        serve=serve,
        compression=compression or DEFAULT_COMPRESSION,
    )

    def report(summary: dict[str, Any]) -> None:
        if json:
            typer.echo(jsonlib.dumps(summary))
        else:
            render_summary(summary, console)

    summary = run(run_demo(options, console=console, report=report))
    if not summary["ok"]:
        raise typer.Exit(1)
