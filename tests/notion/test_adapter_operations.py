"""What each port operation sends and returns, through the real SDK on a mock transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from opsync.errors import InvalidPayload, NotionSchemaMismatch
from opsync.notion import BlocksIncomplete, OutcomeUnknown, QueryLimitReached
from tests.notion.conftest import (
    DB_ID,
    DS_ID,
    PAGE_ID,
    Harness,
    block_list,
    error,
    page,
    uid,
)

PROPS = {"Name": {"title": [{"text": {"content": "Call AC1"}}]}}
QUERY_PATH = f"data_sources/{DS_ID}/query"


def paragraphs(n: int) -> list[dict[str, Any]]:
    return [
        {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": f"line {i}"}}]}}
        for i in range(n)
    ]


def rows(start: int, n: int) -> list[dict[str, Any]]:
    return [{"object": "page", "id": uid(i)} for i in range(start, start + n)]


def query_page(results: list[Any], cursor: str | None, status: str = "complete") -> Any:
    return httpx.Response(
        200,
        json={
            "object": "list",
            "results": results,
            "has_more": cursor is not None,
            "next_cursor": cursor,
            "request_status": {"type": status, "incomplete_reason": "query_result_limit_reached"}
            if status == "incomplete"
            else {"type": status},
        },
    )


async def test_create_page_sends_a_data_source_parent_and_returns_the_id(
    harness: Harness,
) -> None:
    harness.notion.on("POST", "pages", page(PAGE_ID.replace("-", "").upper()))
    icon = {"type": "emoji", "emoji": "📞"}
    page_id = await harness.adapter.create_page(DS_ID.replace("-", ""), PROPS, icon=icon)
    assert page_id == PAGE_ID
    [body] = harness.notion.bodies("POST", "pages")
    assert body == {
        "parent": {"type": "data_source_id", "data_source_id": DS_ID},
        "properties": PROPS,
        "icon": icon,
    }


async def test_more_than_100_children_become_a_create_and_batched_appends(
    harness: Harness,
) -> None:
    children_path = f"blocks/{PAGE_ID}/children"
    harness.notion.on("POST", "pages", page())
    harness.notion.on("PATCH", children_path, httpx.Response(200, json=block_list([uid(1)])))
    await harness.adapter.create_page(DS_ID, PROPS, children=paragraphs(250))
    [create] = harness.notion.bodies("POST", "pages")
    appends = harness.notion.bodies("PATCH", children_path)
    assert len(create["children"]) == 100
    assert [len(a["children"]) for a in appends] == [100, 50]
    sent = create["children"] + appends[0]["children"] + appends[1]["children"]
    assert sent == paragraphs(250)


async def test_a_failed_append_after_create_names_the_new_page(harness: Harness) -> None:
    children_path = f"blocks/{PAGE_ID}/children"
    harness.notion.on("POST", "pages", page())
    harness.notion.on(
        "PATCH",
        children_path,
        httpx.Response(200, json=block_list([uid(1)])),
        error(504, "gateway_timeout"),
    )
    with pytest.raises(BlocksIncomplete) as caught:
        await harness.adapter.create_page(DS_ID, PROPS, children=paragraphs(301))
    assert caught.value.parent_id == PAGE_ID
    assert caught.value.written == 200
    assert isinstance(caught.value.__cause__, OutcomeUnknown)
    assert len(harness.notion.calls("PATCH", children_path)) == 2  # the 504 was not repeated


async def test_append_blocks_batches_by_count_and_by_nested_size(harness: Harness) -> None:
    path = f"blocks/{PAGE_ID}/children"
    harness.notion.on("PATCH", path, httpx.Response(200, json=block_list([uid(1), uid(2)])))
    toggle = {
        "type": "toggle",
        "toggle": {"rich_text": [], "children": paragraphs(99)},
    }  # 100 blocks in one element
    created = await harness.adapter.append_blocks(PAGE_ID, [toggle] * 11 + paragraphs(5))
    sizes = [len(body["children"]) for body in harness.notion.bodies("PATCH", path)]
    assert sizes == [10, 1 + 5]  # ≤ 1000 blocks per request counting nested children
    assert created == [uid(1), uid(2)] * 2


async def test_append_failing_on_its_first_batch_raises_the_failure_itself(
    harness: Harness,
) -> None:
    harness.notion.on("PATCH", f"blocks/{PAGE_ID}/children", httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknown):
        await harness.adapter.append_blocks(PAGE_ID, paragraphs(3))
    assert len(harness.notion.requests) == 1


async def test_query_streams_every_response_page_with_cursors(harness: Harness) -> None:
    harness.notion.on(
        "POST",
        QUERY_PATH,
        query_page(rows(0, 100), "c1"),
        query_page(rows(100, 100), "c2"),
        query_page(rows(200, 7), None),
    )
    sorts = [{"timestamp": "created_time", "direction": "ascending"}]
    ids = [p["id"] async for p in harness.adapter.query_data_source(DS_ID, sorts=sorts)]
    assert ids == [uid(i) for i in range(207)]
    bodies = harness.notion.bodies("POST", QUERY_PATH)
    assert [b.get("start_cursor") for b in bodies] == [None, "c1", "c2"]
    assert all(b["sorts"] == sorts and b["page_size"] == 100 for b in bodies)


async def test_query_fetches_lazily_one_response_page_at_a_time(harness: Harness) -> None:
    harness.notion.on("POST", QUERY_PATH, query_page(rows(0, 2), "c1"), query_page([], None))
    stream = harness.adapter.query_data_source(DS_ID)
    await anext(stream)
    assert len(harness.notion.requests) == 1
    await stream.aclose()


async def test_query_capped_at_10000_rows_is_detected(harness: Harness) -> None:
    harness.notion.on(
        "POST",
        QUERY_PATH,
        query_page(rows(0, 100), "c1", status="incomplete"),
    )
    seen: list[str] = []

    async def drain() -> None:
        async for row in harness.adapter.query_data_source(DS_ID):
            seen.append(row["id"])

    with pytest.raises(QueryLimitReached) as caught:
        await drain()
    assert len(seen) == 100  # every row received is yielded before the error
    assert caught.value.rows == 100
    assert "query_result_limit_reached" in str(caught.value)


async def test_find_pages_by_title_filters_on_the_title_property(harness: Harness) -> None:
    harness.notion.on("POST", QUERY_PATH, query_page(rows(1, 2), None))
    found = await harness.adapter.find_pages_by_title(DS_ID, "Call title", "Call AC1")
    assert found == [uid(1), uid(2)]
    [body] = harness.notion.bodies("POST", QUERY_PATH)
    assert body["filter"] == {"property": "Call title", "title": {"equals": "Call AC1"}}


async def test_archive_moves_the_page_to_the_trash(harness: Harness) -> None:
    harness.notion.on("PATCH", f"pages/{PAGE_ID}", page())
    await harness.adapter.archive_page(PAGE_ID)
    assert harness.notion.bodies("PATCH", f"pages/{PAGE_ID}") == [{"in_trash": True}]


async def test_list_block_children_follows_the_cursor(harness: Harness) -> None:
    path = f"blocks/{PAGE_ID}/children"
    harness.notion.on(
        "GET",
        path,
        httpx.Response(200, json=block_list([uid(1), uid(2)], has_more=True, cursor="k")),
        httpx.Response(200, json=block_list([uid(3)])),
    )
    children = await harness.adapter.list_block_children(PAGE_ID)
    assert [c["id"] for c in children] == [uid(1), uid(2), uid(3)]
    cursors = [r.url.params.get("start_cursor") for r in harness.notion.calls("GET", path)]
    assert cursors == [None, "k"]


async def test_database_id_resolves_to_its_data_source_once(harness: Harness) -> None:
    database = {"object": "database", "id": DB_ID, "data_sources": [{"id": DS_ID, "name": "A"}]}
    harness.notion.on("GET", f"databases/{DB_ID}", httpx.Response(200, json=database))
    assert await harness.adapter.data_source_id(DB_ID) == DS_ID
    assert await harness.adapter.data_source_id(DB_ID.replace("-", "")) == DS_ID
    assert len(harness.notion.requests) == 1


async def test_a_database_with_several_sources_needs_a_name(harness: Harness) -> None:
    sources = [{"id": DS_ID, "name": "Calls"}, {"id": uid(9), "name": "Messages"}]
    harness.notion.on(
        "GET",
        f"databases/{DB_ID}",
        httpx.Response(200, json={"object": "database", "id": DB_ID, "data_sources": sources}),
    )
    with pytest.raises(NotionSchemaMismatch, match="'Calls', 'Messages'"):
        await harness.adapter.data_source_id(DB_ID)
    assert await harness.adapter.data_source_id(DB_ID, name="Messages") == uid(9)


async def test_retrieve_data_source_reads_types_and_the_title_property(harness: Harness) -> None:
    source = {
        "object": "data_source",
        "id": DS_ID,
        "properties": {
            "Call": {"id": "title", "type": "title", "title": {}},
            "Phone": {"id": "a%3Bc", "type": "phone_number", "phone_number": {}},
        },
    }
    harness.notion.on("GET", f"data_sources/{DS_ID}", httpx.Response(200, json=source))
    schema = await harness.adapter.retrieve_data_source(DS_ID)
    assert schema.title_property == "Call"
    assert dict(schema.properties) == {"Call": "title", "Phone": "phone_number"}


async def test_upload_file_creates_then_sends_multipart(harness: Harness) -> None:
    upload_id = uid(77)
    harness.notion.on(
        "POST", "file_uploads", httpx.Response(200, json={"id": upload_id, "status": "pending"})
    )
    harness.notion.on(
        "POST",
        f"file_uploads/{upload_id}/send",
        httpx.Response(200, json={"id": upload_id, "status": "uploaded"}),
    )
    got = await harness.adapter.upload_file("call.mp3", "audio/mpeg", b"ID3-audio-bytes")
    assert got == upload_id
    assert harness.notion.bodies("POST", "file_uploads") == [
        {"mode": "single_part", "filename": "call.mp3", "content_type": "audio/mpeg"}
    ]
    [send] = harness.notion.calls("POST", f"file_uploads/{upload_id}/send")
    assert send.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="call.mp3"' in send.content
    assert b"Content-Type: audio/mpeg" in send.content
    assert b"ID3-audio-bytes" in send.content


async def test_upload_send_with_unknown_outcome_is_not_repeated(harness: Harness) -> None:
    upload_id = uid(78)
    harness.notion.on("POST", "file_uploads", httpx.Response(200, json={"id": upload_id}))
    harness.notion.on("POST", f"file_uploads/{upload_id}/send", error(500, "internal_server_error"))
    with pytest.raises(OutcomeUnknown):
        await harness.adapter.upload_file("call.mp3", "audio/mpeg", b"x")
    assert len(harness.notion.calls("POST", f"file_uploads/{upload_id}/send")) == 1


async def test_upload_over_the_single_part_limit_is_refused_locally(harness: Harness) -> None:
    with pytest.raises(InvalidPayload, match="20 MB"):
        await harness.adapter.upload_file("big.wav", "audio/wav", b"\0" * (20 * 1024 * 1024 + 1))
    assert harness.notion.requests == []


async def test_max_upload_size_comes_from_users_me_and_is_cached(harness: Harness) -> None:
    me = {"object": "user", "bot": {"workspace_limits": {"max_file_upload_size_in_bytes": 5242880}}}
    harness.notion.on("GET", "users/me", httpx.Response(200, json=me))
    assert await harness.adapter.max_upload_size() == 5242880
    assert await harness.adapter.max_upload_size() == 5242880
    assert len(harness.notion.requests) == 1


async def test_every_request_carries_the_version_and_the_token(harness: Harness) -> None:
    harness.notion.on("PATCH", f"pages/{PAGE_ID}", page())
    await harness.adapter.update_page(PAGE_ID, PROPS)
    [request] = harness.notion.requests
    assert request.headers["notion-version"] == "2025-09-03"
    assert request.headers["authorization"].startswith("Bearer ntn_")
    assert json.loads(request.content) == {"properties": PROPS}
