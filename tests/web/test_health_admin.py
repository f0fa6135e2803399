"""``/health``, the admin token, ``/phone/{id}/state`` and the refusal to run unsigned."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.errors import ConfigError
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from tests.web.conftest import PhoneStates
from tests.web.support import (
    ADMIN_TOKEN,
    JSON_TYPE,
    WEBHOOK_PATH,
    call,
    inbox_rows,
    legacy_envelope,
    legacy_signed,
)

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_health_counts_the_inbox_per_state(client: httpx.AsyncClient) -> None:
    empty = await client.get("/health")
    assert empty.status_code == 200
    assert empty.json() == {
        "status": "healthy",
        "inbox": {"pending": 0, "in_flight": 0, "done": 0, "dead": 0, "ignored": 0},
        "depth": 0,
    }
    for index, event_type in enumerate(["call.completed", "call.ringing", "contact.updated"]):
        body = legacy_envelope(event_type, call(), event_id=f"EV{index}")
        await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    counted = (await client.get("/health")).json()
    assert counted["inbox"] == {"pending": 2, "in_flight": 0, "done": 0, "dead": 0, "ignored": 1}
    assert counted["depth"] == 2


async def test_health_is_503_when_the_store_is_down(
    clock: FakeClock, verifier: WebhookVerifier
) -> None:
    down = await Store.open("postgresql://opsync@127.0.0.1:1/opsync", migrate=False, clock=clock)
    try:
        app = build_app(store=down, verifier=verifier, webhook_path="/w", admin_token=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/health")
    finally:
        await down.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "reason": "store unavailable"}


async def test_health_is_503_when_the_schema_is_missing(
    tmp_path: Path, clock: FakeClock, verifier: WebhookVerifier
) -> None:
    bare = await Store.open(f"sqlite:///{tmp_path}/bare.db", migrate=False, clock=clock)
    try:
        app = build_app(store=bare, verifier=verifier, webhook_path="/w", admin_token=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/health")
    finally:
        await bare.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "reason": "store error"}


async def test_phone_state_with_the_admin_token(
    client: httpx.AsyncClient, phone_states: PhoneStates
) -> None:
    phone_states.states["PNa"] = {"id": "PNa", "total_calls_synced": 3}
    found = await client.get("/phone/PNa/state", headers=BEARER)
    assert (found.status_code, found.json()) == (200, {"id": "PNa", "total_calls_synced": 3})
    lower = await client.get("/phone/PNa/state", headers={"authorization": f"bearer {ADMIN_TOKEN}"})
    assert lower.status_code == 200
    missing = await client.get("/phone/PNnone/state", headers=BEARER)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ADMIN_TOKEN},
        {"authorization": f"Basic {ADMIN_TOKEN}"},
        {"authorization": "Bearer "},
        {"authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    ],
)
async def test_phone_state_refuses_a_missing_or_wrong_token(
    client: httpx.AsyncClient, phone_states: PhoneStates, headers: dict[str, str]
) -> None:
    phone_states.states["PNa"] = {"id": "PNa"}
    response = await client.get("/phone/PNa/state", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert ADMIN_TOKEN not in response.text


@pytest.mark.parametrize("token", [None, ""])
async def test_admin_routes_are_disabled_without_a_token(
    store: Store, verifier: WebhookVerifier, token: str | None
) -> None:
    app = build_app(store=store, verifier=verifier, webhook_path="/w", admin_token=token)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/phone/PNa/state", headers={"authorization": "Bearer "})
        unknown = await http.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == unknown.json() == {"error": "not_found", "detail": "Not Found"}


async def test_phone_state_without_a_provider_is_404(
    store: Store, verifier: WebhookVerifier
) -> None:
    app = build_app(store=store, verifier=verifier, webhook_path="/w", admin_token=ADMIN_TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/phone/PNa/state", headers=BEARER)
    assert response.status_code == 404


@pytest.mark.parametrize("keys", [None, []])
def test_building_without_keys_is_refused(store: Store, keys: list[str] | None) -> None:
    verifier = None if keys is None else WebhookVerifier(keys)
    with pytest.raises(ConfigError) as refused:
        build_app(store=store, verifier=verifier, webhook_path="/w", admin_token=None)
    assert refused.value.variable == "WEBHOOK_SECRET"
    assert "--insecure-accept-unsigned" in str(refused.value)


async def test_insecure_mode_accepts_unsigned_deliveries(store: Store) -> None:
    app = build_app(
        store=store,
        verifier=None,
        webhook_path=WEBHOOK_PATH,
        admin_token=None,
        insecure_accept_unsigned=True,
    )
    body = legacy_envelope("call.completed", call())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(WEBHOOK_PATH, content=body, headers=JSON_TYPE)
    assert response.status_code == 202
    assert len(await inbox_rows(store)) == 1


async def test_insecure_flag_does_not_disable_configured_keys(
    store: Store, verifier: WebhookVerifier
) -> None:
    app = build_app(
        store=store,
        verifier=verifier,
        webhook_path=WEBHOOK_PATH,
        admin_token=None,
        insecure_accept_unsigned=True,
    )
    body = legacy_envelope("call.completed", call())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(WEBHOOK_PATH, content=body, headers=JSON_TYPE)
    assert response.status_code == 401
    assert await inbox_rows(store) == []
