"""A call's page in the seed's Calls database: properties and body (pure).

Long text is never lost: the page body carries the whole summary, next steps, transcript and
voicemail transcript, while the properties carry as much as their budget allows and end with
:data:`~opsync.render.text.TRUNCATED_SEE_BODY` when cut. The budgets (UTF-16 units) keep all
properties of one page together under Notion's 500 KB request limit even in three-byte
scripts, which the 100-segment array limit alone would not.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsync.openphone.models import DialogueEntry
from opsync.render import values
from opsync.render.hashing import Rendered, canonical_json
from opsync.render.state import CallState
from opsync.render.text import (
    JSON,
    TRUNCATED,
    TRUNCATED_SEE_BODY,
    cut_to_units,
    heading,
    packed_blocks,
    segment,
    split_text,
    text_blocks,
)

TRANSCRIPT_UNITS = 50_000
SUMMARY_UNITS = 20_000
NEXT_STEPS_UNITS = 10_000
VOICEMAIL_UNITS = 20_000
RAW_DATA_UNITS = 20_000
SPEAKER_UNITS = 200

SUMMARY_HEADING = "Summary"
NEXT_STEPS_HEADING = "Next steps"
TRANSCRIPT_HEADING = "Transcript"
VOICEMAIL_HEADING = "Voicemail"


@dataclass(frozen=True)
class TranscriptLine:
    """One transcript turn: ``[mm:ss] Speaker`` and what was said."""

    label: str
    content: str

    @property
    def text(self) -> str:
        return f"{self.label}: {self.content}"


def timestamp(seconds: float) -> str:
    """``mm:ss`` from the start of the call (``h:mm:ss`` from one hour on)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def speaker(entry: DialogueEntry, state: CallState) -> str:
    """The speaker's name: the OpenPhone user's, else the contact's, else the number or id."""
    if entry.user_id is not None and entry.user_id in state.user_names:
        name = state.user_names[entry.user_id]
    elif entry.identifier is not None and entry.identifier in state.contact_names:
        name = state.contact_names[entry.identifier]
    else:
        name = entry.identifier or entry.user_id or "Unknown speaker"
    return cut_to_units(" ".join(name.split()), SPEAKER_UNITS) or "Unknown speaker"


def transcript_lines(state: CallState) -> list[TranscriptLine]:
    """The transcript's turns in order; empty without a transcript."""
    dialogue = state.transcript.dialogue if state.transcript is not None else None
    return [
        TranscriptLine(f"[{timestamp(entry.start)}] {speaker(entry, state)}", entry.content)
        for entry in dialogue or []
    ]


def _summary_lines(state: CallState) -> list[str]:
    return list(state.summary.summary or []) if state.summary is not None else []


def _next_steps(state: CallState) -> list[str]:
    return list(state.summary.next_steps or []) if state.summary is not None else []


def _voicemail_text(state: CallState) -> str:
    return (state.voicemail.transcript or "") if state.voicemail is not None else ""


def _recording_duration(state: CallState) -> int | None:
    durations = [rec.duration for rec in state.recordings if rec.duration is not None]
    return sum(durations) if durations else None


def _last_updated(state: CallState) -> JSON:
    call = state.call
    known = [call.created_at, call.updated_at, call.answered_at, call.completed_at]
    if state.transcript is not None:
        known.append(state.transcript.created_at)
    return values.date(max(moment for moment in known if moment is not None))


def _long(text: str, max_units: int) -> JSON:
    return values.text(text, max_units=max_units, marker=TRUNCATED_SEE_BODY)


def call_properties(state: CallState) -> JSON:
    """Every property of the seed's Calls database, plus ``Canvas``, for ``state``.

    ``Synced At`` is ``state.now``; ``Last Updated`` is the latest change known from OpenPhone
    (the call's timestamps and the transcript's), so only ``Synced At`` varies between renders
    of the same state.
    """
    call = state.call
    lines = transcript_lines(state)
    summary = _summary_lines(state)
    steps = _next_steps(state)
    voicemail = _voicemail_text(state)
    transcript_status = state.transcript.status if state.transcript is not None else "absent"
    user = state.user_names.get(call.user_id, call.user_id)
    raw = values.text(_raw_json(state), max_units=RAW_DATA_UNITS, marker=TRUNCATED)
    return {
        "Call ID": values.title(call.id),
        "Direction": values.select(call.direction),
        "Status": values.select(call.status),
        "Duration": values.number(call.duration),
        "Participants": values.text(", ".join(call.participants)),
        "OpenPhone User": values.short_text(user),
        "Phone Number Used": values.short_text(state.phone_number),
        "Phone Number ID": values.short_text(call.phone_number_id),
        "Created At": values.date(call.created_at),
        "Answered At": values.date(call.answered_at),
        "Completed At": values.date(call.completed_at),
        "Has Recording": values.checkbox(
            state.recording_url is not None or any(rec.url for rec in state.recordings)
        ),
        "Recording URL": values.url(state.recording_url),
        "Recording Duration": values.number(_recording_duration(state)),
        "Has Transcript": values.checkbox(bool(lines)),
        "Transcript": _long("\n".join(line.text for line in lines), TRANSCRIPT_UNITS),
        "Transcript Status": values.select(transcript_status),
        "Has Summary": values.checkbox(bool(summary)),
        "Summary": _long("\n".join(summary), SUMMARY_UNITS),
        "Next Steps": _long("\n".join(steps), NEXT_STEPS_UNITS),
        "Has Voicemail": values.checkbox(state.voicemail is not None),
        "Voicemail URL": values.url(state.voicemail_url),
        "Voicemail Transcript": _long(voicemail, VOICEMAIL_UNITS),
        "Call Route": values.short_text(call.call_route),
        "Forwarded From": values.short_text(call.forwarded_from),
        "Forwarded To": values.short_text(call.forwarded_to),
        "Raw Data": raw,
        "Synced At": values.date(state.now),
        "Last Updated": _last_updated(state),
        "Canvas": values.relation([state.canvas_page_id]),
    }


def _raw_json(state: CallState) -> str:
    return canonical_json(state.call.model_dump(mode="json", by_alias=True))


def call_body_blocks(state: CallState) -> list[JSON]:
    """The page body: summary, next steps, transcript and voicemail sections that have text.

    Nothing is cut: a long transcript turn continues in further paragraphs.
    """
    out: list[JSON] = []
    summary = [line for line in _summary_lines(state) if line]
    if summary:
        out.append(heading(SUMMARY_HEADING))
        for line in summary:
            out.extend(text_blocks("bulleted_list_item", line))
    steps = [line for line in _next_steps(state) if line]
    if steps:
        out.append(heading(NEXT_STEPS_HEADING))
        for line in steps:
            out.extend(text_blocks("bulleted_list_item", line))
    lines = transcript_lines(state)
    if lines:
        out.append(heading(TRANSCRIPT_HEADING))
        turns = [
            [segment(f"{turn.label}: ", bold=True), *map(segment, split_text(turn.content))]
            for turn in lines
        ]
        out.extend(packed_blocks("paragraph", turns))
    voicemail = _voicemail_text(state)
    if voicemail:
        out.append(heading(VOICEMAIL_HEADING))
        out.extend(text_blocks("paragraph", voicemail))
    return out


def render_call(state: CallState) -> Rendered:
    """The call's properties and body together, with their hashes."""
    return Rendered(call_properties(state), call_body_blocks(state))
