"""Webhook emitter: plays a call's or message's life against the workspace and POSTs the events.

A call's life is a schedule of ``(simulated offset, stage, event)`` steps (see
:func:`call_schedule`): ``call.ringing`` at 0, ``call.completed`` when the talk ends, then
``call.recording.completed`` (+20 s), ``call.transcript.completed`` (+2.5 min) and
``call.summary.completed`` (+5.5 min). :meth:`WebhookEmitter.play_call` waits for each step
on the injected :class:`~opsync.clock.Clock` (a ``FakeClock`` makes that instant), applies the
stage to the workspace — so the REST API agrees with what was just announced — and delivers
the event to every matching :class:`Target`.

Each delivery is an HTTP POST with a compact JSON body, signed with the target's scheme:
``legacy`` (``openphone-signature: hmac;1;<ms>;<b64>``, base64 key, as v1 API webhooks) or
``standard`` (``webhook-id``/``webhook-timestamp``/``webhook-signature``, ``whsec_`` key).
The envelope is the legacy v1 one (``data.object``, ``apiVersion: "v4"``) or the new one
(``data.resource``). :class:`DeliveryOptions` switches on duplicates (same envelope id and
``webhook-id``, as a retry), out-of-order delivery (a seeded permutation, never the original
order), bursts (no spacing, all at once) and the ``callSummary``/``callTranscript`` type
names of the official legacy samples, and retries of failed deliveries
(``retry_delays``, waited on the clock). Every attempt is recorded in ``emitter.deliveries``.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from opsync.clock import Clock
from opsync.openphone.signatures import sign_legacy, sign_standard
from opsync.sandbox.openphone import content
from opsync.sandbox.openphone.models import iso
from opsync.sandbox.openphone.workspace import STAGE_EVENTS, Workspace, natural_offsets

Scheme = Literal["legacy", "standard"]
EnvelopeKind = Literal["legacy", "new"]
OBJECT_TYPE_NAMES = {
    "call.summary.completed": "callSummary",
    "call.transcript.completed": "callTranscript",
}
MESSAGE_DELIVERY_SECONDS = 3.0


@dataclass(frozen=True)
class Target:
    """Where and how to deliver: URL, signing secret and scheme, envelope, filters."""

    url: str
    secret: str
    scheme: Scheme = "legacy"
    envelope: EnvelopeKind = "legacy"
    events: frozenset[str] | None = None
    resource_ids: frozenset[str] | None = None

    @classmethod
    def from_webhook(cls, webhook: dict[str, Any]) -> Target:
        """A v1 webhook created through the API (legacy scheme, its ``key`` as secret)."""
        ids = webhook["resourceIds"]
        return cls(
            url=webhook["url"],
            secret=webhook["key"],
            events=frozenset(webhook["events"]),
            resource_ids=None if ids == ["*"] else frozenset(ids),
        )

    def wants(self, event: Event) -> bool:
        return (self.events is None or event.type in self.events) and (
            self.resource_ids is None or event.phone_number_id in self.resource_ids
        )


@dataclass
class DeliveryOptions:
    duplicate_probability: float = 0.0
    out_of_order: bool = False
    burst: bool = False
    object_type_names: bool = False
    #: after a failed attempt (non-2xx or no answer), wait each delay in turn and try again
    #: (same envelope and ``webhook-id``, fresh signature); e.g. ``(5.0, 300.0)``
    retry_delays: tuple[float, ...] = ()
    seed: int = 0
    timeout: float = 10.0


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created_at: float
    phone_number_id: str
    resource: dict[str, Any]

    def envelope(self, kind: EnvelopeKind, type_name: str | None = None) -> dict[str, Any]:
        name = type_name or self.type
        if kind == "legacy":
            return {
                "id": self.id,
                "object": "event",
                "apiVersion": "v4",
                "createdAt": iso(self.created_at),
                "type": name,
                "data": {"object": self.resource},
            }
        resource = {k: v for k, v in self.resource.items() if k != "object"}
        return {
            "id": self.id,
            "apiVersion": "2026-03-30",
            "createdAt": iso(self.created_at),
            "type": name,
            "data": {"resource": resource, "context": {}, "links": {"quo": None}},
        }


@dataclass
class Delivery:
    event_id: str
    event_type: str
    url: str
    webhook_id: str
    status_code: int | None
    error: str | None = None
    sent_at: float = 0.0
    duplicate: bool = False
    attempt: int = 1

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Step:
    offset: float
    stage: str
    event: str | None


def call_schedule(ws: Workspace, call_id: str) -> list[Step]:
    """The remaining life of a call as steps, offsets in seconds after its creation (pure)."""
    call = ws.calls[call_id]
    steps = [Step(0.0, "ringing", "call.ringing")] if call.status == "ringing" else []
    steps += [Step(off, stage, STAGE_EVENTS[stage]) for off, stage in natural_offsets(call)]
    return steps


@dataclass
class WebhookEmitter:
    workspace: Workspace
    clock: Clock
    targets: list[Target] = field(default_factory=list)
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    http: httpx.AsyncClient | None = None
    media_base_url: str = "http://127.0.0.1"
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.options.seed)
        self._own_http = self.http is None
        self._client = self.http or httpx.AsyncClient(timeout=self.options.timeout)

    async def aclose(self) -> None:
        if self._own_http:
            await self._client.aclose()

    async def __aenter__(self) -> WebhookEmitter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def add_registered_webhooks(self) -> None:
        """Deliver also to every enabled, undeleted webhook created through the REST API."""
        for hook in self.workspace.webhooks.values():
            if hook["deletedAt"] is None and hook["status"] == "enabled":
                self.targets.append(Target.from_webhook(hook))

    # ---- building events ------------------------------------------------------------------

    def _event(self, event_type: str, at: float, pn_id: str, resource: dict[str, Any]) -> Event:
        return Event("EV" + content.hex_token(self._rng), event_type, at, pn_id, resource)

    def call_event(self, event_type: str, call_id: str, at: float) -> Event:
        call = self.workspace.calls[call_id]
        resource: dict[str, Any]
        if event_type == "call.summary.completed" and call.summary is not None:
            resource = {**call.summary.to_json(call.id), "object": "callSummary"}
            resource.pop("jobs", None)
        elif event_type == "call.transcript.completed" and call.transcript is not None:
            resource = {**call.transcript.to_json(call.id), "object": "callTranscript"}
        else:
            resource = {**call.to_json(), "object": "call"}
        return self._event(event_type, at, call.phone_number_id, resource)

    def message_event(self, event_type: str, message_id: str, at: float) -> Event:
        message = self.workspace.messages[message_id]
        resource = {**message.to_json(), "object": "message"}
        if event_type == "message.received":
            resource["status"] = "received"
        if message.media:
            resource["media"] = [m.to_json(self.media_base_url) for m in message.media]
        resource["conversationId"] = message.conversation_id
        return self._event(event_type, at, message.phone_number_id, resource)

    # ---- playing lives --------------------------------------------------------------------

    async def _wait_until(self, start: float, offset: float) -> None:
        wait = start + offset - self.clock.monotonic()
        if wait > 0 and not self.options.burst:
            await self.clock.sleep(wait)

    async def play_call(self, call_id: str) -> list[Event]:
        """Run the call's remaining life in simulated time; deliver its events; return them."""
        call = self.workspace.calls[call_id]
        start, events = self.clock.monotonic(), []
        for step in call_schedule(self.workspace, call_id):
            await self._wait_until(start, step.offset)
            at = call.created_at + step.offset
            if step.stage != "ringing":
                self.workspace.advance_call(call_id, at)
            if step.event is not None:
                events.append(self.call_event(step.event, call_id, at))
                if not self._holding:
                    await self.deliver([events[-1]])
        if self._holding:
            await self.deliver(events)
        return events

    async def play_message(self, message_id: str) -> list[Event]:
        """``message.received`` for an incoming message; ``message.delivered`` a bit after send."""
        message = self.workspace.messages[message_id]
        if message.direction == "incoming":
            events = [self.message_event("message.received", message_id, message.created_at)]
        else:
            start = self.clock.monotonic()
            await self._wait_until(start, MESSAGE_DELIVERY_SECONDS)
            at = message.created_at + MESSAGE_DELIVERY_SECONDS
            self.workspace.deliver_message(message_id, at)
            events = [self.message_event("message.delivered", message_id, at)]
        await self.deliver(events)
        return events

    @property
    def _holding(self) -> bool:
        return self.options.out_of_order or self.options.burst

    # ---- delivering -----------------------------------------------------------------------

    def _order(self, events: list[Event]) -> list[Event]:
        if not self.options.out_of_order or len(events) < 2:
            return list(events)
        shuffled = list(events)
        while shuffled == events:
            self._rng.shuffle(shuffled)
        return shuffled

    async def deliver(self, events: list[Event]) -> list[Delivery]:
        """Send ``events`` to every target that wants them, with the configured switches."""
        jobs: list[tuple[Event, Target, str, bool]] = []
        for event in self._order(events):
            for target in self.targets:
                if not target.wants(event):
                    continue
                webhook_id = "msg_" + content.token(self._rng, 22)
                jobs.append((event, target, webhook_id, False))
                if self._rng.random() < self.options.duplicate_probability:
                    jobs.append((event, target, webhook_id, True))
        if self.options.burst:
            return list(await asyncio.gather(*(self._attempts(*job) for job in jobs)))
        return [await self._attempts(*job) for job in jobs]

    def _body(self, event: Event, target: Target) -> bytes:
        name = OBJECT_TYPE_NAMES.get(event.type) if self.options.object_type_names else None
        envelope = event.envelope(target.envelope, name)
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()

    def _headers(self, target: Target, webhook_id: str, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "OpenPhone Webhooks (sim)"}
        if target.scheme == "standard":
            ts = int(self.clock.now())
            headers["webhook-id"] = webhook_id
            headers["webhook-timestamp"] = str(ts)
            headers["webhook-signature"] = sign_standard(target.secret, webhook_id, ts, body)
        else:
            ts_ms = int(self.clock.now() * 1000)
            headers["openphone-signature"] = sign_legacy(target.secret, ts_ms, body)
        return headers

    async def _attempts(self, event: Event, target: Target, webhook_id: str, dup: bool) -> Delivery:
        """Deliver once, then retry per ``retry_delays`` while it fails; return the last try."""
        record = await self._post(event, target, webhook_id, dup, 1)
        for attempt, delay in enumerate(self.options.retry_delays, start=2):
            if record.ok:
                break
            await self.clock.sleep(delay)
            record = await self._post(event, target, webhook_id, dup, attempt)
        return record

    async def _post(
        self, event: Event, target: Target, webhook_id: str, dup: bool, attempt: int
    ) -> Delivery:
        body = self._body(event, target)
        record = Delivery(
            event.id, event.type, target.url, webhook_id, None, None, self.clock.now(), dup, attempt
        )
        try:
            response = await self._client.post(
                target.url, content=body, headers=self._headers(target, webhook_id, body)
            )
            record.status_code = response.status_code
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        self.deliveries.append(record)
        return record
