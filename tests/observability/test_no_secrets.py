"""No secret in any log line or HTTP answer of a full run: the OpenPhone API key, the Notion
token, the webhook signing keys, the media signing key, the admin token.

The logs are captured at DEBUG with **no** secret values given to the scrubber, so the test
fails if any code path logs a secret, not only if the last-resort value scrubbing breaks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsync.openphone.signatures import sign_legacy
from tests.e2e.conftest import Pipeline
from tests.observability.conftest import CapturedLogs
from tests.support.sandbox_env import API_KEY, NOTION_TOKEN

ADMIN_TOKEN = "e2e-admin-token"  # what tests/e2e/conftest.py configures
CUSTOMER = "+13214436893"


class Secrets:
    """The secrets of the run, and a check of a text against them."""

    def __init__(self) -> None:
        self.values: set[str] = {API_KEY, NOTION_TOKEN, ADMIN_TOKEN}

    def add(self, value: str) -> None:
        self.values.add(value)
        if value.startswith("whsec_"):
            self.values.add(value.removeprefix("whsec_"))  # the key without its prefix

    def leaked_in(self, text: str) -> list[str]:
        return sorted(secret for secret in self.values if secret in text)


@pytest.fixture
def secrets(captured_logs: CapturedLogs) -> Iterator[Secrets]:
    """The run's secrets; after the pipeline has stopped (its shutdown lines included), the
    whole log is checked once more."""
    found = Secrets()
    yield found
    assert found.leaked_in(captured_logs.text) == []


def describe(response: httpx.Response, *, body: bool = True) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    return f"{response.status_code}\n{headers}\n\n{response.text if body else ''}"


async def test_no_secret_in_any_log_line_or_http_answer(
    secrets: Secrets, captured_logs: CapturedLogs, pipeline: Pipeline
) -> None:
    for key in pipeline.keys:
        secrets.add(key)
    settings = pipeline.service.settings
    secrets.add((Path(settings.blob_url) / ".signing-key").read_text().strip())
    assert secrets.leaked_in(f"{API_KEY} {NOTION_TOKEN}") == [API_KEY, NOTION_TOKEN]

    # A full run: a call through its life (with a Canvas link), messages, a duplicate.
    pipeline.canvas_page("Acme Hardware", "321-443-6893")
    call_id = pipeline.add_call(CUSTOMER)
    events = pipeline.call_events(call_id)
    message = pipeline.workspace.add_message(pipeline.pn_id, [CUSTOMER], "Ready?", at=0)
    received = pipeline.emitter.message_event("message.received", message.id, 1.0)
    await pipeline.emitter.deliver([*events, received])
    await pipeline.emitter.deliver([received])
    await pipeline.drain()
    [page] = pipeline.call_pages(call_id)

    base = pipeline.webhook_url.rsplit("/webhooks", 1)[0]
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    body = json.dumps(received.envelope("legacy")).encode()
    json_type = {"content-type": "application/json"}
    answers: list[str] = []
    async with httpx.AsyncClient() as http:
        for path, headers in [
            ("/health", {}),
            ("/metrics", {}),
            ("/metrics", admin),
            ("/metrics", {"authorization": f"Bearer {API_KEY}"}),
            (f"/phone/{pipeline.pn_id}/state", {}),
            (f"/phone/{pipeline.pn_id}/state", admin),
            (f"/phone/{pipeline.pn_id}/state", {"authorization": f"Bearer {NOTION_TOKEN}"}),
            ("/nowhere", admin),
        ]:
            answers.append(describe(await http.get(base + path, headers=headers)))
        for headers in [
            {**json_type, "openphone-signature": sign_legacy(pipeline.keys[0], 1, body)},
            {**json_type, "openphone-signature": f"hmac;1;1;{pipeline.keys[0]}"},
            json_type,
            {"content-type": "text/plain"},
        ]:
            response = await http.post(pipeline.webhook_url, content=body, headers=headers)
            answers.append(describe(response))
        recording = await http.get(page["properties"]["Recording URL"]["url"])
        answers.append(describe(recording, body=False))

    statuses = [int(answer.split("\n", 1)[0]) for answer in answers]
    assert statuses == [200, 401, 200, 401, 401, 200, 401, 404, 401, 401, 401, 415, 200]
    state = json.loads(answers[5].split("\n\n", 1)[1])
    assert state["phone_number_id"] == pipeline.pn_id  # the answers checked are real ones
    for answer in answers:
        assert secrets.leaked_in(answer) == [], answer

    lines = captured_logs.lines()
    actions = {line.get("action") for line in lines}
    assert {"webhook_received", "event_claimed", "event_done", "service_started"} <= actions
    assert any(line["level"] == "debug" for line in lines)  # DEBUG was really on
    assert secrets.leaked_in(captured_logs.text) == []
