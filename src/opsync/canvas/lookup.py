""":class:`CanvasLookup`: the customer's Canvas page for a phone number or email address.

Tiers, in order, for one normalised key (E.164 number or lower-case address):

1. ``memory`` — a dict the caller owns (the ``PhoneNumberSync`` actor keeps one per phone
   number), given to the constructor or per call;
2. ``table`` — the seed's ``canvas_cache`` table; every hit bumps ``hit_count`` and
   ``last_used_at``. An entry older than ``revalidate_after`` is checked against Notion
   again (a Canvas page whose number changed must not keep its stale link); if Notion cannot
   be reached then, the old entry is used;
3. a remembered miss (``kv`` table, ``negative_ttl`` seconds; see ``opsync.store._analytics``)
   answers ``None`` without asking Notion;
4. ``notion`` — one ``data_sources.query`` (see :mod:`opsync.canvas.schema` for the filter),
   candidates verified here; a hit is written to the table and memory, a miss remembered.

Concurrent lookups of one key in one :class:`CanvasLookup` wait for each other, so a key costs
at most one Notion query however many events ask for it at once. Each Notion query writes a
``performance_metrics`` row (``canvas_lookup``, operation ``phone``/``email``/``refresh``).
Store and Notion errors propagate (``TransientError`` subclasses are worth retrying).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

from opsync.canvas.phones import DEFAULT_REGION, normalize_email, normalize_phone
from opsync.canvas.schema import CanvasSchema, canvas_schema, email_filter, phone_filter
from opsync.clock import Clock, SystemClock, epoch_ms
from opsync.errors import NotionSchemaMismatch, OpsyncError
from opsync.notion import NotionPort, normalize_id
from opsync.notion.port import JSONObject
from opsync.store import Store
from opsync.store._analytics import CanvasCacheEntry, CanvasCacheRow, LookupType

__all__ = ["CanvasLookup", "CanvasMatch", "CanvasStats", "Resolution", "Source"]

log = logging.getLogger(__name__)

Source = Literal["memory", "table", "notion", "negative", "miss", "invalid"]
"""Where an answer came from; ``negative``: a remembered miss, ``miss``: Notion found none,
``invalid``: the input is not a phone number / email address (nothing was asked)."""

_OLDEST_FIRST: list[JSONObject] = [{"timestamp": "created_time", "direction": "ascending"}]


@dataclass(frozen=True)
class CanvasMatch:
    """A Canvas page: its id (dashed) and title."""

    page_id: str
    name: str | None


@dataclass(frozen=True)
class Resolution:
    """The outcome of one lookup: the normalised key (``None`` if the input was not one), the
    page found, and where the answer came from."""

    lookup_type: LookupType
    key: str | None
    match: CanvasMatch | None
    source: Source


@dataclass
class CanvasStats:
    """Counters over every lookup of a :class:`CanvasLookup` (share one to aggregate)."""

    memory_hits: int = 0
    table_hits: int = 0
    notion_hits: int = 0
    misses: int = 0
    negative_hits: int = 0
    invalid: int = 0
    notion_queries: int = 0

    @property
    def lookups(self) -> int:
        return (
            self.memory_hits
            + self.table_hits
            + self.notion_hits
            + self.misses
            + self.negative_hits
            + self.invalid
        )

    @property
    def cache_hit_rate(self) -> float:
        """Share of valid lookups answered without Notion (0.0 before any lookup)."""
        cached = self.memory_hits + self.table_hits + self.negative_hits
        valid = self.lookups - self.invalid
        return cached / valid if valid else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "lookups": self.lookups, "cache_hit_rate": self.cache_hit_rate}

    def count(self, source: Source) -> None:
        field = {
            "memory": "memory_hits",
            "table": "table_hits",
            "notion": "notion_hits",
            "negative": "negative_hits",
            "miss": "misses",
            "invalid": "invalid",
        }[source]
        setattr(self, field, getattr(self, field) + 1)


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class CanvasLookup:
    """Find Canvas pages by phone or email through memory, the cache table and Notion.

    ``memory`` maps ``"phone:+13214436893"`` / ``"email:jane@example.com"`` to the page found;
    only hits are kept there (misses live in the store, with their expiry).
    ``revalidate_after`` (seconds, ``None``: never) bounds how long a table entry is trusted.
    """

    def __init__(
        self,
        notion: NotionPort,
        store: Store,
        database_id: str,
        *,
        clock: Clock | None = None,
        negative_ttl: float = 3600.0,
        revalidate_after: float | None = 86_400.0,
        memory: MutableMapping[str, CanvasMatch] | None = None,
        stats: CanvasStats | None = None,
        phone_property: str | None = None,
        email_property: str | None = None,
        default_region: str = DEFAULT_REGION,
    ) -> None:
        self._notion = notion
        self._store = store
        self._database_id = normalize_id(database_id)
        self._clock: Clock = clock or SystemClock()
        self._negative_ttl = negative_ttl
        self._revalidate_ms = None if revalidate_after is None else int(revalidate_after * 1000)
        self.memory: MutableMapping[str, CanvasMatch] = {} if memory is None else memory
        self.stats = stats or CanvasStats()
        self._properties = (phone_property, email_property)
        self._region = default_region
        self._schema: CanvasSchema | None = None
        self._schema_lock = asyncio.Lock()
        self._locks = _KeyedLocks()

    # -- public ---------------------------------------------------------------------------------

    async def find_by_phone(
        self,
        number: str,
        *,
        memory: MutableMapping[str, CanvasMatch] | None = None,
        phone_number_id: str | None = None,
    ) -> CanvasMatch | None:
        """The Canvas page of ``number`` (any format), or ``None``."""
        return (
            await self.resolve("phone", number, memory=memory, phone_number_id=phone_number_id)
        ).match

    async def find_by_email(
        self,
        email: str,
        *,
        memory: MutableMapping[str, CanvasMatch] | None = None,
        phone_number_id: str | None = None,
    ) -> CanvasMatch | None:
        """The Canvas page of ``email`` (case ignored), or ``None``."""
        return (
            await self.resolve("email", email, memory=memory, phone_number_id=phone_number_id)
        ).match

    async def resolve(
        self,
        lookup_type: LookupType,
        raw: str,
        *,
        memory: MutableMapping[str, CanvasMatch] | None = None,
        phone_number_id: str | None = None,
    ) -> Resolution:
        """Look ``raw`` up through every tier; ``memory`` replaces the constructor's for this
        call; ``phone_number_id`` goes into the metric row of a Notion query."""
        key = normalize_phone(raw, self._region) if lookup_type == "phone" else normalize_email(raw)
        if key is None:
            return self._done(Resolution(lookup_type, None, None, "invalid"))
        mem = self.memory if memory is None else memory
        slot = f"{lookup_type}:{key}"
        async with self._locks.hold(slot):
            if slot in mem:
                return self._done(Resolution(lookup_type, key, mem[slot], "memory"))
            resolution = await self._from_store_or_notion(lookup_type, key, phone_number_id)
            if resolution.match is not None:
                mem[slot] = resolution.match
        return self._done(resolution)

    async def refresh(self) -> int:
        """Rebuild the cache from the whole Canvas database: one entry per normalised phone
        number and email of every page (the oldest page wins a shared key), entries of numbers
        no page has any more deleted, remembered misses and this lookup's memory cleared.
        Returns the number of entries. A database past Notion's 10,000-row query cap raises
        ``QueryLimitReached`` and leaves the cache as it was."""
        started = self._clock.monotonic()
        success = False
        try:
            schema = await self._canvas()
            rows: list[CanvasCacheRow] = []
            async for page in self._notion.query_data_source(
                schema.data_source_id, None, _OLDEST_FIRST
            ):
                match = _match(schema, page)
                if match is None:
                    continue
                for e164 in schema.phones_of(page, self._region):
                    rows.append(CanvasCacheRow("phone", e164, match.page_id, match.name))
                email = schema.email_of(page)
                if email is not None:
                    rows.append(CanvasCacheRow("email", email, match.page_id, match.name))
            count = await self._store.canvas_cache_replace(rows)
            success = True
        finally:
            await self._metric("refresh", started, success, None)
        self.memory.clear()
        log.info("canvas_refresh", extra={"action": "canvas_refresh", "entries": count})
        return count

    # -- tiers ----------------------------------------------------------------------------------

    async def _from_store_or_notion(
        self, lookup_type: LookupType, key: str, phone_number_id: str | None
    ) -> Resolution:
        entry = await self._store.canvas_cache_get(lookup_type, key)
        if entry is not None:
            cached = Resolution(lookup_type, key, _entry_match(entry), "table")
            if not self._stale(entry):
                return cached
            try:
                return await self._from_notion(lookup_type, key, phone_number_id, stale=True)
            except OpsyncError as error:
                log.warning(
                    "canvas_revalidate_failed",
                    extra={"action": "canvas_revalidate_failed", "error": type(error).__name__},
                )
                return cached
        if await self._store.canvas_miss_get(lookup_type, key):
            return Resolution(lookup_type, key, None, "negative")
        return await self._from_notion(lookup_type, key, phone_number_id)

    async def _from_notion(
        self, lookup_type: LookupType, key: str, phone_number_id: str | None, *, stale: bool = False
    ) -> Resolution:
        schema = await self._canvas()
        started = self._clock.monotonic()
        success = False
        try:
            match = await self._query(schema, lookup_type, key)
            success = True
        finally:
            self.stats.notion_queries += 1
            await self._metric(lookup_type, started, success, phone_number_id)
        if match is None:
            if stale:  # the page no longer has this number: drop the old link
                await self._store.canvas_cache_delete(lookup_type, key)
            if self._negative_ttl > 0:
                await self._store.canvas_miss_put(lookup_type, key, self._negative_ttl)
            return Resolution(lookup_type, key, None, "miss")
        await self._store.canvas_cache_put(lookup_type, key, match.page_id, match.name)
        return Resolution(lookup_type, key, match, "notion")

    async def _query(
        self, schema: CanvasSchema, lookup_type: LookupType, key: str
    ) -> CanvasMatch | None:
        prop = schema.phone if lookup_type == "phone" else schema.email
        if prop is None:
            raise NotionSchemaMismatch(
                f"the Canvas database {self._database_id} has no {lookup_type} property; "
                f"name it {'Phone' if lookup_type == 'phone' else 'Email'!r} or pass its name"
            )
        holds: Callable[[JSONObject], bool]
        if lookup_type == "phone":
            query_filter = phone_filter(prop, key)

            def holds(page: JSONObject) -> bool:
                return key in schema.phones_of(page, self._region)

        else:
            query_filter = email_filter(prop, key)

            def holds(page: JSONObject) -> bool:
                return schema.email_of(page) == key

        pages = self._notion.query_data_source(schema.data_source_id, query_filter, _OLDEST_FIRST)
        try:
            async for page in pages:
                if holds(page):
                    return _match(schema, page)
            return None
        finally:
            close: Any = getattr(pages, "aclose", None)
            if close is not None:
                await close()

    # -- helpers --------------------------------------------------------------------------------

    async def _canvas(self) -> CanvasSchema:
        if self._schema is None:
            # One read for concurrent first lookups (the lock is taken only until it is known).
            async with self._schema_lock:
                if self._schema is None:
                    ds_id = await self._notion.data_source_id(self._database_id)
                    source = await self._notion.retrieve_data_source(ds_id)
                    phone, email = self._properties
                    self._schema = canvas_schema(source, phone_property=phone, email_property=email)
        return self._schema

    def _stale(self, entry: CanvasCacheEntry) -> bool:
        if self._revalidate_ms is None:
            return False
        return epoch_ms(self._clock) - entry.cached_at >= self._revalidate_ms

    async def _metric(
        self, operation: str, started: float, success: bool, phone_number_id: str | None
    ) -> None:
        duration_ms = max(0, round((self._clock.monotonic() - started) * 1000))
        await self._store.record_metric(
            "canvas_lookup",
            operation,
            duration_ms,
            success=success,
            phone_number_id=phone_number_id,
        )

    def _done(self, resolution: Resolution) -> Resolution:
        self.stats.count(resolution.source)
        return resolution


def _match(schema: CanvasSchema, page: JSONObject) -> CanvasMatch | None:
    page_id = page.get("id")
    if not isinstance(page_id, str):
        return None
    return CanvasMatch(normalize_id(page_id), schema.name_of(page))


def _entry_match(entry: CanvasCacheEntry) -> CanvasMatch:
    return CanvasMatch(entry.canvas_id, entry.canvas_name)
