"""``/api/dlq``: list, show, replay, replay-all and purge of dead letters, over the admin token."""

from __future__ import annotations

import httpx
import pytest

from opsync.clock import FakeClock
from opsync.store import Store
from opsync.web.admin_api import iso_ms, one_line, parse_duration
from tests.support.dead_letters import dead_letter
from tests.web.conftest import Wakes
from tests.web.support import ADMIN_TOKEN

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def now_ms(clock: FakeClock) -> int:
    return int(clock.now() * 1000)


async def test_list_shows_the_most_recent_dead_letters_first(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    empty = await client.get("/api/dlq", headers=BEARER)
    assert (empty.status_code, empty.json()) == (200, {"count": 0, "dead_letters": []})
    first = await dead_letter(store, "EVa", partition="PNa", reason="line one\n  line two")
    clock.advance(60)
    second = await dead_letter(store, "EVb", partition=None, event_type="message.received")
    died_at = now_ms(clock)
    await store.inbox_enqueue("EVpending", "call.completed", "PNc", "{}")  # not dead: not listed
    listed = await client.get("/api/dlq", headers=BEARER)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["dead_letters"]] == [second, first]
    assert body["dead_letters"][0] == {
        "id": second,
        "event_id": "EVb",
        "event_type": "message.received",
        "source": "webhook",
        "partition_key": None,
        "state": "dead",
        "attempts": 2,
        "last_error": "Calls database: property Duration is text, expected number",
        "received_at": iso_ms(died_at),
        "dead_at": iso_ms(died_at),
    }
    assert body["dead_letters"][1]["last_error"] == "line one line two"  # one line
    limited = (await client.get("/api/dlq?limit=1", headers=BEARER)).json()
    assert limited["count"] == 2
    assert [row["id"] for row in limited["dead_letters"]] == [second]


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "1.5", ""])
async def test_list_refuses_a_bad_limit(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get(f"/api/dlq?limit={limit}", headers=BEARER)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_limit"


async def test_show_has_payload_attempts_and_every_error_with_time_and_class(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    start = now_ms(clock)
    inbox_id = await dead_letter(
        store,
        "EVshow",
        retries=[("RateLimited", "notion: 429"), ("UpstreamUnavailable", "notion: 502")],
        reason="Calls database: property Duration is text\nfix the schema, then replay",
    )
    response = await client.get(f"/api/dlq/{inbox_id}", headers=BEARER)
    assert response.status_code == 200
    shown = response.json()
    assert (shown["id"], shown["event_id"], shown["state"], shown["attempts"]) == (
        inbox_id,
        "EVshow",
        "dead",
        3,
    )
    assert shown["payload"] == {
        "id": "EVshow",
        "type": "call.completed",
        "data": {"object": {"id": "AC1"}},
    }
    assert (
        shown["last_error"]
        == "Calls database: property Duration is text\nfix the schema, then replay"
    )
    assert shown["errors"] == [
        {"attempt": 1, "error_class": "RateLimited", "message": "notion: 429", "at": iso_ms(start)},
        {
            "attempt": 2,
            "error_class": "UpstreamUnavailable",
            "message": "notion: 502",
            "at": iso_ms(start),
        },
        {
            "attempt": 3,
            "error_class": "NotionSchemaMismatch",
            "message": shown["last_error"],
            "at": iso_ms(start),
        },
    ]


async def test_show_of_an_unknown_id_is_404_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/dlq/999", headers=BEARER)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    not_an_id = await client.get("/api/dlq/abc", headers=BEARER)
    assert (not_an_id.status_code, not_an_id.json()["error"]) == (404, "not_found")


async def test_show_of_an_event_that_is_not_dead_gives_its_state(
    client: httpx.AsyncClient, store: Store
) -> None:
    await store.inbox_enqueue("EVp", "call.completed", "PN1", "not json")
    [event] = await store.inbox_list()
    shown = (await client.get(f"/api/dlq/{event.id}", headers=BEARER)).json()
    assert (shown["state"], shown["dead_at"], shown["payload"], shown["errors"]) == (
        "pending",
        None,
        "not json",
        [],
    )


async def test_replay_sends_the_dead_letter_back_and_wakes_the_dispatcher(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    inbox_id = await dead_letter(store, "EVr")
    response = await client.post(f"/api/dlq/{inbox_id}/replay", headers=BEARER)
    assert (response.status_code, response.json()) == (
        200,
        {"replayed": 1, "id": inbox_id, "state": "pending"},
    )
    event = await store.inbox_get(inbox_id)
    assert event is not None
    assert (event.state, event.attempts) == ("pending", 0)
    assert len(await store.inbox_errors_for(inbox_id)) == 2  # the history stays
    assert wakes.count == 1
    again = await client.post(f"/api/dlq/{inbox_id}/replay", headers=BEARER)
    assert again.status_code == 409
    assert again.json() == {
        "error": "not_dead",
        "detail": f"event {inbox_id} is pending, not dead",
        "state": "pending",
    }
    unknown = await client.post("/api/dlq/999/replay", headers=BEARER)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    assert wakes.count == 1


async def test_replay_all_replays_every_dead_letter(
    client: httpx.AsyncClient, store: Store, wakes: Wakes
) -> None:
    for index in range(3):
        await dead_letter(store, f"EV{index}", partition=f"PN{index}")
    response = await client.post("/api/dlq/replay-all", headers=BEARER)
    assert (response.status_code, response.json()) == (200, {"replayed": 3})
    assert (await store.inbox_counts())["pending"] == 3
    assert wakes.count == 1
    nothing = await client.post("/api/dlq/replay-all", headers=BEARER)
    assert nothing.json() == {"replayed": 0}
    assert wakes.count == 1  # nothing replayed, nothing to wake


async def test_purge_deletes_dead_letters_older_than_the_duration(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    old = await dead_letter(store, "EVold", partition="PNa")
    clock.advance(2 * 3600)
    recent = await dead_letter(store, "EVrecent", partition="PNb")
    clock.advance(60)
    response = await client.post("/api/dlq/purge?older_than=1h", headers=BEARER)
    assert (response.status_code, response.json()) == (200, {"purged": 1, "older_than": "1h"})
    assert await store.inbox_get(old) is None
    assert await store.inbox_errors_for(old) == []
    assert await store.inbox_get(recent) is not None


@pytest.mark.parametrize("query", ["", "?older_than=", "?older_than=7", "?older_than=-1d"])
async def test_purge_refuses_a_missing_or_bad_duration(
    client: httpx.AsyncClient, store: Store, query: str
) -> None:
    inbox_id = await dead_letter(store, "EVkeep")
    response = await client.post(f"/api/dlq/purge{query}", headers=BEARER)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_older_than"
    assert await store.inbox_get(inbox_id) is not None


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("7d", 7 * 86_400_000),
        ("12h", 12 * 3_600_000),
        ("30m", 30 * 60_000),
        ("45s", 45_000),
        ("2w", 14 * 86_400_000),
        (" 0d ", 0),
        ("3D", 3 * 86_400_000),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7",
        "d",
        "7 d",
        "1.5h",
        "-1d",
        "7y",
        "7dd",
        "1d2h",
        "99999999w",
        "\uff17d",
    ],  # a fullwidth 7
)
def test_parse_duration_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_one_line_collapses_and_cuts() -> None:
    assert one_line("a\n\tb  c") == "a b c"
    assert one_line(None) == ""
    assert one_line("x" * 10, width=5) == "xxxx…"
