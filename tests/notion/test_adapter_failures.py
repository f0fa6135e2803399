"""Pacing, retries and the outcome-unknown rule, through the real SDK on a mock transport."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from notion_client import AsyncClient

from opsync.errors import (
    AuthError,
    InvalidPayload,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
    UpstreamUnavailable,
)
from opsync.notion import NotionAdapter, OutcomeUnknown
from opsync.pacing import NOTION_LIMIT, TokenBucket
from tests.notion.conftest import DS_ID, PAGE_ID, TOKEN, Harness, error, page

DS_PATH = f"data_sources/{DS_ID}"
SCHEMA = {"object": "data_source", "id": DS_ID, "properties": {"Name": {"type": "title"}}}
PROPS = {"Name": {"title": [{"text": {"content": "Call AC1"}}]}}


async def test_calls_are_paced_at_three_per_second_after_the_burst(harness: Harness) -> None:
    harness.notion.on("GET", DS_PATH, httpx.Response(200, json=SCHEMA))
    for _ in range(12):
        await harness.adapter.retrieve_data_source(DS_ID)
    assert len(harness.notion.requests) == 12
    assert harness.clock.monotonic() == pytest.approx((12 - NOTION_LIMIT.burst) / 3)


async def test_one_bucket_paces_every_adapter_and_task_together(harness: Harness) -> None:
    harness.notion.on("GET", DS_PATH, httpx.Response(200, json=SCHEMA))
    http = httpx.AsyncClient(transport=httpx.MockTransport(harness.notion.handler))
    other = NotionAdapter(
        AsyncClient(client=http, auth=TOKEN, retry=False),
        pacer=harness.bucket,
        clock=harness.clock,
    )
    try:
        async with asyncio.timeout(2):
            await asyncio.gather(
                *(a.retrieve_data_source(DS_ID) for a in [harness.adapter, other] * 6)
            )
    finally:
        await http.aclose()
    assert len(harness.notion.requests) == 12
    assert harness.clock.monotonic() == pytest.approx((12 - NOTION_LIMIT.burst) / 3)


@pytest.mark.parametrize(
    "limited",
    [
        error(429, "rate_limited", "slow down", **{"Retry-After": "7"}),
        error(529, "service_overload", "overloaded", **{"Retry-After": "7"}),
    ],
    ids=["429", "529"],
)
async def test_retry_after_pauses_the_shared_bucket_then_retries(
    harness: Harness, limited: httpx.Response
) -> None:
    harness.notion.on("GET", DS_PATH, limited, httpx.Response(200, json=SCHEMA))
    schema = await harness.adapter.retrieve_data_source(DS_ID)
    assert schema.title_property == "Name"
    assert len(harness.notion.requests) == 2
    paused_at = harness.clock.monotonic()
    assert 7.0 <= paused_at <= 7.0 + 1 / 3 + 1e-9
    # The pause left no saved-up burst: the next caller waits its turn.
    assert await harness.bucket.acquire() == pytest.approx(1 / 3)


async def test_a_429_without_retry_after_still_pauses_by_backoff(harness: Harness) -> None:
    harness.notion.on("GET", DS_PATH, error(429, "rate_limited"), httpx.Response(200, json=SCHEMA))
    await harness.adapter.retrieve_data_source(DS_ID)
    assert harness.clock.monotonic() >= 0.25  # RetryPolicy(base=0.5): first delay in [0.25, 0.5]


async def test_rate_limit_that_persists_gives_up_as_rate_limited(harness: Harness) -> None:
    harness.notion.on("GET", DS_PATH, error(429, "rate_limited", **{"Retry-After": "2"}))
    with pytest.raises(RateLimited) as caught:
        await harness.adapter.retrieve_data_source(DS_ID)
    assert caught.value.retry_after == 2.0
    assert len(harness.notion.requests) == 4  # RetryPolicy(max_attempts=4)


@pytest.mark.parametrize(
    "failure",
    [
        error(500, "internal_server_error"),
        error(503, "service_unavailable"),
        error(504, "gateway_timeout"),
        error(409, "conflict_error"),
        httpx.Response(502, text="<html>502 Bad Gateway</html>"),
        error(503, "database_connection_unavailable"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed"),
    ],
    ids=["500", "503", "504", "409", "502-html", "503-db", "connect", "timeout", "protocol"],
)
async def test_reads_retry_transient_failures(
    harness: Harness, failure: httpx.Response | Exception
) -> None:
    harness.notion.on("GET", DS_PATH, failure, httpx.Response(200, json=SCHEMA))
    await harness.adapter.retrieve_data_source(DS_ID)
    assert len(harness.notion.requests) == 2
    assert sum(harness.clock.slept) > 0


async def test_a_read_that_never_connects_ends_upstream_unavailable(harness: Harness) -> None:
    harness.notion.on("GET", DS_PATH, httpx.ConnectError("connection refused"))
    with pytest.raises(UpstreamUnavailable) as caught:
        await harness.adapter.retrieve_data_source(DS_ID)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(harness.notion.requests) == 4


@pytest.mark.parametrize(
    "failure",
    [
        error(504, "gateway_timeout"),
        error(500, "internal_server_error"),
        error(503, "service_unavailable"),
        httpx.Response(502, text="bad gateway"),
        httpx.ReadTimeout("no answer"),
        httpx.ReadError("connection reset"),
        httpx.Response(200, text="not json"),
    ],
    ids=["504", "500", "503", "502", "read-timeout", "read-error", "2xx-garbage"],
)
async def test_create_with_unknown_outcome_is_not_repeated(
    harness: Harness, failure: httpx.Response | Exception
) -> None:
    harness.notion.on("POST", "pages", failure, page())
    with pytest.raises(OutcomeUnknown) as caught:
        await harness.adapter.create_page(DS_ID, PROPS)
    assert isinstance(caught.value, TransientError)
    assert caught.value.__cause__ is not None
    assert len(harness.notion.calls("POST", "pages")) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        error(429, "rate_limited", **{"Retry-After": "1"}),
        error(529, "service_overload", **{"Retry-After": "1"}),
        error(409, "conflict_error"),
        httpx.ConnectError("refused before sending"),
        httpx.ConnectTimeout("no connection"),
    ],
    ids=["429", "529", "409", "connect", "connect-timeout"],
)
async def test_create_that_notion_did_not_perform_is_retried(
    harness: Harness, refusal: httpx.Response | Exception
) -> None:
    harness.notion.on("POST", "pages", refusal, page())
    assert await harness.adapter.create_page(DS_ID, PROPS) == PAGE_ID
    assert len(harness.notion.calls("POST", "pages")) == 2


async def test_idempotent_update_is_retried_after_a_5xx(harness: Harness) -> None:
    path = f"pages/{PAGE_ID}"
    harness.notion.on("PATCH", path, error(504, "gateway_timeout"), page())
    await harness.adapter.update_page(PAGE_ID, PROPS)
    assert len(harness.notion.calls("PATCH", path)) == 2


async def test_validation_error_is_invalid_payload_naming_the_field(harness: Harness) -> None:
    message = (
        "body failed validation: body.properties.Name.title[0].text.content.length "
        "should be ≤ 2000, instead was 2001."
    )
    harness.notion.on("POST", "pages", error(400, "validation_error", message))
    with pytest.raises(InvalidPayload) as caught:
        await harness.adapter.create_page(DS_ID, PROPS)
    assert "body.properties.Name.title[0].text.content.length" in str(caught.value)
    assert "validation_error" in str(caught.value)
    assert len(harness.notion.requests) == 1


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (error(401, "unauthorized", "API token is invalid."), AuthError, "401"),
        (error(403, "restricted_resource"), AuthError, "restricted_resource"),
        (error(404, "object_not_found"), NotFound, "not shared with the integration"),
        (error(400, "missing_version"), InvalidPayload, "missing_version"),
        (error(400, "invalid_grant"), AuthError, "invalid_grant"),
        (httpx.Response(418, text="teapot"), InvalidPayload, "418"),
        (httpx.Response(404, text="gone"), NotFound, "not shared"),
    ],
)
async def test_permanent_failures_are_raised_at_once(
    harness: Harness, reply: httpx.Response, kind: type[PermanentError], words: str
) -> None:
    harness.notion.on("GET", DS_PATH, reply)
    with pytest.raises(kind) as caught:
        await harness.adapter.retrieve_data_source(DS_ID)
    assert words in str(caught.value)
    assert caught.value.__cause__ is not None
    assert len(harness.notion.requests) == 1


async def test_the_token_never_reaches_an_error_message(harness: Harness) -> None:
    def echo_auth(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        return error(400, "validation_error", f"bad header {header} for {TOKEN}")

    harness.notion.on("GET", DS_PATH, echo_auth)
    with pytest.raises(InvalidPayload) as caught:
        await harness.adapter.retrieve_data_source(DS_ID)
    assert TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_adapter_refuses_an_sdk_client_that_retries_by_itself() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: page()))
    try:
        with pytest.raises(ValueError, match="retry=False"):
            NotionAdapter(AsyncClient(client=http, auth=TOKEN), pacer=TokenBucket(NOTION_LIMIT))
    finally:
        await http.aclose()


async def test_from_token_leaves_an_injected_http_client_open() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: page()))
    adapter = NotionAdapter.from_token(TOKEN, pacer=TokenBucket(NOTION_LIMIT), http=http)
    await adapter.update_page(PAGE_ID, PROPS)
    await adapter.aclose()
    assert not http.is_closed
    await http.aclose()
