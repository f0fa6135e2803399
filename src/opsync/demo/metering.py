"""Which resource kind each upstream request served: calls, messages, Canvas or shared work.

The simulators count requests per endpoint only. For the economy figures (requests per call,
per message) the demo attributes each one:

* Notion — :class:`NotionMeter` wraps the simulator's ASGI app and looks at what a request
  touches: the data source of a created page (from the body's ``parent``), of an updated page
  or of the page a block belongs to, or the queried data source;
* OpenPhone — :func:`openphone_kind` maps the simulator's endpoint templates.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsync.sandbox.notion import NotionState
from opsync.sandbox.notion._common import parse_id

KINDS = ("calls", "messages", "canvas", "shared")
_PAGE = re.compile(r"^/v1/pages/([^/]+)")
_BLOCK = re.compile(r"^/v1/blocks/([^/]+)")
_QUERY = re.compile(r"^/v1/data_sources/([^/]+)/query$")
#: media downloads count for calls: opsync fetches recordings and voicemails, while message
#: attachments are only linked (the simulator counts all media under one template)
_OPENPHONE_KINDS = (
    ("/v1/call", "calls"),
    ("/media/", "calls"),
    ("/v1/messages", "messages"),
    ("/v1/webhooks", "setup"),
)


def openphone_kind(endpoint: str) -> str:
    """``"GET /v1/calls/{callId}"`` → ``calls``; directory look-ups are ``shared``; the demo's
    own webhook registration is ``setup``."""
    path = endpoint.partition(" ")[2]
    return next((kind for prefix, kind in _OPENPHONE_KINDS if path.startswith(prefix)), "shared")


def openphone_requests(by_endpoint: Mapping[str, int]) -> Counter[str]:
    """Requests per kind from the simulator's per-endpoint counters."""
    out: Counter[str] = Counter()
    for endpoint, count in by_endpoint.items():
        out[openphone_kind(endpoint)] += count
    return out


class NotionMeter:
    """ASGI middleware counting Notion requests per kind in :attr:`requests`, and per page
    title (a call's or message's id) in :attr:`by_title` for requests that touch one page."""

    def __init__(self, app: ASGIApp, state: NotionState, data_sources: Mapping[str, str]):
        """``data_sources``: data source id → kind (``calls``, ``messages``, ``canvas``)."""
        self.app = app
        self.state = state
        self.data_sources = {parse_id(k) or k: v for k, v in data_sources.items()}
        self.requests: Counter[str] = Counter()
        self.by_title: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        title = self.title(scope["method"], scope["path"], b"")  # before a DELETE removes it
        await self.app(scope, recording, send)
        body = b"".join(chunks)
        self.requests[self.kind(scope["method"], scope["path"], body)] += 1
        title = title or self.title(scope["method"], scope["path"], body)
        if title:
            self.by_title[title] += 1

    def kind(self, method: str, path: str, body: bytes) -> str:
        """The kind of one request (``shared`` when it serves no one resource kind)."""
        if method == "POST" and path == "/v1/pages":
            return self._kind_of_parent(_json(body).get("parent"))
        if match := _QUERY.match(path):
            return self.data_sources.get(parse_id(match[1]) or "", "shared")
        if match := _PAGE.match(path):
            return self._kind_of_page(parse_id(match[1]))
        if match := _BLOCK.match(path):
            return self._kind_of_page(self._page_of_block(parse_id(match[1])))
        return "shared"

    def title(self, method: str, path: str, body: bytes) -> str | None:
        """The title of the one page a request creates or touches, if any."""
        if method == "POST" and path == "/v1/pages":
            properties = _json(body).get("properties")
            for value in properties.values() if isinstance(properties, dict) else ():
                if isinstance(value, dict) and isinstance(value.get("title"), list):
                    return "".join(_content(part) for part in value["title"]) or None
            return None
        page_id: str | None = None
        if match := _PAGE.match(path):
            page_id = parse_id(match[1])
        elif match := _BLOCK.match(path):
            page_id = self._page_of_block(parse_id(match[1]))
        page = self.state.pages.get(page_id or "")
        if page is None or page.data_source_id not in self.data_sources:
            return None
        rendered = self.state.render_page(page)["properties"].values()
        parts: list[dict[str, Any]] = next(
            (v["title"] for v in rendered if v["type"] == "title"), []
        )
        return "".join(str(part.get("plain_text", "")) for part in parts) or None

    def _kind_of_parent(self, parent: Any) -> str:
        if not isinstance(parent, dict):
            return "shared"
        source = parse_id(parent.get("data_source_id"))
        if source is not None:
            return self.data_sources.get(source, "shared")
        database = parse_id(parent.get("database_id"))
        db = self.state.databases.get(database or "")
        if db is not None and db.data_source_ids:
            return self.data_sources.get(db.data_source_ids[0], "shared")
        return "shared"

    def _kind_of_page(self, page_id: str | None) -> str:
        page = self.state.pages.get(page_id or "")
        if page is None or page.data_source_id is None:
            return "shared"
        return self.data_sources.get(page.data_source_id, "shared")

    def _page_of_block(self, block_id: str | None) -> str | None:
        for _ in range(64):  # nesting is shallow; the bound guards against a cycle
            if block_id is None or block_id in self.state.pages:
                return block_id
            block = self.state.blocks.blocks.get(block_id)
            if block is None:
                return None
            parent = block.parent
            block_id = parse_id(parent.get("page_id") or parent.get("block_id"))
        return None


def _content(part: Any) -> str:
    text = part.get("text") if isinstance(part, dict) else None
    return str(text.get("content", "")) if isinstance(text, dict) else ""


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
