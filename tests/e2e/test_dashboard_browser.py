"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against the
service as ``opsync serve`` runs it after a small demo-like run (calls through their whole
life, messages, one real dead letter).

It logs in through the form, checks that the numbers and charts shown are the store's, saves a
screenshot (``$OPSYNC_TEST_ARTIFACTS`` or ``tests/artifacts/``), then clicks Replay on the dead
letter and sees it leave the list while the store's event goes from dead to done.

Chromium comes from Debian (``make browser``, a prerequisite of ``make test``, installs it as
root); Playwright never downloads a browser here. Without ``/usr/bin/chromium`` the test skips
and says why.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from opsync.store import Store
from tests.e2e.conftest import Pipeline

pytestmark = pytest.mark.timeout(90)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "e2e-admin-token"  # the pipeline fixture's OPSYNC_ADMIN_TOKEN
CUSTOMERS = ["+13214436893", "+14155550177", "+12125550143"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("OPSYNC_TEST_ARTIFACTS") or REPO_ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _demo_run(pipeline: Pipeline) -> int:
    """Two calls through their whole life, five messages, and one message dead-lettered by a
    broken Messages schema (repaired afterwards, so that a replay succeeds). Returns the dead
    letter's inbox id."""
    ws = pipeline.workspace
    pipeline.canvas_page("Acme Hardware", "321-443-6893")
    events = []
    for customer in CUSTOMERS[:2]:
        events += pipeline.call_events(pipeline.add_call(customer))
    for i in range(5):
        message = ws.add_message(pipeline.pn_id, [CUSTOMERS[i % 3]], f"hello {i}", at=0)
        events.append(pipeline.emitter.message_event("message.received", message.id, float(i)))
    assert all(d.ok for d in await pipeline.emitter.deliver(events))
    await pipeline.drain()
    messages_ds = pipeline.seeded.messages_data_source_id
    pipeline.notion_sim.state.update_data_source(
        messages_ds, {"properties": {"Has Media": {"rich_text": {}}}}
    )
    doomed = ws.add_message(pipeline.pn_id, [CUSTOMERS[2]], "this one dies", at=0)
    [delivery] = await pipeline.emitter.deliver(
        [pipeline.emitter.message_event("message.received", doomed.id, 9.0)]
    )
    assert delivery.ok
    counts = await pipeline.drain()
    assert counts["dead"] == 1, counts
    pipeline.notion_sim.state.update_data_source(
        messages_ds, {"properties": {"Has Media": {"checkbox": {}}}}
    )
    [dead] = await pipeline.service.store.inbox_list("dead")
    return dead.id


async def _scalar(store: Store, sql: str) -> int:
    result = await store.execute_query(sql)
    return int(result.rows[0][0] or 0)


def _number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


async def _state(store: Store, inbox_id: int) -> str:
    event = await store.inbox_get(inbox_id)
    assert event is not None
    return event.state


async def test_the_dashboard_in_headless_chromium(pipeline: Pipeline, tmp_path: Path) -> None:
    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before anything runs)
        pytest.skip("no /usr/bin/chromium: `make browser` (root, apt-get) installs Debian's")
    async_api = pytest.importorskip("playwright.async_api")
    dead_id = await _demo_run(pipeline)
    store = pipeline.service.store
    base = pipeline.webhook_url.removesuffix("/webhooks/openphone")
    async with async_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1800},
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await _check(page, base, store, pipeline, dead_id)
        finally:
            await context.close()


