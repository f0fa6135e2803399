"""The admin gate's rules for routes the service does not have today: unnamed routes and
websockets are admin routes too (deny by default)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message
from starlette.websockets import WebSocket

from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from tests.web.support import ADMIN_TOKEN

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


@pytest.mark.parametrize(("token", "refused"), [(None, 404), (ADMIN_TOKEN, 401)])
async def test_an_unnamed_route_is_an_admin_route(
    store: Store, verifier: WebhookVerifier, token: str | None, refused: int
) -> None:
    app = build_app(
        store=store,
        verifier=verifier,
        webhook_path="/w",
        admin_token=token,
        extra_routes=[Route("/anonymous", hello)],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/anonymous")).status_code == refused
        allowed = await http.get("/anonymous", headers=BEARER)
    assert allowed.status_code == (200 if token else 404)


async def _connect(app: ASGIApp, headers: dict[str, str]) -> list[Message]:
    """Open ``/ws`` the way a server would; the messages the app sent, until it closed."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "subprotocols": [],
    }
    incoming = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(2):
        await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("token", [None, ADMIN_TOKEN])
async def test_a_websocket_needs_the_admin_token(
    store: Store, verifier: WebhookVerifier, token: str | None
) -> None:
    app = build_app(
        store=store,
        verifier=verifier,
        webhook_path="/w",
        admin_token=token,
        extra_routes=[WebSocketRoute("/ws", echo, name="ws")],
    )
    for headers in ({}, {"authorization": "Bearer wrong"}):
        assert await _connect(app, headers) == [
            {"type": "websocket.close", "code": 1008, "reason": ""}
        ]
    admitted = await _connect(app, BEARER)
    if token is None:
        assert admitted == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    else:
        assert [m["type"] for m in admitted] == [
            "websocket.accept",
            "websocket.send",
            "websocket.close",
        ]
