"""Group commit for webhook ingest: concurrent deliveries share one inbox transaction.

Each delivery still gets its answer only after the transaction holding its event has
committed (accepted means durable). Batches form naturally: while one transaction commits,
the deliveries that arrive wait together for the next one, so a single delivery is never
delayed and a burst costs one commit per batch instead of one per event.
"""

from __future__ import annotations

import asyncio

from opsync.store import NewEvent, Store

MAX_BATCH = 200


class InboxBatcher:
    """Writes events through :meth:`Store.inbox_enqueue_many`, many per transaction."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._max_batch = max_batch
        self._waiting: list[tuple[NewEvent, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def enqueue(self, event: NewEvent) -> bool:
        """Whether the event is new, once its transaction has committed; raises the store's
        error (StoreUnavailable) when that transaction failed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            # One turn of the loop first: deliveries already read from their sockets reach
            # enqueue() and join this batch instead of waiting for the next commit.
            await asyncio.sleep(0)
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                outcomes = await self._store.inbox_enqueue_many([event for event, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    self._fail_waiting(exc)
                    raise
                continue
            for (_, future), new in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(new)

    def _fail_waiting(self, exc: BaseException) -> None:
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(exc)
