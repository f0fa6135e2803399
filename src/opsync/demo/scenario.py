"""The demo's traffic: a seeded plan of calls and messages, played as webhooks on a fast clock.

:func:`build_scenario` is pure: the same options and ``now`` give the same workspace, plan and
Canvas pages. The plan spreads the lives of calls and messages over ``spread`` simulated
seconds; most are delivered in order, a share of the calls out of order (the emitter holds a
call's events until its life ends, then sends them shuffled: a transcript can come before
``call.completed``), and a burst group starts at one moment with no spacing at all. Every
emitter re-sends some deliveries (duplicates, same event id).

:class:`CompressedClock` keeps wall time real — the service checks signature timestamps
against its own clock — and only makes waiting faster. A call or message is created at the
real moment it starts playing, as in life, so the service's clock-relative decisions (the
call settle window opens at ``call.ringing``; the demo compresses that window by the same
factor) see what they would see in production. The later stages carry their natural
simulated times (``completedAt`` = creation + ring + talk), which therefore lie ahead of the
wall clock: the service must not trust OpenPhone's clock over its own, and does not.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx

from opsync.clock import Clock, SystemClock
from opsync.sandbox.notion import NotionState
from opsync.sandbox.openphone import DeliveryOptions, WebhookEmitter, Workspace, WorkspaceSize
from opsync.sandbox.openphone import generate_workspace as generate
from opsync.sandbox.openphone.content import MESSAGES
from opsync.sandbox.openphone.models import Direction
from opsync.sandbox.openphone.webhooks import Delivery, Event

DEFAULT_COMPRESSION = 120.0
Delivering = Literal["ordered", "shuffled", "burst"]

DIRECTIONS: tuple[Direction, ...] = ("incoming", "outgoing")
#: (direction, outcome) cycled through, so every kind of call is played
CALL_KINDS: list[tuple[Direction, str]] = [
    ("incoming", "answered"),
    ("outgoing", "answered"),
    ("incoming", "voicemail"),
    ("incoming", "missed"),
    ("outgoing", "no-answer"),
    ("incoming", "answered"),
    ("outgoing", "busy"),
    ("incoming", "forwarded"),
    ("outgoing", "canceled"),
    ("incoming", "abandoned"),
]
#: how a Canvas page spells a number; the pipeline must match all of them
PHONE_SPELLINGS = ("{a}-{b}-{c}", "({a}) {b}-{c}", "+1{a}{b}{c}")
LONG_CALL_SECONDS = 1500


class CompressedClock:
    """Real wall time (``now``), but ``sleep(s)`` takes ``s / compression`` real seconds and
    ``monotonic`` runs ``compression`` times faster, so schedules on it stay consistent."""

    def __init__(self, compression: float, base: Clock | None = None) -> None:
        if compression <= 0:
            raise ValueError("compression must be > 0")
        self.compression = compression
        self._base = base or SystemClock()
        self._origin = self._base.monotonic()

    def now(self) -> float:
        return self._base.now()

    def monotonic(self) -> float:
        return self._origin + (self._base.monotonic() - self._origin) * self.compression

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(max(0.0, seconds) / self.compression)


@dataclass(frozen=True)
class ScenarioOptions:
    calls: int = 30
    messages: int = 100
    phone_numbers: int = 3
    seed: int = 1
    #: simulated seconds over which lives start
    spread: float = 600.0
    duplicate_probability: float = 0.15
    shuffled_every: int = 3
    burst_share: float = 0.2
    #: simulated seconds between re-deliveries of a webhook that failed (refused, no answer)
    retry_delays: tuple[float, ...] = (2.0, 10.0)


@dataclass(frozen=True)
class PlannedCall:
    offset: float
    phone_number_id: str
    participant: str
    direction: Direction
    outcome: str
    talk_seconds: int
    delivering: Delivering


@dataclass(frozen=True)
class PlannedMessage:
    offset: float
    phone_number_id: str
    participant: str
    direction: Direction
    text: str
    media: tuple[str, ...]
    delivering: Delivering


@dataclass(frozen=True)
class CanvasEntry:
    """A Canvas page to seed: its name and the number as the page spells it."""

    e164: str
    name: str
    spelled: str


@dataclass
class Scenario:
    workspace: Workspace
    calls: list[PlannedCall]
    messages: list[PlannedMessage]
    canvas: list[CanvasEntry]
    options: ScenarioOptions

    @property
    def own_numbers(self) -> list[str]:
        return [str(n["number"]) for n in self.workspace.phone_numbers]


@dataclass
class Played:
    """What was played: resource ids in play order, the events, every delivery attempt."""

    call_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def accepted_event_ids(self) -> set[str]:
        """Events the service acknowledged at least once (202 new, 200 duplicate)."""
        return {d.event_id for d in self.deliveries if d.ok}


def _spell(e164: str, pattern: str) -> str:
    return pattern.format(a=e164[2:5], b=e164[5:8], c=e164[8:])


def build_scenario(options: ScenarioOptions, now: float) -> Scenario:
    """The workspace and the plan (pure): counterparts are contacts and unknown numbers, half
    of them with a Canvas page in one of three spellings, plus a Canvas page holding one of
    the workspace's own numbers (an internal message to it must not link)."""
    rng = random.Random(options.seed)
    size = WorkspaceSize(phone_numbers=max(1, options.phone_numbers), counterparts_per_number=0)
    ws = generate(options.seed, now, size)
    own = [str(n["number"]) for n in ws.phone_numbers]
    contacts = [str(c["defaultFields"]["phoneNumbers"][0]["value"]) for c in ws.contacts]
    strangers = [f"+1321{rng.randint(2000000, 9999999)}" for _ in range(6)]
    counterparts = [n for n in dict.fromkeys(contacts + strangers) if n not in own]
    canvas = [
        CanvasEntry(number, f"Customer {index + 1}", _spell(number, PHONE_SPELLINGS[index % 3]))
        for index, number in enumerate(counterparts[::2])
    ]
    if len(own) > 1:
        canvas.append(CanvasEntry(own[1], "Our second line", _spell(own[1], PHONE_SPELLINGS[0])))
    lines = [str(n["id"]) for n in ws.phone_numbers]
    burst_at = options.spread / 2

    def delivering(index: int, total: int) -> tuple[Delivering, float]:
        if index < round(total * options.burst_share):
            return "burst", burst_at
        if options.shuffled_every and index % options.shuffled_every == 1:
            return "shuffled", rng.uniform(0, options.spread)
        return "ordered", rng.uniform(0, options.spread)

    calls: list[PlannedCall] = []
    for index in range(options.calls):
        direction, outcome = CALL_KINDS[index % len(CALL_KINDS)]
        long_call = outcome == "answered" and index % 10 == 5
        talk = LONG_CALL_SECONDS if long_call else rng.randint(30, 300)
        how, offset = delivering(index, options.calls)
        line, other = lines[index % len(lines)], rng.choice(counterparts)
        calls.append(PlannedCall(offset, line, other, direction, outcome, talk, how))
    messages: list[PlannedMessage] = []
    for index in range(options.messages):
        how, offset = delivering(index, options.messages)
        line, other = lines[index % len(lines)], rng.choice(counterparts)
        direction = rng.choice(DIRECTIONS)
        if index == options.messages - 1 and len(own) > 1:
            line, other, direction = lines[0], own[1], "outgoing"  # between our own lines
        media = ("image/png",) if direction == "incoming" and rng.random() < 0.15 else ()
        text = rng.choice(MESSAGES)
        messages.append(PlannedMessage(offset, line, other, direction, text, media, how))
    return Scenario(ws, calls, messages, canvas, options)


