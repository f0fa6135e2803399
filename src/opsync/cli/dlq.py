"""``opsync dlq``: the dead letters — list, show, replay, purge.

The commands work on the store directly (``--db`` or ``OPSYNC_DATABASE_URL``), so they work
whether or not the service runs; a running service's dispatcher picks replayed events up at
its next poll. ``--json`` prints the documents of the admin API (opsync.web.admin_api).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsync.cli._common import run, state
from opsync.store import Store
from opsync.web.admin_api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    dead_letter_detail,
    dead_letter_summary,
    one_line,
    parse_duration,
)

__all__ = ["app"]

app = typer.Typer(help="Dead letters: list, show, replay, purge.", no_args_is_help=True)

_LIST_COLUMNS = ("id", "event type", "partition", "attempts", "last error", "dead at")
_ERROR_WIDTH = 60


def _to_second(stamp: str | None) -> str:
    """``2026-04-01T00:00:00.123Z`` as ``2026-04-01T00:00:00Z`` (``-`` for none)."""
    return "-" if stamp is None else stamp[:19] + "Z"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command("list")
def list_dead(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, max=MAX_LIMIT, help="Show at most this many."),
    ] = DEFAULT_LIMIT,
) -> None:
    """List dead letters, the most recently dead first."""
    url = state(ctx).settings().database_url
    count, rows = run(_list(url, limit))
    if as_json:
        _echo_json({"count": count, "dead_letters": rows})
        return
    table = Table(
        title=f"Dead letters: {count}"
        + (f" (the {len(rows)} most recent)" if count > len(rows) else ""),
        caption=None if rows else "no dead letters",
    )
    console = Console()
    cells = [
        [
            str(row["id"]),
            row["event_type"],
            row["partition_key"] or "-",
            str(row["attempts"]),
            row["last_error"],
            _to_second(row["dead_at"]),
        ]
        for row in rows
    ]
    widths = [
        max([len(name), *(len(cell[i]) for cell in cells)]) for i, name in enumerate(_LIST_COLUMNS)
    ]
    # One line per dead letter: the error is cut (…) to what the terminal leaves it.
    error = _LIST_COLUMNS.index("last error")
    others = sum(widths) - widths[error]
    room = max(10, min(_ERROR_WIDTH, console.width - others - 3 * len(widths) - 1))
    for cell in cells:
        cell[error] = one_line(cell[error], room)
    for column in _LIST_COLUMNS:
        table.add_column(
            column, justify="right" if column in ("id", "attempts") else "left", no_wrap=True
        )
    for cell in cells:
        table.add_row(*(Text(value) for value in cell))
    console.print(table)


async def _list(url: str, limit: int) -> tuple[int, list[dict[str, Any]]]:
    async with await Store.open(url) as store:
        events = await store.inbox_dead_recent(limit)
        count = (await store.inbox_counts())["dead"]
    return count, [dead_letter_summary(e) for e in events]


@app.command("show")
def show(
    ctx: typer.Context,
    event_id: Annotated[int, typer.Argument(metavar="ID", help="The inbox id (see dlq list).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one event: its payload, attempts, and every error with its time and class."""
    url = state(ctx).settings().database_url
    detail = run(_show(url, event_id))
    if detail is None:
        typer.echo(f"no event with id {event_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        _echo_json(detail)
        return
    typer.echo(f"event {detail['id']}  {detail['event_type']}  ({detail['event_id']})")
    typer.echo(f"state: {detail['state']}   attempts: {detail['attempts']}")
    typer.echo(f"partition: {detail['partition_key'] or '-'}   source: {detail['source']}")
    typer.echo(f"received: {detail['received_at']}   dead at: {detail['dead_at'] or '-'}")
    last_error = "\n  ".join(str(detail["last_error"] or "-").splitlines())
    typer.echo(f"last error: {last_error}")
    typer.echo(f"errors ({len(detail['errors'])}):")
    for error in detail["errors"]:
        message = "\n      ".join(str(error["message"]).splitlines())  # indent what follows
        typer.echo(
            f"  {error['at']}  attempt {error['attempt']}  {error['error_class']}: {message}"
        )
    typer.echo("payload:")
    payload = detail["payload"]
    typer.echo(
        payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, indent=2)
    )


async def _show(url: str, event_id: int) -> dict[str, Any] | None:
    async with await Store.open(url) as store:
        event = await store.inbox_get(event_id)
        if event is None:
            return None
        return dead_letter_detail(event, await store.inbox_errors_for(event_id))


@app.command("replay")
def replay(
    ctx: typer.Context,
    event_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="The dead letter to replay.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
) -> None:
    """Send a dead letter (or, with --all, every one) back to pending, attempts reset."""
    if (event_id is None) == (not all_):
        typer.echo("give either an ID or --all", err=True)
        raise typer.Exit(2)
    url = state(ctx).settings().database_url
    if event_id is None:
        count = run(_replay_all(url))
        typer.echo(f"replayed {count} dead letter{'' if count == 1 else 's'}")
        return
    outcome = run(_replay(url, event_id))
    if outcome is None:
        typer.echo(f"no event with id {event_id}", err=True)
        raise typer.Exit(1)
    if outcome != "replayed":
        typer.echo(f"event {event_id} is {outcome}, not dead: nothing to replay", err=True)
        raise typer.Exit(1)
    typer.echo(f"replayed event {event_id}")


async def _replay(url: str, event_id: int) -> str | None:
    """``"replayed"``, the state of an event that is not dead, or ``None`` if unknown."""
    async with await Store.open(url) as store:
        if await store.inbox_replay(event_id):
            return "replayed"
        event = await store.inbox_get(event_id)
    return None if event is None else event.state


async def _replay_all(url: str) -> int:
    async with await Store.open(url) as store:
        return await store.inbox_replay_all_dead()


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="D",
            help="Delete dead letters dead for longer than this: 7d, 12h, 30m, 45s, 2w.",
        ),
    ],
) -> None:
    """Delete dead letters (and their error history) that died longer ago than D."""
    try:
        older_than_ms = parse_duration(older_than)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    url = state(ctx).settings().database_url
    count = run(_purge(url, older_than_ms))
    typer.echo(
        f"purged {count} dead letter{'' if count == 1 else 's'} older than {older_than.strip()}"
    )


async def _purge(url: str, older_than_ms: int) -> int:
    async with await Store.open(url) as store:
        return await store.inbox_purge_dead(older_than_ms)
