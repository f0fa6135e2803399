"""The guard against notion-client's silent keyword dropping, and block batching."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from notion_client import AsyncClient

from opsync.notion import _requests as rq
from tests.notion.conftest import TOKEN, uid

# How many path ids each SDK method takes positionally.
PATH_IDS = {
    "databases.retrieve": 1,
    "databases.create": 0,
    "data_sources.update": 1,
    "data_sources.retrieve": 1,
    "data_sources.query": 1,
    "pages.create": 0,
    "pages.update": 1,
    "pages.retrieve": 1,
    "blocks.children.append": 1,
    "blocks.children.list": 1,
    "file_uploads.create": 0,
    "file_uploads.send": 1,
    "users.me": 0,
}


def sample(key: str) -> Any:
    if key == "file":
        return ("probe.bin", b"probe", "application/octet-stream")
    return f"probe-{key}"


def keys_on_the_wire(request: httpx.Request) -> set[str]:
    keys = set(request.url.params.keys())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json") and request.content:
        keys |= set(json.loads(request.content))
    elif content_type.startswith("multipart/form-data"):
        keys |= {
            part.split('"')[0] for part in request.content.decode("latin-1").split('name="')[1:]
        }
    return keys


def test_every_method_the_adapter_uses_has_its_path_id_count() -> None:
    assert set(PATH_IDS) == set(rq.FORWARDED)
    assert set(rq.NOT_IDEMPOTENT) <= set(rq.FORWARDED)


@pytest.mark.parametrize("method", sorted(rq.FORWARDED))
async def test_every_key_the_adapter_may_send_reaches_the_wire(method: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "results": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = AsyncClient(
        client=http, auth=TOKEN, retry=False, logger=logging.getLogger("tests.notion.sdk")
    )
    try:
        kwargs = {key: sample(key) for key in rq.FORWARDED[method]}
        ids = [uid(1)] * PATH_IDS[method]
        await rq.sdk_call(client, method, *ids, **kwargs)
    finally:
        await http.aclose()
    [request] = seen
    assert rq.FORWARDED[method] <= keys_on_the_wire(request)


async def test_sdk_call_refuses_a_key_the_sdk_would_drop() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    client = AsyncClient(client=http, auth=TOKEN, retry=False)
    try:
        with pytest.raises(ValueError, match=r"pages.update would silently drop \['children'\]"):
            await rq.sdk_call(client, "pages.update", uid(1), children=[])
        with pytest.raises(ValueError, match="not an SDK method"):
            await rq.sdk_call(client, "databases.query", uid(1))
    finally:
        await http.aclose()


def paragraph() -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": []}}


def test_block_count_includes_nested_children() -> None:
    toggle = {
        "type": "toggle",
        "toggle": {"rich_text": [], "children": [paragraph(), {**paragraph(), "children": []}]},
    }
    assert rq.block_count(paragraph()) == 1
    assert rq.block_count(toggle) == 3
    assert rq.block_count({"type": "column_list", "children": [toggle, toggle]}) == 7


@pytest.mark.parametrize(
    ("n", "sizes"), [(0, []), (1, [1]), (100, [100]), (101, [100, 1]), (350, [100, 100, 100, 50])]
)
def test_batches_hold_at_most_100_blocks_in_order(n: int, sizes: list[int]) -> None:
    blocks = [{**paragraph(), "n": i} for i in range(n)]
    groups = list(rq.batches(blocks))
    assert [len(g) for g in groups] == sizes
    assert [b for g in groups for b in g] == blocks


def test_an_oversized_block_goes_alone() -> None:
    huge = {"type": "toggle", "toggle": {"rich_text": [], "children": [paragraph()] * 1200}}
    groups = list(rq.batches([paragraph(), huge, paragraph()]))
    assert [len(g) for g in groups] == [1, 1, 1]
