"""Settings: read once from the environment and ``.env``, with the seed's variable names.

Secrets are :class:`pydantic.SecretStr`: their repr is masked, so they stay out of logs and
tracebacks. Nothing else in opsync reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opsync.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./opsync.db"


class Settings(BaseSettings):
    """Every setting opsync reads. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    openphone_api_key: SecretStr | None = Field(
        None,
        validation_alias="OPENPHONE_API_KEY",
        description="OpenPhone (Quo) API key, from Workspace settings → API",
    )
    openphone_api_base: str = Field(
        "https://api.openphone.com/v1",
        validation_alias="OPENPHONE_API_BASE",
        description="OpenPhone API base URL, including /v1",
    )
    notion_api_key: SecretStr | None = Field(
        None,
        validation_alias="NOTION_API_KEY",
        description="Notion integration token (secret_… or ntn_…)",
    )
    notion_calls_database_id: str | None = Field(
        None,
        validation_alias="NOTION_CALLS_DATABASE_ID",
        description="Notion database that receives one page per call",
    )
    notion_messages_database_id: str | None = Field(
        None,
        validation_alias="NOTION_MESSAGES_DATABASE_ID",
        description="Notion database that receives one page per text message",
    )
    notion_canvas_database_id: str | None = Field(
        None,
        validation_alias="NOTION_CANVAS_DATABASE_ID",
        description="Notion database of customers that calls and messages link to",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        validation_alias="WEBHOOK_SECRET",
        description="webhook signing key(s), comma-separated: whsec_… or legacy base64",
    )
    alert_webhook_url: SecretStr | None = Field(
        None,
        validation_alias="ALERT_WEBHOOK_URL",
        description="URL that receives an alert when an event is dead-lettered",
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL", description="log level")
    webhook_path: str = Field(
        "/webhooks/openphone",
        validation_alias="WEBHOOK_PATH",
        description="path that receives OpenPhone webhooks",
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias="OPSYNC_DATABASE_URL",
        description="SQLite file or PostgreSQL URL of the store",
    )
    blob_url: str = Field(
        "./opsync-media",
        validation_alias="OPSYNC_BLOB_URL",
        description="local folder or s3://bucket/prefix for recordings and voicemails",
    )
    public_base_url: str | None = Field(
        None,
        validation_alias="OPSYNC_PUBLIC_BASE_URL",
        description="public URL of this service, used in links to stored audio",
    )
    admin_token: SecretStr | None = Field(
        None,
        validation_alias="OPSYNC_ADMIN_TOKEN",
        description="bearer token of the admin API and dashboard",
    )
    sync_cron: str = Field(
        "0 */6 * * *",
        validation_alias="OPSYNC_SYNC_CRON",
        description="cron schedule of the incremental backfill",
    )
    notion_base_url: str = Field(
        "https://api.notion.com",
        validation_alias="OPSYNC_NOTION_BASE_URL",
        description="Notion API base URL (point it at a simulator for tests)",
    )

    mapping_file: str | None = Field(
        None,
        validation_alias="OPSYNC_MAPPING_FILE",
        description="TOML file renaming or switching off the Calls and Messages properties "
        "(default: ./opsync.toml when it exists; empty: none)",
    )

    media_signing_key: SecretStr | None = Field(
        None,
        validation_alias="OPSYNC_MEDIA_SIGNING_KEY",
        description="key that signs /media/ links; shared by every instance (S3 without a "
        "public bucket URL needs it; a local folder keeps its own in .signing-key)",
    )
    concurrency: int = Field(
        8,
        ge=1,
        le=256,
        validation_alias="OPSYNC_CONCURRENCY",
        description="how many phone numbers are worked on at once",
    )
    max_attempts: int = Field(
        8,
        ge=1,
        le=100,
        validation_alias="OPSYNC_MAX_ATTEMPTS",
        description="attempts before an event with transient errors is dead-lettered",
    )
    call_settle_seconds: float = Field(
        600.0,
        ge=0,
        validation_alias="OPSYNC_CALL_SETTLE_SECONDS",
        description="how long after a call ends its page may wait for the recording, "
        "transcript and summary, so that it is written once (0: write on every event)",
    )
    shutdown_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        validation_alias="OPSYNC_SHUTDOWN_TIMEOUT",
        description="seconds a SIGTERM gives in-flight work to finish before it is released "
        "for the next start; keep it below your supervisor's kill timeout",
    )
    canvas_negative_ttl: float = Field(
        3600.0,
        ge=0,
        validation_alias="OPSYNC_CANVAS_NEGATIVE_TTL",
        description="seconds a Canvas lookup miss is remembered before Notion is asked again",
    )
    initial_window: float = Field(
        86_400.0,
        gt=0,
        validation_alias="OPSYNC_INITIAL_WINDOW",
        description="seconds of history the first incremental sync of a phone number covers "
        "(backfill --since or --all asks for more)",
    )
    pending_window: float = Field(
        7 * 86_400.0,
        ge=0,
        validation_alias="OPSYNC_PENDING_WINDOW",
        description="seconds back the incremental sync looks for calls whose recording, "
        "transcript or summary was still pending, to fetch what is still missing",
    )
    lease_seconds: float = Field(
        60.0,
        ge=1,
        le=3600,
        validation_alias="OPSYNC_LEASE_SECONDS",
        description="seconds an instance holds an event it works on without renewing its "
        "lease; after a crash, another instance takes the event over once it expires",
    )
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias="OPSYNC_S3_ENDPOINT_URL",
        description="endpoint of an S3-compatible store (R2, MinIO); empty for AWS S3",
    )
    s3_region: str = Field(
        "auto",
        validation_alias="OPSYNC_S3_REGION",
        description="region of the S3-compatible store",
    )
    s3_access_key_id: SecretStr | None = Field(
        None,
        validation_alias="OPSYNC_S3_ACCESS_KEY_ID",
        description="access key id of the S3-compatible store",
    )
    s3_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias="OPSYNC_S3_SECRET_ACCESS_KEY",
        description="secret access key of the S3-compatible store",
    )

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("webhook_path")
    @classmethod
    def _slash_path(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    @field_validator("openphone_api_base", "notion_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def require(self, name: str) -> Any:
        """The value of setting ``name``; raises :class:`ConfigError` naming its variable."""
        value = getattr(self, name)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            field = type(self).model_fields[name]
            alias = field.validation_alias
            variable = alias if isinstance(alias, str) else name.upper()
            raise ConfigError(variable, field.description or "required")
        return value

    def secret(self, name: str) -> str:
        """The plain value of a required secret setting."""
        value = self.require(name)
        assert isinstance(value, SecretStr)
        return value.get_secret_value()

    def webhook_keys(self) -> list[str]:
        """The configured webhook signing keys (comma-separated in ``WEBHOOK_SECRET``)."""
        if self.webhook_secret is None:
            return []
        raw = self.webhook_secret.get_secret_value()
        return [key.strip() for key in raw.split(",") if key.strip()]


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | Path | None = ".env",
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from ``environ`` (default: the process environment and ``env_file``).

    ``overrides`` (keyed by field name) win over both, e.g. the CLI's ``--db``.
    """
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    if environ is not None:
        known = {
            (f.validation_alias if isinstance(f.validation_alias, str) else n).upper(): n
            for n, f in Settings.model_fields.items()
        }
        for key, value in environ.items():
            if key.upper() in known:
                values[known[key.upper()]] = value
        return Settings.model_validate({**values, **overrides})
    return Settings(_env_file=env_file, **overrides)
