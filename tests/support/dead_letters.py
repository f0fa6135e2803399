"""Dead letters made the way the dispatcher makes them: claimed, failed, dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opsync.store import Store

OWNER = "test-worker"


async def dead_letter(
    store: Store,
    event_id: str,
    *,
    partition: str | None = "PN1",
    event_type: str = "call.completed",
    retries: Sequence[tuple[str, str]] = (("UpstreamUnavailable", "notion: 503"),),
    error_class: str = "NotionSchemaMismatch",
    reason: str = "Calls database: property Duration is text, expected number",
) -> int:
    """Enqueue ``event_id``, fail it once per ``retries`` entry, then dead-letter it with
    ``reason``; returns its inbox id. Other events claimed on the way are given back."""
    payload = json.dumps({"id": event_id, "type": event_type, "data": {"object": {"id": "AC1"}}})
    assert await store.inbox_enqueue(event_id, event_type, partition, payload)
    [inbox_id] = [e.id for e in await store.inbox_list(limit=10_000) if e.event_id == event_id]
    for error in retries:
        await _claim(store, inbox_id)
        assert await store.inbox_retry(inbox_id, OWNER, 0, *error)
    await _claim(store, inbox_id)
    assert await store.inbox_dead_letter(inbox_id, OWNER, error_class, reason)
    return inbox_id


async def _claim(store: Store, inbox_id: int) -> None:
    claimed = await store.inbox_claim(OWNER, 60.0, limit=10_000)
    assert inbox_id in [e.id for e in claimed], "the event must be claimable"
    for other in claimed:
        if other.id != inbox_id:
            assert await store.inbox_release(other.id, OWNER)
