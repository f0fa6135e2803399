"""The dispatcher's handler: an inbox event → its phone number's actor.

An event whose phone number was unknown at ingest (``partition_key`` None: for example a
summary that names only its ``callId``) is routed here: the local snapshot of the call names
its number, else the call (or message) is fetched, its snapshot stored so the actor will not
fetch it again, and the event given back to queue behind that number's events.

Routing runs outside the number's partition, beside the actor that may be handling another
event of the same call: it only ever stores a *first* snapshot, never merges over one, which
could write back an older copy over what the actor just stored (a fetched recording, say).
"""

from __future__ import annotations

from opsync.dispatcher import Defer, Done, Handler, Ignore, Outcome, Reroute
from opsync.errors import InvalidPayload
from opsync.openphone import event_ref, parse_envelope
from opsync.store.rows import InboxEvent
from opsync.sync._call_state import CallSnapshot
from opsync.sync.actor import HANDLED_EVENTS, ActorRegistry
from opsync.sync.context import SyncContext
from opsync.sync.messages import MessageSnapshot


async def route(ctx: SyncContext, event: InboxEvent) -> Outcome:
    """Where an event without a partition belongs: Reroute, or Ignore for unhandled types.

    Raises InvalidPayload for a payload that names no resource or line, and the OpenPhone
    client's errors for the fetch.
    """
    envelope = parse_envelope(event.payload)
    if envelope.type not in HANDLED_EVENTS:
        return Ignore(f"{envelope.type} is not handled")
    ref = event_ref(envelope)
    if ref.phone_number_id is not None:
        return Reroute(ref.phone_number_id)
    if ref.call_id is not None:
        stored = await ctx.store.snapshot_get("call", ref.call_id)
        if stored is not None and stored.phone_number_id:
            return Reroute(stored.phone_number_id)
        async with ctx.metrics.timed("api_call", "get_call"):
            call = await ctx.openphone.get_call(ref.call_id)
        await ctx.store.snapshot_insert(
            "call", call.id, CallSnapshot(call=call).to_json(), phone_number_id=call.phone_number_id
        )
        return Reroute(call.phone_number_id)
    if ref.message_id is not None:
        async with ctx.metrics.timed("api_call", "get_message"):
            message = await ctx.openphone.get_message(ref.message_id)
        if message.phone_number_id is None:
            raise InvalidPayload(f"message {message.id} names no phone number; cannot route it")
        snap = MessageSnapshot(message=message)
        await ctx.store.snapshot_insert(
            "message", message.id, snap.to_json(), phone_number_id=message.phone_number_id
        )
        return Reroute(message.phone_number_id)
    raise InvalidPayload(f"event {envelope.id} ({envelope.type}) names no call or message")


def make_handler(registry: ActorRegistry) -> Handler:
    """The handler to give the :class:`~opsync.dispatcher.Dispatcher`."""

    async def handle(event: InboxEvent) -> Outcome:
        if event.partition_key is None:
            return await route(registry.ctx, event)
        actor = await registry.actor(event.partition_key)
        result = await actor.handle(event)
        if result.status == "ignored":
            return Ignore(result.reason)
        if result.status == "deferred" and result.outcome and result.outcome.defer_until:
            return Defer(round(result.outcome.defer_until * 1000))
        return Done()

    return handle
