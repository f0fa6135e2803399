"""How the adapter talks to ``notion_client``: one call site, checked keyword arguments.

notion-client 3.1.0 silently drops keyword arguments it does not forward (``children=`` on
``pages.update`` never reaches Notion). :func:`sdk_call` refuses any key outside
:data:`FORWARDED`, and a test proves every key in :data:`FORWARDED` reaches the wire.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from notion_client import AsyncClient

from opsync.notion.port import JSONObject

MAX_BLOCKS_PER_ARRAY: Final = 100
MAX_BLOCKS_PER_REQUEST: Final = 1000
MAX_PAGE_SIZE: Final = 100
MAX_SINGLE_PART_BYTES: Final = 20 * 1024 * 1024

# SDK method → the keyword arguments it forwards that the adapter uses (a subset of §8.3).
FORWARDED: Final[Mapping[str, frozenset[str]]] = {
    "databases.retrieve": frozenset(),
    "databases.create": frozenset({"parent", "title", "icon", "is_inline", "initial_data_source"}),
    "data_sources.update": frozenset({"properties"}),
    "data_sources.retrieve": frozenset(),
    "data_sources.query": frozenset({"filter", "sorts", "start_cursor", "page_size"}),
    "pages.create": frozenset({"parent", "properties", "icon", "children"}),
    "pages.update": frozenset({"properties", "icon", "in_trash"}),
    "pages.retrieve": frozenset(),
    "blocks.children.append": frozenset({"children"}),
    "blocks.children.list": frozenset({"start_cursor", "page_size"}),
    "file_uploads.create": frozenset({"mode", "filename", "content_type"}),
    "file_uploads.send": frozenset({"file"}),
    "users.me": frozenset(),
}

# Calls that must not be repeated after a failure with an unknown outcome.
NOT_IDEMPOTENT: Final = frozenset(
    {
        "pages.create",
        "databases.create",
        "blocks.children.append",
        "file_uploads.create",
        "file_uploads.send",
    }
)


async def sdk_call(client: AsyncClient, method: str, *ids: str, **kwargs: Any) -> Any:
    """Call ``client.<method>(*ids, **kwargs)`` after checking every key is forwarded."""
    allowed = FORWARDED.get(method)
    if allowed is None:
        raise ValueError(f"{method} is not an SDK method the Notion adapter uses")
    dropped = sorted(kwargs.keys() - allowed)
    if dropped:
        raise ValueError(f"{method} would silently drop {dropped}; allowed: {sorted(allowed)}")
    target: Any = client
    for name in method.split("."):
        target = getattr(target, name)
    return await target(*ids, **kwargs)


def block_count(block: Mapping[str, Any]) -> int:
    """The block plus its nested children (what Notion counts toward 1000 per request)."""
    kind = block.get("type")
    inner = block.get(kind) if isinstance(kind, str) else None
    children: Any = inner.get("children") if isinstance(inner, Mapping) else None
    if children is None:
        children = block.get("children")
    if not isinstance(children, Sequence):
        return 1
    return 1 + sum(block_count(child) for child in children if isinstance(child, Mapping))


def batches(
    blocks: Sequence[JSONObject],
    max_blocks: int = MAX_BLOCKS_PER_ARRAY,
    max_elements: int = MAX_BLOCKS_PER_REQUEST,
) -> Iterator[list[JSONObject]]:
    """Split ``blocks`` in order into requests of ≤ 100 top-level and ≤ 1000 total blocks.

    A single block over ``max_elements`` goes alone; Notion's validation error then names it.
    """
    batch: list[JSONObject] = []
    elements = 0
    for block in blocks:
        size = block_count(block)
        if batch and (len(batch) >= max_blocks or elements + size > max_elements):
            yield batch
            batch, elements = [], 0
        batch.append(block)
        elements += size
    if batch:
        yield batch


def title_equals(title_property: str, value: str) -> JSONObject:
    """A query filter matching rows whose title is exactly ``value``."""
    return {"property": title_property, "title": {"equals": value}}


def data_source_parent(data_source_id: str) -> JSONObject:
    return {"type": "data_source_id", "data_source_id": data_source_id}
