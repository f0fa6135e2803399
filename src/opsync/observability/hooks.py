"""The seams opsync reports through, free of any metrics library: the request hook of the API
clients, and :class:`MeteredPacer`, a pacer that counts what pacing costs.

:class:`~opsync.openphone.OpenPhoneClient` and :class:`~opsync.notion.NotionAdapter` take an
optional ``on_request`` :data:`RequestHook` and wrap each attempt of each request in
:func:`observed`. The hook learns the operation and how the attempt ended (``None``: an
answer was read; else the exception as raised by the transport or SDK, before the client maps
it to an opsync error), so :mod:`opsync.observability.metrics` can label it with the HTTP status.
This module imports only :mod:`opsync.pacing` (and it only the clock): the clients can depend
on it without an import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from opsync.pacing import Pacer

__all__ = ["MeteredPacer", "RequestHook", "observed"]

log = logging.getLogger(__name__)

RequestHook = Callable[[str, BaseException | None], None]
"""``hook(operation, error)``: called once per attempt of an external request."""


@contextmanager
def observed(hook: RequestHook | None, operation: str) -> Iterator[None]:
    """Report the block as one request attempt to ``hook`` (nothing when ``None``).

    An exception leaving the block is reported, then propagates unchanged; a cancelled
    attempt is not reported (it has no outcome). A failing hook is logged, never raised: the
    metrics must not turn a good request into a failed one."""
    if hook is None:
        yield
        return
    try:
        yield
    except Exception as exc:
        _report(hook, operation, exc)
        raise
    _report(hook, operation, None)


def _report(hook: RequestHook, operation: str, error: BaseException | None) -> None:
    try:
        hook(operation, error)
    except Exception:
        log.exception("request hook failed", extra={"action": "request_hook_failed"})


class _Count(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class MeteredPacer:
    """Wraps ``inner``: the seconds each :meth:`acquire` waited go to ``waited``, each
    :meth:`pause` (a 429) to ``pauses``. Behaves exactly as ``inner`` otherwise."""

    def __init__(self, inner: Pacer, waited: _Count, pauses: _Count) -> None:
        self.inner = inner
        self._waited = waited
        self._pauses = pauses

    async def acquire(self) -> float:
        waited = await self.inner.acquire()
        if waited > 0:
            self._waited.inc(waited)
        return waited

    def pause(self, seconds: float) -> None:
        self._pauses.inc()
        self.inner.pause(seconds)
