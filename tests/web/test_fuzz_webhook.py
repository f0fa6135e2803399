"""Fuzzing the webhook endpoint in-process: schemathesis against opsync's own OpenAPI document,
and hypothesis properties for each refusal and for replays.

Every example goes through the real app on a real SQLite store. The invariants checked on
every answer: never a 5xx nor an exception out of the app, the answer conforms to the document,
and an inbox row appears only for a validly signed delivery answered 202. (Random bodies and
headers, signed and unsigned, are in test_ingest_properties.py; single examples of each
refusal are in test_ingest.py.)

Examples are derandomized with no example database, so every run tries the same inputs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier, sign_legacy, standard_headers
from opsync.store import Store
from opsync.web import HANDLED_EVENT_TYPES, MAX_BODY_BYTES, build_app
from opsync.web.openapi import openapi_document
from tests.web.support import (
    JSON_TYPE,
    LEGACY_KEY,
    STANDARD_KEY,
    T0,
    WEBHOOK_PATH,
    inbox_rows,
    legacy_signed,
    standard_signed,
)

SIGNATURE_HEADERS = ("openphone-signature", "webhook-id", "webhook-timestamp", "webhook-signature")
TOLERANCE_S = 300

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(count: int) -> settings:
    return settings(FUZZ, max_examples=count)


class Harness:
    """One store and app for all the examples of a test, on one event loop."""

    def __init__(self, runner: asyncio.Runner, tmp_path: Path) -> None:
        self.runner = runner
        self.clock = FakeClock(float(T0))
        self.store: Store = runner.run(
            Store.open(f"sqlite:///{tmp_path / 'fuzz.db'}", clock=self.clock)
        )
        self.wakes = 0
        self.app = build_app(
            store=self.store,
            verifier=WebhookVerifier([STANDARD_KEY, LEGACY_KEY], clock=self.clock),
            webhook_path=WEBHOOK_PATH,
            admin_token=None,
            on_accepted=self._wake,
        )
        self._ids = itertools.count()

    def _wake(self) -> None:
        self.wakes += 1

    def unique(self, prefix: str = "EV") -> str:
        """An event id no other example of this test uses (hypothesis replays examples)."""
        return f"{prefix}{next(self._ids)}"

    def post(
        self, content: bytes | AsyncIterator[bytes], headers: dict[str, str]
    ) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # app exceptions propagate: a crash
            async with httpx.AsyncClient(transport=transport, base_url="http://opsync.test") as c:
                return await c.post(WEBHOOK_PATH, content=content, headers=headers)

        return self.runner.run(send())

    def rows(self) -> list[dict[str, Any]]:
        return self.runner.run(inbox_rows(self.store))

    def process_all(self) -> int:
        """Claim and complete every claimable event, as a worker would; how many there were."""

        async def drain() -> int:
            done = 0
            while claimed := await self.store.inbox_claim("fuzz-worker", 30.0, limit=10):
                for event in claimed:
                    assert await self.store.inbox_complete(event.id, "fuzz-worker")
                    done += 1
            return done

        return self.runner.run(drain())


@contextmanager
def harness(tmp_path: Path) -> Iterator[Harness]:
    with asyncio.Runner() as runner:
        made = Harness(runner, tmp_path)
        try:
            yield made
        finally:
            runner.run(made.store.close())


def envelope(event_id: str, event_type: str, resource: dict[str, Any] | None = None) -> bytes:
    document = {
        "id": event_id,
        "object": "event",
        "apiVersion": "v4",
        "createdAt": "2026-04-01T00:00:00.000Z",
        "type": event_type,
        "data": {"object": resource or {"id": "AC" + event_id, "phoneNumberId": "PN1"}},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed(body: bytes, scheme: str, *, offset: int = 0, msg_id: str = "msg_1") -> dict[str, str]:
    """Valid signature headers of ``scheme``, signed ``offset`` seconds from the clock's now."""
    if scheme == "standard":
        return standard_signed(body, msg_id=msg_id, ts=T0 + offset)
    return legacy_signed(body, ts_ms=(T0 + offset) * 1000)


def _not_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return True
    return False


# ---- schemathesis, against the service's own description -----------------------------------

AnyCase = Case[Any]
SCHEMA = schemathesis.openapi.from_dict(openapi_document(WEBHOOK_PATH))
OPERATION = SCHEMA[WEBHOOK_PATH]["POST"]
CONFORMANCE = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


