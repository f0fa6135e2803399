"""The client: authentication, pacing, retries, requests, webhooks and downloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.errors import (
    NotFound,
    RateLimited,
    UpstreamUnavailable,
)
from opsync.pacing import OPENPHONE_LIMIT, TokenBucket
from tests.openphone.conftest import API_KEY, POLICY, ClientFactory, expected_delays
from tests.openphone.support import CALL, MESSAGE, Script, SpyPacer, error, ok, raises


async def test_sends_the_raw_api_key_and_parses_the_call(make_client: ClientFactory) -> None:
    script = Script(ok(CALL))
    call = await make_client(script).get_call("AC123abc")

    (request,) = script.requests
    assert request.headers["authorization"] == API_KEY
    assert "bearer" not in request.headers["authorization"].lower()
    assert str(request.url) == "https://api.openphone.com/v1/calls/AC123abc"
    assert call.id == "AC123abc"
    assert call.duration == 60


async def test_base_url_is_configurable_and_ids_are_path_escaped(
    make_client: ClientFactory,
) -> None:
    script = Script(ok(CALL))
    client = make_client(script, base_url="http://127.0.0.1:8123/v1/")
    await client.get_call("AC/../x")

    assert str(script.requests[0].url) == "http://127.0.0.1:8123/v1/calls/AC%2F..%2Fx"


async def test_429_with_retry_after_pauses_the_pacer_and_retries(
    make_client: ClientFactory, pacer: SpyPacer, clock: FakeClock
) -> None:
    script = Script(error(429, headers={"Retry-After": "2"}), ok(CALL))
    call = await make_client(script).get_call("AC123abc")

    assert call.id == "AC123abc"
    assert len(script.requests) == 2
    assert pacer.paused == [2.0]
    assert pacer.acquired == 2
    assert clock.slept == []  # the wait is the pacer's, not a second sleep


async def test_429_pause_delays_the_next_request_through_a_token_bucket(
    make_client: ClientFactory, clock: FakeClock
) -> None:
    script = Script(error(429, headers={"Retry-After": "2"}), ok(CALL))
    bucket = TokenBucket(OPENPHONE_LIMIT, clock)
    await make_client(script, use_pacer=bucket).get_call("AC123abc")

    assert clock.slept[0] == pytest.approx(2.0)
    assert clock.monotonic() >= 2.0


async def test_429_without_retry_after_pauses_by_the_backoff_delay(
    make_client: ClientFactory, pacer: SpyPacer
) -> None:
    script = Script(error(429), error(429), ok(CALL))
    await make_client(script).get_call("AC123abc")

    assert pacer.paused == pytest.approx(expected_delays(2))


async def test_5xx_then_success_backs_off_with_jitter(
    make_client: ClientFactory, clock: FakeClock, pacer: SpyPacer
) -> None:
    script = Script(error(500), error(502), error(503), ok(CALL))
    call = await make_client(script).get_call("AC123abc")

    assert call.id == "AC123abc"
    assert clock.slept == pytest.approx(expected_delays(3))
    assert pacer.acquired == 4
    assert pacer.paused == []


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError, httpx.ReadError]
)
async def test_timeouts_and_connection_errors_are_retried(
    make_client: ClientFactory, clock: FakeClock, failure: type[httpx.RequestError]
) -> None:
    script = Script(raises(failure), ok(CALL))
    call = await make_client(script).get_call("AC123abc")

    assert call.id == "AC123abc"
    assert clock.slept == pytest.approx(expected_delays(1))


async def test_exhausted_429s_raise_rate_limited_with_retry_after(
    make_client: ClientFactory, pacer: SpyPacer
) -> None:
    script = Script(*[error(429, headers={"Retry-After": "1.5"}) for _ in range(4)])
    with pytest.raises(RateLimited) as caught:
        await make_client(script).get_call("AC123abc")

    assert caught.value.retry_after == 1.5
    assert len(script.requests) == POLICY.max_attempts
    assert pacer.paused == [1.5] * 4


async def test_exhausted_5xx_raise_upstream_unavailable(
    make_client: ClientFactory, clock: FakeClock
) -> None:
    script = Script(*[error(504) for _ in range(4)])
    with pytest.raises(UpstreamUnavailable, match="504"):
        await make_client(script).get_call("AC123abc")

    assert len(script.requests) == 4
    assert clock.slept == pytest.approx(expected_delays(3))


async def test_exhausted_timeouts_raise_upstream_unavailable(make_client: ClientFactory) -> None:
    script = Script(*[raises(httpx.ReadTimeout) for _ in range(4)])
    with pytest.raises(UpstreamUnavailable, match="timed out") as caught:
        await make_client(script).get_call("AC123abc")

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_retry_after_beyond_the_cap_is_raised_at_once(
    make_client: ClientFactory, pacer: SpyPacer
) -> None:
    script = Script(error(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        await make_client(script).get_call("AC123abc")

    assert caught.value.retry_after == 3600
    assert pacer.paused == [3600.0]
    assert len(script.requests) == 1


async def test_recordings_and_phone_numbers_are_plain_lists(make_client: ClientFactory) -> None:
    recording = {
        "id": "CRwRVK2qBq",
        "duration": None,
        "startTime": None,
        "status": "processing",
        "type": None,
        "url": None,
    }
    script = Script(ok([recording]), ok([]))
    client = make_client(script)

    recordings = await client.get_call_recordings("AC1")
    assert [r.status for r in recordings] == ["processing"]
    assert await client.list_phone_numbers(user_id="US1") == []
    assert script.requests[1].url.params["userId"] == "US1"


async def test_participants_are_repeated_keys_with_plus_encoded(
    make_client: ClientFactory,
) -> None:
    script = Script(ok([MESSAGE], totalItems=1, nextPageToken=None))
    after = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    messages = make_client(script).list_messages(
        "PN1", ["+15555550100", "+15555550101"], created_after=after, page_size=20
    )
    assert [m.id async for m in messages] == ["AC9message"]

    query = script.requests[0].url.query.decode()
    assert "participants=%2B15555550100&participants=%2B15555550101" in query
    assert "+" not in query
    params = script.requests[0].url.params
    assert params["createdAfter"] == "2024-01-02T01:04:05.000Z"
    assert params["maxResults"] == "20"
    assert "createdBefore" not in params


async def test_list_calls_sends_exactly_one_participant(make_client: ClientFactory) -> None:
    script = Script(ok([CALL], totalItems=1, nextPageToken=None))
    before = datetime(2024, 5, 1, tzinfo=UTC)
    calls = make_client(script).list_calls("PN1", "+15555555555", created_before=before)
    assert [c.id async for c in calls] == ["AC123abc"]

    params = script.requests[0].url.params
    assert params.get_list("participants") == ["+15555555555"]
    assert params["phoneNumberId"] == "PN1"
    assert params["createdBefore"] == "2024-05-01T00:00:00.000Z"
    assert params["maxResults"] == "100"


def test_bad_arguments_fail_before_any_request(make_client: ClientFactory) -> None:
    client = make_client(Script())
    with pytest.raises(ValueError, match="timezone-aware"):
        client.list_calls("PN1", "+1555", created_after=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="between 1 and 50"):
        client.list_users(page_size=51)
    with pytest.raises(ValueError, match="participants"):
        client.list_messages("PN1", [])


async def test_create_webhook_posts_json_and_is_not_retried_after_a_5xx(
    make_client: ClientFactory,
) -> None:
    script = Script(error(500))
    with pytest.raises(UpstreamUnavailable):
        await make_client(script).create_webhook(
            "messages", "https://example.com/hook", ["message.received"], ["*"], label="sync"
        )

    (request,) = script.requests
    assert request.method == "POST"
    assert request.url.path == "/v1/webhooks/messages"
    assert json.loads(request.content) == {
        "url": "https://example.com/hook",
        "events": ["message.received"],
        "resourceIds": ["*"],
        "label": "sync",
    }


async def test_create_webhook_retries_when_the_request_was_not_processed(
    make_client: ClientFactory,
) -> None:
    webhook = {
        "id": "WHabcd1234",
        "userId": "US1",
        "orgId": "OR1",
        "label": None,
        "status": "enabled",
        "url": "https://example.com/hook",
        "key": "c2VjcmV0",
        "events": ["call.completed"],
        "resourceIds": ["*"],
        "createdAt": "2022-01-01T00:00:00Z",
        "updatedAt": "2022-01-01T00:00:00Z",
        "deletedAt": None,
    }
    script = Script(error(429), raises(httpx.ConnectError), ok(webhook, status=201))
    created = await make_client(script).create_webhook(
        "calls", "https://example.com/hook", ["call.completed"]
    )

    assert created.id == "WHabcd1234"
    assert created.key.get_secret_value() == "c2VjcmV0"
    assert len(script.requests) == 3


async def test_delete_webhook_accepts_204(make_client: ClientFactory) -> None:
    script = Script(httpx.Response(204))
    await make_client(script).delete_webhook("WH1")
    assert (script.requests[0].method, script.requests[0].url.path) == (
        "DELETE",
        "/v1/webhooks/WH1",
    )


async def test_download_from_storage_sends_no_key_and_is_not_paced(
    make_client: ClientFactory, pacer: SpyPacer
) -> None:
    audio = bytes(range(256)) * 1000
    script = Script(error(503), httpx.Response(200, content=audio))
    client = make_client(script)

    data = await client.download("https://examplestorage.com/a643d4.mp3")

    assert data == audio
    assert all("authorization" not in r.headers for r in script.requests)
    assert pacer.acquired == 0
    assert len(script.requests) == 2


async def test_download_from_the_api_host_is_authorised_and_streams(
    make_client: ClientFactory, pacer: SpyPacer
) -> None:
    script = Script(httpx.Response(200, content=b"a" * 10))
    chunks = [
        c
        async for c in make_client(script).iter_download(
            "https://api.openphone.com/v1/files/x.mp3", chunk_size=4
        )
    ]

    assert chunks == [b"aaaa", b"aaaa", b"aa"]
    assert script.requests[0].headers["authorization"] == API_KEY
    assert pacer.acquired == 1


async def test_download_not_found_is_mapped(make_client: ClientFactory) -> None:
    with pytest.raises(NotFound):
        await make_client(Script(error(404, b"gone"))).download("https://cdn.example/x")


def test_repr_hides_the_api_key(make_client: ClientFactory) -> None:
    assert API_KEY not in repr(make_client(Script()))
