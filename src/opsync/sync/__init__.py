"""Reconciling calls and messages into Notion, and the per-phone-number actors that do it."""

from opsync.sync.actor import ActorRegistry, HandleResult, PhoneNumberSync
from opsync.sync.calls import reconcile_call
from opsync.sync.context import SyncContext
from opsync.sync.directory import Directory
from opsync.sync.handler import make_handler
from opsync.sync.messages import reconcile_message
from opsync.sync.metrics import Metrics
from opsync.sync.pages import Outcome, PageWrite, upsert_page

__all__ = [
    "ActorRegistry",
    "Directory",
    "HandleResult",
    "Metrics",
    "Outcome",
    "PageWrite",
    "PhoneNumberSync",
    "SyncContext",
    "make_handler",
    "reconcile_call",
    "reconcile_message",
    "upsert_page",
]
