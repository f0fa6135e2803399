from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from opsync.errors import InvalidPayload
from tests.openphone.conftest import ClientFactory
from tests.openphone.support import CALL, Script, error, ok


def conversation(number: int) -> dict[str, Any]:
    return {
        "id": f"CN{number}",
        "phoneNumberId": "PN1",
        "participants": [f"+1555555{number:04d}"],
        "name": None,
        "assignedTo": None,
        "lastActivityAt": "2024-01-01T00:00:00Z",
        "lastActivityId": f"AC{number}",
        "createdAt": None,
        "updatedAt": "2024-01-01T00:00:00.5Z",
        "deletedAt": None,
        "mutedUntil": None,
        "snoozedUntil": None,
    }


def page(first: int, token: str | None) -> httpx.Response:
    # totalItems is deliberately wrong: the client must not use it.
    return ok([conversation(first), conversation(first + 1)], totalItems=1, nextPageToken=token)


def without_token(request: httpx.Request) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in request.url.params.multi_items() if k != "pageToken")


async def test_three_pages_keep_every_filter_and_pass_the_token(
    make_client: ClientFactory,
) -> None:
    script = Script(page(1, "tok-2"), page(3, "tok-3"), page(5, None))
    conversations = make_client(script).list_conversations(
        ["PN1", "+15555550100"],
        updated_after=datetime(2024, 1, 1, tzinfo=UTC),
        exclude_inactive=True,
        page_size=2,
    )

    ids = [c.id async for c in conversations]

    assert ids == ["CN1", "CN2", "CN3", "CN4", "CN5", "CN6"]
    tokens = [r.url.params.get("pageToken") for r in script.requests]
    assert tokens == [None, "tok-2", "tok-3"]
    first = without_token(script.requests[0])
    assert all(without_token(r) == first for r in script.requests)
    assert first == [
        ("excludeInactive", "true"),
        ("maxResults", "2"),
        ("phoneNumbers", "+15555550100"),
        ("phoneNumbers", "PN1"),
        ("updatedAfter", "2024-01-01T00:00:00.000Z"),
    ]


async def test_pages_are_fetched_lazily_one_at_a_time(make_client: ClientFactory) -> None:
    script = Script(page(1, "tok-2"), page(3, None))
    conversations = make_client(script).list_conversations()

    assert script.requests == []  # nothing is fetched before iteration
    await anext(conversations)
    await anext(conversations)
    assert len(script.requests) == 1  # the second page waits until the first is consumed
    await anext(conversations)
    assert len(script.requests) == 2
    assert (await anext(conversations)).id == "CN4"
    with pytest.raises(StopAsyncIteration):
        await anext(conversations)
    assert len(script.requests) == 2


async def test_an_empty_string_token_ends_the_listing(make_client: ClientFactory) -> None:
    script = Script(page(1, ""))
    assert len([c async for c in make_client(script).list_conversations()]) == 2


async def test_a_repeated_token_stops_with_an_error(make_client: ClientFactory) -> None:
    script = Script(page(1, "same"), page(3, "same"))
    seen: list[str] = []

    async def drain() -> None:
        async for item in make_client(script).list_conversations():
            seen.append(item.id)

    with pytest.raises(InvalidPayload, match="repeated"):
        await drain()

    assert seen == ["CN1", "CN2", "CN3", "CN4"]
    assert len(script.requests) == 2


async def test_a_cycle_of_tokens_is_caught_too(make_client: ClientFactory) -> None:
    script = Script(page(1, "a"), page(3, "b"), page(5, "a"))
    with pytest.raises(InvalidPayload, match="repeated"):
        _ = [c async for c in make_client(script).list_conversations()]
    assert len(script.requests) == 3


async def test_a_non_string_token_is_invalid(make_client: ClientFactory) -> None:
    script = Script(ok([], totalItems=0, nextPageToken=5))
    with pytest.raises(InvalidPayload, match="nextPageToken"):
        _ = [c async for c in make_client(script).list_conversations()]


async def test_a_data_field_that_is_not_a_list_is_invalid(make_client: ClientFactory) -> None:
    script = Script(ok({"id": "CN1"}, totalItems=1, nextPageToken=None))
    with pytest.raises(InvalidPayload, match="not a list"):
        _ = [c async for c in make_client(script).list_conversations()]


async def test_a_failed_page_is_retried_with_the_same_token(make_client: ClientFactory) -> None:
    script = Script(
        ok([CALL], totalItems=9, nextPageToken="next"),
        error(503),
        ok([{**CALL, "id": "AC2"}], totalItems=9, nextPageToken=None),
    )
    calls = make_client(script).list_calls("PN1", "+15555555555")

    assert [c.id async for c in calls] == ["AC123abc", "AC2"]
    assert [r.url.params.get("pageToken") for r in script.requests] == [None, "next", "next"]


async def test_users_and_contacts_use_their_smaller_page_limit(
    make_client: ClientFactory,
) -> None:
    script = Script(
        ok([], totalItems=0, nextPageToken=None), ok([], totalItems=0, nextPageToken=None)
    )
    client = make_client(script)
    assert [u async for u in client.list_users()] == []
    assert [c async for c in client.list_contacts(external_ids=["e1", "e2"], sources=["crm"])] == []

    assert script.requests[0].url.params["maxResults"] == "50"
    contacts = script.requests[1].url.params
    assert contacts.get_list("externalIds") == ["e1", "e2"]
    assert contacts.get_list("sources") == ["crm"]
    assert contacts["maxResults"] == "50"
