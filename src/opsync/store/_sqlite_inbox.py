"""Inbox group commits on SQLite through one dedicated connection in one worker thread.

Webhook ingest commits many small batches per second. Through SQLAlchemy and aiosqlite a
transaction costs ~1.5 ms of CPU on the event loop's side (a thread hop and a greenlet switch
per driver call: connect, BEGIN, SELECT, INSERT, fetch, COMMIT, reset). Here a batch is one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in autocommit mode — its own
transaction, the partition's snapshot lookup a subquery — run in C in one hop to a worker
thread. The effect is the portable path's (:meth:`opsync.store.Store.inbox_enqueue_many`),
on the same file with the same durability (WAL, the default ``synchronous``, the same busy
timeout); PostgreSQL and in-memory SQLite keep the portable path. See
docs/decisions/0013-sqlite-inbox-writer.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opsync.errors import StoreUnavailable
from opsync.store._engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_unavailable

# The partition an event names, else the phone number of the call snapshot it looks up.
_PARTITION = (
    "COALESCE(?, (SELECT phone_number_id FROM resource_snapshots "
    "WHERE resource_type = 'call' AND resource_id = ?))"
)
_CONFLICT = " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"


class SqliteInboxWriter:
    """Runs inbox inserts on its own connection to ``database`` (a file path)."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsync-inbox")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def insert(
        self, rows: Sequence[dict[str, Any]], lookup_calls: Sequence[str | None]
    ) -> set[str]:
        """In one transaction, insert ``rows`` (inbox column → value, the same keys in each)
        unless their ``event_id`` exists; a row without a ``partition_key`` takes the phone
        number of the snapshot of the call ``lookup_calls`` names beside it, if known.
        Returns the event ids inserted. Raises :class:`StoreUnavailable` when the file is
        locked past the busy timeout or cannot be opened."""
        if self._closed:
            raise StoreUnavailable(f"database unavailable ({self._database}): store closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._insert, list(rows), list(lookup_calls)
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # isolation_level=None: no implicit BEGIN; the transaction below is explicit.
            conn = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
        return self._conn

    def _insert(self, rows: list[dict[str, Any]], lookup_calls: list[str | None]) -> set[str]:
        if not rows:
            return set()
        try:
            conn = self._connection()
            statement = _InsertStatement(list(rows[0]))
            limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            per_statement = max(1, limit // statement.parameters_per_row)
            params = [statement.parameters(r, c) for r, c in zip(rows, lookup_calls, strict=True)]
            if len(params) <= per_statement:
                # One statement, in autocommit mode: its own transaction, atomic and durable
                # when the last row has been read; the write lock is taken as it starts.
                return statement.run(conn, params)
            conn.execute("BEGIN IMMEDIATE")
            try:
                inserted: set[str] = set()
                for start in range(0, len(params), per_statement):
                    inserted |= statement.run(conn, params[start : start + per_statement])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return inserted
        except sqlite3.OperationalError as exc:
            if sqlite_unavailable(str(exc)):
                raise StoreUnavailable(f"database unavailable ({self._database}): {exc}") from exc
            raise

    async def close(self) -> None:
        """Close the connection and stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _InsertStatement:
    """``INSERT INTO inbox … ON CONFLICT (event_id) DO NOTHING RETURNING event_id`` for rows
    with the given columns; an empty ``partition_key`` is read from the call's snapshot."""

    def __init__(self, names: list[str]) -> None:
        self._names = names
        marks = [_PARTITION if name == "partition_key" else "?" for name in names]
        self._row = "(" + ", ".join(marks) + ")"
        self._head = f"INSERT INTO inbox ({', '.join(names)}) VALUES "  # noqa: S608 (column names)
        self.parameters_per_row = len(names) + 1

    def parameters(self, row: dict[str, Any], lookup_call: str | None) -> list[Any]:
        values: list[Any] = []
        for name in self._names:
            values.append(row[name])
            if name == "partition_key":
                values.append(lookup_call)
        return values

    def run(self, conn: sqlite3.Connection, params: list[list[Any]]) -> set[str]:
        sql = self._head + ", ".join([self._row] * len(params)) + _CONFLICT
        flat = [value for row in params for value in row]
        return {r[0] for r in conn.execute(sql, flat).fetchall()}
