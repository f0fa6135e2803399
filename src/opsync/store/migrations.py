"""Versioned, forward-only migrations, recorded in ``schema_migrations``.

Each migration is a pair of files in ``sql/``: ``NNNN_name.sqlite.sql`` and
``NNNN_name.postgresql.sql``, side by side so a dialect difference is seen next to its twin.
A released file never changes; a change is a new version. All pending migrations apply in one
transaction under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock on
PostgreSQL), so concurrent ``migrate`` calls apply each version once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsync.store._engine import split_statements
from opsync.store.schema import schema_migrations

DIALECTS = ("sqlite", "postgresql")
# pg_advisory_xact_lock key: the bytes of "opsync" as an integer.
PG_MIGRATION_LOCK = int.from_bytes(b"opsync", "big")

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>\w+)\.(?P<dialect>sqlite|postgresql)\.sql$")

_BOOTSTRAP = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
}


@dataclass(frozen=True)
class Migration:
    """One schema version, with its SQL for each dialect."""

    version: int
    name: str
    sql: dict[str, str]


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    applied_at: int


@cache
def load_migrations() -> tuple[Migration, ...]:
    """Every migration shipped with opsync, in version order.

    Raises ``RuntimeError`` if a version lacks a dialect or the versions have a gap.
    """
    found: dict[tuple[int, str], dict[str, str]] = {}
    for entry in resources.files("opsync.store").joinpath("sql").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        key = (int(match["version"]), match["name"])
        found.setdefault(key, {})[match["dialect"]] = entry.read_text(encoding="utf-8")
    migrations = tuple(
        Migration(version, name, sql) for (version, name), sql in sorted(found.items())
    )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {expected:04d} is missing or duplicated")
        if set(migration.sql) != set(DIALECTS):
            raise RuntimeError(f"migration {migration.version:04d} lacks a dialect's file")
    return migrations


async def applied_migrations(conn: AsyncConnection) -> list[AppliedMigration]:
    """The recorded versions, oldest first (empty before the first migrate)."""
    await _lock(conn)
    await conn.exec_driver_sql(_BOOTSTRAP[conn.dialect.name])
    rows = await conn.execute(select(schema_migrations).order_by(schema_migrations.c.version))
    return [AppliedMigration(r.version, r.name, r.applied_at) for r in rows]


async def apply_pending(conn: AsyncConnection, *, now_ms: int) -> list[AppliedMigration]:
    """Apply every migration newer than the recorded ones; returns those applied now.

    Call inside a transaction that began with ``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL
    this takes the advisory lock itself. Idempotent.
    """
    dialect = conn.dialect.name
    done = {m.version for m in await applied_migrations(conn)}
    applied: list[AppliedMigration] = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        for statement in split_statements(migration.sql[dialect]):
            await conn.exec_driver_sql(statement)
        record = AppliedMigration(migration.version, migration.name, now_ms)
        await conn.execute(
            schema_migrations.insert().values(
                version=record.version, name=record.name, applied_at=record.applied_at
            )
        )
        applied.append(record)
    return applied


async def _lock(conn: AsyncConnection) -> None:
    # Held until the transaction ends; re-taking it in the same transaction is a no-op.
    # SQLite needs nothing here: the caller's BEGIN IMMEDIATE already holds the write lock.
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
