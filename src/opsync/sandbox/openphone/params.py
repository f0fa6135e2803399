"""Query-parameter checks and keyset pagination, answering 400 the way the v1 API does.

Choices where the docs are silent:

* ``maxResults`` is enforced as *required* (the spec marks it required; its ``default: 10``
  is not applied): missing, non-integer or out of range → 400.
* Array parameters are accepted as a repeated key (``participants=a&participants=b``, the
  OpenAPI default) **and** with brackets (``participants[]=a``); both forms are merged.
* ``createdAfter``/``updatedAfter`` are exclusive (``>``), ``createdBefore``/
  ``updatedBefore`` exclusive (``<``). The deprecated ``since`` behaves as ``createdBefore``.
* ``pageToken`` is an opaque keyset cursor (base64url of the last item's sort key), so a
  walk returns every item exactly once even while newer items are added; an undecodable
  token → 400. ``nextPageToken`` is ``null`` on the last page; ``totalItems`` is the true
  count of matching items.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.datastructures import QueryParams
from starlette.requests import Request

from opsync.sandbox.openphone.errors import ApiError, FieldError
from opsync.sandbox.openphone.models import parse_iso
from opsync.sandbox.openphone.workspace import Workspace

T = TypeVar("T")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def base_url(request: Request) -> str:
    """The simulator's own base URL as the client reached it (for media links)."""
    return str(request.base_url).rstrip("/")


def bad(
    resource: str, path: str, message: str, value: Any = None, kind: str = "string"
) -> ApiError:
    return ApiError(resource, 400, message, [FieldError(path, message, value, kind)])


def array_param(query: QueryParams, name: str) -> list[str]:
    return [v for v in [*query.getlist(name), *query.getlist(f"{name}[]")] if v != ""]


def required(query: QueryParams, name: str, resource: str, pattern: str | None = None) -> str:
    value = query.get(name)
    if not value:
        raise bad(resource, f"/query/{name}", f"{name} is required")
    if pattern and not re.match(pattern, value):
        raise bad(resource, f"/query/{name}", f"{name} must match pattern {pattern}", value)
    return value


def optional(query: QueryParams, name: str, resource: str, pattern: str) -> str | None:
    value = query.get(name)
    if value is None:
        return None
    if not re.match(pattern, value):
        raise bad(resource, f"/query/{name}", f"{name} must match pattern {pattern}", value)
    return value


def check_path(value: str, pattern: str, name: str, resource: str) -> None:
    if not re.match(pattern, value):
        raise bad(resource, f"/params/{name}", f"{name} must match pattern {pattern}", value)


def check_member(ws: Workspace, phone_number_id: str, user_id: str | None, resource: str) -> None:
    """403 "Not Phone Number User" when ``user_id`` is given but not a member of the number."""
    if user_id is None:
        return
    if not any(u["id"] == user_id for u in ws.phone_number(phone_number_id)["users"]):
        message = f"User {user_id} is not a member of phone number {phone_number_id}"
        raise ApiError(resource, 403, message)


def max_results(query: QueryParams, resource: str, upper: int) -> int:
    raw = query.get("maxResults")
    path = "/query/maxResults"
    if raw is None or raw == "":
        raise bad(resource, path, "maxResults is required", None, "integer")
    try:
        value = int(raw)
    except ValueError:
        raise bad(resource, path, "maxResults must be an integer", raw, "integer") from None
    if value < 1:
        raise bad(resource, path, "maxResults must be >= 1", value, "integer")
    if value > upper:
        raise bad(resource, path, f"maxResults must be <= {upper}", value, "integer")
    return value


def date_param(query: QueryParams, name: str, resource: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise bad(
            resource, f"/query/{name}", f"{name} must be an ISO 8601 date-time", raw
        ) from None


def phone_numbers(values: list[str], name: str, resource: str) -> list[str]:
    for value in values:
        if not E164.match(value):
            raise bad(resource, f"/query/{name}", f"{name} must be E.164 numbers", value)
    return values


def in_window(ts: float | None, after: float | None, before: float | None) -> bool:
    if ts is None:
        return after is None and before is None
    return (after is None or ts > after) and (before is None or ts < before)


def _encode(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode(token: str, resource: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad(resource, "/query/pageToken", "pageToken is invalid", token) from None
    if not isinstance(key, list) or not key:
        raise bad(resource, "/query/pageToken", "pageToken is invalid", token)
    return tuple(key)


def paginate(
    items: list[T],
    *,
    sort_key: Callable[[T], tuple[Any, ...]],
    descending: bool,
    limit: int,
    token: str | None,
    resource: str,
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``items`` in ``sort_key`` order, as ``{data, totalItems, nextPageToken}``."""
    ordered = sorted(items, key=sort_key, reverse=descending)
    start = 0
    if token:
        last = _decode(token, resource)
        try:
            start = next(
                (
                    i
                    for i, item in enumerate(ordered)
                    if (sort_key(item) < last if descending else sort_key(item) > last)
                ),
                len(ordered),
            )
        except TypeError:
            raise bad(resource, "/query/pageToken", "pageToken is invalid", token) from None
    page = ordered[start : start + limit]
    more = start + limit < len(ordered)
    return {
        "data": [render(item) for item in page],
        "totalItems": len(ordered),
        "nextPageToken": _encode(sort_key(page[-1])) if more and page else None,
    }
