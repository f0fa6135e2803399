"""Who may call which route: the admin token, and the gate that applies it to every route.

Decisions (docs/decisions/0014-dead-letters-and-admin-routes.md):

* **Deny by default.** :class:`AdminGate` sits in front of the router and treats every route as
  an admin route unless its name is in :data:`OPEN_ROUTES` (the webhook, ``/health``) or
  :data:`SIGNED_ROUTES` (media links, which carry their own signature). A route added later is
  therefore protected without anyone remembering to protect it.
* The token travels as ``Authorization: Bearer <token>`` (scheme case-insensitive) and is
  compared in constant time; a missing or wrong token answers **401** with
  ``WWW-Authenticate: Bearer`` and a JSON error that never echoes what was sent.
* With no ``OPSYNC_ADMIN_TOKEN`` configured, admin routes are **off**: they answer **404** with
  the very body of an unknown route, so that a scanner cannot even tell they exist. A service
  reachable from the internet must not expose its state by default.
* A signed route runs whatever the token says; the gate leaves the :class:`AdminAuth` in the
  ASGI scope, and the route calls :func:`unsigned_refusal` only when the request's signature
  is not valid (so a valid link is never logged as a refused admin request).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Verdict = Literal["granted", "refused", "disabled"]
"""The admin check of one request: valid token, missing or wrong token, no token configured."""

OPEN_ROUTES = frozenset({"webhook", "health"})
"""Route names anyone may call."""
SIGNED_ROUTES = frozenset({"media"})
"""Route names open to a request with a valid link signature, or else to the admin."""
AUTH_SCOPE_KEY = "opsync.admin_auth"
"""Where :class:`AdminGate` leaves its :class:`AdminAuth` for a signed route."""

NOT_FOUND_BODY = {"error": "not_found", "detail": "Not Found"}
"""The body of any unknown route (the app's HTTPException rendering of a 404)."""


def not_found() -> Response:
    """The 404 of an unknown route: what an admin route answers while admin is off."""
    return JSONResponse(NOT_FOUND_BODY, status_code=404)


def unauthorized(detail: str = "a valid admin bearer token is required") -> Response:
    """401 with ``WWW-Authenticate: Bearer``."""
    return JSONResponse(
        {"error": "unauthorized", "detail": detail},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class AdminAuth:
    """Checks the bearer token of admin requests against the configured one (if any)."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def enabled(self) -> bool:
        """Whether an admin token is configured."""
        return self._token is not None

    def verdict(self, connection: HTTPConnection) -> Verdict:
        """Whether ``connection`` carries the admin token (constant-time compare)."""
        if self._token is None:
            return "disabled"
        scheme, _, offered = connection.headers.get("authorization", "").partition(" ")
        # Header values arrive latin-1 decoded, so encoding them back cannot fail.
        offered_bytes = offered.strip().encode("latin-1")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered_bytes, self._token):
            return "granted"
        log.warning(
            "admin request refused",
            extra={"action": "admin_unauthorized", "path": connection.url.path},
        )
        return "refused"

    def check(self, request: Request) -> Response | None:
        """``None`` when the request carries the admin token, else the refusal (404 when admin
        is off, 401 when the token is missing or wrong)."""
        return refusal(self.verdict(request))

    def protect(self, endpoint: Endpoint) -> Endpoint:
        """Wrap ``endpoint`` so that it runs only for requests with the admin token.

        For a route served outside :func:`opsync.web.build_app` (whose gate already protects
        every admin route)."""

        async def guarded(request: Request) -> Response:
            refused = self.check(request)
            if refused is not None:
                return refused
            return await endpoint(request)

        guarded.__name__ = getattr(endpoint, "__name__", "admin_endpoint")
        guarded.__doc__ = endpoint.__doc__
        return guarded


def refusal(verdict: Verdict, *, detail: str | None = None) -> Response | None:
    """The response refusing a request with ``verdict``; ``None`` when granted."""
    if verdict == "granted":
        return None
    if verdict == "disabled":
        return not_found()
    return unauthorized(detail) if detail else unauthorized()


def unsigned_refusal(request: Request) -> Response | None:
    """For a signed route whose request has no valid signature: ``None`` if the admin token
    came with it, else the refusal. Outside :class:`AdminGate` (no verdict in the scope) admin
    counts as off."""
    auth = request.scope.get(AUTH_SCOPE_KEY)
    verdict = auth.verdict(request) if isinstance(auth, AdminAuth) else "disabled"
    return refusal(verdict, detail="invalid or expired link; or a valid admin bearer token")


class AdminGate:
    """ASGI middleware: every route of ``router`` but the open ones needs the admin token.

    The route is found the way the router finds it (a full match first, else a partial one,
    say a wrong method), so admin-off hides even a 405. Unknown paths go through to the
    router's own 404."""

    def __init__(self, app: ASGIApp, *, auth: AdminAuth, router: Router) -> None:
        self._app = app
        self._auth = auth
        self._router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self._app(scope, receive, send)
            return
        found = _find_route(self._router, scope)
        if found is None or found[0] in OPEN_ROUTES:
            await self._app(scope, receive, send)
            return
        name, full = found
        if scope["type"] == "websocket":  # none today; closed (policy violation) unless admin
            if self._auth.verdict(HTTPConnection(scope)) == "granted":
                await self._app(scope, receive, send)
            else:
                await WebSocketClose(code=1008)(scope, receive, send)
            return
        if full and name in SIGNED_ROUTES:  # a wrong method is not a link: admin rules
            scope[AUTH_SCOPE_KEY] = self._auth
            await self._app(scope, receive, send)
            return
        refused = refusal(self._auth.verdict(HTTPConnection(scope)))
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _find_route(router: Router, scope: Scope) -> tuple[str, bool] | None:
    """The name of the route the router would pick for ``scope`` (``""`` for an unnamed one)
    and whether it matches fully (else only the path does); ``None`` when none matches."""
    partial: BaseRoute | None = None
    for route in router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "name", None) or ""), True
        if match is Match.PARTIAL and partial is None:
            partial = route
    return None if partial is None else (str(getattr(partial, "name", None) or ""), False)
