"""The webhook emitter: envelopes, both signature schemes, order, spacing, switches, outcomes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsync.clock import FakeClock
from opsync.sandbox._server import serve
from opsync.sandbox.openphone import generate_workspace
from opsync.sandbox.openphone.webhooks import (
    DeliveryOptions,
    Target,
    WebhookEmitter,
    call_schedule,
)
from tests.sandbox.openphone.support import NOW, client, make_sim

LEGACY_SECRET = base64.b64encode(bytes(range(0xA0, 0xC0))).decode()
STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
LIFE = [
    "call.ringing",
    "call.completed",
    "call.recording.completed",
    "call.transcript.completed",
    "call.summary.completed",
]


@dataclass
class Receiver:
    """An in-process HTTP endpoint recording raw bodies and headers; can fail on demand."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    fail_with: int | None = None

    async def handle(self, request: Request) -> Response:
        self.received.append((await request.body(), dict(request.headers)))
        return Response(status_code=self.fail_with or 200)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _ in self.received]

    @property
    def types(self) -> list[str]:
        return [body["type"] for body in self.bodies]


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    sink = Receiver()
    app = Starlette(routes=[Route("/hook", sink.handle, methods=["POST"])])
    async with serve(app) as base_url:
        yield sink, f"{base_url}/hook"


def _verify_legacy(body: bytes, header: str, secret_b64: str) -> bool:
    scheme, version, ts, sig = header.split(";")
    digest = hmac.new(base64.b64decode(secret_b64), ts.encode() + b"." + body, hashlib.sha256)
    expected = base64.b64encode(digest.digest()).decode()
    return scheme == "hmac" and version == "1" and hmac.compare_digest(sig, expected)


def _new_call(clock: FakeClock) -> tuple[Any, str]:
    ws = generate_workspace(1, clock.now())
    call = ws.add_call(ws.phone_numbers[0]["id"], "+14155550140", at=clock.now(), talk_seconds=300)
    return ws, call.id


async def test_call_life_in_order_with_simulated_spacing_and_legacy_signatures() -> None:
    clock = FakeClock(NOW)
    ws, call_id = _new_call(clock)
    schedule = call_schedule(ws, call_id)
    assert [s.event for s in schedule] == LIFE
    async with receiver() as (sink, url):
        target = Target(url=url, secret=LEGACY_SECRET)
        async with WebhookEmitter(ws, clock, [target]) as emitter:
            events = await emitter.play_call(call_id)
    assert sink.types == LIFE == [e.type for e in events]
    offsets = [s.offset for s in schedule]
    assert offsets[1] >= 300
    assert offsets[4] - offsets[1] >= 300
    assert sum(clock.slept) == offsets[-1]
    for (raw, headers), event in zip(sink.received, events, strict=True):
        assert _verify_legacy(raw, headers["openphone-signature"], LEGACY_SECRET)
        assert "webhook-signature" not in headers
        body = json.loads(raw)
        assert body["id"] == event.id
        assert body["id"].startswith("EV")
        assert body["object"] == "event"
        assert body["apiVersion"] == "v4"
        assert raw == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    objects = [b["data"]["object"] for b in sink.bodies]
    assert objects[0]["status"] == "ringing"
    assert objects[0]["completedAt"] is None
    assert objects[1]["status"] == "completed"
    assert objects[1]["duration"] == 300
    assert objects[3]["object"] == "callTranscript"
    assert objects[3]["dialogue"]
    assert objects[4]["object"] == "callSummary"
    assert objects[4]["nextSteps"]
    assert ws.calls[call_id].summary.status == "completed"
    assert [d.status_code for d in emitter.deliveries] == [200] * 5


async def test_standard_webhooks_signature_and_new_envelope() -> None:
    clock = FakeClock(time.time())  # the verifier checks its own wall clock
    ws = generate_workspace(2, clock.now())
    message = ws.add_message(
        ws.phone_numbers[0]["id"], ["+14155550141"], "Olá 👋", at=clock.now(), media=["image/png"]
    )
    async with receiver() as (sink, url):
        target = Target(url=url, secret=STANDARD_SECRET, scheme="standard", envelope="new")
        async with WebhookEmitter(ws, clock, [target], media_base_url="http://sim") as emitter:
            await emitter.play_message(message.id)
    ((raw, headers),) = sink.received
    assert headers["webhook-id"].startswith("msg_")
    assert "openphone-signature" not in headers
    payload = Webhook(STANDARD_SECRET).verify(raw, headers)
    assert payload["type"] == "message.received"
    resource = payload["data"]["resource"]
    assert resource["text"] == "Olá 👋"
    assert "object" not in resource
    assert resource["media"] == [
        {"url": f"http://sim/media/files/{message.id}-0.png", "type": "image/png"}
    ]
    tampered = raw.replace("Olá".encode(), b"Ola")
    assert tampered != raw
    with pytest.raises(WebhookVerificationError):
        Webhook(STANDARD_SECRET).verify(tampered, headers)


async def test_outgoing_message_is_delivered_a_few_seconds_later() -> None:
    clock = FakeClock(NOW)
    ws = generate_workspace(1, NOW)
    message = ws.add_message(
        ws.phone_numbers[0]["id"], ["+14155550142"], "hi", at=NOW, direction="outgoing"
    )
    assert message.status == "sent"
    async with receiver() as (sink, url):
        emitter = WebhookEmitter(ws, clock, [Target(url=url, secret=LEGACY_SECRET)])
        await emitter.play_message(message.id)
        await emitter.aclose()
    assert sink.types == ["message.delivered"]
    assert sink.bodies[0]["data"]["object"]["status"] == "delivered"
    assert clock.slept == [3.0]


