"""The SQL store: SQLite by default, PostgreSQL by URL; the only place in opsync with SQL."""

from opsync.store._engine import DatabaseURLInvalid, QueryError, normalize_url
from opsync.store._webhooks import StoredWebhook, key_fingerprint
from opsync.store.migrations import AppliedMigration
from opsync.store.rows import (
    InboxError,
    InboxEvent,
    LedgerEntry,
    NewEvent,
    PhoneNumber,
    QueryResult,
    Snapshot,
)
from opsync.store.store import Store

__all__ = [
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
