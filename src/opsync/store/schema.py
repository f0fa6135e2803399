"""SQLAlchemy Core tables the store queries, mirroring what the migrations create.

The migrations (``sql/*.sql``) own the DDL and never change once released; these objects only
describe the columns for building queries. A test compares them with a migrated database.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, Table, Text

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)

# --- the seed's analytics tables (migration 0001) -------------------------------------------

phone_numbers = Table(
    "phone_numbers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("number", Text, nullable=False),
    Column("name", Text),
    Column("first_seen_at", BigInteger, nullable=False),
    Column("last_call_sync_at", BigInteger),
    Column("last_message_sync_at", BigInteger),
    Column("total_calls_synced", BigInteger),
    Column("total_messages_synced", BigInteger),
    Column("is_active", Integer),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

sync_history = Table(
    "sync_history",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("phone_number_id", Text, nullable=False),
    Column("resource_type", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("direction", Text),
    Column("notion_page_id", Text),
    Column("canvas_id", Text),
    Column("sync_status", Text, nullable=False),
    Column("error_message", Text),
    Column("processing_time_ms", BigInteger),
    Column("synced_at", BigInteger, nullable=False),
)

canvas_cache = Table(
    "canvas_cache",
    metadata,
    Column("lookup_key", Text, primary_key=True),
    Column("lookup_type", Text, nullable=False),
    Column("canvas_id", Text, nullable=False),
    Column("canvas_name", Text),
    Column("cached_at", BigInteger, nullable=False),
    Column("hit_count", BigInteger),
    Column("last_used_at", BigInteger, nullable=False),
)

performance_metrics = Table(
    "performance_metrics",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("metric_type", Text, nullable=False),
    Column("operation", Text, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("success", Integer, nullable=False),
    Column("phone_number_id", Text),
    Column("timestamp", BigInteger, nullable=False),
)

# --- the sync's own tables (migration 0002) -------------------------------------------------

inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("partition_key", Text),
    Column("payload", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_owner", Text),
    Column("lease_expires_at", BigInteger),
    Column("last_error", Text),
    Column("received_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
)

inbox_errors = Table(
    "inbox_errors",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("inbox_id", BigInteger, nullable=False),
    Column("attempt", BigInteger, nullable=False),
    Column("error_class", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

resource_ledger = Table(
    "resource_ledger",
    metadata,
    Column("resource_type", Text, primary_key=True),
    Column("resource_id", Text, primary_key=True),
    Column("notion_page_id", Text),
    Column("notion_database_id", Text),
    Column("content_hash", Text),
    Column("state", Text, nullable=False),
    Column("attempts", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

resource_snapshots = Table(
    "resource_snapshots",
    metadata,
    Column("resource_type", Text, primary_key=True),
    Column("resource_id", Text, primary_key=True),
    Column("phone_number_id", Text),
    Column("payload", Text, nullable=False),
    Column("fetched_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

kv = Table(
    "kv",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", BigInteger),
    Column("updated_at", BigInteger, nullable=False),
)

# --- registered OpenPhone webhooks and their signing keys (migration 0003) -------------------

openphone_webhooks = Table(
    "openphone_webhooks",
    metadata,
    Column("webhook_id", Text, primary_key=True),
    Column("family", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("signing_key", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# --- the contact timeline's index (migration 0004; opsync.timeline) -------------------------

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("resource_type", Text, primary_key=True),
    Column("resource_id", Text, primary_key=True),
    Column("phone_number_id", Text),
    Column("occurred_at", BigInteger, nullable=False),
    Column("counterparty", Text),
    Column("canvas_id", Text),
    Column("indexed_at", BigInteger, nullable=False),
)

timeline_parties = Table(
    "timeline_parties",
    metadata,
    Column("party", Text, primary_key=True),
    Column("resource_type", Text, primary_key=True),
    Column("resource_id", Text, primary_key=True),
    Column("occurred_at", BigInteger, nullable=False),
)


# --- deployment-wide request pacing (migration 0005) -------------------------------------------

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("tat", Float, nullable=False),
)
