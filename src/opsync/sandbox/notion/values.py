"""Page property values: validate the request form against the schema, render the response form.

Stored values are already in response form (rich text with ``plain_text``, select options with
``id``/``color``...), so filters and sorts read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsync.sandbox.notion._common import JSON
from opsync.sandbox.notion.errors import body_error, validation_error
from opsync.sandbox.notion.schema import PropertySchema, check_option_name, option
from opsync.sandbox.notion.validation import (
    MAX_EMAIL,
    MAX_PHONE,
    expect_bool,
    expect_id,
    expect_list,
    expect_object,
    expect_str,
    expect_url,
    rich_text,
)

WRITABLE = {
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "files", "checkbox", "url", "email", "phone_number", "relation",
}  # fmt: skip
MAX_REFERENCES = 25


class ValueContext(Protocol):
    """What validating a value needs from the simulator state."""

    def page_data_source(self, page_id: str) -> str | None:
        """The data source id a page belongs to (``None``: unknown page or not a row)."""

    def upload_for_attach(self, upload_id: str, path: str) -> JSON:
        """The file upload ``upload_id`` if it can be attached; raises NotionError otherwise."""

    def new_id(self) -> str:
        """A fresh id (for auto-created select options)."""


@dataclass
class ParsedValues:
    """Validated values by property id, plus select options to add once the write succeeds."""

    values: dict[str, Any] = field(default_factory=dict)
    new_options: list[tuple[PropertySchema, JSON]] = field(default_factory=list)
    upload_ids: list[str] = field(default_factory=list)


def parse_value(
    schema: PropertySchema, raw: object, path: str, ctx: ValueContext, out: ParsedValues
) -> None:
    """Validate ``raw`` (e.g. ``{"select": {"name": "x"}}``) and store the result in ``out``."""
    kind = schema.type
    if kind not in WRITABLE:
        raise validation_error(
            f"{schema.name} is a `{kind}` property, which cannot be set: Notion computes it."
        )
    obj = raw if isinstance(raw, dict) else None
    if obj is None or kind not in obj or obj.get("type", kind) != kind:
        raise validation_error(f"{schema.name} is expected to be {kind}.")
    value = obj[kind]
    here = f"{path}.{kind}"
    out.values[schema.id] = _PARSERS[kind](schema, value, here, ctx, out)


def _text(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    return rich_text(v, p)


def _number(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
        raise body_error(p, "a number or `null`", v)
    return v


def _checkbox(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    return expect_bool(v, p)


def _url(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    return None if v is None else expect_url(v, p)


def _email(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    return None if v is None else expect_str(v, p, MAX_EMAIL)


def _phone(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    return None if v is None else expect_str(v, p, MAX_PHONE)


def _one_option(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    if v is None:
        return None
    ref = expect_object(v, p)
    if ref.get("id") is not None:
        found = s.option(option_id=str(ref["id"]))
        if found is None:
            raise validation_error(f"{s.name}: option with id `{ref['id']}` does not exist.")
        return _short(found)
    name = check_option_name(ref.get("name"), f"{p}.name")
    found = s.option(name=name) or next(
        (opt for sch, opt in o.new_options if sch is s and opt["name"] == name), None
    )
    if found is None:
        if s.type == "status":
            raise validation_error(f'Invalid status option. Status option "{name}" does not exist.')
        found = option(name, "default", c.new_id)
        o.new_options.append((s, found))
    return _short(found)


def _short(opt: JSON) -> JSON:
    return {"id": opt["id"], "name": opt["name"], "color": opt["color"]}


def _multi(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    items = expect_list(v, p)
    return [_one_option(s, item, f"{p}[{i}]", c, o) for i, item in enumerate(items)]


def _date(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    if v is None:
        return None
    obj = expect_object(v, p)
    zone_name = obj.get("time_zone")
    zone = None
    if zone_name is not None:
        try:
            zone = ZoneInfo(expect_str(zone_name, f"{p}.time_zone"))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise body_error(f"{p}.time_zone", "a valid IANA time zone", zone_name) from exc
    start = normalize_date(obj.get("start"), f"{p}.start", zone)
    end = None if obj.get("end") is None else normalize_date(obj["end"], f"{p}.end", zone)
    return {"start": start, "end": end, "time_zone": None}


def normalize_date(value: object, path: str, zone: ZoneInfo | None = None) -> str:
    """An ISO 8601 date stays ``YYYY-MM-DD``; a date-time becomes ``...T..:..:..mmm+HH:MM``."""
    text = expect_str(value, path)
    try:
        if len(text) == 10:
            if zone is not None:
                raise body_error(path, "a date-time when `time_zone` is given", text)
            return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise body_error(path, "an ISO 8601 date or date-time", text) from exc
    if zone is not None:
        if moment.tzinfo is not None:
            raise body_error(path, "a date-time without offset when `time_zone` is given", text)
        moment = moment.replace(tzinfo=zone)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")


def _people(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    items = expect_list(v, p)
    users = []
    for i, item in enumerate(items):
        user = expect_object(item, f"{p}[{i}]")
        users.append({"object": "user", "id": expect_id(user.get("id"), f"{p}[{i}].id")})
    return users


def _relation(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    items = expect_list(v, p)
    target = s.config["data_source_id"]
    ids: list[JSON] = []
    for i, item in enumerate(items):
        page_id = expect_id(expect_object(item, f"{p}[{i}]").get("id"), f"{p}[{i}].id")
        if c.page_data_source(page_id) != target:
            raise validation_error(
                f"body failed validation: {p}[{i}].id `{page_id}` is not a page of the related "
                f"data source `{target}` of {s.name}."
            )
        if all(ref["id"] != page_id for ref in ids):
            ids.append({"id": page_id})
    return ids


def _files(s: PropertySchema, v: object, p: str, c: ValueContext, o: ParsedValues) -> Any:
    items = expect_list(v, p)
    files: list[JSON] = []
    for i, item in enumerate(items):
        here = f"{p}[{i}]"
        obj = expect_object(item, here)
        kind = obj.get("type", "external" if "external" in obj else "file_upload")
        if kind == "external":
            url = expect_url(
                expect_object(obj.get("external"), f"{here}.external").get("url"),
                f"{here}.external.url",
            )
            name = expect_str(obj.get("name"), f"{here}.name", 900)
            files.append({"name": name, "type": "external", "external": {"url": url}})
        elif kind == "file_upload":
            ref = expect_object(obj.get("file_upload"), f"{here}.file_upload")
            upload_id = expect_id(ref.get("id"), f"{here}.file_upload.id")
            upload = c.upload_for_attach(upload_id, f"{here}.file_upload.id")
            name_value: object = obj.get("name", upload["filename"])
            files.append(
                {
                    "name": expect_str(name_value, f"{here}.name", 900),
                    "type": "file_upload",
                    "file_upload": {"id": upload_id},
                }
            )
            o.upload_ids.append(upload_id)
        else:
            raise body_error(f"{here}.type", "`external` or `file_upload`", kind)
    return files


_PARSERS: dict[str, Any] = {
    "title": _text, "rich_text": _text, "number": _number, "checkbox": _checkbox, "url": _url,
    "email": _email, "phone_number": _phone, "select": _one_option, "status": _one_option,
    "multi_select": _multi, "date": _date, "people": _people, "relation": _relation,
    "files": _files,
}  # fmt: skip

EMPTY: dict[str, Any] = {
    "title": [], "rich_text": [], "multi_select": [], "people": [], "relation": [], "files": [],
    "checkbox": False,
}  # fmt: skip


def render_value(schema: PropertySchema, stored: Any, file_expiry: str) -> JSON:
    """The response form of one property value (``{"id", "type", <type>: value}``).

    Attached uploads read back as Notion-hosted files with a signed URL valid until
    ``file_expiry``.
    """
    kind = schema.type
    value: Any = EMPTY.get(kind) if stored is None and kind in EMPTY else stored
    out: JSON = {"id": schema.id, "type": kind}
    if kind == "relation":
        refs = list(value)
        out["relation"] = refs[:MAX_REFERENCES]
        out["has_more"] = len(refs) > MAX_REFERENCES
        return out
    if kind == "people":
        value = list(value)[:MAX_REFERENCES]
    if kind == "files":
        value = [hosted_file(f, file_expiry) for f in value]
    if kind == "select" and stored is not None:
        value = _short(schema.option(option_id=stored["id"]) or stored)
    out[kind] = value
    return out


def hosted_file(ref: JSON, expiry: str) -> JSON:
    """A stored ``file_upload`` reference as Notion returns it: a signed, expiring file URL."""
    if ref.get("type") != "file_upload":
        return ref
    upload_id = ref["file_upload"]["id"]
    url = f"https://files.notion-sandbox.invalid/{upload_id}/{ref.get('name') or 'file'}"
    out = {k: v for k, v in ref.items() if k not in ("type", "file_upload")}
    out.update({"type": "file", "file": {"url": url, "expiry_time": expiry}})
    return out
