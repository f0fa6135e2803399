from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from opsync.blobs.signing import MediaSigner, load_or_create_key
from opsync.clock import FakeClock

KEY = "recordings/2026/03/09/AC123-1773100799123.mp3"


def _params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def test_round_trip_without_expiry() -> None:
    signer = MediaSigner(b"k" * 32)
    url = signer.url("https://opsync.example.com/", KEY)
    assert url.startswith(f"https://opsync.example.com/media/{KEY}?sig=")
    params = _params(url)
    assert "exp" not in params
    assert len(params["sig"]) == 43  # 256 bits, base64url without padding
    assert signer.verify(KEY, params["sig"])
    assert signer.verify(KEY, params["sig"], "")


def test_tampering_is_rejected() -> None:
    signer = MediaSigner(b"k" * 32)
    sig = signer.signature(KEY)
    other_key = KEY.replace("AC123", "AC124")
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert not signer.verify(other_key, sig)
    assert not signer.verify(KEY, flipped)
    assert not signer.verify(KEY, None)
    assert not signer.verify(KEY, "")
    assert not signer.verify(KEY, sig, "4102444800")  # adding an expiry changes the message
    assert not MediaSigner(b"j" * 32).verify(KEY, sig)


def test_expiry_uses_the_clock() -> None:
    clock = FakeClock(start=1_000.0)
    signer = MediaSigner("s" * 20, clock=clock)
    params = _params(signer.url("http://h", KEY, expires_at=1_060))
    assert params["exp"] == "1060"
    assert signer.verify(KEY, params["sig"], params["exp"])
    assert not signer.verify(KEY, params["sig"], "1061")
    assert not signer.verify(KEY, params["sig"], None)
    assert not signer.verify(KEY, params["sig"], "-5")
    clock.advance(60)
    assert not signer.verify(KEY, params["sig"], params["exp"])


def test_short_secret_refused_and_repr_masked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        MediaSigner(b"short")
    assert "k" * 32 not in repr(MediaSigner(b"k" * 32))


def test_key_file_created_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "media" / ".signing-key"
    first = load_or_create_key(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_short_key_file_refused(tmp_path: Path) -> None:
    path = tmp_path / ".signing-key"
    path.write_text("tiny")
    with pytest.raises(ValueError, match="too short"):
        load_or_create_key(path)
