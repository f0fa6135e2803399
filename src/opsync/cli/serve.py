"""``opsync serve``: the webhook receiver and the workers in one process."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterable
from typing import Any

import typer

from opsync import logs
from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.service import open_service, run_service

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8080, help="Port to listen on."),
    insecure_accept_unsigned: bool = typer.Option(
        False,
        "--insecure-accept-unsigned",
        help="Accept webhooks without a signature when no WEBHOOK_SECRET is set (testing only).",
    ),
) -> None:
    """Receive OpenPhone webhooks and sync them into Notion until SIGTERM or Ctrl-C."""
    settings = state(ctx).settings()
    configure_logging(settings)
    run(_serve(settings, host, port, insecure_accept_unsigned))


async def _serve(settings: Settings, host: str, port: int, insecure: bool) -> None:
    previous: dict[int, Any] = {}
    try:
        async with open_service(settings, insecure_accept_unsigned=insecure) as service:
            # The keys `opsync webhooks register` stored are secrets too: scrub them as well.
            stored = [hook.signing_key for hook in await service.store.webhooks_stored()]
            configure_logging(settings, stored)
            # What start-up built lives as long as the process: out of the collector's sight,
            # a full collection no longer walks it, keeping those pauses out of webhook latency.
            gc.collect()
            gc.freeze()
            await run_service(service, host=host, port=port, scheduler=service.scheduler)
            # Stopped: a repeated SIGTERM must not cut closing the store and clients short.
            previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def configure_logging(settings: Settings, extra_secrets: Iterable[str] = ()) -> None:
    """JSON logs at ``LOG_LEVEL``, with every configured secret (and ``extra_secrets``)
    scrubbed from them."""
    secrets = [
        value.get_secret_value()
        for value in (
            settings.openphone_api_key,
            settings.notion_api_key,
            settings.webhook_secret,
            settings.admin_token,
            settings.media_signing_key,
            settings.s3_secret_access_key,
        )
        if value is not None
    ]
    secrets.extend(settings.webhook_keys())
    secrets.extend(extra_secrets)
    logs.configure(settings.log_level, secrets=secrets)
