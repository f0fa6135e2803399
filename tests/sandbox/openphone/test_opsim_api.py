"""REST behaviour: required parameters, bounds, auth, pagination, filters, ordering."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsync.sandbox.openphone.models import iso
from tests.sandbox.openphone.support import client, make_sim, validate


def _busiest_pair(ws: Any) -> tuple[str, str, int]:
    counts: dict[tuple[str, str], int] = {}
    for call in ws.calls.values():
        key = (call.phone_number_id, call.participant)
        counts[key] = counts.get(key, 0) + 1
    (pn, other), n = max(counts.items(), key=lambda kv: kv[1])
    return pn, other, n


async def _walk(http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(1000):
        query = {**params, **({"pageToken": token} if token else {})}
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"data", "totalItems", "nextPageToken"}
        items += body["data"]
        token = body["nextPageToken"]
        if token is None:
            return items
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/v1/calls", {"participants": "+15555550100", "maxResults": 5}, "0101400"),
        ("/v1/calls", {"phoneNumberId": "PN1", "maxResults": 5}, "0101400"),
        ("/v1/calls", {"phoneNumberId": "PN1", "participants": "", "maxResults": 5}, "0101400"),
        ("/v1/calls", {"phoneNumberId": "PN1", "participants": "+15555550100"}, "0101400"),
        ("/v1/calls", {"phoneNumberId": "PN1", "participants": "+1", "maxResults": 5}, "0101400"),
        ("/v1/messages", {"phoneNumberId": "PN1", "maxResults": 5}, "0206400"),
        ("/v1/messages", {"participants": "+15555550100", "maxResults": 5}, "0206400"),
        ("/v1/users", {}, "1100400"),
        ("/v1/users", {"maxResults": "ten"}, "1100400"),
        ("/v1/contacts", {"maxResults": 51}, "0801400"),
        ("/v1/conversations", {"maxResults": 101}, "1000400"),
        ("/v1/conversations", {"maxResults": 5, "createdAfter": "yesterday"}, "1000400"),
        ("/v1/conversations", {"maxResults": 5, "pageToken": "%%%"}, "1000400"),
    ],
)
async def test_bad_parameters_are_400(path: str, params: dict[str, Any], code: str) -> None:
    sim = make_sim()
    async with client(sim) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["errors"][0]["path"].startswith("/query/")
    validate(response)


@pytest.mark.parametrize(("path", "upper"), [("/v1/calls", 100), ("/v1/messages", 100)])
async def test_max_results_bounds(path: str, upper: int) -> None:
    sim = make_sim()
    pn, other, _ = _busiest_pair(sim.workspace)
    base = {"phoneNumberId": pn, "participants": other}
    async with client(sim) as http:
        statuses = [
            (await http.get(path, params={**base, "maxResults": n})).status_code
            for n in (0, 1, upper, upper + 1)
        ]
    assert statuses == [400, 200, 200, 400]


async def test_too_many_participants_and_both_serialisations() -> None:
    sim = make_sim()
    pn, other, n = _busiest_pair(sim.workspace)
    async with client(sim) as http:
        plain = await http.get(
            "/v1/calls", params={"phoneNumberId": pn, "participants": other, "maxResults": 100}
        )
        bracket = await http.get(
            "/v1/calls", params={"phoneNumberId": pn, "participants[]": other, "maxResults": 100}
        )
        two = await http.get(
            "/v1/calls",
            params={"phoneNumberId": pn, "participants": [other, "+15555550100"], "maxResults": 5},
        )
    assert plain.json() == bracket.json()
    assert len(plain.json()["data"]) == n
    assert two.status_code == 400
    assert two.json()["code"] == "0101400"
    assert two.json()["title"] == "Too Many Participants"


@pytest.mark.parametrize("key", [None, "", "wrong-key", "Bearer test-key"])
async def test_authorization_required(key: str | None) -> None:
    sim = make_sim()
    async with client(sim, key) as http:
        response = await http.get("/v1/phone-numbers")
    assert response.status_code == 401
    assert response.json()["code"] == "0400401"
    assert response.json()["docs"] == "https://openphone.com/docs"


async def test_any_key_accepted_without_configured_key() -> None:
    sim = make_sim(api_key=None)
    async with client(sim, "whatever") as http:
        assert (await http.get("/v1/phone-numbers")).status_code == 200
    async with client(sim, "Bearer whatever") as http:
        assert (await http.get("/v1/phone-numbers")).status_code == 401


async def test_calls_pagination_walks_each_call_once_newest_first() -> None:
    sim = make_sim()
    pn, other, n = _busiest_pair(sim.workspace)
    async with client(sim) as http:
        items = await _walk(
            http, "/v1/calls", {"phoneNumberId": pn, "participants": other, "maxResults": 1}
        )
    ids = [c["id"] for c in items]
    assert len(ids) == len(set(ids)) == n
    created = [c["createdAt"] for c in items]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("path", "size", "count"),
    [
        ("/v1/users", 1, lambda ws: len(ws.users)),
        ("/v1/contacts", 3, lambda ws: len(ws.contacts)),
        ("/v1/conversations", 2, lambda ws: len(ws.conversations)),
    ],
)
async def test_list_pagination_is_complete(path: str, size: int, count: Any) -> None:
    sim = make_sim()
    async with client(sim) as http:
        first = (await http.get(path, params={"maxResults": size})).json()
        items = await _walk(http, path, {"maxResults": size})
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == count(sim.workspace)
    assert first["totalItems"] == count(sim.workspace)


async def test_pagination_survives_new_items_during_the_walk() -> None:
    sim = make_sim()
    pn, other, n = _busiest_pair(sim.workspace)
    params = {"phoneNumberId": pn, "participants": other, "maxResults": 1}
    async with client(sim) as http:
        page = (await http.get("/v1/calls", params=params)).json()
        sim.workspace.add_call(pn, other, at=sim.now())
        rest = await _walk(http, "/v1/calls", {**params, "pageToken": page["nextPageToken"]})
    ids = [page["data"][0]["id"]] + [c["id"] for c in rest]
    assert len(ids) == len(set(ids)) == n


async def test_created_after_and_before_filter_calls_and_messages() -> None:
    sim = make_sim()
    ws = sim.workspace
    pn, other, _ = _busiest_pair(ws)
    pair = [c for c in ws.calls.values() if (c.phone_number_id, c.participant) == (pn, other)]
    calls = sorted(pair, key=lambda c: c.created_at)
    pivot = iso(calls[0].created_at)
    params = {"phoneNumberId": pn, "participants": other, "maxResults": 100}
    async with client(sim) as http:
        after = (await http.get("/v1/calls", params={**params, "createdAfter": pivot})).json()
        before = (await http.get("/v1/calls", params={**params, "createdBefore": pivot})).json()
        msgs = (await http.get("/v1/messages", params={**params, "createdAfter": pivot})).json()
    assert {c["id"] for c in after["data"]} == {c.id for c in calls[1:]}
    assert before["data"] == []
    assert all(m["createdAt"] > pivot for m in msgs["data"])


async def test_conversations_filters_and_order() -> None:
    sim = make_sim()
    ws = sim.workspace
    number = ws.phone_numbers[1]
    async with client(sim) as http:
        by_id = await _walk(
            http, "/v1/conversations", {"phoneNumbers": number["id"], "maxResults": 100}
        )
        by_e164 = await _walk(
            http, "/v1/conversations", {"phoneNumbers[]": number["number"], "maxResults": 100}
        )
        all_convs = await _walk(http, "/v1/conversations", {"maxResults": 100})
        pivot = all_convs[2]["updatedAt"]
        recent = await _walk(http, "/v1/conversations", {"updatedAfter": pivot, "maxResults": 100})
    assert by_id == by_e164
    assert by_id
    assert all(c["phoneNumberId"] == number["id"] for c in by_id)
    activity = [c["lastActivityAt"] for c in all_convs]
    assert activity == sorted(activity, reverse=True)
    assert recent
    assert all(c["updatedAt"] > pivot for c in recent)
    assert len(recent) < len(all_convs)


async def test_rest_messages_have_no_media_field() -> None:
    sim = make_sim()
    message = next(m for m in sim.workspace.messages.values() if m.media)
    async with client(sim) as http:
        body = (await http.get(f"/v1/messages/{message.id}")).json()["data"]
    assert "media" not in body
    assert "conversationId" not in body


async def test_user_filter_and_owner_default_switch() -> None:
    sim = make_sim()
    ws = sim.workspace
    pn, other, n = _busiest_pair(ws)
    owner = ws.number_owner(pn)
    helper = next(u["id"] for u in ws.phone_number(pn)["users"] if u["id"] != owner)
    for _ in range(2):
        ws.add_call(pn, other, at=sim.now(), user_id=helper)
    params = {"phoneNumberId": pn, "participants": other, "maxResults": 100}
    async with client(sim) as http:
        everyone = (await http.get("/v1/calls", params=params)).json()["data"]
        helpers = (await http.get("/v1/calls", params={**params, "userId": helper})).json()
    sim_owner_only = make_sim(calls_default_to_owner=True)
    for _ in range(2):
        sim_owner_only.workspace.add_call(pn, other, at=sim.now(), user_id=helper)
    async with client(sim_owner_only) as http:
        owners = (await http.get("/v1/calls", params=params)).json()["data"]
    assert len(everyone) == n + 2
    assert len(helpers["data"]) == 2
    assert {c["userId"] for c in owners} == {owner}
    assert len(owners) == n
