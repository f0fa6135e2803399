"""The Notion API simulator as a Starlette app: ``NotionSimulator(...).app``.

Every ``/v1`` request goes through one pipeline: version header → bearer token → pacing →
injected fault (before or after the write) → body limits and JSON → the state operation.
Admin routes under ``/__sandbox`` are neither paced, faulted nor counted.

``write_hook`` (tests): an async callable given a :class:`WriteCall` twice per write request
that passed the checks — ``"before"`` the state changes (raising a :class:`NotionError` there
answers with it and applies nothing) and ``"applied"`` right after, before the answer is
sent. The crash tests kill the client at those instants: inside a create, and between a
write Notion applied and the client's record of it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsync.clock import Clock
from opsync.pacing import RateLimit
from opsync.sandbox.notion._common import JSON
from opsync.sandbox.notion.errors import NotionError, validation_error
from opsync.sandbox.notion.faults import (
    NOTION_RATE,
    RATE_LIMITED_MESSAGE,
    FaultConfig,
    FaultInjector,
    RateLimiter,
    RequestCounter,
)
from opsync.sandbox.notion.state import NotionState
from opsync.sandbox.notion.validation import MAX_PAYLOAD_BYTES

API_VERSION = "2025-09-03"
ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
Handler = Callable[[Request, JSON], Awaitable[JSON]]
WriteMoment = Literal["before", "applied"]


@dataclass(frozen=True)
class WriteCall:
    """A write request at one moment of its handling (see ``write_hook`` in the module doc)."""

    moment: WriteMoment
    endpoint: str  # "METHOD /v1/template", e.g. "POST /v1/pages"
    path: str
    body: JSON


WriteHook = Callable[[WriteCall], Awaitable[None]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    handler: Handler
    write: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


class NotionSimulator:
    """A Notion API (2025-09-03) served from an in-memory :class:`NotionState`.

    ``api_key``: the only accepted bearer token (``None``: any non-empty token).
    ``rate_limit``: per-token pacing (``None`` switches it off).
    ``faults``: injected failures; change them later with :meth:`set_faults`.
    """

    def __init__(
        self,
        state: NotionState | None = None,
        *,
        clock: Clock | None = None,
        api_key: str | None = None,
        rate_limit: RateLimit | None = NOTION_RATE,
        faults: FaultConfig | None = None,
    ) -> None:
        self.state = state or NotionState(clock)
        self.clock: Clock = clock or self.state.clock
        self.api_key = api_key
        self.limiter = None if rate_limit is None else RateLimiter(rate_limit, self.clock)
        self.faults = FaultInjector(faults)
        self.counter = RequestCounter()
        self.write_hook: WriteHook | None = None
        self.app = Starlette(routes=self._routes())

    def set_faults(self, config: FaultConfig) -> None:
        self.faults.configure(config)

    def dump(self) -> dict[str, Any]:
        """The whole simulator state as JSON-ready data, with the request counters."""
        return {
            "state": self.state.dump(),
            "requests": self.counter.to_json(),
            "faults": self.faults.config.to_json(),
        }

    # routing ----------------------------------------------------------------------------------
    def _endpoints(self) -> list[Endpoint]:
        s = self.state

        def sync(fn: Callable[[Request, JSON], JSON]) -> Handler:
            async def run(request: Request, body: JSON) -> JSON:
                return fn(request, body)

            return run

        def db(r: Request) -> str:
            return str(r.path_params["database_id"])

        def ds(r: Request) -> str:
            return str(r.path_params["data_source_id"])

        def page(r: Request) -> str:
            return str(r.path_params["page_id"])

        def block(r: Request) -> str:
            return str(r.path_params["block_id"])

        def fp(r: Request) -> list[str] | None:
            return r.query_params.getlist("filter_properties") or None

        def arg(r: Request, name: str) -> str | None:
            return r.query_params.get(name)

        def base(r: Request) -> str:
            return str(r.base_url).rstrip("/")

        upload = "/v1/file_uploads/{file_upload_id}"
        table: list[tuple[str, str, Handler, bool]] = [
            ("POST", "/v1/databases", sync(lambda r, b: s.create_database(b)), True),
            ("GET", "/v1/databases/{database_id}", sync(lambda r, b: s.get_database(db(r))), False),
            (
                "PATCH",
                "/v1/databases/{database_id}",
                sync(lambda r, b: s.update_database(db(r), b)),
                True,
            ),
            ("POST", "/v1/data_sources", sync(lambda r, b: s.create_data_source(b)), True),
            (
                "GET",
                "/v1/data_sources/{data_source_id}",
                sync(lambda r, b: s.get_data_source(ds(r))),
                False,
            ),
            (
                "PATCH",
                "/v1/data_sources/{data_source_id}",
                sync(lambda r, b: s.update_data_source(ds(r), b)),
                True,
            ),
            (
                "POST",
                "/v1/data_sources/{data_source_id}/query",
                sync(lambda r, b: s.query(ds(r), b, fp(r))),
                False,
            ),
            ("POST", "/v1/pages", sync(lambda r, b: s.create_page(b)), True),
            ("GET", "/v1/pages/{page_id}", sync(lambda r, b: s.get_page(page(r), fp(r))), False),
            ("PATCH", "/v1/pages/{page_id}", sync(lambda r, b: s.update_page(page(r), b)), True),
            ("GET", "/v1/blocks/{block_id}", sync(lambda r, b: s.get_block(block(r))), False),
            ("DELETE", "/v1/blocks/{block_id}", sync(lambda r, b: s.delete_block(block(r))), True),
            (
                "PATCH",
                "/v1/blocks/{block_id}/children",
                sync(lambda r, b: s.append_children(block(r), b)),
                True,
            ),
            (
                "GET",
                "/v1/blocks/{block_id}/children",
                sync(
                    lambda r, b: s.list_children(
                        block(r), arg(r, "start_cursor"), arg(r, "page_size")
                    )
                ),
                False,
            ),
            ("POST", "/v1/search", sync(lambda r, b: s.search(b)), False),
            ("GET", "/v1/users/me", sync(lambda r, b: s.users_me()), False),
            (
                "POST",
                "/v1/file_uploads",
                sync(lambda r, b: s.uploads.create(b).render(base(r))),
                True,
            ),
            (
                "GET",
                "/v1/file_uploads",
                sync(
                    lambda r, b: s.uploads.list_uploads(
                        arg(r, "status"), arg(r, "start_cursor"), arg(r, "page_size")
                    )
                ),
                False,
            ),
            (
                "GET",
                upload,
                sync(
                    lambda r, b: s.uploads.get(str(r.path_params["file_upload_id"])).render(base(r))
                ),
                False,
            ),
            ("POST", upload + "/send", self._send_upload, True),
        ]
        return [Endpoint(m, t, h, w) for m, t, h, w in table]

    def _routes(self) -> list[Route]:
        routes = [Route(e.template, self._wrap(e), methods=[e.method]) for e in self._endpoints()]
        unmatched = Endpoint("ANY", "/v1/{path:path}", self._invalid_url, False)
        routes.append(Route(unmatched.template, self._wrap(unmatched), methods=ALL_METHODS))
        routes.append(Route("/__sandbox/state", self._admin_state, methods=["GET"]))
        routes.append(Route("/__sandbox/faults", self._admin_faults, methods=["GET", "PUT"]))
        return routes

    # the pipeline -----------------------------------------------------------------------------
    def _wrap(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            arrived = time.monotonic()
            response = await self._pipeline(endpoint, request)
            self.counter.record(
                f"{request.method} {endpoint.template}", response.status_code, at=arrived
            )
            return response

        return handle

    async def _pipeline(self, endpoint: Endpoint, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            self._check_headers(request)
            fault = self.faults.draw(endpoint.write)
            delay = self.faults.slow()
            if delay:
                await self.clock.sleep(delay)
            if fault is not None and not fault.after_write:
                return self._fault(fault.status, request_id)
            body = await self._body(request, endpoint)
            await self._hook("before", endpoint, request, body)
            result = await endpoint.handler(request, body)
            await self._hook("applied", endpoint, request, body)
            if fault is not None:
                return self._fault(fault.status, request_id)
        except NotionError as error:
            return JSONResponse(error.body(request_id), error.status, headers=error.headers)
        result.setdefault("request_id", request_id)
        return JSONResponse(result)

    async def _hook(
        self, moment: WriteMoment, endpoint: Endpoint, request: Request, body: JSON
    ) -> None:
        if endpoint.write and self.write_hook is not None:
            await self.write_hook(WriteCall(moment, endpoint.name, request.url.path, body))

    def _check_headers(self, request: Request) -> None:
        version = request.headers.get("notion-version")
        if not version:
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be "
                "defined, instead was `undefined`.",
            )
        if version != API_VERSION:
            raise validation_error(
                f"Notion-Version header failed validation: this simulator speaks "
                f"`{API_VERSION}`, instead was `{version}`."
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or (self.api_key and token != self.api_key):
            raise NotionError(401, "unauthorized", "API token is invalid.")
        if self.limiter is not None:
            retry_after = self.limiter.check(token)
            if retry_after is not None:
                raise NotionError(
                    429,
                    "rate_limited",
                    RATE_LIMITED_MESSAGE,
                    additional_data={"rate_limit_reason": "public_api_request_rate_limit"},
                    headers={"Retry-After": str(retry_after)},
                )

    async def _body(self, request: Request, endpoint: Endpoint) -> JSON:
        if endpoint.template.endswith("/send") or request.method in ("GET", "DELETE"):
            return {}
        raw = await request.body()
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise validation_error(
                f"body failed validation: the request body is {len(raw)} bytes, more than the "
                f"limit of `{MAX_PAYLOAD_BYTES}` bytes (500 KB)."
            )
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NotionError(400, "invalid_json", "Error parsing JSON body.") from exc
        if not isinstance(parsed, dict):
            raise NotionError(400, "invalid_json", "Error parsing JSON body: expected an object.")
        return parsed

    def _fault(self, status: int, request_id: str) -> Response:
        content, media_type, headers = self.faults.response(status, request_id)
        return Response(content, status, headers=headers, media_type=media_type)

    # special handlers -------------------------------------------------------------------------
    async def _invalid_url(self, request: Request, body: JSON) -> JSON:
        raise NotionError(400, "invalid_request_url", "Invalid request URL.")

    async def _send_upload(self, request: Request, body: JSON) -> JSON:
        upload_id = str(request.path_params["file_upload_id"])
        self.state.uploads.get(upload_id)  # 404 before reading the body
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise validation_error("Content-Type must be multipart/form-data for this endpoint.")
        async with request.form() as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise validation_error("body failed validation: body.file should be a file.")
            if form.get("part_number") not in (None, "1"):
                raise validation_error("part_number is only valid for multi_part uploads.")
            data = await part.read()
            upload = self.state.uploads.send(upload_id, data, part.filename, part.content_type)
        return upload.render(str(request.base_url).rstrip("/"))

    async def _admin_state(self, request: Request) -> Response:
        return JSONResponse(self.dump())

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                self.set_faults(FaultConfig.from_json(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(self.faults.config.to_json())


def create_app(**kwargs: Any) -> Starlette:
    """``NotionSimulator(**kwargs).app``; the simulator is at ``app.state.simulator``."""
    simulator = NotionSimulator(**kwargs)
    simulator.app.state.simulator = simulator
    return simulator.app
