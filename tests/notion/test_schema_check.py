"""``opsync notion setup`` and ``check`` as functions, through the real adapter to the Notion
simulator: setup makes databases check passes; check finds what is missing or mistyped, and
the fix adds what is missing and leaves the rest alone."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.config import Settings, load_settings
from opsync.errors import NotFound
from opsync.notion import NotionAdapter
from opsync.notion.mapping import PropertyMapping, parse_mapping
from opsync.notion.schema_check import SchemaReport, check_notion_schema, fix_notion_schema
from opsync.notion.schema_setup import NotionSetup
from opsync.notion.seed_schema import CALLS_PROPERTIES, MESSAGES_PROPERTIES
from opsync.pacing import NOTION_LIMIT, TokenBucket
from opsync.retry import RetryPolicy
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases

TOKEN = "ntn_schemaTestToken"


@dataclass
class Sim:
    simulator: NotionSimulator
    adapter: NotionAdapter

    def root_page(self) -> str:
        page = self.simulator.state.create_page({
            "parent": {"type": "workspace", "workspace": True},
            "properties": {"title": {"title": [{"text": {"content": "Ops"}}]}},
        })  # fmt: skip
        return str(page["id"])

    def schema(self, data_source_id: str) -> dict[str, Any]:
        return dict(self.simulator.state.get_data_source(data_source_id)["properties"])

    def change(self, data_source_id: str, properties: dict[str, Any]) -> None:
        self.simulator.state.update_data_source(data_source_id, {"properties": properties})


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    simulator = NotionSimulator(NotionState(FakeClock(), seed=4), api_key=TOKEN, rate_limit=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator.app)) as http:
        adapter = NotionAdapter.from_token(
            TOKEN,
            base_url="http://notion.test",
            http=http,
            pacer=TokenBucket(NOTION_LIMIT, FakeClock()),
            retry=RetryPolicy(base=0.01, cap=0.05, max_attempts=2),
            clock=FakeClock(),
            rng=random.Random(1),
        )
        yield Sim(simulator, adapter)


def settings_for(calls: str | None, messages: str | None, canvas: str | None) -> Settings:
    environ = {"NOTION_API_KEY": TOKEN, "OPSYNC_MAPPING_FILE": ""}
    for name, value in (("CALLS", calls), ("MESSAGES", messages), ("CANVAS", canvas)):
        if value is not None:
            environ[f"NOTION_{name}_DATABASE_ID"] = value
    return load_settings(environ)


def seeded_settings(seeded: SeededDatabases) -> Settings:
    # ids as people paste them: without dashes, and as a browser link
    return settings_for(
        seeded.calls_database_id.replace("-", ""),
        f"https://www.notion.so/acme/Messages-{seeded.messages_database_id.replace('-', '')}?v=1",
        seeded.canvas_database_id,
    )


def problems(report: SchemaReport) -> dict[tuple[str, str], tuple[str, bool]]:
    return {(r.database, r.property): (r.problem, r.blocking) for r in report.rows}


async def test_setup_creates_databases_that_the_check_passes(sim: Sim) -> None:
    parent = sim.root_page()
    setup = NotionSetup(sim.adapter)

    created = await setup.run(f"https://www.notion.so/Ops-{parent.replace('-', '')}", canvas=True)

    by_name = {made.name: made for made in created}
    assert list(by_name) == ["Canvas", "Calls", "Messages"]
    calls = sim.schema(by_name["Calls"].data_source_id)
    assert set(calls) == {*CALLS_PROPERTIES, "Canvas"}
    assert calls["Canvas"]["relation"]["data_source_id"] == by_name["Canvas"].data_source_id
    options = {o["name"]: o["color"] for o in calls["Direction"]["select"]["options"]}
    assert options == {"incoming": "blue", "outgoing": "purple"}
    assert set(sim.schema(by_name["Messages"].data_source_id)) == {*MESSAGES_PROPERTIES, "Canvas"}
    assert [made.env_line().split("=")[0] for made in created] == [
        "NOTION_CANVAS_DATABASE_ID", "NOTION_CALLS_DATABASE_ID", "NOTION_MESSAGES_DATABASE_ID",
    ]  # fmt: skip

    settings = settings_for(*(by_name[n].database_id for n in ("Calls", "Messages", "Canvas")))
    report = await check_notion_schema(sim.adapter, settings)
    assert report.ok, report.rows
    assert report.rows == ()
    assert [(d.name, d.checked) for d in report.databases] == [
        ("Canvas", 3), ("Calls", len(CALLS_PROPERTIES) + 1), ("Messages", 17),
    ]  # fmt: skip


async def test_setup_follows_the_mapping_file_and_links_the_configured_canvas(sim: Sim) -> None:
    seeded = seed_databases(sim.simulator.state)
    mapping = parse_mapping({"calls": {"Duration": "Length (s)", "Raw Data": False}})

    created = await NotionSetup(sim.adapter, mapping).run(
        seeded.root_page_id, canvas_database_id=seeded.canvas_database_id
    )

    calls = sim.schema(created[0].data_source_id)
    assert "Length (s)" in calls
    assert "Duration" not in calls
    assert "Raw Data" not in calls
    assert calls["Canvas"]["relation"]["data_source_id"] == seeded.canvas_data_source_id
    settings = settings_for(
        created[0].database_id, created[1].database_id, seeded.canvas_database_id
    )
    assert (await check_notion_schema(sim.adapter, settings, mapping)).ok


async def test_setup_under_a_page_the_integration_cannot_see_says_so(sim: Sim) -> None:
    with pytest.raises(NotFound, match="not shared with the integration"):
        await NotionSetup(sim.adapter).run(str(uuid.uuid4()))


async def test_check_reports_missing_and_mistyped_and_fix_adds_only_the_missing(sim: Sim) -> None:
    seeded = seed_databases(sim.simulator.state)
    calls_ds = seeded.calls_data_source_id
    sim.change(calls_ds, {"Recording URL": None, "Summary": {"number": {}}})
    options = sim.schema(calls_ds)["Status"]["select"]["options"]
    kept = [{"id": o["id"], "name": o["name"]} for o in options if o["name"] != "missed"]
    sim.change(calls_ds, {"Status": {"select": {"options": kept}}})
    settings = seeded_settings(seeded)

    report = await check_notion_schema(sim.adapter, settings)

    assert not report.ok
    found = problems(report)
    assert found[("Calls", "Recording URL")] == ("missing (a url property)", True)
    assert found[("Calls", "Summary")] == ("is number, opsync writes rich_text", True)
    assert found[("Calls", "Status")] == ("lacks options missed", False)
    assert set(found) == {("Calls", "Recording URL"), ("Calls", "Summary"), ("Calls", "Status")}

    sent = await fix_notion_schema(sim.adapter, report)
    assert {fix.property for fix in sent} == {"Recording URL", "Status"}
    after = await check_notion_schema(sim.adapter, settings)

    assert set(problems(after)) == {("Calls", "Summary")}
    schema = sim.schema(calls_ds)
    assert schema["Recording URL"]["type"] == "url"
    assert schema["Summary"]["type"] == "number"  # never retyped
    status = {o["name"]: o for o in schema["Status"]["select"]["options"]}
    assert status["missed"]["color"] == "red"
    assert {o["id"] for o in kept} <= {o["id"] for o in status.values()}  # none lost


async def test_check_follows_the_mapping(sim: Sim) -> None:
    seeded = seed_databases(sim.simulator.state)
    sim.change(seeded.calls_data_source_id, {"Duration": {"name": "Length"}, "Raw Data": None})
    settings = seeded_settings(seeded)

    assert set(problems(await check_notion_schema(sim.adapter, settings))) == {
        ("Calls", "Duration"), ("Calls", "Raw Data"),
    }  # fmt: skip
    mapping = parse_mapping({"calls": {"Duration": "Length", "Raw Data": False}})
    assert (await check_notion_schema(sim.adapter, settings, mapping)).ok


async def test_a_title_under_another_name_blocks_with_the_mapping_to_write(sim: Sim) -> None:
    seeded = seed_databases(sim.simulator.state)
    sim.change(seeded.messages_data_source_id, {"Message ID": {"name": "Name"}})

    report = await check_notion_schema(sim.adapter, seeded_settings(seeded))

    [row] = report.rows
    assert (row.database, row.property, row.blocking) == ("Messages", "Message ID", True)
    assert '[messages] "Message ID" = "Name"' in row.fix
    assert report.fixes == ()  # a second title cannot be added
    mapping = parse_mapping({"messages": {"Message ID": "Name"}})
    assert (await check_notion_schema(sim.adapter, seeded_settings(seeded), mapping)).ok


async def test_unset_unshared_and_foreign_relation_databases_block(sim: Sim) -> None:
    seeded = seed_databases(sim.simulator.state)
    other = seed_databases(sim.simulator.state, root_title="Elsewhere")
    settings = settings_for(other.calls_database_id, str(uuid.uuid4()), seeded.canvas_database_id)

    report = await check_notion_schema(sim.adapter, settings, PropertyMapping())

    found = problems(report)
    assert found[("Calls", "Canvas")][1] is True  # points at the other Canvas
    assert "not shared with the integration" in found[("Messages", "")][0]
    assert not report.ok
    unset = await check_notion_schema(sim.adapter, settings_for(None, None, None))
    assert [(r.database, r.problem) for r in unset.rows] == [
        ("Calls", "NOTION_CALLS_DATABASE_ID is not set"),
        ("Messages", "NOTION_MESSAGES_DATABASE_ID is not set"),
    ]
