"""``POST {WEBHOOK_PATH}``: verified webhook deliveries into the durable inbox.

The steps, each answering with a JSON error when it fails, and nothing stored before the end:

1. ``Content-Type`` must be ``application/json`` (a ``charset`` parameter, if any, must be
   UTF-8) → else **415**.
2. The raw body is read with a hard cap of :data:`MAX_BODY_BYTES`: a larger
   ``Content-Length`` is refused before reading, and reading stops as soon as the cap is
   passed → **413**.
3. The signature is checked over the raw bytes with every configured key, either scheme
   → **401** ``{"error": "invalid_signature", "detail": ...}``.
4. The body is decoded (UTF-8 JSON) and routed (:mod:`opsync.web.routing`) → **400**
   ``{"error": "invalid_payload", "detail": ...}``.
5. One insert keyed by the event id (the envelope ``id``, stable across retries and across
   the Standard Webhooks ``webhook-id`` deliveries) with the raw body as payload: **202**
   ``accepted`` for a new handled event, **202** ``ignored`` for a type opsync does not handle
   (stored as ``ignored``), **200** ``duplicate`` for a known id. The answer is sent only after
   the commit; if the store cannot be reached the answer is **503** with ``Retry-After`` so
   OpenPhone retries — never a 2xx for an event that was not stored. (Any other store
   failure is a bug and propagates: the server answers 500, which OpenPhone retries too.)

Accepting a webhook calls neither OpenPhone nor Notion. Nothing secret is logged or answered:
the log line per delivery carries the action ``webhook_received``, the event type and the
outcome — at DEBUG for a stored (or duplicate) delivery, at INFO for a refused one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsync.errors import InvalidPayload, SignatureInvalid, StoreUnavailable
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import NewEvent, Store
from opsync.web.batching import InboxBatcher
from opsync.web.routing import EventRoute, route_event

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Largest webhook body accepted (1 MiB); OpenPhone's deliveries are a few kilobytes."""

RETRY_AFTER_S = 10
"""Retry-After of a 503: a hint; OpenPhone retries on its own schedule anyway."""

WebhookObserver = Callable[[str | None, str], None]
"""``on_received(event_type, outcome)``: called once per answered delivery, with the event
type as sent (``None`` if refused before it was read) and the outcome the log line names."""


class Rejected(Exception):
    """A delivery refused with ``status`` and a JSON error body (internal control flow)."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.detail is not None:
            body["detail"] = self.detail
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def check_content_type(value: str | None) -> None:
    """Raise :class:`Rejected` (415) unless ``value`` is JSON, UTF-8 if a charset is given."""
    media_type, *params = (value or "").split(";")
    if media_type.strip().lower() != "application/json":
        raise Rejected(415, "unsupported_media_type", "Content-Type must be application/json")
    for param in params:
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise Rejected(415, "unsupported_media_type", "the JSON body must be UTF-8")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, at most ``limit`` bytes; raises :class:`Rejected` (413 or 400)."""
    too_large = Rejected(413, "payload_too_large", f"the body exceeds {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.strip().isascii() and declared.strip().isdigit()):  # not "²"
            raise Rejected(400, "invalid_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode_document(body: bytes) -> object:
    """The JSON value of a UTF-8 body; raises :class:`InvalidPayload`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("webhook body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"webhook body is not JSON: {exc}") from None


def _refuse_constant(name: str) -> object:
    # Python's parser accepts NaN and Infinity; JSON (RFC 8259) has no such values.
    raise ValueError(f"{name} is not a JSON value")


class WebhookIngest:
    """The webhook endpoint. ``verifier=None`` accepts unsigned deliveries (insecure mode,
    allowed only when :func:`opsync.web.app.build_app` was told so)."""

    def __init__(
        self,
        store: Store,
        verifier: WebhookVerifier | None,
        *,
        on_accepted: Callable[[], None] | None = None,
        on_received: WebhookObserver | None = None,
    ) -> None:
        self._store = store
        self._batcher = InboxBatcher(store)
        self._verifier = verifier
        self._on_accepted = on_accepted
        self._on_received = on_received

    async def handle(self, request: Request) -> Response:
        trace: dict[str, str | None] = {"event_type": None, "event_id": None, "delivery_id": None}
        try:
            response, outcome = await self._ingest(request, trace)
        except Rejected as rejected:
            response, outcome = rejected.response(), rejected.error
        # A stored delivery is logged at DEBUG: the inbox row, /metrics and the dispatcher's
        # event_claimed/event_done lines already record it, and at thousands of deliveries a
        # second the line cost as much as storing the event. Refusals stay at INFO.
        log.log(
            logging.DEBUG if response.status_code < 300 else logging.INFO,
            "webhook received",
            extra={
                "action": "webhook_received",
                **trace,
                "outcome": outcome,
                "status": response.status_code,
            },
        )
        if self._on_received is not None:
            self._on_received(trace["event_type"], outcome)
        return response

    async def _ingest(self, request: Request, trace: dict[str, str | None]) -> tuple[Response, str]:
        """The steps of the module docstring; fills ``trace`` with what the log line names."""
        check_content_type(request.headers.get("content-type"))
        body = await read_body(request)
        if self._verifier is not None:
            try:
                delivery = self._verifier.verify(body, request.headers)
            except SignatureInvalid as exc:
                raise Rejected(401, "invalid_signature", str(exc)) from None
            trace["delivery_id"] = delivery.delivery_id
        try:
            route = route_event(decode_document(body))
        except InvalidPayload as exc:
            raise Rejected(400, "invalid_payload", str(exc)) from None
        trace.update(event_type=route.event_type, event_id=route.event_id)
        try:
            # The body is UTF-8 (decode_document checked it): store it exactly as received.
            new = await self._batcher.enqueue(
                NewEvent(
                    route.event_id,
                    route.event_type,
                    route.partition_key,
                    body.decode("utf-8"),
                    source="webhook",
                    state=route.state,
                    partition_call_id=route.lookup_call_id,
                )
            )
        except StoreUnavailable:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
            raise Rejected(503, "store_unavailable", headers=headers) from None
        if not new:
            return _status(200, "duplicate", route), "duplicate"
        if not route.handled:
            return _status(202, "ignored", route), "ignored"
        self._wake()
        return _status(202, "accepted", route), "accepted"

    def _wake(self) -> None:
        if self._on_accepted is None:
            return
        try:
            self._on_accepted()
        except Exception:
            # The event is committed: the dispatcher's poll will find it. Answer 202 anyway,
            # or OpenPhone would retry an event that is already safe.
            log.exception("waking the dispatcher failed", extra={"action": "wake_failed"})


def _status(code: int, status: str, route: EventRoute) -> Response:
    return JSONResponse({"status": status, "event_id": route.event_id}, status_code=code)
