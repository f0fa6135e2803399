"""The values the store returns: small frozen dataclasses, timestamps in epoch milliseconds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

ResourceType = Literal["call", "message"]
"""What a Notion page mirrors. Calls and messages share the ``AC`` id prefix, so the ledger
keys on (type, id)."""

LedgerState = Literal["intent", "created", "failed"]
InboxState = Literal["pending", "in_flight", "done", "dead", "ignored"]
InboxSource = Literal["webhook", "cron", "backfill", "replay", "cli"]
SyncStatus = Literal["success", "failed", "skipped"]
MetricType = Literal["api_call", "notion_query", "canvas_lookup"]


class QueryResult(NamedTuple):
    """The outcome of an ad-hoc statement: column names and rows (both empty for DDL/DML)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class LedgerEntry:
    """What the store knows about the Notion page of one call or message."""

    resource_type: str
    resource_id: str
    notion_page_id: str | None
    notion_database_id: str | None
    content_hash: str | None
    state: str
    attempts: int
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Snapshot:
    """The last known OpenPhone object of a kind (call, recordings, transcript, message, …)."""

    resource_type: str
    resource_id: str
    phone_number_id: str | None
    payload: Any
    fetched_at: int
    updated_at: int


@dataclass(frozen=True)
class PhoneNumber:
    """A row of ``phone_numbers``."""

    id: str
    number: str
    name: str | None
    first_seen_at: int
    last_call_sync_at: int | None
    last_message_sync_at: int | None
    total_calls_synced: int
    total_messages_synced: int
    is_active: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class InboxEvent:
    """A row of ``inbox``: one unit of work. ``payload`` is the raw text as enqueued;
    ``attempts`` counts claims that were not given back; ``lease_*`` are set while in flight."""

    id: int
    event_id: str
    event_type: str
    source: str
    partition_key: str | None
    payload: str
    state: InboxState
    attempts: int
    next_attempt_at: int
    lease_owner: str | None
    lease_expires_at: int | None
    last_error: str | None
    received_at: int
    updated_at: int
    completed_at: int | None


@dataclass(frozen=True)
class InboxError:
    """One failed attempt of an inbox event (a row of ``inbox_errors``)."""

    inbox_id: int
    attempt: int
    error_class: str
    message: str
    at: int


@dataclass(frozen=True)
class NewEvent:
    """An event to add to the inbox (see :meth:`Store.inbox_enqueue_many`)."""

    event_id: str
    event_type: str
    partition_key: str | None
    payload: str | Mapping[str, Any]
    source: InboxSource = "webhook"
    state: InboxState = "pending"
    partition_call_id: str | None = None
    """With no ``partition_key``: take the partition from this call's snapshot, read in the
    same transaction as the insert (still ``None`` if the call is not known yet)."""
