"""The content hash that lets an unchanged rendering skip its Notion write (pure).

``Synced At`` is the time of the render, so it differs on every render although the page's
content does not: it is left out of the hash (:data:`VOLATILE_PROPERTIES`). It is still part
of the rendered properties, so every write that does happen stamps it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsync.render.text import JSON

VOLATILE_PROPERTIES = frozenset({"Synced At"})
"""Properties that change on every render and say nothing about the content."""


def canonical_json(value: object) -> str:
    """``value`` as compact JSON with sorted keys: equal values give equal text."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def content_hash(properties: Mapping[str, Any], blocks: Sequence[JSON] = ()) -> str:
    """The sha256 (hex) of ``properties`` without the volatile ones, and of ``blocks``.

    Dict key order does not matter; the order of blocks and of list items does.
    """
    stable = {name: value for name, value in properties.items() if name not in VOLATILE_PROPERTIES}
    text = canonical_json({"properties": stable, "blocks": list(blocks)})
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Rendered:
    """A rendered page: its properties, its body, and their hashes.

    ``content_hash`` covers both; ``body_hash`` only the body, so a caller can rewrite the
    body only when it changed.
    """

    properties: JSON
    blocks: list[JSON]

    @property
    def content_hash(self) -> str:
        """The hash of the properties (without the volatile ones) and the body."""
        return content_hash(self.properties, self.blocks)

    @property
    def body_hash(self) -> str:
        """The hash of the body alone."""
        return content_hash({}, self.blocks)
