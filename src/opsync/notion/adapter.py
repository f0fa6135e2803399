""":class:`NotionAdapter`: the Notion port over notion-client's ``AsyncClient``.

Every request first takes a token from the process-wide :class:`~opsync.pacing.Pacer`; the
SDK's own retries are off, so pacing, backoff and Retry-After share that one bucket.

Retry policy, per request:

* reads (retrieve, query, list children, users/me) and idempotent writes (``pages.update``:
  full property values; trashing) are retried on any transient error, with backoff;
* creates and appends are retried only when Notion certainly did not perform them (429/529,
  409, no connection made); after a 5xx, a timeout or a broken connection they raise
  :class:`~opsync.notion.port.OutcomeUnknown` at once — the sync layer looks the page up in
  its ledger and in Notion before creating again;
* a 429/529 pauses the shared bucket for its Retry-After (or the backoff delay).

An optional ``on_request`` hook hears of every attempt (:mod:`opsync.observability.hooks`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from notion_client import APIResponseError, AsyncClient

from opsync.clock import Clock, SystemClock
from opsync.errors import (
    InvalidPayload,
    NotionSchemaMismatch,
    OpsyncError,
    RateLimited,
    TransientError,
    UpstreamUnavailable,
)
from opsync.notion import _rejections as rj
from opsync.notion import _requests as rq
from opsync.notion._errors import translate
from opsync.notion.ids import normalize_id
from opsync.notion.port import (
    BlocksIncomplete,
    DataSourceRef,
    DataSourceSchema,
    JSONObject,
    NotionPort,
    OutcomeUnknown,
    QueryLimitReached,
)
from opsync.observability.hooks import RequestHook, observed
from opsync.pacing import Pacer
from opsync.retry import RetryPolicy

__all__ = ["DEFAULT_TIMEOUT_MS", "NotionAdapter"]

log = logging.getLogger(__name__)

# A little above Notion's own 60 s ceiling, so its 503 arrives before our timeout.
DEFAULT_TIMEOUT_MS = 65_000


class NotionAdapter:
    """The :class:`~opsync.notion.port.NotionPort` over an ``AsyncClient(retry=False)``."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        pacer: Pacer,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        owns_client: bool = False,
        on_request: RequestHook | None = None,
    ) -> None:
        if client.options.retry is not False:
            raise ValueError("build the AsyncClient with retry=False: the adapter retries")
        self._client = client
        self._pacer = pacer
        self._retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._owns_client = owns_client
        self._on_request = on_request
        self._secrets = tuple(s for s in (client.options.auth,) if isinstance(s, str) and s)
        self._data_sources: dict[tuple[str, str | None], str] = {}
        self._max_upload: tuple[int | None] | None = None

    @classmethod
    def from_token(
        cls,
        token: str,
        *,
        pacer: Pacer,
        base_url: str = "https://api.notion.com",
        http: httpx.AsyncClient | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_request: RequestHook | None = None,
    ) -> NotionAdapter:
        """Build the SDK client too. An injected ``http`` client stays the caller's to close."""
        client = AsyncClient(
            client=http,
            auth=token,
            base_url=base_url.rstrip("/"),
            timeout_ms=timeout_ms,
            retry=False,
            # The SDK's "request fail" warnings would repeat what the mapped errors say.
            log_level=logging.ERROR,
            logger=logging.getLogger("opsync.notion.sdk"),
        )
        return cls(
            client,
            pacer=pacer,
            retry=retry,
            clock=clock,
            rng=rng,
            owns_client=http is None,
            on_request=on_request,
        )

    async def aclose(self) -> None:
        # Never ``async with AsyncClient``: it would swap in a fresh httpx client.
        if self._owns_client:
            await self._client.aclose()

    # -- the one request path ---------------------------------------------------------------

    async def _call(self, method: str, *ids: str, **kwargs: Any) -> JSONObject:
        idempotent = method not in rq.NOT_IDEMPOTENT
        attempt = 0
        while True:
            await self._pacer.acquire()
            try:
                with observed(self._on_request, method):
                    response = await rq.sdk_call(self._client, method, *ids, **kwargs)
            except Exception as exc:
                error = translate(exc, method, idempotent=idempotent, secrets=self._secrets)
                if error is None:
                    raise
                delay = self._retry.delay(attempt, self._rng)
                if isinstance(error, RateLimited):
                    # Hold every worker back, not only this one; acquire() does the waiting.
                    self._pacer.pause(error.retry_after if error.retry_after is not None else delay)
                    delay = 0.0
                if not _retryable(error) or self._retry.gives_up_after(attempt):
                    raise error from exc
                log.warning(
                    "notion_retry",
                    extra={
                        "action": "notion_retry",
                        "method": method,
                        "attempt": attempt + 1,
                        "error": type(error).__name__,
                    },
                )
                if delay > 0:
                    await self._clock.sleep(delay)
                attempt += 1
            else:
                return _as_object(response, method)

    # -- databases and data sources ------------------------------------------------------------

    async def retrieve_database(self, database_id: str) -> tuple[DataSourceRef, ...]:
        database = await self._call("databases.retrieve", normalize_id(database_id))
        refs = database.get("data_sources")
        if not isinstance(refs, list):
            raise NotionSchemaMismatch(
                f"Notion database {database_id} lists no data sources; is it a linked view?"
            )
        return tuple(
            DataSourceRef(id=normalize_id(str(ref["id"])), name=str(ref.get("name") or ""))
            for ref in refs
            if isinstance(ref, dict) and "id" in ref
        )

    async def data_source_id(self, database_id: str, name: str | None = None) -> str:
        key = (normalize_id(database_id), name)
        if key not in self._data_sources:
            refs = await self.retrieve_database(key[0])
            matching = [ref for ref in refs if name is None or ref.name == name]
            if len(matching) != 1:
                names = ", ".join(repr(ref.name) for ref in refs) or "none"
                wanted = f"named {name!r}" if name is not None else "(several: pass a name)"
                raise NotionSchemaMismatch(
                    f"Notion database {key[0]} has no single data source {wanted}; it has {names}"
                )
            self._data_sources[key] = matching[0].id
        return self._data_sources[key]

    async def retrieve_data_source(self, data_source_id: str) -> DataSourceSchema:
        source = await self._call("data_sources.retrieve", normalize_id(data_source_id))
        raw = source.get("properties")
        properties = {
            str(name): str(spec.get("type"))
            for name, spec in (raw.items() if isinstance(raw, dict) else ())
            if isinstance(spec, dict)
        }
        titles = [name for name, kind in properties.items() if kind == "title"]
        if len(titles) != 1:
            raise NotionSchemaMismatch(
                f"Notion data source {data_source_id} has {len(titles)} title properties"
            )
        return DataSourceSchema(
            id=normalize_id(str(source.get("id", data_source_id))),
            title_property=titles[0],
            properties=properties,
        )

    # -- schema set-up (opsync notion setup / check --fix) -------------------------------------

    async def data_source_object(self, data_source_id: str) -> JSONObject:
        """The data source as Notion returns it: property schemas with their select options
        and relation targets. Read; retried."""
        return await self._call("data_sources.retrieve", normalize_id(data_source_id))

    async def create_database(self, body: Mapping[str, Any]) -> JSONObject:
        """``POST /v1/databases`` (parent, title, icon, is_inline, initial_data_source); the
        database object. Not idempotent: raises OutcomeUnknown rather than repeat it."""
        return await self._call("databases.create", **body)

    async def update_data_source(
        self, data_source_id: str, properties: Mapping[str, JSONObject]
    ) -> JSONObject:
        """Add or change properties (``{name: schema}``); the data source object. Idempotent
        (the same schema sent twice changes nothing); retried."""
        ds_id = normalize_id(data_source_id)
        return await self._call("data_sources.update", ds_id, properties=dict(properties))

    # -- pages ---------------------------------------------------------------------------------

    async def _explain(
        self,
        error: InvalidPayload,
        properties: Mapping[str, Any],
        *,
        data_source_id: JSONObject | None = None,
        page_id: str | None = None,
    ) -> NotionSchemaMismatch | None:
        """An actionable :class:`NotionSchemaMismatch` for a ``validation_error`` about one of
        the page's properties (None for any other rejection). Reads the data source to name
        the database and the property's type; if that fails too, names ids only."""
        cause = error.__cause__
        if not isinstance(cause, APIResponseError) or cause.code != "validation_error":
            return None
        rejection = rj.parse_rejection(str(cause))
        if rejection is None:
            return None
        expected = rj.sent_type(properties, rejection.name)
        source_id = str(data_source_id.get("data_source_id", "")) if data_source_id else ""
        where = f"the database of page {page_id}" if page_id else "the database"
        actual: str | None = None
        try:
            if not source_id and page_id:
                parent = (await self._call("pages.retrieve", page_id)).get("parent")
                if isinstance(parent, dict):
                    source_id = str(parent.get("data_source_id") or "")
            if source_id:
                source = await self._call("data_sources.retrieve", source_id)
                title = rj.data_source_title(source)
                where = f"the {title!r} database" if title else "the database"
                where += f" (data source {source_id})"
                schema = (source.get("properties") or {}).get(rejection.name)
                if isinstance(schema, dict) and isinstance(schema.get("type"), str):
                    actual = str(schema["type"])
        except OpsyncError:
            log.warning("could not read the rejecting data source", exc_info=True)
        return rj.explain(rejection, expected, where, actual)

    async def create_page(
        self,
        data_source_id: str,
        properties: Mapping[str, Any],
        children: Sequence[JSONObject] | None = None,
        icon: JSONObject | None = None,
    ) -> str:
        groups = list(rq.batches(children or ()))
        body: dict[str, Any] = {
            "parent": rq.data_source_parent(normalize_id(data_source_id)),
            "properties": dict(properties),
        }
        if groups:
            body["children"] = groups[0]
        if icon is not None:
            body["icon"] = icon
        try:
            page = await self._call("pages.create", **body)
        except InvalidPayload as error:
            explained = await self._explain(error, properties, data_source_id=body["parent"])
            if explained is None:
                raise
            raise explained from error
        page_id = _object_id(page, "pages.create")
        written = len(groups[0]) if groups else 0
        for group in groups[1:]:
            try:
                await self._call("blocks.children.append", page_id, children=group)
            except OpsyncError as error:
                raise BlocksIncomplete(page_id, written, error) from error
            written += len(group)
        return page_id

    async def update_page(
        self, page_id: str, properties: Mapping[str, Any], icon: JSONObject | None = None
    ) -> None:
        body: dict[str, Any] = {"properties": dict(properties)}
        if icon is not None:
            body["icon"] = icon
        try:
            await self._call("pages.update", normalize_id(page_id), **body)
        except InvalidPayload as error:
            explained = await self._explain(error, properties, page_id=normalize_id(page_id))
            if explained is None:
                raise
            raise explained from error

    async def archive_page(self, page_id: str) -> None:
        await self._call("pages.update", normalize_id(page_id), in_trash=True)

    async def find_pages_by_title(
        self, data_source_id: str, title_property: str, value: str
    ) -> list[str]:
        query = self.query_data_source(data_source_id, rq.title_equals(title_property, value))
        return [_object_id(page, "data_sources.query") async for page in query]

    async def query_data_source(
        self,
        data_source_id: str,
        filter: JSONObject | None = None,
        sorts: Sequence[JSONObject] | None = None,
    ) -> AsyncGenerator[JSONObject, None]:
        ds_id = normalize_id(data_source_id)
        body: dict[str, Any] = {"page_size": rq.MAX_PAGE_SIZE}
        if filter is not None:
            body["filter"] = filter
        if sorts is not None:
            body["sorts"] = list(sorts)
        rows = 0
        cursor: str | None = None
        while True:
            extra = {"start_cursor": cursor} if cursor else {}
            response = await self._call("data_sources.query", ds_id, **body, **extra)
            results = _results(response)
            for page in results:
                yield page
            rows += len(results)
            status = response.get("request_status") or {}
            if status.get("type") == "incomplete":
                reason = str(status.get("incomplete_reason") or "no reason given")
                raise QueryLimitReached(ds_id, rows, reason)
            cursor = response.get("next_cursor")
            if not response.get("has_more") or not cursor:
                return

    # -- blocks --------------------------------------------------------------------------------

    async def append_blocks(self, block_id: str, blocks: Sequence[JSONObject]) -> list[str]:
        parent = normalize_id(block_id)
        created: list[str] = []
        written = 0
        for group in rq.batches(blocks):
            try:
                response = await self._call("blocks.children.append", parent, children=group)
            except OpsyncError as error:
                if written:
                    raise BlocksIncomplete(parent, written, error) from error
                raise
            written += len(group)
            created.extend(
                _object_id(block, "blocks.children.append") for block in _results(response)
            )
        return created

    async def list_block_children(self, block_id: str) -> list[JSONObject]:
        parent = normalize_id(block_id)
        children: list[JSONObject] = []
        cursor: str | None = None
        while True:
            extra = {"start_cursor": cursor} if cursor else {}
            response = await self._call(
                "blocks.children.list", parent, page_size=rq.MAX_PAGE_SIZE, **extra
            )
            children.extend(_results(response))
            cursor = response.get("next_cursor")
            if not response.get("has_more") or not cursor:
                return children

    # -- files and workspace ---------------------------------------------------------------------

    async def upload_file(self, filename: str, content_type: str, data: bytes) -> str:
        if len(data) > rq.MAX_SINGLE_PART_BYTES:
            raise InvalidPayload(
                f"{filename}: {len(data)} bytes is over Notion's 20 MB single-part upload limit"
            )
        upload = await self._call(
            "file_uploads.create", mode="single_part", filename=filename, content_type=content_type
        )
        upload_id = _object_id(upload, "file_uploads.create")
        sent = await self._call("file_uploads.send", upload_id, file=(filename, data, content_type))
        if sent.get("status") != "uploaded":
            raise UpstreamUnavailable(
                f"Notion file upload {upload_id} ended as {sent.get('status')!r}, not 'uploaded'"
            )
        return upload_id

    async def max_upload_size(self) -> int | None:
        if self._max_upload is None:
            me = await self._call("users.me")
            bot = me.get("bot") if isinstance(me, dict) else None
            limits = bot.get("workspace_limits") if isinstance(bot, dict) else None
            size = limits.get("max_file_upload_size_in_bytes") if isinstance(limits, dict) else None
            self._max_upload = (size if isinstance(size, int) else None,)
        return self._max_upload[0]


def _retryable(error: OpsyncError) -> bool:
    return isinstance(error, TransientError) and not isinstance(error, OutcomeUnknown)


def _malformed(method: str, what: str) -> UpstreamUnavailable:
    """A 2xx we cannot read: for a create or append, whether it happened is unknown."""
    kind = OutcomeUnknown if method in rq.NOT_IDEMPOTENT else UpstreamUnavailable
    return kind(f"Notion {method} answered with {what}")


def _as_object(response: Any, method: str) -> JSONObject:
    if not isinstance(response, dict):
        raise _malformed(method, "a body that is not a JSON object")
    return response


def _results(response: JSONObject) -> list[JSONObject]:
    results = response.get("results")
    return [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []


def _object_id(obj: JSONObject, method: str) -> str:
    raw = obj.get("id")
    if not isinstance(raw, str):
        raise _malformed(method, "an object without an id")
    return normalize_id(raw)


if TYPE_CHECKING:

    def _satisfies_the_port(adapter: NotionAdapter) -> NotionPort:
        return adapter
