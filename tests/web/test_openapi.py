"""The OpenAPI description is valid OpenAPI 3.1, and the real answers of the app conform to it
(each documented status is produced here and validated with openapi-core)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_core.validation.response.exceptions import InvalidData
from openapi_spec_validator import OpenAPIV31SpecValidator

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import HANDLED_EVENT_TYPES, MAX_BODY_BYTES, build_app
from opsync.web.openapi import openapi_document
from tests.web.support import (
    JSON_TYPE,
    WEBHOOK_PATH,
    call,
    legacy_envelope,
    legacy_signed,
    new_envelope,
    standard_signed,
)

HOST = "http://opsync.test"


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(openapi_document(WEBHOOK_PATH))


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document(WEBHOOK_PATH)
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert errors == []
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {WEBHOOK_PATH, "/health"}


def test_the_path_is_read_as_build_app_reads_it_and_each_call_is_fresh() -> None:
    first = openapi_document("hooks/in")
    assert set(first["paths"]) == {"/hooks/in", "/health"}
    first["paths"]["/hooks/in"]["post"]["parameters"].clear()
    again = openapi_document("hooks/in")
    assert len(again["paths"]["/hooks/in"]["post"]["parameters"]) == 4


def test_every_answer_of_the_webhook_is_documented_with_its_json_body() -> None:
    operation = openapi_document(WEBHOOK_PATH)["paths"][WEBHOOK_PATH]["post"]
    assert set(operation["responses"]) == {"200", "202", "400", "401", "413", "415", "503"}
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {
        "openphone-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert not any(p["required"] for p in operation["parameters"])
    for status, answer in operation["responses"].items():
        assert "application/json" in answer["content"], status
    envelope = openapi_document(WEBHOOK_PATH)["components"]["schemas"]["WebhookEnvelope"]
    assert envelope["required"] == ["id", "type", "createdAt", "data"]
    assert set(envelope["properties"]["type"]["examples"]) == HANDLED_EVENT_TYPES


def _check(
    spec: OpenAPI, response: httpx.Response, *, validate_request: bool = True
) -> httpx.Response:
    """Validate the answer (and, unless told, the request) against the document."""
    sent = response.request
    headers = dict(sent.headers)
    request = MockRequest(
        HOST,
        sent.method,
        sent.url.path,
        headers=headers,
        data=sent.content or None,
        content_type=headers.get("content-type", "application/json"),
    )
    if validate_request:
        spec.validate_request(request)
    answer = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", ""),
    )
    spec.validate_response(request, answer)
    return response


async def test_signed_deliveries_and_their_answers_conform(
    spec: OpenAPI, client: httpx.AsyncClient
) -> None:
    legacy = legacy_envelope("call.completed", call())
    new = new_envelope("message.received", {"id": "ACm1"}, {"phoneNumberId": "PN1"}, "EVnew")
    ignored = new_envelope("contact.updated", {"id": "CT1"}, event_id="EVcontact")
    answers = [
        await client.post(WEBHOOK_PATH, content=legacy, headers=legacy_signed(legacy)),
        await client.post(WEBHOOK_PATH, content=new, headers=standard_signed(new)),
        await client.post(WEBHOOK_PATH, content=ignored, headers=standard_signed(ignored)),
        await client.post(WEBHOOK_PATH, content=legacy, headers=legacy_signed(legacy)),
    ]
    for response in answers:
        _check(spec, response)
    assert [(r.status_code, r.json()["status"]) for r in answers] == [
        (202, "accepted"),
        (202, "accepted"),
        (202, "ignored"),
        (200, "duplicate"),
    ]


def _refusals() -> Iterator[tuple[int, bytes, dict[str, str]]]:
    body = legacy_envelope("call.completed", call())
    yield 401, body, dict(JSON_TYPE)
    yield 415, body, {**legacy_signed(body), "content-type": "text/plain"}
    yield 400, b"{nope", legacy_signed(b"{nope")
    big = b" " * (MAX_BODY_BYTES + 1)
    yield 413, big, legacy_signed(big)


@pytest.mark.parametrize(("status", "body", "headers"), list(_refusals()))
async def test_refusals_conform(
    spec: OpenAPI, client: httpx.AsyncClient, status: int, body: bytes, headers: dict[str, str]
) -> None:
    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == status
    # The request itself breaks the document (no JSON, wrong type): only the answer is checked.
    _check(spec, response, validate_request=False)


async def test_health_conforms(spec: OpenAPI, client: httpx.AsyncClient) -> None:
    response = _check(spec, await client.get("/health"))
    assert response.json()["status"] == "healthy"


async def test_answers_of_an_unreachable_store_conform(
    spec: OpenAPI, clock: FakeClock, verifier: WebhookVerifier
) -> None:
    down = await Store.open("postgresql://opsync@127.0.0.1:1/opsync", migrate=False, clock=clock)
    try:
        app = build_app(store=down, verifier=verifier, webhook_path=WEBHOOK_PATH, admin_token=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=HOST) as http:
            body = legacy_envelope("call.completed", call())
            webhook = await http.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
            health = await http.get("/health")
    finally:
        await down.close()
    assert (webhook.status_code, health.status_code) == (503, 503)
    _check(spec, webhook)
    _check(spec, health)


def test_a_body_the_document_refuses_is_told_apart(spec: OpenAPI) -> None:
    # The document is not vacuous: a body without the envelope's required fields breaks it.
    body = json.dumps({"id": "EV1"}).encode()
    request = MockRequest(HOST, "POST", WEBHOOK_PATH, headers=dict(JSON_TYPE), data=body)
    with pytest.raises(InvalidRequestBody, match="'createdAt' is a required property"):
        spec.validate_request(request)
    answer = MockResponse(b'{"status": "stored", "event_id": "EV1"}', status_code=202)
    with pytest.raises(InvalidData):
        spec.validate_response(request, answer)
