"""The mapping file (``opsync.toml``): the seed's Calls and Messages properties under the names
an existing database uses, or switched off (pure, apart from reading the file).

```toml
[calls]
"Duration" = "Length (s)"    # write the seed's Duration into the property "Length (s)"
"Recording URL" = false      # never write Recording URL

[messages]
"Raw Data" = false
```

Keys are seed property names (``Canvas`` is the relation to the Canvas database); a value is
the property's name in your database, ``true`` (keep the seed name) or ``false`` (off). The
title (``Call ID``, ``Message ID``) can be renamed but not switched off: it is how opsync finds
a page again. Rendering stays in seed names; :func:`apply_mapping` renames the rendered
properties just before they are written.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from opsync.errors import ConfigError
from opsync.notion.seed_schema import CANVAS_RELATION, Kind, spec_for

__all__ = [
    "DEFAULT_MAPPING_FILE",
    "MappedProperties",
    "PropertyMapping",
    "apply_mapping",
    "load_mapping",
    "mapping_path",
    "parse_mapping",
    "seed_names",
    "title_of",
]

DEFAULT_MAPPING_FILE = "opsync.toml"
_VARIABLE = "OPSYNC_MAPPING_FILE"
_SECTIONS: Mapping[str, Kind] = {"calls": "call", "messages": "message"}


def seed_names(kind: Kind) -> tuple[str, ...]:
    """Every property opsync writes for ``kind``, in seed order, ``Canvas`` last."""
    return (*spec_for(kind).properties, CANVAS_RELATION)


def title_of(kind: Kind) -> str:
    """The seed's title property of ``kind`` (``Call ID``, ``Message ID``)."""
    return next(n for n, s in spec_for(kind).properties.items() if "title" in s)


@dataclass(frozen=True)
class PropertyMapping:
    """Seed name → name in the user's database, or None when switched off; per kind.

    A seed name not listed keeps its name. ``source`` names the file it came from.
    """

    calls: Mapping[str, str | None] = field(default_factory=dict)
    messages: Mapping[str, str | None] = field(default_factory=dict)
    source: str | None = None

    def _table(self, kind: Kind) -> Mapping[str, str | None]:
        return self.calls if kind == "call" else self.messages

    def target(self, kind: Kind, seed_name: str) -> str | None:
        """The name ``seed_name`` is written under; None when it is switched off."""
        return self._table(kind).get(seed_name, seed_name)

    def targets(self, kind: Kind) -> dict[str, str]:
        """Seed name → target name, for every property that is on."""
        out: dict[str, str] = {}
        for name in seed_names(kind):
            target = self.target(kind, name)
            if target is not None:
                out[name] = target
        return out

    def title(self, kind: Kind) -> str:
        """The name of the title property in the user's database."""
        target = self.target(kind, title_of(kind))
        assert target is not None  # parse_mapping refuses to switch the title off
        return target

    @property
    def is_identity(self) -> bool:
        """Whether every property keeps its seed name and none is off."""
        return all(k == v for t in (self.calls, self.messages) for k, v in t.items())


@dataclass(frozen=True)
class MappedProperties:
    """Rendered properties under their target names; ``skipped`` lists the target names that
    were dropped because the database lacks them."""

    properties: dict[str, Any]
    skipped: tuple[str, ...] = ()
    #: target name → seed name, for every property kept
    seeds: Mapping[str, str] = field(default_factory=dict)


def apply_mapping(
    properties: Mapping[str, Any],
    mapping: PropertyMapping,
    kind: Kind,
    present: Collection[str] | None = None,
) -> MappedProperties:
    """Rename ``properties`` (seed names, as rendered) for the user's database.

    Properties switched off are left out. With ``present`` (the names the database has),
    any other target is left out too and listed in ``skipped`` — except the title, which is
    always kept (without it the page cannot be found again; Notion's rejection says why).
    Properties the mapping does not know (not seed names) pass through unchanged.
    """
    title = mapping.title(kind)
    out: dict[str, Any] = {}
    seeds: dict[str, str] = {}
    skipped: list[str] = []
    for name, value in properties.items():
        target = mapping.target(kind, name)
        if target is None:
            continue
        if present is not None and target not in present and target != title:
            skipped.append(target)
            continue
        out[target] = value
        seeds[target] = name
    return MappedProperties(out, tuple(skipped), seeds)


def parse_mapping(data: Mapping[str, Any], source: str | None = None) -> PropertyMapping:
    """The mapping in ``data`` (a parsed ``opsync.toml``); raises :class:`ConfigError` naming
    the first problem: an unknown table or seed property, a value that is neither a name nor a
    boolean, the title switched off, or two properties mapped to one name."""
    where = source or "the mapping file"
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        _fail(f"{where}: unknown table [{unknown[0]}]; expected [calls] and/or [messages]")
    tables: dict[Kind, dict[str, str | None]] = {}
    for section, kind in _SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, Mapping):
            _fail(f'{where}: [{section}] must be a table of "Seed name" = "your name"')
        tables[kind] = _parse_table(raw, kind, f"{where} [{section}]")
    return PropertyMapping(tables["call"], tables["message"], source)


def _parse_table(raw: Mapping[str, Any], kind: Kind, where: str) -> dict[str, str | None]:
    known = seed_names(kind)
    table: dict[str, str | None] = {}
    for name, value in raw.items():
        if name not in known:
            _fail(f"{where}: {name!r} is not a seed property; known: {', '.join(known)}")
        if value is True:
            table[name] = name
        elif value is False:
            if name == title_of(kind):
                _fail(f"{where}: the title {name!r} cannot be switched off (rename it instead)")
            table[name] = None
        elif isinstance(value, str) and value.strip() and len(value) <= 100:
            table[name] = value
        else:
            _fail(f"{where}: {name!r} must be a property name (1-100 characters), true or false")
    targets = [table.get(n, n) for n in known if table.get(n, n) is not None]
    doubled = sorted({t for t in targets if targets.count(t) > 1 and t is not None})
    if doubled:
        _fail(f"{where}: several properties are written to {doubled[0]!r}")
    return table


def _fail(message: str) -> NoReturn:
    raise ConfigError(_VARIABLE, message, problem="is invalid")


def mapping_path(configured: str | None, cwd: Path | None = None) -> Path | None:
    """The mapping file to read: ``OPSYNC_MAPPING_FILE`` when set (empty: none), else
    ``./opsync.toml`` when it exists, else None."""
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    default = (cwd or Path.cwd()) / DEFAULT_MAPPING_FILE
    return default if default.is_file() else None


def load_mapping(configured: str | None, cwd: Path | None = None) -> PropertyMapping:
    """The mapping from the file :func:`mapping_path` picks; no file gives the seed names.

    Raises :class:`ConfigError` when a configured file is missing or the TOML is invalid.
    """
    path = mapping_path(configured, cwd)
    if path is None:
        return PropertyMapping()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(_VARIABLE, f"{path} does not exist", problem="is invalid") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(_VARIABLE, f"{path}: {exc}", problem="is invalid") from None
    return parse_mapping(data, str(path))
