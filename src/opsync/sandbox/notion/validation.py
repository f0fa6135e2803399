"""Request limits and shape checks (pure): rich text, blocks, URLs, nesting, array sizes.

Every function takes the raw JSON value and its path in the body (``body.children[0]...``)
and returns the normalised value or raises :class:`NotionError` with a Notion-style message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsync.sandbox.notion._common import JSON, parse_id
from opsync.sandbox.notion.errors import body_error, too_long, validation_error

MAX_TEXT = 2000
MAX_URL = 2000
MAX_EQUATION = 1000
MAX_ARRAY = 100
MAX_BLOCKS_PER_PAYLOAD = 1000
MAX_PAYLOAD_BYTES = 500_000
MAX_EMAIL = 200
MAX_PHONE = 200
MAX_BLOCK_DEPTH = 3  # a top-level block, its children, their children: two levels of nesting

COLORS = {
    "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
}  # fmt: skip
BG_COLORS = COLORS | {f"{c}_background" for c in COLORS if c != "default"}
ANNOTATIONS = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}
TEXT_BLOCKS = {
    "paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
    "numbered_list_item", "to_do", "toggle", "quote", "callout", "code",
}  # fmt: skip
MEDIA_BLOCKS = {"audio", "file", "image", "pdf", "video"}
URL_BLOCKS = {"bookmark", "embed"}
PARENT_BLOCKS = {
    "paragraph", "bulleted_list_item", "numbered_list_item", "to_do", "toggle", "quote", "callout",
}  # fmt: skip


def expect_object(value: object, path: str) -> JSON:
    if not isinstance(value, dict):
        raise body_error(path, "an object", _show(value))
    return value


def expect_list(value: object, path: str, limit: int = MAX_ARRAY) -> list[Any]:
    if not isinstance(value, list):
        raise body_error(path, "an array", _show(value))
    if len(value) > limit:
        raise too_long(path, limit, len(value))
    return value


def expect_str(value: object, path: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise body_error(path, "a string", _show(value))
    if limit is not None and len(value) > limit:
        raise too_long(path, limit, len(value))
    return value


def expect_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise body_error(path, "a boolean", _show(value))
    return value


def expect_url(value: object, path: str) -> str:
    return expect_str(value, path, MAX_URL)


def expect_id(value: object, path: str) -> str:
    parsed = parse_id(value)
    if parsed is None:
        raise body_error(path, "a valid uuid", _show(value))
    return parsed


def _show(value: object) -> str:
    if value is None:
        return "undefined"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def rich_text(value: object, path: str) -> list[JSON]:
    """Validate a request rich-text array; return it in response form (plain_text, href)."""
    items = expect_list(value, path)
    return [_rich_text_item(item, f"{path}[{i}]") for i, item in enumerate(items)]


def _rich_text_item(value: object, path: str) -> JSON:
    item = expect_object(value, path)
    kind = item.get(
        "type", "text" if "text" in item else "equation" if "equation" in item else None
    )
    annotations = dict(ANNOTATIONS)
    raw_ann = item.get("annotations")
    if raw_ann is not None:
        for key, ann in expect_object(raw_ann, f"{path}.annotations").items():
            if key not in ANNOTATIONS:
                raise body_error(f"{path}.annotations.{key}", "not present", ann)
            if key == "color":
                if ann not in BG_COLORS:
                    raise body_error(f"{path}.annotations.color", "a valid color", ann)
            else:
                expect_bool(ann, f"{path}.annotations.{key}")
            annotations[key] = ann
    if kind == "text":
        text = expect_object(item.get("text"), f"{path}.text")
        content = expect_str(text.get("content"), f"{path}.text.content", MAX_TEXT)
        link = text.get("link")
        href: str | None = None
        if link is not None:
            href = expect_url(
                expect_object(link, f"{path}.text.link").get("url"), f"{path}.text.link.url"
            )
        return {
            "type": "text",
            "text": {"content": content, "link": None if href is None else {"url": href}},
            "annotations": annotations,
            "plain_text": content,
            "href": href,
        }
    if kind == "equation":
        eq = expect_object(item.get("equation"), f"{path}.equation")
        expression = expect_str(eq.get("expression"), f"{path}.equation.expression", MAX_EQUATION)
        return {
            "type": "equation",
            "equation": {"expression": expression},
            "annotations": annotations,
            "plain_text": expression,
            "href": None,
        }
    raise body_error(f"{path}.type", "`text` or `equation` (the simulator has no mentions)", kind)


@dataclass
class ParsedBlock:
    """A validated request block; ``data`` is its type object in response form."""

    type: str
    data: JSON
    children: list[ParsedBlock] = field(default_factory=list)
    upload_id: str | None = None


def blocks(value: object, path: str = "body.children") -> list[ParsedBlock]:
    """Validate a ``children`` array (≤ 100 per array, 2 nesting levels, ≤ 1000 in total)."""
    parsed = _block_list(value, path, depth=1)
    total = _count(parsed)
    if total > MAX_BLOCKS_PER_PAYLOAD:
        raise validation_error(
            f"body failed validation: the request contains {total} block elements, "
            f"more than the limit of `{MAX_BLOCKS_PER_PAYLOAD}`."
        )
    return parsed


def _count(parsed: list[ParsedBlock]) -> int:
    return sum(1 + _count(block.children) for block in parsed)


def _block_list(value: object, path: str, depth: int) -> list[ParsedBlock]:
    items = expect_list(value, path)
    return [_block(item, f"{path}[{i}]", depth) for i, item in enumerate(items)]


def _block(value: object, path: str, depth: int) -> ParsedBlock:
    raw = expect_object(value, path)
    kind = raw.get("type")
    if kind is None:
        keys = [k for k in raw if k not in ("object", "type")]
        kind = keys[0] if len(keys) == 1 else None
    if not isinstance(kind, str) or kind not in TEXT_BLOCKS | MEDIA_BLOCKS | URL_BLOCKS | {
        "divider"
    }:
        raise body_error(f"{path}.type", "a supported block type", kind)
    body = expect_object(raw.get(kind), f"{path}.{kind}")
    parsed = ParsedBlock(type=kind, data={})
    if kind in TEXT_BLOCKS:
        _text_block(body, f"{path}.{kind}", parsed)
    elif kind in MEDIA_BLOCKS:
        _media_block(body, f"{path}.{kind}", parsed)
    elif kind in URL_BLOCKS:
        parsed.data["url"] = expect_url(body.get("url"), f"{path}.{kind}.url")
        parsed.data["caption"] = rich_text(body.get("caption", []), f"{path}.{kind}.caption")
    children = body.get("children")
    if children is not None:
        children_path = f"{path}.{kind}.children"
        toggle_heading = kind.startswith("heading_") and body.get("is_toggleable") is True
        if depth >= MAX_BLOCK_DEPTH or not (kind in PARENT_BLOCKS or toggle_heading):
            raise body_error(children_path, "not present", _show(children))
        parsed.children = _block_list(children, children_path, depth + 1)
    return parsed


def _text_block(body: JSON, path: str, parsed: ParsedBlock) -> None:
    parsed.data["rich_text"] = rich_text(body.get("rich_text"), f"{path}.rich_text")
    color = body.get("color", "default")
    if color not in BG_COLORS:
        raise body_error(f"{path}.color", "a valid color", color)
    parsed.data["color"] = color
    if parsed.type == "to_do":
        parsed.data["checked"] = expect_bool(body.get("checked", False), f"{path}.checked")
    if parsed.type.startswith("heading_"):
        toggleable = body.get("is_toggleable", False)
        parsed.data["is_toggleable"] = expect_bool(toggleable, f"{path}.is_toggleable")
    if parsed.type == "callout":
        parsed.data["icon"] = body.get("icon")
    if parsed.type == "code":
        parsed.data["language"] = expect_str(body.get("language", "plain text"), f"{path}.language")
        parsed.data["caption"] = rich_text(body.get("caption", []), f"{path}.caption")


def _media_block(body: JSON, path: str, parsed: ParsedBlock) -> None:
    kind = body.get("type", "external" if "external" in body else "file_upload")
    parsed.data["caption"] = rich_text(body.get("caption", []), f"{path}.caption")
    if "name" in body:
        parsed.data["name"] = expect_str(body["name"], f"{path}.name")
    if kind == "external":
        ext = expect_object(body.get("external"), f"{path}.external")
        parsed.data["type"] = "external"
        parsed.data["external"] = {"url": expect_url(ext.get("url"), f"{path}.external.url")}
    elif kind == "file_upload":
        upload = expect_object(body.get("file_upload"), f"{path}.file_upload")
        parsed.upload_id = expect_id(upload.get("id"), f"{path}.file_upload.id")
        parsed.data["type"] = "file_upload"
        parsed.data["file_upload"] = {"id": parsed.upload_id}
    else:
        raise body_error(f"{path}.type", "`external` or `file_upload`", kind)


def page_size(value: object, path: str = "page_size") -> int:
    """``page_size``: an integer 1..100 (strings accepted, as in query strings); default 100."""
    if value is None:
        return MAX_ARRAY
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise body_error(path, "a number between 1 and 100", _show(value))
    if value > MAX_ARRAY:
        raise body_error(path, f"≤ `{MAX_ARRAY}`", value)
    return value
