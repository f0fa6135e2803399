"""Rich-text splitting, truncation, body blocks and append batches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.render.text import (
    BLOCK_SEGMENTS,
    MAX_RICH_TEXT_UNITS,
    TRUNCATED,
    TRUNCATED_SEE_BODY,
    batched,
    clean,
    cut_to_units,
    fit_text,
    payload_size,
    plain_text,
    rich_text,
    segment,
    split_text,
    text_blocks,
    utf16_len,
)

EMOJI = "😀"  # U+1F600: two UTF-16 units
RTL = "שלום עולם مرحبا"


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), (EMOJI, 2), ("a😀b", 4), (RTL, len(RTL)), ("👩‍👩‍👧", 8)],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("", []),
        ("a", ["a"]),
        ("a" * 2000, ["a" * 2000]),
        ("a" * 2001, ["a" * 2000, "a"]),
        ("a" * 1999 + EMOJI, ["a" * 1999, EMOJI]),
        ("a" * 1998 + EMOJI, ["a" * 1998 + EMOJI]),
        (EMOJI * 1001, [EMOJI * 1000, EMOJI]),
    ],
)
def test_split_text_table(text: str, pieces: list[str]) -> None:
    assert split_text(text) == pieces


def test_split_text_refuses_a_limit_below_one_wide_character() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_text("abc", 1)


@given(st.text(), st.integers(min_value=2, max_value=40))
def test_split_pieces_fit_and_join_back(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < utf16_len(piece) <= limit for piece in pieces)
    assert all(utf16_len(piece) >= limit - 1 for piece in pieces[:-1])


@given(st.text(alphabet=st.sampled_from(["a", "é", EMOJI, "م", "\n"]), max_size=6000))
def test_split_at_notion_limit_fits_and_joins_back(text: str) -> None:
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(utf16_len(piece) <= 2000 for piece in pieces)


@given(st.text(), st.integers(min_value=0, max_value=30))
def test_cut_to_units_is_the_longest_fitting_prefix(text: str, units: int) -> None:
    cut = cut_to_units(text, units)
    assert text.startswith(cut)
    assert utf16_len(cut) <= units
    if cut != text:
        assert utf16_len(text[: len(cut) + 1]) > units


def test_fit_text_keeps_text_that_fits_and_marks_a_cut() -> None:
    assert fit_text("short", 100) == ("short", False)
    cut, was_cut = fit_text("x" * 200, 100, TRUNCATED)
    assert was_cut
    assert cut == "x" * (100 - utf16_len(TRUNCATED)) + TRUNCATED
    assert utf16_len(cut) == 100
    with pytest.raises(ValueError, match="does not fit"):
        fit_text("x" * 50, 5, TRUNCATED)


@given(st.text(max_size=300), st.integers(min_value=40, max_value=400))
def test_rich_text_is_the_text_or_a_marked_prefix(text: str, max_units: int) -> None:
    rich = rich_text(text, max_units=max_units, marker=TRUNCATED)
    shown = plain_text(rich)
    assert all(utf16_len(item["text"]["content"]) <= 2000 for item in rich)
    if utf16_len(text) <= max_units:
        assert shown == text
    else:
        assert shown.endswith(TRUNCATED)
        assert text.startswith(shown.removesuffix(TRUNCATED))
        assert utf16_len(shown) <= max_units


def test_rich_text_of_a_huge_text_fills_at_most_100_segments_and_ends_with_the_marker() -> None:
    text = ("a" * 1999 + EMOJI) * 150  # every segment boundary falls before an emoji
    rich = rich_text(text, marker=TRUNCATED_SEE_BODY)
    assert len(rich) <= 100
    assert all(utf16_len(item["text"]["content"]) <= 2000 for item in rich)
    shown = plain_text(rich)
    assert shown.endswith(TRUNCATED_SEE_BODY)
    assert text.startswith(shown.removesuffix(TRUNCATED_SEE_BODY))
    assert utf16_len(shown) == MAX_RICH_TEXT_UNITS


def test_rich_text_of_empty_text_is_the_clear_value() -> None:
    assert rich_text("") == []


@pytest.mark.parametrize("max_units", [0, MAX_RICH_TEXT_UNITS + 1])
def test_rich_text_refuses_a_budget_beyond_the_array_limit(max_units: int) -> None:
    with pytest.raises(ValueError, match="max_units"):
        rich_text("abc", max_units=max_units)


@given(st.text(max_size=3000), st.integers(min_value=2, max_value=5))
def test_text_blocks_keep_everything(text: str, per_block: int) -> None:
    lead = [segment("Speaker: ", bold=True)]
    blocks = text_blocks("paragraph", text, lead=lead, per_block=per_block)
    rich = [item for block in blocks for item in block["paragraph"]["rich_text"]]
    assert plain_text(rich) == "Speaker: " + text
    assert all(len(block["paragraph"]["rich_text"]) <= per_block for block in blocks)


def test_text_blocks_default_to_twenty_segments_per_block() -> None:
    blocks = text_blocks("bulleted_list_item", "z" * 2000 * 45)
    assert [len(b["bulleted_list_item"]["rich_text"]) for b in blocks] == [
        BLOCK_SEGMENTS,
        BLOCK_SEGMENTS,
        5,
    ]
    assert text_blocks("paragraph", "") == []


def test_text_blocks_refuse_a_lead_that_fills_the_block() -> None:
    with pytest.raises(ValueError, match="per_block"):
        text_blocks("paragraph", "x", lead=[segment("a")], per_block=1)


def test_batched_respects_count_and_bytes_and_keeps_order() -> None:
    blocks = text_blocks("paragraph", "é" * 2000 * 300, per_block=2)  # 150 blocks, ~8 KB each
    runs = list(batched(blocks, 100, max_bytes=100_000))
    assert [item for run in runs for item in run] == blocks
    assert all(1 <= len(run) <= 100 for run in runs)
    assert all(payload_size(run) <= 100_000 for run in runs)
    assert len(runs) > 2
    small = [segment(str(i)) for i in range(250)]
    assert [len(run) for run in batched(small)] == [100, 100, 50]


def test_batched_refuses_an_oversized_batch_count() -> None:
    with pytest.raises(ValueError, match="size"):
        list(batched([], 101))


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [("plain", "plain"), ("a\ud83db", "a\ufffdb"), ("\ud83d\ude00", EMOJI), ("\ude00", "\ufffd")],
)
def test_clean_repairs_surrogates(text: str, cleaned: str) -> None:
    assert clean(text) == cleaned
    assert segment(text)["text"]["content"] == cleaned


@given(st.text(alphabet=st.characters(codec=None, categories=["Cs", "Lu", "So"]), max_size=50))
def test_clean_text_is_sendable_and_never_longer(text: str) -> None:
    cleaned = clean(text)
    cleaned.encode()
    assert utf16_len(cleaned) <= utf16_len(text)


def test_packed_blocks_put_many_items_in_few_blocks_and_split_only_oversized_ones() -> None:
    from opsync.render.text import packed_blocks, plain_text, segment

    items = [[segment(f"L{i}: ", bold=True), segment(f"turn {i}")] for i in range(100)]
    blocks = packed_blocks("paragraph", items, per_block=30)
    assert all(len(b["paragraph"]["rich_text"]) <= 30 for b in blocks)
    assert len(blocks) == 10  # 10 items (2 segments, a newline between) fit in one block
    lines = "\n".join(plain_text(b["paragraph"]["rich_text"]) for b in blocks).split("\n")
    assert lines == [f"L{i}: turn {i}" for i in range(100)]
    huge = [[segment(str(i)) for i in range(75)]]
    split = packed_blocks("paragraph", huge, per_block=30)
    assert [len(b["paragraph"]["rich_text"]) for b in split] == [30, 30, 15]
