"""Reconcile a call: known state → rendered page → write only what changed (invariant 4).

The state is the stored snapshot, merged with the event's payload (legacy ``data.object`` or
new ``data.resource``: a Call for ``call.*`` events, a CallSummary or CallTranscript for
summary and transcript events), merged with what is still missing, fetched from OpenPhone:

* the call, only when neither the snapshot nor the event has it;
* recordings, once the call is over and no completed recording is known, when the event is
  ``call.recording.completed`` or ``fetch_missing_artifacts`` is set;
* transcript and summary, once an answered call is over and they are not known completed,
  only with ``fetch_missing_artifacts`` (webhooks announce them with their own events);
* the voicemail of an unanswered incoming call, on ``call.completed`` or with
  ``fetch_missing_artifacts``.

``fetch_missing_artifacts`` is for backfill and cron sources; webhook sources fetch only what
their event announces. The merged snapshot is saved before Notion is written, so a retry
does not fetch again.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from opsync.canvas import CanvasMatch
from opsync.errors import InvalidPayload
from opsync.openphone import WebhookEnvelope, event_ref
from opsync.openphone.models import Call, CallSummary, CallTranscript
from opsync.render import CallState, counterparty, render_call, to_e164
from opsync.sync._call_state import (
    CallSnapshot,
    is_over,
    settle_deadline,
    settled,
    was_answered,
)
from opsync.sync.audio import store_audio
from opsync.sync.context import SyncContext
from opsync.sync.pages import Outcome, upsert_page

log = logging.getLogger(__name__)

RECORDING_EVENT = "call.recording.completed"
COMPLETED_EVENT = "call.completed"
TRANSCRIPT_EVENT = "call.transcript.completed"
SUMMARY_EVENT = "call.summary.completed"


def from_event(event: WebhookEnvelope | None) -> CallSnapshot:
    """What the event's payload tells about the call; an unreadable payload tells nothing
    (the missing pieces are fetched instead)."""
    if event is None:
        return CallSnapshot()
    kind = event_ref(event).kind
    resource = {k: v for k, v in event.resource.items() if k != "object"}
    try:
        if kind == "call":
            return CallSnapshot(call=Call.model_validate(resource))
        if kind == "transcript":
            return CallSnapshot(transcript=CallTranscript.model_validate(resource))
        if kind == "summary":
            return CallSnapshot(summary=CallSummary.model_validate(resource))
    except ValueError as exc:
        log.warning(
            "event payload not usable",
            extra={"action": "payload_unusable", "event_id": event.id, "error": str(exc)[:200]},
        )
    return CallSnapshot()


async def _fetch_missing(
    ctx: SyncContext, call_id: str, known: CallSnapshot, announced: str | None, backfill: bool
) -> CallSnapshot:
    client, timed = ctx.openphone, ctx.metrics.timed
    call = known.call
    pn = call.phone_number_id if call else None
    fetched = CallSnapshot()
    if call is None:
        async with timed("api_call", "get_call"):
            call = fetched.call = await client.get_call(call_id)
        pn = call.phone_number_id
    if not is_over(call):
        return fetched
    answered = was_answered(call)
    if not known.has_recording and (announced == RECORDING_EVENT or (backfill and answered)):
        async with timed("api_call", "get_call_recordings", pn):
            fetched.recordings = await client.get_call_recordings(call_id)
    # An announced artefact whose payload was not usable (from_event) is fetched instead.
    if ((backfill and answered) or announced == TRANSCRIPT_EVENT) and not known.transcript_done:
        async with timed("api_call", "get_call_transcript", pn):
            fetched.transcript = await client.get_call_transcript(call_id)
    if ((backfill and answered) or announced == SUMMARY_EVENT) and not known.summary_done:
        async with timed("api_call", "get_call_summary", pn):
            fetched.summary = await client.get_call_summary(call_id)
    wants_voicemail = backfill or announced == COMPLETED_EVENT
    unanswered_incoming = call.direction == "incoming" and not answered
    if unanswered_incoming and wants_voicemail and not known.voicemail_done:
        async with timed("api_call", "get_call_voicemail", pn):
            fetched.voicemail = await client.get_call_voicemail(call_id)
    return fetched


async def _audio_urls(
    ctx: SyncContext, snap: CallSnapshot, call: Call
) -> tuple[str | None, str | None]:
    """Store the completed recordings and voicemail; their public URLs (first recording)."""
    recording_url = None
    ready = [rec for rec in snap.recordings or [] if rec.status == "completed" and rec.url]
    for index, rec in enumerate(ready):
        assert rec.url is not None
        started = call.created_at if index == 0 else (rec.start_time or call.created_at)
        url = await store_audio(
            ctx,
            kind="recording",
            call_id=call.id,
            source_id=rec.id,
            url=rec.url,
            started_at=started,
            content_type=rec.type,
            stored=snap.audio,
            phone_number_id=call.phone_number_id,
        )
        recording_url = recording_url or url
    voicemail_url = None
    vm = snap.voicemail
    if vm is not None and vm.status == "completed" and vm.recording_url:
        voicemail_url = await store_audio(
            ctx,
            kind="voicemail",
            call_id=call.id,
            source_id=vm.id,
            url=vm.recording_url,
            started_at=call.created_at,
            content_type=None,
            stored=snap.audio,
            phone_number_id=call.phone_number_id,
        )
    return recording_url, voicemail_url


async def canvas_for(
    ctx: SyncContext,
    other: str | None,
    memory: MutableMapping[str, CanvasMatch] | None,
    phone_number_id: str | None,
) -> CanvasMatch | None:
    """The Canvas page of the other party, through the lookup's tiers."""
    if ctx.canvas is None or other is None:
        return None
    return await ctx.canvas.find_by_phone(other, memory=memory, phone_number_id=phone_number_id)


