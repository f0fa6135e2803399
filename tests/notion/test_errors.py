"""The single mapping of SDK and httpx failures, checked directly."""

from __future__ import annotations

import json
import types

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from notion_client import RequestTimeoutError
from notion_client.errors import build_request_error

import opsync.notion
from opsync.errors import OpsyncError, RateLimited, UpstreamUnavailable
from opsync.notion import OutcomeUnknown
from opsync.notion._errors import translate
from tests.notion.conftest import TOKEN

CODES = [
    "validation_error",
    "unauthorized",
    "restricted_resource",
    "object_not_found",
    "rate_limited",
    "conflict_error",
    "internal_server_error",
    "service_unavailable",
    "gateway_timeout",
    "bad_gateway",
    "database_connection_unavailable",
    "service_overload",
    "missing_version",
    "something_new",
]


def sdk_error(status: int, body: str, **headers: str) -> Exception:
    response = httpx.Response(status, text=body, headers=headers)
    return build_request_error(response, body)


@given(
    status=st.sampled_from([400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 529]),
    code=st.sampled_from(CODES),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
    idempotent=st.booleans(),
)
def test_no_message_ever_contains_the_token(
    status: int, code: str, before: str, after: str, idempotent: bool
) -> None:
    message = f"{before}{TOKEN}{after} Bearer {TOKEN}"
    body = json.dumps({"object": "error", "status": status, "code": code, "message": message})
    mapped = translate(sdk_error(status, body), "pages.create", idempotent=idempotent)
    assert isinstance(mapped, OpsyncError)
    assert TOKEN not in str(mapped)


def test_a_caller_supplied_secret_is_redacted_whatever_its_shape() -> None:
    body = json.dumps({"code": "validation_error", "message": "echo: hunter2-token", "status": 400})
    mapped = translate(sdk_error(400, body), "x", idempotent=True, secrets=["hunter2-token"])
    assert "hunter2" not in str(mapped)


def test_service_overload_carries_retry_after() -> None:
    body = json.dumps({"code": "service_overload", "message": "busy", "status": 529})
    mapped = translate(sdk_error(529, body, **{"retry-after": "12"}), "x", idempotent=False)
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after == 12.0


@pytest.mark.parametrize(
    ("context", "idempotent", "kind"),
    [
        (httpx.ConnectTimeout("no connect"), False, UpstreamUnavailable),
        (httpx.PoolTimeout("no slot"), False, UpstreamUnavailable),
        (httpx.ReadTimeout("no answer"), False, OutcomeUnknown),
        (httpx.WriteTimeout("stuck"), False, OutcomeUnknown),
        (httpx.ReadTimeout("no answer"), True, UpstreamUnavailable),
    ],
)
def test_sdk_timeouts_are_classified_by_the_httpx_timeout_behind_them(
    context: Exception, idempotent: bool, kind: type[OpsyncError]
) -> None:
    try:
        try:
            raise context
        except httpx.TimeoutException:
            raise RequestTimeoutError() from None
    except RequestTimeoutError as exc:
        exc.__context__ = context  # what the SDK's implicit chaining records
        mapped = translate(exc, "pages.create", idempotent=idempotent)
    assert type(mapped) is kind


def test_foreign_bugs_are_not_mapped() -> None:
    assert translate(KeyError("results"), "x", idempotent=True) is None
    assert translate(TypeError("bad call"), "x", idempotent=False) is None


def test_public_names_are_exactly_all() -> None:
    public = {name for name in vars(opsync.notion) if not name.startswith("_")}
    modules = {n for n, v in vars(opsync.notion).items() if isinstance(v, types.ModuleType)}
    assert public - modules == set(opsync.notion.__all__)
    for name in opsync.notion.__all__:
        assert getattr(opsync.notion, name).__module__.startswith("opsync.notion")
