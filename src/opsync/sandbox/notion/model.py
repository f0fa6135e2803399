"""The simulator's objects and their response forms (``object: "page"``, ``"database"`` ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsync.sandbox.notion._common import JSON, iso_exact, iso_minute, plain_text
from opsync.sandbox.notion.schema import PropertySchema, render_properties
from opsync.sandbox.notion.values import hosted_file, render_value

SITE = "https://www.notion.so"
UPLOAD_TTL = 3600.0
PAGE_TITLE = PropertySchema("title", "title", "title")


def _url(title: str, object_id: str) -> str:
    slug = "-".join("".join(c if c.isalnum() else " " for c in title).split())
    return f"{SITE}/{slug + '-' if slug else ''}{object_id.replace('-', '')}"


def _user(user_id: str) -> JSON:
    return {"object": "user", "id": user_id}


@dataclass
class Database:
    id: str
    parent: JSON
    title: list[JSON]
    description: list[JSON]
    is_inline: bool
    icon: Any
    cover: Any
    created_time: float
    last_edited_time: float
    data_source_ids: list[str] = field(default_factory=list)
    in_trash: bool = False
    is_locked: bool = False

    def render(self, sources: list[DataSource], bot_id: str) -> JSON:
        return {
            "object": "database",
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "parent": self.parent,
            "is_inline": self.is_inline,
            "in_trash": self.in_trash,
            "archived": self.in_trash,
            "is_locked": self.is_locked,
            "created_time": iso_minute(self.created_time),
            "last_edited_time": iso_minute(self.last_edited_time),
            "created_by": _user(bot_id),
            "last_edited_by": _user(bot_id),
            "data_sources": [{"id": s.id, "name": plain_text(s.title)} for s in sources],
            "icon": self.icon,
            "cover": self.cover,
            "url": _url(plain_text(self.title), self.id),
            "public_url": None,
        }


@dataclass
class DataSource:
    id: str
    database_id: str
    title: list[JSON]
    description: list[JSON]
    properties: dict[str, PropertySchema]  # by property id
    icon: Any
    created_time: float
    last_edited_time: float
    in_trash: bool = False
    next_unique_id: int = 1

    def title_property(self) -> PropertySchema:
        return next(p for p in self.properties.values() if p.type == "title")

    def render(self, database: Database, bot_id: str) -> JSON:
        return {
            "object": "data_source",
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "parent": {"type": "database_id", "database_id": self.database_id},
            "database_parent": database.parent,
            "is_inline": database.is_inline,
            "in_trash": self.in_trash,
            "archived": self.in_trash,
            "created_time": iso_minute(self.created_time),
            "last_edited_time": iso_minute(self.last_edited_time),
            "created_by": _user(bot_id),
            "last_edited_by": _user(bot_id),
            "properties": render_properties(self.properties),
            "icon": self.icon,
            "cover": None,
            "url": _url(plain_text(self.title), self.id),
            "public_url": None,
        }


@dataclass
class Page:
    id: str
    parent: JSON
    properties: dict[str, Any]  # by property id, stored in response form
    icon: Any
    cover: Any
    created_time: float
    last_edited_time: float
    in_trash: bool = False
    is_locked: bool = False
    children: list[str] = field(default_factory=list)

    @property
    def data_source_id(self) -> str | None:
        value = self.parent.get("data_source_id")
        return value if isinstance(value, str) else None

    def render(
        self, schema: dict[str, PropertySchema], bot_id: str, now: float,
        only: set[str] | None = None,
    ) -> JSON:  # fmt: skip
        expiry = iso_exact(now + UPLOAD_TTL)
        props: JSON = {}
        title = ""
        for prop in schema.values():
            if prop.type == "title":
                title = plain_text(self.properties.get(prop.id))
            if only is not None and prop.id not in only:
                continue
            props[prop.name] = self._value(prop, expiry, bot_id)
        return {
            "object": "page",
            "id": self.id,
            "created_time": iso_minute(self.created_time),
            "last_edited_time": iso_minute(self.last_edited_time),
            "created_by": _user(bot_id),
            "last_edited_by": _user(bot_id),
            "cover": self.cover,
            "icon": self.icon,
            "parent": self.parent,
            "archived": self.in_trash,
            "in_trash": self.in_trash,
            "is_locked": self.is_locked,
            "properties": props,
            "url": _url(title, self.id),
            "public_url": None,
        }

    def _value(self, prop: PropertySchema, expiry: str, bot_id: str) -> JSON:
        computed = {
            "created_time": iso_minute(self.created_time),
            "last_edited_time": iso_minute(self.last_edited_time),
            "created_by": _user(bot_id),
            "last_edited_by": _user(bot_id),
        }
        if prop.type in computed:
            return {"id": prop.id, "type": prop.type, prop.type: computed[prop.type]}
        if prop.type == "unique_id":
            stored = self.properties.get(prop.id) or {"number": None}
            value = {"prefix": prop.config.get("prefix"), "number": stored["number"]}
            return {"id": prop.id, "type": "unique_id", "unique_id": value}
        return render_value(prop, self.properties.get(prop.id), expiry)


@dataclass
class Block:
    id: str
    parent: JSON
    type: str
    data: JSON
    created_time: float
    last_edited_time: float
    children: list[str] = field(default_factory=list)
    in_trash: bool = False

    def render(self, bot_id: str, now: float) -> JSON:
        data = dict(self.data)
        if data.get("type") == "file_upload":
            data = hosted_file(data, iso_exact(now + UPLOAD_TTL))
        return {
            "object": "block",
            "id": self.id,
            "parent": self.parent,
            "created_time": iso_minute(self.created_time),
            "last_edited_time": iso_minute(self.last_edited_time),
            "created_by": _user(bot_id),
            "last_edited_by": _user(bot_id),
            "has_children": bool(self.children),
            "archived": self.in_trash,
            "in_trash": self.in_trash,
            "type": self.type,
            self.type: data,
        }


@dataclass
class FileUpload:
    id: str
    filename: str | None
    content_type: str | None
    created_time: float
    last_edited_time: float
    expiry_time: float | None
    status: str = "pending"
    content: bytes | None = None

    def refresh(self, now: float) -> None:
        """Unattached uploads expire an hour after creation."""
        if self.expiry_time is not None and now >= self.expiry_time and self.status != "failed":
            self.status = "expired"

    def render(self, base_url: str) -> JSON:
        return {
            "object": "file_upload",
            "id": self.id,
            "created_time": iso_exact(self.created_time),
            "last_edited_time": iso_exact(self.last_edited_time),
            "expiry_time": None if self.expiry_time is None else iso_exact(self.expiry_time),
            "upload_url": f"{base_url}/v1/file_uploads/{self.id}/send"
            if self.status == "pending"
            else None,
            "archived": False,
            "in_trash": False,
            "status": self.status,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_length": None if self.content is None else len(self.content),
        }