def _case_body(case: AnyCase, ensure_ascii: bool) -> bytes:
    body: Any = case.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    if body is None and case.media_type is None:
        return b""
    text = json.dumps(body, ensure_ascii=ensure_ascii)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only the escaped form is UTF-8
        return json.dumps(body).encode("utf-8")


def _case_headers(case: AnyCase) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    headers["content-type"] = case.media_type or "application/json"
    return headers


def _send_case(h: Harness, case: AnyCase, body: bytes, headers: dict[str, str]) -> httpx.Response:
    response = h.post(body, headers)
    case.validate_response(response, checks=CONFORMANCE)
    return response


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_cases_as_generated_are_refused_and_store_nothing(
    tmp_path: Path, mode: GenerationMode
) -> None:
    """The generated signature headers are never valid: every case is a 4xx, nothing stored."""
    seen: set[int] = set()
    with harness(tmp_path) as h:

        @examples(60)
        @given(case=OPERATION.as_strategy(generation_mode=mode), ensure_ascii=st.booleans())
        def check(case: AnyCase, ensure_ascii: bool) -> None:
            response = _send_case(h, case, _case_body(case, ensure_ascii), _case_headers(case))
            seen.add(response.status_code)
            assert response.status_code in (400, 401, 413, 415), response.text
            assert h.rows() == []

        check()
        assert h.wakes == 0
    assert 401 in seen


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_cases_validly_signed_are_stored_only_when_accepted(
    tmp_path: Path, mode: GenerationMode
) -> None:
    """The generated body signed with a configured key, either scheme: 2xx or 400, never 5xx;
    a row for each 202, none for a 200 (its id is already stored) or a 400."""
    seen: set[int] = set()
    with harness(tmp_path) as h:

        @examples(100)
        @given(
            case=OPERATION.as_strategy(generation_mode=mode),
            scheme=st.sampled_from(["standard", "legacy"]),
            ensure_ascii=st.booleans(),
            offset=st.integers(-TOLERANCE_S, TOLERANCE_S),
        )
        def check(case: AnyCase, scheme: str, ensure_ascii: bool, offset: int) -> None:
            body = _case_body(case, ensure_ascii)
            headers = {k: v for k, v in _case_headers(case).items() if k not in SIGNATURE_HEADERS}
            if scheme == "standard" and _not_json(body):
                scheme = "legacy"  # Standard Webhooks bodies are text; raw bytes go legacy
            headers.update(signed(body, scheme, offset=offset))
            if headers["content-type"].split(";")[0].strip().lower() != "application/json":
                expected = {415}
            else:
                expected = {200, 202, 400}
            before = h.rows()
            response = _send_case(h, case, body, headers)
            seen.add(response.status_code)
            assert response.status_code in expected, response.text
            after = h.rows()
            if response.status_code == 202:
                assert len(after) == len(before) + 1
                assert after[-1]["payload"].encode() == body
                assert after[-1]["event_id"] == response.json()["event_id"]
            else:
                assert after == before
            if response.status_code == 200:
                assert response.json()["event_id"] in {row["event_id"] for row in before}

        check()
    assert 202 in seen


# ---- hypothesis: signatures and the replay window ------------------------------------------

# Event types whose resource names itself (summaries and transcripts name their call).
EVENT_TYPES = st.sampled_from(
    sorted(HANDLED_EVENT_TYPES - {"call.summary.completed", "call.transcript.completed"})
)
SCHEMES = st.sampled_from(["standard", "legacy"])


