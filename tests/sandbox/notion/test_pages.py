"""Pages through the official SDK: every Calls property type, updates, trash, limits, errors."""

from __future__ import annotations

from typing import Any

import pytest
from notion_client import APIResponseError, AsyncClient

from opsync.sandbox.notion import NotionSimulator, SeededDatabases
from tests.sandbox.notion.conftest import ds_parent, paragraph, text


async def canvas_page(notion: AsyncClient, seeded: SeededDatabases, name: str) -> str:
    page = await notion.pages.create(
        parent=ds_parent(seeded.canvas_data_source_id),
        properties={"Name": {"title": text(name)}, "Phone": {"phone_number": "+15550100"}},
    )
    return str(page["id"])


def full_call(canvas_id: str) -> dict[str, Any]:
    """A value for every writable property of the seed's Calls schema."""
    return {
        "Call ID": {"title": text("AC123")},
        "Direction": {"select": {"name": "incoming"}},
        "Status": {"select": {"name": "completed"}},
        "Duration": {"number": 312},
        "Participants": {"rich_text": text("+15550100, +15550199")},
        "OpenPhone User": {"rich_text": text("US1")},
        "Phone Number Used": {"rich_text": text("+15550199")},
        "Phone Number ID": {"rich_text": text("PN1")},
        "Created At": {"date": {"start": "2025-10-01T14:30:00Z"}},
        "Answered At": {"date": {"start": "2025-10-01T14:30:05.250+02:00"}},
        "Completed At": {"date": {"start": "2025-10-01T09:35:00", "time_zone": "America/New_York"}},
        "Has Recording": {"checkbox": True},
        "Recording URL": {"url": "https://example.com/r/123.mp3"},
        "Recording Duration": {"number": 301.5},
        "Has Transcript": {"checkbox": False},
        "Transcript": {"rich_text": text("a" * 2000) + text("tail")},
        "Transcript Status": {"select": {"name": "completed"}},
        "Has Summary": {"checkbox": True},
        "Summary": {
            "rich_text": [
                {
                    "type": "text",
                    "text": {"content": "See recording", "link": {"url": "https://example.com"}},
                    "annotations": {"bold": True},
                }
            ]
        },
        "Next Steps": {"rich_text": []},
        "Has Voicemail": {"checkbox": False},
        "Voicemail URL": {"url": None},
        "Voicemail Transcript": {"rich_text": text("")},
        "Call Route": {"rich_text": text("main")},
        "Forwarded From": {"rich_text": text("+15550111")},
        "Forwarded To": {"rich_text": text("+15550112")},
        "Raw Data": {"rich_text": text('{"id": "AC123"}')},
        "Synced At": {"date": {"start": "2025-10-01"}},
        "Last Updated": {"date": {"start": "2025-10-01T14:31:00Z", "end": "2025-10-01T14:32:00Z"}},
        "Canvas": {"relation": [{"id": canvas_id.replace("-", "")}]},
    }


async def test_create_page_with_every_calls_property(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    canvas_id = await canvas_page(notion, seeded, "Jane")
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id), properties=full_call(canvas_id)
    )
    props = page["properties"]

    assert page["object"] == "page"
    assert page["parent"] == {
        "type": "data_source_id",
        "data_source_id": seeded.calls_data_source_id,
        "database_id": seeded.calls_database_id,
    }
    assert page["in_trash"] is False
    assert page["archived"] is False
    assert page["url"].startswith("https://www.notion.so/AC123-")
    assert page["created_time"].endswith(":00.000Z")
    assert props["Call ID"]["id"] == "title"
    assert props["Call ID"]["title"][0]["plain_text"] == "AC123"
    summary = props["Summary"]["rich_text"][0]
    assert summary["href"] == "https://example.com"
    assert summary["annotations"]["bold"] is True
    assert summary["annotations"]["color"] == "default"
    assert len(props["Transcript"]["rich_text"]) == 2
    assert props["Direction"]["select"]["name"] == "incoming"
    assert props["Direction"]["select"]["id"]
    assert props["Duration"]["number"] == 312
    assert props["Has Recording"]["checkbox"] is True
    assert props["Voicemail URL"]["url"] is None
    assert props["Created At"]["date"] == {
        "start": "2025-10-01T14:30:00.000+00:00",
        "end": None,
        "time_zone": None,
    }
    assert props["Answered At"]["date"]["start"] == "2025-10-01T14:30:05.250+02:00"
    assert props["Completed At"]["date"]["start"] == "2025-10-01T09:35:00.000-04:00"
    assert props["Synced At"]["date"]["start"] == "2025-10-01"
    assert props["Canvas"] == {
        "id": props["Canvas"]["id"],
        "type": "relation",
        "relation": [{"id": canvas_id}],
        "has_more": False,
    }
    assert all(value["id"] for value in props.values())


