"""Turn Notion's terse ``validation_error`` about a page's properties into a reason a person
can act on: which property of which database, what it is, what opsync needs, what to do.

Notion names the property but not the database, and says only what type the property *has*:
``"Duration is expected to be rich_text."`` (the value we sent did not match the schema) or
``"Duration is not a property that exists."``. What opsync expected is the type of the value
it sent; the database is the page's data source, whose title the adapter looks up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from opsync.errors import NotionSchemaMismatch

_WRONG_TYPE: Final = re.compile(r"^(?P<name>.+?) is expected to be (?P<actual>[a-z_]+)\.?$")
_MISSING: Final = re.compile(r"^(?P<name>.+?) is not a property that exists\.?$")
REPLAY_HINT: Final = "then replay the event from the dead letters"


@dataclass(frozen=True)
class PropertyRejection:
    """What Notion's message says: the property's name and the type it has (None: absent)."""

    name: str
    actual: str | None


def parse_rejection(message: str) -> PropertyRejection | None:
    """The property a ``validation_error`` message is about, or None for any other message."""
    text = message.strip()
    if match := _WRONG_TYPE.match(text):
        return PropertyRejection(match["name"], match["actual"])
    if match := _MISSING.match(text):
        return PropertyRejection(match["name"], None)
    return None


def sent_type(properties: Mapping[str, Any], name: str) -> str | None:
    """The property type of the value sent for ``name`` (``{"number": 5}`` → ``number``)."""
    value = properties.get(name)
    if not isinstance(value, Mapping):
        return None
    declared = value.get("type")
    if isinstance(declared, str):
        return declared
    kinds = [key for key in value if key not in ("id", "type")]
    return kinds[0] if len(kinds) == 1 else None


def explain(
    rejection: PropertyRejection,
    expected: str | None,
    database: str,
    actual: str | None = None,
) -> NotionSchemaMismatch:
    """The actionable error. ``database`` names it (``the 'Calls' database (data source …)``);
    ``actual``, when the data source was read, overrides the type Notion's message gave."""
    has = actual or rejection.actual
    want = expected or "the type opsync writes"
    prop = f"property {rejection.name!r} of {database}"
    if has is None:
        text = (
            f"Notion rejected the page: {database} has no property {rejection.name!r}; "
            f"add it as a {want} property (or rename the existing one back), {REPLAY_HINT}"
        )
    else:
        text = (
            f"Notion rejected the page: {prop} is {has}, expected {want}; "
            f"change the property's type to {want} in Notion, {REPLAY_HINT}"
        )
    return NotionSchemaMismatch(text)


def data_source_title(source: Mapping[str, Any]) -> str:
    """The plain title of a data source object ('' when it has none)."""
    title = source.get("title")
    if not isinstance(title, list):
        return ""
    parts: list[str] = []
    for item in title:
        if not isinstance(item, Mapping):
            continue
        plain = item.get("plain_text")
        if not isinstance(plain, str):
            text = item.get("text")
            content = text.get("content") if isinstance(text, Mapping) else None
            plain = content if isinstance(content, str) else ""
        parts.append(plain)
    return "".join(parts).strip()
