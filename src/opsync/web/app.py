"""The ASGI application: routes, error rendering, and the refusal to run without a signing key.

:func:`build_app` takes ready collaborators (an open store, a verifier built from the
configured keys); opening and closing them — the lifespan — is the caller's, so that tests and
``opsync serve`` wire the same app around their own store.

Routes::

    POST {webhook_path}        the webhook (opsync.web.ingest)
    GET  /health               store reachable? inbox counts per state (opsync.web.health)
    GET  /phone/{id}/state     an actor's state, admin token (opsync.web.health, .admin)
    ...  extra_routes          added by the caller (metrics, admin API, dashboard)

Every error the app itself produces (404, 405, ...) is JSON: ``{"error": ..., "detail": ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from opsync.errors import ConfigError
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web.admin import AdminAuth
from opsync.web.health import HealthEndpoint, PhoneStateEndpoint, PhoneStateProvider
from opsync.web.ingest import WebhookIngest, WebhookObserver

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
) -> Starlette:
    """The opsync web app around an open ``store``.

    ``verifier`` checks every webhook delivery; with no verifier, or one without keys, the app
    refuses to be built (:class:`~opsync.errors.ConfigError` naming ``WEBHOOK_SECRET``)
    unless ``insecure_accept_unsigned`` is set, in which case unsigned deliveries are accepted
    and a warning is logged. When keys are configured they are always checked, whatever the
    flag. ``on_accepted`` is called (synchronously, after the commit) each time a new handled
    event is stored, to wake the dispatcher. ``on_webhook`` hears of every answered delivery
    (its event type and outcome; for metrics). ``phone_state`` serves ``/phone/{id}/state``.
    ``admin_token`` ``None`` or empty disables the admin routes (403).
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
            auth.protect(PhoneStateEndpoint(phone_state).handle),
            methods=["GET"],
            name="phone_state",
        ),
        *extra_routes,
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return JSONResponse(
        {"error": error, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )
