"""``opsync doctor``: is this installation able to sync? One :class:`Check` per question, each
a pass or a failure with the fix.

Each check is a small function over collaborators it is given (an OpenPhone client, a Notion
adapter, the store, the blob store, an HTTP client, the time), so that tests aim them at the
simulators or at fakes; :mod:`opsync.cli.doctor` builds the collaborators from settings and
runs them. A check never raises for what it diagnoses: an upstream refusal or outage is a
failed check. Nothing here prints or returns a secret (messages come from opsync's own errors,
which are secret-free, and URLs are shown without their query).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from opsync import cron
from opsync.blobs import BlobStore
from opsync.config import Settings
from opsync.errors import AuthError, ConfigError, OpsyncError, TransientError
from opsync.notion.schema_check import SchemaReport
from opsync.openphone.models import PhoneNumber
from opsync.openphone.subscriptions import (
    WEBHOOK_FAMILIES,
    WebhookApi,
    WebhookKeyStore,
    plan_registration,
)
from opsync.store import Store
from opsync.store.migrations import load_migrations

__all__ = [
    "Check",
    "check_blobs",
    "check_dead_letters",
    "check_notion",
    "check_openphone",
    "check_scheduler",
    "check_settings",
    "check_store",
    "check_webhooks",
    "database_checks",
    "failed",
    "passed",
    "scheduler_verdict",
]

#: how long after a cron firing its run may still be in progress before it counts as missed
SCHEDULER_GRACE_S = 15 * 60
SCHEDULE_NAME = "sync"
REQUIRED_SETTINGS = (
    "openphone_api_key",
    "notion_api_key",
    "notion_calls_database_id",
    "notion_messages_database_id",
)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def _reason(exc: BaseException) -> str:
    """What went wrong, from opsync's secret-free errors (class name for anything else)."""
    return str(exc) if isinstance(exc, OpsyncError) and str(exc) else type(exc).__name__


def _plain(url: str) -> str:
    """``url`` without query or fragment (a signed link's ``sig`` is not for display)."""
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}{split.path}"


# --- settings -------------------------------------------------------------------------------


def check_settings(settings: Settings) -> Check:
    """Every setting syncing needs is present, and the cron expression parses. Pure."""
    missing = []
    for name in REQUIRED_SETTINGS:
        try:
            settings.require(name)
        except ConfigError as exc:
            missing.append(exc.variable)
    if missing:
        return failed(
            "settings",
            "missing " + ", ".join(missing),
            "add them to .env or the environment (README: Configuration; "
            "`opsync notion setup` prints the database ids)",
        )
    try:
        cron.parse(settings.sync_cron)
    except ValueError as exc:
        return failed("settings", f"OPSYNC_SYNC_CRON: {exc}", "fix OPSYNC_SYNC_CRON (5 fields)")
    return passed("settings", "every required setting is present")


# --- OpenPhone and Notion -------------------------------------------------------------------


class PhoneNumberLister(Protocol):
    async def list_phone_numbers(self) -> list[PhoneNumber]: ...


async def check_openphone(client: PhoneNumberLister, api_base: str) -> Check:
    """The OpenPhone key is accepted: the phone numbers can be listed."""
    name = "OpenPhone API key"
    try:
        numbers = await client.list_phone_numbers()
    except AuthError as exc:
        return failed(
            name,
            f"refused: {_reason(exc)}",
            "set OPENPHONE_API_KEY to a key from Quo: Workspace settings → API",
        )
    except TransientError as exc:
        return failed(
            name,
            f"cannot reach {api_base}: {_reason(exc)}",
            "check OPENPHONE_API_BASE and the network",
        )
    except OpsyncError as exc:
        return failed(name, _reason(exc), f"check OPENPHONE_API_BASE ({api_base}) and the key")
    return passed(name, f"valid: {len(numbers)} phone number{'s' * (len(numbers) != 1)}")


class NotionIdentity(Protocol):
    """``users/me`` of the integration, through the adapter's one call of it."""

    async def max_upload_size(self) -> int | None: ...


