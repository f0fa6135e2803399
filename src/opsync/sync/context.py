"""The collaborators a reconcile needs, built once by the caller, and the timing of calls.

:class:`SyncContext` is a plain value: the store, the OpenPhone client, the Notion port, the
blob store, the Canvas lookup, the workspace directory (own numbers, user names), the target
data sources and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from opsync.blobs import BlobStore
from opsync.canvas import CanvasLookup
from opsync.clock import Clock
from opsync.notion import NotionPort
from opsync.openphone import OpenPhoneClient
from opsync.store import Store
from opsync.sync.columns import PageColumns
from opsync.sync.directory import Directory
from opsync.sync.metrics import Metrics

CALLS_TITLE_PROPERTY = "Call ID"
MESSAGES_TITLE_PROPERTY = "Message ID"


@dataclass
class SyncContext:
    """Everything reconciling a call or message talks to. Built by the caller (the service's
    wiring or a test); ``canvas`` None means pages get no Canvas link."""

    store: Store
    openphone: OpenPhoneClient
    notion: NotionPort
    blobs: BlobStore
    canvas: CanvasLookup | None
    directory: Directory
    calls_data_source_id: str
    messages_data_source_id: str
    clock: Clock
    calls_title_property: str = CALLS_TITLE_PROPERTY
    messages_title_property: str = MESSAGES_TITLE_PROPERTY
    #: hold a webhook-driven call's page write until it settles, at most this long after it
    #: ended (0: write on every event)
    call_settle_seconds: float = 0.0
    #: the mapping file's property names, and what each database turned out to lack
    columns: PageColumns = field(default_factory=PageColumns)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.store, self.clock)
        if self.directory.metrics is None:
            self.directory.metrics = self.metrics

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime (``Synced At``)."""
        return datetime.fromtimestamp(self.clock.now(), tz=UTC)
