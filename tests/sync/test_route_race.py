"""Routing an event without a partition runs beside the partition's actor: it must never write
back an older copy of a call's snapshot over what the actor stored meanwhile (found by the
crash test: a call whose recording the actor had fetched ended with no recording)."""

from __future__ import annotations

import asyncio

from opsync.openphone.models import Call
from opsync.sync import ActorRegistry, make_handler
from opsync.sync._call_state import CallSnapshot
from tests.sync.conftest import Env


async def test_routing_does_not_overwrite_what_the_actor_stored_meanwhile(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=40)
    life = env.call_life(call_id)  # the whole life: the call has its recording now
    recording = next(raw for raw in life if raw["type"] == "call.recording.completed")
    summary = env.emitter.call_event("call.summary.completed", call_id, env.clock.now())
    handler = make_handler(registry)
    fetch = env.ctx.openphone.get_call

    async def get_call_while_the_actor_works(wanted: str) -> Call:
        # While routing waits for OpenPhone, the number's actor handles the recording event.
        assert await handler(env.inbox_event(recording)) is not None
        return await fetch(wanted)

    env.ctx.openphone.get_call = get_call_while_the_actor_works  # type: ignore[method-assign]
    async with asyncio.timeout(10):
        await handler(env.inbox_event(summary.envelope("new"), partition=None))

    stored = await env.ctx.store.snapshot_get("call", call_id)
    assert stored is not None
    assert CallSnapshot.from_json(stored.payload).has_recording
