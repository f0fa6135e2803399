"""Notion property values in request form, each within Notion's limits (pure).

A missing value renders as the type's "clear" value (``{"number": None}``, ``{"rich_text":
[]}``, ...), so an update always overwrites what an earlier render wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from opsync.render.text import JSON, MAX_ARRAY, MAX_TEXT_UNITS, TRUNCATED, rich_text

MAX_URL = 2000
MAX_PHONE = 200
MAX_OPTION_NAME = 100


def title(text: str) -> JSON:
    """A title value; an id-like title is short, but a long one is cut with a marker."""
    return {"title": rich_text(text, max_units=MAX_TEXT_UNITS * 4)}


def text(
    value: str | None, *, max_units: int = MAX_TEXT_UNITS * 4, marker: str = TRUNCATED
) -> JSON:
    """A rich-text value of at most ``max_units`` UTF-16 units (cut with ``marker``)."""
    return {"rich_text": rich_text(value or "", max_units=max_units, marker=marker)}


def short_text(value: str | None) -> JSON:
    """A one-segment rich-text value (ids, numbers, names)."""
    return text(value, max_units=MAX_TEXT_UNITS)


def select(name: str | None) -> JSON:
    """A select value. Commas are not allowed in option names, so they become spaces."""
    if name is None:
        return {"select": None}
    cleaned = " ".join(name.replace(",", " ").split())[:MAX_OPTION_NAME].strip()
    return {"select": {"name": cleaned} if cleaned else None}


def number(value: int | float | None) -> JSON:
    """A number value."""
    return {"number": value}


def checkbox(value: bool) -> JSON:
    """A checkbox value."""
    return {"checkbox": value}


def iso(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 with milliseconds and a zone; a naive time is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time without a zone cannot be rendered: {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def date(moment: datetime | None) -> JSON:
    """A date value (a single date-time)."""
    return {"date": None if moment is None else {"start": iso(moment)}}


def url(value: str | None) -> JSON:
    """A url value; a URL longer than Notion's 2,000 characters is left out."""
    return {"url": value if value and len(value) <= MAX_URL else None}


def phone(value: str | None) -> JSON:
    """A phone_number value; a value over Notion's 200 characters is left out."""
    return {"phone_number": value if value and len(value) <= MAX_PHONE else None}


def relation(page_ids: Sequence[str | None]) -> JSON:
    """A relation value: the given pages (duplicates and ``None`` dropped, at most 100)."""
    unique = list(dict.fromkeys(page_id for page_id in page_ids if page_id))
    return {"relation": [{"id": page_id} for page_id in unique[:MAX_ARRAY]]}
