"""The dashboard: a page served by the service itself, with its data, login and files.

Routes (access: :mod:`opsync.web.admin`; decisions: docs/decisions/0021-dashboard.md)::

    GET  /                 the page (static HTML; its script polls the data)    browser
    GET  /api/dashboard    the page's data (opsync.web.dashboard_data)           browser
    GET  /login            the login form                                         login
    POST /login            token → session cookie, 303 to /; 401 form on a bad one login
    POST /logout           clears the cookie, 303 to /login                        login
    GET  /static/{name}    the page's script and style (shipped in the package)   login

"browser" routes take the admin bearer token or the session cookie; "login" routes are open
while an admin token is configured (404 otherwise). Nothing is fetched from elsewhere: the
page, its script (charts drawn into SVG by hand) and its style are files of this package,
and a Content-Security-Policy keeps it that way.
"""

from __future__ import annotations

import html
import logging
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from opsync.errors import StoreUnavailable
from opsync.web.admin import (
    AUTH_SCOPE_KEY,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminAuth,
    forbidden,
    foreign_origin,
    not_found,
)
from opsync.web.dashboard_data import DashboardSources, dashboard_snapshot

__all__ = ["CONTENT_SECURITY_POLICY", "dashboard_routes", "static_files"]

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Only this service's own files run; no inline script, no framing."""
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: with it the browser sends "Origin: null", which the CSRF check refuses
    "Referrer-Policy": "same-origin",
}
_MAX_LOGIN_BODY = 4096


def static_files() -> dict[str, tuple[bytes, str]]:
    """The files of ``opsync/web/static`` served under ``/static``: name → (bytes, type).
    Read once; only scripts and styles (the page itself is served at ``/``)."""
    folder = resources.files("opsync.web") / "static"
    found: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _STATIC_TYPES:
            found[entry.name] = (entry.read_bytes(), _STATIC_TYPES[suffix])
    return found


def _page() -> bytes:
    return (resources.files("opsync.web") / "static" / "dashboard.html").read_bytes()


class Dashboard:
    """The endpoints; ``sources`` feed the data, the page and files are read once."""

    def __init__(self, sources: DashboardSources) -> None:
        self._sources = sources
        self._page = _page()
        self._files = static_files()

    async def page(self, request: Request) -> Response:
        return Response(self._page, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    async def data(self, request: Request) -> Response:
        try:
            snapshot = await dashboard_snapshot(self._sources)
        except StoreUnavailable:
            return JSONResponse(
                {"error": "store_unavailable", "detail": "the store cannot be reached; try again"},
                status_code=503,
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        return JSONResponse(snapshot, headers={"Cache-Control": "no-store"})

    async def static(self, request: Request) -> Response:
        found = self._files.get(str(request.path_params["name"]))
        if found is None:
            return not_found()
        body, media_type = found
        return Response(
            body,
            media_type=media_type,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    async def login(self, request: Request) -> Response:
        auth = _auth(request)
        if auth is None:  # mounted outside the admin gate: admin counts as off
            return not_found()
        if request.method != "POST":
            return _login_form()
        if foreign_origin(request):  # a plain form sends no custom header: Origin only
            return forbidden("cross-origin request refused")
        body = await _small_form(request)
        if body is None or not auth.token_matches(body.get("token", "")):
            log.warning(
                "dashboard login refused",
                extra={"action": "dashboard_login_refused", "path": request.url.path},
            )
            return _login_form("That is not the admin token.", status_code=401)
        log.info("dashboard login", extra={"action": "dashboard_login"})
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            auth.new_session(),
            max_age=SESSION_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response


def _auth(request: Request) -> AdminAuth | None:
    auth = request.scope.get(AUTH_SCOPE_KEY)
    return auth if isinstance(auth, AdminAuth) and auth.enabled else None


async def _small_form(request: Request) -> dict[str, str] | None:
    """The urlencoded login form's fields; ``None`` if it is not one or is too big."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_LOGIN_BODY:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def _login_form(error: str | None = None, *, status_code: int = 200) -> Response:
    message = "" if error is None else f'<p class="error" role="alert">{html.escape(error)}</p>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opsync — log in</title><link rel="stylesheet" href="/static/dashboard.css"></head>
<body class="login"><main class="login-box">
<h1>opsync</h1>
<form method="post" action="/login" autocomplete="off">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" required autofocus>
{message}
<button type="submit">Log in</button>
</form>
<p class="hint">The value of <code>OPSYNC_ADMIN_TOKEN</code>. A login lasts 12 hours.</p>
</main></body></html>
"""
    headers: dict[str, Any] = dict(_PAGE_HEADERS)
    return HTMLResponse(page, status_code=status_code, headers=headers)


def dashboard_routes(sources: DashboardSources) -> list[BaseRoute]:
    """The dashboard's routes (mount them behind :class:`opsync.web.admin.AdminGate`)."""
    dashboard = Dashboard(sources)
    return [
        Route("/", dashboard.page, methods=["GET"], name="dashboard"),
        Route("/api/dashboard", dashboard.data, methods=["GET"], name="dashboard_data"),
        Route("/login", dashboard.login, methods=["GET", "POST"], name="login"),
        Route("/logout", dashboard.logout, methods=["POST"], name="logout"),
        Route("/static/{name}", dashboard.static, methods=["GET"], name="dashboard_static"),
    ]
