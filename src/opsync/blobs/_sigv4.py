"""AWS Signature Version 4 for S3 requests: pure functions, no I/O.

Follows "Signature Version 4 signing process" (header-based auth) as S3 applies it: the
canonical URI is the path encoded once, the payload hash goes in ``x-amz-content-sha256``.
Checked against AWS's published examples in ``tests/blobs/test_sigv4.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """Percent-encode everything but ``A-Za-z0-9-._~`` (and ``/`` when ``keep_slash``)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    """Encoded ``name=value`` pairs sorted by name then value, joined by ``&``."""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def amz_date(moment: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """The canonical request and its signed-headers list.

    ``path`` is already URI-encoded (as sent on the wire); ``query`` is canonical;
    ``headers`` are the headers to sign (names in any case, values trimmed here).
    """
    lowered = sorted(
        (name.lower().strip(), " ".join(value.split())) for name, value in headers.items()
    )
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in lowered)
    signed = ";".join(name for name, _ in lowered)
    request = "\n".join([method, path or "/", query, canonical_headers, signed, payload_hash])
    return request, signed


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key: HMAC chain over date, region, service and ``aws4_request``."""
    key = _hmac(("AWS4" + secret).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def authorization(
    credentials: Credentials,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    timestamp: str,
    region: str,
    service: str = "s3",
) -> str:
    """The ``Authorization`` header value for a request.

    ``headers`` must include ``host`` and ``x-amz-date`` (= ``timestamp``), and for S3
    ``x-amz-content-sha256`` (= ``payload_hash``).
    """
    date = timestamp[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    canonical, signed = canonical_request(method, path, query, headers, payload_hash)
    key = signing_key(credentials.secret_access_key, date, region, service)
    to_sign = string_to_sign(timestamp, scope, canonical)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
