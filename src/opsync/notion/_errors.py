"""The one place where notion-client and httpx failures become opsync errors.

    APIResponseError (known code)          by code, see _BY_CODE
    UnknownHTTPResponseError               code read from the raw body, else by HTTP status
    RequestTimeoutError                    UpstreamUnavailable, or OutcomeUnknown for writes
    httpx.ConnectError / ConnectTimeout    UpstreamUnavailable (nothing was sent)
    other httpx.TransportError             UpstreamUnavailable, or OutcomeUnknown for writes
    InvalidPathParameterError              InvalidPayload
    a 2xx whose body is not JSON           UpstreamUnavailable, or OutcomeUnknown for writes

"For writes" means calls that are not idempotent (creates, appends): a failure that may have
happened after Notion performed them is an :class:`OutcomeUnknown`, which the adapter never
repeats. A 429/529 or a 409 means Notion did not perform the request, so those stay plain
transient errors and are retried even for creates. Messages never contain the token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Final

import httpx
from notion_client import APIResponseError, RequestTimeoutError, UnknownHTTPResponseError
from notion_client.errors import HTTPResponseError, InvalidPathParameterError

from opsync.errors import (
    AuthError,
    InvalidPayload,
    NotFound,
    OpsyncError,
    RateLimited,
    UpstreamUnavailable,
)
from opsync.notion.port import OutcomeUnknown
from opsync.retry import parse_retry_after

_MAX_DETAIL: Final = 400
# Notion tokens start "secret_" or "ntn_"; a "Bearer …" value is a credential whatever it is.
_TOKEN_LIKE: Final = re.compile(r"(?:secret|ntn)_[A-Za-z0-9]+|(?<=Bearer )\S+", re.IGNORECASE)

_PERMANENT: Final[dict[str, type[OpsyncError]]] = {
    "validation_error": InvalidPayload,
    "invalid_json": InvalidPayload,
    "invalid_request": InvalidPayload,
    "invalid_request_url": InvalidPayload,
    "missing_version": InvalidPayload,
    "invalid_beta": InvalidPayload,
    "unauthorized": AuthError,
    "restricted_resource": AuthError,
    "invalid_grant": AuthError,
    "object_not_found": NotFound,
}
_RATE_LIMITED: Final = frozenset({"rate_limited", "service_overload"})
# Notion refused the request before doing anything: safe to repeat any call.
_NOT_PERFORMED: Final = frozenset({"conflict_error"})
# The request may have been performed.
_MAYBE_PERFORMED: Final = frozenset(
    {
        "internal_server_error",
        "service_unavailable",
        "gateway_timeout",
        "bad_gateway",
        "database_connection_unavailable",
    }
)


def translate(
    exc: BaseException, operation: str, *, idempotent: bool, secrets: Iterable[str] = ()
) -> OpsyncError | None:
    """The opsync error for ``exc`` raised by ``operation``, or None if it is not a failure of
    the Notion call (a bug, which should propagate as itself). The caller raises the result
    ``from exc`` so the original stays the ``__cause__``."""
    unknown = OutcomeUnknown if not idempotent else UpstreamUnavailable
    prefix = f"Notion {operation}"
    if isinstance(exc, HTTPResponseError):
        return _from_response(exc, prefix, unknown, secrets)
    if isinstance(exc, RequestTimeoutError):
        if isinstance(exc.__context__, httpx.ConnectTimeout | httpx.PoolTimeout):
            return UpstreamUnavailable(f"{prefix}: timed out before connecting")
        return unknown(f"{prefix}: timed out waiting for Notion")
    if isinstance(exc, InvalidPathParameterError):
        return InvalidPayload(f"{prefix}: {_clean(str(exc), secrets)}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return InvalidPayload(f"{prefix}: the Notion base URL is not http(s)")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return UpstreamUnavailable(f"{prefix}: cannot connect to Notion ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return unknown(f"{prefix}: connection to Notion failed ({type(exc).__name__})")
    if isinstance(exc, json.JSONDecodeError):
        return unknown(f"{prefix}: Notion answered with a body that is not JSON")
    return None


def _from_response(
    exc: HTTPResponseError,
    prefix: str,
    unknown: type[UpstreamUnavailable],
    secrets: Iterable[str],
) -> OpsyncError:
    code, message, request_id = _describe(exc)
    detail = f"HTTP {exc.status} {code or 'without error code'}"
    if message:
        detail += f": {message}"
    if request_id:
        detail += f" (request_id {request_id})"
    detail = _clean(detail, secrets)
    text = f"{prefix}: {detail}"

    if code in _RATE_LIMITED or exc.status in (429, 529):
        return RateLimited(text, retry_after=parse_retry_after(exc.headers.get("retry-after")))
    if code == "object_not_found" or (code is None and exc.status == 404):
        return NotFound(f"{prefix}: not found or not shared with the integration: {detail}")
    if code in _PERMANENT:
        return _PERMANENT[code](text)
    if code in _NOT_PERFORMED or exc.status == 409:
        return UpstreamUnavailable(text)
    if code in _MAYBE_PERFORMED or exc.status >= 500:
        return unknown(text)
    if exc.status in (401, 403):
        return AuthError(text)
    if exc.status == 408:
        return unknown(text)
    return InvalidPayload(text)


def _describe(exc: HTTPResponseError) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id), reading the raw body the SDK could not classify."""
    if isinstance(exc, APIResponseError):
        return str(exc.code.value), str(exc), exc.request_id
    if not isinstance(exc, UnknownHTTPResponseError):
        return None, str(exc), None
    try:
        body = json.loads(exc.body)
    except ValueError:
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    code, message, request_id = body.get("code"), body.get("message"), body.get("request_id")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
        request_id if isinstance(request_id, str) else None,
    )


def _clean(text: str, secrets: Iterable[str]) -> str:
    """Shorten and redact: no token (ours or anything shaped like one) reaches a message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _TOKEN_LIKE.sub("[redacted]", text)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"
