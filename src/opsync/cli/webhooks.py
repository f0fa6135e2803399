"""``opsync webhooks``: register, list and unregister opsync's OpenPhone webhooks.

``register`` subscribes this service's URL to every event opsync handles and keeps the signing
keys in the store, where ``opsync serve`` reads them at start; it is idempotent. The URL is
``--url``, else ``OPSYNC_PUBLIC_BASE_URL`` + ``WEBHOOK_PATH``. Keys are never printed: only
their fingerprints (``sha256:`` + 12 hex digits of their hash).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.openphone.subscriptions import (
    RegistrationResult,
    WebhookView,
    describe_webhooks,
    register_webhooks,
    service_webhook_url,
    unregister_webhooks,
    url_problem,
)
from opsync.store import Store, StoredWebhook
from opsync.wiring import openphone_client

__all__ = ["app"]

app = typer.Typer(
    help="OpenPhone webhooks: register this service, list, unregister.", no_args_is_help=True
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="Webhook URL of this service (default: OPSYNC_PUBLIC_BASE_URL + WEBHOOK_PATH).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _target_url(settings: Settings, url: str | None, *, required: bool) -> str | None:
    target = url or service_webhook_url(settings.public_base_url, settings.webhook_path)
    if target is None:
        if required:
            typer.echo(
                "give --url https://your-host/webhooks/openphone or set OPSYNC_PUBLIC_BASE_URL",
                err=True,
            )
            raise typer.Exit(2)
        return None
    problem = url_problem(target)
    if problem is not None:
        typer.echo(f"cannot use the webhook URL: {problem}", err=True)
        raise typer.Exit(2)
    return target


@app.command("register")
def register(ctx: typer.Context, url: UrlOption = None, as_json: JsonOption = False) -> None:
    """Subscribe URL to every event opsync handles; store the signing keys. Idempotent."""
    settings = state(ctx).settings()
    target = _target_url(settings, url, required=True)
    assert target is not None
    result, stored = run(_register(settings, target))
    by_id = {row.webhook_id: row for row in stored}
    if as_json:
        typer.echo(json.dumps(_registration_json(result, by_id), indent=2))
        return
    typer.echo(f"Webhooks at {target}:")
    for action, ids in (("kept", result.kept), ("created", result.created)):
        for webhook_id in ids:
            row = by_id.get(webhook_id)
            detail = f"{row.family:<17} key {row.fingerprint} stored" if row else "no key listed"
            typer.echo(f"  {action:<8} {webhook_id}  {detail}")
    for webhook_id in result.deleted:
        typer.echo(f"  deleted  {webhook_id}  (incomplete or a duplicate; replaced)")
    count = len(result.kept) + len(result.created)
    typer.echo(
        f"{count} webhooks cover every event opsync handles; "
        f"{sum(1 for i in (*result.kept, *result.created) if i in by_id)} signing keys stored."
    )
    if result.created:
        typer.echo("opsync serve reads the keys when it starts: restart it if it is running.")
    else:
        typer.echo("Nothing to change.")


async def _register(settings: Settings, url: str) -> tuple[RegistrationResult, list[StoredWebhook]]:
    async with openphone_client(settings) as client, await Store.open(settings.database_url) as st:
        result = await register_webhooks(client, st, url)
        return result, await st.webhooks_stored(url)


def _registration_json(
    result: RegistrationResult, by_id: dict[str, StoredWebhook]
) -> dict[str, Any]:
    def hook(webhook_id: str) -> dict[str, Any]:
        row = by_id.get(webhook_id)
        return {
            "id": webhook_id,
            "family": row.family if row else None,
            "key_fingerprint": row.fingerprint if row else None,
        }

    return {
        "url": result.url,
        "kept": [hook(i) for i in result.kept],
        "created": [hook(i) for i in result.created],
        "deleted": list(result.deleted),
        "forgotten_keys": list(result.forgotten),
    }


@app.command("list")
def list_hooks(ctx: typer.Context, url: UrlOption = None, as_json: JsonOption = False) -> None:
    """What OpenPhone has registered, whether it points here, and whether its key is stored."""
    settings = state(ctx).settings()
    target = _target_url(settings, url, required=False)
    views = run(_list(settings, target))
    if as_json:
        typer.echo(json.dumps({"this_url": target, "webhooks": [v.as_dict() for v in views]}))
        return
    _print_table(views, target)


async def _list(settings: Settings, url: str | None) -> list[WebhookView]:
    async with openphone_client(settings) as client, await Store.open(settings.database_url) as st:
        return describe_webhooks(await client.list_webhooks(), await st.webhooks_stored(), url)


def _print_table(views: list[WebhookView], target: str | None) -> None:
    """One line per webhook (no table: URLs are long and must not be cut)."""
    here = target or "unknown (give --url or set OPSYNC_PUBLIC_BASE_URL)"
    typer.echo(f"OpenPhone webhooks: {len(views)}; this service: {here}")
    if not views:
        typer.echo("  none registered: `opsync webhooks register`")
    for view in views:
        status = view.status if view.complete or view.status == "gone" else view.status + "*"
        where = "→ this service" if view.here else f"→ {view.url}"
        key = "key not stored" if view.key is None else f"key {view.key} stored"
        if view.key is not None and not view.key_matches and view.status != "gone":
            key += " (stale)"
        events = f"{view.family} ({len(view.events)})"
        typer.echo(f"  {view.id:<14} {events:<22} {status:<9} {where}  {key}")
    if any(not v.complete and v.status != "gone" for v in views):
        typer.echo(
            "* incomplete (missing events, disabled, or not every number): "
            "`opsync webhooks register` replaces it"
        )


@app.command("unregister")
def unregister(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", metavar="URL", help="Delete the webhooks at URL.")
    ] = None,
    all_opsync: Annotated[
        bool,
        typer.Option("--all-opsync", help="Delete every webhook opsync registered, at any URL."),
    ] = False,
) -> None:
    """Delete webhooks from OpenPhone and forget their stored keys.

    Without an option: those at this service's URL (OPSYNC_PUBLIC_BASE_URL + WEBHOOK_PATH).
    """
    if url is not None and all_opsync:
        typer.echo("give either --url or --all-opsync", err=True)
        raise typer.Exit(2)
    settings = state(ctx).settings()
    target = None if all_opsync else _target_url(settings, url, required=True)
    deleted = run(_unregister(settings, target, all_opsync))
    where = "registered by opsync" if all_opsync else f"at {target}"
    typer.echo(f"deleted {len(deleted)} webhook{'' if len(deleted) == 1 else 's'} {where}")
    for webhook_id in deleted:
        typer.echo(f"  {webhook_id}")


async def _unregister(settings: Settings, url: str | None, all_opsync: bool) -> list[str]:
    async with openphone_client(settings) as client, await Store.open(settings.database_url) as st:
        return await unregister_webhooks(client, st, url=url, all_opsync=all_opsync)
