"""``opsync timeline``: a contact's calls and messages from the local store, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import typer
from rich.console import Console
from rich.table import Table

from opsync.blobs import blob_store_from_settings
from opsync.blobs.factory import SIGNING_KEY_FILE
from opsync.canvas.phones import normalize_phone
from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.errors import ConfigError
from opsync.timeline import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ContactUnknown,
    InvalidTimelineInput,
    MediaUrl,
    Timeline,
    TimelinePage,
)
from opsync.wiring import open_store

_TEXT_WIDTH = 60


def timeline(
    ctx: typer.Context,
    contact: str = typer.Argument(
        ..., metavar="PHONE", help="A phone number in any spelling, or a Canvas page id."
    ),
    limit: int = typer.Option(
        DEFAULT_LIMIT, "--limit", min=1, max=MAX_LIMIT, help="How many items to show."
    ),
    cursor: str | None = typer.Option(None, "--cursor", help="Continue from a next_cursor."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON document."),
) -> None:
    """Every call and message with a number (or linked to a Canvas page), newest first, with
    links to the Notion pages, recordings and summaries. Reads the store only: no Notion or
    OpenPhone request."""
    settings = state(ctx).settings()
    try:
        page = run(_timeline(settings, contact, limit, cursor))
    except InvalidTimelineInput as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ContactUnknown as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(page.to_json(), indent=2, ensure_ascii=False))
        return
    _print(page, contact, limit)


def _media_url(settings: Settings) -> MediaUrl | None:
    """The blob store's link maker, if it can sign links offline. A local folder's own key is
    used only if the service made it already: a read must not create a key of its own."""
    key = settings.media_signing_key.get_secret_value() if settings.media_signing_key else None
    blob_url = settings.blob_url.strip()
    if key is None and not blob_url.startswith("s3://"):
        folder = Path(
            unquote(urlsplit(blob_url).path) if blob_url.startswith("file:") else blob_url
        )
        if not (folder / SIGNING_KEY_FILE).is_file():
            return None
    try:
        return blob_store_from_settings(settings, signing_key=key).public_url
    except (ConfigError, OSError, ValueError):
        return None


async def _timeline(settings: Settings, contact: str, limit: int, cursor: str | None) -> Any:
    async with open_store(settings) as store:
        timeline = Timeline(store, _media_url(settings))
        if normalize_phone(contact) is None:
            try:
                return await timeline.for_canvas(contact, limit=limit, cursor=cursor)
            except InvalidTimelineInput:
                raise InvalidTimelineInput(
                    f"not a phone number or a Canvas page id: {contact[:60]!r}"
                ) from None
        return await timeline.for_phone(contact, limit=limit, cursor=cursor)


def _short(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _TEXT_WIDTH else flat[: _TEXT_WIDTH - 1] + "…"


def _what(item: dict[str, Any]) -> str:
    if item["type"] == "message":
        return _short(item.get("text"))
    if item.get("summary"):
        return _short(" ".join(item["summary"]))
    if item.get("voicemail_transcript"):
        return _short("voicemail: " + item["voicemail_transcript"])
    return ""


def _status(item: dict[str, Any]) -> str:
    status = str(item.get("status") or "")
    if item["type"] == "call" and item.get("duration") is not None:
        return f"{status} {item['duration']}s"
    return status


def _print(page: TimelinePage, contact: str, limit: int) -> None:
    who = page.contact.get("phone") or page.contact.get("canvas_id")
    canvas = page.contact.get("canvas_url")
    title = f"{who}" + (f" — Canvas {canvas}" if canvas and "phone" in page.contact else "")
    table = Table("when (UTC)", "type", "dir", "status", "summary / text", title=title)
    table.add_column("links", overflow="fold")  # a cut link is no link
    for item in page.items:
        links = [item["notion_url"]] if item.get("notion_url") else []
        links += item.get("recording_urls") or []
        if item.get("voicemail_url"):
            links.append(item["voicemail_url"])
        when = str(item["occurred_at"]).replace("T", " ")[:19]
        table.add_row(
            when,
            item["type"],
            str(item.get("direction") or ""),
            _status(item),
            _what(item),
            "\n".join(links),
        )
    console = Console()
    console.print(table)
    if page.next_cursor:
        console.print(
            f"more: opsync timeline {contact!r} --limit {limit} --cursor {page.next_cursor}",
            soft_wrap=True,
        )
