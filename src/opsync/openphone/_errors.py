"""The one seam where httpx, JSON and pydantic failures become opsync errors.

    httpx.HTTPStatusError 401/403        -> OpenPhoneAuthError     (AuthError)
    httpx.HTTPStatusError 404            -> OpenPhoneNotFound      (NotFound)
    httpx.HTTPStatusError 429            -> RateLimited(retry_after from Retry-After, if sent)
    httpx.HTTPStatusError 408, 5xx       -> UpstreamUnavailable    (except 501/505: permanent)
    httpx.HTTPStatusError other status   -> OpenPhoneRequestError  (InvalidPayload)
    httpx connect errors / pool timeout  -> ConnectionFailed       (UpstreamUnavailable; not sent)
    other timeouts and transport errors  -> UpstreamUnavailable
    bad URL, undecodable body, bad JSON  -> InvalidPayload (bad JSON in a 200 is not retried)
    pydantic.ValidationError             -> InvalidPayload naming the field

Error bodies are parsed defensively: the spec's flat ``{message, code, status, title, trace,
errors}``, the live ``{"error": {message, key, trace}}`` wrapper, and non-JSON text. Messages
never contain the API key: it is scrubbed from everything quoted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from opsync.errors import (
    AuthError,
    InvalidPayload,
    NotFound,
    OpsyncError,
    RateLimited,
    UpstreamUnavailable,
)
from opsync.retry import parse_retry_after

M = TypeVar("M", bound=BaseModel)

_SNIPPET = 200
_TRANSIENT_STATUSES = frozenset({408, 500, 502, 503, 504})


@dataclass(frozen=True)
class ApiProblem:
    """What an OpenPhone error response said, as far as it could be read."""

    status: int
    code: str | None = None
    title: str | None = None
    message: str | None = None
    trace: str | None = None
    details: tuple[str, ...] = ()

    def describe(self, request: str) -> str:
        text = f"OpenPhone {request} answered {self.status}"
        if self.title:
            text += f" {self.title}"
        if self.code:
            text += f" (code {self.code})"
        if self.message and self.message != self.title:
            text += f": {self.message}"
        if self.details:
            text += " [" + "; ".join(self.details) + "]"
        if self.trace:
            text += f" (trace {self.trace})"
        return text


class _ProblemMixin:
    problem: ApiProblem

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str | None:
        return self.problem.code

    @property
    def trace(self) -> str | None:
        return self.problem.trace


class OpenPhoneRequestError(_ProblemMixin, InvalidPayload):
    """OpenPhone rejected the request (a 4xx other than 401/403/404/408/429); not retried."""

    def __init__(self, message: str, problem: ApiProblem) -> None:
        self.problem = problem
        super().__init__(message)


class OpenPhoneAuthError(_ProblemMixin, AuthError):
    """OpenPhone rejected the API key (401) or the key lacks permission (403)."""

    def __init__(self, message: str, problem: ApiProblem) -> None:
        self.problem = problem
        super().__init__(message)


class OpenPhoneNotFound(_ProblemMixin, NotFound):
    """OpenPhone has no such resource (404), or it belongs to another workspace."""

    def __init__(self, message: str, problem: ApiProblem) -> None:
        self.problem = problem
        super().__init__(message)


class ConnectionFailed(UpstreamUnavailable):
    """The request never reached OpenPhone, so even a non-idempotent request can be retried."""


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _details(errors: object) -> tuple[str, ...]:
    if not isinstance(errors, list):
        return ()
    found: list[str] = []
    for item in errors[:5]:
        if isinstance(item, dict):
            path, message = _text(item.get("path")), _text(item.get("message"))
            found.append(": ".join(part for part in (path, message) if part))
    return tuple(part for part in found if part)


def parse_problem(status: int, body: bytes) -> ApiProblem:
    """Read an error body in any of the shapes OpenPhone is known to send; never raises."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        snippet = body[:_SNIPPET].decode("utf-8", "replace").strip()
        return ApiProblem(status=status, message=" ".join(snippet.split()) or None)
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        parsed = parsed["error"]
    if not isinstance(parsed, dict):
        return ApiProblem(status=status)
    return ApiProblem(
        status=status,
        code=_text(parsed.get("code")),
        title=_text(parsed.get("title")) or _text(parsed.get("key")),
        message=_text(parsed.get("message")),
        trace=_text(parsed.get("trace")),
        details=_details(parsed.get("errors")),
    )


def error_for_response(response: httpx.Response, request: str) -> OpsyncError:
    """The opsync error for a non-2xx response whose body has been read."""
    status = response.status_code
    problem = parse_problem(status, response.content)
    message = problem.describe(request)
    if status in (401, 403):
        return OpenPhoneAuthError(message, problem)
    if status == 404:
        return OpenPhoneNotFound(message, problem)
    if status == 429:
        return RateLimited(message, parse_retry_after(response.headers.get("retry-after")))
    if status in _TRANSIENT_STATUSES or (status >= 500 and status not in (501, 505)):
        return UpstreamUnavailable(message)
    return OpenPhoneRequestError(message, problem)


def validation_message(exc: ValidationError, where: str) -> str:
    """Name the failing fields of a pydantic error, without echoing the values."""
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"])
        field = f"{where}.{location}" if where and location else where or location
        parts.append(f"{field}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate(model: type[M], value: object, where: str) -> M:
    """``model.model_validate(value)``, raising InvalidPayload naming ``where.<field>``."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise InvalidPayload(f"invalid {model.__name__}: {validation_message(exc, where)}") from exc


def response_data(body: Any, request: str) -> Any:
    """The ``data`` member of a success body; InvalidPayload when there is none."""
    if not isinstance(body, dict) or "data" not in body:
        raise InvalidPayload(f"OpenPhone {request}: response has no 'data' field")
    return body["data"]


def response_list(body: Any, request: str) -> list[Any]:
    """The ``data`` member of a list body; InvalidPayload when it is missing or not a list."""
    data = response_data(body, request)
    if not isinstance(data, list):
        raise InvalidPayload(f"OpenPhone {request}: response field 'data' is not a list")
    return data


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


@contextmanager
def openphone_errors(request: str, *, secret: str) -> Iterator[None]:
    """Map every foreign failure inside the block to an opsync error (see the module doc)."""
    try:
        yield
    except OpsyncError as exc:
        exc.args = tuple(_scrub(str(arg), secret) for arg in exc.args)
        raise
    except httpx.HTTPStatusError as exc:
        error = error_for_response(exc.response, request)
        error.args = (_scrub(str(error), secret),)
        raise error from exc
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        detail = _scrub(str(exc) or type(exc).__name__, secret)
        raise ConnectionFailed(f"OpenPhone {request}: could not connect: {detail}") from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.DecodingError) as exc:
        detail = _scrub(str(exc) or type(exc).__name__, secret)
        raise InvalidPayload(f"OpenPhone {request}: {detail}") from exc
    except httpx.TimeoutException as exc:
        raise UpstreamUnavailable(f"OpenPhone {request}: timed out ({type(exc).__name__})") from exc
    except httpx.RequestError as exc:
        detail = _scrub(str(exc) or type(exc).__name__, secret)
        raise UpstreamUnavailable(f"OpenPhone {request}: {detail}") from exc
    except ValidationError as exc:
        raise InvalidPayload(f"OpenPhone {request}: {validation_message(exc, '')}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidPayload(f"OpenPhone {request}: response is not JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidPayload(f"OpenPhone {request}: response is not JSON (not UTF-8)") from exc
