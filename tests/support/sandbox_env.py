"""The settings (as environment variables) of an opsync pointed at both simulators."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opsync.sandbox.notion import SeededDatabases

API_KEY = "e2e-openphone-key"
NOTION_TOKEN = "ntn_e2eToken"


def sandbox_environ(
    *,
    openphone_url: str,
    notion_url: str,
    seeded: SeededDatabases,
    data_dir: Path,
    public_base_url: str = "http://opsync.test",
    webhook_keys: Sequence[str] = (),
    canvas: bool = True,
    **extra: str,
) -> dict[str, str]:
    """``OPENPHONE_*``, ``NOTION_*`` and ``OPSYNC_*`` for the simulators at these URLs, with the
    store and media under ``data_dir``; ``extra`` adds or overrides variables."""
    environ = {
        "OPENPHONE_API_KEY": API_KEY,
        "OPENPHONE_API_BASE": f"{openphone_url}/v1",
        "NOTION_API_KEY": NOTION_TOKEN,
        "OPSYNC_NOTION_BASE_URL": notion_url,
        "NOTION_CALLS_DATABASE_ID": seeded.calls_database_id,
        "NOTION_MESSAGES_DATABASE_ID": seeded.messages_database_id,
        "OPSYNC_DATABASE_URL": f"sqlite:///{data_dir / 'opsync.db'}",
        "OPSYNC_BLOB_URL": str(data_dir / "media"),
        "OPSYNC_PUBLIC_BASE_URL": public_base_url,
    }
    if canvas:
        environ["NOTION_CANVAS_DATABASE_ID"] = seeded.canvas_database_id
    if webhook_keys:
        environ["WEBHOOK_SECRET"] = ",".join(webhook_keys)
    return environ | extra
