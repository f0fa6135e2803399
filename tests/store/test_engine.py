"""URL normalisation, script splitting, failure classification and the package surface."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

import opsync.store
from opsync.store import DatabaseURLInvalid, Store, normalize_url
from opsync.store._engine import is_unavailable, split_statements
from opsync.store.migrations import DIALECTS, load_migrations


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./opsync.db", "sqlite+aiosqlite:///./opsync.db"),
        ("sqlite:////var/lib/opsync.db", "sqlite+aiosqlite:////var/lib/opsync.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@db:5432/ops", "postgresql+asyncpg://u:p@db:5432/ops"),
        ("postgres://u@db/ops", "postgresql+asyncpg://u@db/ops"),
        ("postgresql+psycopg://u@db/ops", "postgresql+asyncpg://u@db/ops"),
    ],
)
def test_normalize_url_picks_the_async_driver(url: str, expected: str) -> None:
    assert normalize_url(url).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["mysql://u@db/x", "not a url"])
def test_unsupported_urls_are_rejected(url: str) -> None:
    with pytest.raises(DatabaseURLInvalid):
        normalize_url(url)


def test_split_statements_keeps_dollar_quoted_bodies() -> None:
    script = """
    -- a comment
    CREATE TABLE a (x INT);
    CREATE FUNCTION f() RETURNS INT LANGUAGE plpgsql AS $$
    BEGIN
      RETURN 1;
    END
    $$;
    SELECT 1
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[0].endswith("CREATE TABLE a (x INT);")
    assert "RETURN 1;" in statements[1]
    assert statements[1].endswith("$$;")
    assert statements[2] == "SELECT 1"


def test_split_statements_of_comments_only_is_empty() -> None:
    assert split_statements("-- nothing\n\n") == []


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OperationalError("x", {}, sqlite3.OperationalError("database is locked")), True),
        (OperationalError("x", {}, sqlite3.OperationalError("unable to open database")), True),
        (OperationalError("x", {}, sqlite3.OperationalError("no such table: t")), False),
        (IntegrityError("x", {}, sqlite3.IntegrityError("UNIQUE constraint failed")), False),
        (ConnectionRefusedError(111, "refused"), True),
        (ValueError("x"), False),
    ],
)
def test_is_unavailable_tells_outages_from_bad_sql(error: Exception, unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable


def test_every_migration_has_both_dialects() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(set(m.sql) == set(DIALECTS) for m in migrations)


def test_public_surface() -> None:
    assert sorted(opsync.store.__all__) == sorted(
        [
            "AppliedMigration",
            "DatabaseURLInvalid",
            "InboxError",
            "InboxEvent",
            "LedgerEntry",
            "NewEvent",
            "PhoneNumber",
            "QueryError",
            "QueryResult",
            "Snapshot",
            "Store",
            "StoredWebhook",
            "key_fingerprint",
            "normalize_url",
        ]
    )
    assert all(hasattr(opsync.store, name) for name in opsync.store.__all__)


async def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    async with await Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        assert (await store.execute_query("PRAGMA journal_mode")).rows == [("wal",)]
        assert (await store.execute_query("PRAGMA foreign_keys")).rows == [(1,)]
        assert (await store.execute_query("PRAGMA busy_timeout")).rows == [(5000,)]


async def test_a_schema_is_only_for_postgres(tmp_path: Path) -> None:
    with pytest.raises(DatabaseURLInvalid):
        await Store.open(f"sqlite:///{tmp_path / 'p.db'}", pg_schema="x")