def seed_canvas(
    state: NotionState, canvas_data_source_id: str, entries: list[CanvasEntry]
) -> dict[str, str]:
    """Create the Canvas pages directly in the simulator's state; E.164 → page id."""
    pages: dict[str, str] = {}
    for entry in entries:
        page = state.create_page(
            {
                "parent": {"type": "data_source_id", "data_source_id": canvas_data_source_id},
                "properties": {
                    "Name": {"title": [{"text": {"content": entry.name}}]},
                    "Phone": {"phone_number": entry.spelled},
                },
            }
        )
        pages[entry.e164] = str(page["id"])
    return pages


def _options(options: ScenarioOptions, how: Delivering) -> DeliveryOptions:
    seed = options.seed * 10 + ("ordered", "shuffled", "burst").index(how)
    return DeliveryOptions(
        duplicate_probability=options.duplicate_probability,
        out_of_order=how == "shuffled",
        burst=how == "burst",
        retry_delays=options.retry_delays,
        seed=seed,
    )


async def play_scenario(
    scenario: Scenario, clock: Clock, openphone_url: str, http: httpx.AsyncClient
) -> Played:
    """Play every planned life against the workspace and deliver its webhooks to every
    webhook registered in the simulator. Returns when every life has ended."""
    ws = scenario.workspace
    emitters: Mapping[Delivering, WebhookEmitter] = {
        how: WebhookEmitter(
            ws, clock, [], _options(scenario.options, how), http, media_base_url=openphone_url
        )
        for how in ("ordered", "shuffled", "burst")
    }
    for emitter in emitters.values():
        emitter.add_registered_webhooks()
        if not emitter.targets:
            raise RuntimeError("no webhook is registered with the OpenPhone simulator")
    played = Played()

    async def call(plan: PlannedCall) -> None:
        await clock.sleep(plan.offset)
        made = ws.add_call(
            plan.phone_number_id,
            plan.participant,
            at=clock.now(),
            direction=plan.direction,
            outcome=plan.outcome,
            talk_seconds=plan.talk_seconds,
        )
        played.call_ids.append(made.id)
        played.events.extend(await emitters[plan.delivering].play_call(made.id))

    async def message(plan: PlannedMessage) -> None:
        await clock.sleep(plan.offset)
        made = ws.add_message(
            plan.phone_number_id,
            [plan.participant],
            plan.text,
            at=clock.now(),
            direction=plan.direction,
            media=list(plan.media),
        )
        played.message_ids.append(made.id)
        played.events.extend(await emitters[plan.delivering].play_message(made.id))

    async with asyncio.TaskGroup() as group:
        for planned_call in scenario.calls:
            group.create_task(call(planned_call))
        for planned_message in scenario.messages:
            group.create_task(message(planned_message))
    for emitter in emitters.values():
        played.deliveries.extend(emitter.deliveries)
    return played
