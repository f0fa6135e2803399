"""Store operations on the inbox: partition-exclusive claims as leases, outcomes, dead letters.

The partition rule (ARCHITECTURE.md invariant 3): at most one event per partition is
``in_flight``. Within a partition that has no event in flight, the claimable event is the
oldest *due* pending one — an earlier event waiting for its retry time does **not** hold back
later ones, because handlers reconcile the resource's whole state instead of applying an
event's delta (invariant 4), so order within a partition is a preference, not a requirement,
and a flaky event must not stall its phone number. A partition whose in-flight event's lease
has expired (its worker died) offers that event again, before any other of the partition.
An event with no partition key is a partition of its own.

Claims are serialized per deployment: SQLite's ``BEGIN IMMEDIATE`` takes the write lock, and
PostgreSQL's claim takes a transaction-scoped advisory lock before it reads, because ``FOR
UPDATE SKIP LOCKED`` alone cannot see another claimer's uncommitted choice in the same
partition. Claims are short; outcome writes and heartbeats do not take that lock.

Every outcome write names the lease owner and changes nothing (returns ``False``) when the
event is no longer in flight under that owner — a worker whose lease expired and whose event
was claimed again cannot overwrite the new owner's outcome.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from sqlalchemy import Select, Update, and_, func, insert, not_, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from opsync.store._base import StoreBase
from opsync.store.rows import InboxError, InboxEvent, InboxState
from opsync.store.schema import inbox, inbox_errors

# pg_advisory_xact_lock key serializing claims: the bytes of "inbox" as an integer.
PG_CLAIM_LOCK = int.from_bytes(b"inbox", "big")
INBOX_STATES: tuple[InboxState, ...] = ("pending", "in_flight", "done", "dead", "ignored")


class InboxOps(StoreBase):
    """Claims, heartbeats, outcomes, dead letters and replays of inbox events."""

    async def inbox_claim(
        self,
        owner: str,
        lease_seconds: float,
        limit: int = 1,
        exclude_partitions: Collection[str] = (),
    ) -> list[InboxEvent]:
        """Claim up to ``limit`` events, each from a different partition, for ``owner``.

        Each claimed event is ``in_flight`` with a lease of ``lease_seconds`` and one more
        attempt counted. ``exclude_partitions`` are skipped (the caller already works on them).
        Returns the claimed events, oldest first; empty when nothing is claimable."""
        if limit < 1:
            return []
        now = self._now()
        candidates = _claimable(now, exclude_partitions)
        async with self._transaction() as conn:
            if self.dialect == "postgresql":
                await conn.execute(_PG_LOCK_CLAIMS, {"key": PG_CLAIM_LOCK})
                locked = candidates.limit(limit).with_for_update(skip_locked=True, of=_EVENT)
                ids = list((await conn.execute(locked)).scalars())
                chosen: ColumnElement[bool] = inbox.c.id.in_(ids)
            else:
                # BEGIN IMMEDIATE holds the write lock: the conditional UPDATE … RETURNING
                # below chooses and claims in one statement no other writer can interleave.
                chosen = inbox.c.id.in_(candidates.limit(limit))
            stmt = (
                update(inbox)
                .where(chosen)
                .values(
                    state="in_flight",
                    lease_owner=owner,
                    lease_expires_at=now + _ms(lease_seconds),
                    attempts=inbox.c.attempts + 1,
                    updated_at=now,
                )
                .returning(*inbox.c)
            )
            rows = (await conn.execute(stmt)).all()
        return sorted((_event(r) for r in rows), key=lambda e: e.id)

    async def inbox_heartbeat(self, event_id: int, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease to ``lease_seconds`` from now; ``False`` if the event is no
        longer in flight under ``owner`` (the handler should then stop)."""
        now = self._now()
        return await self._owned_update(
            event_id, owner, {"lease_expires_at": now + _ms(lease_seconds), "updated_at": now}
        )

    async def inbox_complete(
        self, event_id: int, owner: str, state: Literal["done", "ignored"] = "done"
    ) -> bool:
        """Finish the event as ``done`` (or ``ignored``). ``False`` if not owned any more."""
        now = self._now()
        values = {**_UNLEASED, "state": state, "completed_at": now, "updated_at": now}
        return await self._owned_update(event_id, owner, values)

    async def inbox_retry(
        self, event_id: int, owner: str, at_ms: int, error_class: str, message: str
    ) -> bool:
        """Put the event back to pending, due at ``at_ms``, and record the failed attempt in its
        error history. ``False`` (and nothing recorded) if not owned any more."""
        values = {
            **_UNLEASED,
            "state": "pending",
            "next_attempt_at": at_ms,
            "last_error": f"{error_class}: {message}",
        }
        return await self._owned_failure(event_id, owner, values, error_class, message)

    async def inbox_dead_letter(
        self, event_id: int, owner: str, error_class: str, reason: str
    ) -> bool:
        """Move the event to the dead letters with ``reason`` (also kept in its error history).
        ``False`` (and nothing recorded) if not owned any more."""
        values = {**_UNLEASED, "state": "dead", "completed_at": self._now(), "last_error": reason}
        return await self._owned_failure(event_id, owner, values, error_class, reason)

    async def inbox_release(self, event_id: int, owner: str) -> bool:
        """Give the event back, due now, without counting the attempt (graceful shutdown)."""
        return await self._owned_update(event_id, owner, _released(self._now()))

    async def inbox_release_owners(self, owners: Collection[str]) -> int:
        """Give back, due now, every event in flight under ``owners`` — workers known to be
        dead — keeping the attempt counted (a crash is an attempt: an event that kills its
        worker every time still reaches the dead letters). Returns how many."""
        if not owners:
            return 0
        now = self._now()
        stmt = (
            update(inbox)
            .where(inbox.c.state == "in_flight", inbox.c.lease_owner.in_(list(owners)))
            .values(**_UNLEASED, state="pending", next_attempt_at=now, updated_at=now)
        )
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount

    async def inbox_defer(self, event_id: int, owner: str, at_ms: int) -> bool:
        """Give the event back uncounted, due at ``at_ms``: its handler wants to look again
        later (a call whose recording, transcript or summary is still to come)."""
        values = {**_released(self._now()), "next_attempt_at": at_ms}
        return await self._owned_update(event_id, owner, values)

    async def inbox_reroute(self, event_id: int, owner: str, partition_key: str) -> bool:
        """Set the event's partition and give it back uncounted: for an event whose phone
        number was unknown at ingest, so that it queues behind its phone number's events."""
        values = {**_released(self._now()), "partition_key": partition_key}
        return await self._owned_update(event_id, owner, values)

    async def inbox_replay(self, event_id: int) -> bool:
        """Send a dead letter back to pending with its attempts reset; ``False`` if the event
        is not dead. Its error history is kept."""
        async with self._transaction() as conn:
            return await _replay(conn, self._now(), inbox.c.id == event_id) == 1

    async def inbox_replay_all_dead(self) -> int:
        """Replay every dead letter; returns how many."""
        async with self._transaction() as conn:
            return await _replay(conn, self._now(), None)

    async def inbox_get(self, event_id: int) -> InboxEvent | None:
        """The event with inbox id ``event_id``, if any."""
        async with self._transaction(write=False) as conn:
            row = (await conn.execute(select(inbox).where(inbox.c.id == event_id))).first()
        return None if row is None else _event(row)

    async def inbox_errors_for(self, event_id: int) -> list[InboxError]:
        """The failures recorded for an event, oldest first."""
        t = inbox_errors
        query = select(t).where(t.c.inbox_id == event_id).order_by(t.c.id)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [InboxError(r.inbox_id, r.attempt, r.error_class, r.message, r.at) for r in rows]

    async def inbox_counts(self) -> dict[InboxState, int]:
        """How many events are in each state (every state present, zero when none)."""
        query = select(inbox.c.state, func.count()).group_by(inbox.c.state)
        async with self._transaction(write=False) as conn:
            found = {state: count for state, count in (await conn.execute(query)).all()}
        return {state: int(found.get(state, 0)) for state in INBOX_STATES}

    async def inbox_list(
        self, state: InboxState | None = None, limit: int = 100
    ) -> list[InboxEvent]:
        """Up to ``limit`` events (of ``state`` if given), oldest first."""
        query = select(inbox).order_by(inbox.c.id).limit(limit)
        if state is not None:
            query = query.where(inbox.c.state == state)
        async with self._transaction(write=False) as conn:
            return [_event(r) for r in (await conn.execute(query)).all()]

    async def inbox_dead_recent(self, limit: int = 100) -> list[InboxEvent]:
        """Up to ``limit`` dead letters, the most recently dead first (the ones an operator
        looks at; ``inbox_list`` would show the oldest)."""
        query = (
            select(inbox)
            .where(inbox.c.state == "dead")
            .order_by(inbox.c.completed_at.desc(), inbox.c.id.desc())
            .limit(limit)
        )
        async with self._transaction(write=False) as conn:
            return [_event(r) for r in (await conn.execute(query)).all()]

    async def inbox_purge_dead(self, older_than_ms: int) -> int:
        """Delete dead letters (and their error history) that died more than
        ``older_than_ms`` milliseconds ago; returns how many."""
        cutoff = self._now() - older_than_ms
        stmt = inbox.delete().where(inbox.c.state == "dead", inbox.c.completed_at < cutoff)
        async with self._transaction() as conn:
            return (await conn.execute(stmt)).rowcount

    async def _owned_update(self, event_id: int, owner: str, values: Mapping[str, Any]) -> bool:
        async with self._transaction() as conn:
            return (await conn.execute(_owned(event_id, owner).values(**values))).rowcount == 1

    async def _owned_failure(
        self,
        event_id: int,
        owner: str,
        values: Mapping[str, Any],
        error_class: str,
        message: str,
    ) -> bool:
        now = self._now()
        stmt = _owned(event_id, owner).values(**values, updated_at=now).returning(inbox.c.attempts)
        async with self._transaction() as conn:
            attempt = (await conn.execute(stmt)).scalar_one_or_none()
            if attempt is None:
                return False
            await conn.execute(
                insert(inbox_errors).values(
                    inbox_id=event_id,
                    attempt=attempt,
                    error_class=error_class,
                    message=message,
                    at=now,
                )
            )
        return True


