"""Settings: seed variable names, defaults, secrets masked, missing settings named."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsync.config import DEFAULT_DATABASE_URL, load_settings
from opsync.errors import ConfigError


def test_defaults_match_the_seed_and_the_issue() -> None:
    s = load_settings({})
    assert s.openphone_api_base == "https://api.openphone.com/v1"
    assert s.webhook_path == "/webhooks/openphone"
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.blob_url == "./opsync-media"
    assert s.sync_cron == "0 */6 * * *"
    assert s.log_level == "INFO"
    assert s.notion_base_url == "https://api.notion.com"
    assert s.openphone_api_key is None


def test_seed_names_are_read_case_insensitively() -> None:
    s = load_settings(
        {
            "OPENPHONE_API_KEY": "op-key",
            "NOTION_API_KEY": "ntn-key",
            "notion_calls_database_id": "calls",
            "NOTION_MESSAGES_DATABASE_ID": "msgs",
            "NOTION_CANVAS_DATABASE_ID": "canvas",
            "WEBHOOK_SECRET": "whsec_a, legacy ,",
            "LOG_LEVEL": "debug",
            "WEBHOOK_PATH": "hooks/op",
            "OPSYNC_DATABASE_URL": "postgresql://db/x",
            "OPSYNC_NOTION_BASE_URL": "http://127.0.0.1:9/",
            "UNRELATED": "ignored",
        }
    )
    assert s.secret("openphone_api_key") == "op-key"
    assert s.secret("notion_api_key") == "ntn-key"
    assert (s.notion_calls_database_id, s.notion_messages_database_id) == ("calls", "msgs")
    assert s.webhook_keys() == ["whsec_a", "legacy"]
    assert s.log_level == "DEBUG"
    assert s.webhook_path == "/hooks/op"
    assert s.database_url == "postgresql://db/x"
    assert s.notion_base_url == "http://127.0.0.1:9"


def test_secrets_never_appear_in_repr_or_dump() -> None:
    s = load_settings({"OPENPHONE_API_KEY": "sk-very-secret", "OPSYNC_ADMIN_TOKEN": "adm-secret"})
    text = repr(s) + str(s) + s.model_dump_json()
    assert "sk-very-secret" not in text
    assert "adm-secret" not in text


def test_require_names_the_variable_and_its_purpose() -> None:
    s = load_settings({})
    with pytest.raises(ConfigError) as info:
        s.require("notion_api_key")
    assert info.value.variable == "NOTION_API_KEY"
    assert str(info.value).startswith("NOTION_API_KEY is not set: Notion integration token")


def test_empty_secret_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="OPENPHONE_API_KEY"):
        load_settings({"OPENPHONE_API_KEY": ""}).secret("openphone_api_key")


def test_invalid_log_level_rejected() -> None:
    with pytest.raises(ValueError, match="log level"):
        load_settings({"LOG_LEVEL": "loud"})


def test_overrides_win_over_environment() -> None:
    s = load_settings({"OPSYNC_DATABASE_URL": "sqlite:///a.db"}, overrides={"database_url": "x"})
    assert s.database_url == "x"


def test_env_file_and_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NOTION_CALLS_DATABASE_ID=from-file\nLOG_LEVEL=warning\n")
    monkeypatch.setenv("LOG_LEVEL", "error")
    s = load_settings(env_file=env_file, overrides={"blob_url": "s3://b/p"})
    assert s.notion_calls_database_id == "from-file"
    assert s.log_level == "ERROR"  # the process environment wins over the file
    assert s.blob_url == "s3://b/p"


def test_shutdown_timeout_defaults_to_30_seconds_and_must_be_positive() -> None:
    assert load_settings({}).shutdown_timeout == 30.0
    assert load_settings({"OPSYNC_SHUTDOWN_TIMEOUT": "2.5"}).shutdown_timeout == 2.5
    with pytest.raises(ValueError, match=r"OPSYNC_SHUTDOWN_TIMEOUT|shutdown_timeout"):
        load_settings({"OPSYNC_SHUTDOWN_TIMEOUT": "0"})


def test_lease_seconds_defaults_to_60_and_is_bounded() -> None:
    assert load_settings({}).lease_seconds == 60.0
    assert load_settings({"OPSYNC_LEASE_SECONDS": "3"}).lease_seconds == 3.0
    with pytest.raises(ValueError, match=r"OPSYNC_LEASE_SECONDS|lease_seconds"):
        load_settings({"OPSYNC_LEASE_SECONDS": "0.5"})
