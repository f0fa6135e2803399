from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from starlette.applications import Starlette

from opsync.blobs import LocalBlobStore, MediaSigner, media_routes
from opsync.blobs.media_app import RangeNotSatisfiable, parse_range
from opsync.clock import FakeClock
from opsync.web.admin import NOT_FOUND_BODY, AdminAuth, AdminGate

KEY = "voicemails/2026/03/10/ACvm9-1773100800000.wav"
TOKEN = "media-admin-token-0123456789"
BODY = bytes(range(256)) * 40  # 10,240 bytes


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Setup(NamedTuple):
    client: httpx.AsyncClient
    store: LocalBlobStore
    clock: FakeClock


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    clock = FakeClock(start=1_000.0)
    signer = MediaSigner(b"m" * 32, clock=clock)
    store = LocalBlobStore(
        tmp_path, signer=signer, public_base_url="http://media.test", chunk_size=1000
    )
    await store.put_stream(KEY, _one(BODY), "audio/wav")
    app = Starlette(routes=media_routes(store, signer))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://media.test") as client:
        yield Setup(client, store, clock)


async def test_get_serves_the_signed_link(setup: Setup) -> None:
    client, store, _ = setup
    url = store.public_url(KEY)
    assert url is not None
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["accept-ranges"] == "bytes"


async def test_head_has_headers_and_no_body(
    setup: Setup,
) -> None:
    client, store, _ = setup
    response = await client.head(store.public_url(KEY) or "")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(BODY))
    assert response.content == b""


BAD_QUERIES = [
    "",
    "?sig=",
    "?sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "?sig=x&exp=99999999999",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_bad_signature_is_404_while_admin_is_off(setup: Setup, query: str) -> None:
    client, _, _ = setup
    response = await client.get(f"/media/{KEY}{query}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND_BODY)


async def test_signature_of_another_key_is_refused(
    setup: Setup,
) -> None:
    client, store, _ = setup
    other = KEY.replace("ACvm9", "ACvm8")
    query = (store.public_url(other) or "").split("?", 1)[1]
    assert (await client.get(f"/media/{KEY}?{query}")).status_code == 404


async def test_expired_link_is_refused(setup: Setup) -> None:
    client, store, clock = setup
    assert store.signer is not None
    url = store.signer.url("http://media.test", KEY, expires_at=1_010)
    assert (await client.get(url)).status_code == 200
    clock.advance(10)
    assert (await client.get(url)).status_code == 404


async def test_missing_object_is_404(setup: Setup) -> None:
    client, store, _ = setup
    url = store.public_url(KEY) or ""
    await store.delete(KEY)
    missing = await client.get(url)
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND_BODY)
    assert (await client.head(url)).status_code == 404


@pytest.fixture
async def gated(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    """The media route behind the admin gate, with an admin token configured."""
    assert setup.store.signer is not None
    app = Starlette(routes=media_routes(setup.store, setup.store.signer))
    app.add_middleware(AdminGate, auth=AdminAuth(TOKEN), router=app.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://media.test") as client:
        yield client


@pytest.mark.parametrize("query", BAD_QUERIES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_without_a_valid_signature_a_token_is_required(
    setup: Setup, gated: httpx.AsyncClient, query: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = await gated.get(f"/media/{KEY}{query}", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert TOKEN not in response.text
    # refused before the store is looked at: a missing key answers the same
    missing = await gated.get(f"/media/{KEY.replace('ACvm9', 'ACvm0')}{query}", headers=headers)
    assert missing.status_code == 401


async def test_the_admin_token_opens_an_unsigned_link(
    setup: Setup, gated: httpx.AsyncClient
) -> None:
    response = await gated.get(f"/media/{KEY}", headers={"authorization": f"Bearer {TOKEN}"})
    assert (response.status_code, response.content) == (200, BODY)


async def test_a_valid_signature_needs_no_token_and_logs_no_refusal(
    setup: Setup, gated: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="opsync.web.admin"):
        response = await gated.get(setup.store.public_url(KEY) or "")
        wrong_token = await gated.get(
            setup.store.public_url(KEY) or "", headers={"authorization": "Bearer wrong"}
        )
    assert (response.status_code, response.content) == (200, BODY)
    assert wrong_token.status_code == 200  # the link is enough; the header is not looked at
    assert [r for r in caplog.records if getattr(r, "action", "") == "admin_unauthorized"] == []


@pytest.mark.parametrize("path", ["/media/.signing-key?sig=x", "/media/a/../../etc/passwd"])
async def test_unsafe_paths_are_404(setup: Setup, path: str) -> None:
    client, _, _ = setup
    assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239)],
)
async def test_single_range(setup: Setup, header: str, start: int, end: int) -> None:
    client, store, _ = setup
    response = await client.get(store.public_url(KEY) or "", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == BODY[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert response.headers["content-length"] == str(end - start + 1)


async def test_unsatisfiable_range_is_416(
    setup: Setup,
) -> None:
    client, store, _ = setup
    response = await client.get(store.public_url(KEY) or "", headers={"Range": "bytes=99999-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(BODY)}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-1000", (5, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=0-1,5-6", None),
        ("items=0-5", None),
        ("bytes=9-3", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=-5", 0)]
)
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)
