"""The OpenPhone webhooks opsync needs — one per v1 event family, every handled event, every
phone number — and their idempotent registration, with the signing keys kept in the store.

:func:`register_webhooks` first lists what OpenPhone has, then decides (:func:`plan_registration`,
pure) per family at the URL: a complete webhook (enabled, every event of the family, all numbers)
is kept and its key adopted; one that is missing events, disabled or limited to some numbers is
replaced — v1 has no update, so a new one is created first and the old one deleted after, which
leaves no gap in deliveries; duplicates of a kept one are deleted. A second run with the same URL
therefore creates nothing and keeps the keys. See docs/decisions/0020.

Signing keys are secrets: nothing here logs or returns them except into the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from opsync.errors import NotFound
from opsync.openphone.client import OpenPhoneClient, WebhookFamily
from opsync.openphone.models import Webhook
from opsync.store import StoredWebhook, key_fingerprint

__all__ = [
    "HANDLED_EVENTS",
    "LABEL",
    "WEBHOOK_FAMILIES",
    "RegistrationPlan",
    "RegistrationResult",
    "WebhookView",
    "describe_webhooks",
    "family_of",
    "is_complete",
    "plan_registration",
    "register_webhooks",
    "service_webhook_url",
    "subscribe_all",
    "unregister_webhooks",
    "url_problem",
]

#: the v1 create endpoint of each family and the events opsync subscribes to through it
WEBHOOK_FAMILIES: Mapping[WebhookFamily, tuple[str, ...]] = {
    "calls": ("call.ringing", "call.completed", "call.recording.completed"),
    "messages": ("message.received", "message.delivered"),
    "call-summaries": ("call.summary.completed",),
    "call-transcripts": ("call.transcript.completed",),
}
HANDLED_EVENTS = frozenset(event for events in WEBHOOK_FAMILIES.values() for event in events)
#: the label of the webhooks opsync creates (``unregister --all-opsync`` looks for it)
LABEL = "opsync"
ALL_NUMBERS = ("*",)


class WebhookApi(Protocol):
    """The part of :class:`~opsync.openphone.OpenPhoneClient` that manages webhooks."""

    async def list_webhooks(self, user_id: str | None = None) -> list[Webhook]: ...

    async def create_webhook(
        self,
        family: WebhookFamily,
        url: str,
        events: Sequence[str],
        resource_ids: Sequence[str] | None = None,
        label: str | None = None,
    ) -> Webhook: ...

    async def delete_webhook(self, webhook_id: str) -> None: ...


class WebhookKeyStore(Protocol):
    """Where registered webhooks and their keys are kept (a :class:`~opsync.store.Store`)."""

    async def webhook_save(self, hook: StoredWebhook) -> None: ...

    async def webhooks_stored(self, url: str | None = None) -> list[StoredWebhook]: ...

    async def webhook_forget(self, webhook_id: str) -> bool: ...


def family_of(events: Iterable[str]) -> WebhookFamily | None:
    """The family whose create endpoint accepts every one of ``events`` (None: no single one)."""
    wanted = set(events)
    for family, allowed in WEBHOOK_FAMILIES.items():
        if wanted and wanted <= set(allowed):
            return family
    return None


def is_complete(hook: Webhook) -> bool:
    """Enabled, every event of its family, every phone number: nothing to fix."""
    family = family_of(hook.events)
    return (
        family is not None
        and hook.status == "enabled"
        and set(WEBHOOK_FAMILIES[family]) <= set(hook.events)
        and tuple(hook.resource_ids) == ALL_NUMBERS
    )


@dataclass(frozen=True)
class RegistrationPlan:
    """What :func:`register_webhooks` will do at one URL."""

    keep: tuple[Webhook, ...]
    create: tuple[WebhookFamily, ...]
    #: at the URL and of a handled family, but incomplete, or a duplicate of a kept one
    delete: tuple[Webhook, ...]

    @property
    def complete(self) -> bool:
        """Whether the URL already has exactly one complete webhook per family."""
        return not self.create and not self.delete


def plan_registration(existing: Sequence[Webhook], url: str) -> RegistrationPlan:
    """Decide, from OpenPhone's listing, what to keep, create and delete at ``url``. Pure.

    Webhooks at other URLs, and ones whose events belong to no family opsync uses, are left
    alone. Of several complete webhooks of one family the oldest is kept.
    """
    keep: list[Webhook] = []
    create: list[WebhookFamily] = []
    delete: list[Webhook] = []
    here = sorted(
        (h for h in existing if h.url == url and h.deleted_at is None),
        key=lambda h: (h.created_at, h.id),
    )
    for family in WEBHOOK_FAMILIES:
        mine = [h for h in here if family_of(h.events) == family]
        complete = [h for h in mine if is_complete(h)]
        if complete:
            keep.append(complete[0])
        else:
            create.append(family)
        delete.extend(h for h in mine if not complete or h is not complete[0])
    return RegistrationPlan(tuple(keep), tuple(create), tuple(delete))


@dataclass(frozen=True)
class RegistrationResult:
    """What a registration did: webhook ids kept, created and deleted; stale keys forgotten."""

    url: str
    kept: tuple[str, ...]
    created: tuple[str, ...]
    deleted: tuple[str, ...]
    forgotten: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.created or self.deleted)


def _stored(hook: Webhook) -> StoredWebhook | None:
    family = family_of(hook.events)
    key = hook.key.get_secret_value()
    if family is None or not key:
        return None
    return StoredWebhook(hook.id, family, hook.url, tuple(hook.events), key)


async def _delete(api: WebhookApi, webhook_id: str) -> None:
    with suppress(NotFound):  # already gone: what we wanted
        await api.delete_webhook(webhook_id)


async def register_webhooks(
    api: WebhookApi, keys: WebhookKeyStore, url: str, *, label: str = LABEL
) -> RegistrationResult:
    """Make ``url`` receive every event opsync handles, with each signing key in ``keys``.

    Idempotent (see the module docstring). Each new webhook's key is saved right after its
    create, so a crash between the two is healed by the next run, which finds the webhook
    complete and adopts its key from the listing. Raises what the API or the store raise.
    """
    plan = plan_registration(await api.list_webhooks(), url)
    live: set[str] = set()
    for hook in plan.keep:
        live.add(hook.id)
        stored = _stored(hook)
        if stored is not None:
            await keys.webhook_save(stored)
    created: list[str] = []
    for family in plan.create:
        hook = await api.create_webhook(
            family, url, WEBHOOK_FAMILIES[family], resource_ids=ALL_NUMBERS, label=label
        )
        stored = _stored(hook)
        if stored is not None:
            await keys.webhook_save(stored)
        created.append(hook.id)
        live.add(hook.id)
    for hook in plan.delete:
        await _delete(api, hook.id)
        await keys.webhook_forget(hook.id)
    forgotten = [
        stored.webhook_id
        for stored in await keys.webhooks_stored(url)
        if stored.webhook_id not in live and await keys.webhook_forget(stored.webhook_id)
    ]
    return RegistrationResult(
        url,
        tuple(h.id for h in plan.keep),
        tuple(created),
        tuple(h.id for h in plan.delete),
        tuple(forgotten),
    )


async def unregister_webhooks(
    api: WebhookApi, keys: WebhookKeyStore, *, url: str | None = None, all_opsync: bool = False
) -> list[str]:
    """Delete the webhooks at ``url`` (or, with ``all_opsync``, every one opsync registered:
    its key is stored, or its label starts with ``opsync``) and forget their keys, including
    stored keys whose webhook no longer exists. Returns the ids deleted from OpenPhone."""
    stored = await keys.webhooks_stored()
    stored_ids = {s.webhook_id for s in stored}

    def targeted(hook_url: str, webhook_id: str, label: str | None) -> bool:
        if url is not None and hook_url == url:
            return True
        return all_opsync and (webhook_id in stored_ids or (label or "").startswith(LABEL))

    deleted: list[str] = []
    for hook in await api.list_webhooks():
        if hook.deleted_at is None and targeted(hook.url, hook.id, hook.label):
            await _delete(api, hook.id)
            await keys.webhook_forget(hook.id)
            deleted.append(hook.id)
    for row in stored:
        if targeted(row.url, row.webhook_id, None):
            await keys.webhook_forget(row.webhook_id)
    return deleted


@dataclass(frozen=True)
class WebhookView:
    """One line of ``opsync webhooks list``: no key material, only its fingerprint."""

    id: str
    family: str
    events: tuple[str, ...]
    url: str
    #: ``enabled``/``disabled`` in OpenPhone, or ``gone`` for a stored key without webhook
    status: str
    here: bool
    complete: bool
    #: fingerprint of the stored key; None when opsync has no key for it
    key: str | None
    #: whether the stored key is the one OpenPhone lists for the webhook
    key_matches: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "family": self.family,
            "events": list(self.events),
            "url": self.url,
            "status": self.status,
            "points_here": self.here,
            "complete": self.complete,
            "key_stored": self.key is not None,
            "key_fingerprint": self.key,
            "key_matches": self.key_matches,
        }


def describe_webhooks(
    existing: Sequence[Webhook], stored: Sequence[StoredWebhook], this_url: str | None
) -> list[WebhookView]:
    """The webhooks OpenPhone lists, then stored keys whose webhook is gone. Pure."""
    by_id = {s.webhook_id: s for s in stored}
    views = []
    for hook in existing:
        if hook.deleted_at is not None:
            continue
        row = by_id.pop(hook.id, None)
        listed = hook.key.get_secret_value()
        views.append(
            WebhookView(
                hook.id,
                family_of(hook.events) or "-",
                tuple(hook.events),
                hook.url,
                str(hook.status),
                hook.url == this_url,
                is_complete(hook),
                None if row is None else row.fingerprint,
                row is not None and (not listed or key_fingerprint(listed) == row.fingerprint),
            )
        )
    for row in by_id.values():
        views.append(
            WebhookView(
                row.webhook_id,
                row.family,
                row.events,
                row.url,
                "gone",
                row.url == this_url,
                False,
                row.fingerprint,
                False,
            )
        )
    return views


async def subscribe_all(client: OpenPhoneClient, url: str, *, label: str = "opsync") -> list[str]:
    """Create one webhook per family pointing at ``url``; returns their signing keys.

    Not idempotent: each call creates new webhooks (tests and benchmarks on a fresh simulator
    use it; operators use :func:`register_webhooks`).
    """
    keys: list[str] = []
    for family, events in WEBHOOK_FAMILIES.items():
        hook = await client.create_webhook(family, url, list(events), label=label)
        keys.append(hook.key.get_secret_value())
    return keys


def service_webhook_url(public_base_url: str | None, webhook_path: str) -> str | None:
    """The webhook URL of this service: ``OPSYNC_PUBLIC_BASE_URL`` + ``WEBHOOK_PATH``."""
    if not public_base_url:
        return None
    return public_base_url.rstrip("/") + webhook_path


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks (None when it can): absolute http(s) only."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc:
        return f"{url!r} is not an absolute http(s) URL"
    if split.fragment:
        return f"{url!r} has a #fragment"
    return None
