"""The pure parts: rich-text limits, date normalisation, filter and sort edge cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.sandbox.notion.errors import NotionError
from opsync.sandbox.notion.filters import compile_filter, sort_rows
from opsync.sandbox.notion.schema import PropertySchema
from opsync.sandbox.notion.validation import blocks, rich_text
from opsync.sandbox.notion.values import normalize_date

NOW = 1_775_001_600.0  # 2026-04-01T00:00:00Z, a Wednesday


@given(st.integers(min_value=0, max_value=2100))
def test_text_content_limit_is_2000(length: int) -> None:
    value = [{"text": {"content": "x" * length}}]
    if length <= 2000:
        assert rich_text(value, "p")[0]["plain_text"] == "x" * length
    else:
        with pytest.raises(NotionError, match=f"instead was `{length}`"):
            rich_text(value, "p")


@given(st.integers(min_value=0, max_value=130))
def test_children_array_limit_is_100(count: int) -> None:
    children = [{"type": "divider", "divider": {}}] * count
    if count <= 100:
        assert len(blocks(children)) == count
    else:
        with pytest.raises(NotionError):
            blocks(children)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-10-01", "2025-10-01"),
        ("2025-10-01T14:30:00Z", "2025-10-01T14:30:00.000+00:00"),
        ("2025-10-01T14:30:00", "2025-10-01T14:30:00.000+00:00"),
        ("2025-10-01T14:30:00.123-05:00", "2025-10-01T14:30:00.123-05:00"),
    ],
)
def test_dates_are_normalised(value: str, expected: str) -> None:
    assert normalize_date(value, "p") == expected


@dataclass
class FakeRow:
    properties: dict[str, Any] = field(default_factory=dict)
    created_time: float = NOW
    last_edited_time: float = NOW


SCHEMA = {
    "d": PropertySchema("d", "When", "date"),
    "n": PropertySchema("n", "Count", "number"),
    "m": PropertySchema("m", "Tags", "multi_select"),
    "r": PropertySchema("r", "Links", "relation"),
}


def when(start: str | None) -> FakeRow:
    return FakeRow({"d": None if start is None else {"start": start}})


@pytest.mark.parametrize(
    ("condition", "start", "matches"),
    [
        ({"equals": "2026-03-31"}, "2026-03-31T23:59:00.000+00:00", True),
        ({"equals": "2026-03-31"}, "2026-03-31T23:59:00.000-02:00", False),  # April 1st in UTC
        ({"after": "2026-03-31T12:00:00Z"}, "2026-03-31T12:00:00.001+00:00", True),
        ({"on_or_before": "2026-03-31"}, "2026-03-31", True),
        ({"past_week": {}}, "2026-03-26T00:00:00.000+00:00", True),
        ({"past_week": {}}, "2026-03-20T00:00:00.000+00:00", False),
        ({"next_month": {}}, "2026-04-20", True),
        ({"this_week": {}}, "2026-03-29T10:00:00.000+00:00", True),  # Sunday starts the week
        ({"this_week": {}}, "2026-03-28T10:00:00.000+00:00", False),
        ({"is_empty": True}, None, True),
        ({"before": "2030-01-01"}, None, False),
    ],
)
def test_date_conditions(condition: dict[str, Any], start: str | None, matches: bool) -> None:
    keep = compile_filter({"property": "When", "date": condition}, SCHEMA, NOW)
    assert keep(when(start)) is matches


def test_multi_select_and_relation_conditions() -> None:
    tagged = FakeRow({"m": [{"id": "1", "name": "vip", "color": "red"}], "r": [{"id": "p1"}]})
    bare = FakeRow()
    vip = compile_filter({"property": "Tags", "multi_select": {"contains": "vip"}}, SCHEMA, NOW)
    linked = compile_filter({"property": "Links", "relation": {"contains": "p1"}}, SCHEMA, NOW)
    empty = compile_filter({"property": "Links", "relation": {"is_empty": True}}, SCHEMA, NOW)
    assert (vip(tagged), vip(bare)) == (True, False)
    assert (linked(tagged), linked(bare)) == (True, False)
    assert (empty(tagged), empty(bare)) == (False, True)


def test_empty_values_sort_last_both_ways() -> None:
    rows = [FakeRow({"n": 2}), FakeRow({"n": None}), FakeRow({"n": 1})]
    for direction, expected in (("ascending", [1, 2, None]), ("descending", [2, 1, None])):
        ordered = sort_rows(rows, [{"property": "Count", "direction": direction}], SCHEMA)
        assert [r.properties["n"] for r in ordered] == expected
