from __future__ import annotations

from types import ModuleType

import opsync.web as package


def test_all_names_exist_and_are_sorted() -> None:
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_all_lists_every_public_name_of_the_package() -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(package.__all__)
