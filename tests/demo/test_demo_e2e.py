"""The whole demo on loopback, small: both simulators, the service, the scenario, the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from opsync.cli import demo as demo_cli
from opsync.demo import DemoOptions, run_demo


@pytest.mark.timeout(30)
async def test_a_small_demo_ends_with_one_correct_page_per_resource(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    options = DemoOptions(
        calls=4, messages=6, compression=1000.0, data_dir=data_dir, drain_timeout=20.0
    )

    summary = await run_demo(options)

    assert summary["problems"] == []
    assert summary["ok"] is True
    assert summary["resources"] == {"calls": 4, "messages": 6}
    assert summary["notion_pages"] == {"calls": 4, "messages": 6}
    assert summary["duplicate_pages"] == 0
    assert summary["mismatched_pages"] == 0
    assert summary["dead_letters"] == 0
    assert summary["events_processed"] > 0
    assert summary["events_processed"] == summary["events_received"]
    assert summary["notion_requests"]["total"] > 0
    assert summary["openphone_requests"]["calls"] > 0
    assert summary["notion_requests"]["max_per_call"] >= 1  # every page was written
    assert summary["notion_requests"]["max_per_message"] >= 1
    assert (data_dir / "opsync.db").is_file()
    dump = json.loads((data_dir / "notion-dump.json").read_text())
    assert len(dump["state"]["pages"]) >= 10


@pytest.mark.timeout(30)
def test_the_command_prints_json_and_exits_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("opsync.logs.configure", lambda *args, **kwargs: None)
    app = typer.Typer()
    app.command("demo")(demo_cli.demo)
    app.command("other")(lambda: None)  # two commands: "demo" stays a subcommand
    args = ["demo", "--calls", "2", "--messages", "3", "--compression", "1000"]

    result = CliRunner().invoke(app, [*args, "--json", "--data-dir", str(tmp_path / "d")])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["resources"] == {"calls": 2, "messages": 3}
