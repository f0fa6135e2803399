"""The webhook endpoint through HTTP, on a real SQLite store."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import MAX_BODY_BYTES, build_app
from tests.web.conftest import Wakes
from tests.web.support import (
    JSON_TYPE,
    OTHER_LEGACY_KEY,
    OTHER_STANDARD_KEY,
    STANDARD_KEY,
    T0,
    WEBHOOK_PATH,
    call,
    inbox_rows,
    legacy_envelope,
    legacy_signed,
    new_envelope,
    standard_signed,
    summary,
)


async def test_standard_delivery_is_accepted_and_stored_raw(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    body = new_envelope("message.received", {"id": "ACmsg1"}, {"phoneNumberId": "PNnum7"})
    response = await client.post(WEBHOOK_PATH, content=body, headers=standard_signed(body))
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "event_id": "EV2"}
    rows = await inbox_rows(store)
    assert rows == [
        {
            "event_id": "EV2",
            "event_type": "message.received",
            "source": "webhook",
            "partition_key": "PNnum7",
            "payload": body.decode(),
            "state": "pending",
        }
    ]
    assert wakes.count == 1


async def test_legacy_delivery_is_accepted_with_the_call_phone_number(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = legacy_envelope("call.completed", call("ACc1", "PNnum1"), event_id="EVlegacy")
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "event_id": "EVlegacy"}
    [row] = await inbox_rows(store)
    assert (row["partition_key"], row["payload"], row["state"]) == (
        "PNnum1",
        body.decode(),
        "pending",
    )


async def test_non_ascii_body_is_stored_byte_for_byte(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = new_envelope("message.received", {"id": "ACm", "phoneNumberId": "PN1", "text": "Olá 👋"})
    headers = {**standard_signed(body), "content-type": "application/json; charset=UTF-8"}
    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 202
    [row] = await inbox_rows(store)
    assert row["payload"].encode() == body


async def test_replayed_delivery_is_a_duplicate_and_stored_once(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    body = legacy_envelope("call.ringing", call())
    first = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    again = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": "EV1"}
    assert len(await inbox_rows(store)) == 1
    assert wakes.count == 1


async def test_same_event_under_another_delivery_id_is_a_duplicate(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = new_envelope("message.delivered", {"id": "ACm", "phoneNumberId": "PN1"})
    await client.post(WEBHOOK_PATH, content=body, headers=standard_signed(body, msg_id="msg_a"))
    again = await client.post(
        WEBHOOK_PATH, content=body, headers=standard_signed(body, msg_id="msg_b")
    )
    assert again.json() == {"status": "duplicate", "event_id": "EV2"}
    assert len(await inbox_rows(store)) == 1


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda b: standard_signed(b, key=OTHER_STANDARD_KEY), id="standard-wrong-key"),
        pytest.param(lambda b: legacy_signed(b, key=OTHER_LEGACY_KEY), id="legacy-wrong-key"),
        pytest.param(lambda b: standard_signed(b + b" "), id="standard-other-body"),
        pytest.param(lambda b: legacy_signed(b + b" "), id="legacy-other-body"),
        pytest.param(lambda b: dict(JSON_TYPE), id="no-signature"),
        pytest.param(lambda b: standard_signed(b, ts=T0 - 301), id="standard-stale"),
        pytest.param(lambda b: legacy_signed(b, ts_ms=(T0 - 301) * 1000), id="legacy-stale"),
        pytest.param(lambda b: standard_signed(b, ts=T0 + 301), id="standard-future"),
        pytest.param(
            lambda b: {**standard_signed(b), "webhook-id": "msg_other"}, id="standard-other-id"
        ),
    ],
)
async def test_bad_signatures_are_401_and_store_nothing(
    client: httpx.AsyncClient,
    store: Store,
    wakes: Wakes,
    make_headers: Callable[[bytes], dict[str, str]],
) -> None:
    body = legacy_envelope("call.completed", call())
    response = await client.post(WEBHOOK_PATH, content=body, headers=make_headers(body))
    assert response.status_code == 401
    payload = response.json()
    assert payload["error"] == "invalid_signature"
    assert isinstance(payload["detail"], str)
    assert payload["detail"]
    assert STANDARD_KEY not in response.text
    assert await inbox_rows(store) == []
    assert wakes.count == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"{not json", "not JSON", id="malformed"),
        pytest.param(b"[1, 2]", "JSON object", id="array"),
        pytest.param(b'{"type": "call.completed"}', "id", id="missing-id"),
        pytest.param(b'{"id": "EV1"}', "type", id="missing-type"),
        pytest.param(b'{"id": 7, "type": "call.completed"}', "id", id="numeric-id"),
        pytest.param(b'{"id": "  ", "type": "call.completed"}', "id", id="blank-id"),
        pytest.param(b'{"id": "\\ud800", "type": "x.y"}', "id", id="lone-surrogate-id"),
        pytest.param(b'{"id": "EV1", "type": "call.completed"}', "", id="handled-without-data"),
        pytest.param(
            legacy_envelope("call.summary.completed", {"object": "callSummary"}),
            "callId",
            id="summary-without-call-id",
        ),
        pytest.param(b"\xff\xfe{}", "UTF-8", id="not-utf8"),
        pytest.param(b"[" * 100_000, "not JSON", id="deeply-nested"),
        pytest.param(b'{"id": "EV1", "type": "x", "n": NaN}', "NaN is not a JSON value", id="nan"),
        pytest.param(b'{"id": "EV1", "n": -Infinity}', "-Infinity is not", id="infinity"),
        pytest.param(
            b'{"id": "EV1", "type": "x", "n": ' + b"9" * 5000 + b"}", "not JSON", id="huge-int"
        ),
    ],
)
async def test_invalid_payloads_are_400_and_store_nothing(
    client: httpx.AsyncClient, store: Store, body: bytes, fragment: str
) -> None:
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert fragment in response.json()["detail"]
    assert await inbox_rows(store) == []


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, store: Store) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await inbox_rows(store) == []


async def test_body_of_exactly_one_mebibyte_is_read(client: httpx.AsyncClient) -> None:
    body = b" " * MAX_BODY_BYTES
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 400  # read, verified, then found not to be JSON


async def test_streamed_body_without_length_stops_being_read_past_the_cap(
    client: httpx.AsyncClient, store: Store
) -> None:
    chunk = b" " * 65536
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(64):  # 4 MiB offered
            sent.append(index)
            yield chunk

    response = await client.post(WEBHOOK_PATH, content=chunks(), headers=JSON_TYPE)
    assert response.status_code == 413
    assert len(sent) <= MAX_BODY_BYTES // len(chunk) + 2
    assert await inbox_rows(store) == []


async def test_declared_length_over_the_cap_is_refused_before_reading(
    client: httpx.AsyncClient,
) -> None:
    headers = {**JSON_TYPE, "content-length": str(MAX_BODY_BYTES + 1)}
    response = await client.post(WEBHOOK_PATH, content=b"{}", headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""],
)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, store: Store, content_type: str
) -> None:
    body = legacy_envelope("call.completed", call())
    headers = {**legacy_signed(body), "content-type": content_type}
    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert await inbox_rows(store) == []


@pytest.mark.parametrize("event_type", ["contact.updated", "call.answered", "webhook.test"])
async def test_unhandled_type_is_stored_as_ignored(
    client: httpx.AsyncClient, store: Store, wakes: Wakes, event_type: str
) -> None:
    body = json.dumps({"id": "EVx", "type": event_type, "data": {"whatever": [1]}}).encode()
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "event_id": "EVx"}
    [row] = await inbox_rows(store)
    assert (row["event_type"], row["state"], row["partition_key"]) == (event_type, "ignored", None)
    assert wakes.count == 0


@pytest.mark.parametrize("event_type", ["call.summary.completed", "callSummary"])
async def test_summary_takes_the_partition_of_the_stored_call(
    client: httpx.AsyncClient, store: Store, event_type: str
) -> None:
    await store.snapshot_put(
        "call", "ACknown", call("ACknown", "PNfromsnap"), phone_number_id="PNfromsnap"
    )
    body = legacy_envelope(event_type, summary("ACknown"))
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.status_code == 202
    [row] = await inbox_rows(store)
    assert (row["event_type"], row["partition_key"]) == ("call.summary.completed", "PNfromsnap")


async def test_transcript_of_an_unknown_call_has_no_partition(
    client: httpx.AsyncClient, store: Store
) -> None:
    transcript = {"callId": "ACunknown", "object": "callTranscript", "dialogue": []}
    body = legacy_envelope("callTranscript", transcript)
    response = await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    assert response.json()["status"] == "accepted"
    [row] = await inbox_rows(store)
    assert (row["event_type"], row["partition_key"]) == ("call.transcript.completed", None)


async def test_unavailable_store_answers_503_never_2xx(
    clock: FakeClock, verifier: WebhookVerifier
) -> None:
    # A real store whose server refuses connections (nothing listens on port 1).
    down = await Store.open("postgresql://opsync@127.0.0.1:1/opsync", migrate=False, clock=clock)
    try:
        app = build_app(store=down, verifier=verifier, webhook_path=WEBHOOK_PATH, admin_token=None)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = legacy_envelope("call.completed", call())
            response = await http.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
            summary_body = legacy_envelope("callSummary", summary(), event_id="EVs")
            lookup = await http.post(
                WEBHOOK_PATH, content=summary_body, headers=legacy_signed(summary_body)
            )
    finally:
        await down.close()
    for answer in (response, lookup):
        assert answer.status_code == 503
        assert answer.json() == {"error": "store_unavailable"}
        assert int(answer.headers["retry-after"]) > 0
        assert "127.0.0.1" not in answer.text


async def test_one_log_line_per_delivery_without_secrets(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = legacy_envelope("call.completed", call())
    caplog.set_level(logging.DEBUG, logger="opsync.web")
    await client.post(WEBHOOK_PATH, content=body, headers=legacy_signed(body))
    await client.post(WEBHOOK_PATH, content=body, headers=JSON_TYPE)
    records = [r for r in caplog.records if getattr(r, "action", None) == "webhook_received"]
    assert [(r.levelname, r.event_type, r.event_id, r.outcome) for r in records] == [  # type: ignore[attr-defined]
        ("DEBUG", "call.completed", "EV1", "accepted"),  # stored: the inbox row records it
        ("INFO", None, None, "invalid_signature"),  # refused: worth an operator's eye
    ]
    signature = legacy_signed(body)["openphone-signature"]
    assert all(signature not in str(vars(r)) for r in caplog.records)


async def test_a_failing_wake_up_still_answers_202(store: Store, verifier: WebhookVerifier) -> None:
    def broken() -> None:
        raise RuntimeError("dispatcher gone")

    app = build_app(
        store=store, verifier=verifier, webhook_path="hooks", admin_token=None, on_accepted=broken
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        body = legacy_envelope("call.completed", call())
        response = await http.post("/hooks", content=body, headers=legacy_signed(body))
    assert response.status_code == 202
    assert len(await inbox_rows(store)) == 1


async def test_other_methods_and_paths_answer_json_errors(client: httpx.AsyncClient) -> None:
    assert (await client.get(WEBHOOK_PATH)).json()["error"] == "method_not_allowed"
    missing = await client.post("/nope", content=b"{}", headers=JSON_TYPE)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
