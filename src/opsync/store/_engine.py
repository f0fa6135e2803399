"""Engines for both dialects, and the one seam where database failures become our errors.

SQLite runs through aiosqlite in WAL mode with foreign keys on and a busy timeout; the driver's
own implicit ``BEGIN`` is switched off so that SQLAlchemy emits it, and write transactions can
ask for ``BEGIN IMMEDIATE`` (taking the write lock up front instead of failing on upgrade).
PostgreSQL runs through asyncpg.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from opsync.errors import OpsyncError, StoreUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000
PG_CONNECT_TIMEOUT_S = 10.0
# Execution option read by the SQLite ``begin`` hook: "IMMEDIATE" takes the write lock at once.
BEGIN_MODE = "opsync_sqlite_begin"


class DatabaseURLInvalid(OpsyncError):
    """The database URL is not a SQLite or PostgreSQL URL."""


class QueryError(OpsyncError):
    """An SQL statement failed (syntax, unknown table, constraint); the message is one line."""


def normalize_url(url: str) -> URL:
    """Map a user's URL onto an async driver: ``sqlite://`` → aiosqlite, ``postgres(ql)://`` →
    asyncpg. Raises :class:`DatabaseURLInvalid` for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLInvalid(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseURLInvalid(
        f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}; "
        "use sqlite:///path or postgresql://user@host/db"
    )


def create_engine(url: str, *, pg_schema: str | None = None) -> AsyncEngine:
    """An async engine for ``url``; ``pg_schema`` sets PostgreSQL's ``search_path``."""
    normalized = normalize_url(url)
    if normalized.get_backend_name() == "sqlite":
        if pg_schema is not None:
            raise DatabaseURLInvalid("a schema can only be chosen on PostgreSQL")
        _check_sqlite_folder(normalized)
        engine = create_async_engine(normalized)
        _install_sqlite_hooks(engine)
        return engine
    connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    if pg_schema is not None:
        connect_args["server_settings"] = {"search_path": pg_schema}
    return create_async_engine(normalized, connect_args=connect_args, pool_pre_ping=True)


def _check_sqlite_folder(url: URL) -> None:
    """Refuse a SQLite file whose folder does not exist, before any connection is tried.

    Besides the clearer message, this avoids aiosqlite's failed-connect path, which leaves a
    stop request for its worker thread that can fire after the event loop has closed.
    """
    database = sqlite_file(url)
    if database is None:
        return
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise StoreUnavailable(f"cannot open SQLite database {database}: {folder} does not exist")


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver must not open transactions lazily.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once. SQLite answers a journal-mode change that races another
    connection's with SQLITE_BUSY without consulting the busy timeout, so retry it here (this
    runs in the driver's thread, where a short blocking wait is harmless)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver adapter re-raises sqlite3's errors as its own
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# SQLite reports both "cannot reach the file" and "bad SQL" as OperationalError: tell them apart.
_SQLITE_UNAVAILABLE = re.compile(
    r"database is locked|database table is locked|unable to open database|disk I/O error|"
    r"database disk image is malformed|readonly database",
    re.IGNORECASE,
)
# SQLSTATEs: connection (08), credentials (28), no such database (3D000), resources (53),
# server shutdown (57P), lock not available (55P03).
_PG_UNAVAILABLE = ("08", "28", "3D000", "53", "57P", "55P03")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or is locked (retrying can help)."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if isinstance(exc.orig, OSError | TimeoutError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:  # PostgreSQL
        return str(sqlstate).startswith(_PG_UNAVAILABLE)
    if isinstance(exc, OperationalError):  # SQLite
        return sqlite_unavailable(str(exc.orig))
    return False


def sqlite_unavailable(message: str) -> bool:
    """Whether a SQLite error message means the file is locked or cannot be used."""
    return bool(_SQLITE_UNAVAILABLE.search(message))


def sqlite_file(url: URL) -> str | None:
    """The file a ``sqlite`` URL names, or ``None`` (in-memory, URI form, or not SQLite)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else database


@contextmanager
def translate_errors(url: URL) -> Iterator[None]:
    """Turn connection and locking failures into :class:`StoreUnavailable`, keeping the cause."""
    try:
        yield
    except (DBAPIError, OSError, TimeoutError) as exc:
        if is_unavailable(exc):
            where = url.render_as_string(hide_password=True)
            raise StoreUnavailable(f"database unavailable ({where}): {_one_line(exc)}") from exc
        raise


def query_error(exc: DBAPIError) -> QueryError:
    """A one-line :class:`QueryError` from a driver error."""
    return QueryError(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig).strip() or type(orig).__name__
    first = text.splitlines()[0]
    # asyncpg wraps as "<class 'asyncpg.exceptions.X'>: message"; keep the message.
    return re.sub(r"^<class '[\w.]+'>: ", "", first)


def split_statements(sql: str) -> list[str]:
    """Split an SQL script on ``;`` at line ends, keeping ``$$``-quoted bodies whole."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in sql.splitlines():
        buffer.append(line)
        text = "\n".join(buffer)
        if line.rstrip().endswith(";") and text.count("$$") % 2 == 0:
            statements.append(text)
            buffer = []
    statements.append("\n".join(buffer))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(
        line.strip() and not line.strip().startswith("--") for line in statement.splitlines()
    )
