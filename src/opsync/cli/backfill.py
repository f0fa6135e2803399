"""``opsync backfill``: run the incremental sync of phone numbers now, with progress.

One sync job per number goes into the inbox (source ``backfill``, partitioned by the number),
and a dispatcher in this process works the inbox until those jobs are done: the same path as
``opsync serve``'s scheduled syncs, so it is safe beside a running server (the inbox never
runs two events of one number at once). Ctrl-C releases the jobs with their cursors saved;
the same command resumes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from opsync.cli._common import run, state
from opsync.config import Settings
from opsync.dispatcher import Dispatcher, Handler, Outcome
from opsync.errors import InvalidPayload
from opsync.inbox import inbox_policy
from opsync.pacing import NOTION_LIMIT, OPENPHONE_LIMIT, Pacer, TokenBucket
from opsync.service import Pacers, Service, open_service
from opsync.store import InboxEvent
from opsync.store._sync_queries import waiting_event
from opsync.sync import make_handler
from opsync.sync._sync_progress import LAST_KEY, PROGRESS_KEY, read_json
from opsync.sync.incremental import SyncOptions
from opsync.sync.jobs import SYNC_EVENT_TYPE, SyncJob

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
POLL_SECONDS = 0.25
RESUME_HINT = "interrupted: cursors saved; resume with the same command"


class MeasuredPacer:
    """A pacer that adds up the time spent waiting for it (the Notion pacing shown)."""

    def __init__(self, inner: Pacer) -> None:
        self._inner = inner
        self.waited = 0.0

    async def acquire(self) -> float:
        waited = await self._inner.acquire()
        self.waited += waited
        return waited

    def pause(self, seconds: float) -> None:
        self._inner.pause(seconds)


@dataclass(frozen=True)
class BackfillRequest:
    """What to sync: the numbers (none: all of the workspace's), which kinds, how far back."""

    phones: tuple[str, ...] = ()
    calls: bool = True
    messages: bool = True
    since: datetime | None = None
    all: bool = False


@dataclass
class NumberResult:
    """The outcome of one number's job: its stored summary, or why it did not finish."""

    phone_number_id: str
    event_id: str
    summary: dict[str, Any] | None = None
    error: str | None = None

    def row(self) -> dict[str, Any]:
        found = self.summary or {}
        status = "error" if self.error else str(found.get("status", "unknown"))
        return {
            "phone_number_id": self.phone_number_id,
            "status": status,
            **{k: int(found.get(k, 0)) for k in ("synced", "created", "updated")},
            **{k: int(found.get(k, 0)) for k in ("unchanged", "skipped", "failed")},
            "error": self.error or found.get("last_error"),
        }


@dataclass
class _Tracker:
    """Which of our jobs are still to finish; wraps the handler to find out."""

    waiting: set[str]
    errors: dict[str, str] = field(default_factory=dict)

    def wrap(self, handler: Handler) -> Handler:
        async def handle(event: InboxEvent) -> Outcome | None:
            try:
                outcome = await handler(event)
            except Exception as exc:
                if event.event_id in self.waiting:
                    # The inbox retries it later (serve, or the next backfill): stop waiting.
                    self.errors[event.event_id] = f"{type(exc).__name__}: {exc}"[:300]
                    self.waiting.discard(event.event_id)
                raise
            self.waiting.discard(event.event_id)
            return outcome

        return handle


async def resolve_numbers(service: Service, phones: Sequence[str]) -> list[str]:
    """The numbers to sync: ``phones`` (each must exist in the workspace), else every number
    from the phone-numbers API. Numbers seen for the first time get their row."""
    store, directory = service.store, service.registry.ctx.directory
    if phones:
        for phone in phones:
            if await store.get_phone_number(phone) is None:
                line = await directory.phone_number(phone)
                if line is None:
                    raise typer.BadParameter(f"{phone} is not a phone number of this workspace")
                await store.upsert_phone_number(line.id, line.number, name=line.name)
        return list(dict.fromkeys(phones))
    numbers = await service.openphone.list_phone_numbers()
    for number in numbers:
        if await store.get_phone_number(number.id) is None:
            await store.upsert_phone_number(number.id, number.number, name=number.name)
    return [number.id for number in numbers]


async def enqueue_jobs(
    service: Service, numbers: Sequence[str], request: BackfillRequest
) -> dict[str, str]:
    """One sync job per number; event id → phone number id. The same job left waiting by an
    interrupted backfill is taken over instead of queueing a second one."""
    jobs: dict[str, str] = {}
    for pn in numbers:
        job = SyncJob(pn, request.calls, request.messages, request.since, request.all, "backfill")
        waiting = await waiting_event(service.store, SYNC_EVENT_TYPE, pn)
        if waiting is not None and _same_job(waiting[1], job):
            jobs[waiting[0]] = pn
            continue
        event_id = f"backfill:{pn}:{uuid.uuid4().hex}"
        await service.store.inbox_enqueue(
            event_id, SYNC_EVENT_TYPE, pn, job.to_json(), source="backfill"
        )
        jobs[event_id] = pn
    return jobs


def _same_job(payload: str, job: SyncJob) -> bool:
    try:
        return SyncJob.from_json(payload) == job
    except InvalidPayload:
        return False


async def run_jobs(
    service: Service,
    jobs: dict[str, str],
    *,
    max_attempts: int = 8,
    concurrency: int = 8,
    on_progress: Callable[[dict[str, dict[str, Any]]], None] | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> list[NumberResult]:
    """Work the inbox in this process until every job in ``jobs`` is done (or failed, left
    to the inbox's retries); their results. Cancelled: the jobs are released."""
    store = service.store
    tracker = _Tracker(set(jobs))
    dispatcher = Dispatcher(
        store,
        tracker.wrap(make_handler(service.registry)),
        policy=inbox_policy(max_attempts),
        concurrency=concurrency,
        poll_interval=poll_seconds,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(dispatcher.run_forever(stop))
    try:
        while tracker.waiting and not worker.done():
            if on_progress is not None:
                on_progress(await _progress(service, jobs))
            await asyncio.wait({worker}, timeout=poll_seconds)
        if on_progress is not None:
            on_progress(await _progress(service, jobs))
    except asyncio.CancelledError:
        worker.cancel()  # no grace: release the jobs now, their cursors are saved
        raise
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            await worker
    results = []
    for event_id, pn in jobs.items():
        summary = await read_json(store, LAST_KEY.format(pn))
        if summary is not None and summary.get("event_id") != event_id:
            summary = None
        error = tracker.errors.get(event_id)
        if summary is None and error is None:
            error = "the job did not run"
        results.append(NumberResult(pn, event_id, summary, error))
    return results


async def _progress(service: Service, jobs: dict[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for pn in jobs.values():
        progress = await read_json(service.store, PROGRESS_KEY.format(pn))
        if progress is not None:
            found[pn] = progress
    return found


class _Display:
    """One progress line per number: phase, items, rate, counts, Notion pacing wait."""

    def __init__(self, numbers: Sequence[str], notion: MeasuredPacer, enabled: bool) -> None:
        self._notion = notion
        self.progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.fields[phase]:<13}"),
            TextColumn("{task.completed:>6.0f} items"),
            TextColumn("{task.fields[rate]:>6.1f}/s"),
            TextColumn("{task.fields[counts]}"),
            TextColumn("Notion wait {task.fields[notion]:.1f}s"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=Console(stderr=True),
            disable=not enabled,
        )
        fields: dict[str, Any] = {
            "phase": "queued",
            "rate": 0.0,
            "counts": "",
            "notion": 0.0,
            "eta": "-",
        }
        self._tasks: dict[str, TaskID] = {
            pn: self.progress.add_task(pn, total=None, **fields) for pn in numbers
        }

    def update(self, progress: dict[str, dict[str, Any]]) -> None:
        for pn, task in self._tasks.items():
            found = progress.get(pn)
            if found is None:
                self.progress.update(task, notion=self._notion.waited)
                continue
            elapsed = max(1e-6, float(found["updated_at"]) - float(found["started_at"]))
            counts = (
                f"{found['synced']} synced · {found['unchanged']} unchanged · "
                f"{found['skipped']} skipped · {found['failed']} failed"
            )
            self.progress.update(
                task,
                completed=found["seen"],
                phase=found["phase"],
                rate=found["seen"] / elapsed,
                counts=counts,
                notion=self._notion.waited,
                eta=eta_text(found, elapsed),
            )


def eta_text(progress: dict[str, Any], elapsed: float) -> str:
    """Time left, from the share of the run's conversations already walked ("-" until the
    conversations are listed and one is done; OpenPhone gives no reliable item totals)."""
    total, done = progress.get("conversations_total"), int(progress.get("conversations") or 0)
    if progress.get("status") == "done":
        return "done"
    if not total or done <= 0:
        return "-"
    left = max(0.0, elapsed * (int(total) - done) / done)
    minutes, seconds = divmod(round(left), 60)
    return f"{minutes}:{seconds:02d}"


async def _backfill(settings: Settings, request: BackfillRequest, show: bool) -> list[NumberResult]:
    notion = MeasuredPacer(TokenBucket(NOTION_LIMIT))
    pacers = Pacers(notion=notion, openphone=TokenBucket(OPENPHONE_LIMIT))
    async with open_service(settings, webhooks=False, pacers=pacers) as service:
        service.registry.sync_options = SyncOptions.from_settings(settings)
        numbers = await resolve_numbers(service, request.phones)
        jobs = await enqueue_jobs(service, numbers, request)
        display = _Display(numbers, notion, show)
        # Ctrl-C: asyncio.run cancels this task, run_jobs releases the jobs, and
        # KeyboardInterrupt comes out of run() once everything is closed.
        with display.progress:
            return await run_jobs(
                service,
                jobs,
                max_attempts=settings.max_attempts,
                concurrency=settings.concurrency,
                on_progress=display.update,
            )


def _summary_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("phone number", "status", "synced", "unchanged", "skipped", "failed", "error")
    for row in rows:
        table.add_row(
            row["phone_number_id"],
            row["status"],
            *(str(row[key]) for key in ("synced", "unchanged", "skipped", "failed")),
            row["error"] or "",
        )
    return table


def backfill(
    ctx: typer.Context,
    phone: Annotated[
        list[str] | None,
        typer.Option("--phone", metavar="ID", help="Phone number id (PN…); repeat. Default: all."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=DATE_FORMATS, help="Sync what was created since (UTC)."),
    ] = None,
    all_: bool = typer.Option(False, "--all", help="Sync the whole history."),
    calls: bool = typer.Option(False, "--calls", help="Calls only (with --messages: both)."),
    messages: bool = typer.Option(False, "--messages", help="Messages only (with --calls: both)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Sync phone numbers' calls and messages now, through the inbox, with progress."""
    if since is not None and all_:
        raise typer.BadParameter("give --since or --all, not both")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    both = calls == messages
    request = BackfillRequest(tuple(phone or ()), calls or both, messages or both, since, all_)
    settings = state(ctx).settings()
    try:
        results = run(_backfill(settings, request, show=not as_json))
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo(RESUME_HINT, err=True)
        raise typer.Exit(130) from None
    rows = [result.row() for result in results]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        Console().print(_summary_table(rows))
    if any(row["status"] != "done" for row in rows):
        raise typer.Exit(1)
