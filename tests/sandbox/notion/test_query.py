"""Querying a data source through the official SDK: filters, sorts, cursors, the result cap."""

from __future__ import annotations

from typing import Any

import pytest
from notion_client import APIResponseError, AsyncClient
from notion_client.helpers import async_collect_paginated_api

from opsync.clock import FakeClock
from opsync.sandbox.notion import NotionSimulator, SeededDatabases
from tests.sandbox.notion.conftest import ds_parent, text
from tests.sandbox.notion.test_databases import CREATE_DATABASE

ROWS: list[dict[str, Any]] = [
    {"name": "Call with +1 555-0100", "call": "AC123", "phone": "+15550100", "dir": "Inbound",
     "email": "jane@example.com", "notes": "asked for a Refund", "secs": 312, "when": "2025-10-01"},
    {"name": "Call with +1 555-0199", "call": "AC124", "phone": "+15550199", "dir": "Outbound",
     "email": "bob@example.com", "notes": "follow-up", "secs": 30, "when": "2025-09-30T23:59:00Z"},
    {"name": "Voicemail", "call": "AC125", "phone": "+15550100", "dir": "Outbound",
     "email": None, "notes": "", "secs": 60, "when": "2025-10-02T08:00:00Z"},
    {"name": "Missed call", "call": "AC126", "phone": None, "dir": None,
     "email": "jane@example.com", "notes": "refund again", "secs": None, "when": None},
]  # fmt: skip


@pytest.fixture
async def calls(notion: AsyncClient, seeded: SeededDatabases, clock: FakeClock) -> str:
    """The §4.8 database plus Notes/Email, filled with :data:`ROWS` one minute apart."""
    db = await notion.databases.create(
        parent={"type": "page_id", "page_id": seeded.root_page_id}, **CREATE_DATABASE
    )
    ds_id = str(db["data_sources"][0]["id"])
    await notion.data_sources.update(
        ds_id, properties={"Notes": {"rich_text": {}}, "Email": {"email": {}}}
    )
    for row in ROWS:
        props: dict[str, Any] = {
            "Name": {"title": text(row["name"])},
            "Call ID": {"rich_text": text(row["call"])},
            "Phone": {"phone_number": row["phone"]},
            "Email": {"email": row["email"]},
            "Notes": {"rich_text": text(row["notes"]) if row["notes"] else []},
            "Duration (s)": {"number": row["secs"]},
            "Call time": {"date": None if row["when"] is None else {"start": row["when"]}},
        }
        if row["dir"]:
            props["Direction"] = {"select": {"name": row["dir"]}}
        await notion.pages.create(parent=ds_parent(ds_id), properties=props)
        clock.advance(60)
    return ds_id


def names(result: dict[str, Any]) -> list[str]:
    return [r["properties"]["Name"]["title"][0]["plain_text"] for r in result["results"]]


# Reference §4.5 filter examples (the timestamp one compares with the FakeClock's 2026 dates).
@pytest.mark.parametrize(
    ("query_filter", "expected"),
    [
        ({"property": "Name", "title": {"equals": "Call with +1 555-0100"}},
         ["Call with +1 555-0100"]),
        ({"property": "Call ID", "rich_text": {"equals": "AC123"}}, ["Call with +1 555-0100"]),
        ({"property": "Notes", "rich_text": {"contains": "refund"}},
         ["Call with +1 555-0100", "Missed call"]),
        ({"property": "Phone", "phone_number": {"equals": "+15550100"}},
         ["Call with +1 555-0100", "Voicemail"]),
        ({"property": "Email", "email": {"equals": "jane@example.com"}},
         ["Call with +1 555-0100", "Missed call"]),
        ({"property": "Duration (s)", "number": {"greater_than_or_equal_to": 60}},
         ["Call with +1 555-0100", "Voicemail"]),
        ({"property": "Call time", "date": {"on_or_after": "2025-10-01"}},
         ["Call with +1 555-0100", "Voicemail"]),
        ({"timestamp": "last_edited_time",
          "last_edited_time": {"on_or_after": "2025-10-01T00:00:00Z"}},
         ["Call with +1 555-0100", "Call with +1 555-0199", "Voicemail", "Missed call"]),
        ({"and": [
            {"property": "Direction", "select": {"equals": "Inbound"}},
            {"or": [
                {"property": "Phone", "phone_number": {"equals": "+15550100"}},
                {"property": "Email", "email": {"equals": "jane@example.com"}}]}]},
         ["Call with +1 555-0100"]),
        ({"or": [{"property": "Direction", "select": {"is_empty": True}},
                 {"property": "Name", "title": {"starts_with": "voice"}}]},
         ["Voicemail", "Missed call"]),
        ({"property": "Phone", "phone_number": {"is_empty": True}}, ["Missed call"]),
        ({"property": "Direction", "select": {"does_not_equal": "Outbound"}},
         ["Call with +1 555-0100", "Missed call"]),
        ({"property": "Call time", "date": {"before": "2025-10-01T00:00:00Z"}},
         ["Call with +1 555-0199"]),
    ],
)  # fmt: skip
async def test_reference_filters(
    notion: AsyncClient, calls: str, query_filter: dict[str, Any], expected: list[str]
) -> None:
    result = await notion.data_sources.query(calls, filter=query_filter)
    assert names(result) == expected
    assert result["object"] == "list"
    assert result["type"] == "page_or_data_source"
    assert result["request_status"] == {"type": "complete"}


