"""The store's registered webhooks and their signing keys, on both databases."""

from __future__ import annotations

from opsync.clock import FakeClock
from opsync.store import Store, StoredWebhook, key_fingerprint

from .conftest import Backend

URL = "https://opsync.example/webhooks/openphone"
KEY = "c2lnbmluZy1rZXktb25l"


def hook(webhook_id: str, url: str = URL, key: str = KEY) -> StoredWebhook:
    return StoredWebhook(webhook_id, "calls", url, ("call.completed", "call.ringing"), key)


async def test_saved_webhooks_come_back_oldest_first_and_by_url(backend: Backend) -> None:
    clock = FakeClock()
    async with await backend.open(clock=clock) as store:
        await store.webhook_save(hook("WH2", key="a2V5LXR3bw=="))
        clock.advance(1)
        await store.webhook_save(hook("WH1", url="https://elsewhere.example/hook"))

        every = await store.webhooks_stored()
        here = await store.webhooks_stored(URL)
        keys = await store.webhook_signing_keys()

    assert [h.webhook_id for h in every] == ["WH2", "WH1"]
    assert every[0].events == ("call.completed", "call.ringing")
    assert every[0].family == "calls"
    assert every[0].created_at < every[1].created_at
    assert [h.webhook_id for h in here] == ["WH2"]
    assert keys == ["a2V5LXR3bw==", KEY]


async def test_saving_again_replaces_and_keeps_one_row(store: Store) -> None:
    await store.webhook_save(hook("WH1"))
    await store.webhook_save(hook("WH1", key="bmV3LWtleQ=="))

    [row] = await store.webhooks_stored()

    assert row.signing_key == "bmV3LWtleQ=="


async def test_forget_deletes_once(store: Store) -> None:
    await store.webhook_save(hook("WH1"))

    assert await store.webhook_forget("WH1") is True
    assert await store.webhook_forget("WH1") is False
    assert await store.webhooks_stored() == []


def test_the_key_stays_out_of_repr_and_its_fingerprint_is_stable() -> None:
    row = hook("WH1")

    assert KEY not in repr(row)
    assert row.fingerprint == key_fingerprint(KEY)
    assert row.fingerprint.startswith("sha256:")
    assert len(row.fingerprint) == len("sha256:") + 12
    assert KEY not in row.fingerprint
    assert key_fingerprint("other") != row.fingerprint
