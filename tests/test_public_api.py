"""Each package's ``__all__`` is honest: every name exists, is public, and is listed once."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "opsync.store",
    "opsync.blobs",
    "opsync.canvas",
    "opsync.demo",
    "opsync.sync",
    "opsync.web",
    "opsync.render",
    "opsync.openphone",
    "opsync.notion",
    "opsync.sandbox.openphone",
    "opsync.sandbox.notion",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported, f"{name} exports nothing"
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert not symbol.startswith("_"), symbol
        assert hasattr(module, symbol), f"{name}.{symbol} is listed but missing"