async def test_checkbox_filter_on_seed_calls(notion: AsyncClient, seeded: SeededDatabases) -> None:
    for call_id, flag in (("A1", True), ("A2", False), ("A3", None)):
        props: dict[str, Any] = {"Call ID": {"title": text(call_id)}}
        if flag is not None:
            props["Has Recording"] = {"checkbox": flag}
        await notion.pages.create(parent=ds_parent(seeded.calls_data_source_id), properties=props)
    checked = await notion.data_sources.query(
        seeded.calls_data_source_id,
        filter={"property": "Has Recording", "checkbox": {"equals": True}},
    )
    unchecked = await notion.data_sources.query(
        seeded.calls_data_source_id,
        filter={"property": "Has Recording", "checkbox": {"does_not_equal": True}},
    )
    title = "Call ID"
    assert [r["properties"][title]["title"][0]["plain_text"] for r in checked["results"]] == ["A1"]
    assert len(unchecked["results"]) == 2


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        ([{"property": "Duration (s)", "direction": "descending"}],
         ["Call with +1 555-0100", "Voicemail", "Call with +1 555-0199", "Missed call"]),
        ([{"property": "Duration (s)", "direction": "ascending"}],
         ["Call with +1 555-0199", "Voicemail", "Call with +1 555-0100", "Missed call"]),
        ([{"property": "Phone", "direction": "ascending"},
          {"property": "Name", "direction": "descending"}],
         ["Voicemail", "Call with +1 555-0100", "Call with +1 555-0199", "Missed call"]),
        ([{"timestamp": "created_time", "direction": "descending"}],
         ["Missed call", "Voicemail", "Call with +1 555-0199", "Call with +1 555-0100"]),
        ([{"property": "Call time", "direction": "ascending"}],
         ["Call with +1 555-0199", "Call with +1 555-0100", "Voicemail", "Missed call"]),
    ],
)  # fmt: skip
async def test_sorts(
    notion: AsyncClient, calls: str, sorts: list[dict[str, str]], expected: list[str]
) -> None:
    assert names(await notion.data_sources.query(calls, sorts=sorts)) == expected


async def test_pagination_with_cursors(notion: AsyncClient, calls: str) -> None:
    first = await notion.data_sources.query(calls, page_size=3)
    assert first["has_more"] is True
    second = await notion.data_sources.query(calls, page_size=3, start_cursor=first["next_cursor"])
    assert first["next_cursor"] == second["results"][0]["id"]
    assert second["has_more"] is False
    assert second["next_cursor"] is None
    assert names(first) + names(second) == [r["name"] for r in ROWS]
    everything = await async_collect_paginated_api(
        notion.data_sources.query, data_source_id=calls, page_size=1
    )
    assert [p["properties"]["Name"]["title"][0]["plain_text"] for p in everything] == [
        r["name"] for r in ROWS
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"page_size": 101}, "page_size should be ≤ `100`"),
        ({"start_cursor": "not-a-cursor"}, "start_cursor provided is invalid"),
        ({"filter": {"property": "Nope", "rich_text": {"equals": "x"}}},
         "Could not find property with name or id: Nope"),
        ({"filter": {"property": "Phone", "rich_text": {"equals": "x"}}}, "phone_number"),
        ({"filter": {"and": [{"or": [{"and": [
            {"property": "Name", "title": {"equals": "x"}}]}]}]}}, "nested too deeply"),
        ({"filter": {"timestamp": "created_time", "property": "Name",
                     "created_time": {"after": "2025-01-01"}}}, "body.filter.property"),
        ({"sorts": [{"property": "Nope", "direction": "ascending"}]}, "sort property"),
        ({"filter": {"property": "Duration (s)", "number": {"equals": "60"}}}, "a number"),
    ],
)  # fmt: skip
async def test_bad_queries_are_rejected(
    notion: AsyncClient, calls: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(APIResponseError) as err:
        await notion.data_sources.query(calls, **body)
    assert (err.value.status, err.value.code) == (400, "validation_error")
    assert message in str(err.value)


async def test_result_cap_marks_the_query_incomplete(
    notion: AsyncClient, calls: str, simulator: NotionSimulator
) -> None:
    simulator.state.query_result_cap = 3
    first = await notion.data_sources.query(calls, page_size=2)
    second = await notion.data_sources.query(calls, page_size=2, start_cursor=first["next_cursor"])
    incomplete = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
    assert first["request_status"] == incomplete
    assert second["request_status"] == incomplete
    assert first["has_more"] is True
    assert second["has_more"] is False
    assert len(first["results"]) + len(second["results"]) == 3
    narrow = await notion.data_sources.query(
        calls, filter={"property": "Direction", "select": {"equals": "Outbound"}}
    )
    assert narrow["request_status"] == {"type": "complete"}