async def reconcile_call(
    ctx: SyncContext,
    call_id: str,
    *,
    event: WebhookEnvelope | None,
    fetch_missing_artifacts: bool = False,
    canvas_memory: MutableMapping[str, CanvasMatch] | None = None,
    settle_seconds: float = 0.0,
) -> Outcome:
    """Bring the call's Notion page up to date with everything known about it; idempotent.

    With ``settle_seconds``, a call that still expects its recording, transcript, summary or
    voicemail is not written yet: the outcome is "deferred" until the call has settled or
    ``settle_seconds`` after it ended, whichever comes first, so a call's whole life costs
    one page write instead of one per event.

    Raises OpenPhone, blob store, Canvas and Notion errors (transient ones are worth
    retrying: what was fetched is kept in the snapshot).
    """
    stored = await ctx.store.snapshot_get("call", call_id)
    known = CallSnapshot() if stored is None else CallSnapshot.from_json(stored.payload)
    known = known.merge(from_event(event))
    announced = event.type if event is not None else None
    fetched = await _fetch_missing(ctx, call_id, known, announced, fetch_missing_artifacts)
    snap = known.merge(fetched)
    call = snap.call
    assert call is not None  # fetched when missing
    pn = call.phone_number_id
    await ctx.store.snapshot_put("call", call_id, snap.to_json(), phone_number_id=pn)
    audio_before = dict(snap.audio)
    recording_url, voicemail_url = await _audio_urls(ctx, snap, call)
    if snap.audio != audio_before:
        await ctx.store.snapshot_put("call", call_id, snap.to_json(), phone_number_id=pn)
    if settle_seconds > 0 and not settled(snap):
        now = ctx.clock.now()
        deadline = snap.write_deadline or settle_deadline(call, settle_seconds, now)
        if is_over(call) and snap.write_deadline is None:
            # Fixed once the call has ended: looking again must not push the write away.
            snap.write_deadline = deadline
            await ctx.store.snapshot_put("call", call_id, snap.to_json(), phone_number_id=pn)
        if now < deadline:
            return Outcome(
                "call", call_id, "deferred", None, pn, direction=call.direction,
                defer_until=deadline,
            )  # fmt: skip

    line = await ctx.directory.phone_number(pn)
    other = counterparty(call, await ctx.directory.own_numbers())
    match = await canvas_for(ctx, other, canvas_memory, pn)
    has_dialogue = snap.transcript is not None and bool(snap.transcript.dialogue)
    state = CallState(
        call=call,
        now=ctx.now(),
        recordings=snap.recordings or (),
        transcript=snap.transcript,
        summary=snap.summary,
        voicemail=snap.voicemail,
        recording_url=recording_url,
        voicemail_url=voicemail_url,
        phone_number=to_e164(line.number) if line else None,
        user_names=await ctx.directory.user_names(),
        contact_names=await ctx.directory.contact_names() if has_dialogue else {},
        canvas_page_id=match.page_id if match else None,
    )
    write = await upsert_page(
        ctx,
        "call",
        call_id,
        render_call(state),
        ctx.calls_data_source_id,
        ctx.calls_title_property,
        phone_number_id=pn,
    )
    return Outcome(
        "call", call_id, write.action, write.page_id, pn, match.page_id if match else None,
        call.direction,
    )  # fmt: skip


def call_id_of(event: WebhookEnvelope) -> str:
    """The call an event is about; raises InvalidPayload when it names none."""
    ref = event_ref(event)
    if ref.call_id is None:
        raise InvalidPayload(f"event {event.id} ({event.type}) names no call")
    return ref.call_id
