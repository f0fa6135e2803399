"""Rendering calls and messages into Notion pages of the seed schema (pure, no I/O)."""

from opsync.render.calls import call_body_blocks, call_properties, render_call
from opsync.render.hashing import Rendered, content_hash
from opsync.render.messages import message_properties, render_message
from opsync.render.state import CallState, MessageState, counterparty, to_e164
from opsync.render.text import batched

__all__ = [
    "CallState",
    "MessageState",
    "Rendered",
    "batched",
    "call_body_blocks",
    "call_properties",
    "content_hash",
    "counterparty",
    "message_properties",
    "render_call",
    "render_message",
    "to_e164",
]
