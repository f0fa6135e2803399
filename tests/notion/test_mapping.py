"""The mapping file: parsing, applying it to rendered properties, and pages written through the
real adapter to the simulator with renamed, switched-off and absent properties."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from opsync.errors import ConfigError, NotionSchemaMismatch
from opsync.notion.mapping import (
    PropertyMapping,
    apply_mapping,
    load_mapping,
    mapping_path,
    parse_mapping,
)
from opsync.sync import ActorRegistry
from opsync.sync.columns import PageColumns
from tests.sync import conftest as sync_fixtures
from tests.sync.conftest import Env, plain

# The sync tests' fixtures: both simulators, a store and a SyncContext (tests/sync/conftest.py).
env = sync_fixtures.env
registry = sync_fixtures.registry

RENAMING = """
[calls]
"Duration" = "Length (s)"
"Recording URL" = false
"Call ID" = true

[messages]
"Raw Data" = false
"""


def test_a_mapping_renames_switches_off_and_keeps_the_rest() -> None:
    mapping = parse_mapping({"calls": {"Duration": "Length (s)", "Recording URL": False}})
    rendered = {"Call ID": {"title": []}, "Duration": {"number": 5}, "Recording URL": {"url": None}}

    mapped = apply_mapping(rendered, mapping, "call")

    assert mapped.properties == {"Call ID": {"title": []}, "Length (s)": {"number": 5}}
    assert mapped.skipped == ()
    assert mapping.title("call") == "Call ID"
    assert "Recording URL" not in mapping.targets("call")
    assert mapping.targets("message")["Raw Data"] == "Raw Data"
    assert not mapping.is_identity
    assert PropertyMapping().is_identity


def test_properties_absent_from_the_database_are_skipped_but_never_the_title() -> None:
    mapping = parse_mapping({"calls": {"Call ID": "Call"}})
    rendered = {"Call ID": {"title": []}, "Duration": {"number": 5}, "Summary": {"rich_text": []}}

    mapped = apply_mapping(rendered, mapping, "call", present={"Summary"})

    assert mapped.properties == {"Call": {"title": []}, "Summary": {"rich_text": []}}
    assert mapped.skipped == ("Duration",)
    assert mapped.seeds == {"Call": "Call ID", "Summary": "Summary"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"call": {}}, "unknown table [call]"),
        ({"calls": {"Duraton": "x"}}, "'Duraton' is not a seed property"),
        ({"calls": {"Call ID": False}}, "cannot be switched off"),
        ({"calls": {"Duration": 3}}, "must be a property name"),
        ({"calls": {"Duration": ""}}, "must be a property name"),
        ({"calls": {"Duration": "Summary"}}, "several properties are written to 'Summary'"),
        ({"messages": ["x"]}, "must be a table"),
    ],
)
def test_mistakes_in_the_file_are_config_errors_naming_them(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="OPSYNC_MAPPING_FILE is invalid") as caught:
        parse_mapping(data, "opsync.toml")
    assert message in str(caught.value)


def test_the_file_is_found_by_setting_or_in_the_working_directory(tmp_path: Path) -> None:
    assert mapping_path(None, tmp_path) is None
    assert load_mapping(None, tmp_path) == PropertyMapping()
    (tmp_path / "opsync.toml").write_text(RENAMING, encoding="utf-8")
    assert mapping_path(None, tmp_path) == tmp_path / "opsync.toml"
    assert load_mapping(None, tmp_path).target("call", "Duration") == "Length (s)"
    assert mapping_path("", tmp_path) is None  # set empty: no mapping file at all
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping(str(tmp_path / "missing.toml"))
    (tmp_path / "bad.toml").write_text("[calls\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_mapping(str(tmp_path / "bad.toml"))


def test_the_shipped_example_parses() -> None:
    example = Path(__file__).parents[2] / "opsync.toml.example"
    mapping = load_mapping(str(example))
    assert mapping.source is not None
    assert not mapping.is_identity


# -- pages through the adapter -----------------------------------------------------------------


def change_calls_schema(env: Env, properties: dict[str, Any]) -> None:
    env.notion_sim.state.update_data_source(
        env.seeded.calls_data_source_id, {"properties": properties}
    )


async def live_call(env: Env, registry: ActorRegistry) -> str:
    call_id = env.add_call(talk_seconds=90)
    actor = await registry.actor(env.pn_id)
    async with asyncio.timeout(20):
        for envelope in env.call_life(call_id):
            outcome = await actor.handle(env.inbox_event(envelope))
            assert outcome.status in ("success", "skipped"), outcome
    return call_id


def only_page(env: Env, title_property: str, call_id: str) -> dict[str, Any]:
    [page_id] = env.pages_titled(env.seeded.calls_data_source_id, title_property, call_id)
    return env.properties(page_id)


async def test_renamed_and_switched_off_properties_shape_the_page(
    env: Env, registry: ActorRegistry
) -> None:
    change_calls_schema(env, {"Duration": {"name": "Length (s)"}, "Recording URL": None})
    env.ctx.columns = PageColumns(parse_mapping(
        {"calls": {"Duration": "Length (s)", "Recording URL": False}}
    ))  # fmt: skip

    call_id = await live_call(env, registry)

    props = only_page(env, "Call ID", call_id)
    assert props["Length (s)"]["number"] == 90
    assert "Recording URL" not in props
    assert "Duration" not in props
    assert props["Has Recording"]["checkbox"] is True


async def test_a_property_absent_from_the_database_is_skipped_with_one_warning(
    env: Env, registry: ActorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    change_calls_schema(env, {"Raw Data": None})

    with caplog.at_level(logging.WARNING, logger="opsync.sync.columns"):
        first = await live_call(env, registry)
        second = await live_call(env, registry)

    for call_id in (first, second):
        props = only_page(env, "Call ID", call_id)
        assert "Raw Data" not in props
        assert props["Duration"]["number"] == 90
    skipped = [r for r in caplog.records if getattr(r, "action", "") == "notion_property_skipped"]
    assert [r.__dict__["property"] for r in skipped] == ["Raw Data"]
    # learnt from the first rejection (live_call asserts that no event failed)
    assert env.notion_count("GET /v1/data_sources/{data_source_id}") >= 1


async def test_an_unknown_create_outcome_is_resolved_by_the_mapped_title(
    env: Env, registry: ActorRegistry
) -> None:
    change_calls_schema(env, {"Call ID": {"name": "Call"}})
    env.ctx.columns = PageColumns(parse_mapping({"calls": {"Call ID": "Call"}}))
    call_id = env.add_call(talk_seconds=30)
    # Our earlier create reached Notion, but its answer was lost: intent in the ledger, a page
    # with the call's id as its title.
    earlier = env.notion_sim.state.create_page({
        "parent": {"type": "data_source_id", "data_source_id": env.seeded.calls_data_source_id},
        "properties": {"Call": {"title": [{"type": "text", "text": {"content": call_id}}]}},
    })  # fmt: skip
    await env.ctx.store.ledger_record_intent(
        "call", call_id, notion_database_id=env.seeded.calls_data_source_id
    )

    actor = await registry.actor(env.pn_id)
    async with asyncio.timeout(20):
        for envelope in env.call_life(call_id):
            await actor.handle(env.inbox_event(envelope))

    assert env.pages_titled(env.seeded.calls_data_source_id, "Call", call_id) == [earlier["id"]]
    assert plain(env.properties(earlier["id"])["Call"]["title"]) == call_id
    assert env.properties(earlier["id"])["Duration"]["number"] == 30


async def test_a_wrong_type_is_not_skipped_but_fails_the_page(
    env: Env, registry: ActorRegistry
) -> None:
    change_calls_schema(env, {"Duration": {"rich_text": {}}})
    call_id = env.add_call(talk_seconds=30)
    actor = await registry.actor(env.pn_id)
    failures: list[str] = []
    async with asyncio.timeout(20):
        for envelope in env.call_life(call_id):
            try:
                await actor.handle(env.inbox_event(envelope))
            except NotionSchemaMismatch as exc:
                failures.append(str(exc))
    assert failures
    assert "'Duration' of the 'Calls' database" in failures[0]
    assert "is rich_text, expected number" in failures[0]
    assert env.call_pages(call_id) == []
