"""The simulator's in-memory workspace and its API operations.

Each operation takes the parsed JSON body (and path ids with or without dashes), validates all
of it before changing anything, and returns the response JSON, or raises :class:`NotionError`.
"""

from __future__ import annotations

from typing import Any

from opsync.sandbox.notion._base import FREE_PLAN_UPLOAD_LIMIT, QUERY_RESULT_CAP, StateBase
from opsync.sandbox.notion._common import JSON, new_id, parse_id, plain_text
from opsync.sandbox.notion._paging import listing, paginate
from opsync.sandbox.notion.errors import body_error, validation_error
from opsync.sandbox.notion.filters import compile_filter, find_property, sort_rows
from opsync.sandbox.notion.model import PAGE_TITLE, Block, Database, DataSource, Page
from opsync.sandbox.notion.validation import blocks, expect_bool, expect_object, page_size
from opsync.sandbox.notion.values import ParsedValues, parse_value

__all__ = ["FREE_PLAN_UPLOAD_LIMIT", "QUERY_RESULT_CAP", "NotionState"]


class NotionState(StateBase):
    """An in-memory Notion workspace (API version 2025-09-03) for one integration."""

    # databases and data sources -------------------------------------------------------------
    def create_database(self, body: JSON) -> JSON:
        parent = expect_object(body.get("parent"), "body.parent")
        if parent.get("type", "page_id" if "page_id" in parent else None) == "page_id":
            parent = {"type": "page_id", "page_id": self.page(str(parent.get("page_id"))).id}
        elif parent.get("type") == "workspace":
            parent = {"type": "workspace", "workspace": True}
        else:
            raise body_error("body.parent.type", "`page_id` or `workspace`", parent.get("type"))
        initial = expect_object(body.get("initial_data_source") or {}, "body.initial_data_source")
        raw_props = initial.get("properties", {"Name": {"title": {}}})
        props = self.parse_schema(raw_props, "body.initial_data_source.properties")
        title = self.optional_rich_text(body, "title")
        is_inline = expect_bool(body.get("is_inline", False), "body.is_inline")
        now = self.clock.now()
        db = Database(
            new_id(self.rng), parent, title, self.optional_rich_text(body, "description"),
            is_inline, body.get("icon"), body.get("cover"), now, now,
        )  # fmt: skip
        ds_title = self.optional_rich_text(initial, "title") or title
        ds = DataSource(new_id(self.rng), db.id, ds_title, [], props, body.get("icon"), now, now)
        self.databases[db.id] = db
        self.data_sources[ds.id] = ds
        db.data_source_ids.append(ds.id)
        return self.render_database(db)

    def render_database(self, db: Database) -> JSON:
        return db.render([self.data_sources[i] for i in db.data_source_ids], self.bot_id)

    def get_database(self, raw_id: str) -> JSON:
        return self.render_database(self.database(raw_id))

    def update_database(self, raw_id: str, body: JSON) -> JSON:
        db = self.database(raw_id)
        title = self.optional_rich_text(body, "title") if "title" in body else db.title
        description = (
            self.optional_rich_text(body, "description") if "description" in body
            else db.description
        )  # fmt: skip
        trash = self.trash_flag(body)
        db.title, db.description = title, description
        for key in ("icon", "cover"):
            if key in body:
                setattr(db, key, body[key])
        if "is_inline" in body:
            db.is_inline = expect_bool(body["is_inline"], "body.is_inline")
        if trash is not None:
            db.in_trash = trash
        db.last_edited_time = self.clock.now()
        return self.render_database(db)

    def create_data_source(self, body: JSON) -> JSON:
        parent = expect_object(body.get("parent"), "body.parent")
        db = self.database(str(parent.get("database_id")))
        props = self.parse_schema(body.get("properties"), "body.properties")
        now = self.clock.now()
        title = self.optional_rich_text(body, "title")
        ds = DataSource(new_id(self.rng), db.id, title, [], props, body.get("icon"), now, now)
        self.data_sources[ds.id] = ds
        db.data_source_ids.append(ds.id)
        return ds.render(db, self.bot_id)

    def get_data_source(self, raw_id: str) -> JSON:
        ds = self.data_source(raw_id)
        return ds.render(self.databases[ds.database_id], self.bot_id)

    def update_data_source(self, raw_id: str, body: JSON) -> JSON:
        ds = self.data_source(raw_id)
        title = self.optional_rich_text(body, "title") if "title" in body else ds.title
        trash = self.trash_flag(body)
        if body.get("properties") is not None:
            for prop_id in self.update_schema(ds, body["properties"]):
                for page in self.pages.values():
                    if page.data_source_id == ds.id:
                        page.properties.pop(prop_id, None)
        ds.title = title
        if "icon" in body:
            ds.icon = body["icon"]
        if trash is not None:
            ds.in_trash = trash
        ds.last_edited_time = self.clock.now()
        return ds.render(self.databases[ds.database_id], self.bot_id)

    def query(self, raw_id: str, body: JSON, filter_properties: list[str] | None = None) -> JSON:
        ds = self.data_source(raw_id)
        now = self.clock.now()
        keep = (
            None
            if body.get("filter") is None
            else compile_filter(body["filter"], ds.properties, now)
        )
        size = page_size(body.get("page_size"), "body.page_size")
        trashed = self.trash_flag(body) or False
        if body.get("result_type", "page") != "page":
            raise body_error(
                "body.result_type", "`page` for a data source of pages", body["result_type"]
            )
        rows = [p for p in self.pages.values()
                if p.data_source_id == ds.id and (trashed or not p.in_trash)]  # fmt: skip
        if keep is not None:
            rows = [p for p in rows if keep(p)]
        if body.get("sorts") is not None:
            rows = sort_rows(rows, body["sorts"], ds.properties)
        capped = len(rows) > self.query_result_cap
        ids = [p.id for p in rows[: self.query_result_cap]]
        chunk, nxt = paginate(ids, body.get("start_cursor"), size)
        only = self._only(ds, filter_properties)
        result = listing(
            [self.pages[i].render(ds.properties, self.bot_id, now, only) for i in chunk],
            nxt, "page_or_data_source",
        )  # fmt: skip
        result["request_status"] = (
            {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
            if capped else {"type": "complete"}
        )  # fmt: skip
        return result

    @staticmethod
    def _only(ds: DataSource | None, keys: list[str] | None) -> set[str] | None:
        if not keys:
            return None
        if ds is None:
            return {"title"}
        found = [find_property(ds.properties, k) for k in keys]
        return {p.id for p in found if p is not None}

    # pages ----------------------------------------------------------------------------------
    def _values(self, page_parent: JSON, raw: object) -> ParsedValues:
        out = ParsedValues()
        if raw is None:
            return out
        ds_id = page_parent.get("data_source_id")
        schema = self.data_sources[ds_id].properties if isinstance(ds_id, str) else None
        for key, value in expect_object(raw, "body.properties").items():
            prop = find_property(schema, key) if schema is not None else None
            if schema is None and key == "title":
                prop = PAGE_TITLE
            if prop is None:
                raise validation_error(f"{key} is not a property that exists.")
            parse_value(prop, value, f"body.properties.{key}", self, out)
        return out

    def create_page(self, body: JSON) -> JSON:
        parent = self.page_parent(body.get("parent"))
        values = self._values(parent, body.get("properties"))
        raw_children = body.get("children", body.get("content"))
        parsed = [] if raw_children is None else blocks(raw_children)
        self.blocks.check_uploads(parsed)
        template = body.get("template")
        if template is not None and expect_object(template, "body.template").get("type") != "none":
            raise body_error("body.template.type", "`none` (the simulator has no templates)",
                             template.get("type"))  # fmt: skip
        now = self.clock.now()
        page = Page(new_id(self.rng), parent, values.values, body.get("icon"), body.get("cover"),
                    now, now)  # fmt: skip
        ds_id = page.data_source_id
        if ds_id is not None:
            ds = self.data_sources[ds_id]
            for prop in ds.properties.values():
                if prop.type == "unique_id":
                    page.properties[prop.id] = {"number": ds.next_unique_id}
                    ds.next_unique_id += 1
        self._commit_values(values)
        self.pages[page.id] = page
        self.blocks.insert({"type": "page_id", "page_id": page.id}, page.children, parsed, None)
        return self.render_page(page)

    def _commit_values(self, values: ParsedValues) -> None:
        self.apply_new_options(values.new_options)
        for upload_id in values.upload_ids:
            self.uploads.attach(upload_id)

    def render_page(self, page: Page, filter_properties: list[str] | None = None) -> JSON:
        ds = self.data_sources.get(page.data_source_id or "")
        only = self._only(ds, filter_properties)
        return page.render(self.schema_of(page), self.bot_id, self.clock.now(), only)

    def get_page(self, raw_id: str, filter_properties: list[str] | None = None) -> JSON:
        return self.render_page(self.page(raw_id), filter_properties)

    def update_page(self, raw_id: str, body: JSON) -> JSON:
        page = self.page(raw_id)
        trash = self.trash_flag(body)
        if page.in_trash and trash is not False and body.get("properties"):
            raise validation_error(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        values = self._values(page.parent, body.get("properties"))
        locked = body.get("is_locked")
        if locked is not None:
            locked = expect_bool(locked, "body.is_locked")
        if body.get("erase_content") is not None or body.get("template") is not None:
            raise validation_error("erase_content and template are not supported by the simulator.")
        self._commit_values(values)
        page.properties.update(values.values)
        for key in ("icon", "cover"):
            if key in body:
                setattr(page, key, body[key])
        if trash is not None:
            page.in_trash = trash
        if locked is not None:
            page.is_locked = locked
        page.last_edited_time = self.clock.now()
        return self.render_page(page)

    # blocks ---------------------------------------------------------------------------------
    def _container(self, raw_id: str) -> tuple[JSON, list[str], Page | Block]:
        page = self.pages.get(self._pid(raw_id))
        if page is not None:
            return {"type": "page_id", "page_id": page.id}, page.children, page
        block = self.blocks.block(raw_id)
        return {"type": "block_id", "block_id": block.id}, block.children, block

    @staticmethod
    def _pid(raw_id: str) -> str:
        return parse_id(raw_id) or ""

    def append_children(self, raw_id: str, body: JSON) -> JSON:
        parent, children, owner = self._container(raw_id)
        if isinstance(owner, Block):
            self.blocks.parent_block(owner)
        elif owner.in_trash:
            raise validation_error(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        if "children" not in body:
            raise body_error("body.children", "defined", None)
        parsed = blocks(body["children"])
        after = self.blocks.validate_after(children, body.get("after"))
        self.blocks.check_uploads(parsed)
        made = self.blocks.insert(parent, children, parsed, after)
        owner.last_edited_time = self.clock.now()
        now = self.clock.now()
        return listing([b.render(self.bot_id, now) for b in made], None, "block")

    def list_children(self, raw_id: str, cursor: str | None, size: object) -> JSON:
        _, children, _ = self._container(raw_id)
        return self.blocks.list_children(children, cursor, size, self.bot_id)

    def get_block(self, raw_id: str) -> JSON:
        return self.blocks.block(raw_id).render(self.bot_id, self.clock.now())

    def delete_block(self, raw_id: str) -> JSON:
        page = self.pages.get(self._pid(raw_id))
        if page is not None:
            page.in_trash = True
            page.last_edited_time = self.clock.now()
            return self.render_page(page)
        block = self.blocks.block(raw_id)
        block.in_trash = True
        block.last_edited_time = self.clock.now()
        return block.render(self.bot_id, self.clock.now())

    # uploads, users, search -----------------------------------------------------------------
    def users_me(self) -> JSON:
        return {
            "object": "user",
            "id": self.bot_id,
            "name": "opsync sandbox",
            "avatar_url": None,
            "type": "bot",
            "bot": {
                "owner": {"type": "workspace", "workspace": True},
                "workspace_name": "Sandbox workspace",
                "workspace_id": self.workspace_id,
                "workspace_limits": {"max_file_upload_size_in_bytes": self.max_file_upload_size},
            },
        }

    def search(self, body: JSON) -> JSON:
        text = str(body.get("query") or "").casefold()
        wanted = expect_object(body.get("filter") or {}, "body.filter").get("value")
        if wanted not in (None, "page", "data_source"):
            raise body_error("body.filter.value", "`page` or `data_source`", wanted)
        items: list[tuple[float, str, Any]] = []
        if wanted in (None, "data_source"):
            items += [(d.last_edited_time, d.id, d) for d in self.data_sources.values()
                      if not d.in_trash and text in plain_text(d.title).casefold()]  # fmt: skip
        if wanted in (None, "page"):
            items += [(p.last_edited_time, p.id, p) for p in self.pages.values()
                      if not p.in_trash and text in self._title(p).casefold()]  # fmt: skip
        sort = body.get("sort") or {}
        items.sort(key=lambda item: item[0], reverse=sort.get("direction") != "ascending")
        by_id = {object_id: obj for _, object_id, obj in items}
        chunk, nxt = paginate(
            list(by_id), body.get("start_cursor"), page_size(body.get("page_size"))
        )
        results = [
            self.render_page(obj) if isinstance(obj, Page) else self.get_data_source(obj.id)
            for obj in (by_id[i] for i in chunk)
        ]
        return listing(results, nxt, "page_or_data_source")

    def _title(self, page: Page) -> str:
        title = next(p for p in self.schema_of(page).values() if p.type == "title")
        return plain_text(page.properties.get(title.id))
