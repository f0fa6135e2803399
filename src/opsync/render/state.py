"""What a rendering is made of: everything known about one call or message, and its other party.

The actor builds these from its snapshot, the webhook payload and what it fetched; rendering
reads nothing else, so the same state always renders the same page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers

from opsync.openphone.models import (
    Call,
    CallRecording,
    CallSummary,
    CallTranscript,
    CallVoicemail,
    Message,
    User,
)


@dataclass(frozen=True)
class CallState:
    """One call with its artifacts, as far as they are known.

    ``recording_url`` and ``voicemail_url`` are our public links to the stored audio (never
    OpenPhone's short-lived ones); ``phone_number`` is the workspace line's E.164 number;
    ``user_names`` maps OpenPhone user ids to display names and ``contact_names`` maps E.164
    numbers to contact names, both used to name transcript speakers. ``now`` is the sync time
    (``Synced At``).
    """

    call: Call
    now: datetime
    recordings: Sequence[CallRecording] = ()
    transcript: CallTranscript | None = None
    summary: CallSummary | None = None
    voicemail: CallVoicemail | None = None
    recording_url: str | None = None
    voicemail_url: str | None = None
    phone_number: str | None = None
    user_names: Mapping[str, str] = field(default_factory=dict)
    contact_names: Mapping[str, str] = field(default_factory=dict)
    canvas_page_id: str | None = None


@dataclass(frozen=True)
class MessageState:
    """One message as far as it is known.

    ``media_urls`` are the links to show (None: the URLs of the payload's ``media[]``);
    ``conversation_id`` comes from the webhook payload when it carried one (else the message's
    own field is used, and with neither the property stays empty); ``phone_number`` is the
    workspace line's E.164 number; ``now`` is the sync time (``Synced At``).
    """

    message: Message
    now: datetime
    media_urls: Sequence[str] | None = None
    conversation_id: str | None = None
    phone_number: str | None = None
    canvas_page_id: str | None = None


def display_name(user: User) -> str:
    """A user's name for pages: first and last name, else the email address."""
    name = " ".join(part for part in (user.first_name, user.last_name) if part and part.strip())
    return name.strip() or user.email


def user_names(users: Sequence[User]) -> dict[str, str]:
    """The ``user_names`` mapping of a :class:`CallState` built from OpenPhone users."""
    return {user.id: display_name(user) for user in users}


# The other party: for an incoming call or message the caller or sender, for an outgoing one
# the recipient, and never one of the workspace's own numbers.

DEFAULT_REGION = "US"
"""Region assumed for a number written without a country code (``321-443-6893``)."""


def to_e164(text: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``text`` as an E.164 number (``+13214436893``), or None when it is not a phone number.

    Any common format is accepted (``(321) 443-6893``, ``321-443-6893``, ``+1 321 443 6893``).
    Only the length is checked, not whether the number is assigned, so test ranges such as
    ``555`` numbers are kept. A number only dialable locally (``443-6893``, no area code) is
    not one: it would become a wrong E.164 number (``+14436893``). The rule is the Canvas
    lookup's (:func:`opsync.canvas.phones.normalize_phone`), so pages and lookups agree.
    """
    if not text or not text.strip():
        return None
    try:
        parsed = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _normalized(numbers: Iterable[str]) -> set[str]:
    return {e164 for e164 in map(to_e164, numbers) if e164 is not None}


def counterparty(item: Call | Message, own_numbers: Iterable[str]) -> str | None:
    """The other party's E.164 number, or None when there is none to link.

    For a call, the first participant that is not one of ``own_numbers``; for an incoming
    message, its sender; for an outgoing one, its first recipient that is not one of
    ``own_numbers``. Numbers are compared in E.164 whatever format ``own_numbers`` use; a
    sender or participant that is not a phone number (a short code, a user id) is skipped.
    """
    own = _normalized(own_numbers)
    if isinstance(item, Call):
        candidates = item.participants
    elif item.direction == "incoming":
        candidates = [item.from_]
    else:
        candidates = item.to
    for candidate in candidates:
        e164 = to_e164(candidate)
        if e164 is not None and e164 not in own:
            return e164
    return None
