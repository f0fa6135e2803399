"""A message's page in the seed's Messages database (pure).

``From`` and ``To`` are phone_number properties, which hold one number each. A message to
several recipients shows its first recipient (in OpenPhone's order) in ``To``; the full list is
in ``Raw Data``, and the Canvas link follows :func:`~opsync.render.state.counterparty`.
Fields OpenPhone's REST API lacks (media, conversation id) come from the webhook payload when
it carried them and are left empty otherwise, never made up.

Long text is never lost: a text longer than ``Content`` can hold (an SMS is at most a few
thousand characters, but nothing stops a payload from carrying 100 KB) is cut there with
:data:`~opsync.render.text.TRUNCATED_SEE_BODY`, and the page body then holds all of it under a
``Message`` heading. Any other message has no page body.
"""

from __future__ import annotations

from opsync.render import values
from opsync.render.hashing import Rendered, canonical_json
from opsync.render.state import MessageState, to_e164
from opsync.render.text import (
    JSON,
    MAX_TEXT_UNITS,
    TRUNCATED_SEE_BODY,
    heading,
    text_blocks,
    utf16_len,
)

CONTENT_UNITS = 10 * MAX_TEXT_UNITS
RAW_DATA_UNITS = 10 * MAX_TEXT_UNITS
MEDIA_URLS_UNITS = 10 * MAX_TEXT_UNITS
MESSAGE_HEADING = "Message"


def _number(text: str | None) -> str | None:
    """E.164 when ``text`` is a phone number; else the text as given (a short code)."""
    if text is None:
        return None
    return to_e164(text) or text.strip() or None


def media_urls(state: MessageState) -> list[str]:
    """The media links to show: the state's, else those of the payload's ``media[]``."""
    if state.media_urls is not None:
        return list(state.media_urls)
    return [item.url for item in state.message.media]


def own_number(state: MessageState) -> str | None:
    """The workspace line's number: from the state, else the side of the message that is ours.

    Without ``state.phone_number``: an outgoing message's sender, an incoming one's only
    recipient; an incoming message to several numbers gives None (which one is ours is unknown).
    """
    message = state.message
    if state.phone_number is not None:
        return _number(state.phone_number)
    if message.direction == "outgoing":
        return _number(message.from_)
    return _number(message.to[0]) if len(message.to) == 1 else None


def message_properties(state: MessageState) -> JSON:
    """Every property of the seed's Messages database, plus ``Canvas``, for ``state``."""
    message = state.message
    urls = media_urls(state)
    conversation_id = state.conversation_id or message.conversation_id
    raw = canonical_json(message.model_dump(mode="json", by_alias=True))
    return {
        "Message ID": values.title(message.id),
        "Direction": values.select(message.direction),
        "From": values.phone(_number(message.from_)),
        "To": values.phone(_number(message.to[0]) if message.to else None),
        "Content": values.text(message.text, max_units=CONTENT_UNITS, marker=TRUNCATED_SEE_BODY),
        "Status": values.select(message.status),
        "OpenPhone Number": values.short_text(own_number(state)),
        "Phone Number ID": values.short_text(message.phone_number_id),
        "User ID": values.short_text(message.user_id),
        "Created At": values.date(message.created_at),
        "Updated At": values.date(message.updated_at),
        "Has Media": values.checkbox(bool(urls)),
        "Media URLs": values.text("\n".join(urls), max_units=MEDIA_URLS_UNITS),
        "Conversation ID": values.short_text(conversation_id),
        "Raw Data": values.text(raw, max_units=RAW_DATA_UNITS),
        "Synced At": values.date(state.now),
        "Canvas": values.relation([state.canvas_page_id]),
    }


def message_body_blocks(state: MessageState) -> list[JSON]:
    """The page body: the whole text when ``Content`` cannot hold it, else nothing."""
    text = state.message.text
    if utf16_len(text) <= CONTENT_UNITS:
        return []
    return [heading(MESSAGE_HEADING), *text_blocks("paragraph", text)]


def render_message(state: MessageState) -> Rendered:
    """The message's properties and (for a long text only) its body, with their hash."""
    return Rendered(message_properties(state), message_body_blocks(state))
