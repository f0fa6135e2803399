"""Crash safety: ``opsync serve`` (a real process) is killed with SIGKILL again and again while
the OpenPhone simulator streams webhooks — calls through their whole life, messages,
duplicate deliveries, out-of-order lives and a burst — and is restarted each time. Some kills
land at chosen instants, through the Notion simulator's write hook:

* ``in_create``: while a page create is in flight, before Notion applied it;
* ``after_create`` / ``after_update`` / ``after_append``: right after Notion applied a page
  create, a property update or a body append, before its answer reaches the service — so
  between the Notion write and the ledger (or body state) update;
* ``random``: at a random moment of the service's life.

Deliveries refused or left unanswered while the service is down come again, as OpenPhone
retries a failed delivery (the simulator's ``retry_delays``, a compressed schedule). At the
end: every event was acknowledged, every acknowledged event was processed, every call and
message has exactly one Notion page equal to the final OpenPhone data, nothing is in flight,
pending or dead.

Sizes: ``make test`` plays ~120 events and 4 kills (in a create, after a create, after a body
append, at random); ``OPSYNC_SOAK=1`` (``make soak``) plays >= 500 events and 14 kills. When
the kills take longer than the planned lives, further rounds of them are played until the
last kill is done. The seed is printed; ``OPSYNC_SOAK_SEED`` replays the plan.
``OPSYNC_RELIABILITY_REPORT=path`` merges the figures into that JSON file under ``crash_kill``
(they are printed too).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from opsync.demo.scenario import (
    CompressedClock,
    Played,
    Scenario,
    ScenarioOptions,
    build_scenario,
    play_scenario,
    seed_canvas,
)
from opsync.demo.verify import (
    NotionIds,
    Verification,
    call_detail_problems,
    message_detail_problems,
    plain,
    verify,
)
from opsync.openphone import OpenPhoneClient
from opsync.render.state import user_names as render_user_names
from opsync.sandbox.notion import NotionError
from opsync.sandbox.notion.app import WriteCall
from opsync.store.rows import InboxEvent
from tests.support.sandbox_env import API_KEY
from tests.support.serve_rig import ServeRig, open_rig

KillKind = Literal["random", "in_create", "after_create", "after_update", "after_append"]
SOAK = os.environ.get("OPSYNC_SOAK") == "1"
#: simulated time runs this many times faster than the wall clock (lives, retry delays)
COMPRESSION = 200.0
#: OpenPhone retries a failed delivery after 5 s, 5 min, 30 min, … (reference § 4.6); here
#: the waits are real seconds, spread over ~45 s so that a delivery outlives any restart
RETRY_SECONDS = (0.05, 0.3, 0.8, 1.5, 2.5, 4.0, 6.0, 8.0, 10.0, 12.0)
#: the call settle window, simulated: short, so that a call's page is still written several
#: times (create, updates, body appends: the kills have them to cut), and long enough to wait
#: for a voicemail (45 s after the call), which no webhook announces
SETTLE_SECONDS = 100.0
#: how long a special kill may wait for its kind of Notion write
ARM_TIMEOUT = 25.0
DRAIN_TIMEOUT = 240.0 if SOAK else 60.0
WRITES: dict[KillKind, tuple[str, Literal["before", "applied"]]] = {
    "in_create": ("POST /v1/pages", "before"),
    "after_create": ("POST /v1/pages", "applied"),
    "after_update": ("PATCH /v1/pages/{page_id}", "applied"),
    "after_append": ("PATCH /v1/blocks/{block_id}/children", "applied"),
}


@dataclass(frozen=True)
class Size:
    calls: int
    messages: int
    #: simulated seconds over which lives start
    spread: float
    kills: tuple[KillKind, ...]


SMALL = Size(20, 58, 2400.0, ("in_create", "after_create", "after_append", "random"))
FULL = Size(
    90,
    250,
    9000.0,
    ("in_create",) * 3
    + ("after_create",) * 3
    + ("after_update",) * 2
    + ("after_append",) * 2
    + ("random",) * 4,
)


@dataclass
class Killer:
    """Kills the service at chosen instants of a Notion write (the simulator's write hook)."""

    rig: ServeRig
    data_sources: frozenset[str]
    armed: KillKind | None = None
    fired: asyncio.Event = field(default_factory=asyncio.Event)
    kills: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rig.notion.write_hook = self.on_write

    def _wanted(self, call: WriteCall) -> bool:
        if self.armed is None or self.armed == "random":
            return False
        endpoint, moment = WRITES[self.armed]
        if call.endpoint != endpoint or call.moment != moment:
            return False
        if endpoint == "POST /v1/pages":
            return call.body.get("parent", {}).get("data_source_id") in self.data_sources
        return True

    async def on_write(self, call: WriteCall) -> None:
        if not self._wanted(call):
            return
        kind, self.armed = self.armed, None
        await self.rig.kill()
        self.kills[str(kind)] += 1
        self.fired.set()
        if kind == "in_create":  # the create never lands (its client is gone anyway)
            raise NotionError(503, "service_unavailable", "Notion is unavailable.")

    async def kill(self, kind: KillKind) -> bool:
        """Kill now (``random``) or at the next write of that kind; False if none came."""
        if kind == "random":
            await self.rig.kill()
            self.kills[kind] += 1
            return True
        self.fired.clear()
        self.armed = kind
        try:
            async with asyncio.timeout(ARM_TIMEOUT):
                await self.fired.wait()
        except TimeoutError:
            self.armed = None
            self.missed[kind] += 1
            return False
        return True


def trace(began: float, what: str) -> None:
    """A progress line (pytest shows them when the test fails)."""
    print(f"[{time.monotonic() - began:6.1f} s] {what}")


async def kill_and_restart(
    killer: Killer, plan: Iterable[KillKind], rng: random.Random, began: float
) -> None:
    for kind in plan:
        # a random moment: how long the service runs before this kill is armed or done
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        if not await killer.kill(kind):
            trace(began, f"kill {kind}: no such Notion write came")
            continue
        trace(began, f"killed ({kind})")
        await killer.rig.start()
        trace(began, "restarted")


async def stream(
    scenario: Scenario, url: str, http: httpx.AsyncClient, kills_done: asyncio.Event
) -> Played:
    """Play the scenario's lives, and new rounds of them (fresh calls, messages and event
    ids) until the last kill is done, so that every kill finds the writes it waits for."""
    played = Played()
    for round_ in itertools.count():
        options = replace(scenario.options, seed=scenario.options.seed + 7919 * round_)
        part = await play_scenario(
            replace(scenario, options=options), CompressedClock(COMPRESSION), url, http
        )
        played.call_ids += part.call_ids
        played.message_ids += part.message_ids
        played.events += part.events
        played.deliveries += part.deliveries
        if kills_done.is_set():
            return played
    raise AssertionError("unreachable")


async def wait_processed(rig: ServeRig, acknowledged: set[str], limit: float) -> list[InboxEvent]:
    """Until every acknowledged event is done (or ignored) and nothing is pending or in
    flight; returns the inbox rows (what is there at the deadline, if it passes)."""
    deadline = time.monotonic() + limit
    while True:
        rows = await (await rig.store()).inbox_list(limit=100_000)
        finished = {r.event_id for r in rows if r.state in ("done", "ignored")}
        idle = not any(r.state in ("pending", "in_flight") for r in rows)
        if (acknowledged <= finished and idle) or time.monotonic() > deadline:
            return rows
        assert rig.running, "the service died on its own:\n" + rig.log_tail()
        await asyncio.sleep(0.2)


def body_text(rig: ServeRig, page_id: str) -> tuple[str, Counter[str]]:
    """The page body's text, and how often each heading occurs in it."""
    texts: list[str] = []
    headings: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        listed = rig.notion.state.list_children(page_id, cursor, 100)
        for block in listed["results"]:
            inner = block.get(block["type"], {})
            text = "".join(r.get("plain_text", "") for r in inner.get("rich_text", []))
            texts.append(text)
            if block["type"].startswith("heading"):
                headings[text] += 1
        cursor = listed.get("next_cursor")
        if not listed.get("has_more"):
            return "\n".join(texts), headings


def page_problems(rig: ServeRig, user_names: dict[str, str]) -> list[str]:
    """Beyond :func:`verify`: dates, users, lines, webhook-only fields, the body (once),
    and no page for anything OpenPhone does not hold."""
    ws = rig.workspace
    own = {str(n["id"]): str(n["number"]) for n in ws.phone_numbers}
    ids = {rig.seeded.calls_data_source_id: "call", rig.seeded.messages_data_source_id: "message"}
    known = set(ws.calls) | set(ws.messages)
    problems: list[str] = []
    for page in rig.notion.state.dump()["pages"]:
        kind = ids.get(str(page.get("parent", {}).get("data_source_id")))
        if kind is None or page.get("in_trash"):
            continue
        props = {name: plain(value) for name, value in page["properties"].items()}
        rid = str(props["Call ID" if kind == "call" else "Message ID"])
        if rid not in known:
            problems.append(f"{kind} {rid}: a page of no OpenPhone {kind}")
            continue
        if kind == "call":
            call = ws.calls[rid]
            body, headings = body_text(rig, str(page["id"]))
            reasons = call_detail_problems(
                props,
                call,
                own_number=own[call.phone_number_id],
                user_name=user_names.get(call.user_id, call.user_id),
                body=body,
            )
            reasons += [f"body has {n} {name!r} headings" for name, n in headings.items() if n > 1]
        else:
            message = ws.messages[rid]
            webhook_only = ("Has Media", "Media URLs", "Conversation ID")
            reasons = [
                reason
                for reason in message_detail_problems(
                    props, message, own_number=own[message.phone_number_id]
                )
                if not reason.startswith(webhook_only)
            ]
            if props.get("Conversation ID") != message.conversation_id:
                reasons.append(f"Conversation ID is {props.get('Conversation ID')!r}")
            if props.get("Has Media") != bool(message.media):
                reasons.append(f"Has Media is {props.get('Has Media')!r}")
        problems += [f"{kind} {rid}: {reason}" for reason in reasons]
    return problems


def report(figures: dict[str, Any]) -> None:
    text = json.dumps(figures, indent=2, sort_keys=True)
    print(f"crash-kill figures:\n{text}")
    path = os.environ.get("OPSYNC_RELIABILITY_REPORT")
    if path:  # merged under its own key, beside the other reliability tests' figures
        target = Path(path)
        merged = json.loads(target.read_text()) if target.exists() else {}
        merged["crash_kill"] = figures
        target.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


@dataclass
class Run:
    """What one run played and what the service left behind."""

    seed: int
    played: Played
    rows: list[InboxEvent]
    check: Verification
    details: list[str]
    killer: Killer
    restarts: int
    exit_status: int
    log_tail: str
    seconds: dict[str, float]

    @property
    def acknowledged(self) -> set[str]:
        return self.played.accepted_event_ids()

    @property
    def sent(self) -> set[str]:
        return {event.id for event in self.played.events}

    @property
    def lost(self) -> list[str]:
        """Acknowledged events that are not done (or ignored)."""
        state_of = {r.event_id: r.state for r in self.rows}
        return sorted(e for e in self.acknowledged if state_of.get(e) not in ("done", "ignored"))

    @property
    def by_state(self) -> Counter[str]:
        return Counter(r.state for r in self.rows)

    def figures(self) -> dict[str, Any]:
        deliveries, check, by_state = self.played.deliveries, self.check, self.by_state
        return {
            "seed": self.seed,
            "size": "soak" if SOAK else "test",
            "calls": check.pages["calls"],
            "messages": check.pages["messages"],
            "calls_played": len(self.played.call_ids),
            "messages_played": len(self.played.message_ids),
            "events_sent": len(self.sent),
            "deliveries": len(deliveries),
            "deliveries_failed": sum(1 for d in deliveries if not d.ok),
            "deliveries_retried": sum(1 for d in deliveries if d.attempt > 1),
            "duplicate_deliveries": sum(1 for d in deliveries if d.duplicate),
            "events_acknowledged": len(self.acknowledged),
            "events_unacknowledged": len(self.sent - self.acknowledged),
            "kills": dict(sorted(self.killer.kills.items())),
            "kills_total": sum(self.killer.kills.values()),
            "kills_missed": dict(self.killer.missed),
            "restarts": self.restarts,
            "lost": len(self.lost) + check.missing_pages,
            "duplicated": check.duplicate_pages,
            "mismatched_pages": check.mismatched_pages + len(self.details),
            "inbox": dict(sorted(by_state.items())),
            "dead_letters": by_state["dead"],
            "stuck_in_flight": by_state["in_flight"],
            "pending": by_state["pending"],
            **{f"{name}_seconds": round(value, 1) for name, value in self.seconds.items()},
        }


def build(seed: int, size: Size) -> Scenario:
    """The traffic: calls of every kind, messages, duplicates, shuffled lives and a burst."""
    return build_scenario(
        ScenarioOptions(
            calls=size.calls,
            messages=size.messages,
            seed=seed % 100_000,
            spread=size.spread,
            retry_delays=tuple(s * COMPRESSION for s in RETRY_SECONDS),
        ),
        now=time.time(),
    )


async def run(tmp_path: Path, seed: int, size: Size) -> Run:
    """Play the scenario while killing and restarting the service; drain; look at the result."""
    rng = random.Random(seed)
    plan = list(size.kills)
    rng.shuffle(plan)
    scenario = build(seed, size)
    began = time.monotonic()
    settle = {"OPSYNC_CALL_SETTLE_SECONDS": str(SETTLE_SECONDS / COMPRESSION)}
    async with open_rig(tmp_path, scenario.workspace, env=settle) as rig:
        canvas = seed_canvas(rig.notion.state, rig.seeded.canvas_data_source_id, scenario.canvas)
        ids = NotionIds(rig.seeded.calls_data_source_id, rig.seeded.messages_data_source_id)
        killer = Killer(rig, frozenset({ids.calls_data_source_id, ids.messages_data_source_id}))
        await rig.start()
        async with httpx.AsyncClient(timeout=10.0) as http:
            kills_done = asyncio.Event()
            traffic = asyncio.create_task(stream(scenario, rig.openphone_url, http, kills_done))
            try:
                await kill_and_restart(killer, plan, rng, began)
                kills_done.set()
                played = await traffic
            finally:
                traffic.cancel()
        played_at = time.monotonic()
        trace(began, "traffic played")
        rows = await wait_processed(rig, played.accepted_event_ids(), DRAIN_TIMEOUT)
        drained_at = time.monotonic()
        openphone = OpenPhoneClient(rig.http, API_KEY, base_url=f"{rig.openphone_url}/v1")
        user_names = render_user_names([user async for user in openphone.list_users()])
        # every resource: the played ones and the workspace's own history (synced at start)
        ws, pages = rig.workspace, rig.notion.state.dump()["pages"]
        check = verify(ws, list(ws.calls), list(ws.messages), pages, ids, canvas)
        details = page_problems(rig, user_names)
        exit_status = await rig.stop()
        seconds = {
            "traffic": played_at - began,
            "drain": drained_at - played_at,
            "elapsed": time.monotonic() - began,
        }
        return Run(
            seed, played, rows, check, details, killer, rig.starts - 1, exit_status,
            rig.log_tail(), seconds,
        )  # fmt: skip


@pytest.mark.timeout(1800 if SOAK else 120)
async def test_sigkill_at_any_moment_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("OPSYNC_SOAK_SEED") or random.randrange(1, 2**31))
    print(f"crash-kill seed {seed} (OPSYNC_SOAK_SEED={seed} replays it)")
    size = FULL if SOAK else SMALL
    result = await run(tmp_path, seed, size)
    report(result.figures())

    context = f"seed {seed}; service log:\n{result.log_tail}"
    assert result.killer.missed == Counter(), context
    assert sum(result.killer.kills.values()) == len(size.kills), context
    unacknowledged = sorted(result.sent - result.acknowledged)
    assert unacknowledged == [], f"never acknowledged: {unacknowledged[:5]}; {context}"
    assert result.lost == [], f"acknowledged but not processed: {result.lost[:10]}; {context}"
    by_state = result.by_state
    assert by_state["in_flight"] == 0, context
    assert by_state["pending"] == 0, context
    dead = [(r.event_type, r.attempts, r.last_error) for r in result.rows if r.state == "dead"]
    assert dead == [], dead[:5]
    # verify() looked at every call and message of the workspace (the played ones and its
    # history), page_problems() at every page: one page each, equal to OpenPhone, no other
    check = result.check
    assert check.ok, [str(problem) for problem in check.problems[:10]]
    assert result.details == [], result.details[:10]
    assert check.pages["calls"] >= len(result.played.call_ids) > 0
    assert check.pages["messages"] >= len(result.played.message_ids) > 0
    assert result.exit_status == 0, context
