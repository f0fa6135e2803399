"""Observability: Prometheus metrics (:mod:`opsync.observability.metrics`, ``GET /metrics``),
the seed's analytics for ``opsync stats`` (:mod:`opsync.observability.stats`), and the seams
the rest of opsync reports through.

Only those seams are imported here: the API clients import :mod:`.hooks`, so this package
must stay free of imports that lead back to them (``metrics`` imports the web app).
"""

from opsync.observability.hooks import MeteredPacer, RequestHook, observed

__all__ = ["MeteredPacer", "RequestHook", "observed"]
