"""The contact timeline over a store the real pipeline filled: webhooks in through the
service, pages out to the Notion simulator; then the timeline API, by a national spelling of
the number and by Canvas page, makes no Notion or OpenPhone request at all."""

from __future__ import annotations

import time
from typing import Any

import httpx

from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from tests.e2e.conftest import Pipeline

CUSTOMER = "+13214436893"
OTHER = "+14155550177"
ADMIN = {"authorization": "Bearer e2e-admin-token"}


async def _walk(http: httpx.AsyncClient, url: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await http.get(url, params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


async def _sync_conversation(pipeline: Pipeline) -> list[str]:
    """The resources, newest first, that the customer took part in (as created)."""
    ws = pipeline.workspace
    now = time.time()
    events = []
    ids: list[tuple[float, str]] = []
    for minutes, kind in [(50, "call"), (40, "in"), (30, "call"), (20, "out"), (10, "in")]:
        at = now - minutes * 60
        if kind == "call":
            call = ws.add_call(pipeline.pn_id, CUSTOMER, at=at, talk_seconds=90)
            events.append(pipeline.emitter.call_event("call.ringing", call.id, at))
            while (stage := ws.advance_call(call.id)) is not None:
                event_type = STAGE_EVENTS[stage]
                if event_type is not None:
                    events.append(pipeline.emitter.call_event(event_type, call.id, at))
            ids.append((call.created_at, call.id))
        elif kind == "in":
            message = ws.add_message(pipeline.pn_id, [CUSTOMER], f"hello {minutes}", at=at)
            events.append(pipeline.emitter.message_event("message.received", message.id, at))
            ids.append((message.created_at, message.id))
        else:
            message = ws.add_message(
                pipeline.pn_id, [CUSTOMER], f"reply {minutes}", at=at, direction="outgoing"
            )
            ws.deliver_message(message.id, at + 1)
            events.append(pipeline.emitter.message_event("message.delivered", message.id, at))
            ids.append((message.created_at, message.id))
    stranger = ws.add_message(pipeline.pn_id, [OTHER], "not the customer", at=now - 5)
    events.append(pipeline.emitter.message_event("message.received", stranger.id, now - 5))
    deliveries = await pipeline.emitter.deliver(events)
    assert all(d.ok for d in deliveries)
    counts = await pipeline.drain()
    assert counts["dead"] == 0
    return [resource_id for _, resource_id in sorted(ids, reverse=True)]


def _page_id(pipeline: Pipeline, item: dict[str, Any]) -> str:
    pages = (
        pipeline.call_pages(item["id"])
        if item["type"] == "call"
        else pipeline.message_pages(item["id"])
    )
    [page] = pages
    return str(page["id"])


async def test_the_timeline_of_a_synced_contact_reads_the_store_only(pipeline: Pipeline) -> None:
    canvas = pipeline.canvas_page("Acme Hardware", "321-443-6893")
    expected = await _sync_conversation(pipeline)
    notion_before = pipeline.notion_requests()
    openphone_before = pipeline.openphone_sim.counters.total
    base = pipeline.webhook_url.rsplit("/webhooks/", 1)[0]

    async with httpx.AsyncClient(timeout=10) as http:
        by_number = await _walk(http, f"{base}/api/contacts/321-443-6893/timeline", 2)
        by_canvas = await _walk(http, f"{base}/api/canvas/{canvas.replace('-', '')}/timeline", 3)
        unknown = await http.get(f"{base}/api/contacts/+19995550123/timeline", headers=ADMIN)
        recordings = [url for item in by_number for url in item.get("recording_urls", [])]
        audio = [await http.get(url) for url in recordings]

    assert [item["id"] for item in by_number] == expected
    assert [item["id"] for item in by_canvas] == expected  # every page links to the customer
    assert unknown.status_code == 404
    for item in by_number:
        page_id = _page_id(pipeline, item)
        assert item["notion_page_id"] == page_id
        assert item["notion_url"] == "https://www.notion.so/" + page_id.replace("-", "")
        assert item["canvas_id"] == canvas
        assert item["counterparty"] == CUSTOMER
    calls = [item for item in by_number if item["type"] == "call"]
    assert len(calls) == 2
    assert all(call["summary"] and call["recording_urls"] for call in calls)
    assert all(
        r.status_code == 200 and r.headers["content-type"].startswith("audio/") for r in audio
    )
    texts = [item["text"] for item in by_number if item["type"] == "message"]
    assert texts == ["hello 10", "reply 20", "hello 40"]
    # Not one request to Notion or OpenPhone (the audio came from opsync's own blob store).
    assert pipeline.notion_requests() == notion_before
    assert pipeline.openphone_sim.counters.total == openphone_before
