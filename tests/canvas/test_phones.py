"""Normalisation of phone numbers and email addresses (pure tables)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.canvas.phones import (
    normalize_email,
    normalize_phone,
    phone_groups,
    phone_variants,
    phones_in,
)

US = "+13214436893"


@pytest.mark.parametrize(
    "raw",
    [
        "+13214436893",
        "3214436893",
        "13214436893",
        "321-443-6893",
        "(321) 443-6893",
        "321.443.6893",
        "321 443 6893",
        "1-321-443-6893",
        "1 (321) 443-6893",
        "+1 321-443-6893",
        "+1 (321) 443-6893",
        "+1-321-443-6893",
        "  +1 321 443 6893  ",
        "tel:+1-321-443-6893",
        "321-443-6893 ext 12",
        "011 1 321 443 6893",
        "++13214436893",
    ],
)
def test_us_numbers_in_any_format(raw: str) -> None:
    assert normalize_phone(raw) == US


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("+33 1 23 45 67 89", "US", "+33123456789"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+49 30 901820", "US", "+4930901820"),
        ("+61 2 9374 4000", "US", "+61293744000"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 555 010 0100", "US", "+15550100100"),
    ],
)
def test_international_and_regional_numbers(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "hello", "12", "555-0100", "321-443-689", "321-443-68934", "+1", "+", "@"],
)
def test_junk_is_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


def test_variants_of_a_us_number() -> None:
    variants = phone_variants(US)
    assert variants[0] == US
    for expected in ["3214436893", "321-443-6893", "(321) 443-6893", "321.443.6893",
                     "1-321-443-6893", "13214436893", "+1 (321) 443-6893"]:  # fmt: skip
        assert expected in variants
    assert len(variants) == len(set(variants))
    assert all(normalize_phone(v) == US for v in variants)


@pytest.mark.parametrize("e164", ["+442079460958", "+33123456789", "+4930901820"])
def test_variants_of_international_numbers_all_normalise_back(e164: str) -> None:
    variants = phone_variants(e164)
    assert variants[0] == e164
    assert len(variants) >= 4
    for variant in variants:
        assert any(normalize_phone(variant, region) == e164 for region in ("US", "GB", "FR", "DE"))


@pytest.mark.parametrize("bad", ["3214436893", "321-443-6893", "+1 321 443 6893", "nope"])
def test_variants_need_e164(bad: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        phone_variants(bad)


def test_groups_appear_whole_in_every_variant() -> None:
    assert phone_groups(US) == ["6893", "321", "443"]
    assert phone_groups("+442079460958") == ["7946", "0958", "20"]
    for e164 in (US, "+442079460958", "+33123456789"):
        for variant in phone_variants(e164):
            assert all(group in variant for group in phone_groups(e164)), variant


def test_phones_in_a_text_cell() -> None:
    assert phones_in("321-443-6893 / +44 20 7946 0958") == [US, "+442079460958"]
    assert phones_in("cell: (321) 443-6893, again 321.443.6893") == [US]
    assert phones_in("3214436893") == [US]
    assert phones_in("call after 5") == []
    assert phones_in("") == []
    assert phones_in(None) == []
    assert phones_in("555-0100") == []


@given(st.integers(min_value=2_000_000_000, max_value=9_999_999_999))
def test_every_variant_of_a_possible_us_number_round_trips(national: int) -> None:
    e164 = normalize_phone(str(national))
    if e164 is None:
        return
    assert all(normalize_phone(v) == e164 for v in phone_variants(e164))
    assert all(phones_in(v) == [e164] for v in phone_variants(e164))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("mailto:Ops@Acme.test", "ops@acme.test"),
        ("MAILTO: ops@acme.test", "ops@acme.test"),
        ("first+tag@sub.domain.org", "first+tag@sub.domain.org"),
        ("", None),
        (None, None),
        ("jane", None),
        ("jane@", None),
        ("@example.com", None),
        ("jane@example", None),
        ("jane doe@example.com", None),
        ("a@b@example.com", None),
        ("jane@example.", None),
    ],
)
def test_emails(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected
