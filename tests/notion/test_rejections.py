"""Notion's terse validation_error about a property, made into a reason a person can act on."""

from __future__ import annotations

import pytest

from opsync.notion._rejections import (
    PropertyRejection,
    data_source_title,
    explain,
    parse_rejection,
    sent_type,
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Duration is expected to be rich_text.", PropertyRejection("Duration", "rich_text")),
        ("Has Summary is expected to be checkbox.", PropertyRejection("Has Summary", "checkbox")),
        ("Canvas is not a property that exists.", PropertyRejection("Canvas", None)),
        ("body failed validation: body.parent should be an object.", None),
        ("Duration is a `formula` property, which cannot be set: Notion computes it.", None),
    ],
)
def test_parse_rejection(message: str, expected: PropertyRejection | None) -> None:
    assert parse_rejection(message) == expected


def test_sent_type_reads_the_value_shape() -> None:
    sent = {"Duration": {"number": 5}, "Status": {"type": "select", "select": None}, "X": 1}
    assert [sent_type(sent, name) for name in ("Duration", "Status", "X", "Y")] == [
        "number",
        "select",
        None,
        None,
    ]


def test_explain_says_what_is_wrong_and_what_to_do() -> None:
    wrong = explain(PropertyRejection("Duration", "rich_text"), "number", "the 'Calls' database")
    assert str(wrong) == (
        "Notion rejected the page: property 'Duration' of the 'Calls' database is rich_text, "
        "expected number; change the property's type to number in Notion, then replay the "
        "event from the dead letters"
    )
    missing = explain(PropertyRejection("Canvas", None), "relation", "the database of page p1")
    assert "the database of page p1 has no property 'Canvas'; add it as a relation" in str(missing)
    # What the data source says wins over the message's type; unknown expectations are said so.
    read = explain(PropertyRejection("Duration", "rich_text"), None, "the database", "text")
    assert "is text, expected the type opsync writes" in str(read)


def test_data_source_title_from_rich_text() -> None:
    title = [{"plain_text": "Calls "}, {"text": {"content": "2026"}}, "junk"]
    assert data_source_title({"title": title}) == "Calls 2026"
    assert data_source_title({}) == ""
