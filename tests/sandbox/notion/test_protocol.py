"""Headers, pacing, injected faults, counters and the state dump."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import notion_client.client
import pytest
from notion_client import APIResponseError, AsyncClient, RetryOptions, UnknownHTTPResponseError

from opsync.clock import FakeClock
from opsync.pacing import RateLimit
from opsync.sandbox._server import serve
from opsync.sandbox.notion import FaultConfig, NotionSimulator, NotionState, SeededDatabases
from tests.sandbox.notion.conftest import HEADERS, SDK_LOGGER, TOKEN, ds_parent, sdk_for, text


async def test_missing_version_header(raw: httpx.AsyncClient) -> None:
    response = await raw.get("/v1/users/me", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 400
    body = response.json()
    assert body["object"] == "error"
    assert body["code"] == "missing_version"
    assert body["status"] == 400
    assert body["request_id"]


async def test_bad_token(simulator: NotionSimulator) -> None:
    simulator.api_key = "secret_right"
    client = sdk_for(simulator)
    try:
        with pytest.raises(APIResponseError) as err:
            await client.users.me()
    finally:
        await client.aclose()
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    assert str(err.value) == "API token is invalid."


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Basic secret_x"])
async def test_missing_token(raw: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {"Notion-Version": "2025-09-03"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await raw.get("/v1/users/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_invalid_json_url_and_payload_size(raw: httpx.AsyncClient) -> None:
    bad_json = await raw.post("/v1/pages", content=b"{nope", headers=HEADERS)
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "invalid_json")
    unknown = await raw.get("/v1/nothing/here", headers=HEADERS)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_request_url")
    huge = json.dumps({"properties": {"x": "a" * 500_001}})
    too_big = await raw.post("/v1/pages", content=huge, headers=HEADERS)
    assert (too_big.status_code, too_big.json()["code"]) == (400, "validation_error")
    assert "500 KB" in too_big.json()["message"]


async def test_users_me_reports_the_upload_limit(notion: AsyncClient) -> None:
    me = await notion.users.me()
    assert me["type"] == "bot"
    assert me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"] == 5 * 1024 * 1024


def paced(clock: FakeClock, burst: int = 2) -> NotionSimulator:
    return NotionSimulator(
        NotionState(clock), clock=clock, rate_limit=RateLimit(rate=3.0, burst=burst)
    )


async def test_rate_limit_answers_429_with_retry_after(clock: FakeClock) -> None:
    simulator = paced(clock)
    client = sdk_for(simulator)
    try:
        await client.users.me()
        await client.users.me()
        with pytest.raises(APIResponseError) as err:
            await client.users.me()
        assert (err.value.status, err.value.code) == (429, "rate_limited")
        assert err.value.headers["retry-after"] == "1"
        assert err.value.additional_data == {"rate_limit_reason": "public_api_request_rate_limit"}
        other = sdk_for(simulator, auth="secret_other")  # buckets are per token
        await other.users.me()
        await other.aclose()
        clock.advance(1.0)
        await client.users.me()
    finally:
        await client.aclose()
    assert simulator.counter.count("GET /v1/users/me", 429) == 1
    assert simulator.counter.count("GET /v1/users/me", 200) == 4


async def test_sdk_retries_honour_retry_after_over_real_http(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = paced(clock, burst=1)

    async def fake_sleep(seconds: float) -> None:
        await clock.sleep(seconds)

    monkeypatch.setattr(notion_client.client, "asyncio", SimpleNamespace(sleep=fake_sleep))
    async with serve(simulator.app) as base_url:
        client = AsyncClient(
            auth=TOKEN, base_url=base_url, logger=SDK_LOGGER, retry=RetryOptions(max_retries=2)
        )
        try:
            await client.users.me()
            me = await client.users.me()  # 429 (Retry-After: 1), then the retry succeeds
        finally:
            await client.aclose()
    assert me["object"] == "user"
    assert clock.slept == [1.0]
    assert simulator.counter.to_json()["GET /v1/users/me"] == {"200": 2, "429": 1}


@pytest.mark.parametrize(
    ("setting", "status", "error_type", "code"),
    [
        ({"rate_limited": 1.0}, 429, APIResponseError, "rate_limited"),
        ({"internal_error": 1.0}, 500, APIResponseError, "internal_server_error"),
        ({"bad_gateway": 1.0}, 502, UnknownHTTPResponseError, "notionhq_client_response_error"),
        ({"bad_gateway": 1.0, "bad_gateway_json": True}, 502, UnknownHTTPResponseError,
         "notionhq_client_response_error"),
        ({"service_unavailable": 1.0}, 503, APIResponseError, "service_unavailable"),
        ({"gateway_timeout": 1.0}, 504, APIResponseError, "gateway_timeout"),
    ],
)  # fmt: skip
async def test_injected_faults_surface_as_the_sdk_describes(
    simulator: NotionSimulator,
    notion: AsyncClient,
    setting: dict[str, Any],
    status: int,
    error_type: type[Exception],
    code: str,
) -> None:
    simulator.set_faults(FaultConfig(**setting))
    with pytest.raises(error_type) as err:
        await notion.users.me()
    assert isinstance(err.value, APIResponseError | UnknownHTTPResponseError)
    assert err.value.status == status
    assert err.value.code == code
    if status == 502 and not setting.get("bad_gateway_json"):
        assert err.value.body.startswith("<html>")
    if status == 502 and setting.get("bad_gateway_json"):
        assert json.loads(err.value.body)["code"] == "bad_gateway"


@pytest.mark.parametrize(("write_applied", "pages_written"), [(1.0, 1), (0.0, 0)])
async def test_faults_on_writes_before_or_after_applying(
    simulator: NotionSimulator,
    notion: AsyncClient,
    seeded: SeededDatabases,
    write_applied: float,
    pages_written: int,
) -> None:
    simulator.set_faults(FaultConfig(gateway_timeout=1.0, write_applied=write_applied))
    with pytest.raises(APIResponseError) as err:
        await notion.pages.create(
            parent=ds_parent(seeded.calls_data_source_id),
            properties={"Call ID": {"title": text("AC1")}},
        )
    assert err.value.status == 504
    simulator.set_faults(FaultConfig())
    found = await notion.data_sources.query(
        seeded.calls_data_source_id, filter={"property": "Call ID", "title": {"equals": "AC1"}}
    )
    assert len(found["results"]) == pages_written


def test_fault_draws_are_seeded() -> None:
    from opsync.sandbox.notion.faults import FaultInjector

    config = FaultConfig(internal_error=0.3, gateway_timeout=0.3, seed=42)
    injectors = [FaultInjector(config), FaultInjector(config)]
    runs = [[injector.draw(True) for _ in range(50)] for injector in injectors]
    assert runs[0] == runs[1]
    statuses = {f.status for f in runs[0] if f is not None}
    assert statuses == {500, 504}
    assert None in runs[0]
    with pytest.raises(ValueError, match="sum"):
        FaultConfig(internal_error=0.6, bad_gateway=0.6)


async def test_slow_responses_wait_on_the_clock(
    simulator: NotionSimulator, notion: AsyncClient, clock: FakeClock
) -> None:
    simulator.set_faults(FaultConfig(slow=1.0, slow_seconds=7.0))
    await notion.users.me()
    assert clock.slept == [7.0]


async def test_counters_and_state_dump(
    simulator: NotionSimulator, notion: AsyncClient, seeded: SeededDatabases, raw: httpx.AsyncClient
) -> None:
    page = await notion.pages.create(
        parent=ds_parent(seeded.canvas_data_source_id), properties={"Name": {"title": text("J")}}
    )
    with pytest.raises(APIResponseError):
        await notion.pages.create(
            parent=ds_parent(seeded.canvas_data_source_id), properties={"X": {}}
        )
    await notion.pages.retrieve(page["id"])

    response = await raw.get("/__sandbox/state")
    dump = response.json()
    assert dump == json.loads(json.dumps(simulator.dump()))
    assert dump["requests"] == {
        "GET /v1/pages/{page_id}": {"200": 1},
        "POST /v1/pages": {"200": 1, "400": 1},
    }
    assert page["id"] in {p["id"] for p in dump["state"]["pages"]}
    assert len(dump["state"]["databases"]) == 3
    assert {d["id"] for d in dump["state"]["data_sources"]} == {
        seeded.calls_data_source_id,
        seeded.messages_data_source_id,
        seeded.canvas_data_source_id,
    }
    assert dump["faults"]["gateway_timeout"] == 0.0


async def test_faults_can_be_set_over_http(
    simulator: NotionSimulator, raw: httpx.AsyncClient
) -> None:
    response = await raw.put("/__sandbox/faults", json={"service_unavailable": 1.0})
    assert response.json()["service_unavailable"] == 1.0
    failing = await raw.get("/v1/users/me", headers=HEADERS)
    assert failing.status_code == 503
    bad = await raw.put("/__sandbox/faults", json={"nonsense": 1})
    assert bad.status_code == 400
