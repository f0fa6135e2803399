"""A message received then delivered: one page, its status updated; request budgets."""

from __future__ import annotations

import asyncio

from opsync.sync import ActorRegistry
from tests.sync.conftest import CUSTOMER, Env, plain

CREATE = "POST /v1/pages"
UPDATE = "PATCH /v1/pages/{page_id}"


async def test_a_message_received_then_delivered_has_one_page_with_the_new_status(
    env: Env, registry: ActorRegistry
) -> None:
    message = env.workspace.add_message(
        env.pn_id, [CUSTOMER], "Hello there", at=env.clock.now(), media=["image/png"]
    )
    received = env.emitter.message_event("message.received", message.id, env.clock.now())
    env.clock.advance(3)
    env.workspace.deliver_message(message.id, env.clock.now())
    delivered = env.emitter.message_event("message.delivered", message.id, env.clock.now())
    actor = await registry.actor(env.pn_id)

    async with asyncio.timeout(10):
        first = await actor.handle(env.inbox_event(received.envelope("legacy")))
    assert (env.notion_count(CREATE), env.notion_count(UPDATE)) == (1, 0)
    async with asyncio.timeout(10):
        second = await actor.handle(env.inbox_event(delivered.envelope("legacy")))
        again = await actor.handle(env.inbox_event(delivered.envelope("legacy")))

    assert (first.status, second.status, again.status) == ("success", "success", "skipped")
    assert (env.notion_count(CREATE), env.notion_count(UPDATE)) == (1, 1)
    pages = env.message_pages(message.id)
    assert len(pages) == 1
    props = env.properties(pages[0])
    assert props["Status"]["select"]["name"] == "delivered"
    assert props["From"]["phone_number"] == CUSTOMER
    assert props["To"]["phone_number"] == env.own_number
    assert props["Has Media"]["checkbox"] is True
    assert "/media/files/" in plain(props["Media URLs"]["rich_text"])
    assert plain(props["Conversation ID"]["rich_text"]).startswith("CN")
    assert props["Canvas"]["relation"] == [{"id": env.canvas_page}]
    assert env.openphone_sim.counters["GET /v1/messages/{id}"] == 0
    row = await env.ctx.store.get_phone_number(env.pn_id)
    assert row is not None
    assert row.total_messages_synced == 1
    assert row.last_message_sync_at is not None


async def test_an_outgoing_message_links_the_recipient_never_the_own_number(
    env: Env, registry: ActorRegistry
) -> None:
    message = env.workspace.add_message(
        env.pn_id, [CUSTOMER], "On my way", at=env.clock.now(), direction="outgoing"
    )
    env.workspace.deliver_message(message.id, env.clock.now() + 3)
    delivered = env.emitter.message_event("message.delivered", message.id, env.clock.now() + 3)
    actor = await registry.actor(env.pn_id)

    async with asyncio.timeout(10):
        result = await actor.handle(env.inbox_event(delivered.envelope("new")))

    assert result.outcome is not None
    assert result.outcome.canvas_id == env.canvas_page
    props = env.properties(env.message_pages(message.id)[0])
    assert props["From"]["phone_number"] == env.own_number
    assert props["Direction"]["select"]["name"] == "outgoing"
