"""Reconcile a message: snapshot + event payload (+ the message itself when neither has it)
→ the Messages page; ``message.delivered`` updates the same page's status.

Media and conversation id are not in OpenPhone's REST message: they come from a webhook
payload that carried them and are kept in the snapshot, or stay empty (never invented).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from opsync.canvas import CanvasMatch
from opsync.errors import InvalidPayload
from opsync.openphone import WebhookEnvelope, event_ref
from opsync.openphone.models import Message
from opsync.render import MessageState, counterparty, render_message, to_e164
from opsync.sync.calls import canvas_for
from opsync.sync.context import SyncContext
from opsync.sync.pages import Outcome, upsert_page

log = logging.getLogger(__name__)

STATUS_RANK = {"queued": 0, "sent": 1, "received": 2, "delivered": 3, "undelivered": 3}
"""How far a message has got; a copy further along wins over an older one."""


def _rank(message: Message) -> tuple[float, int]:
    moment = message.updated_at or message.created_at
    return moment.timestamp(), STATUS_RANK.get(message.status, 3)


def newer_message(known: Message | None, new: Message | None) -> Message | None:
    """The more advanced copy; ``known`` on a tie."""
    if known is None or new is None:
        return known or new
    return new if _rank(new) > _rank(known) else known


@dataclass
class MessageSnapshot:
    """The message and the webhook-only fields seen so far."""

    message: Message | None = None
    media_urls: list[str] | None = None
    conversation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        message = self.message
        return {
            "message": None if message is None else message.model_dump(mode="json", by_alias=True),
            "media_urls": self.media_urls,
            "conversation_id": self.conversation_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> MessageSnapshot:
        if not isinstance(data, dict):
            return cls()
        raw = data.get("message")
        urls = data.get("media_urls")
        return cls(
            message=None if raw is None else Message.model_validate(raw),
            media_urls=None if urls is None else [str(url) for url in urls],
            conversation_id=data.get("conversation_id"),
        )

    def merge(self, other: MessageSnapshot) -> MessageSnapshot:
        return MessageSnapshot(
            message=newer_message(self.message, other.message),
            media_urls=other.media_urls if other.media_urls else self.media_urls,
            conversation_id=other.conversation_id or self.conversation_id,
        )


def from_event(event: WebhookEnvelope | None) -> MessageSnapshot:
    """What the event's payload tells about the message (nothing if it is unreadable)."""
    if event is None or event_ref(event).kind != "message":
        return MessageSnapshot()
    resource = {k: v for k, v in event.resource.items() if k != "object"}
    if resource.get("phoneNumberId") is None:  # the new envelope may name it in data.context
        resource["phoneNumberId"] = event_ref(event).phone_number_id
    try:
        message = Message.model_validate(resource)
    except ValueError as exc:
        log.warning(
            "event payload not usable",
            extra={"action": "payload_unusable", "event_id": event.id, "error": str(exc)[:200]},
        )
        return MessageSnapshot()
    urls = [item.url for item in message.media] or None
    # The REST shape has neither field: keep them apart, and the message in its REST shape.
    rest = message.model_copy(update={"media": [], "conversation_id": None})
    return MessageSnapshot(rest, urls, message.conversation_id)


async def reconcile_message(
    ctx: SyncContext,
    message_id: str,
    *,
    event: WebhookEnvelope | None,
    canvas_memory: MutableMapping[str, CanvasMatch] | None = None,
) -> Outcome:
    """Bring the message's Notion page up to date; idempotent. Raises OpenPhone, Canvas and
    Notion errors (transient ones are worth retrying)."""
    stored = await ctx.store.snapshot_get("message", message_id)
    snap = MessageSnapshot() if stored is None else MessageSnapshot.from_json(stored.payload)
    snap = snap.merge(from_event(event))
    if snap.message is None:
        async with ctx.metrics.timed("api_call", "get_message"):
            snap.message = await ctx.openphone.get_message(message_id)
    message = snap.message
    pn = message.phone_number_id
    await ctx.store.snapshot_put("message", message_id, snap.to_json(), phone_number_id=pn)

    line = await ctx.directory.phone_number(pn) if pn else None
    other = counterparty(message, await ctx.directory.own_numbers())
    match = await canvas_for(ctx, other, canvas_memory, pn)
    state = MessageState(
        message=message,
        now=ctx.now(),
        media_urls=snap.media_urls,
        conversation_id=snap.conversation_id,
        phone_number=to_e164(line.number) if line else None,
        canvas_page_id=match.page_id if match else None,
    )
    write = await upsert_page(
        ctx,
        "message",
        message_id,
        render_message(state),
        ctx.messages_data_source_id,
        ctx.messages_title_property,
        phone_number_id=pn,
    )
    return Outcome(
        "message", message_id, write.action, write.page_id, pn,
        match.page_id if match else None, message.direction,
    )  # fmt: skip


def message_id_of(event: WebhookEnvelope) -> str:
    """The message an event is about; raises InvalidPayload when it names none."""
    ref = event_ref(event)
    if ref.message_id is None:
        raise InvalidPayload(f"event {event.id} ({event.type}) names no message")
    return ref.message_id