async def _check(page: Any, base: str, store: Store, pipeline: Pipeline, dead_id: int) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    # Not logged in: the page sends the browser to the login form.
    await page.goto(base + "/")
    assert page.url == base + "/login"
    await page.fill("#token", "not-the-token")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_contain_text("not the admin token")
    errors.clear()  # the 401 of the wrong login is logged by the browser
    await page.fill("#token", TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/")
    # (a selector, not wait_for_function: the page's CSP forbids evaluating strings)
    await page.wait_for_selector("body[data-updates]", timeout=10_000)

    # Numbers: the tiles and the phone number's card say what the store says.
    counts = await store.inbox_counts()
    phone = await store.get_phone_number(pipeline.pn_id)
    assert phone is not None
    assert phone.total_messages_synced == 5
    assert phone.total_calls_synced == 2

    async def tile(key: str) -> int:
        return _number(await page.locator(f"span.value[data-total={key}]").inner_text())

    assert await tile("events_received") == sum(counts.values())
    assert await tile("calls_synced") == phone.total_calls_synced
    assert await tile("messages_synced") == phone.total_messages_synced
    assert await tile("dead_letters") == 1
    assert await tile("inbox_depth") == 0
    card = page.locator(f"article.phone[data-phone={pipeline.pn_id}]")
    messages = await card.locator("[data-field=total_messages_synced]").inner_text()
    assert _number(messages) == phone.total_messages_synced
    assert await card.locator("[data-field=number]").inner_text() == phone.number
    assert "none yet" not in await card.locator("[data-field=last_message_sync_at]").inner_text()
    done = page.locator("#inbox .hbar[data-state=done] .n")
    assert _number(await done.inner_text()) == counts["done"]

    # Charts: drawn, and their bars add up to the store's rows.
    day_ago = "(SELECT MAX(received_at) FROM inbox) - 86400000"
    events_24h = await _scalar(store, f"SELECT COUNT(*) FROM inbox WHERE received_at > {day_ago}")
    synced_24h = await _scalar(store, "SELECT COUNT(*) FROM sync_history")
    events_chart = page.locator("#chart-events")
    assert int(await events_chart.get_attribute("data-total")) == events_24h
    assert await events_chart.locator("rect.bar").count() >= 3  # one per event type at least
    assert int(await page.locator("#chart-synced").get_attribute("data-total")) == synced_24h
    assert await page.locator("#chart-latency path.line").count() == 2  # call and message
    assert await page.locator("#latency-table tbody tr").count() == 2
    notion_rows = await _scalar(
        store,
        "SELECT COUNT(*) FROM performance_metrics "
        "WHERE metric_type IN ('notion_query', 'canvas_lookup')",
    )
    notion_chart = page.locator("#chart-req-notion")
    assert int(await notion_chart.get_attribute("data-total")) == notion_rows > 0
    assert await notion_chart.locator("line.limit").count() == 1
    assert "/ 3 req/s" in await page.locator("[data-api=notion]").inner_text() or (
        "measuring" in await page.locator("[data-api=notion]").inner_text()
    )
    assert await page.locator("#canvas-rate").inner_text() != ""

    # The dead letter, then a screenshot of it all.
    row = page.locator(f"#dlq tbody tr[data-id='{dead_id}']")
    await expect(row).to_have_count(1)
    assert "Has Media" in await row.locator("td.reason").inner_text()
    await page.screenshot(path=str(artifacts_dir() / "dashboard.png"), full_page=True)

    # Replay from the page: the row leaves, the store's event runs to done.
    await row.locator("button.replay").click()
    await expect(row).to_have_count(0)
    async with asyncio.timeout(15):
        while True:
            if await _state(store, dead_id) == "done":
                break
            await asyncio.sleep(0.05)
    await expect(page.locator("span.value[data-total=dead_letters]")).to_have_text("0")
    await expect(page.locator("#dlq-empty")).to_be_visible()
    assert len(pipeline.message_pages(_message_id(await store.inbox_get(dead_id)))) == 1
    await page.screenshot(path=str(artifacts_dir() / "dashboard-after-replay.png"), full_page=True)
    assert errors == [], errors


def _message_id(event: Any) -> str:
    payload = json.loads(event.payload)
    obj = payload["data"].get("object") or payload["data"].get("resource")
    return str(obj["id"])
