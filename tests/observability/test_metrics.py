"""``GET /metrics``: each series from its seam, and the whole set after a real run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from notion_client import APIResponseError
from notion_client.errors import APIErrorCode
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette

from opsync.canvas import CanvasStats
from opsync.clock import FakeClock
from opsync.dispatcher import Defer, Ignore, Outcome, Reroute
from opsync.notion import NotionAdapter
from opsync.observability import observed
from opsync.observability.metrics import Metrics, metrics_route, request_status
from opsync.openphone import OpenPhoneClient
from opsync.pacing import RateLimit, TokenBucket
from opsync.store import InboxEvent, Store
from tests.e2e.conftest import Pipeline
from tests.observability.support import Exposition

CUSTOMER = "+13214436893"


async def scrape(metrics: Metrics, token: str | None = "scrape-admin-token") -> httpx.Response:
    app = Starlette(routes=[metrics_route(metrics, admin_token=token)])
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get("/metrics", headers=headers)


async def exposition(metrics: Metrics) -> Exposition:
    return Exposition.parse((await metrics.render()).decode())


def event(event_type: str) -> InboxEvent:
    return InboxEvent(
        id=1,
        event_id="EV1",
        event_type=event_type,
        source="webhook",
        partition_key="PN1",
        payload="{}",
        state="in_flight",
        attempts=1,
        next_attempt_at=0,
        lease_owner="w",
        lease_expires_at=0,
        last_error=None,
        received_at=0,
        updated_at=0,
        completed_at=None,
    )


# --- seams, one by one ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "label"),
    [
        ("call.completed", "call.completed"),
        ("callSummary", "call.summary.completed"),  # an alias, normalised
        ("contact.updated", "other"),  # not handled: one label, whatever the type
        (None, "unknown"),  # refused before the body was read
    ],
)
async def test_webhooks_are_counted_by_bounded_type_and_outcome(
    sent: str | None, label: str
) -> None:
    metrics = Metrics()
    metrics.webhook_received(sent, "accepted")
    metrics.webhook_received(sent, "accepted")
    metrics.webhook_received(sent, "duplicate")
    got = await exposition(metrics)
    assert got.value("opsync_webhooks_received_total", event_type=label, outcome="accepted") == 2
    assert got.value("opsync_webhooks_received_total", event_type=label, outcome="duplicate") == 1


@pytest.mark.parametrize(
    ("request_line", "operation"),
    [
        ("GET /calls/AC123", "GET /calls/{id}"),
        ("GET /calls", "GET /calls"),
        ("GET /call-recordings/AC9", "GET /call-recordings/{id}"),
        ("POST /webhooks/calls", "POST /webhooks/{id}"),
        ("GET storage.example.com/files/rec.mp3", "GET media"),
    ],
)
async def test_openphone_operations_are_path_templates(request_line: str, operation: str) -> None:
    metrics = Metrics()
    metrics.request_hook("openphone")(request_line, None)
    got = await exposition(metrics)
    labels = {"api": "openphone", "operation": operation, "status": "ok"}
    assert got.labelled("opsync_external_requests_total") == [labels]


def test_request_status_names_the_http_status_or_the_failure() -> None:
    request = httpx.Request("GET", "http://x/calls")
    too_many = httpx.HTTPStatusError("429", request=request, response=httpx.Response(429))
    notion_404 = APIResponseError(
        code=APIErrorCode.ObjectNotFound,
        status=404,
        message="gone",
        headers=httpx.Headers(),
        raw_body_text="{}",
    )
    assert request_status(None) == "ok"
    assert request_status(too_many) == "429"
    assert request_status(notion_404) == "404"
    assert request_status(httpx.ReadTimeout("slow", request=request)) == "timeout"
    assert request_status(httpx.ConnectError("refused", request=request)) == "error"
    assert request_status(ValueError("not JSON")) == "error"


async def test_observed_reports_each_attempt_and_never_breaks_the_request() -> None:
    seen: list[tuple[str, str]] = []

    def hook(operation: str, error: BaseException | None) -> None:
        seen.append((operation, request_status(error)))

    with observed(hook, "pages.create"):
        pass
    with pytest.raises(KeyError), observed(hook, "pages.update"):
        raise KeyError("boom")

    def broken(operation: str, error: BaseException | None) -> None:
        raise RuntimeError("a metrics bug")

    with observed(broken, "users.me"):
        answer = 42
    assert answer == 42
    assert seen == [("pages.create", "ok"), ("pages.update", "error")]


async def test_rate_limit_waits_and_pauses_are_counted_per_api() -> None:
    clock = FakeClock()
    metrics = Metrics()
    pacer = metrics.metered(TokenBucket(RateLimit(rate=2.0, burst=1), clock), "notion")
    assert await pacer.acquire() == 0.0
    assert await pacer.acquire() == pytest.approx(0.5)
    pacer.pause(3.0)
    after_pause = await pacer.acquire()
    assert after_pause >= 3.0
    got = await exposition(metrics)
    waited = got.value("opsync_rate_limit_wait_seconds_total", api="notion")
    assert waited == pytest.approx(0.5 + after_pause)
    assert got.value("opsync_rate_limit_pauses_total", api="notion") == 1


async def test_the_handler_is_timed_and_counted_by_resource_type_and_outcome() -> None:
    clock = FakeClock()
    metrics = Metrics(clock=clock)
    outcomes: dict[str, Outcome | None] = {
        "call.completed": None,
        "callTranscript": Defer(5),
        "message.received": Ignore("no"),
        "sync.phone_number": Reroute("PN2"),
    }

    async def handler(e: InboxEvent) -> Outcome | None:
        clock.advance(0.3)
        if e.event_type == "contact.updated":
            raise RuntimeError("failed")
        return outcomes[e.event_type]

    timed = metrics.instrument(handler)
    for event_type in outcomes:
        await timed(event(event_type))
    with pytest.raises(RuntimeError):
        await timed(event("contact.updated"))

    async def stuck(e: InboxEvent) -> Outcome | None:
        await asyncio.Event().wait()
        return None

    task = asyncio.create_task(metrics.instrument(stuck)(event("message.delivered")))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    got = await exposition(metrics)
    processed = "opsync_events_processed_total"
    assert got.value(processed, resource_type="call", outcome="done") == 1
    assert got.value(processed, resource_type="call", outcome="deferred") == 1
    assert got.value(processed, resource_type="message", outcome="ignored") == 1
    assert got.value(processed, resource_type="sync", outcome="rerouted") == 1
    assert got.value(processed, resource_type="other", outcome="failed") == 1
    assert got.value(processed, resource_type="message", outcome="cancelled") == 1
    histogram = "opsync_event_processing_seconds"
    assert got.value(f"{histogram}_count", resource_type="call") == 2
    assert got.value(f"{histogram}_sum", resource_type="call") == pytest.approx(0.6)
    assert got.value(f"{histogram}_bucket", resource_type="call", le="0.25") == 0
    assert got.value(f"{histogram}_bucket", resource_type="call", le="0.5") == 2


async def test_inbox_depth_and_dead_letters_are_read_at_scrape_time(tmp_path: Path) -> None:
    async with await Store.open(f"sqlite:///{tmp_path / 'm.db'}") as store:
        metrics = Metrics(store=store)
        first = await exposition(metrics)
        for n in range(3):
            await store.inbox_enqueue(f"E{n}", "call.completed", "PN1", {"id": f"E{n}"})
        [claimed] = await store.inbox_claim("w", 60)
        await store.inbox_dead_letter(claimed.id, "w", "InvalidPayload", "bad")
        second = await exposition(metrics)
    assert first.value("opsync_inbox_events", state="pending") == 0
    assert second.value("opsync_inbox_events", state="pending") == 2
    assert second.value("opsync_inbox_events", state="dead") == 1
    assert second.value("opsync_dead_letters") == 1
    assert second.value("opsync_store_up") == 1


async def test_an_unreachable_store_drops_the_inbox_series_but_serves_the_rest() -> None:
    down = await Store.open("postgresql://opsync@127.0.0.1:1/opsync", migrate=False)
    try:
        metrics = Metrics(store=down)
        metrics.webhook_received("call.completed", "accepted")
        response = await scrape(metrics)
    finally:
        await down.close()
    assert response.status_code == 200
    got = Exposition.parse(response.text)
    assert got.value("opsync_store_up") == 0
    assert got.labelled("opsync_inbox_events") == []
    assert got.value("opsync_dead_letters") is None
    assert got.total("opsync_webhooks_received_total") == 1


async def test_last_scheduled_runs_are_epoch_seconds_per_phone_number() -> None:
    async def last_runs() -> dict[str, int]:
        return {"PN1": 1_775_001_600_000, "PN2": 1_775_002_500_500}

    metrics = Metrics(last_runs=last_runs)
    got = await exposition(metrics)
    name = "opsync_scheduled_run_last_success_timestamp_seconds"
    assert got.value(name, phone_number_id="PN1") == 1_775_001_600
    assert got.value(name, phone_number_id="PN2") == 1_775_002_500.5


async def test_canvas_counters_are_read_from_the_lookup_stats() -> None:
    stats = CanvasStats(memory_hits=2, table_hits=3, notion_hits=4, misses=5, negative_hits=6)
    metrics = Metrics()
    assert "opsync_canvas_cache_hits" not in (await exposition(metrics)).families
    metrics.canvas_stats = stats
    got = await exposition(metrics)
    assert got.value("opsync_canvas_cache_hits_total", tier="memory") == 2
    assert got.value("opsync_canvas_cache_hits_total", tier="table") == 3
    assert got.value("opsync_canvas_cache_misses_total", result="found") == 4
    assert got.value("opsync_canvas_cache_misses_total", result="not_found") == 5
    assert got.value("opsync_canvas_cache_negative_hits_total") == 6
    stats.count("negative")  # live: the next scrape sees it
    assert (await exposition(metrics)).value("opsync_canvas_cache_negative_hits_total") == 7


async def test_each_service_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.webhook_received("call.completed", "accepted")
    assert (await exposition(one)).total("opsync_webhooks_received_total") == 1
    assert (await exposition(two)).total("opsync_webhooks_received_total") == 0


async def test_the_route_is_off_without_an_admin_token_and_bearer_protected_with_one() -> None:
    metrics = Metrics()
    assert (await scrape(metrics, None)).status_code == 404
    served = await scrape(metrics)
    assert served.status_code == 200
    assert served.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "process_resident_memory_bytes" in served.text
    app = Starlette(routes=[metrics_route(metrics, admin_token="metrics-admin-token")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        refused = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert wrong.status_code == 401
    assert (await scrape(metrics, "metrics-admin-token")).status_code == 200


async def test_the_openphone_client_reports_every_attempt_with_its_status() -> None:
    clock = FakeClock()
    metrics = Metrics()
    answers = iter([httpx.Response(429, headers={"retry-after": "1"}), httpx.Response(404)])

    def handle(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        client = OpenPhoneClient(
            http,
            "op-key-123456",
            base_url="http://op.test/v1",
            pacer=metrics.metered(TokenBucket(RateLimit(10.0), clock), "openphone"),
            clock=clock,
            on_request=metrics.request_hook("openphone"),
        )
        assert await client.get_call_summary("AC77") is None  # 429, paused, then 404
    got = await exposition(metrics)
    operation = "GET /call-summaries/{id}"
    requests = "opsync_external_requests_total"
    assert got.value(requests, api="openphone", operation=operation, status="429") == 1
    assert got.value(requests, api="openphone", operation=operation, status="404") == 1
    assert got.value("opsync_rate_limit_pauses_total", api="openphone") == 1
    assert got.value("opsync_rate_limit_wait_seconds_total", api="openphone") >= 1.0


async def test_the_notion_adapter_reports_every_attempt_with_its_status() -> None:
    clock = FakeClock()
    metrics = Metrics()
    limited = httpx.Response(429, json={"object": "error", "code": "rate_limited", "message": "x"})
    page = {"object": "page", "id": "0" * 32}
    answers = iter([limited, httpx.Response(200, json=page)])

    def handle(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        adapter = NotionAdapter.from_token(
            "ntn_metricsTestToken",
            pacer=metrics.metered(TokenBucket(RateLimit(3.0), clock), "notion"),
            http=http,
            clock=clock,
            on_request=metrics.request_hook("notion"),
        )
        await adapter.update_page("0" * 32, {})
    got = await exposition(metrics)
    requests = "opsync_external_requests_total"
    assert got.value(requests, api="notion", operation="pages.update", status="429") == 1
    assert got.value(requests, api="notion", operation="pages.update", status="ok") == 1
    assert got.value("opsync_rate_limit_pauses_total", api="notion") == 1


# --- after a real run ---------------------------------------------------------------------------


async def test_metrics_after_a_call_and_a_message_through_the_whole_pipeline(
    pipeline: Pipeline,
) -> None:
    pipeline.canvas_page("Acme Hardware", "321-443-6893")
    call_id = pipeline.add_call(CUSTOMER)
    events = pipeline.call_events(call_id)
    ws = pipeline.workspace
    message = ws.add_message(pipeline.pn_id, [CUSTOMER], "Is the order ready?", at=0)
    received = pipeline.emitter.message_event("message.received", message.id, 1.0)
    await pipeline.emitter.deliver([*events, received])
    await pipeline.emitter.deliver(events[:1])  # a redelivery: a duplicate
    await pipeline.drain()
    base = pipeline.webhook_url.rsplit("/webhooks", 1)[0]
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            pipeline.webhook_url, content=b"{}", headers={"content-type": "application/json"}
        )
        refused = await http.get(f"{base}/metrics")
        response = await http.get(
            f"{base}/metrics", headers={"authorization": "Bearer e2e-admin-token"}
        )
    assert forged.status_code == 401
    assert refused.status_code == 401  # the e2e service has an admin token
    assert response.status_code == 200
    got = Exposition.parse(response.text)

    webhooks = "opsync_webhooks_received_total"
    for e in events:
        assert got.value(webhooks, event_type=e.type, outcome="accepted") == 1, e.type
    assert got.value(webhooks, event_type="call.ringing", outcome="duplicate") == 1
    assert got.value(webhooks, event_type="message.received", outcome="accepted") == 1
    assert got.value(webhooks, event_type="unknown", outcome="invalid_signature") == 1

    requests = "opsync_external_requests_total"
    op = {"api": "openphone", "status": "ok"}
    assert got.total(requests, **op, operation="GET /phone-numbers") >= 1
    assert got.total(requests, **op, operation="GET /call-recordings/{id}") >= 1
    assert got.total(requests, **op, operation="GET media") >= 1  # the recording's file
    notion = {"api": "notion", "status": "ok"}
    assert got.total(requests, **notion, operation="pages.create") == 2  # one call, one message
    assert got.total(requests, **notion, operation="data_sources.query") >= 1  # Canvas lookup
    assert {labels["status"] for labels in got.labelled(requests)} == {"ok"}

    assert got.value("opsync_inbox_events", state="done") == len(events) + 1
    assert got.value("opsync_inbox_events", state="pending") == 0
    assert got.value("opsync_dead_letters") == 0
    processed = "opsync_events_processed_total"
    assert got.value(processed, resource_type="call", outcome="done") == len(events)
    assert got.value(processed, resource_type="message", outcome="done") == 1
    assert got.value("opsync_event_processing_seconds_count", resource_type="call") >= len(events)
    assert got.value("opsync_event_processing_seconds_count", resource_type="message") == 1
    assert got.value("opsync_event_processing_seconds_sum", resource_type="message") > 0
    assert got.value("opsync_rate_limit_wait_seconds_total", api="notion") is not None
    assert got.value("opsync_canvas_cache_misses_total", result="found") == 1
    assert got.total("opsync_canvas_cache_hits_total") >= 1  # the message found it cached
    assert "opsync_scheduled_run_last_success_timestamp_seconds" in got.families
