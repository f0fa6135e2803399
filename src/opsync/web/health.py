"""``GET /health`` (open) and ``GET /phone/{id}/state`` (admin token).

``/health`` answers ``{"status": "healthy", "inbox": {state: count, ...}, "depth": n}`` —
every inbox state is listed (0 when empty) and ``depth`` is the work not yet done (pending and
in flight). When the store cannot be reached, or fails in any other way (a schema never
migrated, say), it answers 503 ``{"status": "unhealthy", "reason": ...}`` so that a load
balancer takes the instance out; the reason never carries the database URL or a driver
message (those go to the log). Nothing else is said: no version, no configuration, no secret
(tests/web/test_admin_routes.py checks the body against every configured value).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsync.errors import StoreUnavailable
from opsync.store import Store

log = logging.getLogger(__name__)

PhoneStateProvider = Callable[[str], Awaitable[dict[str, Any] | None]]
"""Given a phone number id, its actor's state as JSON-able data, or ``None`` if unknown."""


class HealthEndpoint:
    """``GET /health``: whether the store answers, and the inbox counts per state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def handle(self, request: Request) -> Response:
        try:
            counts = await self._store.inbox_counts()
        except StoreUnavailable:
            log.warning("health check failed", extra={"action": "health_unhealthy"})
            return _unhealthy("store unavailable")
        except Exception:
            # Whatever else keeps the store from answering, the instance is not healthy; a
            # health endpoint that answers 500 would hide that from the load balancer.
            log.exception("health check failed", extra={"action": "health_unhealthy"})
            return _unhealthy("store error")
        depth = counts.get("pending", 0) + counts.get("in_flight", 0)
        return JSONResponse({"status": "healthy", "inbox": counts, "depth": depth})


def _unhealthy(reason: str) -> Response:
    return JSONResponse(
        {"status": "unhealthy", "reason": reason},
        status_code=503,
        headers={"Retry-After": "10", "Cache-Control": "no-store"},
    )


class PhoneStateEndpoint:
    """``GET /phone/{id}/state``: the actor's state from ``provider``; 404 when unknown.

    An admin route: :func:`opsync.web.build_app`'s admin gate checks the token. Without a
    provider (no dispatcher in this process) every phone number is unknown.
    """

    def __init__(self, provider: PhoneStateProvider | None) -> None:
        self._provider = provider

    async def handle(self, request: Request) -> Response:
        phone_number_id = str(request.path_params["phone_number_id"])
        try:
            state = None if self._provider is None else await self._provider(phone_number_id)
        except StoreUnavailable:
            return JSONResponse(
                {"error": "store_unavailable"}, status_code=503, headers={"Retry-After": "10"}
            )
        if state is None:
            return JSONResponse(
                {"error": "not_found", "detail": f"no state for phone number {phone_number_id}"},
                status_code=404,
            )
        return JSONResponse(state)
