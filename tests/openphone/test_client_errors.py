"""How the client maps OpenPhone failures to opsync errors."""

from __future__ import annotations

import httpx
import pytest

from opsync.errors import (
    AuthError,
    InvalidPayload,
    NotFound,
    PermanentError,
    UpstreamUnavailable,
)
from opsync.openphone import OpenPhoneAuthError, OpenPhoneNotFound, OpenPhoneRequestError
from tests.openphone.conftest import API_KEY, ClientFactory
from tests.openphone.support import CALL, Script, error, ok


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_raise_auth_error_without_retry(
    make_client: ClientFactory, status: int
) -> None:
    body = {"message": f"Invalid key {API_KEY}", "code": "0100401", "status": status}
    script = Script(error(status, body))
    with pytest.raises(AuthError) as caught:
        await make_client(script).get_call("AC123abc")

    assert isinstance(caught.value, OpenPhoneAuthError)
    assert caught.value.status == status
    assert API_KEY not in str(caught.value)
    assert len(script.requests) == 1


async def test_404_raises_not_found_with_code_and_trace(make_client: ClientFactory) -> None:
    body = {
        "message": "Call not found",
        "code": "0100404",
        "status": 404,
        "docs": "https://openphone.com/docs",
        "title": "Not Found",
        "trace": "1234567890",
    }
    with pytest.raises(NotFound) as caught:
        await make_client(Script(error(404, body))).get_call("AC404")

    assert isinstance(caught.value, OpenPhoneNotFound)
    assert caught.value.code == "0100404"
    assert caught.value.trace == "1234567890"
    message = str(caught.value)
    assert "GET /calls/AC404" in message
    assert "Call not found" in message


async def test_400_is_permanent_with_code_title_and_field_details(
    make_client: ClientFactory,
) -> None:
    body = {
        "message": "Too many participants",
        "code": "0101400",
        "status": 400,
        "docs": "https://openphone.com/docs",
        "title": "Too Many Participants",
        "trace": "abc",
        "errors": [
            {"path": "/query/participants", "message": "must have at most 1 item", "value": []}
        ],
    }
    script = Script(error(400, body))
    with pytest.raises(PermanentError) as caught:
        await make_client(script).get_call("AC1")

    exc = caught.value
    assert isinstance(exc, OpenPhoneRequestError)
    assert isinstance(exc, InvalidPayload)
    assert (exc.status, exc.code, exc.trace) == (400, "0101400", "abc")
    assert exc.problem.title == "Too Many Participants"
    assert "/query/participants: must have at most 1 item" in str(exc)
    assert len(script.requests) == 1


async def test_wrapped_error_body_is_understood(make_client: ClientFactory) -> None:
    body = {"error": {"message": "Bad key", "key": "Unauthorized", "trace": "t-1"}}
    with pytest.raises(OpenPhoneAuthError) as caught:
        await make_client(Script(error(401, body))).get_call("AC1")

    assert caught.value.problem.title == "Unauthorized"
    assert caught.value.trace == "t-1"
    assert "Bad key" in str(caught.value)


async def test_non_json_error_body_is_quoted_briefly(make_client: ClientFactory) -> None:
    html = b"<html><body>\n  Bad   Request  </body></html>" + b"x" * 1000
    with pytest.raises(OpenPhoneRequestError) as caught:
        await make_client(Script(error(422, html))).get_call("AC1")

    message = str(caught.value)
    assert "422" in message
    assert "<html><body> Bad Request </body></html>" in message
    assert len(message) < 400


async def test_bad_json_in_a_200_is_invalid_payload_and_not_retried(
    make_client: ClientFactory,
) -> None:
    script = Script(httpx.Response(200, content=b"{not json"))
    with pytest.raises(InvalidPayload, match="not JSON"):
        await make_client(script).get_call("AC1")

    assert len(script.requests) == 1


async def test_missing_data_field_is_invalid_payload(make_client: ClientFactory) -> None:
    with pytest.raises(InvalidPayload, match="'data'"):
        await make_client(Script(httpx.Response(200, json={"call": CALL}))).get_call("AC1")


async def test_model_mismatch_names_the_field(make_client: ClientFactory) -> None:
    script = Script(ok({**CALL, "duration": "abc"}))
    with pytest.raises(InvalidPayload, match=r"data\.duration"):
        await make_client(script).get_call("AC1")


async def test_list_item_mismatch_names_the_index(make_client: ClientFactory) -> None:
    bad = {**CALL, "createdAt": "yesterday"}
    script = Script(ok([CALL, bad], totalItems=2, nextPageToken=None))
    calls = make_client(script).list_calls("PN1", "+15555555555")

    first = await anext(calls)
    assert first.id == "AC123abc"
    with pytest.raises(InvalidPayload, match=r"data\.1\.createdAt"):
        await anext(calls)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get_call_summary", "/v1/call-summaries/AC1"),
        ("get_call_transcript", "/v1/call-transcripts/AC1"),
        ("get_call_voicemail", "/v1/call-voicemails/AC1"),
    ],
)
async def test_artifacts_not_ready_404_returns_none(
    make_client: ClientFactory, method: str, path: str
) -> None:
    script = Script(error(404))
    assert await getattr(make_client(script), method)("AC1") is None
    assert script.requests[0].url.path == path


async def test_artifacts_return_a_status_object_as_is(make_client: ClientFactory) -> None:
    pending = {"callId": "AC1", "status": "in-progress", "summary": None, "nextSteps": None}
    summary = await make_client(Script(ok(pending))).get_call_summary("AC1")

    assert summary is not None
    assert (summary.status, summary.summary, summary.jobs) == ("in-progress", None, None)


async def test_other_gets_still_raise_not_found(make_client: ClientFactory) -> None:
    with pytest.raises(NotFound):
        await make_client(Script(error(404))).get_message("AC1")


async def test_invalid_utf8_in_a_200_is_invalid_payload(make_client: ClientFactory) -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        await make_client(Script(httpx.Response(200, content=b"\xff\xfe{"))).get_call("AC1")


async def test_an_api_key_echoed_by_a_transport_error_is_scrubbed(
    make_client: ClientFactory,
) -> None:
    def leak(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(f"peer said {API_KEY}", request=request)

    with pytest.raises(UpstreamUnavailable) as caught:
        await make_client(Script(*[leak] * 4)).get_call("AC1")

    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value)