async def test_duplicates_repeat_the_same_event_and_webhook_id() -> None:
    clock = FakeClock(NOW)
    ws, call_id = _new_call(clock)
    async with receiver() as (sink, url):
        target = Target(url=url, secret=LEGACY_SECRET)
        options = DeliveryOptions(duplicate_probability=1.0)
        async with WebhookEmitter(ws, clock, [target], options) as emitter:
            await emitter.play_call(call_id)
    assert sink.types == [t for t in LIFE for _ in range(2)]
    ids = [b["id"] for b in sink.bodies]
    assert ids[0::2] == ids[1::2]
    assert [d.duplicate for d in emitter.deliveries] == [False, True] * 5
    assert len({d.webhook_id for d in emitter.deliveries}) == 5


async def test_out_of_order_delivers_the_same_events_in_another_order() -> None:
    clock = FakeClock(NOW)
    ws, call_id = _new_call(clock)
    async with receiver() as (sink, url):
        options = DeliveryOptions(out_of_order=True, seed=3)
        target = Target(url=url, secret=LEGACY_SECRET)
        async with WebhookEmitter(ws, clock, [target], options) as emitter:
            await emitter.play_call(call_id)
    assert sorted(sink.types) == sorted(LIFE)
    assert sink.types != LIFE


async def test_burst_sends_everything_at_once_without_waiting() -> None:
    clock = FakeClock(NOW)
    ws, call_id = _new_call(clock)
    async with receiver() as (sink, url):
        target = Target(url=url, secret=LEGACY_SECRET)
        async with WebhookEmitter(ws, clock, [target], DeliveryOptions(burst=True)) as emitter:
            await emitter.play_call(call_id)
    assert clock.slept == []
    assert sorted(sink.types) == sorted(LIFE)
    assert ws.calls[call_id].stages == []


async def test_registered_webhooks_filter_events_and_failures_are_recorded() -> None:
    clock = FakeClock(NOW)
    sim = make_sim(clock=clock)
    async with receiver() as (sink, url):
        async with client(sim) as http:
            created = await http.post(
                "/v1/webhooks/call-summaries",
                json={"url": url, "events": ["call.summary.completed"]},
            )
        key = created.json()["data"]["key"]
        sink.fail_with = 503
        call = sim.workspace.add_call(
            sim.workspace.phone_numbers[0]["id"], "+14155550143", at=NOW, talk_seconds=60
        )
        async with WebhookEmitter(sim.workspace, clock) as emitter:
            emitter.add_registered_webhooks()
            await emitter.play_call(call.id)
    assert sink.types == ["call.summary.completed"]
    raw, headers = sink.received[0]
    assert _verify_legacy(raw, headers["openphone-signature"], key)
    assert [d.status_code for d in emitter.deliveries] == [503]


async def test_object_type_names_and_unreachable_targets() -> None:
    clock = FakeClock(NOW)
    ws, call_id = _new_call(clock)
    async with receiver() as (sink, url):
        targets = [
            Target(url=url, secret=LEGACY_SECRET, events=frozenset({"call.summary.completed"})),
            Target(url="http://127.0.0.1:9/hook", secret=LEGACY_SECRET,
                   events=frozenset({"call.ringing"})),
        ]  # fmt: skip
        options = DeliveryOptions(object_type_names=True)
        async with WebhookEmitter(ws, clock, targets, options) as emitter:
            await emitter.play_call(call_id)
    assert sink.types == ["callSummary"]
    failed = [d for d in emitter.deliveries if d.status_code is None]
    assert len(failed) == 1
    assert failed[0].event_type == "call.ringing"
    assert failed[0].error


async def test_failed_deliveries_are_retried_on_the_clock() -> None:
    clock = FakeClock(NOW)
    ws = generate_workspace(1, NOW)
    message = ws.add_message(ws.phone_numbers[0]["id"], ["+14155550144"], "retry me", at=NOW)
    async with receiver() as (sink, url):
        sink.fail_with = 500
        options = DeliveryOptions(retry_delays=(5.0, 300.0, 1800.0))
        emitter = WebhookEmitter(ws, clock, [Target(url=url, secret=LEGACY_SECRET)], options)
        await emitter.play_message(message.id)
        sink.fail_with = None
        second = ws.add_message(ws.phone_numbers[0]["id"], ["+14155550144"], "ok", at=NOW)
        await emitter.play_message(second.id)
        await emitter.aclose()
    assert [(d.attempt, d.status_code) for d in emitter.deliveries] == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 500),
        (1, 200),
    ]
    assert clock.slept == [5.0, 300.0, 1800.0]
    assert len({d.webhook_id for d in emitter.deliveries[:4]}) == 1
    assert len({body for body, _ in sink.received[:4]}) == 1


async def test_simulator_emitter_serves_media_links_from_itself() -> None:
    clock = FakeClock(NOW)
    sim = make_sim(clock=clock)
    ws = sim.workspace
    message = ws.add_message(ws.phone_numbers[0]["id"], ["+14155550145"], "pic", at=NOW,
                             media=["image/png"])  # fmt: skip
    async with receiver() as (sink, url), serve(sim.app) as base_url:
        async with sim.emitter(base_url, [Target(url=url, secret=LEGACY_SECRET)]) as emitter:
            await emitter.play_message(message.id)
        (media,) = sink.bodies[0]["data"]["object"]["media"]
        async with httpx.AsyncClient() as http:
            image = await http.get(media["url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
