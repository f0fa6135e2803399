"""Databases and data sources through the official SDK: create, retrieve, schema changes."""

from __future__ import annotations

import pytest
from notion_client import APIResponseError, AsyncClient

from opsync.sandbox.notion import SeededDatabases
from opsync.sandbox.notion.seed_schema import (
    CALL_STATUSES,
    CALLS,
    CALLS_PROPERTIES,
    MESSAGES_PROPERTIES,
    database_body,
)
from tests.sandbox.notion.conftest import ds_parent, text

# Reference §4.8, verbatim apart from the parent page id.
CREATE_DATABASE = {
    "title": [{"type": "text", "text": {"content": "Calls"}}],
    "is_inline": False,
    "icon": {"type": "emoji", "emoji": "📞"},
    "initial_data_source": {
        "properties": {
            "Name": {"title": {}},
            "Call ID": {"rich_text": {}},
            "Phone": {"phone_number": {}},
            "Direction": {
                "select": {
                    "options": [
                        {"name": "Inbound", "color": "green"},
                        {"name": "Outbound", "color": "blue"},
                    ]
                }
            },
            "Call time": {"date": {}},
            "Duration (s)": {"number": {"format": "number"}},
            "Recording": {"files": {}},
        }
    },
}


async def test_create_database_returns_its_data_source(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    parent = {"type": "page_id", "page_id": seeded.root_page_id}
    db = await notion.databases.create(parent=parent, **CREATE_DATABASE)

    assert db["object"] == "database"
    assert db["parent"] == parent
    assert db["title"][0]["plain_text"] == "Calls"
    assert "properties" not in db
    [source] = db["data_sources"]
    assert source["name"] == "Calls"
    again = await notion.databases.retrieve(db["id"].replace("-", ""))
    assert again["data_sources"] == db["data_sources"]

    ds = await notion.data_sources.retrieve(source["id"])
    props = ds["properties"]
    assert ds["parent"] == {"type": "database_id", "database_id": db["id"]}
    assert props["Name"]["id"] == "title"
    assert props["Name"]["type"] == "title"
    assert props["Phone"]["type"] == "phone_number"
    assert props["Duration (s)"]["number"] == {"format": "number"}
    options = props["Direction"]["select"]["options"]
    assert [(o["name"], o["color"]) for o in options] == [
        ("Inbound", "green"),
        ("Outbound", "blue"),
    ]
    assert all(o["id"] for o in options)
    assert {p["name"] for p in props.values()} == set(
        CREATE_DATABASE["initial_data_source"]["properties"]  # type: ignore[index]
    )


async def test_seeded_schemas_match_the_seed_system(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    calls = await notion.data_sources.retrieve(seeded.calls_data_source_id)
    messages = await notion.data_sources.retrieve(seeded.messages_data_source_id)
    canvas = await notion.data_sources.retrieve(seeded.canvas_data_source_id)

    assert set(calls["properties"]) == {*CALLS_PROPERTIES, "Canvas"}
    assert set(messages["properties"]) == {*MESSAGES_PROPERTIES, "Canvas"}
    assert calls["properties"]["Call ID"]["type"] == "title"
    assert messages["properties"]["Message ID"]["type"] == "title"
    assert messages["properties"]["From"]["type"] == "phone_number"
    statuses = [o["name"] for o in calls["properties"]["Status"]["select"]["options"]]
    assert statuses == CALL_STATUSES
    for source in (calls, messages):
        relation = source["properties"]["Canvas"]["relation"]
        assert relation["data_source_id"] == seeded.canvas_data_source_id
        assert relation["database_id"] == seeded.canvas_database_id
    assert {k: v["type"] for k, v in canvas["properties"].items()} == {
        "Name": "title",
        "Phone": "phone_number",
        "Email": "email",
    }
    assert seeded.env_lines() == [
        f"NOTION_CALLS_DATABASE_ID={seeded.calls_database_id}",
        f"NOTION_MESSAGES_DATABASE_ID={seeded.messages_database_id}",
        f"NOTION_CANVAS_DATABASE_ID={seeded.canvas_database_id}",
    ]


def test_linked_database_bodies_need_the_canvas_data_source() -> None:
    with pytest.raises(ValueError, match="Canvas"):
        database_body(CALLS, "page")
    body = database_body(CALLS, "page", "ds")
    assert body["initial_data_source"]["properties"]["Canvas"]["relation"]["data_source_id"] == "ds"
    assert "Canvas" not in CALLS_PROPERTIES  # the pure schema is not mutated


async def test_update_data_source_adds_renames_and_removes(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    ds_id = seeded.canvas_data_source_id
    page = await notion.pages.create(
        parent=ds_parent(ds_id),
        properties={"Name": {"title": text("Acme")}, "Email": {"email": "a@example.com"}},
    )
    updated = await notion.data_sources.update(
        ds_id,
        properties={
            "Notes": {"rich_text": {}},
            "Tier": {"select": {"options": [{"name": "Gold", "color": "yellow"}]}},
            "Phone": {"name": "Mobile"},
            "Email": None,
        },
    )
    props = updated["properties"]
    assert set(props) == {"Name", "Notes", "Tier", "Mobile"}
    assert props["Mobile"]["type"] == "phone_number"
    again = await notion.pages.retrieve(page["id"])
    assert "Email" not in again["properties"]
    assert again["properties"]["Notes"]["rich_text"] == []

    with pytest.raises(APIResponseError) as missing:
        await notion.data_sources.update(ds_id, properties={"Nope": {"name": "Other"}})
    assert missing.value.code == "validation_error"
    assert str(missing.value) == "Nope is not a property that exists."
    with pytest.raises(APIResponseError) as title:
        await notion.data_sources.update(ds_id, properties={"Name": None})
    assert title.value.status == 400


async def test_second_data_source_and_unknown_ids(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    created = await notion.data_sources.create(
        parent={"type": "database_id", "database_id": seeded.canvas_database_id},
        title=text("Archive"),
        properties={"Name": {"title": {}}},
    )
    db = await notion.databases.retrieve(seeded.canvas_database_id)
    assert [s["id"] for s in db["data_sources"]] == [seeded.canvas_data_source_id, created["id"]]
    assert db["data_sources"][1]["name"] == "Archive"

    unknown = "00000000-0000-4000-8000-000000000000"
    for call in (notion.databases.retrieve, notion.data_sources.retrieve):
        with pytest.raises(APIResponseError) as err:
            await call(unknown)
        assert err.value.status == 404
        assert err.value.code == "object_not_found"


async def test_schema_needs_exactly_one_title(notion: AsyncClient, seeded: SeededDatabases) -> None:
    parent = {"type": "page_id", "page_id": seeded.root_page_id}
    with pytest.raises(APIResponseError) as err:
        await notion.databases.create(
            parent=parent, initial_data_source={"properties": {"A": {"rich_text": {}}}}
        )
    assert err.value.code == "validation_error"
