"""The error tree every adapter maps foreign failures into.

    OpsyncError
    ├── ConfigError              a setting is missing or invalid (the CLI exits 2)
    ├── SignatureInvalid         a webhook failed verification
    ├── TransientError           retrying later can succeed
    │   ├── RateLimited          429 (or Notion 529); carries Retry-After when known
    │   ├── UpstreamUnavailable  5xx, timeouts, connection failures
    │   └── StoreUnavailable     the database cannot be reached or is locked
    └── PermanentError           retrying cannot fix it; the event goes to the dead letters
        ├── InvalidPayload       the data is not what the API or our models accept
        ├── AuthError            the upstream rejected the credentials (401/403)
        ├── NotFound             the upstream resource does not exist (or is not shared)
        └── NotionSchemaMismatch a Notion database lacks a property or has the wrong type

The inbox chooses retry or dead letter by class, never by message text. Adapters keep the
original exception as ``__cause__``. Messages never contain secrets.
"""

from __future__ import annotations


class OpsyncError(Exception):
    """Base of every error opsync raises on purpose."""


class ConfigError(OpsyncError):
    """A required setting is missing or invalid."""

    def __init__(self, variable: str, purpose: str, *, problem: str = "is not set") -> None:
        self.variable = variable
        self.purpose = purpose
        super().__init__(f"{variable} {problem}: {purpose}")


class SignatureInvalid(OpsyncError):
    """A webhook delivery failed signature or timestamp verification."""


class TransientError(OpsyncError):
    """A failure that retrying later can fix."""


class RateLimited(TransientError):
    """The upstream answered 429 (or an overload status); wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UpstreamUnavailable(TransientError):
    """A 5xx, a timeout or a connection failure."""


class StoreUnavailable(TransientError):
    """The database cannot be reached, or is locked past its busy timeout."""


class PermanentError(OpsyncError):
    """A failure that retrying cannot fix."""


class InvalidPayload(PermanentError):
    """Data that the upstream API or our models reject."""


class AuthError(PermanentError):
    """The upstream rejected our credentials (401) or lacks permission (403)."""


class NotFound(PermanentError):
    """The upstream resource does not exist, or is not shared with us."""


class NotionSchemaMismatch(PermanentError):
    """A Notion database lacks a property the mapping needs, or has it with another type."""
