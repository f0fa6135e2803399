"""Cursor pagination shared by every list endpoint (cursors are the id of the next item)."""

from __future__ import annotations

from opsync.sandbox.notion._common import JSON, parse_id
from opsync.sandbox.notion.errors import validation_error


def paginate(ids: list[str], cursor: object, size: int) -> tuple[list[str], str | None]:
    """One page of ``ids`` from ``cursor`` (the id of its first item, as Notion's cursors are)."""
    start = 0
    if cursor is not None:
        wanted = parse_id(cursor)
        if wanted is None or wanted not in ids:
            raise validation_error(f"start_cursor provided is invalid: {cursor}")
        start = ids.index(wanted)
    end = start + size
    return ids[start:end], ids[end] if end < len(ids) else None


def listing(results: list[JSON], next_cursor: str | None, kind: str) -> JSON:
    return {
        "object": "list",
        "results": results,
        "next_cursor": next_cursor,
        "has_more": next_cursor is not None,
        "type": kind,
        kind: {},
    }
