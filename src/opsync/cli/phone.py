"""``opsync phone``: the workspace's OpenPhone numbers, as OpenPhone and the store know them."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.wiring import open_store, openphone_client

app = typer.Typer(help="The workspace's phone numbers.", no_args_is_help=True)


@app.command("list")
def list_numbers(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the workspace's phone numbers from OpenPhone and record new ones in the store."""
    settings = state(ctx).settings()
    rows = run(_list_numbers(settings))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("id", "number", "name", "users")
    for row in rows:
        table.add_row(*(str(row[key]) for key in ("id", "number", "name", "users")))
    Console().print(table)


async def _list_numbers(settings: Settings) -> list[dict[str, str | int]]:
    async with openphone_client(settings) as client, open_store(settings) as store:
        numbers = await client.list_phone_numbers()
        for number in numbers:
            await store.upsert_phone_number(number.id, number.number, name=number.name)
    return [
        {"id": n.id, "number": n.number, "name": n.name, "users": len(n.users)} for n in numbers
    ]
