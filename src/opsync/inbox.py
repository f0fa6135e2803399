"""What to do with an inbox event whose handler failed: pure decisions, tested with tables.

By class, never by message text (decision record 0001):

- :class:`~opsync.errors.TransientError` → :class:`Retry` after exponential backoff with
  jitter; the upstream's ``Retry-After`` (:class:`~opsync.errors.RateLimited`) is a floor
  under that backoff, not a replacement: the HTTP clients already honoured it within the
  attempt, and a throttle that lasts minutes must not burn the attempts in seconds;
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


def inbox_policy(
    max_attempts: int = DEFAULT_MAX_ATTEMPTS, *, time_scale: float = 1.0
) -> RetryPolicy:
    """The inbox's backoff: 10 s, tripling, capped at 30 min, jittered (decision record 0017).

    With the default 8 attempts an event rides out an outage of 40 min at least (80 min at
    most) before it is dead-lettered; see :meth:`RetryPolicy.outage_budget`. HTTP clients
    retry within seconds; the inbox retries over the better part of an hour. ``time_scale``
    shrinks every wait alike, for tests that replay an outage in seconds.
    """
    return RetryPolicy(
        base=10.0 * time_scale,
        cap=1800.0 * time_scale,
        max_attempts=max_attempts,
        multiplier=3.0,
    )


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
    delay = policy.delay(max(attempts - 1, 0), rng)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
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
