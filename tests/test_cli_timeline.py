"""``opsync timeline``: a contact's calls and messages from the store named by ``--db``."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync.cli.main import app
from opsync.clock import FakeClock
from opsync.store import Store
from tests.web.test_timeline_api import ALICE, CANVAS, Filled, fill

runner = CliRunner()
PUBLIC = "https://sync.example.com"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file; the media folder is ./opsync-media
    monkeypatch.delenv("OPSYNC_DATABASE_URL", raising=False)
    monkeypatch.setenv("OPSYNC_PUBLIC_BASE_URL", PUBLIC)
    monkeypatch.setenv("OPSYNC_MEDIA_SIGNING_KEY", "cli-timeline-signing-key-0123456789")
    monkeypatch.setenv("COLUMNS", "240")  # a table wide enough for whole links


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'timeline.db'}"


@pytest.fixture
def filled(db: str) -> Filled:
    async def make() -> Filled:
        async with await Store.open(db, clock=FakeClock()) as store:
            return await fill(store)

    return asyncio.run(make())


def test_json_by_national_spelling_is_the_api_document(db: str, filled: Filled) -> None:
    result = runner.invoke(app, ["--db", db, "timeline", "(321) 443-6893", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [item["id"] for item in body["items"]] == filled.alice
    assert body["contact"]["phone"] == ALICE
    [recording] = next(i for i in body["items"] if i["id"] == "ACa4")["recording_urls"]
    assert recording.startswith(f"{PUBLIC}/media/recordings/2026/03/01/ACa4.mp3?sig=")


def test_the_table_shows_newest_first_and_how_to_get_more(db: str, filled: Filled) -> None:
    result = runner.invoke(app, ["--db", db, "timeline", ALICE, "--limit", "3"])
    assert result.exit_code == 0, result.output
    shown = re.findall(r"talked in (AC\w+)|text of (AC\w+)", result.output)
    assert ["".join(pair) for pair in shown] == filled.alice[:3]
    assert "https://www.notion.so/" in result.output
    assert f"{PUBLIC}/media/recordings/" in result.output
    assert "2026-03-01 12:50:00" in result.output
    [cursor] = re.findall(r"--cursor (\S+)", result.output)
    more = runner.invoke(app, ["--db", db, "timeline", ALICE, "--limit", "3", "--cursor", cursor])
    assert more.exit_code == 0, more.output
    shown = re.findall(r"talked in (AC\w+)|text of (AC\w+)", more.output)
    assert ["".join(pair) for pair in shown] == filled.alice[3:6]


def test_a_canvas_page_id_gives_what_links_to_it(db: str, filled: Filled) -> None:
    result = runner.invoke(app, ["--db", db, "timeline", CANVAS.replace("-", ""), "--json"])
    assert result.exit_code == 0, result.output
    assert [item["id"] for item in json.loads(result.output)["items"]] == filled.linked


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["+19995550123"], 1, "no call or message with +19995550123"),
        (["hello"], 2, "not a phone number or a Canvas page id"),
        ([ALICE, "--cursor", "garbage"], 2, "invalid cursor"),
        ([ALICE, "--limit", "0"], 2, ""),
    ],
)
def test_unknown_contacts_and_bad_input_exit_non_zero(
    db: str, filled: Filled, args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, ["--db", db, "timeline", *args])
    assert result.exit_code == code, result.output
    assert message in result.output


def test_without_a_signing_key_there_are_no_recording_links_and_no_key_is_made(
    db: str, filled: Filled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSYNC_MEDIA_SIGNING_KEY")
    result = runner.invoke(app, ["--db", db, "timeline", ALICE, "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)["items"]
    assert [i["recording_urls"] for i in items if i["type"] == "call"] == [[], [], [], []]
    assert not (tmp_path / "opsync-media").exists()
