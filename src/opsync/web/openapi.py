"""The OpenAPI 3.1 description of opsync's own open HTTP surface: the webhook and ``/health``.

:func:`openapi_document` describes what :mod:`opsync.web.ingest` and :mod:`opsync.web.health`
actually do, answer by answer, so that a client (or a fuzzer) can rely on it:

* the request body is the webhook envelope of the OpenPhone reference — the legacy one
  (``data.object``) or the new one (``data.resource``) — with the fields opsync requires;
  unknown fields are allowed everywhere, as OpenPhone adds fields without notice;
* the signature headers of both schemes are listed; which ones a delivery must carry depends
  on the configured keys, so none is marked required (a delivery without a valid signature is
  answered 401);
* every answer of the endpoint has its JSON body: 200 ``duplicate``, 202 ``accepted`` or
  ``ignored``, 400, 401, 413, 415 and 503 (with ``Retry-After``).

The admin routes are not described: they are private to the operator. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, get_args

from opsync import __version__
from opsync.store.rows import InboxState
from opsync.web.ingest import MAX_BODY_BYTES, RETRY_AFTER_S
from opsync.web.routing import HANDLED_EVENT_TYPES, MAX_ID_LENGTH

__all__ = ["openapi_document"]

JSON = dict[str, Any]
OPENAPI_VERSION = "3.1.0"


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: JSON) -> JSON:
    return {"application/json": {"schema": schema}}


def _identifier(description: str) -> JSON:
    # ``\S``: not blank. Control characters are refused too (400), which a pattern cannot say
    # portably; the description does.
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        "pattern": r"\S",
        "description": description + " Printable text, without control characters.",
    }


def _envelope_schemas() -> dict[str, JSON]:
    nullable_text = {"type": ["string", "null"]}
    return {
        "WebhookEnvelope": {
            "type": "object",
            "description": (
                "One OpenPhone (Quo) webhook event, legacy or new envelope. Only `id` and "
                "`type` are checked for an event type opsync does not handle (it is stored as "
                "ignored, whatever its `data`); a handled event needs the whole envelope."
            ),
            "required": ["id", "type", "createdAt", "data"],
            "properties": {
                "id": _identifier(
                    "The event id (`EV…`), stable across retries: the deduplication key."
                ),
                "object": {"type": "string", "examples": ["event"]},
                "apiVersion": {"type": "string", "examples": ["v4", "2026-03-30"]},
                "createdAt": {"type": "string", "format": "date-time"},
                "type": {
                    **_identifier(
                        "The event name. `callSummary` and `callTranscript` (as in the official "
                        "samples) are read as `call.summary.completed` and "
                        "`call.transcript.completed`."
                    ),
                    "examples": sorted(HANDLED_EVENT_TYPES),
                },
                "data": _ref("EventData"),
            },
            "additionalProperties": True,
        },
        "EventData": {
            "type": "object",
            "description": "`object` (legacy envelope) or `resource` (new envelope).",
            "properties": {
                "object": _ref("Resource"),
                "resource": _ref("Resource"),
                "context": {
                    "type": "object",
                    "description": "New envelope: phone number, participants, contacts.",
                    "properties": {"phoneNumberId": nullable_text},
                    "additionalProperties": True,
                },
                "links": {"type": "object", "additionalProperties": True},
            },
            "anyOf": [{"required": ["object"]}, {"required": ["resource"]}],
            "additionalProperties": True,
        },
        "Resource": {
            "type": "object",
            "description": (
                "The call, message, summary or transcript the event is about, as in the "
                "OpenPhone v1 API. Call events name the call in `id` (or `callId`), summaries "
                "and transcripts in `callId`, messages in `id`."
            ),
            "properties": {
                "object": {
                    "type": "string",
                    "examples": ["call", "message", "callSummary", "callTranscript"],
                },
                "id": nullable_text,
                "callId": nullable_text,
                "phoneNumberId": nullable_text,
            },
            "additionalProperties": True,
        },
    }


def _answer_schemas() -> dict[str, JSON]:
    states = list(get_args(InboxState))
    counts = {"type": "integer", "minimum": 0}
    return {
        "WebhookStatus": {
            "type": "object",
            "required": ["status", "event_id"],
            "properties": {
                "status": {"type": "string", "enum": ["accepted", "ignored", "duplicate"]},
                "event_id": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "A stable machine-readable code."},
                "detail": {"type": "string", "description": "What was wrong, for a person."},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "inbox", "depth"],
            "properties": {
                "status": {"const": "healthy"},
                "inbox": {
                    "type": "object",
                    "required": states,
                    "properties": dict.fromkeys(states, counts),
                    "additionalProperties": False,
                },
                "depth": {**counts, "description": "Events pending or in flight."},
            },
        },
        "Unhealthy": {
            "type": "object",
            "required": ["status", "reason"],
            "properties": {"status": {"const": "unhealthy"}, "reason": {"type": "string"}},
        },
    }


def _status(description: str, statuses: list[str]) -> JSON:
    schema = {"allOf": [_ref("WebhookStatus"), {"properties": {"status": {"enum": statuses}}}]}
    return {"description": description, "content": _json_content(schema)}


def _error(description: str, codes: list[str], *, headers: JSON | None = None) -> JSON:
    schema = {"allOf": [_ref("Error"), {"properties": {"error": {"enum": codes}}}]}
    answer: JSON = {"description": description, "content": _json_content(schema)}
    if headers:
        answer["headers"] = headers
    return answer


def _header(name: str, description: str, **schema: Any) -> JSON:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _signature_headers() -> list[JSON]:
    return [
        _header(
            "openphone-signature",
            "Legacy scheme: `hmac;1;<timestamp ms>;<base64 HMAC-SHA256 of '<timestamp>.<body>'>` "
            "(several comma-separated). Checked with the configured base64 keys.",
            examples=["hmac;1;1639710054089;mw1K4fvh5m9XzsGon4C5N3KvL0bkmPZSAyb/9Vms2Qo="],
        ),
        _header("webhook-id", "Standard Webhooks: the delivery id.", examples=["msg_2abcDEFghi"]),
        _header(
            "webhook-timestamp",
            "Standard Webhooks: Unix seconds when the delivery was signed.",
            pattern="^[0-9]+$",
        ),
        _header(
            "webhook-signature",
            "Standard Webhooks: space-separated `v1,<base64>` entries over "
            "'<webhook-id>.<webhook-timestamp>.<body>', checked with the configured `whsec_` keys.",
            examples=["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
        ),
    ]


def _webhook_operation() -> JSON:
    retry_after = {
        "Retry-After": {
            "description": "Seconds after which to try again (a hint).",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "example": str(RETRY_AFTER_S),
        }
    }
    return {
        "operationId": "receiveWebhook",
        "summary": "Receive an OpenPhone (Quo) webhook delivery",
        "description": (
            "The raw body is verified (either signature scheme, timestamp within 5 minutes "
            "either way), routed and stored in the durable inbox before the answer is sent. "
            f"Bodies over {MAX_BODY_BYTES} bytes are refused. Content-Type must be "
            "`application/json` (UTF-8)."
        ),
        "parameters": _signature_headers(),
        "requestBody": {"required": True, "content": _json_content(_ref("WebhookEnvelope"))},
        "responses": {
            "200": _status("A known event id: already stored, not processed again.", ["duplicate"]),
            "202": _status(
                "Stored: `accepted` (a handled event, processed soon) or `ignored` (a type "
                "opsync does not handle).",
                ["accepted", "ignored"],
            ),
            "400": _error(
                "Not a usable event: not UTF-8 JSON, not an object, a missing or malformed id, "
                "type or resource id, or a bad Content-Length.",
                ["invalid_payload", "invalid_request"],
            ),
            "401": _error(
                "No valid signature: missing, wrong key, or timestamp outside the window.",
                ["invalid_signature"],
            ),
            "413": _error(f"The body exceeds {MAX_BODY_BYTES} bytes.", ["payload_too_large"]),
            "415": _error(
                "Content-Type is not application/json, or its charset is not UTF-8.",
                ["unsupported_media_type"],
            ),
            "503": _error(
                "The store is unreachable: nothing was stored; try again.",
                ["store_unavailable"],
                headers=retry_after,
            ),
        },
    }


def _health_operation() -> JSON:
    return {
        "operationId": "health",
        "summary": "Whether the store answers, and the inbox counts per state",
        "description": "Reveals no configuration: only counts.",
        "responses": {
            "200": {"description": "Healthy.", "content": _json_content(_ref("Health"))},
            "503": {
                "description": "The store cannot be reached or fails.",
                "headers": {
                    "Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}},
                    "Cache-Control": {"schema": {"type": "string"}},
                },
                "content": _json_content(_ref("Unhealthy")),
            },
        },
    }


def openapi_document(webhook_path: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the webhook at ``webhook_path`` and of ``/health``.

    ``webhook_path`` is read as :func:`~opsync.web.app.build_app` reads it (a missing leading
    ``/`` is added). A new dict each call: the caller may change it.
    """
    path = webhook_path if webhook_path.startswith("/") else "/" + webhook_path
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "opsync",
            "version": __version__,
            "description": (
                "Mirrors OpenPhone (Quo) calls and messages into Notion. This document covers "
                "the open routes: the webhook OpenPhone delivers to, and the health check."
            ),
        },
        "paths": {
            path: {"post": _webhook_operation()},
            "/health": {"get": _health_operation()},
        },
        "components": {"schemas": {**_envelope_schemas(), **_answer_schemas()}},
    }
