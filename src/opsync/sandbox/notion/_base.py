"""Collections, ids, lookups and schema handling shared by the simulator state's operations."""

from __future__ import annotations

import random
import string
from typing import Any
from urllib.parse import quote

from opsync.clock import Clock, SystemClock
from opsync.sandbox.notion._common import JSON, new_id, parse_id
from opsync.sandbox.notion.content import BlockStore, UploadStore
from opsync.sandbox.notion.errors import not_found, validation_error
from opsync.sandbox.notion.filters import find_property
from opsync.sandbox.notion.model import PAGE_TITLE, Database, DataSource, Page
from opsync.sandbox.notion.schema import (
    OPTION_TYPES,
    SCHEMA_TYPES,
    UNSUPPORTED_TYPES,
    PropertySchema,
    parse_property,
    schema_type,
)
from opsync.sandbox.notion.validation import expect_bool, expect_id, expect_object, rich_text

FREE_PLAN_UPLOAD_LIMIT = 5 * 1024 * 1024
QUERY_RESULT_CAP = 10_000
_ID_CHARS = string.ascii_letters + string.digits + ";:<=>?@[]^_`{|}~"


class StateBase:
    """Shared collections, id generation and the lookups every part of the state needs."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        max_file_upload_size: int = FREE_PLAN_UPLOAD_LIMIT,
        query_result_cap: int = QUERY_RESULT_CAP,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.rng = random.Random(seed)
        self.bot_id = new_id(self.rng)
        self.workspace_id = new_id(self.rng)
        self.max_file_upload_size = max_file_upload_size
        self.query_result_cap = query_result_cap
        self.databases: dict[str, Database] = {}
        self.data_sources: dict[str, DataSource] = {}
        self.pages: dict[str, Page] = {}
        self.uploads = UploadStore(self.clock, self.rng, max_file_upload_size)
        self.blocks = BlockStore(self.clock, self.rng, self.uploads)

    # ids -----------------------------------------------------------------------------------
    def short_id(self, taken: set[str] | None = None) -> str:
        """A short URL-encoded property or option id such as ``a%3Bc``."""
        while True:
            made = quote("".join(self.rng.choice(_ID_CHARS) for _ in range(4)), safe="")
            if not taken or made not in taken:
                return made

    def new_id(self) -> str:  # ValueContext
        return self.short_id()

    # lookups -------------------------------------------------------------------------------
    def database(self, raw_id: str) -> Database:
        found = self.databases.get(parse_id(raw_id) or "")
        if found is None:
            raise not_found("database", raw_id)
        return found

    def data_source(self, raw_id: str) -> DataSource:
        found = self.data_sources.get(parse_id(raw_id) or "")
        if found is None:
            raise not_found("data_source", raw_id)
        return found

    def page(self, raw_id: str) -> Page:
        found = self.pages.get(parse_id(raw_id) or "")
        if found is None:
            raise not_found("page", raw_id)
        return found

    def page_data_source(self, page_id: str) -> str | None:  # ValueContext
        found = self.pages.get(page_id)
        return None if found is None else found.data_source_id

    def upload_for_attach(self, upload_id: str, path: str) -> JSON:  # ValueContext
        return self.uploads.for_attach(upload_id, path)

    def resolve_relation(self, target_id: str, kind: str) -> tuple[str, str]:
        if kind == "db":
            db = self.databases.get(target_id)
            if db is None or not db.data_source_ids:
                raise validation_error(f"Could not find database with ID: {target_id}.")
            return db.data_source_ids[0], db.id
        ds = self.data_sources.get(target_id)
        if ds is None:
            raise validation_error(f"Could not find data_source with ID: {target_id}.")
        return ds.id, ds.database_id

    def schema_of(self, page: Page) -> dict[str, PropertySchema]:
        ds_id = page.data_source_id
        if ds_id is None:
            return {"title": PAGE_TITLE}
        return self.data_sources[ds_id].properties

    # schemas -------------------------------------------------------------------------------
    def parse_schema(self, raw: object, path: str) -> dict[str, PropertySchema]:
        """A whole schema (create database / data source): exactly one title property."""
        props: dict[str, PropertySchema] = {}
        for name, value in expect_object(raw, path).items():
            here = f"{path}.{name}"
            obj = expect_object(value, here)
            kind = schema_type(obj, here)
            prop_id = "title" if kind == "title" else self.short_id(set(props))
            props[prop_id] = self._parse_one(name, obj, here, prop_id, None)
        titles = [p for p in props.values() if p.type == "title"]
        if len(titles) != 1:
            raise validation_error(
                f"body failed validation: {path} should have exactly one `title` property, "
                f"instead had `{len(titles)}`."
            )
        return props

    def _parse_one(
        self, name: str, obj: JSON, path: str, prop_id: str, previous: PropertySchema | None
    ) -> PropertySchema:
        if not name.strip() or len(name) > 100:
            raise validation_error(f"body failed validation: {path} is not a valid property name.")
        return parse_property(
            name, obj, path, prop_id=prop_id, new_id=self.short_id,
            resolve=self.resolve_relation, previous=previous,
        )  # fmt: skip

    def update_schema(self, ds: DataSource, raw: object) -> set[str]:
        """Apply add/rename/retype/remove; returns ids whose stored values must be cleared."""
        props = dict(ds.properties)
        cleared: set[str] = set()
        for key, value in expect_object(raw, "body.properties").items():
            path = f"body.properties.{key}"
            existing = find_property(props, key)
            if value is None:
                if existing is None:
                    raise validation_error(f"{key} is not a property that exists.")
                if existing.type == "title":
                    raise validation_error("The title property of a data source cannot be removed.")
                del props[existing.id]
                cleared.add(existing.id)
                continue
            obj = expect_object(value, path)
            new_name = obj.get("name")
            if new_name is not None and not isinstance(new_name, str):
                raise validation_error(f"body failed validation: {path}.name should be a string.")
            retyped = any(k in SCHEMA_TYPES | UNSUPPORTED_TYPES for k in obj) or "type" in obj
            if existing is None:
                if not retyped:
                    raise validation_error(f"{key} is not a property that exists.")
                if schema_type(obj, path) == "title":
                    raise validation_error("A data source can have only one title property.")
                prop_id = self.short_id(set(props))
                props[prop_id] = self._parse_one(new_name or key, obj, path, prop_id, None)
                continue
            name = new_name or existing.name
            if retyped:
                kind = schema_type(obj, path)
                if (kind == "title") != (existing.type == "title"):
                    raise validation_error("The type of the title property cannot be changed.")
                props[existing.id] = self._parse_one(name, obj, path, existing.id, existing)
                if kind != existing.type:
                    cleared.add(existing.id)
            else:
                props[existing.id] = PropertySchema(
                    existing.id, name, existing.type, existing.config, existing.description
                )
        names = [p.name for p in props.values()]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise validation_error(f"Property names must be unique: {sorted(duplicates)}.")
        ds.properties = props
        return cleared

    def apply_new_options(self, new_options: list[tuple[PropertySchema, JSON]]) -> None:
        for schema, opt in new_options:
            if schema.type in OPTION_TYPES and schema.option(name=opt["name"]) is None:
                schema.config.setdefault("options", []).append(dict(opt, description=None))

    # small parsers -------------------------------------------------------------------------
    @staticmethod
    def optional_rich_text(body: JSON, key: str) -> list[JSON]:
        return rich_text(body[key], f"body.{key}") if body.get(key) is not None else []

    @staticmethod
    def trash_flag(body: JSON) -> bool | None:
        for key in ("in_trash", "archived"):
            if key in body:
                return expect_bool(body[key], f"body.{key}")
        return None

    def page_parent(self, raw: object) -> JSON:
        parent = expect_object(raw, "body.parent")
        kind = parent.get("type") or next(
            (k for k in ("data_source_id", "database_id", "page_id", "workspace") if k in parent),
            None,
        )
        if kind == "data_source_id":
            ds = self.data_source(
                expect_id(parent.get("data_source_id"), "body.parent.data_source_id")
            )
            return {
                "type": "data_source_id",
                "data_source_id": ds.id,
                "database_id": ds.database_id,
            }
        if kind == "database_id":
            db = self.database(expect_id(parent.get("database_id"), "body.parent.database_id"))
            if len(db.data_source_ids) != 1:
                raise validation_error(
                    f"Database {db.id} has {len(db.data_source_ids)} data sources; "
                    "use a `data_source_id` parent."
                )
            return {"type": "data_source_id", "data_source_id": db.data_source_ids[0],
                    "database_id": db.id}  # fmt: skip
        if kind == "page_id":
            page = self.page(expect_id(parent.get("page_id"), "body.parent.page_id"))
            return {"type": "page_id", "page_id": page.id}
        if kind == "workspace":
            return {"type": "workspace", "workspace": True}
        raise validation_error(
            "body failed validation: body.parent should be a `data_source_id`, `database_id`, "
            "`page_id` or `workspace` parent."
        )

    def dump(self) -> dict[str, Any]:
        """The whole workspace as JSON-ready data (response forms plus internal links)."""
        now = self.clock.now()
        return {
            "bot_id": self.bot_id,
            "databases": [
                db.render([self.data_sources[i] for i in db.data_source_ids], self.bot_id)
                for db in self.databases.values()
            ],
            "data_sources": [
                ds.render(self.databases[ds.database_id], self.bot_id)
                for ds in self.data_sources.values()
            ],
            "pages": [
                p.render(self.schema_of(p), self.bot_id, now) | {"children": p.children}
                for p in self.pages.values()
            ],
            "blocks": self.blocks.dump(self.bot_id),
            "file_uploads": self.uploads.dump(),
        }
