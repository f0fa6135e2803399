"""The S3 store against moto's S3 server (real HTTP, real S3 protocol), checked with boto3."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from opsync.blobs import BlobStore, MediaSigner, S3BlobStore, media_routes
from opsync.blobs._sigv4 import Credentials
from opsync.blobs.s3 import MIN_PART_SIZE
from opsync.errors import NotFound, UpstreamUnavailable

from .conftest import ACCESS_KEY, BUCKET, REGION, SECRET_KEY

KEY = "recordings/2026/03/09/AC123-1773100799123.mp3"
MIB = 1024 * 1024
CREDS = Credentials(ACCESS_KEY, SECRET_KEY)


class Boom(Exception):
    pass


@pytest.fixture
async def sent() -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """An HTTP client that records ``METHOD path?query`` of every request."""
    log: list[str] = []

    async def record(request: httpx.Request) -> None:
        log.append(f"{request.method} {request.url.raw_path.decode()}")

    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [record]}) as http:
        yield http, log


@pytest.fixture
def store(s3_endpoint: str, boto_s3: Any, sent: tuple[httpx.AsyncClient, list[str]]) -> S3BlobStore:
    return S3BlobStore(
        BUCKET,
        prefix="media/",
        credentials=CREDS,
        endpoint_url=s3_endpoint,
        region=REGION,
        http=sent[0],
        part_size=MIN_PART_SIZE,
    )


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in await store.open_stream(key, start=start, end=end)])


async def test_small_object_round_trip(store: S3BlobStore, boto_s3: Any) -> None:
    assert isinstance(store, BlobStore)
    info = await store.put_stream(KEY, _chunks(b"hello ", b"world"), "audio/mpeg")
    assert (info.size, info.sha256) == (11, hashlib.sha256(b"hello world").hexdigest())
    assert await store.exists(KEY)
    stat = await store.stat(KEY)
    assert stat is not None
    assert (stat.size, stat.content_type) == (11, "audio/mpeg")
    assert await _read(store, KEY) == b"hello world"
    assert await _read(store, KEY, 6, 9) == b"worl"
    head = boto_s3.head_object(Bucket=BUCKET, Key=f"media/{KEY}")
    assert head["ContentType"] == "audio/mpeg"
    assert "-" not in head["ETag"]  # one PUT, not a multipart upload

    await store.delete(KEY)
    await store.delete(KEY)
    assert not await store.exists(KEY)
    with pytest.raises(NotFound):
        await store.open_stream(KEY)


async def test_multipart_upload_over_part_size(
    store: S3BlobStore, boto_s3: Any, sent: tuple[httpx.AsyncClient, list[str]]
) -> None:
    expected = hashlib.sha256()
    chunks = [bytes([i]) * MIB for i in range(12)]
    produced = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal produced
        for chunk in chunks:
            # Parts go out while chunks are still coming: at most one part is buffered.
            uploaded = sum(1 for line in sent[1] if "partNumber=" in line)
            assert uploaded == produced * MIB // MIN_PART_SIZE
            expected.update(chunk)
            produced += 1
            yield chunk

    info = await store.put_stream(KEY, source(), "audio/wav")
    assert info.size == 12 * MIB
    assert info.sha256 == expected.hexdigest()
    head = boto_s3.head_object(Bucket=BUCKET, Key=f"media/{KEY}")
    assert head["ContentLength"] == 12 * MIB
    assert head["ContentType"] == "audio/wav"
    assert head["ETag"].endswith('-3"')  # 5 + 5 + 2 MiB
    body = boto_s3.get_object(Bucket=BUCKET, Key=f"media/{KEY}")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == info.sha256

    streamed = hashlib.sha256()
    async for chunk in await store.open_stream(KEY):
        streamed.update(chunk)
    assert streamed.hexdigest() == info.sha256


async def test_failure_mid_stream_aborts_the_upload(
    store: S3BlobStore, boto_s3: Any, sent: tuple[httpx.AsyncClient, list[str]]
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"\x01" * MIB
        raise Boom

    with pytest.raises(Boom):
        await store.put_stream(KEY, failing(), "audio/mpeg")
    requests = sent[1]
    assert any(line.startswith("POST ") and "?uploads=" in line for line in requests)
    assert any(line.startswith("PUT ") and "partNumber=1" in line for line in requests)
    assert requests[-1].startswith("DELETE ")
    assert "uploadId=" in requests[-1]
    assert not await store.exists(KEY)
    assert boto_s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


async def test_failure_before_a_part_sends_nothing(
    store: S3BlobStore, sent: tuple[httpx.AsyncClient, list[str]]
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"small"
        raise Boom

    with pytest.raises(Boom):
        await store.put_stream(KEY, failing(), "audio/mpeg")
    assert sent[1] == []
    assert not await store.exists(KEY)


async def test_unreachable_endpoint_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(trust_env=False) as http:
        store = S3BlobStore(
            BUCKET, credentials=CREDS, endpoint_url=f"http://127.0.0.1:{port}", http=http
        )
        with pytest.raises(UpstreamUnavailable):
            await store.exists(KEY)
        with pytest.raises(UpstreamUnavailable):
            await store.put_stream(KEY, _chunks(b"x"), "audio/mpeg")


def test_public_urls() -> None:
    signer = MediaSigner(b"k" * 32)
    public = S3BlobStore(
        "b", prefix="/p/", credentials=CREDS, public_url_base="https://pub.r2.dev/"
    )
    assert public.public_url(KEY) == f"https://pub.r2.dev/p/{KEY}"
    proxied = S3BlobStore(
        "b", credentials=CREDS, media_base_url="https://sync.example.com", signer=signer
    )
    assert proxied.public_url(KEY) == f"https://sync.example.com/media/{KEY}?sig=" + (
        signer.signature(KEY)
    )
    assert S3BlobStore("b", credentials=CREDS).public_url(KEY) is None


def test_part_size_below_s3_minimum_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3BlobStore("b", credentials=CREDS, part_size=MIB)


async def test_unstarted_stream_can_be_closed(store: S3BlobStore) -> None:
    await store.put_stream(KEY, _chunks(b"abc"), "audio/mpeg")
    stream = await store.open_stream(KEY)
    await stream.aclose()  # type: ignore[attr-defined]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    assert await _read(store, KEY, 1) == b"bc"


async def test_opsync_proxies_a_private_bucket(store: S3BlobStore) -> None:
    signer = MediaSigner(b"p" * 32)
    body = bytes(range(256)) * 4
    await store.put_stream(KEY, _chunks(body), "audio/mpeg")
    app = Starlette(routes=media_routes(store, signer))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        link = signer.url("http://opsync.test", KEY)
        full = await client.get(link)
        part = await client.get(link, headers={"Range": "bytes=1000-"})
        forged = await client.get(f"http://opsync.test/media/{KEY}?sig=forged")
    assert (full.status_code, full.content) == (200, body)
    assert full.headers["content-type"] == "audio/mpeg"
    assert (part.status_code, part.content) == (206, body[1000:])
    assert forged.status_code == 404  # no valid signature, and no admin gate: admin is off
