# ruff: noqa: RUF001  (right-to-left and mathematical letters are the point here)
"""Odd but valid data, end to end through the real pipeline: emoji and right-to-left text,
100 KB messages, nulls the reference allows, unknown extra fields, numbers in national formats.

Each test checks the Notion pages through the simulator's state, that nothing is in the dead
letters, and that the simulated Notion (which enforces 2,000 characters per rich-text object,
100 items per array and 100 blocks per request) refused no request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from opsync.clock import SystemClock
from opsync.openphone.signatures import sign_legacy
from opsync.render.text import TRUNCATED_SEE_BODY
from opsync.sandbox.openphone.models import Summary
from opsync.sandbox.openphone.webhooks import Event
from opsync.sandbox.openphone.workspace import STAGE_EVENTS
from opsync.sync.jobs import SyncJob, enqueue_sync_job
from tests.e2e.conftest import Pipeline, plain

CUSTOMER = "+13214436893"
RTL_EMOJI_TEXT = (
    "\u200fمرحبا! هل الطلب جاهز؟ 👋🏽 "  # Arabic after a right-to-left mark, skin-tone emoji
    "שלום, ההזמנה מוכנה ✅ "  # Hebrew
    "👩🏽‍💻 family: 👨‍👩‍👧‍👦 flag: 🇮🇱 keycap: 1️⃣ "  # ZWJ sequences, flags, keycaps
    "e\u0301 ñ 漢字 \u202bembedded RTL\u202c 𝒇𝒂𝒏𝒄𝒚"  # combining mark, CJK, embedding, astral
)
CONTACT_NAME = "شركة الأمل 🌙 — דני"
EXTRA_FIELDS: dict[str, Any] = {
    "contactIds": ["6824dfb69aee85c132b7dg65"],
    "futureField": {"nested": [1, None, {"deep": "🙂"}], "flag": True},
    "sentiment": None,
}


def assert_clean_run(pipeline: Pipeline, counts: dict[str, int], events: int) -> None:
    """Every event done, nothing dead, and no request the simulated Notion refused."""
    assert counts["dead"] == 0, counts
    assert counts["done"] == events, counts
    refused = {
        endpoint: by_status
        for endpoint, by_status in pipeline.notion_sim.counter.to_json().items()
        if any(status.startswith("4") and status != "404" for status in by_status)
    }
    assert refused == {}


def body_blocks(pipeline: Pipeline, page_id: str) -> list[tuple[str, str]]:
    """(block type, its text) for every block of the page body, in order."""
    out: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        listed = pipeline.notion_sim.state.list_children(page_id, cursor, 100)
        for block in listed["results"]:
            rich = block.get(block["type"], {}).get("rich_text", [])
            out.append((block["type"], "".join(r["plain_text"] for r in rich)))
        cursor = listed.get("next_cursor")
        if not listed.get("has_more"):
            return out


def with_resource(event: Event, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Event:
    """``event`` under its own id with its resource changed by ``change``."""
    return Event(event.id, event.type, event.created_at, event.phone_number_id,
                 change(dict(event.resource)))  # fmt: skip


def call_life(
    pipeline: Pipeline, call_id: str, after_stage: Callable[[str], None] | None = None
) -> list[Event]:
    """The call's events, stage by stage; ``after_stage(stage)`` may change the workspace's
    call (and so what the event and the REST API say) before the stage's event is built."""
    now = SystemClock().now()
    events = [pipeline.emitter.call_event("call.ringing", call_id, now)]
    while (stage := pipeline.workspace.advance_call(call_id)) is not None:
        if after_stage is not None:
            after_stage(stage)
        event_type = STAGE_EVENTS[stage]
        if event_type is not None:
            events.append(pipeline.emitter.call_event(event_type, call_id, now))
    return events


async def test_emoji_and_right_to_left_messages_keep_every_character(pipeline: Pipeline) -> None:
    canvas = pipeline.canvas_page(CONTACT_NAME, "(321) 443-6893")
    ws = pipeline.workspace
    incoming = ws.add_message(pipeline.pn_id, [CUSTOMER], RTL_EMOJI_TEXT, at=0)
    outgoing = ws.add_message(
        pipeline.pn_id, [CUSTOMER], RTL_EMOJI_TEXT[::-1], at=0, direction="outgoing"
    )
    ws.deliver_message(outgoing.id, 2.0)
    events = [
        pipeline.emitter.message_event("message.received", incoming.id, 1.0),
        pipeline.emitter.message_event("message.delivered", outgoing.id, 2.0),
    ]
    deliveries = await pipeline.emitter.deliver(events)
    assert [d.status_code for d in deliveries] == [202, 202]
    assert_clean_run(pipeline, await pipeline.drain(), len(events))

    [in_page] = pipeline.message_pages(incoming.id)
    [out_page] = pipeline.message_pages(outgoing.id)
    assert plain(in_page["properties"]["Content"]) == RTL_EMOJI_TEXT
    assert plain(out_page["properties"]["Content"]) == RTL_EMOJI_TEXT[::-1]
    for page in (in_page, out_page):
        assert [r["id"] for r in page["properties"]["Canvas"]["relation"]] == [canvas]
    assert in_page["properties"]["From"]["phone_number"] == CUSTOMER
    assert out_page["properties"]["To"]["phone_number"] == CUSTOMER


