"""The field-by-field fidelity test: a backfill of more than 200 generated calls and messages,
through the service as ``opsync backfill`` runs it (over real HTTP to both simulators), leaves
one page per resource whose every property of the seed schema, and whose body, equals what
the OpenPhone simulator holds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from opsync.cli.backfill import BackfillRequest, enqueue_jobs, resolve_numbers, run_jobs
from opsync.config import load_settings
from opsync.demo.verify import NotionIds, verify, verify_details
from opsync.pacing import RateLimit, TokenBucket
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState, seed_databases
from opsync.sandbox.openphone import (
    OpenPhoneSimulator,
    SimulatorConfig,
    WorkspaceSize,
    generate_workspace,
)
from opsync.service import Pacers, open_service
from opsync.sync.incremental import SyncOptions
from tests.support.sandbox_env import API_KEY, sandbox_environ

FAST = RateLimit(rate=2_000.0, burst=2_000)
SIZE = WorkspaceSize(
    phone_numbers=2,
    users=3,
    contacts=8,
    counterparts_per_number=10,
    calls_per_counterpart=5,
    messages_per_counterpart=6,
    days=20,
)


def body_text(notion: NotionSimulator, page_id: str) -> str:
    texts: list[str] = []
    cursor: str | None = None
    while True:
        listed = notion.state.list_children(page_id, cursor, 100)
        for block in listed["results"]:
            inner = block.get(block["type"], {})
            texts.append("".join(r.get("plain_text", "") for r in inner.get("rich_text", [])))
        cursor = listed.get("next_cursor")
        if not listed.get("has_more"):
            return "\n".join(texts)


def canvas_page(notion: NotionSimulator, data_source_id: str, name: str, phone: str) -> str:
    page = notion.state.create_page(
        {
            "parent": {"type": "data_source_id", "data_source_id": data_source_id},
            "properties": {
                "Name": {"title": [{"type": "text", "text": {"content": name}}]},
                "Phone": {"phone_number": phone},
            },
        }
    )
    return str(page["id"])


async def test_a_backfill_mirrors_every_field_of_every_call_and_message(tmp_path: Path) -> None:
    workspace = generate_workspace(seed=31, now=time.time(), size=SIZE)
    for call_id in list(workspace.calls):
        workspace.finish_call(call_id)
    assert len(workspace.calls) + len(workspace.messages) >= 200
    openphone_sim = OpenPhoneSimulator(
        workspace, SimulatorConfig(api_key=API_KEY, rate_limit=10_000)
    )
    notion_sim = NotionSimulator(NotionState(seed=6), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    # a Canvas page for every other counterpart (written the way people write numbers)
    parties = sorted({call.participant for call in workspace.calls.values()})
    canvas_pages = {
        number: canvas_page(
            notion_sim,
            seeded.canvas_data_source_id,
            f"Customer {index}",
            f"({number[2:5]}) {number[5:8]}-{number[8:]}",
        )
        for index, number in enumerate(parties)
        if index % 2 == 0
    }

    async with serve(openphone_sim.app) as op_url, serve(notion_sim.app) as notion_url:
        settings = load_settings(
            sandbox_environ(
                openphone_url=op_url, notion_url=notion_url, seeded=seeded, data_dir=tmp_path
            )
        )
        pacers = Pacers(TokenBucket(FAST), TokenBucket(FAST))
        async with open_service(
            settings, insecure_accept_unsigned=True, pacers=pacers, poll_interval=0.02
        ) as service:
            service.registry.sync_options = SyncOptions.from_settings(settings)
            numbers = await resolve_numbers(service, ())
            jobs = await enqueue_jobs(service, numbers, BackfillRequest(all=True))
            async with asyncio.timeout(35):
                results = await run_jobs(service, jobs, poll_seconds=0.05)
            user_names = await service.registry.ctx.directory.user_names()

    rows = [result.row() for result in results]
    assert sorted(row["phone_number_id"] for row in rows) == sorted(numbers)
    assert all(row["status"] == "done" and row["failed"] == 0 for row in rows), rows
    pages: list[dict[str, Any]] = list(notion_sim.state.dump()["pages"])
    ids = NotionIds(seeded.calls_data_source_id, seeded.messages_data_source_id)
    summary = verify(workspace, workspace.calls, workspace.messages, pages, ids, canvas_pages)
    assert summary.ok, [str(problem) for problem in summary.problems[:10]]
    assert summary.pages == {"calls": len(workspace.calls), "messages": len(workspace.messages)}
    assert summary.canvas_links > 0
    bodies = {str(page["id"]): body_text(notion_sim, str(page["id"])) for page in pages}
    details = verify_details(workspace, pages, ids, bodies, user_names)
    assert [str(problem) for problem in details[:10]] == []

    # the comparison sees a wrong date, a transcript turn missing from a body, a wrong user
    talk = next(c for c in workspace.calls.values() if c.transcript and c.transcript.dialogue)
    assert talk.transcript is not None
    assert talk.transcript.dialogue is not None
    talk.transcript.dialogue[-1]["content"] += " (never said)"
    workspace.calls[talk.id].created_at += 1
    text = next(iter(workspace.messages.values()))
    text.user_id = "USsomeoneelse"
    found = verify_details(workspace, pages, ids, bodies, user_names)
    reasons = {problem.resource_id: problem.reason for problem in found}
    assert set(reasons) == {talk.id, text.id}
    assert "Created At" in reasons[talk.id]
    assert "body: Transcript misses" in reasons[talk.id]
    assert "User ID" in reasons[text.id]
