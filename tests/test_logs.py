"""Logs are JSON lines with the ``extra`` fields, and secrets never reach them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from opsync import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure("DEBUG", secrets=["sk-live-abcdef123456", "abc"], stream=out)
    yield out
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_opsync", False):
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_records_are_json_with_action_and_extra(stream: io.StringIO) -> None:
    logging.getLogger("opsync.test").info(
        "claimed", extra={"action": "event_claimed", "event_id": 7, "partition": "PN1"}
    )
    [line] = lines(stream)
    assert line["event"] == "claimed"
    assert line["action"] == "event_claimed"
    assert line["event_id"] == 7
    assert line["partition"] == "PN1"
    assert line["level"] == "info"
    assert line["logger"] == "opsync.test"
    assert str(line["timestamp"]).endswith("Z")


def test_secret_values_and_secret_keys_are_masked(stream: io.StringIO) -> None:
    log = logging.getLogger("opsync.test")
    log.warning("calling with sk-live-abcdef123456", extra={"api_key": "whatever", "n": "abc"})
    log.error("nested", extra={"request": {"headers": {"Authorization": "Bearer x"}}})
    text = stream.getvalue()
    assert "sk-live-abcdef123456" not in text
    assert "whatever" not in text
    assert "Bearer x" not in text
    first, second = lines(stream)
    assert first["event"] == "calling with ***"
    assert first["api_key"] == "***"
    assert first["n"] == "abc"  # too short to be a real secret: left alone
    assert second["request"] == {"headers": {"Authorization": "***"}}


def test_exceptions_are_rendered_and_scrubbed(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("token sk-live-abcdef123456 refused")
    except RuntimeError:
        logging.getLogger("opsync.test").exception("failed", extra={"action": "x"})
    [line] = lines(stream)
    assert "RuntimeError" in str(line["exception"])
    assert "sk-live-abcdef123456" not in stream.getvalue()


def test_level_filters(stream: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("opsync.test").info("quiet")
    assert lines(stream) == []


def test_secrets_are_masked_wherever_they_hide(stream: io.StringIO) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "holds sk-live-abcdef123456 inside"

    log = logging.getLogger("opsync.test")
    log.info("opaque", extra={"thing": Opaque(), "nested": [{"text": "x sk-live-abcdef123456"}]})
    assert "sk-live-abcdef123456" not in stream.getvalue()
    [line] = lines(stream)
    assert line["thing"] == "holds *** inside"
    assert line["nested"] == [{"text": "x ***"}]


def test_a_secret_that_json_escapes_is_masked_too() -> None:
    out = io.StringIO()
    logs.configure("INFO", secrets=['quo"te\\key-1234'], stream=out)
    try:
        logging.getLogger("opsync.test").info('sent quo"te\\key-1234 away')
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_opsync", False):
                root.removeHandler(handler)
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["event"] == "sent *** away"


def test_serve_scrubs_the_stored_webhook_keys_too() -> None:
    from opsync.cli.serve import configure_logging
    from opsync.config import load_settings

    out = io.StringIO()
    stored = "whsec_c3RvcmVkLWluLXRoZS1kYXRhYmFzZQ=="
    settings = load_settings({"OPENPHONE_API_KEY": "op-key-123456"}, env_file=None)
    try:
        configure_logging(settings, [stored])
        # configure_logging writes to stdout: point its handler at our buffer
        root = logging.getLogger()
        [handler] = [h for h in root.handlers if getattr(h, "_opsync", False)]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(out)
        logging.getLogger("opsync.test").warning("key %s and op-key-123456", stored)
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_opsync", False):
                root.removeHandler(handler)
        root.setLevel(logging.WARNING)
    assert stored not in out.getvalue()
    assert "op-key-123456" not in out.getvalue()
    assert "key *** and ***" in out.getvalue()
