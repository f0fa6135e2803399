"""The other party of a call or message, and E.164 normalisation."""

from __future__ import annotations

import pytest

from opsync.openphone.models import User
from opsync.render.state import counterparty, display_name, to_e164, user_names
from tests.render.support import CALLER, OWN, make_call, make_message


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("321-443-6893", CALLER),
        ("(321) 443-6893", CALLER),
        ("+13214436893", CALLER),
        (" +1 321 443 6893 ", CALLER),
        ("+442071838750", "+442071838750"),
        ("", None),
        (None, None),
        ("USlHhXmRMz", None),
        ("12", None),
        ("443-6893", None),  # local only: no area code
        ("+1 (321) 443-6893 ext. 12", CALLER),
        ("+44 (0)20 7183 8750", "+442071838750"),
    ],
)
def test_to_e164(text: str | None, e164: str | None) -> None:
    assert to_e164(text) == e164


@pytest.mark.parametrize(
    ("direction", "participants", "own", "expected"),
    [
        ("incoming", [CALLER], {OWN}, CALLER),
        ("outgoing", ["(321) 443-6893"], {OWN}, CALLER),
        ("incoming", [OWN, CALLER], {"555-555-0199"}, CALLER),
        ("outgoing", [OWN], {OWN}, None),
        ("incoming", [], {OWN}, None),
        ("incoming", ["USabc", CALLER], set(), CALLER),
    ],
)
def test_counterparty_of_a_call(
    direction: str, participants: list[str], own: set[str], expected: str | None
) -> None:
    call = make_call(direction=direction, participants=participants)
    assert counterparty(call, own) == expected


@pytest.mark.parametrize(
    ("direction", "sender", "to", "expected"),
    [
        ("incoming", CALLER, [OWN], CALLER),
        ("outgoing", OWN, [CALLER], CALLER),
        ("outgoing", OWN, [OWN, "+19998887777"], "+19998887777"),
        ("incoming", OWN, [OWN], None),
        ("outgoing", OWN, [OWN], None),
    ],
)
def test_counterparty_of_a_message(
    direction: str, sender: str, to: list[str], expected: str | None
) -> None:
    message = make_message(direction=direction, **{"from": sender}, to=to)
    assert counterparty(message, {"(555) 555-0199"}) == expected


def test_user_display_names() -> None:
    common = {"pictureUrl": None, "role": "member", "createdAt": "2026-01-01T00:00:00Z",
              "updatedAt": "2026-01-01T00:00:00Z"}  # fmt: skip
    named = User.model_validate(
        {"id": "US1", "email": "a@x.io", "firstName": "Ada", "lastName": "Lovelace", **common}
    )
    bare = User.model_validate(
        {"id": "US2", "email": "b@x.io", "firstName": None, "lastName": " ", **common}
    )
    assert display_name(named) == "Ada Lovelace"
    assert user_names([named, bare]) == {"US1": "Ada Lovelace", "US2": "b@x.io"}
