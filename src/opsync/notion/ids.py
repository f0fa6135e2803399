"""Notion ids as the API and the store want them: lowercase, dashed UUIDs.

Operators paste ids in every shape: 32 hex digits, dashed UUIDs in any case, or a browser link
(``notion.so/<workspace>/<Title-slug>-<id>?v=<view>``, ``<team>.notion.site/<slug>-<id>``,
``app.notion.com/p/<id>``). The SDK's ``extract_notion_id`` returns ``None`` for the newer
``notion.com`` links, so this module parses them itself. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from opsync.errors import InvalidPayload

__all__ = ["InvalidNotionId", "normalize_id"]

_DOMAINS = ("notion.so", "notion.site", "notion.com")
_BARE_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# The id ends a path segment, alone or after a title slug ("Call-log-<id>").
_TRAILING_ID = re.compile(
    r"(?:^|-)([0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$"
)
_SHOWN_CHARS = 120


class InvalidNotionId(InvalidPayload, ValueError):
    """A string that is neither a Notion id nor a Notion link with one.

    Also a ``ValueError``, so settings validators report it as a bad value.
    """

    def __init__(self, value: str) -> None:
        self.value = value
        shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
        super().__init__(
            f"not a Notion id or Notion URL: {shown!r} (expected 32 hex digits, a UUID, "
            "or a notion.so / notion.site / app.notion.com link)"
        )


def normalize_id(value: str) -> str:
    """The lowercase dashed UUID in ``value`` (an id or a Notion URL).

    Raises :class:`InvalidNotionId` naming the input when there is none. For links the id in
    the path wins over a ``?v=`` view id or a ``#block`` fragment.
    """
    text = value.strip()
    if _BARE_ID.fullmatch(text):
        return str(uuid.UUID(text))
    found = _id_in_url(text)
    if found is None:
        raise InvalidNotionId(value)
    return str(uuid.UUID(found))


def _id_in_url(text: str) -> str | None:
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not _is_notion_host(parts.hostname or ""):
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments:
        return None
    match = _TRAILING_ID.search(segments[-1])
    return match.group(1) if match else None


def _is_notion_host(host: str) -> bool:
    host = host.lower()
    return any(host == domain or host.endswith("." + domain) for domain in _DOMAINS)
