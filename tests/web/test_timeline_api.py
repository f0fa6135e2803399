"""The contact timeline API over a store filled by hand: matching by any spelling of a
number and by Canvas page, newest first, cursor pagination, catching up, and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.openphone.models import Call, CallRecording, CallSummary, Message
from opsync.store import Store
from opsync.sync._call_state import CallSnapshot
from opsync.sync.messages import MessageSnapshot
from opsync.web import build_app
from tests.store.conftest import Backend, backend
from tests.web.support import ADMIN_TOKEN, WEBHOOK_PATH

__all__ = ["backend"]  # the store's backends fixture: SQLite, and PostgreSQL when configured

OWN = "+15550001000"
LINE = "PNline1"
ALICE = "+13214436893"
BOB = "+14155550177"
CANVAS = "1a2b3c4d-0000-4000-8000-00000000c0de"
OTHER_CANVAS = "9f8e7d6c-0000-4000-8000-0000000000aa"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def media_link(key: str) -> str:
    return f"https://opsync.test/media/{key}?sig=signed"


def call_json(call_id: str, other: str, minutes: int, **extra: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {
        "id": call_id,
        "phoneNumberId": LINE,
        "userId": "US1",
        "direction": "incoming",
        "status": "completed",
        "participants": [other, OWN],
        "createdAt": at.isoformat(),
        "updatedAt": (at + timedelta(minutes=2)).isoformat(),
        "answeredAt": (at + timedelta(seconds=5)).isoformat(),
        "answeredBy": "US1",
        "initiatedBy": None,
        "completedAt": (at + timedelta(minutes=2)).isoformat(),
        "duration": 115,
        "callRoute": None,
        "forwardedFrom": None,
        "forwardedTo": None,
        "aiHandled": None,
        **extra,
    }


def message_json(message_id: str, sender: str, to: list[str], minutes: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "from": sender,
        "to": to,
        "text": f"text of {message_id}",
        "phoneNumberId": LINE,
        "direction": "outgoing" if sender == OWN else "incoming",
        "userId": None,
        "status": "delivered",
        "createdAt": (T0 + timedelta(minutes=minutes)).isoformat(),
        "updatedAt": None,
    }


@dataclass
class Filled:
    """What :func:`fill` put in the store, newest first per contact."""

    alice: list[str]
    bob: list[str]
    linked: list[str]  # Alice's resources whose page links to CANVAS


async def add_call(
    store: Store, call_id: str, other: str, minutes: int, *, canvas: str | None = None
) -> None:
    snap = CallSnapshot(
        call=Call.model_validate(call_json(call_id, other, minutes)),
        recordings=[
            CallRecording.model_validate(
                {"id": f"RE{call_id}", "duration": 100, "startTime": None,
                 "status": "completed", "type": "audio/mpeg", "url": "https://op.test/r.mp3"}
            )
        ],
        summary=CallSummary.model_validate(
            {"callId": call_id, "status": "completed", "summary": [f"talked in {call_id}"],
             "nextSteps": ["call back"]}
        ),
        audio={f"RE{call_id}": f"recordings/2026/03/01/{call_id}.mp3"},
    )  # fmt: skip
    await store.snapshot_put("call", call_id, snap.to_json(), phone_number_id=LINE)
    await _synced(store, "call", call_id, canvas)


async def add_message(
    store: Store,
    message_id: str,
    sender: str,
    to: list[str],
    minutes: int,
    *,
    canvas: str | None = None,
) -> None:
    message = Message.model_validate(message_json(message_id, sender, to, minutes))
    snap = MessageSnapshot(message=message)
    await store.snapshot_put("message", message_id, snap.to_json(), phone_number_id=LINE)
    await _synced(store, "message", message_id, canvas)


async def _synced(store: Store, kind: str, resource_id: str, canvas: str | None) -> None:
    page = str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id))
    await store.ledger_mark_created(kind, resource_id, page, "hash")  # type: ignore[arg-type]
    await store.record_sync(
        LINE, kind, resource_id, "success", notion_page_id=page, canvas_id=canvas
    )


async def fill(store: Store) -> Filled:
    """Alice: 4 calls and 4 messages (two at the same minute, to test ties), 3 of them linked
    to CANVAS; Bob: one message; one group message to both."""
    await store.upsert_phone_number(LINE, OWN, name="Main line")
    await store.canvas_cache_put("phone", ALICE, CANVAS, "Alice Corp")
    await add_call(store, "ACa1", ALICE, 0, canvas=CANVAS)
    await add_message(store, "ACm1", ALICE, [OWN], 5)
    await add_message(store, "ACm2", OWN, ["(321) 443-6893"], 10, canvas=CANVAS)
    await add_call(store, "ACa2", "321-443-6893", 20)
    await add_message(store, "ACm3", ALICE, [OWN], 20)  # same minute as ACa2
    await add_message(store, "ACb1", BOB, [OWN], 25)
    await add_message(store, "ACg1", OWN, [BOB, ALICE], 30)
    await add_call(store, "ACa3", ALICE, 40, canvas=CANVAS)
    await add_call(store, "ACa4", ALICE, 50)
    alice = ["ACa4", "ACa3", "ACg1", "ACm3", "ACa2", "ACm2", "ACm1", "ACa1"]
    return Filled(alice=alice, bob=["ACg1", "ACb1"], linked=["ACa3", "ACm2", "ACa1"])


@pytest.fixture
async def store(backend: Backend, clock: FakeClock) -> AsyncIterator[Store]:
    """The web tests' store, on each backend (the index's SQL differs by dialect)."""
    opened = await backend.open(clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def filled(store: Store) -> Filled:
    return await fill(store)


@pytest.fixture
async def http(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(
        store=store,
        verifier=None,
        webhook_path=WEBHOOK_PATH,
        admin_token=ADMIN_TOKEN,
        insecure_accept_unsigned=True,
        media_url=media_link,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://opsync.test", headers=BEARER
    ) as client:
        yield client


async def get(http: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await http.get(path, params={k: v for k, v in params.items() if v is not None})


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


async def walk(http: httpx.AsyncClient, path: str, limit: int) -> list[list[str]]:
    """Every page of a timeline, following next_cursor."""
    pages: list[list[str]] = []
    cursor = None
    for _ in range(100):
        response = await get(http, path, limit=limit, cursor=cursor)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["items"]) <= limit
        pages.append(ids(body))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize(
    "spelling", [ALICE, "321-443-6893", "(321) 443-6893", "1 321 443 6893", "3214436893"]
)
async def test_every_spelling_of_a_number_gives_its_timeline_newest_first(
    http: httpx.AsyncClient, filled: Filled, spelling: str
) -> None:
    response = await get(http, f"/api/contacts/{spelling}/timeline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body) == filled.alice
    assert body["next_cursor"] is None
    assert body["contact"] == {
        "phone": ALICE,
        "canvas_id": CANVAS,
        "canvas_url": "https://www.notion.so/" + CANVAS.replace("-", ""),
        "canvas_name": "Alice Corp",
    }
    times = [item["occurred_at"] for item in body["items"]]
    assert times == sorted(times, reverse=True)


async def test_items_link_the_notion_page_recordings_and_summary(
    http: httpx.AsyncClient, store: Store, filled: Filled
) -> None:
    body = (await get(http, f"/api/contacts/{ALICE}/timeline")).json()
    by_id = {item["id"]: item for item in body["items"]}
    call = by_id["ACa3"]
    ledger = await store.ledger_get("call", "ACa3")
    assert ledger is not None
    assert ledger.notion_page_id
    assert call["notion_url"] == "https://www.notion.so/" + ledger.notion_page_id.replace("-", "")
    assert call["recording_urls"] == [media_link("recordings/2026/03/01/ACa3.mp3")]
    assert call["summary"] == ["talked in ACa3"]
    assert call["next_steps"] == ["call back"]
    assert (call["type"], call["direction"], call["status"], call["duration"]) == (
        "call", "incoming", "completed", 115,
    )  # fmt: skip
    assert call["occurred_at"] == "2026-03-01T12:40:00.000Z"
    assert call["counterparty"] == ALICE
    assert call["canvas_id"] == CANVAS
    message = by_id["ACm2"]
    assert (message["type"], message["direction"], message["text"]) == (
        "message", "outgoing", "text of ACm2",
    )  # fmt: skip
    assert by_id["ACm1"]["canvas_id"] is None  # its page links no Canvas page


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_pages_cover_the_timeline_without_gaps_or_repeats(
    http: httpx.AsyncClient, filled: Filled, limit: int
) -> None:
    pages = await walk(http, f"/api/contacts/{ALICE}/timeline", limit)
    assert [item for page in pages for item in page] == filled.alice
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) == -(-len(filled.alice) // limit)


async def test_a_group_message_is_in_every_party_timeline(
    http: httpx.AsyncClient, filled: Filled
) -> None:
    body = (await get(http, f"/api/contacts/{BOB}/timeline")).json()
    assert ids(body) == filled.bob
    assert body["contact"]["canvas_id"] is None


@pytest.mark.parametrize("spelling", [CANVAS, CANVAS.replace("-", ""), CANVAS.upper()])
async def test_a_canvas_page_timeline_holds_what_links_to_it(
    http: httpx.AsyncClient, filled: Filled, spelling: str
) -> None:
    response = await get(http, f"/api/canvas/{spelling}/timeline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids(body) == filled.linked
    assert body["contact"] == {
        "canvas_id": CANVAS,
        "canvas_url": "https://www.notion.so/" + CANVAS.replace("-", ""),
        "phones": [ALICE],
    }
    pages = await walk(http, f"/api/canvas/{CANVAS}/timeline", 2)
    assert [item for page in pages for item in page] == filled.linked


async def test_new_resources_and_relinked_pages_show_on_the_next_read(
    http: httpx.AsyncClient, store: Store, filled: Filled
) -> None:
    assert ids((await get(http, f"/api/contacts/{ALICE}/timeline")).json()) == filled.alice
    await add_message(store, "ACm9", ALICE, [OWN], 90, canvas=OTHER_CANVAS)
    await _synced(store, "call", "ACa1", OTHER_CANVAS)  # the page now links elsewhere
    body = (await get(http, f"/api/contacts/{ALICE}/timeline")).json()
    assert ids(body) == ["ACm9", *filled.alice]
    moved = (await get(http, f"/api/canvas/{OTHER_CANVAS}/timeline")).json()
    assert ids(moved) == ["ACm9", "ACa1"]
    assert ids((await get(http, f"/api/canvas/{CANVAS}/timeline")).json()) == ["ACa3", "ACm2"]


async def test_a_failed_sync_keeps_the_link_of_the_last_successful_one(
    http: httpx.AsyncClient, store: Store, filled: Filled
) -> None:
    await get(http, f"/api/canvas/{CANVAS}/timeline")
    await store.record_sync(LINE, "call", "ACa3", "failed", error_message="Notion down")
    assert ids((await get(http, f"/api/canvas/{CANVAS}/timeline")).json()) == filled.linked


async def test_the_workspace_number_and_unknown_contacts_are_404(
    http: httpx.AsyncClient, filled: Filled
) -> None:
    for path in (
        f"/api/contacts/{OWN}/timeline",
        "/api/contacts/+19995550123/timeline",
        f"/api/canvas/{OTHER_CANVAS}/timeline",
    ):
        response = await get(http, path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"


async def test_a_canvas_page_the_lookup_found_but_nothing_links_to_is_empty(
    http: httpx.AsyncClient, store: Store, filled: Filled
) -> None:
    await store.canvas_cache_put("phone", "+16175550100", OTHER_CANVAS, "Nobody yet")
    body = (await get(http, f"/api/canvas/{OTHER_CANVAS}/timeline")).json()
    assert (body["items"], body["next_cursor"], body["contact"]["phones"]) == (
        [], None, ["+16175550100"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/contacts/hello/timeline", {}),
        ("/api/contacts/443-6893/timeline", {}),  # no area code: not a complete number
        (f"/api/contacts/{ALICE}/timeline", {"limit": "0"}),
        (f"/api/contacts/{ALICE}/timeline", {"limit": "201"}),
        (f"/api/contacts/{ALICE}/timeline", {"limit": "ten"}),
        (f"/api/contacts/{ALICE}/timeline", {"cursor": "not-a-cursor"}),
        (f"/api/contacts/{ALICE}/timeline", {"cursor": "WzEsMl0"}),  # [1,2]: wrong shape
        ("/api/canvas/not-a-page/timeline", {}),
        (f"/api/canvas/{CANVAS}/timeline", {"limit": "-1"}),
    ],
)
async def test_bad_input_is_400(
    http: httpx.AsyncClient, filled: Filled, path: str, params: dict[str, str]
) -> None:
    response = await get(http, path, **params)
    assert response.status_code == 400, (path, params, response.text)
    assert response.json()["error"] == "bad_request"


async def test_the_routes_need_the_admin_token(http: httpx.AsyncClient, filled: Filled) -> None:
    for path in (f"/api/contacts/{ALICE}/timeline", f"/api/canvas/{CANVAS}/timeline"):
        response = await http.get(path, headers={"authorization": "Bearer wrong"})
        assert response.status_code == 401


async def test_an_empty_store_indexes_nothing_and_answers_404(http: httpx.AsyncClient) -> None:
    response = await get(http, f"/api/contacts/{ALICE}/timeline")
    assert response.status_code == 404


async def test_a_write_stamped_before_the_last_catch_up_is_still_found(
    http: httpx.AsyncClient, store: Store, clock: FakeClock, filled: Filled
) -> None:
    """A writer takes its timestamp, then waits for the lock; a catch-up runs meanwhile. The
    next catch-up looks back LAG_MS before the last one, so the late commit is not lost."""
    clock.advance(60)
    assert ids((await get(http, f"/api/contacts/{BOB}/timeline")).json()) == filled.bob
    clock.advance(-30)  # the slow writer's timestamp: before the catch-up above
    await add_message(store, "ACb2", BOB, [OWN], 35)
    clock.advance(30)
    assert ids((await get(http, f"/api/contacts/{BOB}/timeline")).json()) == ["ACb2", *filled.bob]
