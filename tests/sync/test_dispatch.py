"""The handler under the real Dispatcher and inbox: a shuffled, duplicated call life with one
event routed late (no partition at ingest) ends as one correct page."""

from __future__ import annotations

import asyncio
import json

from opsync.dispatcher import Dispatcher
from opsync.retry import RetryPolicy
from opsync.sync import ActorRegistry, make_handler
from tests.sync.conftest import Env


async def test_the_dispatcher_drains_a_call_life_into_one_page(
    env: Env, registry: ActorRegistry
) -> None:
    call_id = env.add_call(talk_seconds=75)
    ringing, completed, recording, transcript, summary = env.call_life(call_id)
    store = env.ctx.store
    for raw, partition in [
        (summary, None),  # routed once its call is known
        (transcript, env.pn_id),
        (ringing, env.pn_id),
        (completed, env.pn_id),
        (recording, env.pn_id),
        (ringing, env.pn_id),  # a duplicate delivery: dropped by the inbox
    ]:
        await store.inbox_enqueue(raw["id"], raw["type"], partition, json.dumps(raw))
    dispatcher = Dispatcher(
        store, make_handler(registry), policy=RetryPolicy(max_attempts=3), clock=env.clock
    )

    async with asyncio.timeout(20):
        await dispatcher.run_until_idle()

    counts = await store.inbox_counts()
    assert counts.get("done") == 5
    assert not counts.get("dead")
    pages = env.call_pages(call_id)
    assert len(pages) == 1
    props = env.properties(pages[0])
    assert props["Has Summary"]["checkbox"] is True
    assert props["Has Transcript"]["checkbox"] is True
    assert props["Has Recording"]["checkbox"] is True
    assert props["Status"]["select"]["name"] == "completed"
