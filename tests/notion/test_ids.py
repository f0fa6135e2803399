"""Id normalisation: every shape an operator pastes becomes one lowercase dashed UUID."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.errors import InvalidPayload
from opsync.notion import InvalidNotionId, normalize_id

WANT = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"
HEX = WANT.replace("-", "")


@pytest.mark.parametrize(
    "given_id",
    [
        HEX,
        WANT,
        WANT.upper(),
        HEX.upper(),
        f"  {HEX}\n",
        f"https://www.notion.so/acme/Call-log-{HEX}?v=0123456789abcdef0123456789abcdef",
        f"https://www.notion.so/{HEX}?v=abcdefabcdefabcdefabcdefabcdefab&pvs=4",
        f"https://notion.so/Call-log-{HEX.upper()}#block-0123",
        f"notion.so/acme/{HEX}",
        f"https://acme.notion.site/Public-page-{HEX}",
        f"https://app.notion.com/p/{HEX}",
        f"https://app.notion.com/p/Customer-canvas-{HEX}?pvs=21",
        f"https://www.notion.so/acme/{WANT}/",
    ],
)
def test_accepted_shapes_normalise_to_the_dashed_lowercase_uuid(given_id: str) -> None:
    assert normalize_id(given_id) == WANT


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "not-an-id",
        HEX[:-1],
        HEX + "0",
        "g" * 32,
        f"https://example.com/{HEX}",
        f"https://notion.so.evil.example/{HEX}",
        f"ftp://www.notion.so/{HEX}",
        "https://www.notion.so/acme/Call-log",
        f"https://www.notion.so/acme?v={HEX}",
        f"https://www.notion.so/prefix{HEX}",
    ],
)
def test_junk_is_rejected_with_an_error_that_names_it(junk: str) -> None:
    with pytest.raises(InvalidNotionId) as caught:
        normalize_id(junk)
    assert repr(junk) in str(caught.value)
    assert isinstance(caught.value, InvalidPayload)
    assert isinstance(caught.value, ValueError)


def test_a_very_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidNotionId) as caught:
        normalize_id("x" * 5000)
    assert len(str(caught.value)) < 400


@given(st.uuids())
def test_any_uuid_round_trips_in_every_spelling(value: uuid.UUID) -> None:
    dashed = str(value)
    for spelling in (dashed, dashed.upper(), value.hex, f"https://app.notion.com/p/{value.hex}"):
        assert normalize_id(spelling) == dashed
