"""The simulator's write hook sees each write before and after it is applied; an error raised
before the write answers with that error and applies nothing."""

from __future__ import annotations

import pytest
from notion_client import APIResponseError, AsyncClient

from opsync.sandbox.notion import NotionError, NotionSimulator, SeededDatabases
from opsync.sandbox.notion.app import WriteCall


def call_page(seeded: SeededDatabases, title: str) -> dict[str, object]:
    return {
        "parent": {"type": "data_source_id", "data_source_id": seeded.calls_data_source_id},
        "properties": {"Call ID": {"title": [{"text": {"content": title}}]}},
    }


def titles(simulator: NotionSimulator, seeded: SeededDatabases) -> list[str]:
    pages = simulator.state.query(seeded.calls_data_source_id, {})["results"]
    return ["".join(t["plain_text"] for t in p["properties"]["Call ID"]["title"]) for p in pages]


async def test_the_hook_sees_a_create_before_and_after_it_lands(
    simulator: NotionSimulator, seeded: SeededDatabases, notion: AsyncClient
) -> None:
    seen: list[tuple[str, str, list[str]]] = []

    async def hook(call: WriteCall) -> None:
        seen.append((call.moment, call.endpoint, titles(simulator, seeded)))

    simulator.write_hook = hook
    await notion.pages.create(**call_page(seeded, "AC1"))
    await notion.data_sources.query(data_source_id=seeded.calls_data_source_id)  # a read: unseen
    assert seen == [("before", "POST /v1/pages", []), ("applied", "POST /v1/pages", ["AC1"])]


async def test_an_error_raised_before_the_write_applies_nothing(
    simulator: NotionSimulator, seeded: SeededDatabases, notion: AsyncClient
) -> None:
    async def refuse(call: WriteCall) -> None:
        if call.moment == "before":
            raise NotionError(503, "service_unavailable", "Notion is unavailable.")

    simulator.write_hook = refuse
    with pytest.raises(APIResponseError) as caught:
        await notion.pages.create(**call_page(seeded, "AC2"))
    assert caught.value.status == 503
    assert titles(simulator, seeded) == []
