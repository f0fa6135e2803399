"""Structured logs: JSON lines on stdout, one event per line, secrets scrubbed.

Modules log through the standard library (``logging.getLogger(__name__)``) with a stable
``action`` in ``extra`` — ``log.info("claimed", extra={"action": "event_claimed", ...})`` —
and :func:`configure` renders every record, ours and the libraries', as JSON.
Fields bound with ``structlog.contextvars.bind_contextvars`` (the dispatcher binds the event id
and partition of the event it runs, the actor the resource id) are added to every line logged
in that context.
Two safety nets keep secrets out: values under secret-looking keys are masked, and the values
of the configured secrets are replaced wherever they appear in a line.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

MASK = "***"
_SECRET_KEY = re.compile(r"(secret|token|password|authorization|api_?key|signature)", re.I)
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class SecretScrubber:
    """Masks the values under secret-looking keys, and known secret values in rendered text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask innocent text; real keys and tokens are long.
        values = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        # Each secret as it appears in JSON text too (escaped quotes, backslashes, non-ASCII).
        forms = [form for v in values for form in (v, json.dumps(v)[1:-1])]
        self._forms = list(dict.fromkeys(forms))

    def mask_keys(self, value: Any) -> Any:
        """``value`` with every item under a secret-looking key replaced by ``***``."""
        if isinstance(value, dict):
            return {k: MASK if _is_secret_key(k) else self.mask_keys(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_keys(v) for v in value]
        return value

    def scrub_text(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: ``event`` (the message), ``level``, ``logger``,
    ``timestamp`` (ISO 8601, UTC), the record's ``extra`` fields, then the fields bound with
    ``structlog.contextvars`` (an explicit ``extra`` wins), ``exception`` when there is one;
    secrets scrubbed last.

    Written by hand rather than as a structlog processor chain: a webhook delivery logs one
    line, and the generic chain cost as much as the rest of accepting the event.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._scrubber = SecretScrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": created.isoformat().replace("+00:00", "Z"),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                line.setdefault(key, value)
        for key, value in structlog.contextvars.get_contextvars().items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Secret values are replaced in the rendered text, so that they are caught wherever they
        # hide: in the message, a nested field, an exception, or an object rendered by str().
        text = json.dumps(self._scrubber.mask_keys(line), sort_keys=True, default=str)
        return self._scrubber.scrub_text(text)


def configure(
    level: str = "INFO", *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Route every stdlib log record to ``stream`` (default stdout) as one JSON object a line."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLineFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_opsync", False):
            root.removeHandler(old)
    handler._opsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep it at WARNING so query strings stay out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
