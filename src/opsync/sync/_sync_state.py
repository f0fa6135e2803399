"""The incremental sync's cursor state of one phone number (pure, dlt style).

Per kind (calls, messages) the state holds:

* ``last_value``: every item created before it is synced, except in ``behind`` conversations;
* ``boundary_ids``: the items created in ``[last_value - lag, last_value)`` already synced.
  The next window starts ``lag`` before ``last_value`` (createdAfter's inclusivity is not
  documented, and items can show up late), and drops these ids instead of reconciling again;
* ``seen``: fingerprints (``id@updatedAt``) of conversations whose activity, all before
  ``last_value`` and within the lag, is synced: when one comes back unchanged, it is skipped
  without listing its calls or messages;
* ``window``: the run in progress, ``[start, end)``, with the conversations done so far (and
  the boundary ids and fingerprints it has collected), saved after each conversation so that
  an interrupted run resumes where it stopped;
* ``behind``: conversations with an item that failed, and where they must be synced from:
  the cursor does not move past them, and the next runs try them first.

The document is versioned (``state_version``); :func:`load_state` migrates older versions step
by step and starts afresh from an unreadable one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from opsync.openphone.models import Conversation

log = logging.getLogger(__name__)

Kind = Literal["calls", "messages"]
KINDS: tuple[Kind, ...] = ("calls", "messages")
STATE_VERSION = 1
CURSOR_NAME = "sync"
"""The name of the sync's cursor among the phone number's cursors."""
DEFAULT_LAG = timedelta(seconds=300)

#: migrations: version → function turning that version's document into the next one's
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def fingerprint(conversation: Conversation) -> str | None:
    """``id@updatedAt``; None when the conversation has no update time."""
    updated = conversation.updated_at
    return None if updated is None else f"{conversation.id}@{updated.isoformat()}"


@dataclass
class Window:
    """One run over ``[start, end)`` (``start`` None: from the beginning)."""

    start: datetime | None
    end: datetime
    done: list[str] = field(default_factory=list)
    boundary_ids: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def covers(self, start: datetime | None) -> bool:
        return self.start is None or (start is not None and self.start <= start)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "done": list(self.done),
            "boundary_ids": list(self.boundary_ids),
            "seen": list(self.seen),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window:
        end = _time(data["end"])
        assert end is not None
        return cls(
            _time(data.get("start")),
            end,
            [str(x) for x in data.get("done", [])],
            [str(x) for x in data.get("boundary_ids", [])],
            [str(x) for x in data.get("seen", [])],
        )


@dataclass
class Behind:
    """A conversation to sync again from ``since`` (None: from the beginning)."""

    since: datetime | None
    participants: list[str]


@dataclass
class KindCursor:
    """The cursor of one kind (see the module docstring)."""

    last_value: datetime | None = None
    boundary_ids: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    window: Window | None = None
    behind: dict[str, Behind] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "last_value": _iso(self.last_value),
            "boundary_ids": list(self.boundary_ids),
            "seen": list(self.seen),
            "window": None if self.window is None else self.window.to_json(),
            "behind": {
                conv: {"since": _iso(b.since), "participants": list(b.participants)}
                for conv, b in self.behind.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KindCursor:
        window = data.get("window")
        behind = data.get("behind") or {}
        return cls(
            _time(data.get("last_value")),
            [str(x) for x in data.get("boundary_ids", [])],
            [str(x) for x in data.get("seen", [])],
            None if window is None else Window.from_json(window),
            {
                str(conv): Behind(_time(b.get("since")), [str(p) for p in b["participants"]])
                for conv, b in behind.items()
            },
        )

    def start_for(
        self,
        *,
        now: datetime,
        since: datetime | None,
        everything: bool,
        initial_window: timedelta,
        lag: timedelta,
    ) -> datetime | None:
        """Where a new window starts: ``lag`` before the cursor (first run: the initial
        window before ``now``), or earlier when asked (``since``), None for ``everything``."""
        if everything:
            return None
        start = now - initial_window if self.last_value is None else self.last_value - lag
        return start if since is None else min(start, since)

    def open_window(self, start: datetime | None, end: datetime) -> tuple[Window, bool]:
        """The window to work in: the one in progress when it covers ``start`` (resumed:
        True), else a new ``[start, end)``."""
        if self.window is not None and self.window.covers(start):
            return self.window, True
        self.window = Window(start, end)
        return self.window, False

    def close_window(self) -> None:
        """The window is done: move the cursor to its end."""
        window = self.window
        assert window is not None
        if self.last_value is None or window.end >= self.last_value:
            self.last_value = window.end
            self.boundary_ids = window.boundary_ids
            self.seen = window.seen
        self.window = None

    def skips(self, conversation: Conversation, window: Window, lag: timedelta) -> bool:
        """Whether the conversation has nothing to sync in ``window`` (no request needed)."""
        if conversation.id in window.done or conversation.id in self.behind:
            return True
        updated = conversation.updated_at
        if window.start is not None and updated is not None and updated <= window.start:
            return True
        trusted = (
            self.last_value is not None
            and window.start is not None
            and window.start >= self.last_value - lag
        )
        return trusted and fingerprint(conversation) in self.seen


@dataclass
class SyncState:
    kinds: dict[Kind, KindCursor] = field(
        default_factory=lambda: {kind: KindCursor() for kind in KINDS}
    )

    def __getitem__(self, kind: Kind) -> KindCursor:
        return self.kinds[kind]

    def to_json(self) -> dict[str, Any]:
        return {"state_version": STATE_VERSION, **{k: c.to_json() for k, c in self.kinds.items()}}


def load_state(raw: Any) -> SyncState:
    """The state in a stored document, migrated to the current version; a fresh state for
    none, and (logged) for one that cannot be read or comes from a newer opsync."""
    if not isinstance(raw, dict):
        return SyncState()
    document = dict(raw)
    version = document.get("state_version")
    try:
        if not isinstance(version, int) or version > STATE_VERSION:
            raise ValueError(f"unknown state_version {version!r}")
        while version < STATE_VERSION:
            document = MIGRATIONS[version](document)
            version += 1
        return SyncState({kind: KindCursor.from_json(document.get(kind) or {}) for kind in KINDS})
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        log.warning(
            "sync cursor unreadable, starting afresh",
            extra={"action": "sync_cursor_reset", "error": str(exc)[:200]},
        )
        return SyncState()
