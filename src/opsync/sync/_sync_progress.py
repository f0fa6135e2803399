"""What a sync job reports: live progress in kv ``sync:progress:{pn}`` (written at most every
``interval`` seconds, for ``opsync backfill`` to show) and the final summary in kv
``sync:last:{pn}``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from opsync.clock import Clock
from opsync.store import Store

PROGRESS_KEY = "sync:progress:{}"
LAST_KEY = "sync:last:{}"
PROGRESS_TTL = 7 * 86_400.0
MAX_ERROR_TEXT = 300

Status = Literal["running", "done", "interrupted", "failed"]


@dataclass
class SyncSummary:
    """The counts of one sync job. ``seen``: items listed; ``created`` / ``updated``: pages
    written; ``unchanged``: reconciled, nothing to write; ``skipped``: already synced at the
    cursor's boundary, not reconciled again; ``failed``: items (or listings) that failed."""

    phone_number_id: str
    source: str
    kinds: list[str]
    started_at: float
    event_id: str | None = None
    status: Status = "running"
    phase: str = "starting"
    conversations: int = 0
    #: how many changed conversations this run walks (known once they are listed)
    conversations_total: int | None = None
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    pending_checked: int = 0
    updated_at: float = 0.0
    finished_at: float | None = None
    last_error: str | None = None
    windows: dict[str, Any] = field(default_factory=dict)

    @property
    def synced(self) -> int:
        return self.created + self.updated

    def count(self, action: str) -> None:
        if action == "created":
            self.created += 1
        elif action == "updated":
            self.updated += 1
        else:
            self.unchanged += 1

    def fail(self, exc: BaseException) -> None:
        self.failed += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "synced": self.synced}

    def line(self) -> str:
        return (
            f"{self.status}: {self.synced} synced ({self.created} new, {self.updated} updated), "
            f"{self.unchanged} unchanged, {self.skipped} skipped, {self.failed} failed"
        )


class ProgressReporter:
    """Writes the summary as progress, throttled; and, at the end, as the last summary."""

    def __init__(
        self, store: Store, clock: Clock, summary: SyncSummary, *, interval: float = 0.5
    ) -> None:
        self._store = store
        self._clock = clock
        self.summary = summary
        self._interval = interval
        self._last: float | None = None

    async def tick(self, phase: str | None = None, *, force: bool = False) -> None:
        """Write the progress if ``interval`` has passed (or ``force``, or a new phase)."""
        summary = self.summary
        if phase is not None and phase != summary.phase:
            summary.phase, force = phase, True
        now = self._clock.monotonic()
        if not force and self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        summary.updated_at = self._clock.now()
        await self._store.kv_set(
            PROGRESS_KEY.format(summary.phone_number_id),
            json.dumps(summary.to_json()),
            ttl_seconds=PROGRESS_TTL,
        )

    async def finish(self, status: Status) -> None:
        """Record the outcome; runs to its end even if the caller is cancelled meanwhile."""
        summary = self.summary
        summary.status = status
        summary.finished_at = self._clock.now()
        summary.phase = status
        write = asyncio.ensure_future(self._finish())
        await asyncio.shield(write)

    async def _finish(self) -> None:
        await self.tick(force=True)
        await self._store.kv_set(
            LAST_KEY.format(self.summary.phone_number_id), json.dumps(self.summary.to_json())
        )


async def read_json(store: Store, key: str) -> dict[str, Any] | None:
    """A JSON object in kv (None when absent or not an object)."""
    raw = await store.kv_get(key)
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None
