"""Finding the Canvas phone and email properties, and the query filters (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from opsync.canvas.schema import canvas_schema, email_filter, phone_filter
from opsync.errors import NotionSchemaMismatch
from opsync.notion import DataSourceSchema


def source(**properties: str) -> DataSourceSchema:
    title = next(name for name, kind in properties.items() if kind == "title")
    return DataSourceSchema("ds-1", title, properties)


def depth(node: Any) -> int:
    for combinator in ("and", "or"):
        if combinator in node:
            return 1 + max(depth(child) for child in node[combinator])
    return 0


def test_the_seed_names_win() -> None:
    schema = canvas_schema(
        source(Name="title", Phone="rich_text", Email="email", Mobile="phone_number")
    )
    assert schema.phone == ("Phone", "rich_text")
    assert schema.email == ("Email", "email")
    assert schema.title_property == "Name"


def test_names_are_compared_without_case() -> None:
    schema = canvas_schema(source(Name="title", PHONE="phone_number", email="rich_text"))
    assert schema.phone == ("PHONE", "phone_number")
    assert schema.email == ("email", "rich_text")


def test_by_type_then_by_name_hint() -> None:
    by_type = canvas_schema(source(Customer="title", Cell="phone_number", Contact="email"))
    assert (by_type.phone, by_type.email) == (("Cell", "phone_number"), ("Contact", "email"))
    by_hint = canvas_schema(source(Customer="title", **{"Work phone": "rich_text"}))
    assert by_hint.phone == ("Work phone", "rich_text")
    assert by_hint.email is None


def test_ambiguous_or_absent_properties_are_none() -> None:
    schema = canvas_schema(source(Name="title", A="phone_number", B="phone_number"))
    assert schema.phone is None
    assert schema.email is None


def test_an_explicit_name_must_exist_and_be_searchable() -> None:
    props = source(Name="title", Phone="phone_number", Alt="rich_text", Count="number")
    assert canvas_schema(props, phone_property="Alt").phone == ("Alt", "rich_text")
    with pytest.raises(NotionSchemaMismatch, match="no property 'Nope'"):
        canvas_schema(props, phone_property="Nope")
    with pytest.raises(NotionSchemaMismatch, match="type 'number'"):
        canvas_schema(props, phone_property="Count")


def test_phone_filter_for_a_phone_number_property() -> None:
    query = phone_filter(("Phone", "phone_number"), "+13214436893")
    clauses = query["or"]
    assert {"property": "Phone", "phone_number": {"equals": "321-443-6893"}} in clauses
    assert {"property": "Phone", "phone_number": {"equals": "+13214436893"}} in clauses
    assert clauses[-1] == {
        "and": [
            {"property": "Phone", "phone_number": {"contains": group}}
            for group in ("6893", "321", "443")
        ]
    }
    assert depth(query) == 2  # Notion allows two levels of nesting


def test_phone_filter_for_a_rich_text_property_uses_contains() -> None:
    query = phone_filter(("Tel", "rich_text"), "+13214436893")
    spellings = query["or"][:-1]
    assert {"property": "Tel", "rich_text": {"contains": "(321) 443-6893"}} in spellings
    assert all(set(clause["rich_text"]) == {"contains"} for clause in spellings)


def test_email_filter() -> None:
    assert email_filter(("Email", "email"), "a@b.test") == {
        "property": "Email",
        "email": {"contains": "a@b.test"},
    }


def test_values_read_from_pages() -> None:
    schema = canvas_schema(source(Name="title", Phone="rich_text", Email="email"))
    page = {
        "id": "p",
        "properties": {
            "Name": {"type": "title", "title": [{"plain_text": "Ac"}, {"plain_text": "me"}]},
            "Phone": {"type": "rich_text", "rich_text": [{"plain_text": "(321) 443-6893"}]},
            "Email": {"type": "email", "email": "Ops@Acme.test"},
        },
    }
    assert schema.name_of(page) == "Acme"
    assert schema.phones_of(page) == ["+13214436893"]
    assert schema.email_of(page) == "ops@acme.test"
    empty = {"id": "q", "properties": {"Name": {"type": "title", "title": []},
                                       "Email": {"type": "email", "email": None}}}  # fmt: skip
    assert (schema.name_of(empty), schema.phones_of(empty), schema.email_of(empty)) == (
        None,
        [],
        None,
    )
