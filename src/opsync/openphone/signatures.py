"""Webhook signature math for both OpenPhone (Quo) schemes; pure, with time injected.

* **Standard Webhooks** (new system): headers ``webhook-id``, ``webhook-timestamp`` (Unix
  seconds) and ``webhook-signature`` (space-separated ``v1,<base64>`` entries); key
  ``whsec_<base64>``; signed content ``{id}.{timestamp}.{raw body}``. The HMAC is computed by
  the ``standardwebhooks`` package; the timestamp window and key rotation are ours, so that
  time can be injected and every key is tried.
* **Legacy** ``openphone-signature: hmac;1;<timestamp>;<base64>`` (comma-separated
  candidates); key = the base64 signing secret; signed content ``{timestamp}.{raw body}``;
  the timestamp is milliseconds (13 digits), seconds accepted too.

Verification always runs over the raw body bytes, compares in constant time, and refuses a
delivery whose timestamp is outside the replay window (default 5 minutes either way).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from standardwebhooks.webhooks import Webhook

from opsync.clock import Clock, SystemClock
from opsync.errors import SignatureInvalid

Scheme = Literal["standard", "legacy"]
DEFAULT_TOLERANCE_S = 300.0
STANDARD_PREFIX = "whsec_"


@dataclass(frozen=True)
class SigningKey:
    """One configured key; ``secret`` is kept out of ``repr``."""

    scheme: Scheme
    secret: str = field(repr=False)
    raw: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> SigningKey:
        """``whsec_…`` → Standard Webhooks key; bare base64 → legacy key.

        Raises ValueError (without the key in the message) when it is not valid base64.
        """
        text = text.strip()
        scheme: Scheme = "standard" if text.startswith(STANDARD_PREFIX) else "legacy"
        encoded = text[len(STANDARD_PREFIX) :] if scheme == "standard" else text
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"a {scheme} webhook key is not valid base64") from None
        if not raw:
            raise ValueError(f"a {scheme} webhook key is empty")
        return cls(scheme=scheme, secret=text, raw=raw)


@dataclass(frozen=True)
class VerifiedDelivery:
    """What a successful verification tells: the scheme, the delivery id, the signing time."""

    scheme: Scheme
    delivery_id: str | None
    signed_at: float


def _ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` also accepts "²", which ``int`` and ``float`` refuse."""
    return text.isascii() and text.isdigit()


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a Standard Webhooks delivery."""
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    return str(Webhook(secret).sign(msg_id=msg_id, timestamp=signed_at, data=body.decode()))


def sign_legacy(secret_b64: str, timestamp_ms: int, body: bytes) -> str:
    """The ``openphone-signature`` value (``hmac;1;<ms>;<base64>``) for a legacy delivery."""
    key = base64.b64decode(secret_b64)
    return f"hmac;1;{timestamp_ms};{_b64_hmac(key, str(timestamp_ms).encode() + b'.' + body)}"


def standard_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """All three Standard Webhooks headers of a signed delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(secret, msg_id, timestamp, body),
    }


class WebhookVerifier:
    """Verifies deliveries against every configured key (rotation: any key may match)."""

    def __init__(
        self,
        keys: Iterable[str | SigningKey],
        *,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        clock: Clock | None = None,
    ) -> None:
        parsed = [k if isinstance(k, SigningKey) else SigningKey.parse(k) for k in keys]
        self._standard = [k for k in parsed if k.scheme == "standard"]
        self._legacy = [k for k in parsed if k.scheme == "legacy"]
        self._tolerance = tolerance_s
        self._clock = clock or SystemClock()

    @property
    def has_keys(self) -> bool:
        return bool(self._standard or self._legacy)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> VerifiedDelivery:
        """Check ``body`` and ``headers``; raises :class:`SignatureInvalid` saying why."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if "webhook-signature" in lowered:
            return self._verify_standard(body, lowered)
        if "openphone-signature" in lowered:
            return self._verify_legacy(body, lowered["openphone-signature"])
        raise SignatureInvalid("no webhook-signature or openphone-signature header")

    def _check_window(self, signed_at: float) -> None:
        skew = self._clock.now() - signed_at
        if skew > self._tolerance:
            raise SignatureInvalid("signature timestamp is too old (outside the replay window)")
        if skew < -self._tolerance:
            raise SignatureInvalid("signature timestamp is in the future (beyond the window)")

    def _verify_standard(self, body: bytes, headers: Mapping[str, str]) -> VerifiedDelivery:
        msg_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        if not msg_id or not stamp:
            raise SignatureInvalid("webhook-id or webhook-timestamp header missing")
        if not _ascii_digits(stamp) or (len(stamp) > 1 and stamp.startswith("0")):
            raise SignatureInvalid("webhook-timestamp is not Unix seconds")
        if not self._standard:
            raise SignatureInvalid("no whsec_ key is configured for Standard Webhooks deliveries")
        self._check_window(float(stamp))
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureInvalid("body is not UTF-8") from None
        offered = [
            sig
            for version, _, sig in (e.partition(",") for e in headers["webhook-signature"].split())
            if version == "v1" and sig
        ]
        for key in self._standard:
            expected = sign_standard(key.secret, msg_id, int(stamp), body).partition(",")[2]
            if any(hmac.compare_digest(expected.encode(), s.encode()) for s in offered):
                return VerifiedDelivery("standard", msg_id, float(stamp))
        raise SignatureInvalid("no webhook-signature entry matches a configured key")

    def _verify_legacy(self, body: bytes, header: str) -> VerifiedDelivery:
        if not self._legacy:
            raise SignatureInvalid("no legacy key is configured for openphone-signature")
        candidates = []
        for candidate in header.split(","):
            parts = candidate.strip().split(";")
            if (
                len(parts) == 4
                and parts[0] == "hmac"
                and parts[1] == "1"
                and _ascii_digits(parts[2])
            ):
                candidates.append((parts[2], parts[3]))
        if not candidates:
            raise SignatureInvalid("openphone-signature is not of the form hmac;1;<ts>;<sig>")
        window_error: SignatureInvalid | None = None
        for stamp, sig in candidates:
            # float(): a 400-digit stamp is inf (refused as future), where int / 1000 overflows.
            signed_at = float(stamp) / 1000 if len(stamp) >= 12 else float(stamp)
            try:
                self._check_window(signed_at)
            except SignatureInvalid as exc:
                window_error = exc
                continue
            message = stamp.encode() + b"." + body
            for key in self._legacy:
                expected = _b64_hmac(key.raw, message)
                if hmac.compare_digest(expected.encode(), sig.encode()):
                    return VerifiedDelivery("legacy", None, signed_at)
        if window_error is not None and len(candidates) == 1:
            raise window_error
        raise SignatureInvalid("no openphone-signature entry matches a configured key")
