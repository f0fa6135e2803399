"""The OpenPhone v1 API simulator as a Starlette app around a mutable :class:`Workspace`.

Every ``/v1`` request goes through, in order: the ``Authorization`` check (raw key, no
``Bearer``; missing or wrong → 401), the per-key rate limit (→ 429), fault injection, then
the handler. Every request, whatever its outcome, is counted per endpoint template
(``sim.counters["GET /v1/calls"]``). Media downloads (``/media/...``) need no key — like the
storage URLs the real API hands out — and are not rate-limited, but are counted and subject
to faults unless exempted.

Choices on undocumented behaviour are recorded in :mod:`.errors`, :mod:`.params`,
:mod:`.control` and :mod:`.calls_api`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from opsync.clock import Clock, SystemClock
from opsync.sandbox.openphone import calls_api, media, resources_api, webhooks_api
from opsync.sandbox.openphone.control import FaultInjector, RateLimiter, RequestCounters
from opsync.sandbox.openphone.errors import ApiError, error_response
from opsync.sandbox.openphone.webhooks import DeliveryOptions, Target, WebhookEmitter
from opsync.sandbox.openphone.workspace import Workspace

Handler = Callable[["OpenPhoneSimulator", Request], Awaitable[Response]]
GATEWAY_TEXT = {502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}


@dataclass
class SimulatorConfig:
    #: the only key accepted; ``None`` accepts any non-empty key (but never ``Bearer …``)
    api_key: str | None = None
    rate_limit: int = 10
    retry_after_header: bool = False
    #: summary/transcript not ready yet: a ``status`` object (200) or a ``404``
    pending_artifacts: Literal["status", "404"] = "status"
    #: list calls without ``userId``: all users' calls (False) or only the number owner's
    calls_default_to_owner: bool = False
    fault_seed: int = 0


class OpenPhoneSimulator:
    """State + behaviour switches + the ASGI ``app`` serving them."""

    def __init__(
        self,
        workspace: Workspace,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = config or SimulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self.limiter = RateLimiter(self.clock, self.config.rate_limit)
        self.faults = FaultInjector(self.config.fault_seed)
        self.counters = RequestCounters()
        self.app = Starlette(routes=self._routes())

    def now(self) -> float:
        return self.clock.now()

    def emitter(
        self,
        base_url: str,
        targets: list[Target] | None = None,
        options: DeliveryOptions | None = None,
    ) -> WebhookEmitter:
        """A webhook emitter on this workspace and clock; ``base_url`` = where this app is served
        (for media links). Webhooks registered through the REST API are included as targets."""
        emitter = WebhookEmitter(
            self.workspace,
            self.clock,
            list(targets or []),
            options or DeliveryOptions(),
            media_base_url=base_url,
        )
        emitter.add_registered_webhooks()
        return emitter

    def _routes(self) -> list[Route]:
        routes: list[Route] = []
        for method, template, resource, handler in [
            *calls_api.ROUTES,
            *resources_api.ROUTES,
            *webhooks_api.ROUTES,
        ]:
            endpoint = self._endpoint(method, template, resource, handler)
            routes.append(Route(template, endpoint, methods=[method]))
        media_template = "/media/{kind}/{name}"
        routes.append(
            Route(
                media_template,
                self._endpoint("GET", media_template, None, serve_media),
                methods=["GET"],
            )
        )
        return routes

    def _authorize(self, key: str | None, resource: str) -> None:
        if not key or key.lower().startswith("bearer "):
            raise ApiError(resource, 401, "Missing or invalid API key in Authorization header")
        if self.config.api_key is not None and key != self.config.api_key:
            raise ApiError(resource, 401, "Invalid API key")

    def _endpoint(
        self, method: str, template: str, resource: str | None, handler: Handler
    ) -> Callable[[Request], Awaitable[Response]]:
        name = f"{method} {template}"

        async def run(request: Request) -> Response:
            key = request.headers.get("authorization")
            response = await self._dispatch(request, key, resource, handler)
            self.counters.record(name, response.status_code, key)
            return response

        return run

    async def _dispatch(
        self, request: Request, key: str | None, resource: str | None, handler: Handler
    ) -> Response:
        try:
            if resource is not None:
                self._authorize(key, resource)
                if not self.limiter.allow(key or ""):
                    headers = {"Retry-After": "1"} if self.config.retry_after_header else None
                    error = ApiError(resource, 429, "Rate limit exceeded: 10 requests per second")
                    return error_response(error, headers)
            status, delay = self.faults.draw(request.url.path)
            if delay:
                await self.clock.sleep(delay)
            if status in GATEWAY_TEXT:
                return PlainTextResponse(GATEWAY_TEXT[status], status_code=status)
            if status is not None:
                if resource is None:
                    return PlainTextResponse("Internal Server Error", status_code=status)
                message = "Rate limit exceeded" if status == 429 else "Unknown error"
                retry = status == 429 and self.config.retry_after_header
                return error_response(
                    ApiError(resource, status, message), {"Retry-After": "1"} if retry else None
                )
            return await handler(self, request)
        except ApiError as error:
            return error_response(error)


async def serve_media(sim: OpenPhoneSimulator, request: Request) -> Response:
    """Recording/voicemail audio (silent MP3 of the right length) and message attachments."""
    kind = request.path_params["kind"]
    name: str = request.path_params["name"]
    stem, _, ext = name.rpartition(".")
    ws = sim.workspace
    if kind == "recordings" and ext == "mp3":
        for call in ws.calls.values():
            for rec in call.recordings:
                if rec.id == stem and rec.status == "completed":
                    return Response(media.silent_mp3(rec.duration or 1), media_type="audio/mpeg")
    elif kind == "voicemails" and ext == "mp3":
        for call in ws.calls.values():
            vm = call.voicemail
            if vm is not None and vm.id == stem and vm.status == "completed":
                return Response(media.silent_mp3(vm.duration or 1), media_type="audio/mpeg")
    elif kind == "files":
        for message in ws.messages.values():
            for item in message.media:
                if item.name == name:
                    return Response(media.tiny_png(), media_type="image/png")
    return PlainTextResponse("Not Found", status_code=404)
