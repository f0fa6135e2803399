"""The HTTP side of opsync: the webhook ingest, ``/health`` and the admin routes."""

from opsync.web.app import build_app
from opsync.web.ingest import MAX_BODY_BYTES
from opsync.web.routing import HANDLED_EVENT_TYPES

__all__ = ["HANDLED_EVENT_TYPES", "MAX_BODY_BYTES", "build_app"]