_UNLEASED: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
_EVENT, _OTHER = inbox.alias("event"), inbox.alias("other")
_PG_LOCK_CLAIMS = text("SELECT pg_advisory_xact_lock(:key)")


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _released(now: int) -> dict[str, Any]:
    return {
        **_UNLEASED,
        "state": "pending",
        "attempts": inbox.c.attempts - 1,
        "next_attempt_at": now,
        "updated_at": now,
    }


def _owned(event_id: int, owner: str) -> Update:
    """An UPDATE of one event that matches only while ``owner`` holds it in flight."""
    return update(inbox).where(
        inbox.c.id == event_id, inbox.c.state == "in_flight", inbox.c.lease_owner == owner
    )


def _claimable(now: int, exclude_partitions: Collection[str]) -> Select[tuple[int]]:
    """SELECT the ids of claimable events, oldest first: at most one per partition (see the
    module doc). Aliased, so that it never correlates with an UPDATE of ``inbox``."""
    event, other = _EVENT, _OTHER
    same_partition = and_(other.c.partition_key == event.c.partition_key, other.c.id != event.c.id)
    due_pending = and_(event.c.state == "pending", event.c.next_attempt_at <= now)
    lease_expired = and_(event.c.state == "in_flight", event.c.lease_expires_at <= now)
    other_in_flight = select(other.c.id).where(same_partition, other.c.state == "in_flight")
    older_due = select(other.c.id).where(
        same_partition,
        other.c.id < event.c.id,
        other.c.state == "pending",
        other.c.next_attempt_at <= now,
    )
    # NULL partitions compare unequal to everything, so their subqueries find nothing.
    conditions: list[ColumnElement[bool]] = [
        or_(due_pending, lease_expired),
        not_(other_in_flight.exists()),
        or_(event.c.state == "in_flight", not_(older_due.exists())),
    ]
    if exclude_partitions:
        conditions.append(
            or_(event.c.partition_key.is_(None), event.c.partition_key.not_in(exclude_partitions))
        )
    return select(event.c.id).where(*conditions).order_by(event.c.id)


async def _replay(conn: AsyncConnection, now: int, where: ColumnElement[bool] | None) -> int:
    stmt = (
        update(inbox)
        .where(inbox.c.state == "dead")
        .values(
            state="pending",
            attempts=0,
            next_attempt_at=now,
            completed_at=None,
            updated_at=now,
        )
    )
    if where is not None:
        stmt = stmt.where(where)
    return (await conn.execute(stmt)).rowcount


def _event(row: Row[Any]) -> InboxEvent:
    return InboxEvent(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        source=row.source,
        partition_key=row.partition_key,
        payload=row.payload,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        last_error=row.last_error,
        received_at=row.received_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
    )