def _flip(text: str, index: int) -> str:
    index %= len(text)
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _tampered(body: bytes, scheme: str, how: str, index: int) -> tuple[bytes, dict[str, str]]:
    """A delivery whose signature was valid before ``how`` broke it."""
    headers = signed(body, scheme)
    if how == "body":
        position = index % len(body)
        changed = bytes([body[position] ^ 0x01])
        return body[:position] + changed + body[position + 1 :], headers
    name = "webhook-signature" if scheme == "standard" else "openphone-signature"
    if how == "signature":
        value = headers[name]
        prefix_length = 3 if scheme == "standard" else value.rindex(";") + 1
        signature = value[prefix_length:]
        headers[name] = value[:prefix_length] + _flip(signature, index % (len(signature) - 1))
    elif how == "drop":
        dropped = (
            ["webhook-id", "webhook-timestamp", name][index % 3] if scheme == "standard" else name
        )
        del headers[dropped]
    elif how == "other_key":
        key = base64.b64encode(index.to_bytes(32, "big")).decode()
        if scheme == "standard":
            headers.update(standard_headers("whsec_" + key, "msg_1", T0, body))
        else:
            headers["openphone-signature"] = sign_legacy(key, T0 * 1000, body)
    elif how == "restamp":  # the timestamp changed after signing, inside the window
        step = 1 + index % TOLERANCE_S
        if scheme == "standard":
            headers["webhook-timestamp"] = str(T0 + step)
        else:
            _, _, stamp, sig = headers[name].split(";")
            headers[name] = f"hmac;1;{int(stamp) + step};{sig}"
    elif how == "other_delivery_id" and scheme == "standard":
        headers["webhook-id"] = f"msg_other{index}"
    elif how == "other_delivery_id":  # legacy has no delivery id: a second, forged entry
        headers[name] = f"hmac;1;{T0 * 1000};{'A' * 43}="
    return body, headers


