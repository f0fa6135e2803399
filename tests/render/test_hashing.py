"""The content hash: stable, blind to Synced At, sensitive to content."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from opsync.render.calls import render_call
from opsync.render.hashing import VOLATILE_PROPERTIES, content_hash
from opsync.render.messages import render_message
from opsync.render.state import MessageState
from opsync.render.text import JSON
from tests.render.support import NOW, make_message, make_summary
from tests.render.test_calls import full_state


def reversed_keys(value: object) -> object:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_hash_is_a_sha256_hex_digest() -> None:
    digest = content_hash({"A": {"number": 1}})
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_hash_ignores_dict_key_order() -> None:
    rendered = render_call(full_state())
    shuffled = reversed_keys(rendered.properties)
    blocks = reversed_keys(rendered.blocks)
    assert isinstance(shuffled, dict)
    assert isinstance(blocks, list)
    assert list(shuffled) != list(rendered.properties)
    assert content_hash(shuffled, blocks) == rendered.content_hash


def test_hash_ignores_synced_at_only() -> None:
    assert {"Synced At"} == VOLATILE_PROPERTIES
    earlier = render_call(full_state())
    later = render_call(full_state(now=NOW + timedelta(hours=3)))
    assert earlier.properties != later.properties
    assert earlier.content_hash == later.content_hash
    message = make_message()
    first = render_message(MessageState(message=message, now=NOW))
    second = render_message(MessageState(message=message, now=NOW + timedelta(days=1)))
    assert first.content_hash == second.content_hash


def test_hash_changes_with_the_summary() -> None:
    before = render_call(full_state())
    after = render_call(full_state(summary=make_summary(["Customer wants a refund"])))
    assert before.content_hash != after.content_hash
    assert before.body_hash != after.body_hash


def test_body_hash_ignores_property_only_changes() -> None:
    before = render_call(full_state())
    after = render_call(replace(full_state(), canvas_page_id=None))
    assert before.content_hash != after.content_hash
    assert before.body_hash == after.body_hash


def test_hash_depends_on_block_order() -> None:
    blocks: list[JSON] = [{"type": "divider", "divider": {}}, {"type": "a", "a": {}}]
    assert content_hash({}, blocks) != content_hash({}, blocks[::-1])
