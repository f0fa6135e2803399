"""``snapshot_insert`` stores a first snapshot and never overwrites one (both backends)."""

from __future__ import annotations

from opsync.store import Store


async def test_a_first_snapshot_is_stored_and_never_overwritten(store: Store) -> None:
    assert await store.snapshot_insert("call", "AC1", {"v": 1}, phone_number_id="PN1")
    await store.snapshot_put("call", "AC1", {"v": 2}, phone_number_id="PN1")
    assert not await store.snapshot_insert("call", "AC1", {"v": 3}, phone_number_id="PN9")
    stored = await store.snapshot_get("call", "AC1")
    assert stored is not None
    assert stored.payload == {"v": 2}
    assert stored.phone_number_id == "PN1"
