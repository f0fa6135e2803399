"""Signed links to media that opsync serves itself at ``/media/{key}?sig=…``.

The signature is ``HMAC-SHA256(secret, "opsync-media-v1\\n" + key + "\\n" + exp)``, base64url
without padding (256 bits: unguessable). ``exp`` (Unix seconds) is optional and empty by default
because Notion embeds the URL in the page for good; a link with ``exp`` stops working after it.
Verification is constant-time. Rotating the secret invalidates every link already written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlencode

from opsync.clock import Clock, SystemClock

MIN_SECRET_BYTES = 16
_CONTEXT = b"opsync-media-v1\n"


class MediaSigner:
    """Signs and verifies media links with one secret key.

    ``secret`` is raw bytes, or text (its UTF-8 bytes); at least 16 bytes.
    """

    def __init__(self, secret: bytes | str, *, clock: Clock | None = None) -> None:
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"a media signing key needs at least {MIN_SECRET_BYTES} bytes")
        self._key = key
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return "MediaSigner(secret=**********)"

    def signature(self, key: str, expires_at: int | None = None) -> str:
        """The ``sig`` value for ``key`` (and ``exp`` when given)."""
        message = _CONTEXT + key.encode() + b"\n" + _exp_text(expires_at).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def query(self, key: str, expires_at: int | None = None) -> str:
        """The query string of a signed link: ``sig=…`` or ``exp=…&sig=…``."""
        params: dict[str, str] = {}
        if expires_at is not None:
            params["exp"] = _exp_text(expires_at)
        params["sig"] = self.signature(key, expires_at)
        return urlencode(params)

    def url(self, base_url: str, key: str, expires_at: int | None = None) -> str:
        """``{base_url}/media/{key}?…`` — a link anyone holding it can open."""
        path = quote(key, safe="/")
        return f"{base_url.rstrip('/')}/media/{path}?{self.query(key, expires_at)}"

    def verify(self, key: str, sig: str | None, exp: str | None = None) -> bool:
        """Whether ``sig`` (and ``exp``) from a request are valid for ``key`` now."""
        if not sig:
            return False
        expires_at: int | None = None
        if exp:
            if not exp.isdigit() or len(exp) > 12:
                return False
            expires_at = int(exp)
        expected = self.signature(key, expires_at)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return False
        return expires_at is None or self._clock.now() < expires_at


def _exp_text(expires_at: int | None) -> str:
    if expires_at is None:
        return ""
    if expires_at < 0:
        raise ValueError("expiry must be a Unix time in seconds")
    return str(int(expires_at))


def load_or_create_key(path: Path) -> bytes:
    """The signing key stored at ``path``, created (32 random bytes, mode 0600) if missing.

    The key is written whole to a temporary file and then linked into place, so processes
    starting together agree on one complete key.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when the key exists: the first process to get there wins, complete.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_text().strip().encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"media signing key file {path} is empty or too short")
    return key
