"""Every endpoint's responses — successes and the errors the spec defines — match the spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData

from opsync.sandbox.openphone import Workspace
from opsync.sandbox.openphone.models import Call
from tests.sandbox.openphone.support import client, make_sim, validate

Params = dict[str, Any]


def _answered(ws: Workspace) -> Call:
    return next(c for c in ws.calls.values() if c.summary and c.summary.status == "completed")


def _voicemail(ws: Workspace) -> Call:
    return next(c for c in ws.calls.values() if c.voicemail and c.voicemail.status == "completed")


def _pair(ws: Workspace) -> Params:
    call = _answered(ws)
    return {"phoneNumberId": call.phone_number_id, "participants": [call.participant]}


def _outsider(ws: Workspace, phone_number_id: str) -> str:
    members = {u["id"] for u in ws.phone_number(phone_number_id)["users"]}
    return str(next(u["id"] for u in ws.users if u["id"] not in members))


def _msg_pair(ws: Workspace) -> Params:
    msg = next(iter(ws.messages.values()))
    own = ws.phone_number(msg.phone_number_id)["number"]
    return {"phoneNumberId": msg.phone_number_id, "participants": sorted(msg.counterparts(own))}


@dataclass
class Case:
    name: str
    status: int
    method: str
    path: Callable[[Workspace], str]
    params: Callable[[Workspace], Params] = lambda ws: {}
    body: Any = None
    key: str | None = "test-key"
    config: dict[str, Any] = field(default_factory=dict)


HOOK = {"url": "https://example.com/hook", "events": ["call.completed"]}
CASES = [
    Case("phone-numbers", 200, "GET", lambda ws: "/v1/phone-numbers"),
    Case("phone-numbers 401", 401, "GET", lambda ws: "/v1/phone-numbers", key=None),
    Case("phone-number", 200, "GET", lambda ws: f"/v1/phone-numbers/{ws.phone_numbers[0]['id']}"),
    Case("phone-number 404", 404, "GET", lambda ws: "/v1/phone-numbers/PNnope"),
    Case("phone-number 400", 400, "GET", lambda ws: "/v1/phone-numbers/XXnope"),
    Case("users", 200, "GET", lambda ws: "/v1/users", lambda ws: {"maxResults": 2}),
    Case("users 400", 400, "GET", lambda ws: "/v1/users", lambda ws: {"maxResults": 51}),
    Case("user", 200, "GET", lambda ws: f"/v1/users/{ws.users[0]['id']}"),
    Case("user 404", 404, "GET", lambda ws: "/v1/users/USnope"),
    Case("contacts", 200, "GET", lambda ws: "/v1/contacts", lambda ws: {"maxResults": 3}),
    Case("contacts 400", 400, "GET", lambda ws: "/v1/contacts", lambda ws: {"maxResults": 0}),
    Case("contact", 200, "GET", lambda ws: f"/v1/contacts/{ws.contacts[0]['id']}"),
    Case("contact 404", 404, "GET", lambda ws: "/v1/contacts/000000000000"),
    Case("custom fields", 200, "GET", lambda ws: "/v1/contact-custom-fields"),
    Case("conversations", 200, "GET", lambda ws: "/v1/conversations", lambda ws: {"maxResults": 4}),
    Case("conversations 400", 400, "GET", lambda ws: "/v1/conversations", lambda ws: {}),
    Case("calls", 200, "GET", lambda ws: "/v1/calls", lambda ws: {**_pair(ws), "maxResults": 2}),
    Case("calls 400", 400, "GET", lambda ws: "/v1/calls", lambda ws: {"maxResults": 2}),
    Case("calls 404", 404, "GET", lambda ws: "/v1/calls",
         lambda ws: {"phoneNumberId": "PNnope", "participants": "+15555550100", "maxResults": 2}),
    Case("calls 403", 403, "GET", lambda ws: "/v1/calls",
         lambda ws: {**_pair(ws), "maxResults": 2,
                     "userId": _outsider(ws, _pair(ws)["phoneNumberId"])}),
    Case("messages 403", 403, "GET", lambda ws: "/v1/messages",
         lambda ws: {**_msg_pair(ws), "maxResults": 2,
                     "userId": _outsider(ws, _msg_pair(ws)["phoneNumberId"])}),
    Case("call", 200, "GET", lambda ws: f"/v1/calls/{_answered(ws).id}"),
    Case("call 404", 404, "GET", lambda ws: "/v1/calls/ACnope"),
    Case("recordings", 200, "GET", lambda ws: f"/v1/call-recordings/{_answered(ws).id}"),
    Case("recordings 404", 404, "GET", lambda ws: "/v1/call-recordings/ACnope"),
    Case("summary", 200, "GET", lambda ws: f"/v1/call-summaries/{_answered(ws).id}"),
    Case("summary absent", 200, "GET", lambda ws: f"/v1/call-summaries/{_voicemail(ws).id}"),
    Case("summary 404", 404, "GET", lambda ws: f"/v1/call-summaries/{_voicemail(ws).id}",
         config={"pending_artifacts": "404"}),
    Case("transcript", 200, "GET", lambda ws: f"/v1/call-transcripts/{_answered(ws).id}"),
    Case("transcript absent", 200, "GET", lambda ws: f"/v1/call-transcripts/{_voicemail(ws).id}"),
    Case("transcript 404", 404, "GET", lambda ws: "/v1/call-transcripts/ACnope"),
    Case("voicemail", 200, "GET", lambda ws: f"/v1/call-voicemails/{_voicemail(ws).id}"),
    Case("voicemail 404", 404, "GET", lambda ws: f"/v1/call-voicemails/{_answered(ws).id}"),
    Case("messages", 200, "GET", lambda ws: "/v1/messages",
         lambda ws: {**_msg_pair(ws), "maxResults": 5}),
    Case("messages 400", 400, "GET", lambda ws: "/v1/messages",
         lambda ws: {"phoneNumberId": _msg_pair(ws)["phoneNumberId"], "maxResults": 5}),
    Case("message", 200, "GET", lambda ws: f"/v1/messages/{next(iter(ws.messages))}"),
    Case("message 404", 404, "GET", lambda ws: "/v1/messages/ACnope"),
    Case("webhooks", 200, "GET", lambda ws: "/v1/webhooks"),
    Case("webhook 404", 404, "GET", lambda ws: "/v1/webhooks/WHnope"),
    Case("webhook delete 404", 404, "DELETE", lambda ws: "/v1/webhooks/WHnope"),
    Case("create calls hook", 201, "POST", lambda ws: "/v1/webhooks/calls", body=HOOK),
    Case("create calls hook 400", 400, "POST", lambda ws: "/v1/webhooks/calls",
         body={**HOOK, "events": ["message.received"]}),
    Case("create messages hook", 201, "POST", lambda ws: "/v1/webhooks/messages",
         body={"url": "https://example.com/m", "events": ["message.received"], "label": "m"}),
    Case("create summaries hook", 201, "POST", lambda ws: "/v1/webhooks/call-summaries",
         body={"url": "https://example.com/s", "events": ["call.summary.completed"]}),
    Case("create transcripts hook", 201, "POST", lambda ws: "/v1/webhooks/call-transcripts",
         body={"url": "https://example.com/t", "events": ["call.transcript.completed"],
               "resourceIds": ["*"]}),
    Case("create hook 401", 401, "POST", lambda ws: "/v1/webhooks/messages", body=HOOK, key=None),
]  # fmt: skip


async def _send(http: httpx.AsyncClient, case: Case, ws: Workspace) -> httpx.Response:
    return await http.request(case.method, case.path(ws), params=case.params(ws), json=case.body)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_response_matches_spec(case: Case) -> None:
    sim = make_sim(**case.config)
    async with client(sim, case.key) as http:
        response = await _send(http, case, sim.workspace)
    assert response.status_code == case.status, response.text
    validate(response)


@pytest.mark.parametrize("case", [c for c in CASES if c.status < 300], ids=lambda c: c.name)
async def test_injected_500_matches_spec(case: Case) -> None:
    sim = make_sim()
    sim.faults.configure(p500=1.0)
    async with client(sim) as http:
        response = await _send(http, case, sim.workspace)
    assert response.status_code == 500
    validate(response)


async def test_webhook_get_and_delete_match_spec() -> None:
    sim = make_sim()
    async with client(sim) as http:
        created = await http.post("/v1/webhooks/calls", json=HOOK)
        hook_id = created.json()["data"]["id"]
        for response in (
            await http.get(f"/v1/webhooks/{hook_id}"),
            await http.get("/v1/webhooks"),
            await http.delete(f"/v1/webhooks/{hook_id}"),
        ):
            assert response.status_code in (200, 204)
            validate(response)
        assert (await http.get(f"/v1/webhooks/{hook_id}")).status_code == 404


async def test_validator_rejects_a_broken_body() -> None:
    """The validation is real: a response missing a required field fails it."""
    sim = make_sim()
    async with client(sim) as http:
        response = await http.get(f"/v1/calls/{_answered(sim.workspace).id}")
    broken = response.json()
    del broken["data"]["duration"]
    forged = httpx.Response(200, json=broken, request=response.request)
    with pytest.raises(InvalidData):
        validate(forged)
    with pytest.raises(ResponseNotFound):
        validate(httpx.Response(418, json={}, request=response.request))
