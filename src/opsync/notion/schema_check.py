"""``opsync notion check``: can opsync write to the configured databases, and what to do if not.

:func:`check_notion_schema` reads each configured database (Canvas, Calls, Messages) and
compares what it has with what the mapping (``opsync.toml``, else the seed's names) needs.
Each problem is a :class:`SchemaRow` with the fix; ``blocking`` rows fail the check:

* a database that is not configured, not found or not shared with the integration;
* a property the mapping needs that is absent (opsync writes pages without it, with a warning,
  but the check fails until it is added — ``--fix`` — or switched off in ``opsync.toml``);
* a property with another type, or a ``Canvas`` relation to another database (Notion would
  reject every page);
* a Canvas database whose phone or email property cannot be told apart.

Select options the database lacks do not block (Notion creates an option on first use);
``--fix`` adds them with the seed's colours. :func:`fix_notion_schema` applies every fixable
row — adding properties and options, never deleting, renaming or retyping one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsync.canvas.schema import canvas_schema
from opsync.config import Settings
from opsync.errors import AuthError, InvalidPayload, NotFound, NotionSchemaMismatch
from opsync.notion.adapter import NotionAdapter
from opsync.notion.ids import normalize_id
from opsync.notion.mapping import PropertyMapping, load_mapping, title_of
from opsync.notion.port import DataSourceSchema
from opsync.notion.seed_schema import Kind, schema_type, seed_schema, spec_for

__all__ = [
    "DatabaseCheck",
    "SchemaFix",
    "SchemaReport",
    "SchemaRow",
    "check_notion_schema",
    "fix_notion_schema",
]

JSON = dict[str, Any]
_SHARE = "share it with the integration (in Notion: ••• → Connections → your integration)"


@dataclass(frozen=True)
class SchemaRow:
    """One problem: where, what, how to fix it, and whether it fails the check."""

    database: str
    property: str
    problem: str
    fix: str
    blocking: bool


@dataclass(frozen=True)
class SchemaFix:
    """A property schema ``--fix`` sends to a data source (a new property, or a select's
    complete option list)."""

    database: str
    data_source_id: str
    property: str
    schema: JSON


@dataclass(frozen=True)
class DatabaseCheck:
    """One configured database: reachable or not, and how many properties were checked."""

    name: str
    variable: str
    database_id: str | None = None
    data_source_id: str | None = None
    checked: int = 0

    @property
    def reachable(self) -> bool:
        return self.data_source_id is not None


@dataclass(frozen=True)
class SchemaReport:
    """Every database checked, every problem found, and what ``--fix`` would send."""

    databases: tuple[DatabaseCheck, ...]
    rows: tuple[SchemaRow, ...]
    fixes: tuple[SchemaFix, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing blocks syncing (no blocking row)."""
        return not any(row.blocking for row in self.rows)


@dataclass
class _Builder:
    rows: list[SchemaRow] = field(default_factory=list)
    fixes: list[SchemaFix] = field(default_factory=list)

    def row(self, database: str, prop: str, problem: str, fix: str, *, blocking: bool) -> None:
        self.rows.append(SchemaRow(database, prop, problem, fix, blocking))


_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("Canvas", "notion_canvas_database_id", "NOTION_CANVAS_DATABASE_ID"),
    ("Calls", "notion_calls_database_id", "NOTION_CALLS_DATABASE_ID"),
    ("Messages", "notion_messages_database_id", "NOTION_MESSAGES_DATABASE_ID"),
)


