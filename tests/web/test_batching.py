"""Group commit: concurrent deliveries share inbox transactions; answers follow the commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from opsync.errors import StoreUnavailable
from opsync.store import NewEvent, Store
from opsync.web.batching import InboxBatcher


class CountingStore(Store):
    """A real store that records the size of every group commit."""

    batches: list[int]

    async def inbox_enqueue_many(self, items: Sequence[NewEvent]) -> list[bool]:
        self.batches.append(len(items))
        return await super().inbox_enqueue_many(items)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    opened = await CountingStore.open(f"sqlite:///{tmp_path / 'batch.db'}")
    opened.batches = []
    try:
        yield opened
    finally:
        await opened.close()


def event(event_id: str) -> NewEvent:
    return NewEvent(event_id, "call.completed", "PN1", json.dumps({"id": event_id}))


async def test_concurrent_deliveries_share_commits_and_all_are_stored(
    store: CountingStore,
) -> None:
    batcher = InboxBatcher(store)
    async with asyncio.timeout(10):
        results = await asyncio.gather(*(batcher.enqueue(event(f"EV{i}")) for i in range(120)))
    assert results == [True] * 120
    assert sum(store.batches) == 120
    assert max(store.batches) > 1  # grouped: fewer transactions than events
    assert (await store.inbox_counts())["pending"] == 120


async def test_duplicates_in_one_batch_and_across_batches(store: CountingStore) -> None:
    batcher = InboxBatcher(store)
    assert await batcher.enqueue(event("EVa"))
    async with asyncio.timeout(10):
        results = await asyncio.gather(
            batcher.enqueue(event("EVb")),
            batcher.enqueue(event("EVb")),
            batcher.enqueue(event("EVa")),
        )
    assert results == [True, False, False]
    assert (await store.inbox_counts())["pending"] == 2


async def test_a_failed_commit_fails_every_delivery_in_it_and_stores_nothing() -> None:
    unreachable = await Store.open("postgresql://opsync@127.0.0.1:1/opsync", migrate=False)
    try:
        batcher = InboxBatcher(unreachable)
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                *(batcher.enqueue(event(f"EV{i}")) for i in range(5)), return_exceptions=True
            )
    finally:
        await unreachable.close()
    assert all(isinstance(r, StoreUnavailable) for r in results)


async def test_a_lone_delivery_is_committed_at_once(store: CountingStore) -> None:
    batcher = InboxBatcher(store)
    async with asyncio.timeout(10):
        assert await batcher.enqueue(event("EVsolo"))
    assert store.batches == [1]
