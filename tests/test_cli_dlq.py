"""``opsync dlq``: list, show, replay and purge dead letters in the store named by ``--db``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync.cli.main import app
from opsync.clock import FakeClock
from opsync.store import InboxEvent, Store
from tests.support.dead_letters import dead_letter

runner = CliRunner()
REASON = "Calls database: property Duration is text, expected number\nfix it, then replay"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.delenv("OPSYNC_DATABASE_URL", raising=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dlq.db'}"


def seed(db: str, clock: FakeClock, *specs: tuple[str, float]) -> list[int]:
    """Dead-letter each ``(event_id, seconds to advance first)``; returns their inbox ids."""

    async def make() -> list[int]:
        async with await Store.open(db, clock=clock) as store:
            ids = []
            for event_id, advance in specs:
                clock.advance(advance)
                ids.append(await dead_letter(store, event_id, partition=None, reason=REASON))
            return ids

    return asyncio.run(make())


def event(db: str, inbox_id: int) -> InboxEvent | None:
    async def get() -> InboxEvent | None:
        async with await Store.open(db) as store:
            return await store.inbox_get(inbox_id)

    return asyncio.run(get())


def dlq(db: str, *args: str, columns: int = 160) -> tuple[int, str]:
    result = runner.invoke(app, ["--db", db, "dlq", *args], env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def test_list_as_a_table_and_as_json(db: str) -> None:
    code, output = dlq(db, "list")
    assert (code, "no dead letters" in output) == (0, True)
    first, second = seed(db, FakeClock(), ("EVfirst", 0), ("EVsecond", 60))
    code, output = dlq(db, "list")
    assert code == 0, output
    assert "Dead letters: 2" in output
    assert "call.completed" in output
    assert "Calls database: property Duration is text, expected number" in output
    assert len(output.splitlines()) == 7  # title, 3 lines of header, 2 rows, bottom
    code, narrow = dlq(db, "list", columns=60)
    assert code == 0
    assert f"{second}" in narrow
    assert output.index(f" {second} ") < output.index(f" {first} ")  # newest first
    code, output = dlq(db, "list", "--json", "--limit", "1")
    assert code == 0, output
    listed = json.loads(output)
    assert listed["count"] == 2
    [row] = listed["dead_letters"]
    assert (row["id"], row["event_id"], row["attempts"]) == (second, "EVsecond", 2)
    assert row["last_error"] == " ".join(REASON.split())  # one line
    assert row["dead_at"].endswith("Z")


def test_show_prints_payload_attempts_and_every_error(db: str) -> None:
    [inbox_id] = seed(db, FakeClock(), ("EVshow", 0))
    code, output = dlq(db, "show", str(inbox_id))
    assert code == 0, output
    assert "state: dead   attempts: 2" in output
    assert "attempt 1  UpstreamUnavailable: notion: 503" in output
    assert "attempt 2  NotionSchemaMismatch: Calls database" in output
    assert '"type": "call.completed"' in output  # the payload, pretty-printed
    code, output = dlq(db, "show", str(inbox_id), "--json")
    shown = json.loads(output)
    assert [e["error_class"] for e in shown["errors"]] == [
        "UpstreamUnavailable",
        "NotionSchemaMismatch",
    ]
    assert all(e["at"].endswith("Z") for e in shown["errors"])
    assert shown["payload"]["id"] == "EVshow"
    code, output = dlq(db, "show", "999")
    assert (code, output.strip()) == (1, "no event with id 999")


def test_replay_one_then_all(db: str) -> None:
    one, two, three = seed(db, FakeClock(), ("EV1", 0), ("EV2", 0), ("EV3", 0))
    code, output = dlq(db, "replay", str(one))
    assert (code, output.strip()) == (0, f"replayed event {one}")
    replayed = event(db, one)
    assert replayed is not None
    assert (replayed.state, replayed.attempts) == ("pending", 0)
    code, output = dlq(db, "replay", str(one))
    assert code == 1
    assert f"event {one} is pending, not dead" in output
    assert dlq(db, "replay", "999")[0] == 1
    code, output = dlq(db, "replay", "--all")
    assert (code, output.strip()) == (0, "replayed 2 dead letters")
    assert [getattr(event(db, i), "state", None) for i in (two, three)] == ["pending", "pending"]


@pytest.mark.parametrize("args", [[], ["1", "--all"]])
def test_replay_wants_an_id_or_all(db: str, args: list[str]) -> None:
    code, output = dlq(db, "replay", *args)
    assert (code, output.strip()) == (2, "give either an ID or --all")


def test_purge_by_age(db: str) -> None:
    # the command runs on the real clock: one dead letter died 3 days ago, one an hour ago
    clock = FakeClock(start=time.time() - 3 * 86_400)
    old, recent = seed(db, clock, ("EVold", 0), ("EVrecent", 3 * 86_400 - 3_600))
    code, output = dlq(db, "purge", "--older-than", "4d")
    assert (code, output.strip()) == (0, "purged 0 dead letters older than 4d")
    code, output = dlq(db, "purge", "--older-than", "2d")
    assert (code, output.strip()) == (0, "purged 1 dead letter older than 2d")
    assert event(db, old) is None
    assert event(db, recent) is not None
    code, output = dlq(db, "purge", "--older-than", "30m")
    assert (code, output.strip()) == (0, "purged 1 dead letter older than 30m")
    assert event(db, recent) is None


@pytest.mark.parametrize("garbage", ["7", "seven days", "-1d", "1.5h", "7y", "", "100000d"])
def test_purge_refuses_garbage_with_exit_2(db: str, garbage: str) -> None:
    [inbox_id] = seed(db, FakeClock(), ("EVkeep", 0))
    code, output = dlq(db, "purge", "--older-than", garbage)
    assert code == 2
    assert f"invalid duration {garbage!r}" in output
    assert event(db, inbox_id) is not None
