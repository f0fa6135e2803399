"""``opsync notion setup`` then ``opsync notion check [--fix]`` over real HTTP to the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync.cli.main import app
from opsync.sandbox.notion import NotionSimulator, NotionState
from tests.support.threaded import serve_in_thread

TOKEN = "ntn_cliNotionToken"
runner = CliRunner()


@pytest.fixture
def simulator() -> NotionSimulator:
    return NotionSimulator(NotionState(seed=12), api_key=TOKEN, rate_limit=None)


@pytest.fixture
def env(
    simulator: NotionSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # no stray .env or opsync.toml
    with serve_in_thread(simulator.app) as base_url:
        yield {"NOTION_API_KEY": TOKEN, "OPSYNC_NOTION_BASE_URL": base_url}


def root_page(simulator: NotionSimulator) -> str:
    page = simulator.state.create_page({
        "parent": {"type": "workspace", "workspace": True},
        "properties": {"title": {"title": [{"text": {"content": "Ops"}}]}},
    })  # fmt: skip
    return str(page["id"])


def test_setup_prints_env_lines_that_check_accepts_and_fix_repairs(
    env: dict[str, str], simulator: NotionSimulator
) -> None:
    parent = root_page(simulator).replace("-", "")
    made = runner.invoke(app, ["notion", "setup", "--parent", parent, "--canvas"], env=env)
    assert made.exit_code == 0, made.output
    lines = dict(line.split("=", 1) for line in made.stdout.splitlines())
    assert set(lines) == {
        "NOTION_CANVAS_DATABASE_ID", "NOTION_CALLS_DATABASE_ID", "NOTION_MESSAGES_DATABASE_ID",
    }  # fmt: skip
    assert "Add these lines to .env" in made.stderr
    configured = env | lines

    checked = runner.invoke(app, ["notion", "check"], env=configured)
    assert checked.exit_code == 0, checked.output
    assert "ready for syncing" in checked.stdout

    calls_ds = simulator.state.get_database(lines["NOTION_CALLS_DATABASE_ID"])["data_sources"]
    simulator.state.update_data_source(
        calls_ds[0]["id"], {"properties": {"Transcript": None, "Duration": {"rich_text": {}}}}
    )
    broken = runner.invoke(app, ["notion", "check"], env=configured)
    assert broken.exit_code == 1
    assert "Transcript" in broken.stdout
    assert "Duration" in broken.stdout
    assert "blocked" in broken.stdout

    fixed = runner.invoke(app, ["notion", "check", "--fix", "--json"], env=configured)
    assert fixed.exit_code == 1  # the wrong type stays: opsync never retypes a property
    report = json.loads(fixed.stdout)
    assert report["fixed"] == [{"database": "Calls", "property": "Transcript"}]
    assert [(r["database"], r["property"], r["blocking"]) for r in report["rows"]] == [
        ("Calls", "Duration", True)
    ]


def test_setup_refuses_a_parent_that_is_not_a_notion_id(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["notion", "setup", "--parent", "my page"], env=env)
    assert result.exit_code == 2
    assert "not a Notion id or Notion URL" in result.output


def test_setup_without_canvas_says_the_relation_is_missing(
    env: dict[str, str], simulator: NotionSimulator
) -> None:
    made = runner.invoke(app, ["notion", "setup", "--parent", root_page(simulator)], env=env)
    assert made.exit_code == 0, made.output
    assert len(made.stdout.splitlines()) == 2
    assert "no Canvas database" in made.stderr


def test_check_without_settings_names_them_and_exits_1(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["notion", "check"], env=env)
    assert result.exit_code == 1
    assert "✗ Calls: not configured (NOTION_CALLS_DATABASE_ID)" in result.stdout
    missing_key = runner.invoke(app, ["notion", "check"], env={**env, "NOTION_API_KEY": ""})
    assert missing_key.exit_code == 2
    assert "NOTION_API_KEY" in missing_key.output
