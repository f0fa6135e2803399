"""``opsync canvas refresh`` and ``opsync canvas lookup`` over real HTTP to the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync.cli.canvas import app
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from tests.canvas.conftest import TOKEN, title
from tests.support.threaded import serve_in_thread

runner = CliRunner()


@pytest.fixture
def simulator() -> NotionSimulator:
    return NotionSimulator(NotionState(seed=9), api_key=TOKEN, rate_limit=None)


@pytest.fixture
def seeded(simulator: NotionSimulator) -> SeededDatabases:
    return seed_databases(simulator.state)


@pytest.fixture
def env(
    simulator: NotionSimulator,
    seeded: SeededDatabases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    with serve_in_thread(simulator.app) as base_url:
        yield {
            "NOTION_API_KEY": TOKEN,
            "NOTION_CANVAS_DATABASE_ID": seeded.canvas_database_id,
            "OPSYNC_NOTION_BASE_URL": base_url,
            "OPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        }


def add_customer(simulator: NotionSimulator, seeded: SeededDatabases, name: str, phone: str) -> str:
    page = simulator.state.create_page(
        {
            "parent": {"type": "data_source_id", "data_source_id": seeded.canvas_data_source_id},
            "properties": {"Name": title(name), "Phone": {"phone_number": phone}},
        }
    )
    return str(page["id"])


def test_refresh_then_lookup_from_the_table(
    env: dict[str, str], simulator: NotionSimulator, seeded: SeededDatabases
) -> None:
    page = add_customer(simulator, seeded, "Acme", "321-443-6893")
    add_customer(simulator, seeded, "Bolt", "(415) 555-0100")

    refreshed = runner.invoke(app, ["refresh"], env=env)
    assert refreshed.exit_code == 0, refreshed.output
    assert refreshed.output.strip() == "canvas cache rebuilt: 2 entries"
    as_json = runner.invoke(app, ["refresh", "--json"], env=env)
    assert json.loads(as_json.output) == {"entries": 2}

    found = runner.invoke(app, ["lookup", "(321) 443-6893"], env=env)
    assert found.exit_code == 0, found.output
    assert json.loads(found.output) == {
        "query": "(321) 443-6893",
        "lookup_type": "phone",
        "key": "+13214436893",
        "found": True,
        "page_id": page,
        "name": "Acme",
        "source": "table",
    }


def test_lookup_asks_notion_and_reports_a_miss(
    env: dict[str, str], simulator: NotionSimulator, seeded: SeededDatabases
) -> None:
    page = add_customer(simulator, seeded, "Acme", "+13214436893")
    found = runner.invoke(app, ["lookup", "321.443.6893"], env=env)
    assert found.exit_code == 0, found.output
    assert (json.loads(found.output)["source"], json.loads(found.output)["page_id"]) == (
        "notion",
        page,
    )
    missing = runner.invoke(app, ["lookup", "nobody@example.com"], env=env)
    assert missing.exit_code == 1
    assert json.loads(missing.output)["source"] == "miss"
    invalid = runner.invoke(app, ["lookup", "not-a-number"], env=env)
    assert invalid.exit_code == 2
    assert json.loads(invalid.output)["source"] == "invalid"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_the_canvas_database_is_required(env: dict[str, str], value: str | None) -> None:
    result = runner.invoke(
        app, ["lookup", "+13214436893"], env={**env, "NOTION_CANVAS_DATABASE_ID": value}
    )
    assert result.exit_code == 2
    assert "NOTION_CANVAS_DATABASE_ID" in result.output
