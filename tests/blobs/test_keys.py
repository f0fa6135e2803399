from __future__ import annotations

import pytest

from opsync.blobs.keys import (
    InvalidKey,
    content_type_for,
    extension_for,
    recording_key,
    validate_key,
    voicemail_key,
)
from opsync.errors import PermanentError

# 2026-03-09T23:59:59.123Z and 2026-03-10T00:00:00.000Z: the UTC day decides the folder.
LATE = 1_773_100_799_123
MIDNIGHT = 1_773_100_800_000


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("audio/mpeg", "recordings/2026/03/09/AC123-1773100799123.mp3"),
        ("audio/wav", "recordings/2026/03/09/AC123-1773100799123.wav"),
        ("audio/x-wav", "recordings/2026/03/09/AC123-1773100799123.wav"),
        ("audio/ogg", "recordings/2026/03/09/AC123-1773100799123.ogg"),
        ("audio/mp4", "recordings/2026/03/09/AC123-1773100799123.m4a"),
        ("audio/m4a", "recordings/2026/03/09/AC123-1773100799123.m4a"),
        ("Audio/MPEG; charset=binary", "recordings/2026/03/09/AC123-1773100799123.mp3"),
        ("application/octet-stream", "recordings/2026/03/09/AC123-1773100799123.mp3"),
        (None, "recordings/2026/03/09/AC123-1773100799123.mp3"),
    ],
)
def test_recording_key_layout(content_type: str | None, expected: str) -> None:
    assert recording_key("AC123", LATE, content_type) == expected


def test_voicemail_key_layout_and_utc_day() -> None:
    key = voicemail_key("ACvm9", MIDNIGHT, "audio/wav")
    assert key == "voicemails/2026/03/10/ACvm9-1773100800000.wav"
    assert validate_key(key) == key


@pytest.mark.parametrize("call_id", ["", "../x", "AC/1", "AC 1", "AC.1"])
def test_call_id_must_be_plain(call_id: str) -> None:
    with pytest.raises(InvalidKey):
        recording_key(call_id, LATE, "audio/mpeg")


def test_negative_time_rejected() -> None:
    with pytest.raises(InvalidKey):
        recording_key("AC1", -1, "audio/mpeg")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../etc/passwd",
        "recordings/../../secret",
        "recordings/./a.mp3",
        "/etc/passwd",
        "C:/windows/a.mp3",
        "recordings\\..\\a.mp3",
        "recordings//a.mp3",
        "recordings/a.mp3/",
        ".signing-key",
        ".tmp/a.part",
        "recordings/a\x00.mp3",
        "recordings/a.mp3?x=1",
        "recordings/%2e%2e/a.mp3",
        "a" * 1025,
    ],
)
def test_unsafe_keys_rejected(key: str) -> None:
    with pytest.raises(InvalidKey) as caught:
        validate_key(key)
    assert isinstance(caught.value, PermanentError)


def test_extension_and_content_type_round_trip() -> None:
    for media_type in ["audio/mpeg", "audio/wav", "audio/ogg", "audio/mp4"]:
        assert content_type_for("x/y." + extension_for(media_type)) == media_type
    assert content_type_for("x/readme") == "application/octet-stream"
