"""The rest of the surface: search, database updates, more property and block types."""

from __future__ import annotations

from typing import Any

import pytest
from notion_client import APIResponseError, AsyncClient

from opsync.clock import FakeClock
from opsync.sandbox.notion import SeededDatabases
from tests.sandbox.notion.conftest import ds_parent, text


async def test_search_by_title(
    notion: AsyncClient, seeded: SeededDatabases, clock: FakeClock
) -> None:
    clock.advance(60)
    await notion.pages.create(
        parent=ds_parent(seeded.canvas_data_source_id),
        properties={"Name": {"title": text("Callisto")}},
    )
    everything = await notion.search(query="call")
    kinds = [(r["object"], r["id"]) for r in everything["results"]]
    assert kinds[0][0] == "page"  # most recently edited first
    assert ("data_source", seeded.calls_data_source_id) in kinds
    sources = await notion.search(
        query="", filter={"property": "object", "value": "data_source"}, page_size=2
    )
    assert {r["object"] for r in sources["results"]} == {"data_source"}
    assert sources["has_more"] is True
    with pytest.raises(APIResponseError):
        await notion.search(filter={"property": "object", "value": "database"})


async def test_update_and_trash_a_database(notion: AsyncClient, seeded: SeededDatabases) -> None:
    updated = await notion.databases.update(
        seeded.canvas_database_id,
        title=text("Customers"),
        description=text("CRM"),
        icon={"type": "emoji", "emoji": "👥"},
        is_inline=True,
    )
    assert updated["title"][0]["plain_text"] == "Customers"
    assert updated["description"][0]["plain_text"] == "CRM"
    assert updated["is_inline"] is True
    trashed = await notion.databases.update(seeded.canvas_database_id, in_trash=True)
    assert trashed["in_trash"] is True
    ds = await notion.data_sources.update(seeded.canvas_data_source_id, title=text("People"))
    assert ds["title"][0]["plain_text"] == "People"


async def test_database_id_parent_and_workspace_database(notion: AsyncClient) -> None:
    db = await notion.databases.create(
        parent={"type": "workspace", "workspace": True},
        title=text("Loose"),
        initial_data_source={"properties": {"Title": {"title": {}}}},
    )
    page = await notion.pages.create(
        parent={"type": "database_id", "database_id": db["id"]},
        properties={"Title": {"title": text("row")}},
    )
    assert page["parent"]["data_source_id"] == db["data_sources"][0]["id"]
    await notion.data_sources.create(
        parent={"type": "database_id", "database_id": db["id"]},
        properties={"Title": {"title": {}}},
    )
    with pytest.raises(APIResponseError) as err:
        await notion.pages.create(parent={"type": "database_id", "database_id": db["id"]})
    assert "use a `data_source_id` parent" in str(err.value)


@pytest.fixture
async def rich_ds(notion: AsyncClient, seeded: SeededDatabases) -> str:
    await notion.data_sources.update(
        seeded.canvas_data_source_id,
        properties={
            "Tags": {"multi_select": {"options": [{"name": "vip", "color": "red"}]}},
            "Stage": {"status": {}},
            "Owner": {"people": {}},
            "Docs": {"files": {}},
            "Score": {"number": {"format": "percent"}},
        },
    )
    return seeded.canvas_data_source_id