async def test_retrieve_round_trips_and_filters_properties(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    canvas_id = await canvas_page(notion, seeded, "Jane")
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id), properties=full_call(canvas_id)
    )
    fetched = await notion.pages.retrieve(page["id"].replace("-", "").upper())
    assert fetched["properties"] == page["properties"]
    only = await notion.pages.retrieve(page["id"], filter_properties=["title"])
    assert list(only["properties"]) == ["Call ID"]


# Reference §4.1 against the §4.8 database (whose Direction options include "Inbound").
CREATE_PAGE_PROPERTIES = {
    "Name": {"title": [{"type": "text", "text": {"content": "Call with +1 555-0100"}}]},
    "Call ID": {"rich_text": [{"type": "text", "text": {"content": "AC123"}}]},
    "Direction": {"select": {"name": "Inbound"}},
}
CREATE_PAGE_CHILDREN = [
    {
        "type": "heading_2",
        "heading_2": {"rich_text": [{"type": "text", "text": {"content": "Summary"}}]},
    },
    {"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "…"}}]}},
]


async def test_reference_create_page_sample(notion: AsyncClient, seeded: SeededDatabases) -> None:
    from tests.sandbox.notion.test_databases import CREATE_DATABASE

    db = await notion.databases.create(
        parent={"type": "page_id", "page_id": seeded.root_page_id}, **CREATE_DATABASE
    )
    page = await notion.pages.create(
        parent=ds_parent(db["data_sources"][0]["id"]),
        icon={"type": "emoji", "emoji": "📞"},
        properties=CREATE_PAGE_PROPERTIES,
        children=CREATE_PAGE_CHILDREN,
    )
    assert page["icon"] == {"type": "emoji", "emoji": "📞"}
    assert page["properties"]["Name"]["title"][0]["plain_text"] == "Call with +1 555-0100"
    assert page["properties"]["Direction"]["select"]["color"] == "green"
    body = await notion.blocks.children.list(page["id"])
    assert [b["type"] for b in body["results"]] == ["heading_2", "paragraph"]
    assert body["results"][0]["heading_2"]["rich_text"][0]["plain_text"] == "Summary"
    assert body["results"][1]["parent"] == {"type": "page_id", "page_id": page["id"]}


async def test_unknown_select_option_is_created(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id),
        properties={"Call ID": {"title": text("AC9")}, "Status": {"select": {"name": "voicemail"}}},
    )
    ds = await notion.data_sources.retrieve(seeded.calls_data_source_id)
    options = ds["properties"]["Status"]["select"]["options"]
    assert options[-1]["name"] == "voicemail"
    assert page["properties"]["Status"]["select"]["id"] == options[-1]["id"]


async def test_update_and_trash_a_page(notion: AsyncClient, seeded: SeededDatabases) -> None:
    page = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id),
        properties={"Call ID": {"title": text("AC1")}, "Duration": {"number": 5}},
    )
    updated = await notion.pages.update(
        page["id"],
        properties={"Duration": {"number": 60}, "Has Summary": {"checkbox": True}},
        icon={"type": "emoji", "emoji": "✅"},
    )
    assert updated["properties"]["Duration"]["number"] == 60
    assert updated["properties"]["Has Summary"]["checkbox"] is True
    assert updated["properties"]["Call ID"]["title"][0]["plain_text"] == "AC1"
    assert updated["icon"]["emoji"] == "✅"

    trashed = await notion.pages.update(page["id"], in_trash=True)
    assert trashed["in_trash"] is True
    assert trashed["archived"] is True
    rows = await notion.data_sources.query(seeded.calls_data_source_id)
    assert rows["results"] == []
    restored = await notion.pages.update(page["id"], archived=False)
    assert restored["in_trash"] is False


async def error_of(call: Any) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        await call
    return caught.value


