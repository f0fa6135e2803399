"""The Messages page: schema, media, recipients, conversation id and the simulated Notion."""

from __future__ import annotations

import pytest

from opsync.render.messages import message_properties, own_number, render_message
from opsync.render.state import MessageState
from opsync.render.text import JSON, TRUNCATED_SEE_BODY, plain_text, utf16_len
from opsync.sandbox.notion.seed_schema import MESSAGES_PROPERTIES
from tests.render.support import CALLER, NOW, OWN, make_message, workspace

MEDIA = [{"url": "https://files.example/a.jpg", "type": "image/jpeg"}]


def kind(value: JSON) -> str:
    (name,) = value.keys()
    return name


@pytest.mark.parametrize(
    "state",
    [
        MessageState(message=make_message(), now=NOW),
        MessageState(message=make_message(media=MEDIA, userId="US1"), now=NOW, phone_number=OWN),
    ],
)
def test_every_property_matches_the_seed_schema(state: MessageState) -> None:
    properties = message_properties(state)
    assert set(properties) == set(MESSAGES_PROPERTIES) | {"Canvas"}
    for name, schema in MESSAGES_PROPERTIES.items():
        assert kind(properties[name]) == kind(schema), name
    assert kind(properties["Canvas"]) == "relation"


def test_incoming_message_without_media_and_without_user() -> None:
    p = message_properties(MessageState(message=make_message(), now=NOW))
    assert plain_text(p["Message ID"]["title"]) == "AC9message"
    assert p["Direction"] == {"select": {"name": "incoming"}}
    assert p["From"] == {"phone_number": CALLER}
    assert p["To"] == {"phone_number": OWN}
    assert plain_text(p["Content"]["rich_text"]) == "Hello"
    assert p["Status"] == {"select": {"name": "received"}}
    assert plain_text(p["OpenPhone Number"]["rich_text"]) == OWN
    assert plain_text(p["Phone Number ID"]["rich_text"]) == "PN123abc"
    assert p["User ID"] == {"rich_text": []}
    assert p["Created At"] == {"date": {"start": "2026-04-01T10:00:00.420+00:00"}}
    assert p["Has Media"] == {"checkbox": False}
    assert p["Media URLs"] == {"rich_text": []}
    assert p["Conversation ID"] == {"rich_text": []}
    assert p["Canvas"] == {"relation": []}
    assert p["Synced At"] == {"date": {"start": "2026-04-01T12:00:00.000+00:00"}}


def test_outgoing_message_with_media_from_the_payload() -> None:
    message = make_message(
        direction="outgoing", **{"from": OWN}, to=["(321) 443-6893"], media=MEDIA,
        userId="US1", status="delivered", updatedAt=None,
    )  # fmt: skip
    p = message_properties(MessageState(message=message, now=NOW, canvas_page_id="c1"))
    assert p["From"] == {"phone_number": OWN}
    assert p["To"] == {"phone_number": CALLER}
    assert p["Has Media"] == {"checkbox": True}
    assert plain_text(p["Media URLs"]["rich_text"]) == "https://files.example/a.jpg"
    assert plain_text(p["User ID"]["rich_text"]) == "US1"
    assert p["Updated At"] == {"date": None}
    assert plain_text(p["OpenPhone Number"]["rich_text"]) == OWN
    assert p["Canvas"] == {"relation": [{"id": "c1"}]}


def test_media_urls_of_the_state_replace_the_payload_ones() -> None:
    state = MessageState(
        message=make_message(media=MEDIA), now=NOW, media_urls=["https://m/1.jpg", "https://m/2"]
    )
    p = message_properties(state)
    assert plain_text(p["Media URLs"]["rich_text"]) == "https://m/1.jpg\nhttps://m/2"


def test_several_recipients_show_the_first_in_to() -> None:
    message = make_message(direction="outgoing", **{"from": OWN}, to=[CALLER, "+19998887777"])
    p = message_properties(MessageState(message=message, now=NOW))
    assert p["To"] == {"phone_number": CALLER}
    assert "+19998887777" in plain_text(p["Raw Data"]["rich_text"])


@pytest.mark.parametrize(
    ("state_id", "payload_id", "shown"),
    [("CN-state", "CN-payload", "CN-state"), (None, "CN-payload", "CN-payload"), (None, None, "")],
)
def test_conversation_id_is_never_invented(
    state_id: str | None, payload_id: str | None, shown: str
) -> None:
    message = make_message(conversationId=payload_id)
    p = message_properties(MessageState(message=message, now=NOW, conversation_id=state_id))
    assert plain_text(p["Conversation ID"]["rich_text"]) == shown


@pytest.mark.parametrize(
    ("direction", "sender", "to", "known", "expected"),
    [
        ("incoming", CALLER, [OWN], None, OWN),
        ("incoming", CALLER, [OWN, "+19998887777"], None, None),
        ("incoming", CALLER, [OWN, "+19998887777"], "555-555-0199", OWN),
        ("outgoing", OWN, [CALLER], None, OWN),
    ],
)
def test_own_number(
    direction: str, sender: str, to: list[str], known: str | None, expected: str | None
) -> None:
    message = make_message(direction=direction, **{"from": sender}, to=to)
    assert own_number(MessageState(message=message, now=NOW, phone_number=known)) == expected


def test_long_content_is_cut_with_a_marker() -> None:
    p = message_properties(MessageState(message=make_message(text="é" * 30_000), now=NOW))
    shown = plain_text(p["Content"]["rich_text"])
    assert shown.endswith(TRUNCATED_SEE_BODY)
    assert utf16_len(shown) <= 20_000
    assert all(utf16_len(i["text"]["content"]) <= 2000 for i in p["Content"]["rich_text"])


def test_a_text_too_long_for_content_is_whole_in_the_page_body() -> None:
    text = "שלום 👋🏽 " * 12_000  # ~100 KB, right-to-left with emoji
    rendered = render_message(MessageState(message=make_message(text=text), now=NOW))
    heading, *paragraphs = rendered.blocks
    assert heading["heading_2"]["rich_text"][0]["text"]["content"] == "Message"
    assert "".join(plain_text(b["paragraph"]["rich_text"]) for b in paragraphs) == text
    space = workspace()  # the simulated Notion takes it within its limits
    space.create(space.seeded.messages_data_source_id, rendered.properties, rendered.blocks)
    short = render_message(MessageState(message=make_message(text="x" * 20_000), now=NOW))
    assert short.blocks == []


def test_the_simulated_notion_accepts_the_rendered_page() -> None:
    space = workspace()
    state = MessageState(
        message=make_message(media=MEDIA), now=NOW, canvas_page_id=space.canvas_page_id
    )
    rendered = render_message(state)
    assert rendered.blocks == []
    page = space.create(space.seeded.messages_data_source_id, rendered.properties, [])
    stored = page["properties"]
    assert stored["From"]["phone_number"] == CALLER
    assert stored["Status"]["select"]["name"] == "received"
    assert stored["Canvas"]["relation"] == [{"id": space.canvas_page_id}]