async def test_multi_select_status_people_and_external_files(
    notion: AsyncClient, rich_ds: str
) -> None:
    me = await notion.users.me()
    page = await notion.pages.create(
        parent=ds_parent(rich_ds),
        properties={
            "Name": {"title": [{"type": "equation", "equation": {"expression": "e=mc^2"}}]},
            "Tags": {"multi_select": [{"name": "vip"}, {"name": "new"}]},
            "Stage": {"status": {"name": "In progress"}},
            "Owner": {"people": [{"object": "user", "id": me["id"]}]},
            "Docs": {
                "files": [
                    {"type": "external", "name": "c.pdf", "external": {"url": "https://x.test/c"}}
                ]
            },
        },
    )
    props = page["properties"]
    assert props["Name"]["title"][0]["plain_text"] == "e=mc^2"
    assert [t["name"] for t in props["Tags"]["multi_select"]] == ["vip", "new"]
    assert props["Stage"]["status"]["name"] == "In progress"
    assert props["Owner"]["people"] == [{"object": "user", "id": me["id"]}]
    assert props["Docs"]["files"][0]["external"]["url"] == "https://x.test/c"
    found = await notion.data_sources.query(
        rich_ds, filter={"property": "Tags", "multi_select": {"contains": "new"}}
    )
    assert [r["id"] for r in found["results"]] == [page["id"]]
    sorted_by_stage = await notion.data_sources.query(
        rich_ds, sorts=[{"property": "Stage", "direction": "ascending"}]
    )
    assert sorted_by_stage["results"][0]["id"] == page["id"]

    with pytest.raises(APIResponseError) as err:
        await notion.pages.update(page["id"], properties={"Stage": {"status": {"name": "Nope"}}})
    assert "Status option" in str(err.value)


async def test_retyping_a_property_clears_its_values(notion: AsyncClient, rich_ds: str) -> None:
    page = await notion.pages.create(
        parent=ds_parent(rich_ds), properties={"Score": {"number": 0.5}}
    )
    ds = await notion.data_sources.update(
        rich_ds,
        properties={
            "Score": {"rich_text": {}},
            "Tags": {"multi_select": {"options": [{"name": "vip", "color": "blue"}]}},
        },
    )
    assert ds["properties"]["Score"]["type"] == "rich_text"
    assert ds["properties"]["Tags"]["multi_select"]["options"][0]["color"] == "blue"
    again = await notion.pages.retrieve(page["id"])
    assert again["properties"]["Score"]["rich_text"] == []
    with pytest.raises(APIResponseError) as err:
        await notion.data_sources.update(rich_ds, properties={"Name": {"rich_text": {}}})
    assert "title property" in str(err.value)
    with pytest.raises(APIResponseError):
        await notion.data_sources.update(rich_ds, properties={"Tags": {"name": "Stage"}})


async def test_editing_a_trashed_page_is_refused(notion: AsyncClient, rich_ds: str) -> None:
    page = await notion.pages.create(parent=ds_parent(rich_ds), properties={})
    await notion.blocks.delete(page["id"])
    with pytest.raises(APIResponseError) as err:
        await notion.pages.update(page["id"], properties={"Score": {"number": 1}})
    assert "archived" in str(err.value)
    with pytest.raises(APIResponseError):
        await notion.blocks.children.append(page["id"], children=[])


BLOCKS: list[dict[str, Any]] = [
    {"type": "to_do", "to_do": {"rich_text": text("call back"), "checked": True}},
    {"type": "code", "code": {"rich_text": text("{}"), "language": "json"}},
    {"type": "callout", "callout": {"rich_text": text("!"), "icon": {"emoji": "📞"},
                                    "color": "gray_background"}},
    {"type": "bookmark", "bookmark": {"url": "https://example.com"}},
    {"type": "audio", "audio": {"type": "external", "external": {"url": "https://x.test/a.mp3"}}},
    {"type": "heading_3", "heading_3": {"rich_text": text("T"), "is_toggleable": True,
                                        "children": [{"type": "divider", "divider": {}}]}},
]  # fmt: skip


async def test_more_block_types(notion: AsyncClient, rich_ds: str) -> None:
    page = await notion.pages.create(parent=ds_parent(rich_ds), properties={}, children=BLOCKS)
    listed = (await notion.blocks.children.list(page["id"]))["results"]
    assert [b["type"] for b in listed] == [b["type"] for b in BLOCKS]
    assert listed[0]["to_do"]["checked"] is True
    assert listed[1]["code"]["language"] == "json"
    assert listed[4]["audio"]["external"]["url"] == "https://x.test/a.mp3"
    assert listed[5]["has_children"] is True
    retrieved = await notion.blocks.retrieve(listed[3]["id"])
    assert retrieved["bookmark"]["url"] == "https://example.com"
    flat = {"type": "heading_2", "heading_2": {"rich_text": [], "children": [BLOCKS[0]]}}
    with pytest.raises(APIResponseError):
        await notion.blocks.children.append(page["id"], children=[flat])
