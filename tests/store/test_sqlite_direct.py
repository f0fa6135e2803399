"""The SQLite inbox writer: the fast road of ``Store.inbox_enqueue_many`` on a SQLite file.

Its results are covered, beside the portable road, by the inbox contract tests; these pin what
only it does: batches past SQLite's variable limit, and a locked file reported as unavailable.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opsync.errors import StoreUnavailable
from opsync.store import NewEvent, Store, _sqlite_direct


async def test_a_batch_past_the_variable_limit_is_one_transaction(tmp_path: Path) -> None:
    async with await Store.open(f"sqlite:///{tmp_path / 'big.db'}") as store:
        items = [NewEvent(f"e{i}", "message.received", "PN", "{}") for i in range(4000)]
        items.append(NewEvent("e7", "message.received", "PN", "{}"))  # a repeat: not new
        answers = await store.inbox_enqueue_many(items)
        assert answers == [True] * 4000 + [False]
        assert (await store.inbox_counts())["pending"] == 4000


async def test_a_locked_file_is_unavailable_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite_direct, "SQLITE_BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "locked.db"
    async with await Store.open(f"sqlite:///{path}") as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreUnavailable) as raised:
                await store.inbox_enqueue_many([NewEvent("e1", "call.completed", "PN", "{}")])
            assert "locked" in str(raised.value)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert (await store.inbox_counts())["pending"] == 0
        assert await store.inbox_enqueue_many([NewEvent("e1", "call.completed", "PN", "{}")]) == [
            True
        ]


async def test_close_is_idempotent_and_a_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    await store.inbox_enqueue_many([NewEvent("e1", "call.completed", "PN", "{}")])
    await store.close()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.inbox_enqueue_many([NewEvent("e2", "call.completed", "PN", "{}")])
