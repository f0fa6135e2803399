"""``opsync stats``: the seed's analytics at the command line (Rich tables, or ``--json``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsync.cli._common import run, state
from opsync.observability.stats import collect_stats
from opsync.store import Store

__all__ = ["stats"]

_CURSOR_FIELDS_SHOWN = 6
_SYNC_COLUMNS = (
    "phone_number_id",
    "resource_type",
    "sync_status",
    "count",
    "avg_processing_time_ms",
)
_CANVAS_COLUMNS = ("lookup_type", "total_entries", "total_hits", "avg_hits_per_entry")
_SLOW_COLUMNS = ("metric_type", "operation", "avg_duration", "max_duration", "count")
_DEAD_COLUMNS = (
    "id",
    "event_id",
    "event_type",
    "partition_key",
    "attempts",
    "reason",
    "completed_at",
)


def stats(
    ctx: typer.Context,
    json_: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
) -> None:
    """Today's sync stats, the Canvas cache, the slowest operations of the last 24 h, the
    inbox by state, dead letters, and each phone number's cursors and totals."""
    url = state(ctx).settings().database_url
    data = run(_collect(url))
    if json_:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    console = Console()
    for table in tables(data):
        console.print(table)


async def _collect(url: str) -> dict[str, Any]:
    async with await Store.open(url) as store:
        return await collect_stats(store)


def tables(data: Mapping[str, Any]) -> Iterator[Table]:
    """The Rich tables of :func:`~opsync.observability.stats.collect_stats`'s result."""
    yield _rows_table("Sync stats (last 24 h)", data["sync_stats_today"], _SYNC_COLUMNS)
    yield _rows_table("Canvas cache", data["canvas_cache"], _CANVAS_COLUMNS)
    yield _rows_table("Slowest operations (last 24 h, ms)", data["slow_operations"], _SLOW_COLUMNS)
    inbox = Table(title="Inbox")
    inbox.add_column("state")
    inbox.add_column("events", justify="right")
    for name, count in data["inbox"].items():
        inbox.add_row(Text(str(name)), Text(str(count)))
    yield inbox
    dead = data["dead_letters"]
    yield _rows_table(
        f"Dead letters: {dead['count']} (the {len(dead['recent'])} most recent)",
        dead["recent"],
        _DEAD_COLUMNS,
        timestamps=("completed_at",),
    )
    yield _phone_table(data["phone_numbers"])


def _rows_table(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    timestamps: Iterable[str] = (),
) -> Table:
    """A table of query rows; ``columns`` head it when there are none (Rich would otherwise
    print nothing, not even the title)."""
    table = Table(title=title, caption=None if rows else "no rows")
    stamped = set(timestamps)
    for column in rows[0] if rows else columns:
        table.add_column(Text(column))
    for row in rows:
        table.add_row(*(Text(_stamp(v) if k in stamped else _cell(v)) for k, v in row.items()))
    return table


def _phone_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Phone numbers", caption=None if rows else "no rows")
    for column in ("id", "number", "name", "active", "calls", "messages"):
        table.add_column(column)
    table.add_column("last call sync")
    table.add_column("last message sync")
    table.add_column("cursors")
    for row in rows:
        table.add_row(
            Text(str(row["id"])),
            Text(str(row["number"])),
            Text(_cell(row["name"])),
            Text("yes" if row["is_active"] else "no"),
            Text(str(row["total_calls_synced"])),
            Text(str(row["total_messages_synced"])),
            Text(_stamp(row["last_call_sync_at"])),
            Text(_stamp(row["last_message_sync_at"])),
            Text(cursor_summary(row["cursors"])),
        )
    return table


def cursor_summary(cursors: Mapping[str, Any]) -> str:
    """The scalar fields of a cursor document as ``path=value`` lines (lists, which can be
    long, left out); ``-`` when there are none."""
    fields = list(_scalars(cursors, ""))
    shown = [f"{path}={value}" for path, value in fields[:_CURSOR_FIELDS_SHOWN]]
    if len(fields) > _CURSOR_FIELDS_SHOWN:
        shown.append(f"(+{len(fields) - _CURSOR_FIELDS_SHOWN} more, see --json)")
    return "\n".join(shown) or "-"


def _scalars(value: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping):
            yield from _scalars(item, path + ".")
        elif not isinstance(item, list | tuple):
            yield path, item


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _stamp(value: Any) -> str:
    """Epoch ms as ISO 8601 UTC, to the second."""
    if not isinstance(value, int):
        return _cell(value)
    moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
