"""``opsync doctor``: every check of :mod:`opsync.doctor`, one line each; exit 0 only when all
pass. The collaborators are built here from settings, each check bounded in time, with few
retries (a doctor should answer in seconds, not ride out an outage)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url

from opsync.blobs import blob_store_from_settings
from opsync.cli._common import state
from opsync.clock import SystemClock
from opsync.config import Settings
from opsync.doctor import (
    Check,
    check_blobs,
    check_dead_letters,
    check_notion,
    check_openphone,
    check_scheduler,
    check_settings,
    check_store,
    check_webhooks,
    database_checks,
    failed,
)
from opsync.errors import OpsyncError
from opsync.notion import NotionAdapter
from opsync.notion.schema_check import SchemaReport, check_notion_schema
from opsync.openphone import OpenPhoneClient
from opsync.openphone.subscriptions import service_webhook_url
from opsync.pacing import NOTION_LIMIT, OPENPHONE_LIMIT, TokenBucket
from opsync.retry import RetryPolicy
from opsync.store import Store, normalize_url

__all__ = ["diagnose", "doctor"]

CHECK_TIMEOUT_S = 30.0
DOCTOR_RETRY = RetryPolicy(base=0.2, cap=2.0, max_attempts=2)
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
NEEDS_STORE = "needs the store (see the store line)"


def doctor(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Webhook URL of this service (default: OPSYNC_PUBLIC_BASE_URL + WEBHOOK_PATH).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check settings, OpenPhone, Notion, the store, the blob store, webhooks, the scheduler
    and the dead letters; print one line per check with the fix of each failure.

    Exits 0 only when every check passes, 1 otherwise.
    """
    settings = state(ctx).settings()
    checks = asyncio.run(diagnose(settings, url=url))
    if as_json:
        typer.echo(json.dumps([c.as_dict() for c in checks], ensure_ascii=False, indent=2))
    else:
        _print(checks)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _print(checks: list[Check]) -> None:
    console = Console(soft_wrap=True, highlight=False)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = Text("pass", style="green") if check.ok else Text("FAIL", style="bold red")
        line = Text.assemble(mark, f"  {check.name:<{width}}  {check.detail}")
        if check.fix:
            line.append(f" — fix: {check.fix}", style="yellow")
        console.print(line)
    failures = sum(1 for c in checks if not c.ok)
    console.print(
        f"{len(checks) - failures} of {len(checks)} checks passed"
        + ("" if not failures else f"; {failures} to fix")
    )


async def _bounded(name: str, check: Callable[[], Awaitable[Check]]) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await check()
    except TimeoutError:
        return failed(name, f"no answer within {CHECK_TIMEOUT_S:g} s", "check the network")
    except OpsyncError as exc:
        return failed(name, str(exc) or type(exc).__name__, "see the message")


def _missing_sqlite_file(database_url: str) -> Path | None:
    url = make_url(str(normalize_url(database_url)))
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    path = Path(database)
    return None if path.exists() else path


async def _open_store(settings: Settings) -> tuple[Store | None, Check | None]:
    """The store without migrating (the doctor looks; it does not change), or why not."""
    try:
        missing = _missing_sqlite_file(settings.database_url)
        if missing is not None:
            return None, failed(
                "store",
                f"no database at {missing}",
                "run `opsync db migrate` (or start `opsync serve`), or fix OPSYNC_DATABASE_URL",
            )
        return await Store.open(settings.database_url, migrate=False), None
    except OpsyncError as exc:
        return None, failed("store", f"cannot open: {exc}", "check OPSYNC_DATABASE_URL")


async def diagnose(settings: Settings, *, url: str | None = None) -> list[Check]:
    """Run every check against what ``settings`` configure; never raises for a diagnosis."""
    clock = SystemClock()
    checks = [check_settings(settings)]
    target = url or service_webhook_url(settings.public_base_url, settings.webhook_path)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
        openphone: OpenPhoneClient | None = None
        if settings.openphone_api_key and settings.openphone_api_key.get_secret_value():
            client = openphone = OpenPhoneClient(
                http,
                settings.openphone_api_key.get_secret_value(),
                base_url=settings.openphone_api_base,
                pacer=TokenBucket(OPENPHONE_LIMIT, clock),
                retry=DOCTOR_RETRY,
            )
            api_base = settings.openphone_api_base
            checks.append(
                await _bounded("OpenPhone API key", lambda: check_openphone(client, api_base))
            )
        else:
            checks.append(
                failed("OpenPhone API key", "OPENPHONE_API_KEY is not set", "set it (see above)")
            )
        checks.extend(await _notion_checks(settings, http, stack))
        store, store_failure = await _open_store(settings)
        if store is not None:
            stack.push_async_callback(store.close)
            checks.append(await _bounded("store", lambda: check_store(store)))
        else:
            assert store_failure is not None
            checks.append(store_failure)
        checks.append(await _blob_check(settings, http))
        if openphone is not None:
            op = openphone
            configured = settings.webhook_keys()
            checks.append(
                await _bounded("webhooks", lambda: check_webhooks(op, store, target, configured))
            )
        else:
            checks.append(failed("webhooks", "cannot list them", "set OPENPHONE_API_KEY"))
        if store is not None:
            now = datetime.fromtimestamp(clock.now(), UTC)
            cron = settings.sync_cron
            checks.append(await _bounded("scheduler", lambda: check_scheduler(store, cron, now)))
            checks.append(await _bounded("dead letters", lambda: check_dead_letters(store)))
        else:
            checks.append(failed("scheduler", NEEDS_STORE, "fix the store first"))
            checks.append(failed("dead letters", NEEDS_STORE, "fix the store first"))
    return checks


async def _notion_checks(
    settings: Settings, http: httpx.AsyncClient, stack: AsyncExitStack
) -> list[Check]:
    """The Notion key, then one line per database (reachable, schema sufficient)."""
    if not (settings.notion_api_key and settings.notion_api_key.get_secret_value()):
        return [failed("Notion API key", "NOTION_API_KEY is not set", "set it (see above)")]
    notion = NotionAdapter.from_token(
        settings.notion_api_key.get_secret_value(),
        pacer=TokenBucket(NOTION_LIMIT, SystemClock()),
        base_url=settings.notion_base_url,
        http=http,
        retry=DOCTOR_RETRY,
    )
    stack.push_async_callback(notion.aclose)
    key = await _bounded("Notion API key", lambda: check_notion(notion, settings.notion_base_url))
    if not key.ok:
        return [key]
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            report = await schema_check(notion, settings)
    except (TimeoutError, OpsyncError) as exc:
        reason = str(exc) if isinstance(exc, OpsyncError) else "no answer in time"
        return [key, failed("Notion databases", reason, "run `opsync notion check`")]
    return [key, *database_checks(report)]


async def schema_check(notion: NotionAdapter, settings: Settings) -> SchemaReport:
    """The hook to ``opsync notion check``'s :func:`check_notion_schema` (one report of every
    configured database: reachable, shared, every property the mapping needs)."""
    return await check_notion_schema(notion, settings)


async def _blob_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    try:
        signing_key = (
            settings.media_signing_key.get_secret_value() if settings.media_signing_key else None
        )
        blobs = blob_store_from_settings(settings, http, signing_key=signing_key)
    except OpsyncError as exc:
        return failed("blob store", str(exc), "fix OPSYNC_BLOB_URL and its settings")
    try:
        return await _bounded("blob store", lambda: check_blobs(blobs, http))
    finally:
        await blobs.aclose()