async def check_notion(notion: NotionIdentity, base_url: str) -> Check:
    """The Notion token is accepted (``GET /v1/users/me``)."""
    name = "Notion API key"
    try:
        await notion.max_upload_size()
    except AuthError as exc:
        return failed(
            name,
            f"refused: {_reason(exc)}",
            "set NOTION_API_KEY to the integration's secret (notion.so/my-integrations)",
        )
    except OpsyncError as exc:
        return failed(
            name,
            f"cannot reach {base_url}: {_reason(exc)}",
            "check OPSYNC_NOTION_BASE_URL and the network",
        )
    return passed(name, "valid")


def database_checks(report: SchemaReport) -> list[Check]:
    """One line per database of ``opsync notion check``'s report: reachable, and no property
    problem that blocks syncing. Pure."""
    checks = []
    for database in report.databases:
        name = f"Notion {database.name} database"
        rows = [row for row in report.rows if row.database == database.name]
        blocking = [row for row in rows if row.blocking]
        if blocking:
            first = blocking[0]
            more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
            where = f"{first.property}: " if first.property else ""
            checks.append(
                failed(
                    name,
                    f"{where}{first.problem}{more}",
                    f"{first.fix}; `opsync notion check` lists every problem"
                    + (", `--fix` adds what is missing" if database.reachable else ""),
                )
            )
        elif not database.reachable:
            checks.append(
                passed(name, f"not configured ({database.variable}; optional: no Canvas links)")
            )
        else:
            notes = f"; {len(rows)} notes in `opsync notion check`" if rows else ""
            checks.append(
                passed(name, f"reachable, {database.checked} properties as needed{notes}")
            )
    return checks


# --- store, blobs ---------------------------------------------------------------------------


async def check_store(store: Store) -> Check:
    """The store answers and every migration shipped with opsync is applied."""
    name = "store"
    try:
        applied = {m.version for m in await store.applied_migrations()}
    except OpsyncError as exc:
        return failed(name, f"unreachable: {_reason(exc)}", "check OPSYNC_DATABASE_URL")
    pending = [m for m in load_migrations() if m.version not in applied]
    if pending:
        names = ", ".join(f"{m.version:04d} {m.name}" for m in pending)
        return failed(name, f"migrations pending: {names}", "run `opsync db migrate`")
    return passed(name, f"reachable ({store.dialect}), migrated to {max(applied):04d}")


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def check_blobs(blobs: BlobStore, http: httpx.AsyncClient) -> Check:
    """A probe file can be written, fetched back from its public URL, and deleted."""
    name = "blob store"
    key = f"doctor/probe-{secrets.token_hex(8)}.txt"
    data = b"opsync doctor probe " + secrets.token_hex(8).encode()
    try:
        await blobs.put_stream(key, _one(data), "text/plain")
    except OpsyncError as exc:
        return failed(
            name,
            f"not writable: {_reason(exc)}",
            "check OPSYNC_BLOB_URL: the folder's permissions, or the bucket and its credentials",
        )
    try:
        url = blobs.public_url(key)
        if url is None:
            return failed(
                name,
                "writable, but has no public URL (audio links on Notion pages need one)",
                "set OPSYNC_PUBLIC_BASE_URL to the address where this service is reachable",
            )
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            return failed(
                name,
                f"writable; its public URL {_plain(url)} is unreachable ({type(exc).__name__})",
                "start `opsync serve` and make OPSYNC_PUBLIC_BASE_URL reach it "
                "(a reverse proxy must forward /media/)",
            )
        if response.status_code != 200 or response.content != data:
            return failed(
                name,
                f"writable; its public URL {_plain(url)} answered {response.status_code} "
                "without the probe",
                "make OPSYNC_PUBLIC_BASE_URL point at this service (or the bucket's public URL "
                "at this bucket), and forward /media/ to it",
            )
        return passed(name, f"writable; public URL {_plain(url)} serves it")
    finally:
        with suppress(OpsyncError):  # a probe left behind is harmless; the verdict stands
            await blobs.delete(key)


