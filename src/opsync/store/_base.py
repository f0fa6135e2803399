"""What every group of store operations shares: the engine, the clock, transactions, upserts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from opsync.clock import Clock, SystemClock, epoch_ms
from opsync.store._engine import BEGIN_MODE, sqlite_file, translate_errors
from opsync.store._sqlite_direct import SqliteDirect


class StoreBase:
    """The engine and clock, and one transaction per operation."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock: Clock = clock or SystemClock()
        database = sqlite_file(engine.url)
        # On a SQLite file, the hottest operations take the direct road (see _sqlite_direct):
        # one connection for inbox group commits, one for the Canvas lookup's reads.
        self._direct_writer = None if database is None else SqliteDirect(database, "writer")
        self._direct_reader = None if database is None else SqliteDirect(database, "reader")
        # Canvas cache hits not yet written: (type, key) → (count, last used at).
        self._canvas_hits: dict[tuple[str, str], tuple[int, int]] = {}
        self._canvas_hit_flush: asyncio.Task[None] | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def _now(self) -> int:
        return epoch_ms(self._clock)

    async def _close_direct(self) -> None:
        for road in (self._direct_writer, self._direct_reader):
            if road is not None:
                await road.close()

    @asynccontextmanager
    async def _transaction(self, *, write: bool = True) -> AsyncIterator[AsyncConnection]:
        # The one place where connection and locking failures become StoreUnavailable.
        with translate_errors(self._engine.url):
            async with self._engine.connect() as conn:
                if write and self.dialect == "sqlite":
                    # Take SQLite's write lock at BEGIN: a deferred transaction that upgrades
                    # later can fail with SQLITE_BUSY without waiting for the busy timeout.
                    await conn.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
                async with conn.begin():
                    yield conn

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        # ON CONFLICT is spelled alike on both dialects, but each has its own Insert construct.
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


def to_json(value: Any) -> str:
    """Compact, key-sorted JSON (stable for comparisons)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
