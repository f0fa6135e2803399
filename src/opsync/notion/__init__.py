"""The Notion port (:class:`NotionPort`) and its adapter over notion-client."""

from opsync.notion.adapter import NotionAdapter
from opsync.notion.ids import InvalidNotionId, normalize_id
from opsync.notion.port import (
    BlocksIncomplete,
    DataSourceRef,
    DataSourceSchema,
    NotionPort,
    OutcomeUnknown,
    QueryLimitReached,
)

__all__ = [
    "BlocksIncomplete",
    "DataSourceRef",
    "DataSourceSchema",
    "InvalidNotionId",
    "NotionAdapter",
    "NotionPort",
    "OutcomeUnknown",
    "QueryLimitReached",
    "normalize_id",
]
