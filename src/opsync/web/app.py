"""The ASGI application: routes, access, error rendering, and the refusal to run unsigned.

:func:`build_app` takes ready collaborators (an open store, a verifier built from the
configured keys); opening and closing them — the lifespan — is the caller's, so that tests and
``opsync serve`` wire the same app around their own store.

Routes::

    POST {webhook_path}        the webhook (opsync.web.ingest)                       open
    GET  /health               store reachable? inbox counts per state               open
    GET  /phone/{id}/state     an actor's state (opsync.web.health)                  admin
    ...  /api/dlq...           the dead letters (opsync.web.admin_api)               admin
    GET  /openapi.json         the webhook's OpenAPI description (opsync.web.openapi) admin
    GET  /api/contacts/{phone}/timeline   a contact's calls and messages          admin
    GET  /api/canvas/{id}/timeline        … of a Canvas page (opsync.web.timeline_api)
    GET  /, /api/dashboard     the dashboard and its data (opsync.web.dashboard)     admin or
    .../login, /static/...     its login form, logout, script and style               session
    ...  extra_routes          added by the caller (metrics, media links)            admin,
                                                                                      or signed

Access (opsync.web.admin): every route but the open ones needs the admin bearer token; with no
token configured they answer the 404 of an unknown route. Media links with a valid signature
need no token.

Every error the app itself produces (404, 405, ...) is JSON: ``{"error": ..., "detail": ...}``;
an unhandled exception is logged with its traceback and answered ``500 {"error":
"internal_error"}``, never with the exception's text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsync.errors import ConfigError
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web.admin import AdminAuth, AdminGate
from opsync.web.admin_api import dlq_routes
from opsync.web.dashboard import dashboard_routes
from opsync.web.dashboard_data import DashboardSources
from opsync.web.health import HealthEndpoint, PhoneStateEndpoint, PhoneStateProvider
from opsync.web.ingest import WebhookIngest, WebhookObserver
from opsync.web.openapi import openapi_document
from opsync.web.timeline_api import timeline_routes

log = logging.getLogger(__name__)

UNSIGNED_REFUSAL = (
    "a service with no webhook signing key configured refuses to start; set WEBHOOK_SECRET "
    "(whsec_… or legacy base64 keys, comma-separated) or pass --insecure-accept-unsigned"
)


def build_app(
    *,
    store: Store,
    verifier: WebhookVerifier | None,
    webhook_path: str,
    admin_token: str | None,
    insecure_accept_unsigned: bool = False,
    extra_routes: Sequence[BaseRoute] = (),
    on_accepted: Callable[[], None] | None = None,
    phone_state: PhoneStateProvider | None = None,
    on_webhook: WebhookObserver | None = None,
    dashboard: DashboardSources | None = None,
    media_url: Callable[[str], str | None] | None = None,
) -> Starlette:
    """The opsync web app around an open ``store``.

    ``verifier`` checks every webhook delivery; with no verifier, or one without keys, the app
    refuses to be built (:class:`~opsync.errors.ConfigError` naming ``WEBHOOK_SECRET``)
    unless ``insecure_accept_unsigned`` is set, in which case unsigned deliveries are accepted
    and a warning is logged. When keys are configured they are always checked, whatever the
    flag. ``on_accepted`` is called (synchronously, after the commit) each time a new handled
    event is stored, to wake the dispatcher. ``on_webhook`` hears of every answered delivery
    (its event type and outcome; for metrics). ``phone_state`` serves ``/phone/{id}/state``.
    ``admin_token`` ``None`` or empty turns the admin routes off (404). A replay through the
    dead-letter API calls ``on_accepted`` too. ``dashboard`` feeds ``GET /`` (without it, the
    dashboard shows what ``store`` holds). ``media_url`` (a blob key → its signed link) links
    recordings in the contact timelines (``/api/contacts/…``, ``/api/canvas/…``).
    """
    if verifier is None or not verifier.has_keys:
        if not insecure_accept_unsigned:
            raise ConfigError("WEBHOOK_SECRET", UNSIGNED_REFUSAL)
        log.warning(
            "accepting UNSIGNED webhooks: anyone who can reach the webhook path can enqueue events",
            extra={"action": "insecure_accept_unsigned"},
        )
        verifier = None
    path = webhook_path if webhook_path.startswith("/") else "/" + webhook_path
    auth = AdminAuth(admin_token)
    routes: list[BaseRoute] = [
        Route(
            path,
            WebhookIngest(store, verifier, on_accepted=on_accepted, on_received=on_webhook).handle,
            methods=["POST"],
            name="webhook",
        ),
        Route("/health", HealthEndpoint(store).handle, methods=["GET"], name="health"),
        Route(
            "/phone/{phone_number_id}/state",
            PhoneStateEndpoint(phone_state).handle,
            methods=["GET"],
            name="phone_state",
        ),
        *dlq_routes(store, on_replayed=on_accepted),
        *timeline_routes(store, media_url),
        Route("/openapi.json", _openapi(path), methods=["GET"], name="openapi"),
        *dashboard_routes(dashboard or DashboardSources(store, phone_state=phone_state)),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    # A redirect from "/metrics/" to "/metrics" would tell that an admin route exists.
    app.router.redirect_slashes = False
    app.add_middleware(AdminGate, auth=auth, router=app.router)
    app.add_middleware(InternalErrors)  # added last: the outermost of ours
    return app


class InternalErrors:
    """ASGI middleware: an unhandled exception is logged (with its traceback) and answered
    ``500 {"error": "internal_error"}`` — never its text, which may hold a secret.

    Starlette's own last resort answers plain text and re-raises, so that the server logs the
    error a second time; here it is logged once. When the response had already started, there
    is nothing left to answer: the exception goes on to the server, which drops the
    connection."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, tracking)
        except Exception:
            log.exception(
                "unhandled error",
                extra={"action": "internal_error", "path": scope.get("path", "")},
            )
            if started:
                raise
            await _internal_error_response()(scope, receive, send)


def _openapi(webhook_path: str) -> Callable[[Request], Awaitable[Response]]:
    document = openapi_document(webhook_path)

    async def endpoint(request: Request) -> Response:
        return JSONResponse(document)

    return endpoint


def _internal_error_response() -> Response:
    return JSONResponse({"error": "internal_error"}, status_code=500)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Starlette's last resort (an error in our middleware itself): JSON, no text."""
    return _internal_error_response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return JSONResponse(
        {"error": error, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )
