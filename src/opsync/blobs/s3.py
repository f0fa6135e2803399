"""An S3-compatible blob store (AWS S3, Cloudflare R2, MinIO) over the S3 REST protocol.

Requests are signed with AWS Signature V4 (:mod:`opsync.blobs._sigv4`) and sent with the
project's ``httpx.AsyncClient``: no SDK, no thread pool. A write buffers at most one part
(``part_size``, default 8 MiB): an object that fits is sent as one ``PUT``; a larger one as a
multipart upload of equal parts (R2 requires equal parts), completed at the end and aborted on
any failure, so a partial object is never visible. A custom endpoint is addressed path-style
(``{endpoint}/{bucket}/{key}``, which R2, MinIO and moto accept); AWS virtual-hosted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import httpx

from opsync.blobs import _sigv4
from opsync.blobs.base import BlobInfo, BlobStat, http_range
from opsync.blobs.keys import validate_key
from opsync.blobs.signing import MediaSigner
from opsync.clock import Clock, SystemClock
from opsync.errors import (
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_DOWNLOAD_CHUNK = 256 * 1024


class S3BlobStore:
    """Objects live in ``bucket`` under ``prefix``; keys are relative to the prefix.

    ``public_url_base`` is a public domain serving the bucket root (an R2 public bucket, a
    CDN): links are then ``{public_url_base}/{prefix}/{key}``. Otherwise, with ``signer`` and
    ``media_base_url`` (this service's public URL), links are opsync's own signed
    ``/media/{key}?sig=…``, served by proxying from the bucket: a presigned S3 URL would
    expire, and Notion keeps the link forever. ``http`` is borrowed, not closed, when given.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        credentials: _sigv4.Credentials,
        endpoint_url: str | None = None,
        region: str = "auto",
        http: httpx.AsyncClient | None = None,
        public_url_base: str | None = None,
        media_base_url: str | None = None,
        signer: MediaSigner | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        clock: Clock | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._credentials = credentials
        if endpoint_url:
            self._region = region
            self._base = httpx.URL(endpoint_url.rstrip("/"))
            self._bucket_path = f"{self._base.raw_path.decode().rstrip('/')}/{bucket}"
        else:  # AWS: virtual-hosted style; "auto" is R2's region name, not AWS's
            self._region = "us-east-1" if region == "auto" else region
            self._base = httpx.URL(f"https://{bucket}.s3.{self._region}.amazonaws.com")
            self._bucket_path = ""
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self._public_url_base = public_url_base.rstrip("/") if public_url_base else None
        self._media_base_url = media_base_url
        self.signer = signer
        self.part_size = part_size
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r}, base={self._base})"

    def object_key(self, key: str) -> str:
        """The bucket key of ``key`` (the prefix joined in)."""
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- the BlobStore protocol -----------------------------------------------------------

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str
    ) -> BlobInfo:
        """One PUT when the content fits in a part, else a multipart upload (aborted on error)."""
        name = self.object_key(key)
        hasher = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        etags: list[str] = []
        try:
            async for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = await self._create_upload(name, content_type)
                    part = bytes(buffer[: self.part_size])
                    del buffer[: self.part_size]
                    etags.append(await self._upload_part(name, upload_id, len(etags) + 1, part))
            if upload_id is None:
                headers = {"content-type": content_type}
                await self._send("PUT", name, headers=headers, content=bytes(buffer))
            else:
                if buffer:
                    etags.append(await self._upload_part(name, upload_id, len(etags) + 1, buffer))
                await self._complete_upload(name, upload_id, etags)
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self._abort_upload(name, upload_id))
            raise
        log.debug("blob stored", extra={"action": "blob_stored", "key": key, "size": size})
        return BlobInfo(key=key, size=size, sha256=hasher.hexdigest())

    async def stat(self, key: str) -> BlobStat | None:
        """``HEAD`` the object: its size and content type, ``None`` when missing."""
        response = await self._send("HEAD", self.object_key(key), missing_ok=True)
        if response.status_code == 404:
            return None
        return BlobStat(
            key=key,
            size=int(response.headers.get("content-length", "0")),
            content_type=response.headers.get("content-type", "application/octet-stream"),
        )

    async def exists(self, key: str) -> bool:
        """Whether the object exists (one ``HEAD``)."""
        return await self.stat(key) is not None

    async def open_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """``GET`` the object (a ``Range`` when given); NotFound before any chunk if missing."""
        header = http_range(start, end)
        headers = {"range": header} if header else {}
        response = await self._send("GET", self.object_key(key), headers=headers, stream=True)
        return _ResponseStream(response, key)

    async def delete(self, key: str) -> None:
        """``DELETE`` the object; S3 answers success for a missing key too."""
        await self._send("DELETE", self.object_key(key), missing_ok=True)

    def public_url(self, key: str) -> str | None:
        """The bucket's public URL of ``key``, else opsync's signed ``/media/`` link, else None."""
        name = self.object_key(key)
        if self._public_url_base:
            return f"{self._public_url_base}/{_sigv4.uri_encode(name, keep_slash=True)}"
        if self.signer is not None and self._media_base_url:
            return self.signer.url(self._media_base_url, key)
        return None

    async def aclose(self) -> None:
        """Close the HTTP client if the store created it."""
        if self._owns_http:
            await self._http.aclose()

    # -- multipart ------------------------------------------------------------------------

    async def _create_upload(self, name: str, content_type: str) -> str:
        response = await self._send(
            "POST", name, params=[("uploads", "")], headers={"content-type": content_type}
        )
        return _xml_text(response.content, "UploadId")

    async def _upload_part(
        self, name: str, upload_id: str, number: int, part: bytes | bytearray
    ) -> str:
        params = [("partNumber", str(number)), ("uploadId", upload_id)]
        response = await self._send("PUT", name, params=params, content=bytes(part))
        etag = str(response.headers.get("etag", ""))
        if not etag:
            raise UpstreamUnavailable(f"S3 returned no ETag for part {number} of {name!r}")
        return etag

    async def _complete_upload(self, name: str, upload_id: str, etags: Sequence[str]) -> None:
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = await self._send(
            "POST",
            name,
            params=[("uploadId", upload_id)],
            headers={"content-type": "application/xml"},
            content=body,
        )
        if b"<Error>" in response.content:  # S3 may report a failed completion with a 200
            raise _status_error(500, response.content, f"complete upload of {name!r}")

    async def _abort_upload(self, name: str, upload_id: str) -> None:
        try:
            await self._send("DELETE", name, params=[("uploadId", upload_id)], missing_ok=True)
        except Exception:
            # The original failure matters more; a bucket lifecycle rule cleans up leftovers.
            log.warning(
                "multipart abort failed",
                extra={"action": "blob_abort_failed", "key": name, "upload_id": upload_id},
                exc_info=True,
            )

    # -- wire -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        name: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        stream: bool = False,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """Sign and send one request; map failures to opsync errors (NotFound for 404)."""
        request = self._signed(method, name, params, headers or {}, content)
        action = f"{method} {name!r}"
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"S3 {action} failed: {exc}") from exc
        if response.is_success or (missing_ok and response.status_code == 404):
            return response
        try:
            body = await response.aread()
        except httpx.TransportError:
            body = b""
        finally:
            await response.aclose()
        raise _status_error(response.status_code, body, action, response.headers)

    def _signed(
        self,
        method: str,
        name: str,
        params: Sequence[tuple[str, str]],
        headers: dict[str, str],
        content: bytes | None,
    ) -> httpx.Request:
        path = f"{self._bucket_path}/{_sigv4.uri_encode(name, keep_slash=True)}"
        query = _sigv4.canonical_query(params)
        raw = path + ("?" + query if query else "")
        url = self._base.copy_with(raw_path=raw.encode())
        payload_hash = hashlib.sha256(content).hexdigest() if content else _sigv4.EMPTY_SHA256
        timestamp = _sigv4.amz_date(datetime.fromtimestamp(self._clock.now(), tz=UTC))
        request = httpx.Request(method, url, headers=headers, content=content)
        signed = {
            **headers,
            "host": request.headers["host"],
            "x-amz-date": timestamp,
            "x-amz-content-sha256": payload_hash,
        }
        request.headers["x-amz-date"] = timestamp
        request.headers["x-amz-content-sha256"] = payload_hash
        request.headers["authorization"] = _sigv4.authorization(
            self._credentials,
            method=method,
            path=path,
            query=query,
            headers=signed,
            payload_hash=payload_hash,
            timestamp=timestamp,
            region=self._region,
        )
        return request


class _ResponseStream:
    """The body of an open ``GET``: iterate it, and ``aclose()`` it even if never started.

    Abandoned mid-way, the inner generator is finalized by the event loop, closing the response.
    """

    def __init__(self, response: httpx.Response, key: str) -> None:
        self._response = response
        self._chunks = self._iterate(key)
        self._started = False

    def __aiter__(self) -> _ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        self._started = True
        return await anext(self._chunks)

    async def aclose(self) -> None:
        await self._chunks.aclose()
        if not self._started:
            await self._response.aclose()

    async def _iterate(self, key: str) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._response.aiter_bytes(_DOWNLOAD_CHUNK):
                yield chunk
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"S3 read of {key!r} failed: {exc}") from exc
        finally:
            await self._response.aclose()


def _xml_text(body: bytes, tag: str) -> str:
    # The body comes from the configured storage endpoint; expat does not expand external
    # entities, so the stdlib parser is safe enough here.
    root = ET.fromstring(body)  # noqa: S314
    for element in root.iter():
        if element.tag == tag or element.tag.endswith("}" + tag):
            return element.text or ""
    raise UpstreamUnavailable(f"S3 response has no <{tag}>")


def _status_error(
    status: int, body: bytes, action: str, headers: httpx.Headers | None = None
) -> Exception:
    code = ""
    if body:
        try:
            code = _xml_text(body, "Code")
        except (ET.ParseError, UpstreamUnavailable):
            code = ""
    message = f"S3 {action} answered {status}" + (f" {code}" if code else "")
    if status == 404:
        return NotFound(message)
    if status in (401, 403):
        return AuthError(message)
    if status == 429 or code == "SlowDown":
        retry_after = (headers or httpx.Headers()).get("retry-after", "")
        return RateLimited(message, float(retry_after) if retry_after.isdigit() else None)
    if status >= 500 or status in (408, 409):
        return UpstreamUnavailable(message)
    return PermanentError(message)
