"""The running service: every part built from settings, the HTTP server and the workers in one
process (``opsync serve``), stopped gracefully on SIGTERM.

:func:`open_service` builds the parts around one store and one HTTP client and closes them in
reverse order; :func:`run_service` serves HTTP and works the inbox until asked to stop. Tests
and the demo call both with their own settings (pointed at the simulators).
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from opsync import cron
from opsync._uvicorn import bind_socket, bound_port, hosted
from opsync.blobs import BlobStore, blob_store_from_settings, media_routes
from opsync.canvas import CanvasLookup
from opsync.clock import Clock, SystemClock
from opsync.config import Settings
from opsync.dispatcher import Dispatcher
from opsync.errors import ConfigError
from opsync.inbox import inbox_policy
from opsync.notion import NotionAdapter
from opsync.notion.ids import normalize_id
from opsync.notion.mapping import load_mapping
from opsync.observability.metrics import Metrics, metrics_route
from opsync.openphone import OpenPhoneClient
from opsync.openphone.signatures import SigningKey, WebhookVerifier
from opsync.pacing import NOTION_LIMIT, OPENPHONE_LIMIT, Pacer, TokenBucket
from opsync.pacing_shared import SharedTokenBucket, bucket_name
from opsync.scheduler import Scheduler
from opsync.store import Store
from opsync.sync import ActorRegistry, Directory, SyncContext, make_handler
from opsync.sync.columns import PageColumns
from opsync.sync.incremental import SyncOptions
from opsync.sync.jobs import is_sync_job
from opsync.web import build_app
from opsync.web.dashboard_data import DashboardSources
from opsync.wiring import HTTP_TIMEOUT

log = logging.getLogger(__name__)

NO_SIGNING_KEY = (
    "a service with no webhook signing key refuses to start; run `opsync webhooks register "
    "--url https://your-host/webhooks/openphone` (it stores the keys), or set WEBHOOK_SECRET "
    "(whsec_… or legacy base64 keys, comma-separated), or pass --insecure-accept-unsigned"
)


@dataclass
class Service:
    """The parts of one running opsync instance."""

    settings: Settings
    store: Store
    openphone: OpenPhoneClient
    notion: NotionAdapter
    blobs: BlobStore
    canvas: CanvasLookup | None
    registry: ActorRegistry
    dispatcher: Dispatcher
    #: None when built with ``webhooks=False`` (a command that serves no HTTP)
    app: Starlette | None
    scheduler: Scheduler | None = None
    metrics: Metrics | None = None


@dataclass(frozen=True)
class Pacers:
    """The token buckets of the upstream APIs: in this process (SQLite, one machine), or shared
    through the database by every process of the deployment (PostgreSQL, several machines)."""

    notion: Pacer
    openphone: Pacer

    @classmethod
    def default(cls, clock: Clock) -> Pacers:
        return cls(TokenBucket(NOTION_LIMIT, clock), TokenBucket(OPENPHONE_LIMIT, clock))

    @classmethod
    def for_store(
        cls, store: Store, clock: Clock, *, notion_token: str, openphone_key: str
    ) -> Pacers:
        """Shared buckets on PostgreSQL (the several-machines deployment), else this
        process's own."""
        if store.dialect == "postgresql":
            return cls.shared(store, clock, notion_token=notion_token, openphone_key=openphone_key)
        return cls.default(clock)

    @classmethod
    def shared(cls, store: Store, clock: Clock, *, notion_token: str, openphone_key: str) -> Pacers:
        """One bucket per credential in the store: the deployment as a whole keeps to the
        limits, and a 429 seen by one instance pauses all of them."""
        return cls(
            SharedTokenBucket(store, bucket_name("notion", notion_token), NOTION_LIMIT, clock),
            SharedTokenBucket(
                store, bucket_name("openphone", openphone_key), OPENPHONE_LIMIT, clock
            ),
        )


@asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    insecure_accept_unsigned: bool = False,
    webhooks: bool = True,
    clock: Clock | None = None,
    pacers: Pacers | None = None,
    poll_interval: float = 0.5,
) -> AsyncIterator[Service]:
    """Build every part from ``settings``; raises ConfigError naming a missing setting.

    ``webhooks=False`` builds no web app and needs no signing key (``opsync backfill``).
    """
    clock = clock or SystemClock()
    notion_token = settings.secret("notion_api_key")
    openphone_key = settings.secret("openphone_api_key")
    calls_db = normalize_id(settings.require("notion_calls_database_id"))
    messages_db = normalize_id(settings.require("notion_messages_database_id"))
    try:
        configured_keys = [SigningKey.parse(key) for key in settings.webhook_keys()]
    except ValueError as exc:
        raise ConfigError("WEBHOOK_SECRET", str(exc), problem="is invalid") from None
    try:
        cron.parse(settings.sync_cron)
    except ValueError as exc:
        raise ConfigError("OPSYNC_SYNC_CRON", str(exc), problem="is invalid") from None
    async with AsyncExitStack() as stack:
        store = await Store.open(settings.database_url, clock=clock)
        stack.push_async_callback(store.close)
        if pacers is None:
            pacers = Pacers.for_store(
                store, clock, notion_token=notion_token, openphone_key=openphone_key
            )
        # WEBHOOK_SECRET and the keys `opsync webhooks register` stored; checked before any
        # network call.
        stored_keys = await stored_signing_keys(store) if webhooks else []
        verifier = WebhookVerifier([*configured_keys, *stored_keys], clock=clock)
        if webhooks and not verifier.has_keys and not insecure_accept_unsigned:
            raise ConfigError("WEBHOOK_SECRET", NO_SIGNING_KEY)
        metrics = Metrics(store=store, clock=clock)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
        openphone = OpenPhoneClient(
            http,
            openphone_key,
            base_url=settings.openphone_api_base,
            pacer=metrics.metered(pacers.openphone, "openphone"),
            clock=clock,
            on_request=metrics.request_hook("openphone"),
        )
        notion = NotionAdapter.from_token(
            notion_token,
            pacer=metrics.metered(pacers.notion, "notion"),
            base_url=settings.notion_base_url,
            clock=clock,
            on_request=metrics.request_hook("notion"),
        )
        stack.push_async_callback(notion.aclose)
        signing_key = (
            settings.media_signing_key.get_secret_value() if settings.media_signing_key else None
        )
        blobs = blob_store_from_settings(settings, http, signing_key=signing_key, clock=clock)
        stack.push_async_callback(blobs.aclose)
        canvas = (
            CanvasLookup(
                notion,
                store,
                normalize_id(settings.notion_canvas_database_id),
                clock=clock,
                negative_ttl=settings.canvas_negative_ttl,
            )
            if settings.notion_canvas_database_id
            else None
        )
        metrics.canvas_stats = canvas.stats if canvas is not None else None
        context = SyncContext(
            store=store,
            openphone=openphone,
            notion=notion,
            blobs=blobs,
            canvas=canvas,
            directory=Directory(openphone, clock=clock),
            calls_data_source_id=await notion.data_source_id(calls_db),
            messages_data_source_id=await notion.data_source_id(messages_db),
            clock=clock,
            call_settle_seconds=settings.call_settle_seconds,
            columns=PageColumns(load_mapping(settings.mapping_file)),
        )
        registry = ActorRegistry(
            context, clock=clock, sync_options=SyncOptions.from_settings(settings)
        )
        dispatcher = Dispatcher(
            store,
            metrics.instrument(make_handler(registry)),
            policy=inbox_policy(settings.max_attempts),
            concurrency=settings.concurrency,
            lease_seconds=settings.lease_seconds,
            clock=clock,
            rng=random.Random(),
            poll_interval=poll_interval,
            shutdown_grace=worker_grace(settings.shutdown_timeout),
            interruptible=is_sync_job,
        )
        admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
        extra: list[BaseRoute] = [metrics_route(metrics, admin_token=admin_token)]
        if blobs.signer is not None:
            extra.extend(media_routes(blobs, blobs.signer))
        app = (
            None
            if not webhooks
            else build_app(
                store=store,
                verifier=verifier,
                webhook_path=settings.webhook_path,
                admin_token=admin_token,
                insecure_accept_unsigned=insecure_accept_unsigned,
                extra_routes=extra,
                phone_state=registry.state_of,
                on_webhook=metrics.webhook_received,
                media_url=blobs.public_url,
                dashboard=DashboardSources(
                    store, metrics=metrics, phone_state=registry.state_of, clock=clock
                ),
            )
        )
        scheduler = Scheduler(store, openphone, cron=settings.sync_cron, clock=clock)
        metrics.last_runs = scheduler.last_runs
        yield Service(
            settings,
            store,
            openphone,
            notion,
            blobs,
            canvas,
            registry,
            dispatcher,
            app,
            scheduler,
            metrics,
        )


