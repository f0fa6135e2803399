"""The settle window: a call's page is written once it has settled, or at its deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsync.openphone.models import Call, CallRecording, CallSummary, CallTranscript, CallVoicemail
from opsync.sync import ActorRegistry
from opsync.sync._call_state import CallSnapshot, settle_deadline, settled
from tests.sync.conftest import Env

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def call(**over: Any) -> Call:
    data: dict[str, Any] = {
        "id": "AC1",
        "phoneNumberId": "PN1",
        "userId": "US1",
        "direction": "incoming",
        "status": "completed",
        "participants": ["+14155550100"],
        "createdAt": T0.isoformat(),
        "updatedAt": None,
        "answeredAt": (T0 + timedelta(seconds=5)).isoformat(),
        "answeredBy": "US1",
        "initiatedBy": None,
        "completedAt": (T0 + timedelta(seconds=65)).isoformat(),
        "duration": 60,
        "callRoute": None,
        "forwardedFrom": None,
        "forwardedTo": None,
        "aiHandled": None,
    }
    data.update(over)
    return Call.model_validate(data)


RECORDING = CallRecording.model_validate(
    {"id": "CR1", "duration": 60, "startTime": T0.isoformat(), "status": "completed",
     "type": "audio/mpeg", "url": "https://x.test/a.mp3"}
)  # fmt: skip


def transcript(status: str) -> CallTranscript:
    return CallTranscript.model_validate(
        {"callId": "AC1", "createdAt": T0.isoformat(), "dialogue": [], "duration": 60,
         "status": status}
    )  # fmt: skip


def summary(status: str) -> CallSummary:
    return CallSummary.model_validate(
        {"callId": "AC1", "status": status, "summary": ["x"], "nextSteps": []}
    )


VOICEMAIL = CallVoicemail.model_validate(
    {"id": "VM1", "status": "completed", "duration": 9, "transcript": "hi",
     "recordingUrl": "https://x.test/v.mp3"}
)  # fmt: skip
MISSED = {"status": "missed", "answeredAt": None, "answeredBy": None}


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (CallSnapshot(), False),
        (CallSnapshot(call=call(status="ringing", completedAt=None, answeredAt=None)), False),
        (CallSnapshot(call=call()), False),
        (CallSnapshot(call=call(), recordings=[RECORDING]), False),
        (
            CallSnapshot(call=call(), recordings=[RECORDING], transcript=transcript("completed")),
            False,
        ),
        (
            CallSnapshot(
                call=call(),
                recordings=[RECORDING],
                transcript=transcript("completed"),
                summary=summary("in-progress"),
            ),
            False,
        ),
        (
            CallSnapshot(
                call=call(),
                recordings=[RECORDING],
                transcript=transcript("failed"),
                summary=summary("completed"),
            ),
            True,
        ),
        (CallSnapshot(call=call(**MISSED)), False),
        (CallSnapshot(call=call(**MISSED), voicemail=VOICEMAIL), True),
        (CallSnapshot(call=call(direction="outgoing", status="no-answer", answeredAt=None)), True),
    ],
)
def test_settled(snapshot: CallSnapshot, expected: bool) -> None:
    assert settled(snapshot) is expected


def test_deadline_counts_from_the_end_and_never_beyond_now() -> None:
    ended = (T0 + timedelta(seconds=65)).timestamp()
    assert settle_deadline(call(), 300, now=ended + 10) == ended + 300
    assert settle_deadline(call(), 300, now=ended - 100) == ended - 100 + 300
    ringing = call(status="ringing", completedAt=None, answeredAt=None)
    assert settle_deadline(ringing, 60, now=T0.timestamp() + 5) == T0.timestamp() + 60


def test_the_deadline_survives_the_snapshot_round_trip_and_merges_to_the_earliest() -> None:
    a = CallSnapshot(call=call(), write_deadline=100.0)
    assert CallSnapshot.from_json(a.to_json()).write_deadline == 100.0
    assert a.merge(CallSnapshot(write_deadline=50.0)).write_deadline == 50.0
    assert a.merge(CallSnapshot()).write_deadline == 100.0


async def test_a_call_life_is_written_once_when_it_settles(
    env: Env, registry: ActorRegistry
) -> None:
    env.ctx.call_settle_seconds = 600
    call_id = env.add_call(talk_seconds=120)
    life = env.call_life(call_id)
    actor = await registry.actor(env.pn_id)
    statuses = []
    for raw in life:
        async with asyncio.timeout(10):
            statuses.append((await actor.handle(env.inbox_event(raw))).status)
    assert statuses == ["deferred", "deferred", "deferred", "deferred", "success"]
    [page] = env.call_pages(call_id)
    assert env.notion_count("POST /v1/pages") == 1
    assert env.notion_count("PATCH /v1/pages/{page_id}") == 0
    assert env.properties(page)["Has Summary"]["checkbox"] is True


async def test_an_unsettled_call_is_written_at_its_deadline(
    env: Env, registry: ActorRegistry
) -> None:
    env.ctx.call_settle_seconds = 600
    call_id = env.add_call(talk_seconds=120)
    ringing, completed, *_ = env.call_life(call_id)  # no recording, transcript or summary
    actor = await registry.actor(env.pn_id)
    assert (await actor.handle(env.inbox_event(completed))).status == "deferred"
    assert env.call_pages(call_id) == []
    env.clock.advance(601)
    assert (await actor.handle(env.inbox_event(completed))).status == "success"
    assert len(env.call_pages(call_id)) == 1
    assert (await actor.handle(env.inbox_event(ringing))).status == "skipped"
