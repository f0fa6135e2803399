"""Events in flight under workers known to be dead are given back at once, attempt counted."""

from __future__ import annotations

from opsync.store import Store


async def test_events_of_dead_owners_are_given_back_with_the_attempt_counted(store: Store) -> None:
    for n in range(3):
        assert await store.inbox_enqueue(f"E{n}", "call.completed", f"PN{n}", {"n": n})
    [first] = await store.inbox_claim("box:1:aaaa:9", 60.0, 1)
    [second] = await store.inbox_claim("box:2:bbbb:9", 60.0, 1)

    assert await store.inbox_release_owners([]) == 0
    assert await store.inbox_release_owners(["box:1:aaaa:9", "box:7:none:9"]) == 1

    released = await store.inbox_get(first.id)
    assert released is not None
    assert released.state == "pending"
    assert released.lease_owner is None
    assert released.attempts == 1  # the crash was an attempt
    kept = await store.inbox_get(second.id)
    assert kept is not None
    assert kept.state == "in_flight"
    # claimable again at once, by anyone
    again = await store.inbox_claim("box:3:cccc:9", 60.0, 5)
    assert first.id in {event.id for event in again}
