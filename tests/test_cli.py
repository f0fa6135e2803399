"""The root command: version, the global --db option, and exit 2 for a missing setting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync import __version__
from opsync.cli.main import app
from opsync.clock import SystemClock
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace
from tests.support.threaded import serve_in_thread

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No .env file and none of our variables: each test says what it sets. Log handlers a
    command installed (on the runner's captured stdout) are removed afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENPHONE_API_KEY", "NOTION_API_KEY", "OPSYNC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_opsync", False)]:
        root.removeHandler(handler)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"opsync {__version__}"


def test_missing_setting_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "phone", "list"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "OPENPHONE_API_KEY is not set: OpenPhone (Quo) API key, from Workspace settings → API"
    ]


def test_global_db_option_chooses_the_database(tmp_path: Path) -> None:
    target = tmp_path / "chosen.db"
    result = runner.invoke(app, ["--db", f"sqlite:///{target}", "db", "migrate"])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert not (tmp_path / "opsync.db").exists()


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "from-env.db"
    monkeypatch.setenv("OPSYNC_DATABASE_URL", f"sqlite:///{target}")
    result = runner.invoke(app, ["db", "migrate"])
    assert result.exit_code == 0, result.output
    assert target.exists()


def test_invalid_setting_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "shouty")
    result = runner.invoke(app, ["db", "migrate"])
    assert result.exit_code == 2
    assert "log level" in result.output


def test_phone_list_against_the_openphone_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SystemClock()
    workspace = generate_workspace(seed=5, now=clock.now())
    sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key="cli-key"))
    database = tmp_path / "cli.db"
    with serve_in_thread(sim.app) as base_url:
        monkeypatch.setenv("OPENPHONE_API_KEY", "cli-key")
        monkeypatch.setenv("OPENPHONE_API_BASE", f"{base_url}/v1")
        result = runner.invoke(app, ["--db", f"sqlite:///{database}", "phone", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {row["id"] for row in listed} == {n["id"] for n in workspace.phone_numbers}
    assert "cli-key" not in result.output
    stored = runner.invoke(
        app,
        ["--db", f"sqlite:///{database}", "db", "query", "--json", "SELECT id FROM phone_numbers"],
    )
    assert {row["id"] for row in json.loads(stored.output)} == {row["id"] for row in listed}


def test_phone_state_shows_the_stored_state(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    query = "INSERT INTO phone_numbers (id, number, name, first_seen_at, total_calls_synced, "
    query += "created_at, updated_at) "
    query += "VALUES ('PNstate', '+14155550100', 'Main line', 1, 7, 1, 1)"
    assert runner.invoke(app, ["--db", db, "db", "query", query]).exit_code == 0
    result = runner.invoke(app, ["--db", db, "phone", "state", "PNstate"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["phone_number_id"] == "PNstate"
    assert shown["phone_number"]["number"] == "+14155550100"
    assert shown["phone_number"]["total_calls_synced"] == 7
    missing = runner.invoke(app, ["--db", db, "phone", "state", "PNnope"])
    assert missing.exit_code == 1
    assert "unknown phone number PNnope" in missing.output


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (None, "WEBHOOK_SECRET is not set: "),
        ("whsec_not*base64", "WEBHOOK_SECRET is invalid: a standard webhook key is not valid"),
    ],
)
def test_serve_refuses_to_start_without_valid_signing_keys(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, expected: str
) -> None:
    for name, value in {
        "OPENPHONE_API_KEY": "k",
        "NOTION_API_KEY": "ntn_x",
        "NOTION_CALLS_DATABASE_ID": "a" * 32,
        "NOTION_MESSAGES_DATABASE_ID": "b" * 32,
        "OPENPHONE_API_BASE": "http://127.0.0.1:9/v1",
        "OPSYNC_NOTION_BASE_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    if secret is None:
        monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    else:
        monkeypatch.setenv("WEBHOOK_SECRET", secret)
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(expected)
    assert "not*base64" not in line
