"""The project's Notion port: the few operations the sync needs, and what they return.

Callers depend on :class:`NotionPort`, never on ``notion_client``. Every failure is an
:mod:`opsync.errors` type; the three below add what only Notion writes need:

    TransientError
    ├── UpstreamUnavailable
    │   └── OutcomeUnknown   a non-idempotent write failed after it may have reached Notion
    └── BlocksIncomplete     some batches of a long body were written, the rest were not
    PermanentError
    └── QueryLimitReached    a query hit Notion's 10,000-row cap; window it and merge
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opsync.errors import PermanentError, TransientError, UpstreamUnavailable

__all__ = [
    "BlocksIncomplete",
    "DataSourceRef",
    "DataSourceSchema",
    "JSONObject",
    "NotionPort",
    "OutcomeUnknown",
    "QueryLimitReached",
]

JSONObject = dict[str, Any]
"""A Notion object (page, block, filter, property value) as plain JSON."""


class OutcomeUnknown(UpstreamUnavailable):
    """A create or append failed after it may have been performed (5xx, timeout, broken
    connection). It was not repeated: look the object up before writing it again."""


class BlocksIncomplete(TransientError):
    """Only the first ``written`` blocks of a long body reached ``parent_id``.

    ``parent_id`` exists (for ``create_page`` it is the new page: record it). The cause is the
    failure of the next batch; if that is :class:`OutcomeUnknown`, that batch may also have
    been written, so list the children before appending again.
    """

    def __init__(self, parent_id: str, written: int, cause: Exception) -> None:
        self.parent_id = parent_id
        self.written = written
        super().__init__(
            f"Notion block {parent_id}: only the first {written} blocks were written; "
            f"the next batch failed: {cause}"
        )


class QueryLimitReached(PermanentError):
    """A data-source query returned Notion's maximum (10,000 rows) and skipped the rest.

    Raised after every row received has been yielded. Repeating the same query cannot help:
    split it into windows (for example by ``created_time``) and merge.
    """

    def __init__(self, data_source_id: str, rows: int, reason: str) -> None:
        self.data_source_id = data_source_id
        self.rows = rows
        super().__init__(
            f"Notion query of data source {data_source_id} is incomplete after {rows} rows "
            f"({reason}); narrow the filter into windows"
        )


@dataclass(frozen=True)
class DataSourceRef:
    """One table of a database (``2025-09-03`` model)."""

    id: str
    name: str


@dataclass(frozen=True)
class DataSourceSchema:
    """A data source's columns: ``properties`` maps each property name to its type."""

    id: str
    title_property: str
    properties: Mapping[str, str]


class NotionPort(Protocol):
    """What the sync asks of Notion. Ids may be given dashed or not; results are dashed."""

    async def retrieve_database(self, database_id: str) -> tuple[DataSourceRef, ...]:
        """The data sources of a database. Read; retried."""

    async def data_source_id(self, database_id: str, name: str | None = None) -> str:
        """The id of the database's data source (by ``name`` when it has several); cached.

        Raises ``NotionSchemaMismatch`` when none matches or the choice is ambiguous.
        """

    async def retrieve_data_source(self, data_source_id: str) -> DataSourceSchema:
        """The data source's schema. Read; retried."""

    async def create_page(
        self,
        data_source_id: str,
        properties: Mapping[str, Any],
        children: Sequence[JSONObject] | None = None,
        icon: JSONObject | None = None,
    ) -> str:
        """Create a row and return its id. Not idempotent: never repeated after an unknown
        outcome (raises :class:`OutcomeUnknown`). Bodies past one batch are appended after
        the create; a failure there raises :class:`BlocksIncomplete` naming the new page."""

    async def update_page(
        self, page_id: str, properties: Mapping[str, Any], icon: JSONObject | None = None
    ) -> None:
        """Replace the given properties' values. Idempotent; retried."""

    async def archive_page(self, page_id: str) -> None:
        """Move the page to the trash. Idempotent; retried."""

    async def find_pages_by_title(
        self, data_source_id: str, title_property: str, value: str
    ) -> list[str]:
        """Ids of the rows whose title equals ``value``. Read; retried."""

    def query_data_source(
        self,
        data_source_id: str,
        filter: JSONObject | None = None,
        sorts: Sequence[JSONObject] | None = None,
    ) -> AsyncIterator[JSONObject]:
        """Stream the matching pages, one response page (≤ 100 rows) in memory at a time.

        Raises :class:`QueryLimitReached` after the last row if Notion capped the result.
        """

    async def append_blocks(self, block_id: str, blocks: Sequence[JSONObject]) -> list[str]:
        """Append ``blocks`` in batches; return the new first-level block ids. Not idempotent
        (see :class:`OutcomeUnknown`, :class:`BlocksIncomplete`)."""

    async def list_block_children(self, block_id: str) -> list[JSONObject]:
        """Every direct child block, in order. Read; retried."""

    async def upload_file(self, filename: str, content_type: str, data: bytes) -> str:
        """Upload ``data`` (single part, ≤ 20 MB) and return the upload id to attach within
        the hour. Not retried after an unknown outcome; calling again is harmless (an
        unattached upload expires)."""

    async def max_upload_size(self) -> int | None:
        """The workspace's per-file upload cap in bytes, when Notion states it; cached."""

    async def aclose(self) -> None:
        """Release the HTTP connections the port owns."""