async def check_notion_schema(
    notion: NotionAdapter, settings: Settings, mapping: PropertyMapping | None = None
) -> SchemaReport:
    """Check every configured database against ``mapping`` (default: the mapping file the
    settings name). Reads only; raises only for a failure of the Notion API itself
    (``TransientError`` after retries) or an invalid mapping file (``ConfigError``)."""
    mapping = mapping if mapping is not None else load_mapping(settings.mapping_file)
    out = _Builder()
    checks: list[DatabaseCheck] = []
    canvas_ds: str | None = None
    for name, field_name, variable in _TARGETS:
        raw_id = getattr(settings, field_name)
        check = await _reach(notion, out, name, variable, raw_id, required=name != "Canvas")
        if check.data_source_id is not None:
            source = await notion.data_source_object(check.data_source_id)
            if name == "Canvas":
                canvas_ds = check.data_source_id
                checked = _check_canvas(out, source)
            else:
                kind: Kind = "call" if name == "Calls" else "message"
                checked = _check_sync_database(
                    out, name, kind, check.data_source_id, source, mapping, canvas_ds
                )
            check = DatabaseCheck(name, variable, check.database_id, check.data_source_id, checked)
        checks.append(check)
    return SchemaReport(tuple(checks), tuple(out.rows), tuple(out.fixes))


async def _reach(
    notion: NotionAdapter,
    out: _Builder,
    name: str,
    variable: str,
    raw_id: str | None,
    *,
    required: bool,
) -> DatabaseCheck:
    if raw_id is None or not raw_id.strip():
        if required:
            fix = f"run `opsync notion setup --parent PAGE` or set {variable}"
            out.row(name, "", f"{variable} is not set", fix, blocking=True)
        return DatabaseCheck(name, variable)
    try:
        database_id = normalize_id(raw_id)
    except InvalidPayload as exc:
        out.row(name, "", str(exc), f"set {variable} to the database's id or URL", blocking=True)
        return DatabaseCheck(name, variable)
    try:
        data_source_id = await notion.data_source_id(database_id)
    except NotFound:
        out.row(name, "", f"database {database_id} not found, or not shared with the integration",
                f"check {variable}, and {_SHARE}", blocking=True)  # fmt: skip
        return DatabaseCheck(name, variable, database_id)
    except AuthError as exc:
        out.row(name, "", f"Notion refused access: {exc}",
                f"check NOTION_API_KEY and {_SHARE}", blocking=True)  # fmt: skip
        return DatabaseCheck(name, variable, database_id)
    except NotionSchemaMismatch as exc:
        out.row(name, "", str(exc), "point the setting at a database with one data source "
                "(not a linked view)", blocking=True)  # fmt: skip
        return DatabaseCheck(name, variable, database_id)
    return DatabaseCheck(name, variable, database_id, data_source_id)


def _properties(source: Mapping[str, Any]) -> dict[str, JSON]:
    raw = source.get("properties")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): dict(v) for k, v in raw.items() if isinstance(v, Mapping)}


def _check_canvas(out: _Builder, source: Mapping[str, Any]) -> int:
    props = _properties(source)
    types = {name: str(spec.get("type")) for name, spec in props.items()}
    titles = [name for name, kind in types.items() if kind == "title"]
    try:
        found = canvas_schema(
            DataSourceSchema(str(source.get("id", "")), titles[0] if titles else "", types)
        )
    except NotionSchemaMismatch as exc:
        out.row("Canvas", "Phone / Email", str(exc),
                "keep one phone property and one email property", blocking=True)  # fmt: skip
        return len(props)
    if found.phone is None and found.email is None:
        out.row("Canvas", "Phone / Email", "no phone or email property: nothing can be linked",
                "add a `Phone` (phone number) property", blocking=True)  # fmt: skip
    elif found.phone is None:
        out.row("Canvas", "Phone", "no phone property: calls and texts link by email only",
                "add a `Phone` (phone number) property", blocking=False)  # fmt: skip
    return len(props)


def _check_sync_database(
    out: _Builder,
    name: str,
    kind: Kind,
    data_source_id: str,
    source: Mapping[str, Any],
    mapping: PropertyMapping,
    canvas_ds: str | None,
) -> int:
    props = _properties(source)
    wanted = seed_schema(spec_for(kind), canvas_ds)
    section = "calls" if kind == "call" else "messages"
    checked = 0
    for seed, target in mapping.targets(kind).items():
        expected = wanted.get(seed)
        if expected is None:  # the Canvas relation, with no Canvas database to point at
            continue
        checked += 1
        where = _PropertyCheck(out, name, section, seed, target, data_source_id, kind)
        actual = props.get(target)
        want = schema_type(expected)
        if actual is None or (want == "title" and actual.get("type") != "title"):
            where.absent(props, expected)
            continue
        have = str(actual.get("type"))
        if have != want:
            where.wrong_type(have, want)
        elif want == "select":
            where.options(actual, expected)
        elif want == "relation":
            where.relation(actual, expected)
    return checked