# --- webhooks, scheduler, dead letters -------------------------------------------------------


async def check_webhooks(
    api: WebhookApi,
    keys: WebhookKeyStore | None,
    url: str | None,
    configured_keys: Sequence[str] = (),
) -> Check:
    """``url`` receives every handled event from OpenPhone, and each webhook's signing key is
    stored (or in ``WEBHOOK_SECRET``), so that ``opsync serve`` verifies its deliveries."""
    name = "webhooks"
    if url is None:
        return failed(
            name,
            "this service's URL is unknown",
            "set OPSYNC_PUBLIC_BASE_URL (or pass --url https://host/webhooks/openphone)",
        )
    register = f"run `opsync webhooks register --url {url}`"
    try:
        existing = await api.list_webhooks()
    except OpsyncError as exc:
        return failed(name, f"cannot list them: {_reason(exc)}", "fix the OpenPhone API key")
    plan = plan_registration(existing, url)
    if plan.create:
        return failed(
            name,
            f"no complete webhook at {url} for {', '.join(plan.create)}",
            register,
        )
    if plan.delete:
        return failed(
            name, f"{len(plan.delete)} incomplete or duplicate webhooks at {url}", register
        )
    stored = {s.webhook_id for s in await keys.webhooks_stored()} if keys is not None else set()
    configured = set(configured_keys)
    unkeyed = [
        hook.id
        for hook in plan.keep
        if hook.id not in stored and hook.key.get_secret_value() not in configured
    ]
    if unkeyed:
        return failed(
            name,
            f"registered, but the signing keys of {', '.join(unkeyed)} are not stored",
            register + " (it stores them), then restart `opsync serve`",
        )
    return passed(
        name, f"{len(WEBHOOK_FAMILIES)} webhooks at {url} cover every handled event; keys stored"
    )


def scheduler_verdict(
    last_period_ms: int | None, schedule: str, now: datetime, grace_s: float = SCHEDULER_GRACE_S
) -> Check:
    """Whether the scheduler ran the latest period of ``schedule`` due at ``now`` (within
    ``grace_s`` of its start it may still be running). Pure."""
    name = "scheduler"
    serve = "start `opsync serve` (it syncs at once on its first start, then on OPSYNC_SYNC_CRON)"
    if last_period_ms is None:
        return failed(name, "has never run", serve)
    last = datetime.fromtimestamp(last_period_ms / 1000, UTC)
    due = cron.previous_fire(schedule, now)
    shown = f"last run: the {last:%Y-%m-%d %H:%M} UTC period"
    if due is None or last >= due:
        upcoming = cron.next_fire(schedule, now)
        return passed(name, f"{shown}; next at {upcoming:%Y-%m-%d %H:%M} UTC")
    if (now - due).total_seconds() <= grace_s:
        return passed(name, f"{shown}; the {due:%H:%M} UTC run is starting")
    return failed(
        name,
        f"{shown}; the {due:%Y-%m-%d %H:%M} UTC run did not happen",
        "is `opsync serve` running? Its log says why a run failed (action schedule_failed)",
    )


async def check_scheduler(store: Store, schedule: str, now: datetime) -> Check:
    """:func:`scheduler_verdict` on the store's record of the sync schedule."""
    try:
        last = await store.scheduler_last_period(SCHEDULE_NAME)
    except OpsyncError as exc:
        return failed("scheduler", f"cannot read: {_reason(exc)}", "fix the store first")
    return scheduler_verdict(last, schedule, now)


async def check_dead_letters(store: Store) -> Check:
    """No event is waiting in the dead letters."""
    name = "dead letters"
    try:
        dead = (await store.inbox_counts())["dead"]
    except OpsyncError as exc:
        return failed(name, f"cannot count: {_reason(exc)}", "fix the store first")
    if dead:
        return failed(
            name,
            f"{dead} waiting",
            "`opsync dlq list` shows why; once the cause is fixed, `opsync dlq replay --all`",
        )
    return passed(name, "none waiting")
