"""The seed's key layout for stored audio, and the rule every key must obey.

    recordings/YYYY/MM/DD/{callId}-{epochMs}.{ext}
    voicemails/YYYY/MM/DD/{callId}-{epochMs}.{ext}

The date is the call's UTC date and ``epochMs`` its start time in Unix milliseconds, so a key is
stable: the same call's recording always lands under the same key, and storing it again
replaces the object instead of adding one. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from opsync.errors import InvalidPayload

AudioKind = Literal["recording", "voicemail"]

_FOLDERS: dict[AudioKind, str] = {"recording": "recordings", "voicemail": "voicemails"}

_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
}

_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "m4a": "audio/mp4"}

DEFAULT_EXTENSION = "mp3"
MAX_KEY_LENGTH = 1024
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\?#%]")


class InvalidKey(InvalidPayload):
    """A blob key that could escape the store or is not a plain relative path."""


def extension_for(content_type: str | None) -> str:
    """The file extension for an audio content type (parameters ignored); ``mp3`` if unknown."""
    if not content_type:
        return DEFAULT_EXTENSION
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(media_type, DEFAULT_EXTENSION)


def content_type_for(key: str) -> str:
    """The content type to serve ``key`` with, from its extension."""
    _, dot, ext = key.rpartition(".")
    if dot and ext.lower() in _CONTENT_TYPES:
        return _CONTENT_TYPES[ext.lower()]
    return "application/octet-stream"


def audio_key(kind: AudioKind, call_id: str, started_at_ms: int, content_type: str | None) -> str:
    """The key of a call's recording or voicemail.

    ``started_at_ms`` is the call's creation time in Unix epoch milliseconds. Raises
    :class:`InvalidKey` when ``call_id`` is not a plain identifier or the time is negative.
    """
    if not _SAFE_ID.fullmatch(call_id):
        raise InvalidKey(f"call id {call_id!r} is not a plain identifier")
    if started_at_ms < 0:
        raise InvalidKey(f"negative call time {started_at_ms}")
    day = datetime.fromtimestamp(started_at_ms / 1000, tz=UTC)
    ext = extension_for(content_type)
    return f"{_FOLDERS[kind]}/{day:%Y/%m/%d}/{call_id}-{started_at_ms}.{ext}"


def recording_key(call_id: str, started_at_ms: int, content_type: str | None) -> str:
    """``recordings/YYYY/MM/DD/{callId}-{epochMs}.{ext}``."""
    return audio_key("recording", call_id, started_at_ms, content_type)


def voicemail_key(call_id: str, started_at_ms: int, content_type: str | None) -> str:
    """``voicemails/YYYY/MM/DD/{callId}-{epochMs}.{ext}``."""
    return audio_key("voicemail", call_id, started_at_ms, content_type)


def validate_key(key: str) -> str:
    """``key`` itself when it is a safe relative path; raises :class:`InvalidKey` otherwise.

    Rejected: empty keys, absolute paths, backslashes, control characters, ``?``, ``#`` and
    ``%``, empty segments (``a//b``, a trailing ``/``) and any segment that starts with a dot
    (``..``, ``.``, and hidden names such as the local store's ``.tmp`` folder).
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"blob key must have 1 to {MAX_KEY_LENGTH} characters")
    if key.startswith("/") or _FORBIDDEN.search(key) or re.match(r"[A-Za-z]:", key):
        raise InvalidKey(f"blob key {key!r} is absolute or contains a forbidden character")
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise InvalidKey(f"blob key {key!r} has an empty or dot segment")
    return key
