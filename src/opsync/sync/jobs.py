"""The sync job: "bring this phone number's calls and/or messages up to date", as an inbox
event partitioned by its phone number, so that it never runs beside a webhook of that number.

The scheduler enqueues one per active number and firing (event id ``sync:{pn}:{period}``);
``opsync backfill`` enqueues its own (``backfill:{pn}:{uuid}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast, get_args

from opsync.errors import InvalidPayload
from opsync.store import Store
from opsync.store._sync_queries import enqueue_unless_waiting
from opsync.store.rows import InboxEvent, InboxSource

SYNC_EVENT_TYPE = "sync.phone_number"
"""The inbox ``event_type`` of a sync job."""

_SOURCES: tuple[str, ...] = get_args(InboxSource)


@dataclass(frozen=True)
class SyncJob:
    """What to sync for one phone number. ``since`` / ``all`` ask for more history than the
    stored cursor (and, on a first run, ``OPSYNC_INITIAL_WINDOW``) would cover."""

    phone_number_id: str
    calls: bool = True
    messages: bool = True
    since: datetime | None = None
    all: bool = False
    source: InboxSource = "cron"

    def __post_init__(self) -> None:
        if not self.phone_number_id:
            raise ValueError("a sync job needs a phone number id")
        if self.since is not None and self.since.tzinfo is None:
            raise ValueError("since must be timezone-aware")

    def to_json(self) -> dict[str, Any]:
        return {
            "phone_number_id": self.phone_number_id,
            "calls": self.calls,
            "messages": self.messages,
            "since": None if self.since is None else self.since.isoformat(),
            "all": self.all,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> SyncJob:
        """The job in an inbox payload; raises InvalidPayload naming what is wrong."""
        try:
            raw = json.loads(data) if isinstance(data, str | bytes) else dict(data)
            if not isinstance(raw, dict):
                raise TypeError("not a JSON object")
            since = raw.get("since")
            source = str(raw.get("source", "cron"))
            if source not in _SOURCES:
                raise ValueError(f"unknown source {source!r}")
            return cls(
                phone_number_id=str(raw["phone_number_id"]),
                calls=_flag(raw, "calls", True),
                messages=_flag(raw, "messages", True),
                since=None if since is None else datetime.fromisoformat(str(since)),
                all=_flag(raw, "all", False),
                source=cast(InboxSource, source),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayload(f"sync job payload is not valid: {exc}") from exc


def _flag(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a boolean")
    return value


def is_sync_job(event: InboxEvent) -> bool:
    """Whether ``event`` is a sync job: long, and resumable from its saved cursor at any
    moment, so a shutdown releases it at once rather than waiting for it."""
    return event.event_type == SYNC_EVENT_TYPE


async def enqueue_sync_job(store: Store, job: SyncJob, *, event_id: str) -> bool:
    """Queue ``job`` in its phone number's partition. Returns False, queueing nothing, when a
    sync job for that number is already waiting (or ``event_id`` is known). Idempotent."""
    return await enqueue_unless_waiting(
        store,
        event_id,
        SYNC_EVENT_TYPE,
        job.phone_number_id,
        job.to_json(),
        source=job.source,
    )
