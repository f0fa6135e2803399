"""The dead-letter API (admin token; :class:`opsync.web.admin.AdminGate` checks it).

Routes::

    GET  /api/dlq?limit=N              the most recently dead first (default 100, at most 1000)
    GET  /api/dlq/{id}                 one event: payload, attempts, every error with its time
    POST /api/dlq/{id}/replay          back to pending, attempts reset; 409 if it is not dead
    POST /api/dlq/replay-all           every dead letter back to pending
    POST /api/dlq/purge?older_than=7d  delete dead letters that died longer ago than that

Answers are JSON; errors are ``{"error": ..., "detail": ...}`` (404 unknown id, 400 bad
parameter, 409 not dead, 503 store unavailable). ``opsync dlq`` prints the same documents with
``--json``, so :func:`dead_letter_summary`, :func:`dead_letter_detail` and
:func:`parse_duration` live here for both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from opsync.errors import StoreUnavailable
from opsync.store import InboxError, InboxEvent, Store

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "dead_letter_detail",
    "dead_letter_summary",
    "dlq_routes",
    "iso_ms",
    "one_line",
    "parse_duration",
]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_MAX_DURATION_MS = 100 * 366 * 86_400_000  # a century: beyond it, the input is a mistake


def parse_duration(text: str) -> int:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` as milliseconds. Raises ``ValueError`` with a
    message fit for the user on anything else (a bare number, a fraction, a negative, a
    duration of more than a century)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: use a whole number and a unit, like 7d, 12h, 30m, "
            "45s or 2w"
        )
    amount = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if amount > _MAX_DURATION_MS:
        raise ValueError(f"invalid duration {text!r}: more than 100 years")
    return amount


def iso_ms(epoch_ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC (``…Z``), to the millisecond."""
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def one_line(text: str | None, width: int = 200) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``width`` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def dead_letter_summary(event: InboxEvent) -> dict[str, Any]:
    """What a listing shows of an event."""
    return {
        "id": event.id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "source": event.source,
        "partition_key": event.partition_key,
        "state": event.state,
        "attempts": event.attempts,
        "last_error": one_line(event.last_error),
        "received_at": iso_ms(event.received_at),
        "dead_at": iso_ms(event.completed_at) if event.state == "dead" else None,
    }


def dead_letter_detail(event: InboxEvent, errors: list[InboxError]) -> dict[str, Any]:
    """Everything about an event: the summary, the whole last error, the payload (parsed when
    it is JSON, else the raw text), and every recorded failure, oldest first."""
    try:
        payload: Any = json.loads(event.payload)
    except ValueError:
        payload = event.payload
    return {
        **dead_letter_summary(event),
        "last_error": event.last_error,
        "payload": payload,
        "errors": [
            {
                "attempt": error.attempt,
                "error_class": error.error_class,
                "message": error.message,
                "at": iso_ms(error.at),
            }
            for error in errors
        ],
    }


def _error(status: int, error: str, detail: str, **more: Any) -> Response:
    return JSONResponse({"error": error, "detail": detail, **more}, status_code=status)


def _store_unavailable() -> Response:
    return JSONResponse(
        {"error": "store_unavailable", "detail": "the store cannot be reached; try again"},
        status_code=503,
        headers={"Retry-After": "10"},
    )


class DeadLetterApi:
    """The endpoints over ``store``; ``on_replayed`` wakes the dispatcher after a replay."""

    def __init__(self, store: Store, on_replayed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._on_replayed = on_replayed

    async def list(self, request: Request) -> Response:
        raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            return _error(400, "invalid_limit", f"limit must be a whole number 1..{MAX_LIMIT}")
        try:
            events = await self._store.inbox_dead_recent(int(raw))
            count = (await self._store.inbox_counts())["dead"]
        except StoreUnavailable:
            return _store_unavailable()
        return JSONResponse(
            {"count": count, "dead_letters": [dead_letter_summary(e) for e in events]}
        )

    async def show(self, request: Request) -> Response:
        event_id = int(request.path_params["event_id"])
        try:
            event = await self._store.inbox_get(event_id)
            errors = [] if event is None else await self._store.inbox_errors_for(event_id)
        except StoreUnavailable:
            return _store_unavailable()
        if event is None:
            return _unknown(event_id)
        return JSONResponse(dead_letter_detail(event, errors))

    async def replay(self, request: Request) -> Response:
        event_id = int(request.path_params["event_id"])
        try:
            replayed = await self._store.inbox_replay(event_id)
            event = await self._store.inbox_get(event_id)
        except StoreUnavailable:
            return _store_unavailable()
        if event is None:
            return _unknown(event_id)
        if not replayed:
            return _error(
                409, "not_dead", f"event {event_id} is {event.state}, not dead", state=event.state
            )
        self._replayed(1)
        return JSONResponse({"replayed": 1, "id": event_id, "state": event.state})

    async def replay_all(self, request: Request) -> Response:
        try:
            count = await self._store.inbox_replay_all_dead()
        except StoreUnavailable:
            return _store_unavailable()
        self._replayed(count)
        return JSONResponse({"replayed": count})

    async def purge(self, request: Request) -> Response:
        raw = request.query_params.get("older_than")
        if raw is None:
            return _error(400, "invalid_older_than", "older_than is required, like 7d or 12h")
        try:
            older_than_ms = parse_duration(raw)
        except ValueError as exc:
            return _error(400, "invalid_older_than", str(exc))
        try:
            count = await self._store.inbox_purge_dead(older_than_ms)
        except StoreUnavailable:
            return _store_unavailable()
        log.info(
            "dead letters purged",
            extra={"action": "dlq_purged", "count": count, "older_than_ms": older_than_ms},
        )
        return JSONResponse({"purged": count, "older_than": raw.strip().lower()})

    def _replayed(self, count: int) -> None:
        log.info("dead letters replayed", extra={"action": "dlq_replayed", "count": count})
        if not count or self._on_replayed is None:
            return
        try:
            self._on_replayed()
        except Exception:
            # The replay is committed: the dispatcher's poll will find it.
            log.exception("waking the dispatcher failed", extra={"action": "wake_failed"})


def _unknown(event_id: int) -> Response:
    return _error(404, "not_found", f"no event with id {event_id}")


def dlq_routes(store: Store, on_replayed: Callable[[], None] | None = None) -> list[BaseRoute]:
    """The ``/api/dlq`` routes (mount them behind the admin gate)."""
    api = DeadLetterApi(store, on_replayed)
    return [
        Route("/api/dlq", api.list, methods=["GET"], name="dlq_list"),
        Route("/api/dlq/replay-all", api.replay_all, methods=["POST"], name="dlq_replay_all"),
        Route("/api/dlq/purge", api.purge, methods=["POST"], name="dlq_purge"),
        Route("/api/dlq/{event_id:int}", api.show, methods=["GET"], name="dlq_show"),
        Route("/api/dlq/{event_id:int}/replay", api.replay, methods=["POST"], name="dlq_replay"),
    ]