@dataclass(frozen=True)
class _PropertyCheck:
    out: _Builder
    database: str
    section: str
    seed: str
    target: str
    data_source_id: str
    kind: Kind

    @property
    def _off(self) -> str:
        return f'switch it off in opsync.toml: [{self.section}] "{self.seed}" = false'

    def _map(self, what: str) -> str:
        return f'map it to {what} in opsync.toml: [{self.section}] "{self.seed}" = "…"'

    def absent(self, props: Mapping[str, JSON], expected: JSON) -> None:
        want = schema_type(expected)
        if want == "title":
            titles = [n for n, p in props.items() if p.get("type") == "title"]
            actual = titles[0] if titles else "?"
            self.out.row(
                self.database, self.target,
                f"no title property {self.target!r} (the title is {actual!r}); pages cannot "
                "be written or found again",
                f'rename {actual!r} to {self.target!r} in Notion, or map it in opsync.toml: '
                f'[{self.section}] "{title_of(self.kind)}" = "{actual}"',
                blocking=True,
            )  # fmt: skip
            return
        self.out.row(
            self.database, self.target, f"missing (a {want} property)",
            f"`opsync notion check --fix` adds it, or {self._map('an existing property')}, "
            f"or {self._off}",
            blocking=True,
        )  # fmt: skip
        self.out.fixes.append(SchemaFix(self.database, self.data_source_id, self.target, expected))

    def wrong_type(self, have: str, want: str) -> None:
        self.out.row(
            self.database, self.target, f"is {have}, opsync writes {want}",
            f"change its type to {want} in Notion, {self._map(f'another {want} property')}, "
            f"or {self._off}",
            blocking=True,
        )  # fmt: skip

    def options(self, actual: JSON, expected: JSON) -> None:
        have = _options(actual)
        want = _options(expected)
        missing = [o for o in want if str(o.get("name")) not in {str(h.get("name")) for h in have}]
        if not missing:
            return
        names = ", ".join(str(o["name"]) for o in missing)
        self.out.row(
            self.database, self.target, f"lacks options {names}",
            "`opsync notion check --fix` adds them (Notion also adds one on first use)",
            blocking=False,
        )  # fmt: skip
        kept = [{k: o[k] for k in ("id", "name") if k in o} for o in have]
        schema = {"select": {"options": [*kept, *missing]}}
        self.out.fixes.append(SchemaFix(self.database, self.data_source_id, self.target, schema))

    def relation(self, actual: JSON, expected: JSON) -> None:
        target = (actual.get("relation") or {}).get("data_source_id")
        want = expected["relation"]["data_source_id"]
        if target is not None and normalize_id(str(target)) == normalize_id(want):
            return
        self.out.row(
            self.database, self.target, "links to another database than the Canvas database",
            f"point {self.target!r} at the Canvas database in Notion, "
            f"{self._map('a relation to Canvas')}, or {self._off}",
            blocking=True,
        )  # fmt: skip


def _options(schema: JSON) -> list[JSON]:
    inner = schema.get("select")
    options = inner.get("options") if isinstance(inner, Mapping) else None
    return [dict(o) for o in options if isinstance(o, Mapping)] if isinstance(options, list) else []


async def fix_notion_schema(notion: NotionAdapter, report: SchemaReport) -> list[SchemaFix]:
    """Send every fix of ``report`` (one request per data source); return what was sent.

    Adds properties and select options only: nothing is deleted, renamed or retyped.
    Idempotent (a fix already applied changes nothing).
    """
    by_source: dict[str, dict[str, JSON]] = {}
    for fix in report.fixes:
        by_source.setdefault(fix.data_source_id, {})[fix.property] = fix.schema
    for data_source_id, properties in by_source.items():
        await notion.update_data_source(data_source_id, properties)
    return list(report.fixes)
