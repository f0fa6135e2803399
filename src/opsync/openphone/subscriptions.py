"""The OpenPhone webhooks opsync needs: one per v1 event family, every handled event."""

from __future__ import annotations

from collections.abc import Mapping

from opsync.openphone.client import OpenPhoneClient, WebhookFamily

#: the v1 create endpoint of each family and the events opsync subscribes to through it
WEBHOOK_FAMILIES: Mapping[WebhookFamily, tuple[str, ...]] = {
    "calls": ("call.ringing", "call.completed", "call.recording.completed"),
    "messages": ("message.received", "message.delivered"),
    "call-summaries": ("call.summary.completed",),
    "call-transcripts": ("call.transcript.completed",),
}


async def subscribe_all(client: OpenPhoneClient, url: str, *, label: str = "opsync") -> list[str]:
    """Create one webhook per family pointing at ``url``; returns their signing keys.

    Not idempotent: each call creates new webhooks.
    """
    keys: list[str] = []
    for family, events in WEBHOOK_FAMILIES.items():
        hook = await client.create_webhook(family, url, list(events), label=label)
        keys.append(hook.key.get_secret_value())
    return keys