async def test_text_longer_than_2000_characters_is_rejected(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    err = await error_of(
        notion.pages.create(
            parent=ds_parent(seeded.calls_data_source_id),
            properties={
                "Call ID": {"title": text("AC1")},
                "Transcript": {"rich_text": text("x" * 2001)},
            },
        )
    )
    assert err.status == 400
    assert err.code == "validation_error"
    assert str(err) == (
        "body failed validation: body.properties.Transcript.rich_text[0].text.content.length "
        "should be ≤ `2000`, instead was `2001`."
    )
    assert err.request_id


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"Nope": {"rich_text": []}}, "Nope is not a property that exists."),
        ({"Direction": {"rich_text": text("incoming")}}, "Direction is expected to be select."),
        ({"Duration": {"number": "12"}}, "body.properties.Duration.number"),
        ({"Has Media": {"checkbox": True}}, "Has Media is not a property that exists."),
        ({"Summary": {"rich_text": text("a") * 101}}, "rich_text.length should be ≤ `100`"),
        ({"Recording URL": {"url": "https://x.test/" + "a" * 1990}}, "url.length should be ≤"),
        ({"Status": {"select": {"name": "a,b"}}}, "may not contain commas"),
        ({"Created At": {"date": {"start": "yesterday"}}}, "ISO 8601"),
        (
            {"Canvas": {"relation": [{"id": "00000000-0000-4000-8000-000000000000"}] * 101}},
            "body.properties.Canvas.relation.length should be ≤ `100`, instead was `101`.",
        ),
    ],
)
async def test_invalid_property_values(
    notion: AsyncClient, seeded: SeededDatabases, properties: dict[str, Any], message: str
) -> None:
    err = await error_of(
        notion.pages.create(parent=ds_parent(seeded.calls_data_source_id), properties=properties)
    )
    assert (err.status, err.code) == (400, "validation_error")
    assert message in str(err)


async def test_email_and_phone_limits_and_relation_targets(
    notion: AsyncClient, seeded: SeededDatabases, simulator: NotionSimulator
) -> None:
    canvas = seeded.canvas_data_source_id
    err = await error_of(
        notion.pages.create(parent=ds_parent(canvas), properties={"Email": {"email": "a" * 201}})
    )
    assert "body.properties.Email.email.length should be ≤ `200`, instead was `201`" in str(err)
    err = await error_of(
        notion.pages.create(
            parent=ds_parent(canvas), properties={"Phone": {"phone_number": "1" * 201}}
        )
    )
    assert err.code == "validation_error"

    call = await notion.pages.create(
        parent=ds_parent(seeded.calls_data_source_id), properties={"Call ID": {"title": text("A")}}
    )
    err = await error_of(
        notion.pages.create(
            parent=ds_parent(seeded.messages_data_source_id),
            properties={"Canvas": {"relation": [{"id": call["id"]}]}},
        )
    )
    assert "is not a page of the related data source" in str(err)
    assert len(simulator.state.pages) == 2  # root page + the call; nothing half-written


async def test_unwritable_property_types_are_rejected(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    await notion.data_sources.update(
        seeded.canvas_data_source_id,
        properties={"Added": {"created_time": {}}, "Number": {"unique_id": {"prefix": "C"}}},
    )
    unwritable: list[dict[str, Any]] = [
        {"Added": {"created_time": "2025-10-01"}},
        {"Number": {"unique_id": {}}},
    ]
    for prop in unwritable:
        err = await error_of(
            notion.pages.create(parent=ds_parent(seeded.canvas_data_source_id), properties=prop)
        )
        assert "cannot be set" in str(err)
    page = await notion.pages.create(parent=ds_parent(seeded.canvas_data_source_id), properties={})
    assert page["properties"]["Number"]["unique_id"] == {"prefix": "C", "number": 1}
    assert page["properties"]["Added"]["created_time"] == page["created_time"]


async def test_unknown_page_is_not_found(notion: AsyncClient) -> None:
    err = await error_of(notion.pages.retrieve("0123456789abcdef0123456789abcdef"))
    assert (err.status, err.code) == (404, "object_not_found")
    assert "01234567-89ab-cdef-0123-456789abcdef" in str(err)
    err = await error_of(notion.pages.update("not-an-id", properties={}))
    assert err.code == "object_not_found"


async def test_page_under_a_page_takes_only_a_title(
    notion: AsyncClient, seeded: SeededDatabases
) -> None:
    child = await notion.pages.create(
        parent={"type": "page_id", "page_id": seeded.root_page_id},
        properties={"title": {"title": text("Notes")}},
    )
    assert child["parent"] == {"type": "page_id", "page_id": seeded.root_page_id}
    assert child["properties"]["title"]["title"][0]["plain_text"] == "Notes"
    err = await error_of(
        notion.pages.create(
            parent={"type": "page_id", "page_id": seeded.root_page_id},
            properties={"Status": {"select": {"name": "x"}}},
        )
    )
    assert str(err) == "Status is not a property that exists."
    err = await error_of(
        notion.pages.create(
            parent={"type": "page_id", "page_id": seeded.root_page_id},
            children=[paragraph("x")] * 101,
        )
    )
    assert "body.children.length should be ≤ `100`, instead was `101`" in str(err)
