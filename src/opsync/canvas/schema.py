"""The Canvas database as the lookup sees it: which property holds phones and emails, the
query filter for one number or address, and the values read back from a page (pure).

Finding the properties: the one named ``Phone`` (``Email``), compared without case; failing
that, the only property of type ``phone_number`` (``email``); failing that, the only text
property whose name contains ``phone`` (``mail``). An explicit name given to
:func:`canvas_schema` wins over all of these. Only ``phone_number``/``email``, ``rich_text``
and ``title`` properties can be searched; any other type is a :class:`NotionSchemaMismatch`.

Query design (one ``data_sources.query`` per number, then every candidate is checked here by
normalising the stored value, so a loose filter never links the wrong page):

* ``phone_number`` property: ``or`` of ``equals`` for each :func:`phone_variants` spelling,
  plus an ``and`` of ``contains`` for each :func:`phone_groups` digit group — the latter finds
  spellings not listed (``321 443-6893``, ``Tel 321/443/6893``);
* ``rich_text``/``title`` property: the same with ``contains`` for the spellings, so a cell
  holding more than the number (``321-443-6893 (cell)``) matches too;
* email: ``contains`` the normalised address (case-insensitive in Notion's text search),
  then an exact check after normalising the stored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsync.canvas.phones import normalize_email, phone_groups, phone_variants, phones_in
from opsync.errors import NotionSchemaMismatch
from opsync.notion import DataSourceSchema

__all__ = ["CanvasSchema", "canvas_schema", "email_filter", "phone_filter"]

JSON = dict[str, Any]
TEXT_TYPES = ("rich_text", "title")


@dataclass(frozen=True)
class CanvasSchema:
    """The Canvas data source: its id, title property, and the phone and email properties
    (name and type; ``None`` when the database has none)."""

    data_source_id: str
    title_property: str
    phone: tuple[str, str] | None
    email: tuple[str, str] | None

    def phones_of(self, page: Mapping[str, Any], default_region: str = "US") -> list[str]:
        """The E.164 numbers in the page's phone property."""
        if self.phone is None:
            return []
        return phones_in(_text_value(page, self.phone[0]), default_region)

    def email_of(self, page: Mapping[str, Any]) -> str | None:
        """The page's normalised email address."""
        if self.email is None:
            return None
        return normalize_email(_text_value(page, self.email[0]))

    def name_of(self, page: Mapping[str, Any]) -> str | None:
        """The page's title as plain text (``None`` when empty)."""
        return _text_value(page, self.title_property) or None


def _pick(
    properties: Mapping[str, str], wanted: str, own_type: str, hint: str, explicit: str | None
) -> tuple[str, str] | None:
    searchable = (own_type, *TEXT_TYPES)
    if explicit is not None:
        if explicit not in properties:
            raise NotionSchemaMismatch(f"the Canvas database has no property {explicit!r}")
        candidates = [explicit]
    else:
        candidates = [n for n in properties if n.casefold() == wanted.casefold()]
        if not candidates:
            candidates = [n for n, kind in properties.items() if kind == own_type]
        if not candidates:
            candidates = [
                n
                for n, kind in properties.items()
                if kind in TEXT_TYPES and hint in n.casefold() and kind != "title"
            ]
        if len(candidates) != 1:
            return None
    name = candidates[0]
    kind = properties[name]
    if kind not in searchable:
        raise NotionSchemaMismatch(
            f"the Canvas property {name!r} has type {kind!r}; "
            f"a lookup needs one of {', '.join(searchable)}"
        )
    return name, kind


def canvas_schema(
    schema: DataSourceSchema,
    *,
    phone_property: str | None = None,
    email_property: str | None = None,
) -> CanvasSchema:
    """Find the phone and email properties of the Canvas data source ``schema``."""
    props = schema.properties
    return CanvasSchema(
        data_source_id=schema.id,
        title_property=schema.title_property,
        phone=_pick(props, "Phone", "phone_number", "phone", phone_property),
        email=_pick(props, "Email", "email", "mail", email_property),
    )


def phone_filter(prop: tuple[str, str], e164: str) -> JSON:
    """The one query filter that finds every page whose ``prop`` may hold ``e164``."""
    name, kind = prop
    operator = "contains" if kind in TEXT_TYPES else "equals"
    spellings: list[JSON] = [
        {"property": name, kind: {operator: variant}} for variant in phone_variants(e164)
    ]
    groups: list[JSON] = [
        {"property": name, kind: {"contains": group}} for group in phone_groups(e164)
    ]
    return {"or": [*spellings, {"and": groups}]}


def email_filter(prop: tuple[str, str], email: str) -> JSON:
    """The query filter that finds every page whose ``prop`` may hold ``email``."""
    name, kind = prop
    return {"property": name, kind: {"contains": email}}


def _text_value(page: Mapping[str, Any], name: str) -> str:
    """A property's value as plain text, whatever its type (``""`` when empty)."""
    properties = page.get("properties")
    value = properties.get(name) if isinstance(properties, dict) else None
    if not isinstance(value, dict):
        return ""
    kind = value.get("type")
    raw = value.get(kind) if isinstance(kind, str) else None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return "".join(
            str(part.get("plain_text") or part.get("text", {}).get("content") or "")
            for part in raw
            if isinstance(part, dict)
        )
    return ""
