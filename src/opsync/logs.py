"""Structured logs: JSON lines on stdout, one event per line, secrets scrubbed.

Modules log through the standard library (``logging.getLogger(__name__)``) with a stable
``action`` in ``extra`` — ``log.info("claimed", extra={"action": "event_claimed", ...})`` —
and :func:`configure` renders every record, ours and the libraries', through structlog as JSON.
Fields bound with ``structlog.contextvars.bind_contextvars`` (the dispatcher binds the event id
and partition of the event it runs, the actor the resource id) are added to every line logged
in that context.
Two safety nets keep secrets out: values under secret-looking keys are masked, and the values
of the configured secrets are replaced wherever they appear in a line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor

MASK = "***"
_SECRET_KEY = re.compile(r"(secret|token|password|authorization|api_?key|signature)", re.I)
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class SecretScrubber:
    """A structlog processor that masks secret-looking keys and known secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask innocent text; real keys and tokens are long.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: MASK if _is_secret_key(k) else self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value

    def __call__(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        for key, value in list(event_dict.items()):
            event_dict[key] = MASK if _is_secret_key(key) else self._scrub(value)
        return event_dict


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def _extra_from_record(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Lift a stdlib record's ``extra`` fields into the event."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                event_dict.setdefault(key, value)
    return event_dict


def configure(
    level: str = "INFO", *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Route every stdlib log record to ``stream`` (default stdout) as one JSON object a line."""
    pre_chain: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            _extra_from_record,
            # Context bound with structlog.contextvars (event_id, partition, resource_id);
            # after the record's own fields, so that an explicit ``extra`` wins.
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            SecretScrubber(secrets),
            structlog.processors.JSONRenderer(sort_keys=True, default=str),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_opsync", False):
            root.removeHandler(old)
    handler._opsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep it at WARNING so query strings stay out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
