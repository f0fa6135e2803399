"""Keyset pagination: every item exactly once, in order, whatever the page size or ties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.sandbox.openphone import params
from opsync.sandbox.openphone.errors import ApiError

Item = tuple[float, str]


def _walk(items: list[Item], limit: int, descending: bool) -> list[Item]:
    seen: list[Item] = []
    token: str | None = None
    for _ in range(len(items) + 2):
        page: dict[str, Any] = params.paginate(
            items,
            sort_key=lambda item: item,
            descending=descending,
            limit=limit,
            token=token,
            resource="calls",
            render=lambda item: {"t": item[0], "id": item[1]},
        )
        assert page["totalItems"] == len(items)
        assert len(page["data"]) <= limit
        seen += [(d["t"], d["id"]) for d in page["data"]]
        token = page["nextPageToken"]
        if token is None:
            return seen
    raise AssertionError("pagination did not end")


@given(
    times=st.lists(st.integers(0, 5), max_size=40),
    limit=st.integers(1, 7),
    descending=st.booleans(),
)
def test_walk_returns_every_item_once_in_order(
    times: list[int], limit: int, descending: bool
) -> None:
    items = [(float(t), f"AC{i:03d}") for i, t in enumerate(times)]
    walked = _walk(items, limit, descending)
    assert walked == sorted(items, reverse=descending)


def test_last_page_token_is_null_even_when_full() -> None:
    items = [(1.0, "a"), (2.0, "b")]
    page = params.paginate(
        items, sort_key=lambda i: i, descending=False, limit=2, token=None,
        resource="users", render=lambda i: {"id": i[1]},
    )  # fmt: skip
    assert page["nextPageToken"] is None


@pytest.mark.parametrize("token", ["***", "bnVsbA", "WzEsMl0x"])
def test_bad_tokens_are_400(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        params.paginate(
            [(1.0, "a")], sort_key=lambda i: i, descending=True, limit=1, token=token,
            resource="calls", render=lambda i: {"id": i[1]},
        )  # fmt: skip
    assert caught.value.status == 400
