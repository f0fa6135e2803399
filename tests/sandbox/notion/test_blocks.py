"""Block children through the official SDK: append limits, nesting, listing with cursors."""

from __future__ import annotations

from typing import Any

import pytest
from notion_client import APIResponseError, AsyncClient
from notion_client.helpers import async_collect_paginated_api

from opsync.sandbox.notion import SeededDatabases
from tests.sandbox.notion.conftest import ds_parent, paragraph, text


@pytest.fixture
async def page_id(notion: AsyncClient, seeded: SeededDatabases) -> str:
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id), properties={"Call ID": {"title": text("A")}}
    )
    return str(page["id"])


def toggle(title: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "toggle", "toggle": {"rich_text": text(title), "children": children}}


async def test_append_100_succeeds_and_101_is_rejected(notion: AsyncClient, page_id: str) -> None:
    done = await notion.blocks.children.append(
        page_id, children=[paragraph(f"line {i}") for i in range(100)]
    )
    assert len(done["results"]) == 100
    assert done["type"] == "block"
    assert done["has_more"] is False

    with pytest.raises(APIResponseError) as err:
        await notion.blocks.children.append(page_id, children=[paragraph("x")] * 101)
    assert (err.value.status, err.value.code) == (400, "validation_error")
    assert str(err.value) == (
        "body failed validation: body.children.length should be ≤ `100`, instead was `101`."
    )
    listed = await async_collect_paginated_api(notion.blocks.children.list, block_id=page_id)
    assert len(listed) == 100  # the rejected append wrote nothing


async def test_list_children_pages_through_cursors(notion: AsyncClient, page_id: str) -> None:
    for start in (0, 100):
        await notion.blocks.children.append(
            page_id, children=[paragraph(str(i)) for i in range(start, start + 100)]
        )
    first = await notion.blocks.children.list(page_id)
    assert len(first["results"]) == 100
    assert first["has_more"] is True
    rest = await notion.blocks.children.list(
        page_id, start_cursor=first["next_cursor"], page_size=60
    )
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in rest["results"]] == [
        str(i) for i in range(100, 160)
    ]
    assert rest["has_more"] is True


async def test_two_levels_of_nesting(notion: AsyncClient, page_id: str) -> None:
    nested = toggle("Transcript", [toggle("Part 1", [paragraph("Speaker A: hi")])])
    done = await notion.blocks.children.append(page_id, children=[nested])
    outer = done["results"][0]
    assert outer["has_children"] is True
    assert "children" not in outer["toggle"]
    inner = (await notion.blocks.children.list(outer["id"]))["results"][0]
    assert inner["parent"] == {"type": "block_id", "block_id": outer["id"]}
    leaf = (await notion.blocks.children.list(inner["id"]))["results"][0]
    assert leaf["paragraph"]["rich_text"][0]["plain_text"] == "Speaker A: hi"

    too_deep = toggle("a", [toggle("b", [toggle("c", [paragraph("d")])])])
    with pytest.raises(APIResponseError) as err:
        await notion.blocks.children.append(page_id, children=[too_deep])
    assert "body.children[0].toggle.children[0].toggle.children[0].toggle.children" in str(
        err.value
    )


async def test_1000_block_payload_limit(notion: AsyncClient, page_id: str) -> None:
    ten = [paragraph("x")] * 9
    ok = [toggle(str(i), ten) for i in range(100)]  # 100 + 900 = 1000 blocks
    await notion.blocks.children.append(page_id, children=ok)
    over = [toggle(str(i), [*ten, paragraph("y")]) for i in range(100)]  # 1100 blocks
    with pytest.raises(APIResponseError) as err:
        await notion.blocks.children.append(page_id, children=over)
    assert "1100 block elements" in str(err.value)


async def test_append_after_and_delete(notion: AsyncClient, page_id: str) -> None:
    first = await notion.blocks.children.append(page_id, children=[paragraph("1"), paragraph("3")])
    one = first["results"][0]["id"]
    await notion.blocks.children.append(page_id, children=[paragraph("2")], after=one)
    listed = await notion.blocks.children.list(page_id)
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in listed["results"]] == [
        "1",
        "2",
        "3",
    ]
    deleted = await notion.blocks.delete(one)
    assert deleted["in_trash"] is True
    listed = await notion.blocks.children.list(page_id)
    assert len(listed["results"]) == 2
    assert (await notion.blocks.retrieve(one))["archived"] is True


async def test_block_errors(notion: AsyncClient, page_id: str) -> None:
    cases: list[tuple[str, list[dict[str, Any]], str]] = [
        (page_id, [{"type": "paragraph", "paragraph": {"rich_text": text("x" * 2001)}}],
         "body.children[0].paragraph.rich_text[0].text.content.length should be ≤ `2000`"),
        (page_id, [{"type": "hologram", "hologram": {}}], "body.children[0].type"),
        ("00000000-0000-4000-8000-000000000000", [paragraph("x")], "Could not find block"),
    ]  # fmt: skip
    for target, children, message in cases:
        with pytest.raises(APIResponseError) as err:
            await notion.blocks.children.append(target, children=children)
        assert message in str(err.value)
    divider = await notion.blocks.children.append(
        page_id, children=[{"type": "divider", "divider": {}}]
    )
    with pytest.raises(APIResponseError) as err:
        await notion.blocks.children.append(divider["results"][0]["id"], children=[paragraph("x")])
    assert "does not support children" in str(err.value)
