"""What to do with an inbox event whose handler failed: pure decisions, tested with tables.

By class, never by message text (decision record 0001):

- :class:`~opsync.errors.TransientError` → :class:`Retry` after exponential backoff with
  jitter, or after the upstream's ``Retry-After`` (:class:`~opsync.errors.RateLimited`);
- :class:`~opsync.errors.PermanentError`, and any other error opsync raises on purpose
  (:class:`~opsync.errors.OpsyncError`) → :class:`DeadLetter`: retrying cannot fix it;
- anything else is a bug: retried like a transient error, since a deploy may fix it, but
  marked ``unexpected`` so the caller logs it with its traceback;
- whatever the class, the last allowed attempt ends in a :class:`DeadLetter`.

The reason of a dead letter names the error class and its message, so a person can act on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from opsync.errors import OpsyncError, RateLimited, TransientError
from opsync.retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DeadLetter",
    "Decision",
    "Retry",
    "decide",
    "describe",
    "inbox_policy",
]

DEFAULT_MAX_ATTEMPTS = 8
"""Attempts before an event is dead-lettered (``OPSYNC_MAX_ATTEMPTS``)."""
MAX_MESSAGE_CHARS = 2000


def inbox_policy(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> RetryPolicy:
    """The inbox's backoff: 5 s doubling up to 10 min, jittered, so that with the default 8
    attempts an event rides out 5 to 10 minutes of upstream outage before it is dead-lettered
    (HTTP clients retry within seconds; the inbox retries over minutes)."""
    return RetryPolicy(base=5.0, cap=600.0, max_attempts=max_attempts)


@dataclass(frozen=True)
class Retry:
    """Try the event again at ``at_ms`` (epoch milliseconds)."""

    at_ms: int
    error_class: str
    message: str
    unexpected: bool = False
    """The error is not one of opsync's own: a bug, to be logged with its traceback."""


@dataclass(frozen=True)
class DeadLetter:
    """Stop trying; ``reason`` says what failed and why opsync gave up."""

    error_class: str
    reason: str
    unexpected: bool = False


Decision = Retry | DeadLetter


def decide(
    error: BaseException,
    attempts: int,
    policy: RetryPolicy,
    now_ms: int,
    rng: random.Random,
) -> Decision:
    """Retry or dead-letter an event whose attempt number ``attempts`` (1-based, this one
    included) failed with ``error``, at ``now_ms``."""
    error_class, message = describe(error)
    unexpected = not isinstance(error, OpsyncError)
    retryable = unexpected or isinstance(error, TransientError)
    if not retryable:
        return DeadLetter(error_class, f"{error_class}: {message}")
    if attempts >= policy.max_attempts:
        reason = f"gave up after {attempts} attempts; last error {error_class}: {message}"
        return DeadLetter(error_class, reason, unexpected)
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    delay = policy.delay(max(attempts - 1, 0), rng, retry_after)
    return Retry(now_ms + round(delay * 1000), error_class, message, unexpected)


def describe(error: BaseException) -> tuple[str, str]:
    """The error's class name and a one-line message, at most 2,000 characters (the class's
    docstring when the error has no message of its own)."""
    message = " ".join(str(error).split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    if not message:
        doc = (type(error).__doc__ or "").strip()
        message = doc.splitlines()[0] if doc else "(no message)"
    return type(error).__name__, message