async def test_a_100_kb_message_is_synced_whole(pipeline: Pipeline) -> None:
    unit = "Line of a very long text — שלום 👋🏽 مرحبا 漢字. "
    text = (unit * (100_000 // len(unit.encode()) + 1)).encode()[:100_000].decode("utf-8", "ignore")
    assert len(text.encode()) > 99_990
    message = pipeline.workspace.add_message(pipeline.pn_id, [CUSTOMER], text, at=0)
    event = pipeline.emitter.message_event("message.received", message.id, 1.0)
    [delivery] = await pipeline.emitter.deliver([event])
    assert delivery.status_code == 202
    assert_clean_run(pipeline, await pipeline.drain(), 1)

    [page] = pipeline.message_pages(message.id)
    content = plain(page["properties"]["Content"])
    assert content.endswith(TRUNCATED_SEE_BODY)
    assert text.startswith(content.removesuffix(TRUNCATED_SEE_BODY))
    blocks = body_blocks(pipeline, page["id"])
    assert blocks[0] == ("heading_2", "Message")
    assert {kind for kind, _ in blocks[1:]} == {"paragraph"}
    assert "".join(block_text for _, block_text in blocks[1:]) == text


async def test_a_call_with_odd_names_text_nulls_and_extra_fields(pipeline: Pipeline) -> None:
    """A contact named in Arabic and Hebrew with an emoji, its number stored in a national
    format; a transcript in right-to-left text with emoji, an unknown speaker (``identifier``
    and ``userId`` null) and extra fields; a summary whose ``nextSteps`` and ``jobs`` are null;
    every event with unknown extra fields."""
    canvas = pipeline.canvas_page(CONTACT_NAME, "321.443.6893")
    pipeline.workspace.contacts.append(
        {
            "id": "odd-contact-1",
            "externalId": None,
            "source": None,
            "sourceUrl": None,
            "defaultFields": {
                "firstName": "شركة الأمل 🌙",
                "lastName": "דני",
                "company": None,
                "role": None,
                "emails": [],
                "phoneNumbers": [{"name": "mobile", "value": "(321) 443-6893", "id": None}],
            },
            "customFields": [],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "createdByUserId": pipeline.workspace.owner_id,
        }
    )
    call_id = pipeline.add_call(CUSTOMER, talk_seconds=120)
    call = pipeline.workspace.calls[call_id]
    own = pipeline.own_number
    dialogue = [
        {"content": "Hello, how can I help? 🙂", "start": 0.5, "end": 2.0,
         "identifier": own, "userId": call.user_id},
        {"content": RTL_EMOJI_TEXT, "start": 2.5, "end": 9.0,
         "identifier": CUSTOMER, "userId": None, "sentiment": "positive"},
        {"content": "(someone else) 👀", "start": 65.0, "end": 66.0,
         "identifier": None, "userId": None},
    ]  # fmt: skip

    def odd(stage: str) -> None:
        if stage == "transcript":
            assert call.transcript is not None
            call.transcript.dialogue = dialogue
        if stage == "summary":
            call.summary = Summary("completed", ["ملخص: العميل راضٍ 👍", "לקוח מרוצה"], None)

    events = [
        with_resource(e, lambda r: {**r, **EXTRA_FIELDS}) for e in call_life(pipeline, call_id, odd)
    ]
    deliveries = await pipeline.emitter.deliver(events)
    assert {d.status_code for d in deliveries} == {202}
    assert_clean_run(pipeline, await pipeline.drain(), len(events))

    [page] = pipeline.call_pages(call_id)
    props = page["properties"]
    assert [r["id"] for r in props["Canvas"]["relation"]] == [canvas]
    assert plain(props["Summary"]) == "ملخص: العميل راضٍ 👍\nלקוח מרוצה"
    assert plain(props["Next Steps"]) == ""
    assert props["Answered At"]["date"] is not None
    assert props["Forwarded From"]["rich_text"] == []
    transcript = plain(props["Transcript"])
    assert f"[00:02] شركة الأمل 🌙 דני: {RTL_EMOJI_TEXT}" in transcript
    assert "[01:05] Unknown speaker: (someone else) 👀" in transcript
    body = "\n".join(block_text for _, block_text in body_blocks(pipeline, page["id"]))
    assert RTL_EMOJI_TEXT in body
    assert "ملخص: العميل راضٍ 👍" in body
    assert "Next steps" not in body  # null next steps: no section


async def post_signed(pipeline: Pipeline, document: dict[str, Any]) -> httpx.Response:
    """``document`` delivered as OpenPhone would, signed with the registered webhook's key."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    stamp = int(SystemClock().now() * 1000)
    headers = {
        "content-type": "application/json",
        "openphone-signature": sign_legacy(pipeline.keys[0], stamp, body),
    }
    async with httpx.AsyncClient() as http:
        return await http.post(pipeline.webhook_url, content=body, headers=headers)


async def test_messages_with_nulls_extra_fields_and_national_numbers(pipeline: Pipeline) -> None:
    """Incoming messages whose ``userId`` (and, in one, ``phoneNumberId``) is null, in payloads
    with unknown fields at every level, their numbers written in national formats; one in the
    new envelope with its phone number only in ``data.context``."""
    canvas = pipeline.canvas_page("Acme Hardware", "+1 (321) 443-6893")
    ws = pipeline.workspace
    own = pipeline.own_number.removeprefix("+1")
    texts = ["from a national number 📞", "no phone number id", "phone number in context"]
    messages = [ws.add_message(pipeline.pn_id, [CUSTOMER], text, at=0) for text in texts]
    resources = []
    for message in messages:
        resource = pipeline.emitter.message_event("message.received", message.id, 1.0).resource
        resources.append(
            {
                **resource,
                **EXTRA_FIELDS,
                "userId": None,
                "from": "(321) 443-6893",
                "to": [f"{own[:3]}-{own[3:6]}-{own[6:]}"],
            }
        )
    resources[1]["phoneNumberId"] = None
    resources[2]["phoneNumberId"] = None
    envelope_extras: dict[str, Any] = {
        "deliveryAttempt": 3,
        "workspace": {"id": "WS1", "plan": None},
    }
    documents: list[dict[str, Any]] = [
        {"id": "EVodd1", "object": "event", "apiVersion": "v4", **envelope_extras,
         "createdAt": "2026-04-01T00:00:00.000Z", "type": "message.received",
         "data": {"object": resources[0], "unknown": [1, 2]}},
        {"id": "EVodd2", "object": "event", "apiVersion": "v4",
         "createdAt": "2026-04-01T00:00:00Z", "type": "message.received",
         "data": {"object": resources[1]}},
        {"id": "EVodd3", "apiVersion": "2026-03-30", **envelope_extras,
         "createdAt": "2026-04-01T00:00:00.000+00:00", "type": "message.received",
         "data": {"resource": {k: v for k, v in resources[2].items() if k != "object"},
                  "context": {"phoneNumberId": pipeline.pn_id, "contacts": {
                      "lookupStatus": "unavailable", "ids": []}},
                  "links": {"quo": None}}},
    ]  # fmt: skip
    answers = [await post_signed(pipeline, document) for document in documents]
    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    assert_clean_run(pipeline, await pipeline.drain(), 3)

    for message, text in zip(messages, texts, strict=True):
        [page] = pipeline.message_pages(message.id)
        props = page["properties"]
        assert plain(props["Content"]) == text
        assert props["From"]["phone_number"] == CUSTOMER
        assert props["To"]["phone_number"] == pipeline.own_number
        assert plain(props["Phone Number ID"]) == pipeline.pn_id, text
        assert [r["id"] for r in props["Canvas"]["relation"]] == [canvas]
        assert props["Direction"]["select"]["name"] == "incoming"
    # Without a phone number id nor a context, the message was fetched to be routed, and that
    # copy (further along: delivered, with its user) is the one shown.
    rest = ws.messages[messages[1].id]
    shown = [plain(pipeline.message_pages(m.id)[0]["properties"]["User ID"]) for m in messages]
    assert shown == ["", rest.user_id, ""]


async def test_a_transcript_payload_with_nan_falls_back_to_the_rest_copy(
    pipeline: Pipeline,
) -> None:
    """``NaN`` is not JSON but Python's parser takes it: the delivery is refused at the door
    (400, nothing stored; the models would refuse it too) and the transcript comes from the
    API instead, at the next scheduled sync's late-enrichment pass; nothing is dead-lettered."""
    call_id = pipeline.add_call(CUSTOMER, talk_seconds=60)
    events = call_life(pipeline, call_id)
    transcript = next(e for e in events if e.type == "call.transcript.completed")
    dialogue = [{**entry, "start": float("nan")} for entry in transcript.resource["dialogue"]]
    poisoned = {
        "id": transcript.id, "object": "event", "apiVersion": "v4",
        "createdAt": "2026-04-01T00:00:00.000Z", "type": transcript.type,
        "data": {"object": {**transcript.resource, "dialogue": dialogue}},
    }  # fmt: skip
    others = [e for e in events if e is not transcript]
    await pipeline.emitter.deliver(others)
    assert (await post_signed(pipeline, poisoned)).status_code == 400
    assert_clean_run(pipeline, await pipeline.drain(), len(others))
    job = SyncJob(pipeline.pn_id, messages=False)
    assert await enqueue_sync_job(pipeline.service.store, job, event_id="sync-after-nan")
    assert_clean_run(pipeline, await pipeline.drain(), len(others) + 1)
    [page] = pipeline.call_pages(call_id)
    spoken = [str(entry["content"]) for entry in transcript.resource["dialogue"]]
    assert all(line in plain(page["properties"]["Transcript"]) for line in spoken)
