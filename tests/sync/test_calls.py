"""A call through its whole life, against both simulators: one page, the right properties,
audio stored once, request budgets, duplicates and reordering, an unknown create outcome."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from opsync.notion import OutcomeUnknown
from opsync.sandbox.notion import FaultConfig
from opsync.sync import ActorRegistry, reconcile_call
from tests.sync.conftest import PUBLIC_BASE, Env, envelope_of, plain

MEDIA = "GET /media/{kind}/{name}"
KEY_LAYOUT = re.compile(r"recordings/\d{4}/\d{2}/\d{2}/AC[0-9a-f]+-\d+\.mp3")


async def play(env: Env, registry: ActorRegistry, envelopes: list[dict[str, Any]]) -> None:
    actor = await registry.actor(env.pn_id)
    for raw in envelopes:
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(raw))


def stored_files(root: Path, folder: str) -> list[str]:
    return sorted(
        str(path.relative_to(root)) for path in (root / folder).rglob("*") if path.is_file()
    )


def assert_final_page(env: Env, call_id: str, talk_seconds: int) -> dict[str, Any]:
    pages = env.call_pages(call_id)
    assert len(pages) == 1
    props = env.properties(pages[0])
    call = env.workspace.calls[call_id]
    assert props["Duration"]["number"] == talk_seconds
    assert props["Status"]["select"]["name"] == "completed"
    assert props["Has Recording"]["checkbox"] is True
    assert props["Recording URL"]["url"].startswith(f"{PUBLIC_BASE}/media/recordings/")
    assert props["Has Transcript"]["checkbox"] is True
    assert props["Transcript Status"]["select"]["name"] == "completed"
    dialogue = call.transcript.dialogue if call.transcript else None
    first_line = dialogue[0]["content"] if dialogue else ""
    assert first_line
    assert first_line in plain(props["Transcript"]["rich_text"])
    assert props["Has Summary"]["checkbox"] is True
    summary = call.summary.summary if call.summary else None
    assert summary
    assert summary[0] in plain(props["Summary"]["rich_text"])
    assert props["Canvas"]["relation"] == [{"id": env.canvas_page}]
    assert props["Phone Number Used"]["rich_text"][0]["plain_text"] == env.own_number
    return props


async def test_a_call_through_its_whole_life_has_one_correct_page(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=240)
    life = env.call_life(call_id)
    assert [raw["type"] for raw in life] == [
        "call.ringing",
        "call.completed",
        "call.recording.completed",
        "call.transcript.completed",
        "call.summary.completed",
    ]

    await play(env, registry, life)

    assert_final_page(env, call_id, 240)
    # Cold caches included: phone numbers, users, recordings, the download, contacts.
    assert env.openphone_requests() <= 5
    assert env.openphone_sim.counters[MEDIA] == 1
    files = stored_files(env.blobs_root, "recordings")
    assert len(files) == 1
    assert KEY_LAYOUT.fullmatch(files[0])
    url = env.properties(env.call_pages(call_id)[0])["Recording URL"]["url"]
    assert f"/media/{files[0]}?" in url


async def test_a_second_call_costs_at_most_two_openphone_requests(
    env: Env, registry: ActorRegistry
) -> None:
    await play(env, registry, env.call_life(env.add_call(talk_seconds=60)))
    before = env.openphone_requests()

    call_id = env.add_call(talk_seconds=90)
    await play(env, registry, env.call_life(call_id))

    assert env.openphone_requests() - before == 2  # recordings and the download
    assert_final_page(env, call_id, 90)


async def test_duplicates_and_reordering_still_give_one_correct_page(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=120)
    ringing, completed, recording, transcript, summary = env.call_life(call_id, "new")
    shuffled = [transcript, summary, ringing, transcript, recording, completed, ringing, recording]

    await play(env, registry, shuffled)

    props = assert_final_page(env, call_id, 120)
    assert props["Completed At"]["date"] is not None
    assert env.openphone_sim.counters[MEDIA] == 1
    assert len(stored_files(env.blobs_root, "recordings")) == 1
    assert env.openphone_requests() <= 6  # the transcript came first: the call was fetched
    assert env.openphone_sim.counters["GET /v1/calls/{callId}"] == 1


async def test_an_unchanged_redelivery_costs_no_request(env: Env, registry: ActorRegistry) -> None:
    call_id = env.add_call(talk_seconds=100)
    life = env.call_life(call_id)
    await play(env, registry, life)
    notion, openphone = env.notion_requests(), env.openphone_requests()
    actor = await registry.actor(env.pn_id)

    for raw in life:
        async with asyncio.timeout(10):
            result = await actor.handle(env.inbox_event(raw))
        assert result.status == "skipped"

    assert env.notion_requests() == notion
    assert env.openphone_requests() == openphone


async def test_the_body_holds_each_section_once_and_a_long_transcript_in_full(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=900)
    await play(env, registry, env.call_life(call_id))
    call = env.workspace.calls[call_id]
    assert call.transcript is not None
    assert call.transcript.dialogue is not None
    assert call.transcript.text_length() > 2000

    blocks = env.children(env.call_pages(call_id)[0])

    headings = [plain(b["heading_2"]["rich_text"]) for b in blocks if b["type"] == "heading_2"]
    assert sorted(headings) == ["Next steps", "Summary", "Transcript"]
    body = "\n".join(plain(b["paragraph"]["rich_text"]) for b in blocks if b["type"] == "paragraph")
    for entry in call.transcript.dialogue:
        assert entry["content"] in body


async def test_a_create_whose_outcome_is_unknown_is_not_repeated(env: Env) -> None:
    call_id = env.add_call(talk_seconds=30)
    ringing = envelope_of(env.call_life(call_id)[0])
    memory: dict[str, Any] = {}
    async with asyncio.timeout(10):
        await env.ctx.directory.user_names()
        await env.ctx.canvas.find_by_phone("+14155550123", memory=memory)  # type: ignore[union-attr]
    env.notion_sim.set_faults(FaultConfig(gateway_timeout=1.0, write_applied=1.0))
    try:
        async with asyncio.timeout(10):
            await reconcile_call(env.ctx, call_id, event=ringing, canvas_memory=memory)
    except OutcomeUnknown:
        pass
    else:
        raise AssertionError("the create should have failed with an unknown outcome")
    finally:
        env.notion_sim.set_faults(FaultConfig())
    assert len(env.call_pages(call_id)) == 1  # the write was applied
    creates = env.notion_count("POST /v1/pages")

    async with asyncio.timeout(10):
        outcome = await reconcile_call(env.ctx, call_id, event=ringing, canvas_memory=memory)

    assert env.notion_count("POST /v1/pages") == creates
    pages = env.call_pages(call_id)
    assert pages == [outcome.page_id]
    assert outcome.action == "created"
    entry = await env.ctx.store.ledger_get("call", call_id)
    assert entry is not None
    assert (entry.state, entry.notion_page_id) == ("created", pages[0])
