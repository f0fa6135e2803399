"""The package's public names exist and nothing else is advertised."""

from __future__ import annotations

import opsync.render


def test_all_names_exist() -> None:
    assert sorted(opsync.render.__all__) == opsync.render.__all__
    for name in opsync.render.__all__:
        assert getattr(opsync.render, name) is not None