def test_a_signature_broken_in_any_way_is_401_and_stores_nothing(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(120)
        @given(
            scheme=SCHEMES,
            how=st.sampled_from(
                ["body", "signature", "drop", "other_key", "restamp", "other_delivery_id"]
            ),
            index=st.integers(0, 2**64),
            event_type=EVENT_TYPES,
        )
        def check(scheme: str, how: str, index: int, event_type: str) -> None:
            body, headers = _tampered(envelope(h.unique(), event_type), scheme, how, index)
            response = h.post(body, headers)
            assert response.status_code == 401, (how, response.text)
            assert response.json()["error"] == "invalid_signature"

        check()
        assert h.rows() == []
        assert h.wakes == 0


def test_the_replay_window_is_five_minutes_either_way_for_both_schemes(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(150)
        @given(
            scheme=st.sampled_from(["standard", "legacy-ms", "legacy-s"]),
            offset_ms=st.one_of(
                st.integers(-TOLERANCE_S * 1000, TOLERANCE_S * 1000),
                st.integers(TOLERANCE_S * 1000 + 1, 10**12),
                st.integers(-(10**12), -TOLERANCE_S * 1000 - 1),
                st.sampled_from([-300_001, -300_000, 300_000, 300_001, -301_000, 301_000]),
            ),
        )
        def check(scheme: str, offset_ms: int) -> None:
            event_id = h.unique()
            body = envelope(event_id, "call.completed")
            if scheme == "standard":
                offset_ms -= offset_ms % 1000  # whole seconds
                stamp = T0 + offset_ms // 1000
                headers = {**JSON_TYPE, **standard_headers(STANDARD_KEY, "msg_w", stamp, body)}
            elif scheme == "legacy-ms":
                headers = legacy_signed(body, ts_ms=T0 * 1000 + offset_ms)
            else:
                offset_ms -= offset_ms % 1000
                seconds = T0 + offset_ms // 1000
                headers = {**JSON_TYPE, "openphone-signature": _legacy_in_seconds(body, seconds)}
            before = len(h.rows())
            response = h.post(body, headers)
            if abs(offset_ms) > TOLERANCE_S * 1000:
                assert response.status_code == 401, (offset_ms, response.text)
                assert "window" in response.json()["detail"]
                assert len(h.rows()) == before
            else:
                assert response.status_code == 202, (offset_ms, response.text)
                assert len(h.rows()) == before + 1

        check()


def _legacy_in_seconds(body: bytes, seconds: int) -> str:
    """A legacy signature whose timestamp is in seconds (10 digits), which opsync accepts."""
    digest = hmac.new(base64.b64decode(LEGACY_KEY), f"{seconds}.".encode() + body, hashlib.sha256)
    return f"hmac;1;{seconds};{base64.b64encode(digest.digest()).decode()}"


# ---- hypothesis: replays, refusals, unknown types -------------------------------------------


def test_a_replayed_delivery_is_a_duplicate_and_never_processed_twice(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(40)
        @given(
            event_type=EVENT_TYPES,
            replays=st.lists(
                st.tuples(SCHEMES, st.integers(-TOLERANCE_S, TOLERANCE_S), st.booleans()),
                min_size=1,
                max_size=4,
            ),
            processed_first=st.booleans(),
        )
        def check(
            event_type: str, replays: list[tuple[str, int, bool]], processed_first: bool
        ) -> None:
            event_id = h.unique()
            body = envelope(event_id, event_type)
            wakes, before = h.wakes, len(h.rows())
            first = h.post(body, signed(body, "standard", msg_id=f"msg_{event_id}"))
            assert first.json() == {"status": "accepted", "event_id": event_id}
            if processed_first:
                assert h.process_all() == 1
            for scheme, offset, same_delivery in replays:
                msg_id = f"msg_{event_id}" if same_delivery else f"msg_{event_id}_{offset}"
                again = h.post(body, signed(body, scheme, offset=offset, msg_id=msg_id))
                assert again.status_code == 200, again.text
                assert again.json() == {"status": "duplicate", "event_id": event_id}
            rows = [row for row in h.rows() if row["event_id"] == event_id]
            assert len(rows) == 1
            assert len(h.rows()) == before + 1
            assert h.wakes == wakes + 1
            # Nothing to do again: a processed event stays done, an unprocessed one is claimed once.
            assert rows[0]["state"] == ("done" if processed_first else "pending")
            assert h.process_all() == (0 if processed_first else 1)

        check()


MALFORMED = st.one_of(
    # A valid envelope cut short, or with one byte changed into one JSON never allows there.
    st.tuples(EVENT_TYPES, st.integers(0, 10_000)).map(
        lambda t: envelope("EVm", t[0])[: t[1] % len(envelope("EVm", t[0]))]
    ),
    st.tuples(EVENT_TYPES, st.integers(0, 10_000), st.sampled_from([b"{", b"'", b"\x00", b"\xff"]))
    .map(lambda t: (envelope("EVm", t[0]), t[1], t[2]))
    .map(lambda t: t[0][: t[1] % len(t[0])] + t[2] + t[0][t[1] % len(t[0]) + 1 :]),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),
).filter(_not_json)


def test_malformed_json_is_400_and_stores_nothing(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(100)
        @given(body=MALFORMED, scheme=SCHEMES)
        def check(body: bytes, scheme: str) -> None:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                scheme = "legacy"  # Standard Webhooks refuses non-text bodies at the signature
            response = h.post(body, signed(body, scheme))
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_payload"
            assert h.rows() == []

        check()


def test_a_body_over_the_limit_is_413_however_it_is_sent(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(12)
        @given(
            extra=st.integers(1, 70_000),
            chunk=st.sampled_from([1 << 12, 1 << 16, 1 << 20]),
            declared=st.booleans(),
            signed_too=st.booleans(),
        )
        def check(extra: int, chunk: int, declared: bool, signed_too: bool) -> None:
            body = b" " * (MAX_BODY_BYTES + extra)
            headers = legacy_signed(body) if signed_too else dict(JSON_TYPE)
            content: bytes | AsyncIterator[bytes] = body
            if not declared:  # streamed in chunks without Content-Length

                async def chunks() -> AsyncIterator[bytes]:
                    for start in range(0, len(body), chunk):
                        yield body[start : start + chunk]

                content = chunks()
            response = h.post(content, headers)
            assert response.status_code == 413
            assert response.json()["error"] == "payload_too_large"

        check()
        assert h.rows() == []


TOKEN = st.from_regex(r"[a-z0-9.+-]{1,12}", fullmatch=True)
NOT_JSON_TYPES = st.one_of(
    st.tuples(TOKEN, TOKEN).map(lambda t: f"{t[0]}/{t[1]}"),
    st.sampled_from(
        [
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/json-seq",
            "json",
            "",
            "*/*",
        ]
    ),
).filter(lambda v: v.split(";")[0].strip().lower() != "application/json")
OTHER_CHARSETS = st.sampled_from(["latin-1", "iso-8859-1", "utf-16", "ascii", "utf-32", "cp1252"])


def test_any_content_type_but_utf8_json_is_415_and_stores_nothing(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(60)
        @given(
            content_type=st.one_of(
                NOT_JSON_TYPES,
                OTHER_CHARSETS.map(lambda c: f"application/json; charset={c}"),
            ),
            scheme=SCHEMES,
        )
        def check(content_type: str, scheme: str) -> None:
            body = envelope(h.unique(), "message.received")
            response = h.post(body, {**signed(body, scheme), "content-type": content_type})
            assert response.status_code == 415, (content_type, response.text)
            assert response.json()["error"] == "unsupported_media_type"

        check()
        assert h.rows() == []


def test_utf8_json_in_any_spelling_is_accepted(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(30)
        @given(
            media=st.sampled_from(["application/json", "Application/JSON", " application/json "]),
            charset=st.sampled_from(["", "; charset=utf-8", ";charset=UTF-8", '; charset="utf8"']),
        )
        def check(media: str, charset: str) -> None:
            body = envelope(h.unique(), "message.received")
            response = h.post(body, {**signed(body, "legacy"), "content-type": media + charset})
            assert response.status_code == 202, (media + charset, response.text)

        check()


PRINTABLE = st.text(
    alphabet=st.characters(exclude_categories=("C", "Zl", "Zp", "Zs")) | st.just(" "),
    min_size=1,
    max_size=60,
).filter(lambda s: bool(s.strip()) and s.isprintable())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def test_an_unknown_event_type_is_accepted_and_ignored_whatever_its_data(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @examples(80)
        @given(
            event_type=PRINTABLE.filter(
                lambda t: t not in HANDLED_EVENT_TYPES | {"callSummary", "callTranscript"}
            ),
            data=st.one_of(st.just(None), JSON_VALUES),
            scheme=SCHEMES,
        )
        def check(event_type: str, data: object, scheme: str) -> None:
            event_id = h.unique()
            document: dict[str, Any] = {"id": event_id, "type": event_type}
            if data is not None:
                document["data"] = data
            body = json.dumps(document, ensure_ascii=False).encode()
            response = h.post(body, signed(body, scheme))
            assert response.status_code == 202, response.text
            assert response.json() == {"status": "ignored", "event_id": event_id}
            row = h.rows()[-1]
            assert (row["event_id"], row["event_type"], row["state"]) == (
                event_id,
                event_type,
                "ignored",
            )
            assert row["partition_key"] is None

        check()
        assert h.wakes == 0
        assert h.process_all() == 0  # ignored events are never worked on


def _raw_post(h: Harness, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """POST through the ASGI interface itself, with header bytes no HTTP client would send."""

    async def call() -> tuple[int, bytes]:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": WEBHOOK_PATH,
            "raw_path": WEBHOOK_PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("opsync.test", 80),
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await h.app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(
            m.get("body", b"") for m in sent if m["type"] == "http.response.body"
        )

    return h.runner.run(call())


def test_any_content_length_header_is_answered_without_a_crash(tmp_path: Path) -> None:
    """Servers usually refuse a malformed Content-Length first, but the app must not rely on
    it: any latin-1 value (Unicode digits such as '²' included) is a 4xx or read as a length."""
    with harness(tmp_path) as h:

        @examples(80)
        @given(
            value=st.one_of(
                st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=12),
                st.sampled_from(["\xb2", "\xb9\xb2", "\xbd", " 2 ", "-1", "1e3", "0x10"]),
                st.integers(0, 10**30).map(str),
            ),
        )
        def check(value: str) -> None:
            body = envelope(h.unique(), "call.completed")
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", value.encode("latin-1")),
                *((k.encode(), v.encode()) for k, v in signed(body, "legacy").items()),
            ]
            status, answer = _raw_post(h, body, headers)
            assert status in (202, 400, 413), (value, answer)
            assert json.loads(answer)

        check()


LATIN1_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
    st.sampled_from(["\xb2", "\xb9\xb2\xb3", "1775001600\xb2", f"hmac;1;\xb2;{'A' * 43}="]),
    st.integers(10**300, 10**400).map(str),  # too big for a float
    st.integers(10**300, 10**400).map(lambda n: f"hmac;1;{n};{'A' * 43}="),
)


def test_any_latin1_signature_header_is_answered_without_a_crash(tmp_path: Path) -> None:
    """Header bytes as a raw ASGI server may pass them (latin-1, Unicode digits included) in
    the signature headers: always a 401, never a 5xx, nothing stored."""
    with harness(tmp_path) as h:

        @examples(120)
        @given(
            values=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), LATIN1_VALUES, min_size=1),
            valid_id=st.booleans(),
        )
        def check(values: dict[str, str], valid_id: bool) -> None:
            body = envelope(h.unique(), "call.completed")
            if valid_id and "webhook-signature" in values:
                values = {**values, "webhook-id": "msg_1"}
            headers = [(b"content-type", b"application/json")] + [
                (name.encode(), value.encode("latin-1")) for name, value in values.items()
            ]
            status, answer = _raw_post(h, body, headers)
            assert status == 401, (values, answer)

        check()
        assert h.rows() == []
