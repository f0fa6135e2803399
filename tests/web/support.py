"""Bodies and signed requests for the web tests."""

from __future__ import annotations

import json
from typing import Any

from opsync.openphone.signatures import sign_legacy, standard_headers
from opsync.store import Store

STANDARD_KEY = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
LEGACY_KEY = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
OTHER_STANDARD_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_LEGACY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
T0 = 1_775_001_600  # FakeClock's default start
WEBHOOK_PATH = "/webhooks/openphone"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
JSON_TYPE = {"content-type": "application/json"}


def legacy_envelope(event_type: str, obj: dict[str, Any], event_id: str = "EV1") -> bytes:
    document = {
        "id": event_id,
        "object": "event",
        "apiVersion": "v4",
        "createdAt": "2026-04-01T00:00:00.000Z",
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def new_envelope(
    event_type: str,
    resource: dict[str, Any],
    context: dict[str, Any] | None = None,
    event_id: str = "EV2",
) -> bytes:
    document = {
        "id": event_id,
        "apiVersion": "2026-03-30",
        "createdAt": "2026-04-01T00:00:00.000Z",
        "type": event_type,
        "data": {"resource": resource, "context": context or {}, "links": {"quo": None}},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def call(call_id: str = "ACcall1", phone_number_id: str = "PNnum1") -> dict[str, Any]:
    return {"id": call_id, "object": "call", "phoneNumberId": phone_number_id}


def summary(call_id: str = "ACcall1") -> dict[str, Any]:
    return {"callId": call_id, "object": "callSummary", "status": "completed", "summary": []}


def standard_signed(
    body: bytes, msg_id: str = "msg_1", ts: int = T0, key: str = STANDARD_KEY
) -> dict[str, str]:
    return {**JSON_TYPE, **standard_headers(key, msg_id, ts, body)}


def legacy_signed(body: bytes, ts_ms: int = T0 * 1000, key: str = LEGACY_KEY) -> dict[str, str]:
    return {**JSON_TYPE, "openphone-signature": sign_legacy(key, ts_ms, body)}


async def inbox_rows(store: Store) -> list[dict[str, Any]]:
    result = await store.execute_query(
        "SELECT event_id, event_type, source, partition_key, payload, state FROM inbox ORDER BY id"
    )
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]
