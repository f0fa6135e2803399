"""A call's snapshot: everything known about it, and how new knowledge merges in (pure).

The snapshot is stored as JSON in ``resource_snapshots`` (type ``call``) and holds the call,
its recordings, transcript, summary and voicemail as OpenPhone sent them (wire names), plus
the blob keys of the audio already stored. Merging is order-independent: a call that has
ended wins over one still ringing, a completed artefact over a pending one, so a late or
duplicate event never takes the state backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from opsync.openphone.models import (
    Call,
    CallRecording,
    CallSummary,
    CallTranscript,
    CallVoicemail,
)

M = TypeVar("M", bound=BaseModel)

ONGOING = frozenset({"queued", "initiated", "ringing", "in-progress"})


def is_over(call: Call) -> bool:
    """Whether the call has ended (its artefacts can exist)."""
    return call.completed_at is not None or call.status not in ONGOING


def was_answered(call: Call) -> bool:
    return call.answered_at is not None


def settled(snap: CallSnapshot) -> bool:
    """Whether nothing more is expected for the call: it is over and, if answered, its
    recording, transcript and summary are final; if missed, its voicemail is."""
    call = snap.call
    if call is None or not is_over(call):
        return False
    if was_answered(call):
        final = ("completed", "failed", "absent")
        return (
            snap.has_recording
            and snap.transcript is not None
            and snap.transcript.status in final
            and snap.summary is not None
            and snap.summary.status in final
        )
    if call.direction == "incoming":
        return snap.voicemail_done
    return True


def settle_deadline(call: Call, settle_seconds: float, now: float) -> float:
    """Epoch seconds after which the call's page is written with whatever is known:
    ``settle_seconds`` after the call ended (or began, while it is going on), and never
    further than that from ``now`` (OpenPhone's clock may run ahead of ours)."""
    ended = call.completed_at or call.created_at
    return min(ended.timestamp(), now) + settle_seconds


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _rank(call: Call) -> tuple[bool, float]:
    moment = call.updated_at or call.completed_at or call.answered_at or call.created_at
    return is_over(call), moment.timestamp()


def newer_call(known: Call | None, new: Call | None) -> Call | None:
    """The more advanced of two copies of a call; ``known`` on a tie (no churn)."""
    if known is None or new is None:
        return known or new
    return new if _rank(new) > _rank(known) else known


def _done(status: str | None) -> bool:
    return status == "completed"


def newer_transcript(
    known: CallTranscript | None, new: CallTranscript | None
) -> CallTranscript | None:
    if known is None or new is None:
        return known or new
    return known if _done(known.status) and not _done(new.status) else new


def newer_summary(known: CallSummary | None, new: CallSummary | None) -> CallSummary | None:
    if known is None or new is None:
        return known or new
    return known if _done(known.status) and not _done(new.status) else new


def newer_voicemail(known: CallVoicemail | None, new: CallVoicemail | None) -> CallVoicemail | None:
    if known is None or new is None:
        return known or new
    return known if _done(known.status) and not _done(new.status) else new


def newer_recordings(
    known: list[CallRecording] | None, new: list[CallRecording] | None
) -> list[CallRecording] | None:
    if known is None or new is None:
        return known if new is None else new
    ready = sum(1 for rec in known if _done(rec.status))
    return known if ready > sum(1 for rec in new if _done(rec.status)) else new


def _dump(model: BaseModel | None) -> Any:
    return None if model is None else model.model_dump(mode="json", by_alias=True)


def _load(model: type[M], data: Any) -> M | None:
    return None if data is None else model.model_validate(data)


@dataclass
class CallSnapshot:
    """What is known about one call; ``recordings`` None means never fetched."""

    call: Call | None = None
    recordings: list[CallRecording] | None = None
    transcript: CallTranscript | None = None
    summary: CallSummary | None = None
    voicemail: CallVoicemail | None = None
    audio: dict[str, str] = field(default_factory=dict)
    #: epoch seconds after which the page is written even if the call has not settled
    write_deadline: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "call": _dump(self.call),
            "recordings": None
            if self.recordings is None
            else [_dump(rec) for rec in self.recordings],
            "transcript": _dump(self.transcript),
            "summary": _dump(self.summary),
            "voicemail": _dump(self.voicemail),
            "audio": dict(self.audio),
            "write_deadline": self.write_deadline,
        }

    @classmethod
    def from_json(cls, data: Any) -> CallSnapshot:
        if not isinstance(data, dict):
            return cls()
        recordings = data.get("recordings")
        return cls(
            call=_load(Call, data.get("call")),
            recordings=None
            if recordings is None
            else [CallRecording.model_validate(rec) for rec in recordings],
            transcript=_load(CallTranscript, data.get("transcript")),
            summary=_load(CallSummary, data.get("summary")),
            voicemail=_load(CallVoicemail, data.get("voicemail")),
            audio={str(k): str(v) for k, v in (data.get("audio") or {}).items()},
            write_deadline=data.get("write_deadline"),
        )

    def merge(self, other: CallSnapshot) -> CallSnapshot:
        """This snapshot with what ``other`` knows better."""
        return CallSnapshot(
            call=newer_call(self.call, other.call),
            recordings=newer_recordings(self.recordings, other.recordings),
            transcript=newer_transcript(self.transcript, other.transcript),
            summary=newer_summary(self.summary, other.summary),
            voicemail=newer_voicemail(self.voicemail, other.voicemail),
            audio={**self.audio, **other.audio},
            write_deadline=_earliest(self.write_deadline, other.write_deadline),
        )

    @property
    def has_recording(self) -> bool:
        return any(_done(rec.status) and rec.url for rec in self.recordings or [])

    @property
    def transcript_done(self) -> bool:
        return self.transcript is not None and _done(self.transcript.status)

    @property
    def summary_done(self) -> bool:
        return self.summary is not None and _done(self.summary.status)

    @property
    def voicemail_done(self) -> bool:
        return self.voicemail is not None and _done(self.voicemail.status)