async def stored_signing_keys(store: Store) -> list[SigningKey]:
    """The signing keys of the webhooks ``opsync webhooks register`` stored. A key that does
    not parse is skipped with a warning naming its webhook (never the key)."""
    keys: list[SigningKey] = []
    for hook in await store.webhooks_stored():
        try:
            keys.append(SigningKey.parse(hook.signing_key))
        except ValueError:
            log.warning(
                "stored webhook key is not valid; skipped",
                extra={"action": "webhook_key_invalid", "webhook_id": hook.webhook_id},
            )
    return keys


def worker_grace(shutdown_timeout: float) -> float:
    """How long, of ``OPSYNC_SHUTDOWN_TIMEOUT``, in-flight events may run on after a stop: the
    rest of the budget (a fifth, at most one second) cancels and releases what is left."""
    return shutdown_timeout - min(1.0, shutdown_timeout / 5)


async def run_service(
    service: Service,
    *,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    started: asyncio.Event | None = None,
    sock: socket.socket | None = None,
    scheduler: Scheduler | None = None,
) -> None:
    """Serve HTTP and work the inbox until ``stop`` is set (or SIGTERM/SIGINT arrives).

    ``sock``, when given, is an already bound socket to serve on (``host``/``port`` unused).
    ``scheduler``, when given (``opsync serve`` passes ``service.scheduler``), fires the sync
    cron alongside; its sleep ends at once on stop.

    On stop, within ``OPSYNC_SHUTDOWN_TIMEOUT`` (see docs/decisions/0018): the server stops
    accepting connections and answers the requests it has; in-flight events finish within
    the dispatcher's grace and the rest are released for the next start (sync jobs at once:
    they resume from their saved cursor); a scheduler firing in progress finishes or gives
    its claim back. Nothing acknowledged is lost.
    """
    app = service.app
    if app is None:
        raise ValueError("run_service needs a service built with webhooks=True")
    stop = stop or asyncio.Event()
    sock = sock or bind_socket(host, port)
    timeout = service.settings.shutdown_timeout
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    background = [asyncio.create_task(service.dispatcher.run_forever(stop), name="dispatcher")]
    if scheduler is not None:
        background.append(asyncio.create_task(scheduler.run_forever(stop), name="scheduler"))
    stopping_at: float | None = None
    try:
        async with hosted(app, sock, lifespan="off", shutdown_timeout=timeout):
            log.info(
                "serving",
                extra={"action": "service_started", "host": host, "port": bound_port(sock)},
            )
            if started is not None:
                started.set()
            await stop.wait()
            stopping_at = loop.time()
            log.info(
                "shutting down",
                extra={"action": "service_stopping", "shutdown_timeout": timeout},
            )
    finally:
        stop.set()
        began = loop.time() if stopping_at is None else stopping_at
        await stop_within(background, began + timeout - loop.time())
        sock.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        log.info(
            "stopped",
            extra={"action": "service_stopped", "seconds": round(loop.time() - began, 3)},
        )


async def stop_within(tasks: list[asyncio.Task[None]], seconds: float) -> None:
    """Let ``tasks`` end by themselves for ``seconds``, then cancel what still runs (the
    dispatcher ends within its own grace; this bounds a scheduler firing stuck upstream)."""
    if seconds > 0:
        await asyncio.wait(tasks, timeout=seconds)
    late = [task for task in tasks if not task.done()]
    for task in late:
        log.warning(
            "cancelled at the shutdown deadline",
            extra={"action": "shutdown_cancelled", "task": task.get_name()},
        )
        task.cancel()
    for task, outcome in zip(
        tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True
    ):
        if isinstance(outcome, Exception):
            log.error(
                "stopped by an error",
                exc_info=outcome,
                extra={"action": "shutdown_failed", "task": task.get_name()},
            )
