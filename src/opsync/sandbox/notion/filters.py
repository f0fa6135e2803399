"""Query filters and sorts of ``POST /v1/data_sources/{id}/query`` (pure).

Filters are compiled first (so a bad filter fails even on an empty data source) into predicates
over :class:`Row`. Choices where Notion's behaviour is undocumented: text ``equals`` is exact
(case-sensitive) while ``contains``/``starts_with``/``ends_with`` ignore case; empty values sort
last in both directions; rows without sorts come back in creation order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import unquote

from opsync.sandbox.notion._common import JSON, plain_text
from opsync.sandbox.notion.errors import body_error, validation_error
from opsync.sandbox.notion.schema import PropertySchema
from opsync.sandbox.notion.validation import expect_list, expect_object

MAX_FILTER_DEPTH = 2
TEXT_TYPES = {"title", "rich_text", "url", "email", "phone_number"}
TIMESTAMPS = {"created_time", "last_edited_time"}


class Row(Protocol):
    properties: dict[str, Any]  # by property id
    created_time: float
    last_edited_time: float


Predicate = Callable[[Row], bool]


def find_property(props: dict[str, PropertySchema], key: object) -> PropertySchema | None:
    """A property by name or by id (URL-encoded or not)."""
    if not isinstance(key, str):
        return None
    for prop in props.values():
        if key in (prop.name, prop.id, unquote(prop.id)):
            return prop
    return None


def compile_filter(
    raw: object, props: dict[str, PropertySchema], now: float, path: str = "body.filter"
) -> Predicate:
    return _compile(expect_object(raw, path), props, now, path, depth=0)


def _compile(
    raw: JSON, props: dict[str, PropertySchema], now: float, path: str, depth: int
) -> Predicate:
    for combinator in ("and", "or"):
        if combinator in raw:
            if depth >= MAX_FILTER_DEPTH:
                raise validation_error(
                    f"body failed validation: {path}.{combinator} is nested too deeply; "
                    f"compound filters can be nested at most {MAX_FILTER_DEPTH} levels."
                )
            items = expect_list(raw[combinator], f"{path}.{combinator}")
            parts = [
                _compile(expect_object(item, f"{path}.{combinator}[{i}]"), props, now,
                         f"{path}.{combinator}[{i}]", depth + 1)
                for i, item in enumerate(items)
            ]  # fmt: skip
            if combinator == "and":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
    if "timestamp" in raw:
        stamp = raw["timestamp"]
        if stamp not in TIMESTAMPS:
            raise body_error(f"{path}.timestamp", "`created_time` or `last_edited_time`", stamp)
        if "property" in raw:
            raise body_error(f"{path}.property", "not present", raw["property"])
        cond = expect_object(raw.get(stamp), f"{path}.{stamp}")
        test = _date_condition(cond, f"{path}.{stamp}", now)
        return lambda row: test(_stamp(row, stamp))
    prop = find_property(props, raw.get("property"))
    if prop is None:
        raise validation_error(f"Could not find property with name or id: {raw.get('property')}")
    if prop.type not in raw:
        raise validation_error(
            f"body failed validation: {path}.{prop.type} should be defined, instead was "
            f'`undefined` (property "{prop.name}" has type `{prop.type}`).'
        )
    cond = expect_object(raw[prop.type], f"{path}.{prop.type}")
    return _property_predicate(prop, cond, f"{path}.{prop.type}", now)


def _stamp(row: Row, stamp: str) -> datetime:
    epoch = row.created_time if stamp == "created_time" else row.last_edited_time
    return datetime.fromtimestamp(epoch, UTC)


def _one(cond: JSON, path: str, allowed: Iterable[str]) -> tuple[str, Any]:
    ops = [k for k in cond if k in allowed]
    if len(cond) != 1 or len(ops) != 1:
        raise body_error(path, f"an object with one of {sorted(allowed)}", list(cond))
    return ops[0], cond[ops[0]]


def _property_predicate(prop: PropertySchema, cond: JSON, path: str, now: float) -> Predicate:
    pid, kind = prop.id, prop.type
    if kind in TEXT_TYPES:
        test_text = _text_condition(cond, path)
        if kind in ("title", "rich_text"):
            return lambda row: test_text(plain_text(row.properties.get(pid)))
        return lambda row: test_text(row.properties.get(pid) or "")
    if kind in ("number", "unique_id"):
        test_num = _number_condition(cond, path)
        if kind == "unique_id":
            return lambda row: test_num((row.properties.get(pid) or {}).get("number"))
        return lambda row: test_num(row.properties.get(pid))
    if kind == "checkbox":
        op, value = _one(cond, path, ("equals", "does_not_equal"))
        if not isinstance(value, bool):
            raise body_error(f"{path}.{op}", "a boolean", value)
        return lambda row: (bool(row.properties.get(pid)) == value) == (op == "equals")
    if kind in ("select", "status"):
        test_name = _select_condition(cond, path)
        return lambda row: test_name(_option_names(row.properties.get(pid)))
    if kind == "multi_select":
        test_names = _multi_condition(cond, path)
        return lambda row: test_names(_option_names(row.properties.get(pid)))
    if kind == "date":
        test_date = _date_condition(cond, path, now)
        return lambda row: test_date(_date_start(row.properties.get(pid)))
    if kind in TIMESTAMPS:
        test_stamp = _date_condition(cond, path, now)
        return lambda row: test_stamp(_stamp(row, kind))
    if kind in ("people", "relation"):
        test_ids = _multi_condition(cond, path)
        return lambda row: test_ids([ref["id"] for ref in row.properties.get(pid) or []])
    if kind == "files":
        op, value = _one(cond, path, ("is_empty", "is_not_empty"))
        return lambda row: bool(row.properties.get(pid)) == (op == "is_not_empty")
    raise validation_error(f"{path}: filtering on `{kind}` properties is not supported.")


def _text_condition(cond: JSON, path: str) -> Callable[[str], bool]:
    ops = ("equals", "does_not_equal", "contains", "does_not_contain", "starts_with",
           "ends_with", "is_empty", "is_not_empty")  # fmt: skip
    op, value = _one(cond, path, ops)
    if op in ("is_empty", "is_not_empty"):
        return lambda text: (text == "") == (op == "is_empty")
    if not isinstance(value, str):
        raise body_error(f"{path}.{op}", "a string", value)
    needle = value.casefold()
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda t: t == value,
        "does_not_equal": lambda t: t != value,
        "contains": lambda t: needle in t.casefold(),
        "does_not_contain": lambda t: needle not in t.casefold(),
        "starts_with": lambda t: t.casefold().startswith(needle),
        "ends_with": lambda t: t.casefold().endswith(needle),
    }
    return tests[op]


def _number_condition(cond: JSON, path: str) -> Callable[[Any], bool]:
    op, value = _one(cond, path, ("equals", "does_not_equal", "greater_than", "less_than",
                                  "greater_than_or_equal_to", "less_than_or_equal_to",
                                  "is_empty", "is_not_empty"))  # fmt: skip
    if op in ("is_empty", "is_not_empty"):
        return lambda n: (n is None) == (op == "is_empty")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise body_error(f"{path}.{op}", "a number", value)
    tests: dict[str, Callable[[float], bool]] = {
        "equals": lambda n: n == value,
        "does_not_equal": lambda n: n != value,
        "greater_than": lambda n: n > value,
        "less_than": lambda n: n < value,
        "greater_than_or_equal_to": lambda n: n >= value,
        "less_than_or_equal_to": lambda n: n <= value,
    }
    test = tests[op]
    return lambda n: (op == "does_not_equal") if n is None else test(n)


def _option_names(stored: Any) -> list[str]:
    if stored is None:
        return []
    if isinstance(stored, dict):
        return [stored["name"]]
    return [opt["name"] for opt in stored]


def _names(value: object, path: str) -> list[str]:
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(n, str) for n in names):
        raise body_error(path, "a string or an array of strings", value)
    return [str(n) for n in names]


def _select_condition(cond: JSON, path: str) -> Callable[[list[str]], bool]:
    op, value = _one(cond, path, ("equals", "does_not_equal", "is_empty", "is_not_empty"))
    if op in ("is_empty", "is_not_empty"):
        return lambda names: (not names) == (op == "is_empty")
    wanted = _names(value, f"{path}.{op}")
    return lambda names: any(n in wanted for n in names) == (op == "equals")


def _multi_condition(cond: JSON, path: str) -> Callable[[list[str]], bool]:
    op, value = _one(cond, path, ("contains", "does_not_contain", "is_empty", "is_not_empty"))
    if op in ("is_empty", "is_not_empty"):
        return lambda names: (not names) == (op == "is_empty")
    wanted = _names(value, f"{path}.{op}")
    return lambda names: any(n in wanted for n in names) == (op == "contains")


def _date_start(stored: Any) -> datetime | None:
    if not stored:
        return None
    return parse_instant(stored["start"])


def parse_instant(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when it has no offset) as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


RELATIVE = {
    "past_week": (-7, 0), "past_month": (-30, 0), "past_year": (-365, 0),
    "next_week": (0, 7), "next_month": (0, 30), "next_year": (0, 365),
}  # fmt: skip


def _date_condition(cond: JSON, path: str, now: float) -> Callable[[datetime | None], bool]:
    ops = ("equals", "before", "after", "on_or_before", "on_or_after", "is_empty",
           "is_not_empty", "this_week", *RELATIVE)  # fmt: skip
    op, value = _one(cond, path, ops)
    if op in ("is_empty", "is_not_empty"):
        return lambda d: (d is None) == (op == "is_empty")
    current = datetime.fromtimestamp(now, UTC)
    if op in RELATIVE or op == "this_week":
        if op == "this_week":
            start = datetime.combine(current.date(), datetime.min.time(), UTC)
            lo = start - timedelta(days=(current.weekday() + 1) % 7)
            hi = lo + timedelta(days=7)
        else:
            a, b = RELATIVE[op]
            lo, hi = current + timedelta(days=a), current + timedelta(days=b)
        return lambda d: d is not None and lo <= d <= hi
    if not isinstance(value, str):
        raise body_error(f"{path}.{op}", "an ISO 8601 date or date-time", value)
    try:
        whole_day = len(value) == 10
        target: date | datetime = date.fromisoformat(value) if whole_day else parse_instant(value)
    except ValueError as exc:
        raise body_error(f"{path}.{op}", "an ISO 8601 date or date-time", value) from exc

    def key(d: datetime) -> date | datetime:
        return d.astimezone(UTC).date() if whole_day else d

    tests: dict[str, Callable[[Any], bool]] = {
        "equals": lambda k: k == target,
        "before": lambda k: k < target,
        "after": lambda k: k > target,
        "on_or_before": lambda k: k <= target,
        "on_or_after": lambda k: k >= target,
    }
    test = tests[op]
    return lambda d: d is not None and test(key(d))


SortKey = Callable[[Row], Any]


def sort_rows(rows: list[Any], raw: object, props: dict[str, PropertySchema]) -> list[Any]:
    """Order rows by ``sorts`` (earlier entries take precedence; empty values last)."""
    keys = [_sort_key(item, f"body.sorts[{i}]", props)
            for i, item in enumerate(expect_list(raw, "body.sorts"))]  # fmt: skip
    ordered = list(rows)
    for key, descending in reversed(keys):
        present = [r for r in ordered if key(r) is not None]
        empty = [r for r in ordered if key(r) is None]
        ordered = sorted(present, key=key, reverse=descending) + empty
    return ordered


def _sort_key(raw: object, path: str, props: dict[str, PropertySchema]) -> tuple[SortKey, bool]:
    item = expect_object(raw, path)
    direction = item.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise body_error(f"{path}.direction", "`ascending` or `descending`", direction)
    descending = direction == "descending"
    if "timestamp" in item:
        stamp = item["timestamp"]
        if stamp not in TIMESTAMPS:
            raise body_error(f"{path}.timestamp", "`created_time` or `last_edited_time`", stamp)
        return (lambda row: _stamp(row, stamp)), descending
    prop = find_property(props, item.get("property"))
    if prop is None:
        raise validation_error(
            f"Could not find sort property with name or id: {item.get('property')}"
        )
    return _value_key(prop), descending


def _value_key(prop: PropertySchema) -> SortKey:
    pid, kind = prop.id, prop.type

    def key(row: Row) -> Any:
        stored = row.properties.get(pid)
        if kind in ("title", "rich_text"):
            return plain_text(stored).casefold() or None
        if kind in ("url", "email", "phone_number"):
            return stored.casefold() if stored else None
        if kind == "checkbox":
            return bool(stored)
        if kind in ("select", "status"):
            if stored is None:
                return None
            ids = [o["id"] for o in prop.config.get("options", [])]
            return ids.index(stored["id"]) if stored["id"] in ids else len(ids)
        if kind == "multi_select":
            return ",".join(_option_names(stored)).casefold() or None
        if kind == "date":
            return _date_start(stored)
        if kind in TIMESTAMPS:
            return _stamp(row, kind)
        if kind == "unique_id":
            return None if stored is None else stored["number"]
        if kind in ("people", "relation", "files"):
            return len(stored) if stored else None
        return stored

    return key
