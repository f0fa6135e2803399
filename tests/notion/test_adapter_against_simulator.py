"""The adapter end to end: the official SDK over real HTTP to the Notion simulator."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from opsync.clock import FakeClock
from opsync.errors import AuthError, NotFound, NotionSchemaMismatch
from opsync.notion import NotionAdapter, OutcomeUnknown
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.retry import RetryPolicy
from opsync.sandbox._server import serve
from opsync.sandbox.notion import (
    FaultConfig,
    NotionSimulator,
    NotionState,
    SeededDatabases,
    seed_databases,
)

TOKEN = "ntn_simulatorToken42"


@dataclass
class Live:
    simulator: NotionSimulator
    seeded: SeededDatabases
    adapter: NotionAdapter
    base_url: str


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    simulator = NotionSimulator(NotionState(FakeClock(), seed=11), api_key=TOKEN, rate_limit=None)
    seeded = seed_databases(simulator.state)
    clock = FakeClock()
    async with serve(simulator.app) as base_url:
        adapter = NotionAdapter.from_token(
            TOKEN,
            base_url=base_url,
            pacer=TokenBucket(NOTION_LIMIT, clock),
            retry=RetryPolicy(base=0.1, cap=1.0, max_attempts=3),
            clock=clock,
            rng=random.Random(3),
        )
        try:
            yield Live(simulator, seeded, adapter, base_url)
        finally:
            await adapter.aclose()


def title(text: str) -> dict[str, Any]:
    return {"title": [{"type": "text", "text": {"content": text}}]}


def paragraphs(n: int, prefix: str = "line") -> list[dict[str, Any]]:
    return [
        {
            "type": "paragraph",
            "paragraph": {"rich_text": [{"type": "text", "text": {"content": f"{prefix} {i}"}}]},
        }
        for i in range(n)
    ]


async def test_create_find_update_and_append_a_call_page(live: Live) -> None:
    adapter = live.adapter
    ds = await adapter.data_source_id(live.seeded.calls_database_id)
    assert ds == live.seeded.calls_data_source_id
    schema = await adapter.retrieve_data_source(ds)
    assert schema.title_property == "Call ID"
    assert schema.properties["Duration"] == "number"

    page_id = await adapter.create_page(
        ds, {"Call ID": title("AC-live-1"), "Duration": {"number": 30}}, children=paragraphs(150)
    )
    assert await adapter.find_pages_by_title(ds, "Call ID", "AC-live-1") == [page_id]
    assert await adapter.find_pages_by_title(ds, "Call ID", "AC-other") == []

    await adapter.update_page(page_id, {"Duration": {"number": 45}})
    query = adapter.query_data_source(ds, {"property": "Duration", "number": {"equals": 45}})
    assert [row["id"] async for row in query] == [page_id]

    created = await adapter.append_blocks(page_id, paragraphs(120, prefix="more"))
    assert len(created) == 120
    children = await adapter.list_block_children(page_id)
    assert len(children) == 270
    assert [c["id"] for c in children[150:]] == created


async def test_query_streams_many_rows_across_response_pages(live: Live) -> None:
    ds = live.seeded.messages_data_source_id
    schema = await live.adapter.retrieve_data_source(ds)
    for i in range(105):
        await live.adapter.create_page(ds, {schema.title_property: title(f"msg {i:03}")})
    rows = [row async for row in live.adapter.query_data_source(ds)]
    assert len({row["id"] for row in rows}) == 105


async def test_upload_a_recording_and_attach_it(live: Live) -> None:
    cap = await live.adapter.max_upload_size()
    assert cap is None or cap > 1000
    upload_id = await live.adapter.upload_file("call.mp3", "audio/mpeg", b"ID3" + b"\0" * 512)
    page_id = await live.adapter.create_page(
        live.seeded.calls_data_source_id, {"Call ID": title("AC-audio")}
    )
    audio = {"type": "audio", "audio": {"type": "file_upload", "file_upload": {"id": upload_id}}}
    [block_id] = await live.adapter.append_blocks(page_id, [audio])
    [child] = await live.adapter.list_block_children(page_id)
    assert child["id"] == block_id
    assert child["type"] == "audio"


async def test_a_504_after_the_write_is_outcome_unknown_and_the_page_can_be_found(
    live: Live,
) -> None:
    ds = live.seeded.calls_data_source_id
    live.simulator.set_faults(FaultConfig(gateway_timeout=1.0, write_applied=1.0))
    with pytest.raises(OutcomeUnknown):
        await live.adapter.create_page(ds, {"Call ID": title("AC-unknown")})
    live.simulator.set_faults(FaultConfig())
    # What the sync layer does next: look the page up instead of creating it again.
    assert len(await live.adapter.find_pages_by_title(ds, "Call ID", "AC-unknown")) == 1


async def test_archive_then_errors_map_to_our_types(live: Live) -> None:
    ds = live.seeded.calls_data_source_id
    page_id = await live.adapter.create_page(ds, {"Call ID": title("AC-trash")})
    await live.adapter.archive_page(page_id)
    assert await live.adapter.find_pages_by_title(ds, "Call ID", "AC-trash") == []

    with pytest.raises(NotionSchemaMismatch, match="has no property 'No Such Column'"):
        await live.adapter.create_page(ds, {"No Such Column": {"number": 1}})
    with pytest.raises(NotFound, match="not shared with the integration"):
        await live.adapter.update_page("0" * 32, {"Duration": {"number": 1}})

    intruder = NotionAdapter.from_token(
        "ntn_wrongToken", base_url=live.base_url, pacer=TokenBucket(NOTION_LIMIT, FakeClock())
    )
    try:
        with pytest.raises(AuthError) as caught:
            await intruder.retrieve_data_source(ds)
    finally:
        await intruder.aclose()
    assert "ntn_wrongToken" not in str(caught.value)
