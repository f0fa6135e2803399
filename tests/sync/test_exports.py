"""``opsync.sync.__all__`` is honest: every name exists, is public, and is listed once."""

from __future__ import annotations

import opsync.sync


def test_all_names_exist_and_are_public() -> None:
    exported = list(opsync.sync.__all__)
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert not symbol.startswith("_"), symbol
        assert hasattr(opsync.sync, symbol), symbol
