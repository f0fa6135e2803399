"""``GET /media/{key}?sig=…``: opsync serves stored audio behind signed links.

Used for the local folder, and for an S3 bucket without a public domain (opsync proxies the
bytes). The body is streamed from the store; ``HEAD`` and one ``Range`` (``bytes=a-b``,
``bytes=a-``, ``bytes=-n``) are supported, as browsers' audio players seek with them. Several
ranges in one header are answered with the whole object (allowed by RFC 9110).

A request with a valid signature needs nothing else. Without one it is an admin request
(:func:`opsync.web.admin.unsigned_refusal`): served with the admin bearer token, else refused
before the store is touched — 401 when a token is configured, and while admin is off the 404 of
any unknown route — so links reveal nothing about which keys exist. Every 404 (unsafe key,
missing object) has that same body.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from opsync.blobs.base import BlobStore
from opsync.blobs.keys import InvalidKey, validate_key
from opsync.blobs.signing import MediaSigner
from opsync.errors import NotFound
from opsync.web.admin import not_found, unsigned_refusal

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CACHE_CONTROL = "private, max-age=86400"


class RangeNotSatisfiable(ValueError):
    """The requested range starts beyond the object."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` a ``Range`` header asks of an object of ``size`` bytes.

    ``None`` means "send the whole object" (no header, several ranges, or a syntax that is
    not a byte range, which RFC 9110 says to ignore). Raises :class:`RangeNotSatisfiable`.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    return start, end


async def _closing(body: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Relay ``body``, closing it (its file or connection) however the response ends."""
    try:
        async for chunk in body:
            yield chunk
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()


def media_routes(store: BlobStore, signer: MediaSigner) -> list[BaseRoute]:
    """The route serving ``/media/{key}`` from ``store`` to holders of a link ``signer`` made
    (and to the admin: mount it in :func:`opsync.web.build_app`, whose gate checks the token)."""

    async def media(request: Request) -> Response:
        key = request.path_params["key"]
        try:
            validate_key(key)
        except InvalidKey:
            return not_found()
        query = request.query_params
        if not signer.verify(key, query.get("sig"), query.get("exp")):
            refused = unsigned_refusal(request)
            if refused is not None:
                return refused
        stat = await store.stat(key)
        if stat is None:
            return not_found()
        headers = {
            "accept-ranges": "bytes",
            "cache-control": CACHE_CONTROL,
            "content-type": stat.content_type,
        }
        try:
            byte_range = parse_range(request.headers.get("range"), stat.size)
        except RangeNotSatisfiable:
            headers["content-range"] = f"bytes */{stat.size}"
            return Response(status_code=416, headers=headers)
        status = 200
        start, end = 0, stat.size - 1
        if byte_range is not None:
            status = 206
            start, end = byte_range
            headers["content-range"] = f"bytes {start}-{end}/{stat.size}"
        headers["content-length"] = str(max(0, end - start + 1))
        if request.method == "HEAD" or stat.size == 0:
            return Response(status_code=status, headers=headers)
        try:
            body = await store.open_stream(key, start=start, end=end)
        except NotFound:  # deleted between stat and open
            return not_found()
        return StreamingResponse(_closing(body), status_code=status, headers=headers)

    return [Route("/media/{key:path}", media, methods=["GET", "HEAD"], name="media")]
