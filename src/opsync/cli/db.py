"""``opsync db``: migrate the store and run ad-hoc SQL (like ``wrangler d1 execute``)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsync.cli._common import run, state
from opsync.store import AppliedMigration, QueryResult, Store

app = typer.Typer(help="The SQL store: migrations and ad-hoc queries.", no_args_is_help=True)


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Apply pending schema migrations (idempotent) and list the versions applied."""
    url = state(ctx).settings().database_url
    applied, recorded = run(_migrate(url))
    for migration in applied:
        typer.echo(f"applied {migration.version:04d} {migration.name}")
    latest = recorded[-1].version if recorded else 0
    if not applied:
        typer.echo(f"already up to date at version {latest:04d}")


async def _migrate(url: str) -> tuple[list[AppliedMigration], list[AppliedMigration]]:
    async with await Store.open(url, migrate=False) as store:
        applied = await store.migrate()
        return applied, await store.applied_migrations()


@app.command()
def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="SQL to run; omit when using --file.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", exists=True, dir_okay=False, help="Read the SQL from a file."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of objects.")] = False,
) -> None:
    """Run SQL against the store (migrated first) and print the last result.

    Several ``;``-terminated statements run in one transaction."""
    if file is not None:
        if sql is not None:
            raise typer.BadParameter("give the SQL as an argument or with --file, not both")
        sql = file.read_text(encoding="utf-8")
    elif sql is None:
        raise typer.BadParameter("give the SQL as an argument or with --file")
    url = state(ctx).settings().database_url
    result = run(_query(url, sql))
    if as_json:
        objects = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        typer.echo(json.dumps(objects, default=_json_default, ensure_ascii=False))
    elif result.columns:
        Console().print(_table(result))
    else:
        typer.echo("ok (no rows returned)")


async def _query(url: str, sql: str) -> QueryResult:
    async with await Store.open(url) as store:
        return await store.execute_query(sql)


def _table(result: QueryResult) -> Table:
    # Text(), not str: values are data, never Rich markup.
    table = Table(caption=f"{len(result.rows)} row(s)")
    for column in result.columns:
        table.add_column(Text(column))
    for row in result.rows:
        table.add_row(*(Text("NULL" if value is None else str(value)) for value in row))
    return table


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)
