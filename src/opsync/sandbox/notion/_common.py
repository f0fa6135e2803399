"""Small helpers shared by the simulator's modules: ids, timestamps, JSON types."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]


def parse_id(raw: object) -> str | None:
    """A Notion id in canonical form (lowercase, dashed), or ``None`` if ``raw`` is not one."""
    if not isinstance(raw, str):
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        return None


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso_minute(epoch: float) -> str:
    """Notion's timestamp form, rounded down to the minute: ``2025-10-01T14:30:00.000Z``."""
    moment = datetime.fromtimestamp(epoch, UTC).replace(second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:00.000Z")


def iso_exact(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plain_text(rich: object) -> str:
    """Concatenated ``plain_text`` of a stored (response-form) rich-text array."""
    if not isinstance(rich, list):
        return ""
    return "".join(str(item.get("plain_text", "")) for item in rich if isinstance(item, dict))
