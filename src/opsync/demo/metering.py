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
    """ASGI middleware counting Notion requests per kind in :attr:`requests`."""

    def __init__(self, app: ASGIApp, state: NotionState, data_sources: Mapping[str, str]):
        """``data_sources``: data source id → kind (``calls``, ``messages``, ``canvas``)."""
        self.app = app
        self.state = state
        self.data_sources = {parse_id(k) or k: v for k, v in data_sources.items()}
        self.requests: Counter[str] = Counter()

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

        await self.app(scope, recording, send)
        self.requests[self.kind(scope["method"], scope["path"], b"".join(chunks))] += 1

    def kind(self, method: str, path: str, body: bytes) -> str:
        """The kind of one request (``shared`` when it serves no one resource kind)."""
        if method == "POST" and path == "/v1/pages":
            return self._kind_of_parent(_json(body).get("parent"))
        if match := _QUERY.match(path):
            return self.data_sources.get(parse_id(match[1]) or "", "shared")
        if match := _PAGE.match(path):
            return self._kind_of_page(parse_id(match[1]))
        if match := _BLOCK.match(path):
            return self._kind_of_block(parse_id(match[1]))
        return "shared"

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

    def _kind_of_block(self, block_id: str | None) -> str:
        for _ in range(64):  # nesting is shallow; the bound guards against a cycle
            if block_id is None:
                return "shared"
            if block_id in self.state.pages:
                return self._kind_of_page(block_id)
            block = self.state.blocks.blocks.get(block_id)
            if block is None:
                return "shared"
            parent = block.parent
            block_id = parse_id(parent.get("page_id") or parent.get("block_id"))
        return "shared"


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
