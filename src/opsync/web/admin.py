"""The admin-token check of the admin routes (``/phone/{id}/state`` and later the admin API).

Decisions:

* The token travels as ``Authorization: Bearer <token>`` (scheme case-insensitive) and is
  compared in constant time; a missing or wrong token answers **401** with
  ``WWW-Authenticate: Bearer`` and a JSON error that never echoes what was sent.
* With no ``OPSYNC_ADMIN_TOKEN`` configured, admin routes are **disabled**, not open: they
  answer **403** ``{"error": "admin_disabled", ...}`` telling the operator to set the
  variable. A service reachable from the internet must not expose its state by default.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


class AdminAuth:
    """Checks the bearer token of admin requests against the configured one (if any)."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def enabled(self) -> bool:
        """Whether an admin token is configured."""
        return self._token is not None

    def check(self, request: Request) -> Response | None:
        """``None`` when the request carries the admin token, else the error response."""
        if self._token is None:
            return JSONResponse(
                {
                    "error": "admin_disabled",
                    "detail": "set OPSYNC_ADMIN_TOKEN to enable the admin routes",
                },
                status_code=403,
            )
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        offered = offered.strip()
        # Header values arrive latin-1 decoded, so encoding them back cannot fail.
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.encode(), self._token):
            return None
        log.warning(
            "admin request refused",
            extra={"action": "admin_unauthorized", "path": request.url.path},
        )
        return JSONResponse(
            {"error": "unauthorized", "detail": "a valid admin bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def protect(self, endpoint: Endpoint) -> Endpoint:
        """Wrap ``endpoint`` so that it runs only for requests with the admin token."""

        async def guarded(request: Request) -> Response:
            refused = self.check(request)
            if refused is not None:
                return refused
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "admin_endpoint")
        guarded.__doc__ = endpoint.__doc__
        return guarded
