"""Text as Notion rich text and page-body blocks within the request limits (pure).

Notion limits each rich-text object to 2,000 characters and each array to 100 objects. How it
counts characters outside the Basic Multilingual Plane (emoji) is unconfirmed, so lengths here
are counted in UTF-16 code units, where such a character counts 2: a count that is never below
Notion's, whichever rule it uses. Python strings hold code points, so a cut can never fall in
the middle of a surrogate pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

JSON = dict[str, Any]

MAX_TEXT_UNITS = 2000
"""Most UTF-16 code units in one rich-text object (``text.content``)."""

MAX_ARRAY = 100
"""Most objects in one rich-text array (and most blocks in one ``children`` array)."""

MAX_RICH_TEXT_UNITS = MAX_ARRAY * (MAX_TEXT_UNITS - 1)
"""Most units one rich-text array is asked to hold.

Every segment but the last holds at least 1,999 units (a segment closes early only when a
two-unit character would not fit), so this many units never need more than 100 segments.
"""

TRUNCATED = "… [truncated]"
"""The marker that ends a value cut to fit."""

TRUNCATED_SEE_BODY = "… [truncated, full text in page body]"
"""The marker that ends a property whose full text is in the page body."""


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (characters beyond U+FFFF count 2)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-16 units that join back to it.

    Every piece is filled as far as it goes; an empty text gives no piece.
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2 UTF-16 units, got {limit}")
    if len(text) * 2 <= limit:
        return [text] if text else []
    pieces: list[str] = []
    start = 0
    units = 0
    for index, char in enumerate(text):
        width = _width(char)
        if units + width > limit:
            pieces.append(text[start:index])
            start = index
            units = 0
        units += width
    pieces.append(text[start:])
    return pieces


def cut_to_units(text: str, units: int) -> str:
    """The longest prefix of ``text`` of at most ``units`` UTF-16 units."""
    if len(text) <= units // 2:
        return text
    used = 0
    for index, char in enumerate(text):
        used += _width(char)
        if used > units:
            return text[:index]
    return text


def fit_text(text: str, max_units: int, marker: str = TRUNCATED) -> tuple[str, bool]:
    """``text`` if it fits in ``max_units``; else a prefix ending with ``marker`` that fits.

    Returns the text and whether it was cut.
    """
    if utf16_len(text) <= max_units:
        return text, False
    room = max_units - utf16_len(marker)
    if room < 0:
        raise ValueError(f"the marker {marker!r} does not fit in {max_units} units")
    return cut_to_units(text, room) + marker, True


def clean(text: str) -> str:
    """``text`` with surrogates repaired: a high-low pair joined, a lone one made U+FFFD.

    Data decoded from JSON can hold lone surrogates, which cannot be sent as UTF-8. The result
    never has more UTF-16 units than ``text``.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def segment(content: str, *, bold: bool = False) -> JSON:
    """One rich-text object of plain text; ``content`` must already fit one segment."""
    item: JSON = {"type": "text", "text": {"content": clean(content)}}
    if bold:
        item["annotations"] = {"bold": True}
    return item


def rich_text(
    text: str, *, max_units: int = MAX_RICH_TEXT_UNITS, marker: str = TRUNCATED
) -> list[JSON]:
    """``text`` as one rich-text array within Notion's limits: ``[]`` for an empty text.

    A text longer than ``max_units`` UTF-16 units (at most :data:`MAX_RICH_TEXT_UNITS`) keeps
    its beginning and ends with ``marker``.
    """
    if not 0 < max_units <= MAX_RICH_TEXT_UNITS:
        raise ValueError(f"max_units must be in 1..{MAX_RICH_TEXT_UNITS}, got {max_units}")
    fitted, _ = fit_text(text, max_units, marker)
    return [segment(piece) for piece in split_text(fitted)]


def plain_text(items: list[JSON]) -> str:
    """The text a rich-text array shows (the concatenation of its ``text.content``)."""
    return "".join(str(item["text"]["content"]) for item in items if item.get("type") == "text")


