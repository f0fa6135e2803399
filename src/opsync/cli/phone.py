"""``opsync phone``: the workspace's OpenPhone numbers, as OpenPhone and the store know them."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.sync.actor import stored_state
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


@app.command("state")
def show_state(ctx: typer.Context, phone_number_id: str) -> None:
    """Print a phone number's sync state (row, totals, cursors) as JSON."""
    settings = state(ctx).settings()
    found = run(_state(settings, phone_number_id))
    if found is None:
        typer.echo(f"unknown phone number {phone_number_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(found, indent=2, ensure_ascii=False))


async def _state(settings: Settings, phone_number_id: str) -> dict[str, object] | None:
    async with open_store(settings) as store:
        return await stored_state(store, phone_number_id)
