"""The direct road to a SQLite file: a dedicated ``sqlite3`` connection in one worker thread.

Used where the event loop's cost per operation matters: inbox group commits (webhook ingest)
and the hot reads of the Canvas lookup.

Webhook ingest commits many small batches per second. Through SQLAlchemy and aiosqlite a
transaction costs ~1.5 ms of CPU on the event loop's side (a thread hop and a greenlet switch
per driver call: connect, BEGIN, SELECT, INSERT, fetch, COMMIT, reset). Here a batch is one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in autocommit mode — its own
transaction, the partition's snapshot lookup a subquery — run in C in one hop to a worker
thread. The effect is the portable path's (:meth:`opsync.store.Store.inbox_enqueue_many`),
on the same file with the same durability (WAL, the default ``synchronous``, the same busy
timeout); PostgreSQL and in-memory SQLite keep the portable path. See
docs/decisions/0013-direct-sqlite-road.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from opsync.errors import StoreUnavailable
from opsync.store._engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_unavailable

T = TypeVar("T")

# The partition an event names, else the phone number of the call snapshot it looks up.
_PARTITION = (
    "COALESCE(?, (SELECT phone_number_id FROM resource_snapshots "
    "WHERE resource_type = 'call' AND resource_id = ?))"
)
_CONFLICT = " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"


class SqliteDirect:
    """One connection to the SQLite file ``database``, used from one worker thread: each
    :meth:`run` is one hop into it. ``name`` names the thread (``opsync-inbox``, ...)."""

    def __init__(self, database: str, name: str) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"opsync-{name}")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` in the thread. Raises :class:`StoreUnavailable` when the file
        is locked past the busy timeout, cannot be opened, or this road is closed."""
        if self._closed:
            raise StoreUnavailable(f"database unavailable ({self._database}): store closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work)

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                # isolation_level=None: no implicit BEGIN; statements autocommit unless the
                # work opens a transaction itself.
                conn = sqlite3.connect(
                    self._database, isolation_level=None, check_same_thread=False
                )
                conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA foreign_keys=ON")
                self._conn = conn
            return work(self._conn)
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


def insert_inbox(
    conn: sqlite3.Connection, rows: list[dict[str, Any]], lookup_calls: list[str | None]
) -> set[str]:
    """Insert ``rows`` (inbox column → value, the same keys in each) unless their ``event_id``
    exists, all or none; a row without a ``partition_key`` takes the phone number of the
    snapshot of the call ``lookup_calls`` names beside it, if known. Returns the ids inserted.
    """
    if not rows:
        return set()
    statement = _InsertStatement(list(rows[0]))
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, limit // statement.parameters_per_row)
    params = [statement.parameters(r, c) for r, c in zip(rows, lookup_calls, strict=True)]
    if len(params) <= per_statement:
        # One statement, in autocommit mode: its own transaction, atomic and durable when
        # the last row has been read; the write lock is taken as it starts.
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


def fetch_one(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
    """The first row of a read-only ``sql`` as a column → value mapping, or ``None``."""
    cursor = conn.execute(sql, params)
    try:
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip((d[0] for d in cursor.description), row, strict=True))
    finally:
        cursor.close()


def execute_many(conn: sqlite3.Connection, sql: str, params: Sequence[Sequence[Any]]) -> None:
    """``sql`` once per parameter set, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


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
