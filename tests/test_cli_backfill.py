"""``opsync backfill`` end to end: both simulators over real HTTP from background threads, the
command through Typer's runner, its summary as JSON."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsync.cli.backfill import eta_text
from opsync.cli.main import app
from opsync.sandbox.notion import NotionSimulator, NotionState, SeededDatabases, seed_databases
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    Workspace,
    WorkspaceSize,
    generate_workspace,
)
from opsync.store import Store
from opsync.sync.jobs import SYNC_EVENT_TYPE, SyncJob
from tests.support.sandbox_env import API_KEY, sandbox_environ
from tests.support.threaded import serve_in_thread

SIZE = WorkspaceSize(
    phone_numbers=2,
    users=2,
    contacts=3,
    counterparts_per_number=1,
    calls_per_counterpart=1,
    messages_per_counterpart=2,
    days=2,
)

runner = CliRunner()


@dataclass
class Sims:
    workspace: Workspace
    openphone: OpenPhoneSimulator
    notion: NotionSimulator
    seeded: SeededDatabases
    env: dict[str, str]

    def pages(self, data_source_id: str) -> list[str]:
        found = self.notion.state.query(data_source_id, {})["results"]
        return sorted(
            "".join(p["plain_text"] for p in page["properties"][title]["title"])
            for page in found
            for title in ("Call ID", "Message ID")
            if title in page["properties"]
        )


@pytest.fixture
def sims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sims]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    workspace = generate_workspace(seed=8, now=time.time(), size=SIZE)
    for call_id in list(workspace.calls):
        workspace.finish_call(call_id)
    openphone = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion = NotionSimulator(NotionState(seed=4), rate_limit=None)
    seeded = seed_databases(notion.state)
    with serve_in_thread(openphone.app) as op_url, serve_in_thread(notion.app) as notion_url:
        env = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            canvas=False,
        )
        yield Sims(workspace, openphone, notion, seeded, env)


def test_backfill_of_every_number_then_again_with_nothing_new(sims: Sims) -> None:
    first = runner.invoke(app, ["backfill", "--all", "--json"], env=sims.env)

    assert first.exit_code == 0, first.output
    assert "UNSIGNED" not in first.output  # no web app, so no word about webhook signing
    rows = {row["phone_number_id"]: row for row in json.loads(first.stdout)}
    numbers = {str(n["id"]) for n in sims.workspace.phone_numbers}
    assert set(rows) == numbers
    assert all(row["status"] == "done" and row["failed"] == 0 for row in rows.values())
    calls, messages = sorted(sims.workspace.calls), sorted(sims.workspace.messages)
    assert sum(row["synced"] for row in rows.values()) == len(calls) + len(messages)
    assert sims.pages(sims.seeded.calls_data_source_id) == calls
    assert sims.pages(sims.seeded.messages_data_source_id) == messages

    pn = sorted(numbers)[0]
    again = runner.invoke(app, ["backfill", "--phone", pn, "--calls", "--json"], env=sims.env)

    assert again.exit_code == 0, again.output
    (row,) = json.loads(again.stdout)
    assert (row["phone_number_id"], row["status"], row["synced"], row["failed"]) == (
        pn,
        "done",
        0,
        0,
    )
    assert sims.pages(sims.seeded.calls_data_source_id) == calls


def test_backfill_prints_a_table_without_json(sims: Sims) -> None:
    pn = str(sims.workspace.phone_numbers[1]["id"])
    sims.workspace.add_message(pn, ["+14155550111"], "Still on?", at=time.time() - 60)
    result = runner.invoke(app, ["backfill", "--phone", pn, "--messages"], env=sims.env)

    assert result.exit_code == 0, result.output
    assert pn in result.stdout
    assert "synced" in result.stdout
    own = [m for m in sims.workspace.messages.values() if m.phone_number_id == pn]
    recent = [m for m in own if m.created_at >= time.time() - 86_400]
    assert recent  # the first run of a number covers the last 24 hours
    assert sims.pages(sims.seeded.messages_data_source_id) == sorted(m.id for m in recent)
    assert sims.pages(sims.seeded.calls_data_source_id) == []


def test_an_unknown_phone_number_is_refused(sims: Sims) -> None:
    result = runner.invoke(app, ["backfill", "--phone", "PNnope", "--json"], env=sims.env)
    assert result.exit_code == 2
    assert "PNnope" in result.output


def test_since_and_all_together_are_refused(sims: Sims) -> None:
    result = runner.invoke(app, ["backfill", "--since", "2026-01-01", "--all"], env=sims.env)
    assert result.exit_code == 2


def test_the_job_left_by_an_interrupted_backfill_is_taken_over(sims: Sims) -> None:
    pn = str(sims.workspace.phone_numbers[0]["id"])
    url = sims.env["OPSYNC_DATABASE_URL"]
    left = SyncJob(pn, all=True, source="backfill")  # what Ctrl-C leaves waiting

    async def leave_a_job() -> None:
        async with await Store.open(url) as store:
            await store.inbox_enqueue(
                "backfill:old", SYNC_EVENT_TYPE, pn, left.to_json(), source="backfill"
            )

    async def inbox() -> list[tuple[str, str]]:
        async with await Store.open(url) as store:
            return [(event.event_id, event.state) for event in await store.inbox_list()]

    asyncio.run(leave_a_job())
    result = runner.invoke(app, ["backfill", "--phone", pn, "--all", "--json"], env=sims.env)

    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "done"
    assert row["synced"] > 0
    assert asyncio.run(inbox()) == [("backfill:old", "done")]


@pytest.mark.parametrize(
    ("progress", "elapsed", "shown"),
    [
        ({"conversations_total": None, "conversations": 0}, 5.0, "-"),
        ({"conversations_total": 10, "conversations": 0}, 5.0, "-"),
        ({"conversations_total": 10, "conversations": 5}, 30.0, "0:30"),
        ({"conversations_total": 10, "conversations": 1}, 20.0, "3:00"),
        ({"conversations_total": 4, "conversations": 4, "status": "done"}, 9.0, "done"),
    ],
)
def test_eta_from_the_share_of_conversations_walked(
    progress: dict[str, Any], elapsed: float, shown: str
) -> None:
    assert eta_text(progress, elapsed) == shown
