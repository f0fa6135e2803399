"""A scripted Notion behind httpx.MockTransport, driven through the real notion-client SDK."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from notion_client import AsyncClient

from opsync.clock import FakeClock
from opsync.notion import NotionAdapter
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.retry import RetryPolicy

TOKEN = "ntn_TESTtoken0123456789abcdefSECRET"
DS_ID = "2a7e3b9c-0000-4000-8000-0000000000d5"
DB_ID = "2a7e3b9c-0000-4000-8000-0000000000db"
PAGE_ID = "2a7e3b9c-0000-4000-8000-00000000a9e1"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"object": "error", "status": status, "code": code, "message": message or code}
    return httpx.Response(status, json=body, headers=headers)


def page(page_id: str = PAGE_ID) -> httpx.Response:
    return httpx.Response(200, json={"object": "page", "id": page_id, "url": "https://x"})


def block_list(ids: list[str], *, has_more: bool = False, cursor: str | None = None) -> Any:
    results = [{"object": "block", "id": i, "type": "paragraph"} for i in ids]
    return {"object": "list", "results": results, "has_more": has_more, "next_cursor": cursor}


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012x}"


@dataclass
class FakeNotion:
    """Answers each ``(METHOD, path)`` from a queue of scripted replies; records requests.

    The last reply of a queue repeats. Exceptions are raised as the transport would.
    """

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1/")
        queue = self.routes.get((request.method, path))
        if not queue:
            return error(404, "object_not_found", f"no route {request.method} {path}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == f"/v1/{path}"]

    def bodies(self, method: str, path: str) -> list[Any]:
        return [json.loads(r.content) for r in self.calls(method, path)]


@dataclass
class Harness:
    notion: FakeNotion
    adapter: NotionAdapter
    clock: FakeClock
    bucket: TokenBucket


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    notion = FakeNotion()
    clock = FakeClock()
    bucket = TokenBucket(NOTION_LIMIT, clock)
    http = httpx.AsyncClient(transport=httpx.MockTransport(notion.handler))
    client = AsyncClient(
        client=http,
        auth=TOKEN,
        retry=False,
        base_url="https://notion.test",
        logger=logging.getLogger("tests.notion.sdk"),
    )
    adapter = NotionAdapter(
        client,
        pacer=bucket,
        retry=RetryPolicy(base=0.5, cap=8.0, max_attempts=4),
        clock=clock,
        rng=random.Random(7),
    )
    yield Harness(notion, adapter, clock, bucket)
    await http.aclose()
