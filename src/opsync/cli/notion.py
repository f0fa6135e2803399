"""``opsync notion``: create the databases opsync writes to, and check (or fix) their schema."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.notion import NotionAdapter
from opsync.notion.ids import InvalidNotionId, normalize_id
from opsync.notion.mapping import load_mapping
from opsync.notion.schema_check import (
    SchemaFix,
    SchemaReport,
    check_notion_schema,
    fix_notion_schema,
)
from opsync.notion.schema_setup import CreatedDatabase, NotionSetup
from opsync.pacing import NOTION_LIMIT, TokenBucket

app = typer.Typer(
    help="The Notion databases: create them (setup), check or fix their schema (check).",
    no_args_is_help=True,
)


def _adapter(settings: Settings) -> NotionAdapter:
    return NotionAdapter.from_token(
        settings.secret("notion_api_key"),
        pacer=TokenBucket(NOTION_LIMIT),
        base_url=settings.notion_base_url,
    )


@app.command()
def setup(
    ctx: typer.Context,
    parent: str = typer.Option(
        ...,
        "--parent",
        metavar="PAGE_ID_OR_URL",
        help="The Notion page to create the databases under (shared with the integration).",
    ),
    canvas: bool = typer.Option(
        False, "--canvas", help="Also create a starter Canvas database (Name, Phone, Email)."
    ),
) -> None:
    """Create the Calls and Messages databases with the seed's schema; print the .env lines.

    The lines go to stdout and everything else to stderr, so `>> .env` works. Without
    --canvas the Canvas relation points at NOTION_CANVAS_DATABASE_ID when it is set.
    """
    try:
        normalize_id(parent)
    except InvalidNotionId as exc:
        raise typer.BadParameter(str(exc), param_hint="--parent") from None
    settings = state(ctx).settings()
    created: list[CreatedDatabase] = []
    try:
        linked = run(_setup(settings, parent, canvas, created))
    finally:
        _print_created(created)
    if not linked:
        typer.echo(
            "note: no Canvas database (pass --canvas, or set NOTION_CANVAS_DATABASE_ID): the "
            "databases have no Canvas relation; add it later with `opsync notion check --fix`",
            err=True,
        )


async def _setup(
    settings: Settings, parent: str, canvas: bool, created: list[CreatedDatabase]
) -> bool:
    mapping = load_mapping(settings.mapping_file)
    notion = _adapter(settings)
    try:
        job = NotionSetup(notion, mapping, created)
        await job.run(parent, canvas=canvas, canvas_database_id=settings.notion_canvas_database_id)
        return job.canvas_data_source_id is not None
    finally:
        await notion.aclose()


def _print_created(created: list[CreatedDatabase]) -> None:
    if not created:
        return
    typer.echo("Created in Notion:", err=True)
    for made in created:
        typer.echo(f"  {made.name:<9} {made.url or made.database_id}", err=True)
    typer.echo("Add these lines to .env:", err=True)
    for made in created:
        typer.echo(made.env_line())


@app.command()
def check(
    ctx: typer.Context,
    fix: bool = typer.Option(
        False, "--fix", help="Add missing properties and select options (never deletes)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Whether each configured database is reachable and has every property opsync writes,
    with the right type; exits 1 when something blocks syncing."""
    settings = state(ctx).settings()
    report, fixed = run(_check(settings, fix))
    if as_json:
        typer.echo(json.dumps(_as_json(report, fixed), indent=2, ensure_ascii=False))
    else:
        _print_report(report, fixed)
    if not report.ok:
        raise typer.Exit(1)


async def _check(settings: Settings, fix: bool) -> tuple[SchemaReport, list[SchemaFix]]:
    mapping = load_mapping(settings.mapping_file)
    notion = _adapter(settings)
    try:
        report = await check_notion_schema(notion, settings, mapping)
        if not fix or not report.fixes:
            return report, []
        fixed = await fix_notion_schema(notion, report)
        return await check_notion_schema(notion, settings, mapping), fixed
    finally:
        await notion.aclose()


def _print_report(report: SchemaReport, fixed: list[SchemaFix]) -> None:
    console = Console(highlight=False)
    for fix in fixed:
        console.print(f"[green]added[/] {fix.database} · {fix.property}")
    blocked = {row.database for row in report.rows if row.blocking}
    for db in report.databases:
        mark = "[red]✗[/]" if db.name in blocked else "[green]✓[/]"
        if db.database_id is None:
            mark = mark if db.name in blocked else "[dim]-[/]"
            detail = f"not configured ({db.variable})"
        elif not db.reachable:
            detail = f"{db.database_id} not reachable"
        else:
            detail = f"{db.database_id}, {db.checked} properties checked"
        console.print(f"{mark} {db.name}: {detail}")
    if report.rows:
        table = Table(show_lines=False)
        for column in ("", "Database", "Property", "Problem", "Fix"):
            table.add_column(column, overflow="fold")
        for row in report.rows:
            mark = "[red]✗[/]" if row.blocking else "[yellow]![/]"
            table.add_row(mark, row.database, row.property, row.problem, row.fix)
        console.print(table)
    if report.ok:
        console.print("[green]The Notion schema is ready for syncing.[/]")
    else:
        console.print("[red]Syncing is blocked until the ✗ rows are fixed.[/]")


def _as_json(report: SchemaReport, fixed: list[SchemaFix]) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "databases": [
            dataclasses.asdict(db) | {"reachable": db.reachable} for db in report.databases
        ],
        "rows": [dataclasses.asdict(row) for row in report.rows],
        "fixed": [{"database": f.database, "property": f.property} for f in fixed],
    }
