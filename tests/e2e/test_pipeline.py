"""End to end through real HTTP: webhooks in, one correct Notion page per resource out."""

from __future__ import annotations

import json

import httpx

from opsync.openphone.signatures import sign_legacy, standard_headers
from tests.e2e.conftest import Pipeline, plain

CUSTOMER = "+13214436893"


async def test_a_call_through_its_whole_life_with_duplicates_makes_one_correct_page(
    pipeline: Pipeline,
) -> None:
    canvas = pipeline.canvas_page("Acme Hardware", "321-443-6893")
    call_id = pipeline.add_call(CUSTOMER, talk_seconds=1500)
    events = pipeline.call_events(call_id)
    assert [e.type for e in events] == [
        "call.ringing",
        "call.completed",
        "call.recording.completed",
        "call.transcript.completed",
        "call.summary.completed",
    ]
    deliveries = await pipeline.emitter.deliver(events)
    deliveries += await pipeline.emitter.deliver(events)  # every event twice
    assert all(d.ok for d in deliveries)
    assert sorted(d.status_code for d in deliveries).count(202) == len(events)
    counts = await pipeline.drain()
    assert counts["done"] == len(events)
    assert counts["dead"] == 0

    [page] = pipeline.call_pages(call_id)
    props = page["properties"]
    call = pipeline.workspace.calls[call_id]
    assert props["Status"]["select"]["name"] == "completed"
    assert props["Direction"]["select"]["name"] == "incoming"
    assert props["Duration"]["number"] == call.duration
    assert props["Has Recording"]["checkbox"] is True
    assert props["Recording URL"]["url"].startswith("http://127.0.0.1:")
    assert props["Has Transcript"]["checkbox"] is True
    assert props["Has Summary"]["checkbox"] is True
    assert props["Transcript Status"]["select"]["name"] == "completed"
    assert [r["id"] for r in props["Canvas"]["relation"]] == [canvas]
    # The whole transcript is in the body, even though it is far over 2,000 characters.
    transcript = pipeline.workspace.calls[call_id].transcript
    assert transcript is not None
    spoken = [str(entry["content"]) for entry in transcript.dialogue]
    assert sum(len(s) for s in spoken) > 2_000
    body = pipeline.body_text(page["id"])
    assert all(line in body for line in spoken)


