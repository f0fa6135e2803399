"""How the S3 store maps answers it cannot use, with httpx.MockTransport as the endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from opsync.blobs import S3BlobStore
from opsync.blobs._sigv4 import Credentials
from opsync.blobs.s3 import MIN_PART_SIZE
from opsync.clock import FakeClock
from opsync.errors import AuthError, PermanentError, RateLimited, UpstreamUnavailable

KEY = "voicemails/2026/03/10/ACvm9-1773100800000.wav"
CREDS = Credentials("AKID", "secret")


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>"
    return httpx.Response(status, content=body.encode(), headers=headers)


def _store(
    handler: Callable[[httpx.Request], httpx.Response], endpoint: str | None = "http://s3.test"
) -> tuple[S3BlobStore, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    store = S3BlobStore(
        "bkt",
        credentials=CREDS,
        endpoint_url=endpoint,
        http=http,
        part_size=MIN_PART_SIZE,
        clock=FakeClock(start=1_369_353_600.0),
    )
    return store, http


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (_error(503, "SlowDown", {"retry-after": "3"}), RateLimited),
        (_error(429, "TooManyRequests"), RateLimited),
        (_error(500, "InternalError"), UpstreamUnavailable),
        (_error(403, "AccessDenied"), AuthError),
        (_error(400, "InvalidArgument"), PermanentError),
        (httpx.Response(502, content=b"<html>bad gateway</html>"), UpstreamUnavailable),
    ],
)
async def test_status_mapping(response: httpx.Response, error: type[Exception]) -> None:
    store, http = _store(lambda request: response)
    async with http:
        with pytest.raises(error) as caught:
            await store.put_stream(KEY, _chunks(b"abc"), "audio/wav")
    if isinstance(caught.value, RateLimited) and response.status_code == 503:
        assert caught.value.retry_after == 3.0


async def test_signed_request_shape_for_aws() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"etag": '"x"'})

    store, http = _store(handler, endpoint=None)
    async with http:
        await store.put_stream(KEY, _chunks(b"abc"), "audio/wav")
    (request,) = seen
    assert str(request.url) == f"https://bkt.s3.us-east-1.amazonaws.com/{KEY}"
    assert request.headers["x-amz-date"] == "20130524T000000Z"
    assert request.headers["content-type"] == "audio/wav"
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request")
    assert "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date" in auth


async def test_complete_with_error_body_fails_and_aborts() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        calls.append(f"{request.method} {query}")
        if request.method == "POST" and query == "uploads=":
            return httpx.Response(
                200,
                content=b"<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                b"</InitiateMultipartUploadResult>",
            )
        if request.method == "PUT":
            return httpx.Response(200, headers={"etag": '"p"'})
        if request.method == "POST":
            return httpx.Response(200, content=b"<Error><Code>InternalError</Code></Error>")
        return httpx.Response(204)

    store, http = _store(handler, endpoint="http://s3.test/base/")
    async with http:
        with pytest.raises(UpstreamUnavailable):
            await store.put_stream(KEY, _chunks(b"a" * (MIN_PART_SIZE + 1)), "audio/wav")
    assert calls == [
        "POST uploads=",
        "PUT partNumber=1&uploadId=u1",
        "PUT partNumber=2&uploadId=u1",
        "POST uploadId=u1",
        "DELETE uploadId=u1",
    ]


async def test_failed_abort_keeps_the_original_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, content=b"<R><UploadId>u1</UploadId></R>")
        if request.method == "PUT":
            return httpx.Response(200, headers={"etag": '"p"'})
        return _error(500, "InternalError")

    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * MIN_PART_SIZE
        raise KeyError("source broke")

    store, http = _store(handler)
    async with http:
        with pytest.raises(KeyError, match="source broke"):
            await store.put_stream(KEY, failing(), "audio/wav")
