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

The dashboard (docs/decisions/0021-dashboard.md) adds a browser session:

* ``POST /login`` takes the admin token and sets the :data:`SESSION_COOKIE` — HttpOnly,
  SameSite=Strict, ``Secure`` over https — whose value is ``v1.<expiry>.<HMAC-SHA256 keyed by
  the token>``: never the token, good for :data:`SESSION_SECONDS`, void once the token changes.
* The cookie is accepted on :data:`BROWSER_ROUTES` only (the page, its data, the replay of one
  dead letter); every other admin route still needs the bearer token.
* A state-changing request (anything but GET/HEAD) that rests on the cookie must also carry
  :data:`CSRF_HEADER` ``: opsync-dashboard`` (a custom header a cross-site form cannot send
  and a cross-site script cannot send without a CORS preflight, which opsync never answers)
  and, when the browser sends an ``Origin``, the service's own; else **403**.
* :data:`LOGIN_ROUTES` (the login form, logout, the page's script and style) are open while
  admin is on and 404 while it is off, like every admin route.
* A browser asking for :data:`BROWSER_PAGES` (``Accept: text/html``) without credentials is
  sent to ``/login`` (303) rather than given the API's 401.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from opsync.clock import Clock, SystemClock

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Verdict = Literal["granted", "refused", "disabled"]
"""The admin check of one request: valid token, missing or wrong token, no token configured."""

OPEN_ROUTES = frozenset({"webhook", "health"})
"""Route names anyone may call."""
SIGNED_ROUTES = frozenset({"media"})
"""Route names open to a request with a valid link signature, or else to the admin."""
LOGIN_ROUTES = frozenset({"login", "logout", "dashboard_static"})
"""Route names open while admin is on (the way to log in), 404 while it is off."""
BROWSER_ROUTES = frozenset({"dashboard", "dashboard_data", "dlq_replay"})
"""Admin route names that also accept the dashboard's session cookie."""
BROWSER_PAGES = frozenset({"dashboard"})
"""Browser routes whose browser (``Accept: text/html``) is sent to the login form."""
SESSION_COOKIE = "opsync_session"
SESSION_SECONDS = 12 * 3600
"""How long a dashboard login lasts."""
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "opsync-dashboard"
"""The header (and its value) the dashboard sends with every state-changing request."""
_SAFE_METHODS = frozenset({"GET", "HEAD"})
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

    def __init__(self, token: str | None, *, clock: Clock | None = None) -> None:
        self._token = token.encode("utf-8") if token else None
        self._clock: Clock = clock or SystemClock()

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

    def token_matches(self, offered: str) -> bool:
        """Whether ``offered`` (from the login form) is the admin token (constant time)."""
        if self._token is None:
            return False
        return hmac.compare_digest(offered.strip().encode("utf-8", "replace"), self._token)

    def new_session(self) -> str:
        """A session cookie value good for :data:`SESSION_SECONDS` from now (admin must be
        on): ``v1.<expiry epoch s>.<hex HMAC-SHA256 of it, keyed by the token>``."""
        expires = int(self._clock.now()) + SESSION_SECONDS
        return f"v1.{expires}.{self._session_mac(expires)}"

    def session_valid(self, connection: HTTPConnection) -> bool:
        """Whether ``connection`` carries an unexpired session cookie made with the token."""
        value = connection.cookies.get(SESSION_COOKIE, "")
        version, _, rest = value.partition(".")
        expiry, _, mac = rest.partition(".")
        if self._token is None or version != "v1" or not expiry.isdigit() or len(expiry) > 12:
            return False
        expires = int(expiry)
        if expires <= self._clock.now():
            return False
        return hmac.compare_digest(mac.encode("latin-1"), self._session_mac(expires).encode())

    def _session_mac(self, expires: int) -> str:
        assert self._token is not None
        message = f"opsync-dashboard-session:v1:{expires}".encode()
        return hmac.new(self._token, message, hashlib.sha256).hexdigest()

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


def forbidden(detail: str) -> Response:
    """403: the session is valid but the request lacks the dashboard's CSRF defence."""
    return JSONResponse({"error": "forbidden", "detail": detail}, status_code=403)


def csrf_problem(connection: HTTPConnection) -> str | None:
    """Why a state-changing request resting on the session cookie is refused, or ``None``:
    it must carry :data:`CSRF_HEADER` and, if it says where it comes from, come from here."""
    if connection.headers.get(CSRF_HEADER, "") != CSRF_VALUE:
        return f"a state-changing dashboard request needs the header X-Requested-With: {CSRF_VALUE}"
    if foreign_origin(connection):
        return "cross-origin request refused"
    return None


def foreign_origin(connection: HTTPConnection) -> bool:
    """Whether the browser says the request comes from another site (its ``Origin`` names
    another host). The host only: behind a TLS-terminating proxy the page is https and the
    request the service sees is http."""
    origin = connection.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != connection.url.netloc


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
        if name in LOGIN_ROUTES:
            scope[AUTH_SCOPE_KEY] = self._auth
            refused = None if self._auth.enabled else not_found()
        elif name in BROWSER_ROUTES:
            refused = self._browser_refusal(HTTPConnection(scope), name)
        else:
            refused = refusal(self._auth.verdict(HTTPConnection(scope)))
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _browser_refusal(self, connection: HTTPConnection, name: str) -> Response | None:
        """A browser route: the bearer token, or the session cookie (with the CSRF defence
        for a state-changing request); a page's browser without either goes to the login."""
        if not self._auth.enabled:
            return not_found()
        if "authorization" not in connection.headers and self._auth.session_valid(connection):
            if connection.scope["method"] in _SAFE_METHODS:
                return None
            problem = csrf_problem(connection)
            if problem is None:
                return None
            log.warning(
                "dashboard request refused",
                extra={"action": "admin_csrf_refused", "path": connection.url.path},
            )
            return forbidden(problem)
        if (
            name in BROWSER_PAGES
            and "authorization" not in connection.headers
            and "text/html" in connection.headers.get("accept", "")
        ):
            return RedirectResponse("/login", status_code=303)
        return refusal(self._auth.verdict(connection))


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
