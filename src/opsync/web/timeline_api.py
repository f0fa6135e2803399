"""The contact timeline API (admin token; :class:`opsync.web.admin.AdminGate` checks it).

Routes::

    GET /api/contacts/{phone}/timeline?limit=&cursor=       calls and messages with a number
    GET /api/canvas/{canvas_id}/timeline?limit=&cursor=     … linked to a Canvas page

``phone`` is any spelling of a number (``+13214436893``, ``321-443-6893``, ``(321)
443-6893``); ``canvas_id`` a Notion page id with or without dashes. Answers come from the
local store only (:mod:`opsync.timeline`), newest first: ``{"contact", "count", "items",
"next_cursor"}``; pass ``next_cursor`` back as ``cursor`` for the next page. Errors: 400 for
an unreadable phone, id, limit (1..200) or cursor; 404 when nothing is known about the
contact; 503 when the store is unreachable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from opsync.errors import StoreUnavailable
from opsync.store import Store
from opsync.timeline import (
    ContactUnknown,
    InvalidTimelineInput,
    MediaUrl,
    Timeline,
    TimelinePage,
    parse_limit,
)

__all__ = ["timeline_routes"]

_Lookup = Callable[[Timeline, str, int, str | None], Awaitable[TimelinePage]]


async def _by_phone(timeline: Timeline, key: str, limit: int, cursor: str | None) -> TimelinePage:
    return await timeline.for_phone(key, limit=limit, cursor=cursor)


async def _by_canvas(timeline: Timeline, key: str, limit: int, cursor: str | None) -> TimelinePage:
    return await timeline.for_canvas(key, limit=limit, cursor=cursor)


def _endpoint(
    timeline: Timeline, param: str, lookup: _Lookup
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            limit = parse_limit(request.query_params.get("limit"))
            cursor = request.query_params.get("cursor") or None
            page = await lookup(timeline, request.path_params[param], limit, cursor)
        except InvalidTimelineInput as exc:
            return JSONResponse({"error": "bad_request", "detail": str(exc)}, status_code=400)
        except ContactUnknown as exc:
            return JSONResponse({"error": "not_found", "detail": str(exc)}, status_code=404)
        except StoreUnavailable:
            return JSONResponse(
                {"error": "store_unavailable", "detail": "the store cannot be reached; try again"},
                status_code=503,
                headers={"Retry-After": "10"},
            )
        return JSONResponse(page.to_json())

    return endpoint


def timeline_routes(store: Store, media_url: MediaUrl | None = None) -> list[BaseRoute]:
    """The two timeline routes over ``store``; ``media_url`` links stored recordings."""
    timeline = Timeline(store, media_url)
    return [
        Route(
            "/api/contacts/{phone}/timeline",
            _endpoint(timeline, "phone", _by_phone),
            methods=["GET"],
            name="contact_timeline",
        ),
        Route(
            "/api/canvas/{canvas_id}/timeline",
            _endpoint(timeline, "canvas_id", _by_canvas),
            methods=["GET"],
            name="canvas_timeline",
        ),
    ]
