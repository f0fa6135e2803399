"""``standalone.run``: prints what a demo user needs, then serves the app forever."""

from __future__ import annotations

from typing import Any

import pytest

from opsync.sandbox.openphone import standalone


def test_run_prints_base_url_and_numbers_then_serves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(standalone, "run_forever", lambda app, h, p: served.append((app, h, p)))
    standalone.run(host="127.0.0.1", port=8701, api_key=None, seed=4)
    out = capsys.readouterr().out
    sim = standalone.build(None, 4)
    assert "http://127.0.0.1:8701/v1" in out
    assert "any non-empty API key" in out
    for number in sim.workspace.phone_numbers:
        assert number["id"] in out
        assert number["number"] in out
    ((app, host, port),) = served
    assert (host, port) == ("127.0.0.1", 8701)
    assert callable(app)


def test_banner_with_a_fixed_key() -> None:
    sim = standalone.build("secret", 1)
    assert sim.config.api_key == "secret"
    text = standalone.banner(sim, "http://h:1")
    assert "only the --api-key" in text
    assert "any non-empty" not in text