async def test_the_recording_link_serves_the_stored_audio(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call(CUSTOMER)
    await pipeline.emitter.deliver(pipeline.call_events(call_id))
    await pipeline.drain()
    [page] = pipeline.call_pages(call_id)
    url = page["properties"]["Recording URL"]["url"]
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        forged = await http.get(url.split("?")[0] + "?sig=AAAA")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("audio/")
    assert len(response.content) > 100
    assert forged.status_code == 401  # no valid signature and no admin token


async def test_reordered_events_end_in_the_same_final_page(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call("+14155550177")
    ringing, completed, recording, transcript, summary = pipeline.call_events(call_id)
    for event in (summary, transcript, recording, ringing, completed):
        [delivery] = await pipeline.emitter.deliver([event])
        assert delivery.status_code == 202
    await pipeline.drain()
    [page] = pipeline.call_pages(call_id)
    props = page["properties"]
    assert props["Status"]["select"]["name"] == "completed"
    assert props["Has Summary"]["checkbox"] is True
    assert props["Has Transcript"]["checkbox"] is True
    assert plain(props["Summary"]) != ""


async def test_messages_received_and_delivered(pipeline: Pipeline) -> None:
    ws = pipeline.workspace
    incoming = ws.add_message(pipeline.pn_id, [CUSTOMER], "Hi! Is the order ready? 👋", at=0)
    outgoing = ws.add_message(
        pipeline.pn_id, [CUSTOMER], "Yes — ready for pickup.", at=0, direction="outgoing"
    )
    received = pipeline.emitter.message_event("message.received", incoming.id, 1.0)
    ws.deliver_message(outgoing.id, 2.0)
    delivered = pipeline.emitter.message_event("message.delivered", outgoing.id, 2.0)
    await pipeline.emitter.deliver([received, delivered])
    await pipeline.drain()
    [in_page] = pipeline.message_pages(incoming.id)
    [out_page] = pipeline.message_pages(outgoing.id)
    assert plain(in_page["properties"]["Content"]) == "Hi! Is the order ready? 👋"
    assert in_page["properties"]["Direction"]["select"]["name"] == "incoming"
    assert in_page["properties"]["From"]["phone_number"] == CUSTOMER
    assert out_page["properties"]["Status"]["select"]["name"] == "delivered"
    assert out_page["properties"]["To"]["phone_number"] == CUSTOMER


async def test_canvas_numbers_in_three_formats_and_never_the_workspace_number(
    pipeline: Pipeline,
) -> None:
    formats = {
        "+12125550101": "212-555-0101",
        "+12125550102": "(212) 555-0102",
        "+12125550103": "+12125550103",
    }
    expected = {number: pipeline.canvas_page(f"C{i}", text) for i, (number, text) in
                enumerate(formats.items())}  # fmt: skip
    other_line = pipeline.workspace.phone_numbers[1]
    pipeline.canvas_page("Our own line", str(other_line["number"]))  # must never be linked
    ws = pipeline.workspace
    messages = {n: ws.add_message(pipeline.pn_id, [n], f"hello {n}", at=0) for n in formats}
    internal = ws.add_message(pipeline.pn_id, [str(other_line["number"])], "internal", at=0)
    events = [
        pipeline.emitter.message_event("message.received", m.id, 1.0)
        for m in [*messages.values(), internal]
    ]
    await pipeline.emitter.deliver(events)
    await pipeline.drain()
    for number, message in messages.items():
        [page] = pipeline.message_pages(message.id)
        assert [r["id"] for r in page["properties"]["Canvas"]["relation"]] == [expected[number]]
    [internal_page] = pipeline.message_pages(internal.id)
    assert internal_page["properties"]["Canvas"]["relation"] == []


async def test_an_unchanged_redelivery_costs_no_notion_request(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call(CUSTOMER)
    events = pipeline.call_events(call_id)
    await pipeline.emitter.deliver(events)
    await pipeline.drain()
    before = pipeline.notion_requests()
    # The same events under new event ids (a re-sent webhook, a backfill): processed again,
    # rendered again, and found unchanged.
    fresh = [
        type(e)(e.id + "x", e.type, e.created_at, e.phone_number_id, e.resource) for e in events
    ]
    deliveries = await pipeline.emitter.deliver(fresh)
    assert [d.status_code for d in deliveries] == [202] * len(events)
    counts = await pipeline.drain()
    assert counts["done"] == 2 * len(events)
    assert pipeline.notion_requests() == before
    assert len(pipeline.call_pages(call_id)) == 1


async def test_signature_failures_of_both_schemes_store_nothing(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call(CUSTOMER)
    event = pipeline.emitter.call_event("call.ringing", call_id, 0)
    body = json.dumps(event.envelope("legacy")).encode()
    wrong_legacy = sign_legacy("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1, body)
    stale = sign_legacy(pipeline.keys[0], 1_000, body)  # a valid key, a 1970 timestamp
    whsec = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    attempts = [
        {"openphone-signature": wrong_legacy},
        {"openphone-signature": stale},
        standard_headers(whsec, "msg_x", int(__import__("time").time()), body),
        {},
    ]
    async with httpx.AsyncClient() as http:
        for headers in attempts:
            response = await http.post(
                pipeline.webhook_url,
                content=body,
                headers={"content-type": "application/json", **headers},
            )
            assert response.status_code == 401, headers
            assert response.json()["error"] == "invalid_signature"
    assert sum((await pipeline.service.store.inbox_counts()).values()) == 0


async def test_summary_and_transcript_type_aliases_are_handled(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call(CUSTOMER)
    events = pipeline.call_events(call_id)
    pipeline.emitter.options.object_type_names = True  # "callSummary" / "callTranscript"
    await pipeline.emitter.deliver(events)
    counts = await pipeline.drain()
    assert counts["ignored"] == 0
    assert counts["done"] == len(events)
    [page] = pipeline.call_pages(call_id)
    assert page["properties"]["Has Summary"]["checkbox"] is True


async def test_health_and_phone_state(pipeline: Pipeline) -> None:
    call_id = pipeline.add_call(CUSTOMER)
    await pipeline.emitter.deliver(pipeline.call_events(call_id))
    await pipeline.drain()
    base = pipeline.webhook_url.rsplit("/webhooks", 1)[0]
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{base}/health")).json()
        denied = await http.get(f"{base}/phone/{pipeline.pn_id}/state")
        state = await http.get(
            f"{base}/phone/{pipeline.pn_id}/state",
            headers={"authorization": "Bearer e2e-admin-token"},
        )
    assert health["status"] == "healthy"
    assert health["inbox"]["done"] == 5
    assert denied.status_code == 401
    assert state.status_code == 200
    assert state.json()["phone_number_id"] == pipeline.pn_id


async def test_economy_of_a_call_life_and_of_messages(pipeline: Pipeline) -> None:
    """Per call life (5 webhooks): at most 3 Notion and 5 OpenPhone requests once its Canvas
    link is cached; per message 1 Notion request, plus 1 when its status changes."""
    pipeline.canvas_page("Acme Hardware", "321-443-6893")
    warm = pipeline.add_call(CUSTOMER)
    await pipeline.emitter.deliver(pipeline.call_events(warm))
    await pipeline.drain()

    notion_before = pipeline.notion_requests()
    openphone_before = pipeline.openphone_sim.counters.total
    call_id = pipeline.add_call(CUSTOMER, talk_seconds=1500)
    events = pipeline.call_events(call_id)
    await pipeline.emitter.deliver(events)
    await pipeline.drain()
    assert len(pipeline.call_pages(call_id)) == 1
    assert pipeline.notion_requests() - notion_before <= 3
    assert pipeline.openphone_sim.counters.total - openphone_before <= 5

    ws = pipeline.workspace
    outgoing = ws.add_message(pipeline.pn_id, [CUSTOMER], "On my way", at=0, direction="outgoing")
    sent = pipeline.emitter.message_event("message.received", outgoing.id, 1.0)
    notion_before = pipeline.notion_requests()
    await pipeline.emitter.deliver([sent])
    await pipeline.drain()
    assert pipeline.notion_requests() - notion_before == 1
    ws.deliver_message(outgoing.id, 2.0)
    delivered = pipeline.emitter.message_event("message.delivered", outgoing.id, 2.0)
    await pipeline.emitter.deliver([delivered])
    await pipeline.drain()
    assert pipeline.notion_requests() - notion_before == 2
