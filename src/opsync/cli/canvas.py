"""``opsync canvas``: the Canvas cache — rebuild it from Notion, or look one number up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import typer

from opsync.canvas import CanvasLookup, Resolution
from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.errors import ConfigError
from opsync.notion import NotionAdapter
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.wiring import open_store

app = typer.Typer(
    help="The Canvas database lookup cache (NOTION_CANVAS_DATABASE_ID).", no_args_is_help=True
)


@asynccontextmanager
async def _canvas_lookup(settings: Settings) -> AsyncIterator[CanvasLookup]:
    database_id = str(settings.require("notion_canvas_database_id")).strip()
    if not database_id:  # set but empty: as good as missing
        raise ConfigError("NOTION_CANVAS_DATABASE_ID", "Notion database of customers")
    notion = NotionAdapter.from_token(
        settings.secret("notion_api_key"),
        pacer=TokenBucket(NOTION_LIMIT),
        base_url=settings.notion_base_url,
    )
    try:
        async with open_store(settings) as store:
            yield CanvasLookup(
                notion, store, database_id, negative_ttl=settings.canvas_negative_ttl
            )
    finally:
        await notion.aclose()


@app.command()
def refresh(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a sentence."),
) -> None:
    """Rebuild the canvas_cache table from every page of the Canvas database."""
    settings = state(ctx).settings()
    count = run(_refresh(settings))
    if as_json:
        typer.echo(json.dumps({"entries": count}))
    else:
        typer.echo(f"canvas cache rebuilt: {count} entries")


async def _refresh(settings: Settings) -> int:
    async with _canvas_lookup(settings) as lookup:
        return await lookup.refresh()


@app.command()
def lookup(
    ctx: typer.Context,
    value: str = typer.Argument(
        ..., metavar="NUMBER", help="A phone number in any format, or an email address."
    ),
) -> None:
    """Find the Canvas page of a phone number (or email) as the sync would; print JSON.

    Exits 1 when no page matches, 2 when VALUE is neither a phone number nor an email."""
    settings = state(ctx).settings()
    resolution = run(_lookup(settings, value))
    typer.echo(json.dumps(_as_json(value, resolution), indent=2, ensure_ascii=False))
    if resolution.source == "invalid":
        raise typer.Exit(2)
    if resolution.match is None:
        raise typer.Exit(1)


async def _lookup(settings: Settings, value: str) -> Resolution:
    async with _canvas_lookup(settings) as canvas:
        if "@" in value:
            return await canvas.resolve("email", value)
        return await canvas.resolve("phone", value)


def _as_json(value: str, resolution: Resolution) -> dict[str, Any]:
    match = resolution.match
    return {
        "query": value,
        "lookup_type": resolution.lookup_type,
        "key": resolution.key,
        "found": match is not None,
        "page_id": match.page_id if match else None,
        "name": match.name if match else None,
        "source": resolution.source,
    }
