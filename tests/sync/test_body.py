"""Body sections survive failed appends: whatever landed is counted, never appended twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from opsync.errors import UpstreamUnavailable
from opsync.notion import OutcomeUnknown
from opsync.render import Rendered
from opsync.render.text import heading, text_blocks
from opsync.sync import ActorRegistry
from opsync.sync._body import BodyState, split_sections, state_from_children
from opsync.sync.pages import upsert_page
from tests.sync.conftest import Env, plain


def headings(blocks: list[dict[str, Any]]) -> list[str]:
    return [plain(b["heading_2"]["rich_text"]) for b in blocks if b["type"] == "heading_2"]


@pytest.mark.parametrize("applied", [True, False])
async def test_a_failed_append_is_completed_without_duplicates(
    env: Env, registry: ActorRegistry, monkeypatch: pytest.MonkeyPatch, applied: bool
) -> None:
    call_id = env.add_call(talk_seconds=200)
    ringing, completed, recording, transcript, summary = env.call_life(call_id)
    actor = await registry.actor(env.pn_id)
    for raw in (ringing, completed, recording):
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(raw))
    real_append = env.ctx.notion.append_blocks

    async def failing_append(block_id: str, blocks: Sequence[dict[str, Any]]) -> list[str]:
        if applied:
            await real_append(block_id, blocks)
            raise OutcomeUnknown("Notion blocks.children.append: timed out")
        raise UpstreamUnavailable("Notion blocks.children.append: connection refused")

    monkeypatch.setattr(env.ctx.notion, "append_blocks", failing_append)
    with pytest.raises(UpstreamUnavailable):
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(transcript))
    monkeypatch.setattr(env.ctx.notion, "append_blocks", real_append)
    page = env.call_pages(call_id)[0]
    assert headings(env.children(page)) == (["Transcript"] if applied else [])

    for raw in (transcript, summary, transcript):
        async with asyncio.timeout(10):
            await actor.handle(env.inbox_event(raw))

    blocks = env.children(page)
    assert sorted(headings(blocks)) == ["Next steps", "Summary", "Transcript"]
    call = env.workspace.calls[call_id]
    assert call.transcript is not None
    dialogue = call.transcript.dialogue or []
    paragraphs = [plain(b["paragraph"]["rich_text"]) for b in blocks if b["type"] == "paragraph"]
    # One line per turn (turns are packed several to a paragraph), none twice.
    assert sum(p.count("\n") + 1 for p in paragraphs) == len(dialogue)
    before = env.notion_requests()
    async with asyncio.timeout(10):
        assert (await actor.handle(env.inbox_event(summary))).status == "skipped"
    assert env.notion_requests() == before


async def test_a_section_that_changed_after_it_was_written_is_not_appended_again(
    env: Env,
) -> None:
    def rendered(text: str) -> Rendered:
        blocks = [heading("Summary"), *text_blocks("bulleted_list_item", text)]
        return Rendered({"Call ID": {"title": [{"text": {"content": "ACx"}}]}}, blocks)

    ds, title = env.seeded.calls_data_source_id, "Call ID"
    async with asyncio.timeout(10):
        first = await upsert_page(env.ctx, "call", "ACx", rendered("one"), ds, title)
        second = await upsert_page(env.ctx, "call", "ACx", rendered("two"), ds, title)
        third = await upsert_page(env.ctx, "call", "ACx", rendered("two"), ds, title)

    assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
    assert headings(env.children(first.page_id)) == ["Summary"]


def test_counting_children_by_heading_recovers_what_was_written() -> None:
    blocks = [
        heading("Summary"),
        *text_blocks("bulleted_list_item", "a"),
        heading("Transcript"),
        *text_blocks("paragraph", "x" * 5000),
    ]
    sections = split_sections(blocks)
    assert [(s.name, len(s.blocks)) for s in sections] == [("Summary", 2), ("Transcript", 2)]

    state = state_from_children(blocks[:3], sections, BodyState())

    assert {name: (s.written, s.total) for name, s in state.sections.items()} == {
        "Summary": (2, 2),
        "Transcript": (1, 2),
    }
    assert BodyState.from_json(state.to_json()) == state
