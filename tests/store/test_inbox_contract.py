"""The inbox's claim rules and outcomes, run on SQLite and (when configured) PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from opsync.clock import FakeClock
from opsync.store import InboxError, InboxEvent, NewEvent, Store

from .conftest import Backend

LEASE = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def inbox(backend: Backend, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await backend.open(clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def enqueue(store: Store, *events: tuple[str, str | None]) -> dict[str, int]:
    """Enqueue ``(event_id, partition)`` pairs in order; returns inbox ids by event id."""
    for event_id, partition in events:
        assert await store.inbox_enqueue(event_id, "call.completed", partition, {"id": event_id})
    listed = await store.inbox_list(limit=1000)
    return {e.event_id: e.id for e in listed}


async def claim_ids(store: Store, owner: str = "w1", limit: int = 10, **kw: object) -> list[str]:
    events = await store.inbox_claim(owner, LEASE, limit, **kw)  # type: ignore[arg-type]
    return [e.event_id for e in events]


# --- the partition rule ---------------------------------------------------------------------


async def test_claim_leases_the_event_and_counts_the_attempt(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("e1", "PN1"))
    [event] = await inbox.inbox_claim("w1", LEASE)
    now = int(clock.now() * 1000)
    assert (event.id, event.event_id, event.partition_key) == (ids["e1"], "e1", "PN1")
    assert (event.state, event.attempts, event.lease_owner) == ("in_flight", 1, "w1")
    assert event.lease_expires_at == now + int(LEASE * 1000)
    assert event.payload == '{"id":"e1"}'
    assert await inbox.inbox_get(event.id) == event
    assert await inbox.inbox_get(event.id + 1000) is None


async def test_one_per_partition_oldest_first_partitions_in_parallel(inbox: Store) -> None:
    ids = await enqueue(
        inbox, ("a1", "A"), ("b1", "B"), ("a2", "A"), ("n1", None), ("b2", "B"), ("n2", None)
    )
    # Null partitions are each their own partition; A and B offer only their oldest event.
    assert await claim_ids(inbox) == ["a1", "b1", "n1", "n2"]
    assert await claim_ids(inbox, owner="w2") == []
    assert await inbox.inbox_complete(ids["a1"], "w1")
    assert await claim_ids(inbox, owner="w2") == ["a2"]
    assert await inbox.inbox_complete(ids["b1"], "w1", state="ignored")
    assert await claim_ids(inbox, owner="w2") == ["b2"]
    counts = await inbox.inbox_counts()
    assert counts == {"pending": 0, "in_flight": 4, "done": 1, "dead": 0, "ignored": 1}


async def test_limit_and_excluded_partitions(inbox: Store) -> None:
    await enqueue(inbox, ("a1", "A"), ("b1", "B"), ("c1", "C"), ("n1", None))
    assert await claim_ids(inbox, limit=1, exclude_partitions=("A",)) == ["b1"]
    assert await claim_ids(inbox, exclude_partitions={"C", "X"}) == ["a1", "n1"]
    assert await claim_ids(inbox, limit=0) == []
    assert await claim_ids(inbox) == ["c1"]


async def test_two_stores_claiming_at_once_never_share_a_partition(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        await enqueue(first, *[(f"{p}{i}", p) for i in range(4) for p in "ABCDE"])
        batches = await asyncio.gather(
            first.inbox_claim("w1", LEASE, 5), second.inbox_claim("w2", LEASE, 5)
        )
    finally:
        await first.close()
        await second.close()
    claimed = [e for batch in batches for e in batch]
    partitions = [e.partition_key for e in claimed]
    assert len(partitions) == len(set(partitions)) == 5
    assert sorted(e.event_id for e in claimed) == ["A0", "B0", "C0", "D0", "E0"]


async def test_concurrent_claim_loops_never_overlap_within_a_partition(backend: Backend) -> None:
    workers = 4
    stores = [await backend.open() for _ in range(workers)]
    try:
        events: list[tuple[str, str | None]] = [
            (f"{p}-{i:02}", p) for i in range(10) for p in ("P1", "P2", "P3", "P4", "P5")
        ]
        events += [(f"null-{i}", None) for i in range(5)]
        await enqueue(stores[0], *events)
        held: dict[str, set[str]] = defaultdict(set)
        order: dict[str | None, list[str]] = defaultdict(list)
        overlaps: list[tuple[str, str]] = []

        async def loop(store: Store, owner: str) -> None:
            # Each worker claims its next batch while still holding the previous one, so every
            # claim runs while events of the same partitions are in flight.
            previous: list[InboxEvent] = []
            idle = 0
            while idle < 3:
                batch = await store.inbox_claim(owner, LEASE, 2)
                idle = 0 if batch or previous else idle + 1
                for event in batch:
                    key = event.partition_key or f"null:{event.id}"
                    overlaps.extend((other, event.event_id) for other in held[key])
                    held[key].add(event.event_id)
                    order[event.partition_key].append(event.event_id)
                for event in previous:
                    # Forget it before the commit, while the store still holds it in flight.
                    held[event.partition_key or f"null:{event.id}"].remove(event.event_id)
                    assert await store.inbox_complete(event.id, owner)
                previous = batch

        async with asyncio.timeout(30):
            await asyncio.gather(*(loop(s, f"w{i}") for i, s in enumerate(stores)))
        counts = await stores[0].inbox_counts()
    finally:
        for store in stores:
            await store.close()
    assert overlaps == []
    assert counts["done"] == len(events)
    for partition in ("P1", "P2", "P3", "P4", "P5"):
        assert order[partition] == [f"{partition}-{i:02}" for i in range(10)]


async def test_claimers_whose_clocks_disagree_never_share_a_partition(backend: Backend) -> None:
    # Worker "late" sees a1's retry as due while worker "early" does not: each, alone, would pick
    # a different event of partition A. Claims must still exclude each other.
    early_clock, late_clock = FakeClock(), FakeClock()
    late_clock.advance(10)
    early, late = await backend.open(clock=early_clock), await backend.open(clock=late_clock)
    try:
        for round_ in range(15):
            ids = await enqueue(early, (f"a1-{round_}", "A"), (f"a2-{round_}", "A"))
            await early.inbox_claim("first", LEASE)
            retry_at = int(early_clock.now() * 1000) + 5_000
            assert await early.inbox_retry(ids[f"a1-{round_}"], "first", retry_at, "E", "retry")
            batches = await asyncio.gather(
                early.inbox_claim("early", LEASE), late.inbox_claim("late", LEASE)
            )
            claimed = [e for batch in batches for e in batch]
            assert len(claimed) == 1, [e.event_id for e in claimed]
            for event in claimed:
                assert await late.inbox_complete(event.id, event.lease_owner or "")
            while batch := await late.inbox_claim("late", LEASE):
                assert await late.inbox_complete(batch[0].id, "late")
    finally:
        await early.close()
        await late.close()


# --- leases -----------------------------------------------------------------------------------


async def test_an_expired_lease_is_claimed_again_and_the_stale_owner_cannot_write(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("a2", "A"))
    assert await claim_ids(inbox, owner="crashed") == ["a1"]
    clock.advance(LEASE - 1)
    assert await claim_ids(inbox, owner="w2") == []
    clock.advance(2)
    # The partition offers its expired in-flight event again, before its later ones.
    [again] = await inbox.inbox_claim("w2", LEASE, 10)
    assert (again.event_id, again.attempts, again.lease_owner) == ("a1", 2, "w2")
    a1 = ids["a1"]
    assert not await inbox.inbox_complete(a1, "crashed")
    assert not await inbox.inbox_heartbeat(a1, "crashed", LEASE)
    assert not await inbox.inbox_retry(a1, "crashed", 0, "UpstreamUnavailable", "502")
    assert not await inbox.inbox_dead_letter(a1, "crashed", "NotFound", "gone")
    assert not await inbox.inbox_release(a1, "crashed")
    assert not await inbox.inbox_reroute(a1, "crashed", "B")
    assert await inbox.inbox_errors_for(a1) == []
    assert await inbox.inbox_get(a1) == again
    assert await inbox.inbox_complete(a1, "w2")
    assert not await inbox.inbox_complete(a1, "w2")  # finished events take no second outcome
    assert await claim_ids(inbox, owner="w2") == ["a2"]


async def test_heartbeat_extends_the_lease(inbox: Store, clock: FakeClock) -> None:
    ids = await enqueue(inbox, ("a1", "A"))
    assert await claim_ids(inbox, owner="w1") == ["a1"]
    clock.advance(LEASE * 2 / 3)
    assert await inbox.inbox_heartbeat(ids["a1"], "w1", LEASE)
    clock.advance(LEASE * 2 / 3)  # past the first lease, within the extended one
    assert await claim_ids(inbox, owner="w2") == []
    clock.advance(LEASE)
    assert await claim_ids(inbox, owner="w2") == ["a1"]


async def test_an_owner_whose_lease_expired_unclaimed_may_still_finish(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"))
    await claim_ids(inbox, owner="slow")
    clock.advance(LEASE * 2)
    assert await inbox.inbox_complete(ids["a1"], "slow")
    assert await claim_ids(inbox, owner="w2") == []


# --- retries, dead letters, replay ------------------------------------------------------------


async def test_retry_waits_for_its_time_without_holding_back_its_partition(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("a2", "A"), ("a3", "A"))
    a1 = ids["a1"]
    await claim_ids(inbox)
    failed_at = int(clock.now() * 1000)
    at = failed_at + 10_000
    assert await inbox.inbox_retry(a1, "w1", at, "UpstreamUnavailable", "502 Bad Gateway")
    event = await inbox.inbox_get(a1)
    assert event is not None
    assert (event.state, event.next_attempt_at, event.lease_owner) == ("pending", at, None)
    assert event.last_error == "UpstreamUnavailable: 502 Bad Gateway"
    # Handlers reconcile state, so a1 waiting to retry does not block a2 ...
    assert await claim_ids(inbox) == ["a2"]
    assert await inbox.inbox_complete(ids["a2"], "w1")
    clock.advance(9.5)
    assert await claim_ids(inbox) == ["a3"]
    assert await inbox.inbox_complete(ids["a3"], "w1")
    assert await claim_ids(inbox) == []
    clock.advance(0.5)
    [retried] = await inbox.inbox_claim("w1", LEASE)
    assert (retried.event_id, retried.attempts) == ("a1", 2)
    errors = await inbox.inbox_errors_for(a1)
    assert errors == [InboxError(a1, 1, "UpstreamUnavailable", "502 Bad Gateway", failed_at)]


async def test_a_due_retry_goes_before_later_events_of_its_partition(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("a2", "A"))
    await claim_ids(inbox)
    assert await inbox.inbox_retry(ids["a1"], "w1", int(clock.now() * 1000), "RateLimited", "429")
    assert await claim_ids(inbox) == ["a1"]


async def test_dead_letters_keep_their_history_and_can_be_replayed(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("b1", "B"), ("c1", "C"))
    a1 = ids["a1"]
    await claim_ids(inbox, limit=1)
    assert await inbox.inbox_retry(a1, "w1", 0, "UpstreamUnavailable", "timeout")
    await claim_ids(inbox, limit=1)
    reason = "NotFound: call AC1 does not exist"
    assert await inbox.inbox_dead_letter(a1, "w1", "NotFound", reason)
    dead = await inbox.inbox_get(a1)
    assert dead is not None
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 2, reason)
    assert dead.completed_at == int(clock.now() * 1000)
    assert [(e.attempt, e.error_class) for e in await inbox.inbox_errors_for(a1)] == [
        (1, "UpstreamUnavailable"),
        (2, "NotFound"),
    ]
    assert [e.id for e in await inbox.inbox_list("dead")] == [a1]
    assert not await inbox.inbox_replay(ids["b1"])  # only dead letters replay
    assert await claim_ids(inbox) == ["b1", "c1"]
    assert await inbox.inbox_replay(a1)
    [replayed] = await inbox.inbox_claim("w1", LEASE)
    assert (replayed.event_id, replayed.attempts) == ("a1", 1)
    assert len(await inbox.inbox_errors_for(a1)) == 2
    for event_id in ("a1", "b1", "c1"):
        assert await inbox.inbox_dead_letter(ids[event_id], "w1", "AuthError", "401")
    assert (await inbox.inbox_counts())["dead"] == 3
    assert await inbox.inbox_replay_all_dead() == 3
    assert await inbox.inbox_replay_all_dead() == 0
    assert (await inbox.inbox_counts())["pending"] == 3


async def test_purging_dead_letters_by_age(inbox: Store, clock: FakeClock) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("b1", "B"))
    await claim_ids(inbox)
    assert await inbox.inbox_dead_letter(ids["a1"], "w1", "NotFound", "gone")
    clock.advance(3600)
    assert await inbox.inbox_dead_letter(ids["b1"], "w1", "NotFound", "gone too")
    clock.advance(60)
    assert await inbox.inbox_purge_dead(older_than_ms=3_600_000) == 1
    assert await inbox.inbox_get(ids["a1"]) is None
    assert await inbox.inbox_errors_for(ids["a1"]) == []
    assert [e.event_id for e in await inbox.inbox_list("dead")] == ["b1"]
    assert await inbox.inbox_purge_dead(older_than_ms=0) == 1


# --- release and reroute ----------------------------------------------------------------------


async def test_release_gives_the_event_back_without_counting_the_attempt(inbox: Store) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("a2", "A"))
    await claim_ids(inbox, owner="w1")
    assert not await inbox.inbox_release(ids["a1"], "someone-else")
    assert await inbox.inbox_release(ids["a1"], "w1")
    released = await inbox.inbox_get(ids["a1"])
    assert released is not None
    assert (released.state, released.attempts, released.lease_owner) == ("pending", 0, None)
    [again] = await inbox.inbox_claim("w2", LEASE)
    assert (again.event_id, again.attempts) == ("a1", 1)


async def test_defer_gives_the_event_back_uncounted_due_later(
    inbox: Store, clock: FakeClock
) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("a2", "A"))
    await claim_ids(inbox, limit=1)
    later = int(clock.now() * 1000) + 60_000
    assert not await inbox.inbox_defer(ids["a1"], "someone-else", later)
    assert await inbox.inbox_defer(ids["a1"], "w1", later)
    deferred = await inbox.inbox_get(ids["a1"])
    assert deferred is not None
    assert (deferred.state, deferred.attempts, deferred.next_attempt_at) == ("pending", 0, later)
    assert await claim_ids(inbox) == ["a2"]  # a deferred event does not hold back its partition
    assert await inbox.inbox_complete(ids["a2"], "w1")
    assert await claim_ids(inbox) == []
    clock.advance(60)
    assert await claim_ids(inbox) == ["a1"]


async def test_reroute_queues_the_event_behind_its_partition(inbox: Store) -> None:
    ids = await enqueue(inbox, ("a1", "A"), ("x1", None), ("a2", "A"))
    assert await claim_ids(inbox) == ["a1", "x1"]
    assert await inbox.inbox_reroute(ids["x1"], "w1", "A")
    rerouted = await inbox.inbox_get(ids["x1"])
    assert rerouted is not None
    assert (rerouted.partition_key, rerouted.state, rerouted.attempts) == ("A", "pending", 0)
    assert await claim_ids(inbox) == []  # a1 of partition A is still in flight
    assert await inbox.inbox_complete(ids["a1"], "w1")
    assert await claim_ids(inbox) == ["x1"]


async def test_counts_and_listing(inbox: Store) -> None:
    assert await inbox.inbox_counts() == dict.fromkeys(
        ("pending", "in_flight", "done", "dead", "ignored"), 0
    )
    await enqueue(inbox, ("a1", "A"), ("b1", "B"), ("c1", "C"))
    assert await inbox.inbox_enqueue("u1", "contact.updated", None, "{}", state="ignored")
    await claim_ids(inbox, limit=1)
    assert await inbox.inbox_counts() == {
        "pending": 2,
        "in_flight": 1,
        "done": 0,
        "dead": 0,
        "ignored": 1,
    }
    assert [e.event_id for e in await inbox.inbox_list()] == ["a1", "b1", "c1", "u1"]
    assert [e.event_id for e in await inbox.inbox_list("pending", limit=1)] == ["b1"]
    assert await claim_ids(inbox) == ["b1", "c1"]  # ignored events are never claimed


async def test_enqueue_many_is_one_group_commit_with_per_item_answers(inbox: Store) -> None:
    assert await inbox.inbox_enqueue("x0", "call.completed", "A", {"id": "x0"})
    items = [
        NewEvent("x1", "call.completed", "A", '{"id": "x1"}'),
        NewEvent("x0", "call.completed", "A", '{"id": "x0"}'),  # known before
        NewEvent("x2", "contact.updated", None, "{}", state="ignored"),
        NewEvent("x1", "call.completed", "A", '{"id": "x1"}'),  # repeated in the batch
    ]
    assert await inbox.inbox_enqueue_many(items) == [True, False, True, False]
    assert await inbox.inbox_enqueue_many([]) == []
    listed = {e.event_id: e for e in await inbox.inbox_list(limit=10)}
    assert set(listed) == {"x0", "x1", "x2"}
    assert listed["x2"].state == "ignored"
    assert listed["x1"].payload == '{"id": "x1"}'


async def test_enqueue_many_takes_unknown_partitions_from_call_snapshots(inbox: Store) -> None:
    await inbox.snapshot_put("call", "ACknown", {"id": "ACknown"}, phone_number_id="PNsnap")
    await inbox.snapshot_put("call", "ACnophone", {"id": "ACnophone"})
    items = [
        NewEvent("s1", "call.summary.completed", None, "{}", partition_call_id="ACknown"),
        NewEvent("s2", "call.summary.completed", None, "{}", partition_call_id="ACunknown"),
        NewEvent("s3", "call.summary.completed", None, "{}", partition_call_id="ACnophone"),
        # a partition the event names itself wins over the snapshot's
        NewEvent("s4", "call.completed", "PNown", "{}", partition_call_id="ACknown"),
    ]
    assert await inbox.inbox_enqueue_many(items) == [True, True, True, True]
    listed = {e.event_id: e.partition_key for e in await inbox.inbox_list(limit=10)}
    assert listed == {"s1": "PNsnap", "s2": None, "s3": None, "s4": "PNown"}