# Page-body blocks. Every block here is top level (no ``children``), so a body can be appended
# in any number of requests. A block holds at most BLOCK_SEGMENTS segments (not the 100 Notion
# allows): 20 segments of 2,000 units stay near 120 KB even in three-byte scripts, so one block
# never comes close to Notion's 500 KB request limit on its own.

BlockKind = Literal["paragraph", "heading_2", "heading_3", "bulleted_list_item", "quote"]

BLOCK_SEGMENTS = 20
#: segments per packed block (transcripts): below the 100 limit, with room to spare
PACKED_SEGMENTS = 90
"""Most rich-text segments in one rendered block; longer text continues in the next block."""

MAX_REQUEST_BYTES = 400_000
"""Default byte budget of one append batch: Notion refuses payloads over 500 KB."""


def block(kind: BlockKind, rich: list[JSON]) -> JSON:
    """A block of ``kind`` holding ``rich`` (at most 100 rich-text objects)."""
    if len(rich) > MAX_ARRAY:
        raise ValueError(f"a block holds at most {MAX_ARRAY} rich-text objects, got {len(rich)}")
    return {"object": "block", "type": kind, kind: {"rich_text": rich}}


def heading(text: str) -> JSON:
    """A level-2 heading; ``text`` must fit one segment (a fixed section title)."""
    return block("heading_2", [segment(text)])


def text_blocks(
    kind: BlockKind, text: str, *, lead: Sequence[JSON] = (), per_block: int = BLOCK_SEGMENTS
) -> list[JSON]:
    """All of ``text`` in as many ``kind`` blocks as it takes; nothing is ever cut.

    ``lead`` (for example a bold speaker label) opens the first block. An empty text with no
    lead gives no block.
    """
    if not 1 <= per_block <= MAX_ARRAY or len(lead) >= per_block:
        raise ValueError(f"per_block must be in {len(lead) + 1}..{MAX_ARRAY}, got {per_block}")
    pending = list(lead) + [segment(piece) for piece in split_text(text)]
    return [block(kind, pending[i : i + per_block]) for i in range(0, len(pending), per_block)]


def packed_blocks(
    kind: BlockKind, items: Sequence[Sequence[JSON]], *, per_block: int = PACKED_SEGMENTS
) -> list[JSON]:
    """``items`` (each a run of rich-text segments, such as one transcript turn) packed into
    as few ``kind`` blocks as Notion's array limit allows, one line each; an item too long for
    one block continues in the next. Fewer blocks mean fewer append requests."""
    if not 2 <= per_block <= MAX_ARRAY:
        raise ValueError(f"per_block must be in 2..{MAX_ARRAY}, got {per_block}")
    out: list[JSON] = []
    current: list[JSON] = []
    for item in items:
        run = ([segment("\n")] if current else []) + list(item)
        if current and len(current) + len(run) > per_block:
            out.append(block(kind, current))
            current, run = [], list(item)
        while len(run) > per_block:
            out.append(block(kind, run[:per_block]))
            run = run[per_block:]
        current.extend(run)
    if current:
        out.append(block(kind, current))
    return out


def payload_size(value: object) -> int:
    """Bytes of ``value`` as a compact UTF-8 JSON request body."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def batched(
    blocks: Iterable[JSON], size: int = MAX_ARRAY, *, max_bytes: int = MAX_REQUEST_BYTES
) -> Iterator[list[JSON]]:
    """Consecutive runs of ``blocks`` to append in one request each, in order.

    A run holds at most ``size`` blocks (at most 100) and, when it has more than one block, at
    most ``max_bytes`` bytes of JSON: small enough for Notion's 500 KB payload limit. To send
    the first run with the page's properties in one create request, pass
    ``max_bytes=MAX_REQUEST_BYTES - payload_size(properties)`` (or send no children then).
    """
    if not 1 <= size <= MAX_ARRAY:
        raise ValueError(f"size must be in 1..{MAX_ARRAY}, got {size}")
    run: list[JSON] = []
    used = 0
    for item in blocks:
        cost = payload_size(item) + 1
        if run and (len(run) == size or used + cost > max_bytes):
            yield run
            run, used = [], 0
        run.append(item)
        used += cost
    if run:
        yield run
