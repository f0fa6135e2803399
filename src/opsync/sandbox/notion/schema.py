"""Data-source property schemas: parse the request form, render the response form (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsync.sandbox.notion._common import JSON
from opsync.sandbox.notion.errors import body_error, validation_error
from opsync.sandbox.notion.validation import (
    COLORS,
    MAX_ARRAY,
    expect_id,
    expect_list,
    expect_object,
    expect_str,
)

EMPTY_CONFIG_TYPES = {
    "title", "rich_text", "date", "people", "files", "checkbox", "url", "email", "phone_number",
    "created_time", "created_by", "last_edited_time", "last_edited_by",
}  # fmt: skip
OPTION_TYPES = {"select", "multi_select", "status"}
SCHEMA_TYPES = EMPTY_CONFIG_TYPES | OPTION_TYPES | {"number", "relation", "unique_id"}
UNSUPPORTED_TYPES = {"formula", "rollup", "button", "verification", "place", "location"}
NUMBER_FORMATS = {
    "number", "number_with_commas", "percent", "dollar", "canadian_dollar", "euro", "pound",
    "yen", "ruble", "rupee", "won", "yuan", "real", "lira", "franc", "hong_kong_dollar",
    "new_zealand_dollar", "krona", "norwegian_krone", "mexican_peso", "rand", "new_taiwan_dollar",
    "danish_krone", "zloty", "baht", "forint", "koruna", "shekel", "chilean_peso",
    "philippine_peso", "dirham", "colombian_peso", "riyal", "ringgit", "leu", "argentine_peso",
    "uruguayan_peso", "singapore_dollar",
}  # fmt: skip
STATUS_DEFAULT = ["Not started", "In progress", "Done"]


@dataclass
class PropertySchema:
    """One property of a data source; ``config`` is the object under the ``type`` key."""

    id: str
    name: str
    type: str
    config: JSON = field(default_factory=dict)
    description: str | None = None

    def render(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "description": self.description,
            self.type: self.config,
        }

    def option(self, *, name: str | None = None, option_id: str | None = None) -> JSON | None:
        for opt in self.config.get("options", []):
            if (name is not None and opt["name"] == name) or (
                option_id is not None and opt["id"] == option_id
            ):
                return dict(opt)
        return None


IdFactory = Callable[[], str]
# data source id (or database id) → (data source id, database id); raises NotionError if unknown
RelationResolver = Callable[[str, str], tuple[str, str]]


def schema_type(raw: JSON, path: str) -> str:
    """The property type a schema object names (its one type key)."""
    kinds = [k for k in raw if k in SCHEMA_TYPES | UNSUPPORTED_TYPES]
    declared = raw.get("type")
    if isinstance(declared, str) and declared not in kinds:
        kinds.append(declared)
    if len(kinds) != 1:
        raise body_error(path, "an object with exactly one property type key", list(raw))
    kind = kinds[0]
    if kind in UNSUPPORTED_TYPES:
        raise validation_error(f"{path}: `{kind}` properties are not supported by the simulator.")
    if kind not in SCHEMA_TYPES:
        raise body_error(f"{path}.type", "a property type", kind)
    return kind


def parse_property(
    name: str,
    raw: JSON,
    path: str,
    *,
    prop_id: str,
    new_id: IdFactory,
    resolve: RelationResolver,
    previous: PropertySchema | None = None,
) -> PropertySchema:
    """Build a schema from a request schema object such as ``{"select": {"options": [...]}}``."""
    kind = schema_type(raw, path)
    body = raw.get(kind) or {}
    body = expect_object(body, f"{path}.{kind}")
    config: JSON
    if kind in EMPTY_CONFIG_TYPES:
        config = {}
    elif kind == "number":
        fmt = body.get("format", "number")
        if fmt not in NUMBER_FORMATS:
            raise body_error(f"{path}.number.format", "a number format", fmt)
        config = {"format": fmt}
    elif kind in OPTION_TYPES:
        old = previous.config.get("options", []) if previous and previous.type == kind else []
        config = {"options": _options(body, f"{path}.{kind}", old, new_id, kind)}
        if kind == "status":
            config["groups"] = _status_groups(config["options"], new_id)
    elif kind == "relation":
        config = _relation(body, f"{path}.relation", resolve)
    else:  # unique_id
        prefix = body.get("prefix")
        config = {"prefix": None if prefix is None else expect_str(prefix, f"{path}.prefix", 50)}
    description = raw.get("description")
    if description is not None:
        description = expect_str(description, f"{path}.description", 280)
    return PropertySchema(prop_id, name, kind, config, description)


def _options(body: JSON, path: str, old: list[JSON], new_id: IdFactory, kind: str) -> list[JSON]:
    raw_options = body.get("options")
    if raw_options is None:
        if old:
            return old
        names = STATUS_DEFAULT if kind == "status" else []
        return [option(n, "default", new_id) for n in names]
    out: list[JSON] = []
    for i, raw in enumerate(expect_list(raw_options, f"{path}.options", MAX_ARRAY)):
        opt = expect_object(raw, f"{path}.options[{i}]")
        known = next(
            (o for o in old if o["id"] == opt.get("id") or o["name"] == opt.get("name")), None
        )
        name = opt.get("name", known["name"] if known else None)
        name = check_option_name(name, f"{path}.options[{i}].name")
        color = opt.get("color", known["color"] if known else "default")
        if color not in COLORS:
            raise body_error(f"{path}.options[{i}].color", "a valid color", color)
        if any(o["name"] == name for o in out):
            raise validation_error(f"{path}.options: duplicate option name `{name}`.")
        made = option(name, color, new_id, known["id"] if known else None)
        made["description"] = opt.get("description", known.get("description") if known else None)
        out.append(made)
    return out


def check_option_name(name: object, path: str) -> str:
    text = expect_str(name, path, 100)
    if "," in text:
        raise validation_error(f"body failed validation: {path} may not contain commas.")
    if not text.strip():
        raise body_error(path, "a non-empty string", text)
    return text


def option(name: str, color: str, new_id: IdFactory, option_id: str | None = None) -> JSON:
    return {"id": option_id or new_id(), "name": name, "color": color, "description": None}


def _status_groups(options: list[JSON], new_id: IdFactory) -> list[JSON]:
    ids = [o["id"] for o in options]
    todo, doing, done = ids[:1], ids[1:-1], ids[1:][-1:]
    return [
        {"id": new_id(), "name": "To-do", "color": "gray", "option_ids": todo},
        {"id": new_id(), "name": "In progress", "color": "blue", "option_ids": doing},
        {"id": new_id(), "name": "Complete", "color": "green", "option_ids": done},
    ]


def _relation(body: JSON, path: str, resolve: RelationResolver) -> JSON:
    kind = body.get("type", "single_property")
    if kind != "single_property":
        raise validation_error(
            f"{path}.type: only `single_property` relations are supported by the simulator."
        )
    if body.get("data_source_id") is not None:
        ds_id, db_id = resolve(expect_id(body["data_source_id"], f"{path}.data_source_id"), "ds")
    elif body.get("database_id") is not None:
        ds_id, db_id = resolve(expect_id(body["database_id"], f"{path}.database_id"), "db")
    else:
        raise body_error(f"{path}.data_source_id", "defined", None)
    return {
        "database_id": db_id,
        "data_source_id": ds_id,
        "type": "single_property",
        "single_property": {},
    }


def render_properties(props: dict[str, PropertySchema]) -> dict[str, Any]:
    return {p.name: p.render() for p in props.values()}
