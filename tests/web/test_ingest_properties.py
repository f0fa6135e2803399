"""Properties of the webhook endpoint: arbitrary input never causes a 5xx, and nothing that
is not validly signed is ever stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsync.clock import FakeClock
from opsync.openphone.signatures import WebhookVerifier
from opsync.store import Store
from opsync.web import build_app
from tests.web.support import (
    LEGACY_KEY,
    STANDARD_KEY,
    T0,
    WEBHOOK_PATH,
    inbox_rows,
    legacy_signed,
    standard_signed,
)

HEADER_NAMES = st.sampled_from(
    [
        "content-type",
        "content-length",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "openphone-signature",
        "x-other",
    ]
)
HEADER_VALUES = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            str(T0),
            str(T0 * 1000),
            "v1,AAAA",
            f"hmac;1;{T0 * 1000};AAAA",
            "msg_1",
            "0",
            "99999999999999999999",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ENVELOPE_LIKE = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=12), st.integers(), st.none()),
        "type": st.one_of(
            st.sampled_from(
                ["call.completed", "callSummary", "message.received", "contact.updated", ""]
            ),
            st.text(max_size=12),
        ),
    },
    optional={
        "createdAt": st.sampled_from(["2026-04-01T00:00:00.000Z", "yesterday", ""]),
        "data": st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries(
                {
                    "object": st.dictionaries(
                        st.sampled_from(["id", "callId", "phoneNumberId", "object"]), JSON_VALUES
                    )
                }
            ),
        ),
    },
)
IDENTIFIERS = st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True)
PLAUSIBLE_ENVELOPES = st.fixed_dictionaries(
    {
        "id": IDENTIFIERS,
        "type": st.sampled_from(["call.completed", "message.received", "contact.updated"]),
        "createdAt": st.just("2026-04-01T00:00:00.000Z"),
        "data": st.fixed_dictionaries(
            {
                "object": st.fixed_dictionaries(
                    {"id": IDENTIFIERS}, optional={"phoneNumberId": IDENTIFIERS}
                )
            }
        ),
    }
)
BODIES = st.one_of(
    st.binary(max_size=300),
    PLAUSIBLE_ENVELOPES.map(lambda v: json.dumps(v).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    ENVELOPE_LIKE.map(lambda v: json.dumps(v).encode()),
)


class Harness:
    """One store and app for all the examples of a property, on one event loop."""

    def __init__(self, runner: asyncio.Runner, tmp_path: Path) -> None:
        self.runner = runner
        clock = FakeClock()
        self.store: Store = runner.run(Store.open(f"sqlite:///{tmp_path / 'p.db'}", clock=clock))
        verifier = WebhookVerifier([STANDARD_KEY, LEGACY_KEY], clock=clock)
        self.app = build_app(
            store=self.store, verifier=verifier, webhook_path=WEBHOOK_PATH, admin_token=None
        )

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await http.post(WEBHOOK_PATH, content=body, headers=headers)

        return self.runner.run(send())

    def rows(self) -> list[dict[str, Any]]:
        return self.runner.run(inbox_rows(self.store))

    def close(self) -> None:
        self.runner.run(self.store.close())


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_unsigned_or_forged_deliveries_are_never_stored_nor_5xx(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        harness = Harness(runner, tmp_path)
        try:

            @PROPERTY_SETTINGS
            @given(body=BODIES, headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6))
            def check(body: bytes, headers: dict[str, str]) -> None:
                response = harness.post(body, headers)
                assert 400 <= response.status_code < 500, response.text
                assert response.json()["error"]
                assert harness.rows() == []

            check()
        finally:
            harness.close()


def test_signed_arbitrary_bodies_are_stored_or_refused_never_5xx(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        harness = Harness(runner, tmp_path)
        seen: set[int] = set()
        try:

            @PROPERTY_SETTINGS
            @given(body=BODIES, standard=st.booleans())
            def check(body: bytes, standard: bool) -> None:
                before = len(harness.rows())
                # Standard Webhooks bodies are text; bytes that are not UTF-8 go the legacy way.
                headers = standard_signed(body) if standard and _utf8(body) else legacy_signed(body)
                response = harness.post(body, headers)
                seen.add(response.status_code)
                assert response.status_code in (200, 202, 400), response.text
                stored = len(harness.rows()) - before
                assert stored == (1 if response.status_code == 202 else 0)
                if response.status_code == 202:
                    assert harness.rows()[-1]["payload"].encode() == body

            check()
            assert {202, 400} <= seen  # both the storing and the refusing paths were exercised
        finally:
            harness.close()
