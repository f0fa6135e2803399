"""Phone numbers and email addresses as Canvas lookup keys (pure; no I/O).

Notion compares phone and email values as plain strings (``"321-443-6893"`` is not
``"+13214436893"``), so every key opsync caches or compares is normalised first:

* a phone number to E.164 with ``phonenumbers`` (:func:`normalize_phone`); numbers without a
  country code are read in ``default_region`` (US);
* an email address to lower case without ``mailto:`` (:func:`normalize_email`).

:func:`phone_variants` lists the spellings a Canvas cell may hold for one number, and
:func:`phone_groups` its digit groups, which appear whole in every common spelling; the
lookup queries with both and then checks each candidate with :func:`phones_in`.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = [
    "normalize_email",
    "normalize_phone",
    "phone_groups",
    "phone_variants",
    "phones_in",
]

DEFAULT_REGION = "US"
_NANP = 1  # the North American Numbering Plan's country code
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_DIGIT_RUN = re.compile(r"\d+")


def _possible(number: PhoneNumber) -> bool:
    # Not is_valid_number: demo and test data use the 555 exchange, which is not assigned but
    # is a well-formed number. IS_POSSIBLE_LOCAL_ONLY (a 7-digit US number) is rejected.
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _e164(number: PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def normalize_phone(raw: str | None, default_region: str = DEFAULT_REGION) -> str | None:
    """``raw`` in E.164 (``"+13214436893"``), or ``None`` if it is not a complete number.

    Separators, a leading ``tel:``, a trunk ``1`` and an extension are accepted; an
    extension is dropped. Numbers without a country code are read in ``default_region``.
    """
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except NumberParseException:
        return None
    return _e164(number) if _possible(number) else None


def phones_in(text: str | None, default_region: str = DEFAULT_REGION) -> list[str]:
    """Every complete phone number written in ``text``, in E.164, in order, without repeats.

    A Canvas cell may hold one number in any format, or several (``"321-443-6893 / 407 555
    0100"``); a cell that is one number in a form the text scanner skips still counts.
    """
    if text is None or not text.strip():
        return []
    found: list[str] = []
    for match in phonenumbers.PhoneNumberMatcher(text, default_region, leniency=Leniency.POSSIBLE):
        if _possible(match.number):
            e164 = _e164(match.number)
            if e164 not in found:
                found.append(e164)
    if not found:
        whole = normalize_phone(text, default_region)
        if whole is not None:
            found.append(whole)
    return found


def _parse_e164(e164: str) -> PhoneNumber:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException as exc:
        raise ValueError(f"{e164!r} is not an E.164 phone number") from exc
    if _e164(number) != e164:
        raise ValueError(f"{e164!r} is not in E.164 form (expected {_e164(number)!r})")
    return number


def phone_variants(e164: str) -> list[str]:
    """The spellings of ``e164`` a Canvas cell is likely to hold, E.164 first, no repeats.

    For a North American number ``+13214436893``: ``3214436893``, ``321-443-6893``,
    ``(321) 443-6893``, ``321.443.6893``, ``321 443 6893``, ``1-321-443-6893``,
    ``13214436893``, ``+1 321-443-6893``, ``+1 (321) 443-6893``, … For other countries: the
    international and national formats and the bare digits. Raises :class:`ValueError` when
    ``e164`` is not E.164 (normalise first).
    """
    number = _parse_e164(e164)
    national = str(phonenumbers.national_significant_number(number))
    code = str(number.country_code)
    variants = [e164, code + national, national]
    if number.country_code == _NANP and len(national) == 10:
        area, exchange, line = national[:3], national[3:6], national[6:]
        variants += [
            f"{area}-{exchange}-{line}",
            f"({area}) {exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"{area} {exchange} {line}",
            f"1-{area}-{exchange}-{line}",
            f"1 ({area}) {exchange}-{line}",
            f"+1 {area}-{exchange}-{line}",
            f"+1 ({area}) {exchange}-{line}",
            f"+1 {area} {exchange} {line}",
            f"+1-{area}-{exchange}-{line}",
        ]
    else:
        international = str(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))
        variants += [
            international,
            international.replace(" ", "-"),
            str(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)),
            "00" + code + national,
        ]
    return list(dict.fromkeys(variants))


def phone_groups(e164: str) -> list[str]:
    """The digit groups of ``e164``'s national number as it is usually written, longest
    first: ``["6893", "321", "443"]`` for ``+13214436893``. Each appears whole in every
    variant, so a text cell holding the number contains all of them whatever the separators.
    Groups of one digit are left out (they match almost anything)."""
    number = _parse_e164(e164)
    international = str(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))
    national_part = international.split(" ", 1)[1] if " " in international else international
    groups = [g for g in _DIGIT_RUN.findall(national_part) if len(g) > 1]
    if not groups:
        groups = [str(phonenumbers.national_significant_number(number))]
    return sorted(dict.fromkeys(groups), key=len, reverse=True)


def normalize_email(raw: str | None) -> str | None:
    """``raw`` trimmed, without ``mailto:``, in lower case; ``None`` unless it looks like one
    address (``local@domain.tld``, no spaces)."""
    if raw is None:
        return None
    email = raw.strip()
    if email.lower().startswith("mailto:"):
        email = email[len("mailto:") :]
    email = email.strip().lower()
    return email if _EMAIL.match(email) else None
