"""The simulated workspace: its data, and the mutations tests and scenarios use.

A call lives through stages, each applied by :meth:`Workspace.advance_call` (and each named
after the v1 webhook event it causes, ``None`` where v1 has no event)::

    ringing ─▶ completed ─▶ recording ─▶ transcript ─▶ summary        (answered calls)
    ringing ─▶ completed ─▶ voicemail                                 (missed, voicemail left)
    ringing ─▶ completed                                              (missed, busy, ...)

Between ``completed`` and the artefact stages the REST API shows the artefacts as pending:
recordings ``processing`` (no URL), transcript and summary ``in-progress``, voicemail
``in-progress`` with null fields. :func:`natural_offsets` gives the real-world spacing of the
stages (seconds after the call was created), used by the webhook emitter's schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from opsync.sandbox.openphone import content
from opsync.sandbox.openphone.models import (
    Call,
    Conversation,
    Direction,
    Media,
    Message,
    Recording,
    Summary,
    Transcript,
    Voicemail,
    iso,
)

#: stage → v1 webhook event it causes
STAGE_EVENTS: dict[str, str | None] = {
    "ringing": "call.ringing",
    "completed": "call.completed",
    "recording": "call.recording.completed",
    "transcript": "call.transcript.completed",
    "summary": "call.summary.completed",
    "voicemail": None,
}
OUTCOMES = {
    "answered": "completed",
    "voicemail": "missed",
    "missed": "missed",
    "no-answer": "no-answer",
    "busy": "busy",
    "canceled": "canceled",
    "forwarded": "forwarded",
    "abandoned": "abandoned",
}
#: seconds of ringing before an unanswered call ends, and before an answered one is picked up
RING_SECONDS = 12
ANSWER_SECONDS = 6
#: seconds after ``completed`` at which the artefact stages happen
ARTEFACT_DELAYS = {"recording": 20.0, "voicemail": 45.0, "transcript": 150.0, "summary": 330.0}


def natural_offsets(call: Call) -> list[tuple[float, str]]:
    """(seconds after ``call.created_at``, stage) for every stage still to happen."""
    ring = ANSWER_SECONDS if call.outcome == "answered" else RING_SECONDS
    completed = ring + call.talk_seconds
    out: list[tuple[float, str]] = []
    for stage in call.stages:
        offset = completed if stage == "completed" else completed + ARTEFACT_DELAYS[stage]
        out.append((float(offset), stage))
    return out


@dataclass
class Workspace:
    """All state of one simulated workspace. Mutate it only through the methods below."""

    seed: int
    org_id: str
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, Call] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: calls whose transcript has a third speaker (someone joined the call)
    conference_calls: set[str] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    # ---- look-ups -------------------------------------------------------------------------

    @property
    def owner_id(self) -> str:
        return str(next(u["id"] for u in self.users if u["role"] == "owner"))

    def phone_number(self, phone_number_id: str) -> dict[str, Any]:
        for number in self.phone_numbers:
            if number["id"] == phone_number_id:
                return number
        raise KeyError(phone_number_id)

    def number_owner(self, phone_number_id: str) -> str:
        return str(self.phone_number(phone_number_id)["users"][0]["id"])

    def find_phone_number(self, ref: str) -> dict[str, Any] | None:
        """By ``PN…`` id or E.164 number."""
        return next((n for n in self.phone_numbers if ref in (n["id"], n["number"])), None)

    def contact_fields(self, number: str) -> dict[str, Any] | None:
        """``defaultFields`` of the contact having ``number``, if any."""
        for contact in self.contacts:
            fields: dict[str, Any] = contact["defaultFields"]
            if any(p["value"] == number for p in fields["phoneNumbers"]):
                return fields
        return None

    def new_id(self, prefix: str, length: int = 32) -> str:
        return prefix + content.hex_token(self.rng, length)

    def conversation_for(
        self, phone_number_id: str, participants: list[str], at: float
    ) -> Conversation:
        wanted = sorted(participants)
        for conv in self.conversations.values():
            if conv.phone_number_id == phone_number_id and sorted(conv.participants) == wanted:
                return conv
        conv = Conversation(
            id=self.new_id("CN", 24),
            phone_number_id=phone_number_id,
            participants=wanted,
            created_at=at,
            updated_at=at,
            assigned_to=self.number_owner(phone_number_id),
        )
        self.conversations[conv.id] = conv
        return conv

    # ---- calls ----------------------------------------------------------------------------

    def add_call(
        self,
        phone_number_id: str,
        participant: str,
        *,
        at: float,
        direction: Direction = "incoming",
        outcome: str = "answered",
        talk_seconds: int = 180,
        user_id: str | None = None,
        ai_handled: bool = False,
        third_speaker: bool = False,
    ) -> Call:
        """Create a ringing call; its planned ``outcome`` is applied by :meth:`advance_call`."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {sorted(OUTCOMES)}")
        if outcome in {"voicemail", "missed", "forwarded"} and direction == "outgoing":
            raise ValueError(f"an outgoing call cannot end as {outcome!r}")
        self.phone_number(phone_number_id)
        at = round(at, 3)  # the API's timestamps have millisecond precision
        user = user_id or self.number_owner(phone_number_id)
        conv = self.conversation_for(phone_number_id, [participant], at)
        call = Call(
            id=self.new_id("AC"),
            phone_number_id=phone_number_id,
            user_id=user,
            direction=direction,
            status="ringing",
            participant=participant,
            created_at=at,
            conversation_id=conv.id,
            initiated_by=user if direction == "outgoing" else None,
            call_route="phone-number" if direction == "incoming" else None,
            ai_handled="ai-agent" if ai_handled else None,
            talk_seconds=talk_seconds if outcome == "answered" else 0,
            outcome=outcome,
        )
        if outcome == "answered":
            call.stages = ["completed", "recording", "transcript", "summary"]
        elif outcome == "voicemail":
            call.stages = ["completed", "voicemail"]
        else:
            call.stages = ["completed"]
        if third_speaker:
            self.conference_calls.add(call.id)
        self.calls[call.id] = call
        conv.touch(call.id, at)
        return call

    def advance_call(self, call_id: str, at: float | None = None) -> str | None:
        """Apply the call's next stage (at ``at``, default its natural time); return the stage.

        Returns ``None`` when the call has no stage left.
        """
        call = self.calls[call_id]
        if not call.stages:
            return None
        offset, stage = natural_offsets(call)[0]
        when = round(call.created_at + offset if at is None else at, 3)
        call.stages.pop(0)
        apply = {
            "completed": self._stage_completed,
            "recording": self._stage_recording,
            "transcript": self._stage_transcript,
            "summary": self._stage_summary,
            "voicemail": self._stage_voicemail,
        }[stage]
        apply(call, when)
        call.updated_at = when
        return stage

    def finish_call(self, call_id: str) -> list[str]:
        """Run every remaining stage at its natural time; return the stages applied."""
        done: list[str] = []
        while (stage := self.advance_call(call_id)) is not None:
            done.append(stage)
        return done

    def _stage_completed(self, call: Call, at: float) -> None:
        call.status = OUTCOMES[call.outcome]
        call.completed_at = at
        if call.outcome == "answered":
            call.answered_at = at - call.talk_seconds
            call.answered_by = call.user_id if call.direction == "incoming" else None
            call.duration = call.talk_seconds
            segments = 2 if call.talk_seconds > 600 else 1
            start = call.answered_at
            for index in range(segments):
                length = call.talk_seconds // segments
                call.recordings.append(
                    Recording(self.new_id("CR", 10), start + index * length, None, "processing")
                )
            call.transcript = Transcript("in-progress", at, float(call.duration), None)
            call.summary = Summary("in-progress", None, None)
        elif call.outcome == "voicemail":
            call.voicemail = Voicemail(self.new_id("VM"), "in-progress", None, None)
        elif call.outcome == "forwarded":
            others = [u["id"] for u in self.users if u["id"] != call.user_id]
            call.forwarded_to = self.rng.choice(others) if others else call.participant
        if call.direction == "outgoing" and call.outcome != "answered":
            call.duration = int(at - call.created_at)

    def _stage_recording(self, call: Call, at: float) -> None:
        segments = call.recordings
        for index, rec in enumerate(segments):
            rec.status = "completed"
            rec.duration = call.talk_seconds // len(segments) + (index == 0) * (
                call.talk_seconds % len(segments)
            )

    def _stage_transcript(self, call: Call, at: float) -> None:
        own = self.phone_number(call.phone_number_id)["number"]
        speakers: list[tuple[str | None, str | None]] = [
            (own, call.user_id),
            (call.participant, None),
        ]
        if call.id in self.conference_calls:
            speakers.append(("+1555" + content.token(self.rng, 7, "0123456789"), None))
        lines = content.dialogue(self.rng, call.talk_seconds, speakers)
        call.transcript = Transcript("completed", at, float(call.duration), lines)

    def _stage_summary(self, call: Call, at: float) -> None:
        points, steps = content.summary_points(self.rng)
        jobs = content.summary_jobs(self.rng) if self.rng.random() < 0.3 else None
        call.summary = Summary("completed", points, steps, jobs)

    def _stage_voicemail(self, call: Call, at: float) -> None:
        assert call.voicemail is not None
        fields = self.contact_fields(call.participant)
        name = (fields or {}).get("firstName") or self.rng.choice(content.FIRST_NAMES)
        company = (fields or {}).get("company") or self.rng.choice(content.COMPANIES)
        text = self.rng.choice(content.VOICEMAILS).format(name=name, company=company)
        call.voicemail.status = "completed"
        call.voicemail.duration = self.rng.randint(8, 45)
        call.voicemail.transcript = text

    # ---- messages -------------------------------------------------------------------------

    def add_message(
        self,
        phone_number_id: str,
        participants: list[str],
        text: str,
        *,
        at: float,
        direction: Direction = "incoming",
        media: list[str] | None = None,
        user_id: str | None = None,
    ) -> Message:
        """Record a message. ``media`` = MIME types of attachments (webhook payloads only).

        Incoming messages are ``delivered`` at once (``message.received``); outgoing ones are
        ``sent`` until :meth:`deliver_message` (``message.delivered``).
        """
        own = self.phone_number(phone_number_id)["number"]
        at = round(at, 3)
        conv = self.conversation_for(phone_number_id, participants, at)
        message_id = self.new_id("AC")
        attachments = [
            Media(f"{message_id}-{i}.{mime.rsplit('/', 1)[-1]}", mime)
            for i, mime in enumerate(media or [])
        ]
        incoming = direction == "incoming"
        message = Message(
            id=message_id,
            phone_number_id=phone_number_id,
            user_id=user_id or self.number_owner(phone_number_id),
            direction=direction,
            sender=participants[0] if incoming else own,
            recipients=[own] if incoming else list(participants),
            text=text,
            status="delivered" if incoming else "sent",
            created_at=at,
            updated_at=at,
            conversation_id=conv.id,
            media=attachments,
        )
        self.messages[message.id] = message
        conv.touch(message.id, at)
        return message

    def deliver_message(self, message_id: str, at: float) -> Message:
        message = self.messages[message_id]
        message.status = "delivered"
        message.updated_at = round(at, 3)
        return message

    # ---- inspection -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain JSON-able data (for determinism checks and debugging)."""
        base = "http://sim"
        return {
            "orgId": self.org_id,
            "phoneNumbers": self.phone_numbers,
            "users": self.users,
            "contacts": self.contacts,
            "conversations": [c.to_json() for c in self.conversations.values()],
            "calls": [
                {
                    "call": c.to_json(),
                    "recordings": [r.to_json(base) for r in c.recordings],
                    "transcript": c.transcript.to_json(c.id) if c.transcript else None,
                    "summary": c.summary.to_json(c.id) if c.summary else None,
                    "voicemail": c.voicemail.to_json(base) if c.voicemail else None,
                }
                for c in self.calls.values()
            ],
            "messages": [
                {**m.to_json(), "media": [x.to_json(base) for x in m.media]}
                for m in self.messages.values()
            ],
            "webhooks": list(self.webhooks.values()),
            "createdAt": iso(min((c.created_at for c in self.calls.values()), default=None)),
        }
