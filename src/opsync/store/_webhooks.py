"""Store operations of ``openphone_webhooks``: the webhooks ``opsync webhooks register``
created (or adopted) in OpenPhone, with the signing key each came with.

The keys are secrets: :class:`StoredWebhook` keeps its key out of ``repr`` and offers a
:attr:`~StoredWebhook.fingerprint` to show instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from opsync.store._base import StoreBase
from opsync.store.schema import openphone_webhooks

__all__ = ["StoredWebhook", "WebhookKeyOps", "key_fingerprint"]


def key_fingerprint(key: str) -> str:
    """A short, one-way name of a signing key (``sha256:`` + 12 hex digits), safe to show."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class StoredWebhook:
    """One registered webhook: its OpenPhone id, family, URL, events and signing key."""

    webhook_id: str
    family: str
    url: str
    events: tuple[str, ...]
    signing_key: str = field(repr=False)
    created_at: int = 0
    updated_at: int = 0

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.signing_key)


class WebhookKeyOps(StoreBase):
    """Save, list and forget registered webhooks and their signing keys."""

    async def webhook_save(self, hook: StoredWebhook) -> None:
        """Record ``hook`` (insert, or replace what is stored under its id). Idempotent."""
        now = self._now()
        values = {
            "family": hook.family,
            "url": hook.url,
            "events": json.dumps(list(hook.events)),
            "signing_key": hook.signing_key,
            "updated_at": now,
        }
        stmt = self._insert(openphone_webhooks).values(
            webhook_id=hook.webhook_id, created_at=now, **values
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[openphone_webhooks.c.webhook_id], set_=values
        )
        async with self._transaction() as conn:
            await conn.execute(stmt)

    async def webhooks_stored(self, url: str | None = None) -> list[StoredWebhook]:
        """Every stored webhook (only those at ``url`` when given), oldest first."""
        t = openphone_webhooks
        query = select(t).order_by(t.c.created_at, t.c.webhook_id)
        if url is not None:
            query = query.where(t.c.url == url)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredWebhook(
                webhook_id=row.webhook_id,
                family=row.family,
                url=row.url,
                events=tuple(json.loads(row.events)),
                signing_key=row.signing_key,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]

    async def webhook_signing_keys(self) -> list[str]:
        """The signing key of every stored webhook (what ``opsync serve`` verifies with)."""
        return [hook.signing_key for hook in await self.webhooks_stored()]

    async def webhook_forget(self, webhook_id: str) -> bool:
        """Delete the stored webhook ``webhook_id`` and its key; returns whether it was there."""
        t = openphone_webhooks
        stmt = t.delete().where(t.c.webhook_id == webhook_id)
        async with self._transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)
