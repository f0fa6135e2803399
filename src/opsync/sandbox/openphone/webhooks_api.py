"""v1 webhook management: list, get, the four create endpoints, delete.

Choices on undocumented behaviour: ``resourceIds`` defaults to ``["*"]``; unknown ``PN…``
ids, a bad URL, an event outside the family, an empty ``events`` or a malformed body → 400
(the spec's only 400 for these paths, ``0305400``). ``key`` is a fresh base64 32-byte secret
(the legacy ``openphone-signature`` signing secret). Listing is per user (default: the
workspace owner); deleted webhooks disappear from list and get (404).
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsync.sandbox.openphone import params
from opsync.sandbox.openphone.errors import ApiError
from opsync.sandbox.openphone.models import iso

if TYPE_CHECKING:
    from opsync.sandbox.openphone.app import OpenPhoneSimulator

FAMILIES: dict[str, tuple[str, ...]] = {
    "calls": ("call.completed", "call.ringing", "call.recording.completed"),
    "messages": ("message.received", "message.delivered"),
    "call-summaries": ("call.summary.completed",),
    "call-transcripts": ("call.transcript.completed",),
}
RESOURCE = "webhooks"
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _bad(path: str, message: str, value: Any = None, kind: str = "string") -> ApiError:
    return params.bad(RESOURCE, path, message, value, kind)


def _validate(sim: OpenPhoneSimulator, family: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("/body", "body must be a JSON object", None, "object")
    url = body.get("url")
    if not isinstance(url, str) or not URL.match(url):
        raise _bad("/body/url", "url must be an absolute http(s) URI", url)
    events = body.get("events")
    allowed = FAMILIES[family]
    if not isinstance(events, list) or not events:
        raise _bad("/body/events", "events must be a non-empty array", events, "array")
    for event in events:
        if event not in allowed:
            raise _bad("/body/events", f"events items must be one of {list(allowed)}", event)
    ws = sim.workspace
    resource_ids = body.get("resourceIds", ["*"])
    known = {n["id"] for n in ws.phone_numbers}
    if not isinstance(resource_ids, list) or not resource_ids:
        raise _bad("/body/resourceIds", "resourceIds must be a non-empty array", None, "array")
    if resource_ids != ["*"]:
        for ref in resource_ids:
            if not isinstance(ref, str) or ref not in known:
                raise _bad("/body/resourceIds", "unknown phone number id", ref)
    user_id = body.get("userId", ws.owner_id)
    if user_id not in {u["id"] for u in ws.users}:
        raise _bad("/body/userId", "unknown user", user_id)
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        raise _bad("/body/label", "label must be a string", label)
    status = body.get("status", "enabled")
    if status not in ("enabled", "disabled"):
        raise _bad("/body/status", "status must be enabled or disabled", status)
    now = iso(sim.now())
    return {
        "id": ws.new_id("WH", 10),
        "userId": user_id,
        "orgId": ws.org_id,
        "label": label,
        "status": status,
        "url": url,
        "key": base64.b64encode(ws.rng.randbytes(32)).decode(),
        "events": list(events),
        "resourceIds": list(resource_ids),
        "createdAt": now,
        "updatedAt": now,
        "deletedAt": None,
    }


def _create(family: str) -> Any:
    async def create(sim: OpenPhoneSimulator, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise _bad("/body", "body must be valid JSON", None, "object") from None
        webhook = _validate(sim, family, body)
        sim.workspace.webhooks[webhook["id"]] = webhook
        return JSONResponse({"data": webhook}, status_code=201)

    return create


def _live(sim: OpenPhoneSimulator, request: Request) -> dict[str, Any]:
    ref = request.path_params["id"]
    params.check_path(ref, r"^WH(.*)$", "id", RESOURCE)
    webhook = sim.workspace.webhooks.get(ref)
    if webhook is None or webhook["deletedAt"] is not None:
        raise ApiError(RESOURCE, 404, f"Webhook {ref} not found")
    return webhook


async def list_webhooks(sim: OpenPhoneSimulator, request: Request) -> Response:
    user_id = params.optional(request.query_params, "userId", RESOURCE, r"^US(.*)$")
    user_id = user_id or sim.workspace.owner_id
    hooks = [
        w
        for w in sim.workspace.webhooks.values()
        if w["deletedAt"] is None and w["userId"] == user_id
    ]
    return JSONResponse({"data": hooks})


async def get_webhook(sim: OpenPhoneSimulator, request: Request) -> Response:
    return JSONResponse({"data": _live(sim, request)})


async def delete_webhook(sim: OpenPhoneSimulator, request: Request) -> Response:
    webhook = _live(sim, request)
    webhook["deletedAt"] = iso(sim.now())
    return Response(status_code=204)


ROUTES = [
    ("GET", "/v1/webhooks", RESOURCE, list_webhooks),
    ("GET", "/v1/webhooks/{id}", RESOURCE, get_webhook),
    ("DELETE", "/v1/webhooks/{id}", RESOURCE, delete_webhook),
    *[("POST", f"/v1/webhooks/{family}", RESOURCE, _create(family)) for family in FAMILIES],
]
