"""Who may see the dashboard: the bearer token, or the login form's session cookie (HttpOnly,
SameSite=Strict, an HMAC rather than the token), with a CSRF defence on state changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from opsync.web.admin import (
    CSRF_HEADER,
    CSRF_VALUE,
    NOT_FOUND_BODY,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminAuth,
)
from opsync.web.dashboard import CONTENT_SECURITY_POLICY
from tests.support.dead_letters import dead_letter
from tests.web.support import ADMIN_TOKEN, WEBHOOK_PATH

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}
CSRF = {CSRF_HEADER: CSRF_VALUE}
HTML = {"accept": "text/html,application/xhtml+xml"}


async def _login(client: httpx.AsyncClient, token: str = ADMIN_TOKEN) -> httpx.Response:
    return await client.post("/login", data={"token": token})


def _session(response: httpx.Response) -> str:
    return response.cookies[SESSION_COOKIE]


async def test_the_page_and_its_data_take_the_bearer_token(client: httpx.AsyncClient) -> None:
    page = await client.get("/", headers=BEARER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert '<script src="/static/dashboard.js"' in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    data = await client.get("/api/dashboard", headers=BEARER)
    assert data.status_code == 200
    assert data.headers["cache-control"] == "no-store"
    assert set(data.json()) >= {"totals", "inbox", "events_by_type", "dead_letters"}


async def test_a_browser_without_credentials_is_sent_to_the_login_form(
    client: httpx.AsyncClient,
) -> None:
    redirected = await client.get("/", headers=HTML)
    assert (redirected.status_code, redirected.headers["location"]) == (303, "/login")
    api = await client.get("/", headers={"accept": "application/json"})
    assert api.status_code == 401  # not a browser: the API's answer
    assert api.headers["www-authenticate"] == "Bearer"
    data = await client.get("/api/dashboard", headers=HTML)
    assert data.status_code == 401  # only the page redirects
    form = await client.get("/login")
    assert form.status_code == 200
    assert 'name="token" type="password"' in form.text
    assert form.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_login_sets_an_httponly_strict_cookie_that_is_not_the_token(
    client: httpx.AsyncClient,
) -> None:
    wrong = await _login(client, ADMIN_TOKEN + "x")
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in wrong.cookies
    assert ADMIN_TOKEN not in wrong.text
    assert "not the admin token" in wrong.text
    response = await _login(client)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    header = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in header.lower()
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    value = _session(response)
    assert ADMIN_TOKEN not in value
    assert value.startswith("v1.")
    client.cookies.set(SESSION_COOKIE, value)
    assert (await client.get("/")).status_code == 200
    data = await client.get("/api/dashboard")
    assert data.status_code == 200
    assert "totals" in data.json()


async def test_login_over_https_sets_a_secure_cookie(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://opsync.test") as http:
        response = await _login(http)
    assert response.status_code == 303
    attributes = {p.strip().lower() for p in response.headers["set-cookie"].split(";")}
    assert "secure" in attributes


async def test_a_login_posted_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/login", data={"token": ADMIN_TOKEN}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies
    same = await client.post(
        "/login", data={"token": ADMIN_TOKEN}, headers={"origin": "http://opsync.test"}
    )
    assert same.status_code == 303


async def test_the_cookie_opens_only_the_browser_routes(
    client: httpx.AsyncClient, store: Store
) -> None:
    client.cookies.set(SESSION_COOKIE, _session(await _login(client)))
    assert (await client.get("/metrics")).status_code == 404  # not mounted in this app
    assert (await client.get("/api/dlq")).status_code == 401
    assert (await client.post("/api/dlq/replay-all", headers=CSRF)).status_code == 401
    assert (await client.post("/api/dlq/purge?older_than=1d", headers=CSRF)).status_code == 401
    dead = await dead_letter(store, "EVdash")
    assert (await client.get(f"/api/dlq/{dead}")).status_code == 401
    # A wrong bearer token is not rescued by the cookie.
    wrong = await client.get("/api/dashboard", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_a_replay_through_the_cookie_needs_the_csrf_header(
    client: httpx.AsyncClient, store: Store
) -> None:
    client.cookies.set(SESSION_COOKIE, _session(await _login(client)))
    dead = await dead_letter(store, "EVcsrf")
    bare = await client.post(f"/api/dlq/{dead}/replay")
    assert bare.status_code == 403
    assert "X-Requested-With" in bare.json()["detail"]
    foreign = await client.post(
        f"/api/dlq/{dead}/replay", headers={**CSRF, "origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    event = await store.inbox_get(dead)
    assert event is not None
    assert event.state == "dead"
    replayed = await client.post(
        f"/api/dlq/{dead}/replay", headers={**CSRF, "origin": "http://opsync.test"}
    )
    assert replayed.status_code == 200
    event = await store.inbox_get(dead)
    assert event is not None
    assert event.state == "pending"


async def test_forged_and_foreign_cookies_are_refused(client: httpx.AsyncClient) -> None:
    value = _session(await _login(client))
    version, expiry, mac = value.split(".")
    later = str(int(expiry) + 3600)
    other = AdminAuth("another-token", clock=FakeClock())
    for forged in (
        f"{version}.{later}.{mac}",  # a longer life, same MAC
        f"{version}.{expiry}.{mac[:-1]}0" if mac[-1] != "0" else f"{version}.{expiry}.{mac[:-1]}1",
        other.new_session(),
        ADMIN_TOKEN,
        "",
    ):
        client.cookies.set(SESSION_COOKIE, forged)
        assert (await client.get("/api/dashboard")).status_code == 401, forged


def _connection(cookie: str) -> HTTPConnection:
    return HTTPConnection(
        {"type": "http", "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]}
    )


def test_a_session_expires_and_dies_with_the_token() -> None:
    clock = FakeClock()
    auth = AdminAuth(ADMIN_TOKEN, clock=clock)
    value = auth.new_session()
    assert auth.session_valid(_connection(value))
    clock.advance(SESSION_SECONDS - 1)
    assert auth.session_valid(_connection(value))
    clock.advance(1)
    assert not auth.session_valid(_connection(value))
    rotated = AdminAuth(ADMIN_TOKEN + "-rotated", clock=FakeClock())
    assert not rotated.session_valid(_connection(AdminAuth(ADMIN_TOKEN).new_session()))
    assert not AdminAuth(None).session_valid(_connection(value))


async def test_logout_clears_the_cookie(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, _session(await _login(client)))
    response = await client.post("/logout")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert "max-age=0" in response.headers["set-cookie"].lower()


async def test_static_files_are_the_packaged_ones(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/dashboard.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/api/dashboard" in script.text
    style = await client.get("/static/dashboard.css")
    assert style.headers["content-type"].startswith("text/css")
    assert "@import" not in style.text
    assert "url(" not in style.text
    for missing in ("/static/nope.js", "/static/dashboard.html", "/static/..%2fadmin.py"):
        response = await client.get(missing)
        assert (response.status_code, response.json()) == (404, NOT_FOUND_BODY), missing


@pytest.fixture
async def admin_off(store: Store, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(
        store=store,
        verifier=WebhookVerifier([], clock=clock),
        webhook_path=WEBHOOK_PATH,
        admin_token=None,
        insecure_accept_unsigned=True,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsync.test") as http:
        yield http


async def test_with_admin_off_the_dashboard_and_its_login_do_not_exist(
    admin_off: httpx.AsyncClient, tmp_path: Path
) -> None:
    for method, path in (
        ("GET", "/"),
        ("GET", "/api/dashboard"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/static/dashboard.js"),
    ):
        response = await admin_off.request(method, path, headers=HTML)
        assert (response.status_code, response.json()) == (404, NOT_FOUND_BODY), path
