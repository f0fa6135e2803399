"""Who may call every route of the app exactly as ``opsync serve`` builds it (``open_service``
against both simulators): the table below must name every route in ``app.routes``, so a route
added later fails here until someone decides who may call it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
from starlette.routing import Route

from opsync.clock import SystemClock
from opsync.config import Settings, load_settings
from opsync.openphone.signatures import standard_headers
from opsync.sandbox._server import serve
from opsync.sandbox.notion import NotionSimulator, NotionState, seed_databases
from opsync.sandbox.openphone import OpenPhoneSimulator, SimulatorConfig, generate_workspace
from opsync.service import Service, open_service
from opsync.web.admin import NOT_FOUND_BODY
from tests.support.dead_letters import dead_letter
from tests.support.sandbox_env import API_KEY, sandbox_environ
from tests.web.support import JSON_TYPE, STANDARD_KEY, call, new_envelope

TOKEN = "routes-admin-token-5f1e2d3c4b5a69788796"
MEDIA_KEY_SECRET = "routes-media-signing-key-0123456789abcdef"
MEDIA_KEY = "recordings/2026/04/01/ACroutes-1775001600000.mp3"
AUDIO = b"ID3" + bytes(range(200))
PHONE = "PNroutes"
CONTACT = "+14155550123"
CANVAS_PAGE = "0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
Access = Literal["open", "signed", "admin", "login"]
"""``login``: open while an admin token is configured, 404 while admin is off."""


@dataclass
class Built:
    service: Service
    settings: Settings
    http: httpx.AsyncClient
    dead: list[int]


Path_ = Callable[["Built"], Awaitable[str]]


def _get(path: str) -> Path_:
    async def fixed(built: Built) -> str:
        return path

    return fixed


async def _webhook_path(built: Built) -> str:
    return built.settings.webhook_path


async def _dead_letter_shown(built: Built) -> str:
    return f"/api/dlq/{built.dead[0]}"


async def _fresh_dead_letter(built: Built) -> str:
    """A dead letter of its own: replay-all may have replayed the others already."""
    inbox_id = await dead_letter(built.service.store, f"EV{time.monotonic_ns()}", partition=None)
    return f"/api/dlq/{inbox_id}/replay"


async def _contact_timeline(built: Built) -> str:
    """A contact with one message in the store (a contact never seen answers 404)."""
    message = {
        "id": "ACroutes-message", "from": CONTACT, "to": ["+15550100"], "text": "hello",
        "phoneNumberId": PHONE, "direction": "incoming", "status": "received",
        "createdAt": "2026-04-01T00:00:00Z",
    }  # fmt: skip
    await built.service.store.snapshot_put("message", "ACroutes-message", {"message": message})
    return f"/api/contacts/{CONTACT}/timeline"


async def _canvas_timeline(built: Built) -> str:
    """A Canvas page the lookup found (nothing links to it yet: an empty timeline)."""
    await built.service.store.canvas_cache_put("phone", CONTACT, CANVAS_PAGE, "Routes")
    return f"/api/canvas/{CANVAS_PAGE}/timeline"


async def _webhook(built: Built, headers: dict[str, str]) -> httpx.Response:
    body = new_envelope("call.completed", call(), event_id=f"EV{time.monotonic_ns()}")
    signed = standard_headers(STANDARD_KEY, f"msg_{time.monotonic_ns()}", int(time.time()), body)
    path = await TABLE["webhook"].path(built)
    return await built.http.post(path, content=body, headers={**JSON_TYPE, **signed, **headers})


@dataclass(frozen=True)
class Entry:
    """Who may call a route, and a request that succeeds for whoever may."""

    access: Access
    method: str
    path: Path_
    ok: int = 200


TABLE: dict[str, Entry] = {
    "webhook": Entry("open", "POST", _webhook_path, ok=202),
    "health": Entry("open", "GET", _get("/health")),
    "phone_state": Entry("admin", "GET", _get(f"/phone/{PHONE}/state")),
    "metrics": Entry("admin", "GET", _get("/metrics")),
    "media": Entry("signed", "GET", _get(f"/media/{MEDIA_KEY}")),
    "dlq_list": Entry("admin", "GET", _get("/api/dlq")),
    "dlq_show": Entry("admin", "GET", _dead_letter_shown),
    "dlq_replay": Entry("admin", "POST", _fresh_dead_letter),
    "dlq_replay_all": Entry("admin", "POST", _get("/api/dlq/replay-all")),
    "dlq_purge": Entry("admin", "POST", _get("/api/dlq/purge?older_than=7d")),
    "openapi": Entry("admin", "GET", _get("/openapi.json")),
    "contact_timeline": Entry("admin", "GET", _contact_timeline),
    "canvas_timeline": Entry("admin", "GET", _canvas_timeline),
    "dashboard": Entry("admin", "GET", _get("/")),
    "dashboard_data": Entry("admin", "GET", _get("/api/dashboard")),
    "login": Entry("login", "GET", _get("/login")),
    "logout": Entry("login", "POST", _get("/logout"), ok=303),
    "dashboard_static": Entry("login", "GET", _get("/static/dashboard.js")),
}


@asynccontextmanager
async def _build(tmp_path: Path, token: str | None) -> AsyncIterator[Built]:
    clock = SystemClock()
    workspace = generate_workspace(seed=3, now=clock.now())
    op_sim = OpenPhoneSimulator(workspace, SimulatorConfig(api_key=API_KEY, rate_limit=1_000))
    notion_sim = NotionSimulator(NotionState(clock, seed=5), rate_limit=None)
    seeded = seed_databases(notion_sim.state)
    async with serve(op_sim.app) as op_url, serve(notion_sim.app) as notion_url:
        environ = sandbox_environ(
            openphone_url=op_url,
            notion_url=notion_url,
            seeded=seeded,
            data_dir=tmp_path,
            webhook_keys=[STANDARD_KEY],
            OPSYNC_MEDIA_SIGNING_KEY=MEDIA_KEY_SECRET,
        )
        if token:
            environ["OPSYNC_ADMIN_TOKEN"] = token
        settings = load_settings(environ, env_file=None)
        async with open_service(settings) as service:
            assert service.app is not None
            store = service.store
            await store.upsert_phone_number(PHONE, "+15550100", name="Routes")
            dead = [await dead_letter(store, "EVdead", partition="PN0")]
            await service.blobs.put_stream(MEDIA_KEY, _one(AUDIO), "audio/mpeg")
            transport = httpx.ASGITransport(app=service.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://opsync.test") as h:
                yield Built(service, settings, h, dead)


@pytest.fixture
async def without_token(tmp_path: Path) -> AsyncIterator[Built]:
    async with _build(tmp_path, None) as built:
        yield built


@pytest.fixture
async def with_token(tmp_path: Path) -> AsyncIterator[Built]:
    async with _build(tmp_path, TOKEN) as built:
        yield built


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _routes(built: Built) -> list[Route]:
    assert built.service.app is not None
    routes = built.service.app.routes
    assert all(isinstance(route, Route) for route in routes), "extend this test for mounts"
    return [route for route in routes if isinstance(route, Route)]


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_the_table_names_every_route(tmp_path: Path, token: str | None) -> None:
    async with _build(tmp_path, token) as built:
        assert {route.name for route in _routes(built)} == set(TABLE)


async def _send(built: Built, name: str, method: str, headers: dict[str, str]) -> httpx.Response:
    if name == "webhook" and method == "POST":
        return await _webhook(built, headers)
    return await built.http.request(method, await TABLE[name].path(built), headers=headers)


def _methods(route: Route) -> list[str]:
    """Every method of the route, and one it does not allow (a 405 must not leak either)."""
    return [*sorted(route.methods or ()), "DELETE"]


async def test_every_route_when_no_admin_token_is_configured(without_token: Built) -> None:
    built = without_token
    unknown = await built.http.get("/no/such/route")
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND_BODY)
    for route in _routes(built):
        entry = TABLE[route.name]
        if entry.access == "open":  # ("login" routes are off, like admin ones, below)
            response = await _send(built, route.name, entry.method, {})
            assert response.status_code == entry.ok, (route.name, response.text)
            continue
        for method in _methods(route):
            for headers in ({}, {"authorization": "Bearer "}, {"authorization": f"Bearer {TOKEN}"}):
                response = await _send(built, route.name, method, headers)
                assert response.status_code == 404, (route.name, method, headers)
                if method != "HEAD":
                    assert response.json() == NOT_FOUND_BODY, (route.name, method)
                assert "www-authenticate" not in response.headers
    slash = await built.http.get("/metrics/")
    assert (slash.status_code, slash.json()) == (404, NOT_FOUND_BODY)  # no redirect either
    signed = built.service.blobs.public_url(MEDIA_KEY)
    assert signed is not None
    assert (await built.http.get(signed)).content == AUDIO  # a valid link needs no token


async def test_every_route_with_an_admin_token(with_token: Built) -> None:
    built = with_token
    bearer = {"authorization": f"Bearer {TOKEN}"}
    wrong = [
        {},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
        {"authorization": f"Bearer {API_KEY}"},
    ]
    for route in _routes(built):
        entry = TABLE[route.name]
        if entry.access in ("open", "login"):
            for headers in [*wrong, bearer]:
                response = await _send(built, route.name, entry.method, headers)
                assert response.status_code == entry.ok, (route.name, headers, response.text)
            continue
        for method in _methods(route):
            for headers in wrong:
                response = await _send(built, route.name, method, headers)
                assert response.status_code == 401, (route.name, method, headers)
                assert response.headers["www-authenticate"] == "Bearer"
                assert TOKEN not in response.text
        response = await _send(built, route.name, entry.method, bearer)
        assert response.status_code == entry.ok, (route.name, response.text)
    signed = built.service.blobs.public_url(MEDIA_KEY)
    assert signed is not None
    assert (await built.http.get(signed)).content == AUDIO  # a valid link needs no token


async def test_health_reveals_no_secret_and_no_configuration(with_token: Built) -> None:
    built = with_token
    response = await built.http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "inbox", "depth"}
    assert body["status"] == "healthy"
    assert all(isinstance(count, int) for count in body["inbox"].values())
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    configured = [
        value
        for value in _setting_values(built.settings)
        if len(value) >= 4 and value not in {"true", "false", "None"}
    ]
    assert configured, "the settings must have values to look for"
    leaked = [value for value in configured if value in text]
    assert leaked == []


def _setting_values(settings: Settings) -> list[str]:
    """Every configured value as text, secrets revealed, and each part of a list or URL."""
    values: list[str] = []
    for value in settings.model_dump().values():
        if value is None:
            continue
        reveal = getattr(value, "get_secret_value", None)
        text = str(reveal() if reveal is not None else value)
        values.append(text)
        values.extend(part for part in text.replace("/", ",").split(",") if len(part) >= 8)
    return values
