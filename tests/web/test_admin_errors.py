"""Error answers never carry a secret or a stack trace: an unhandled exception in any route is a
JSON 500 ``{"error": "internal_error"}``, and the traceback goes to the log only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from tests.web.support import ADMIN_TOKEN

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "sk_live_do-not-echo-me-0123456789"


class Boom(RuntimeError):
    pass


async def raising(request: Request) -> Response:
    raise Boom(f"cannot reach postgresql://opsync:{SECRET}@db/opsync")


async def raising_mid_body(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise Boom(SECRET)

    return StreamingResponse(body())


def _client(store: Store, verifier: WebhookVerifier) -> httpx.AsyncClient:
    app = build_app(
        store=store,
        verifier=verifier,
        webhook_path="/w",
        admin_token=ADMIN_TOKEN,
        extra_routes=[
            Route("/boom", raising, methods=["GET", "POST"], name="boom"),
            Route("/boom-late", raising_mid_body, methods=["GET"], name="boom_late"),
        ],
    )
    # raise_app_exceptions=False: answer as a server would, whatever reaches it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_an_unhandled_exception_is_a_json_500_without_its_text(
    store: Store, verifier: WebhookVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="opsync.web.app"):
        async with _client(store, verifier) as http:
            response = await http.get("/boom", headers=BEARER)
            posted = await http.post("/boom", headers=BEARER, content=b"{}")
    for answer in (response, posted):
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"error": "internal_error"}
        assert SECRET not in answer.text
        assert "Traceback" not in answer.text
        assert "Boom" not in answer.text
    [first, second] = [r for r in caplog.records if getattr(r, "action", "") == "internal_error"]
    assert first.exc_info is not None
    assert isinstance(first.exc_info[1], Boom)
    assert getattr(first, "path", None) == "/boom"
    assert second.exc_info is not None


async def test_a_failure_after_the_response_started_sends_no_second_response(
    store: Store, verifier: WebhookVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="opsync.web.app"):
        async with _client(store, verifier) as http:
            response = await http.get("/boom-late", headers=BEARER)
    assert response.status_code == 200  # already sent; the server then drops the connection
    assert SECRET not in response.text
    assert [r.exc_info is not None for r in caplog.records if r.name == "opsync.web.app"] == [True]


async def test_a_store_error_in_an_admin_route_does_not_leak_the_driver_message(
    tmp_path: Path, clock: FakeClock, verifier: WebhookVerifier
) -> None:
    bare = await Store.open(f"sqlite:///{tmp_path}/bare.db", migrate=False, clock=clock)
    try:
        app = build_app(store=bare, verifier=verifier, webhook_path="/w", admin_token=ADMIN_TOKEN)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/api/dlq", headers=BEARER)
    finally:
        await bare.close()
    assert (response.status_code, response.json()) == (500, {"error": "internal_error"})
    assert "no such table" not in response.text
    assert "bare.db" not in response.text
