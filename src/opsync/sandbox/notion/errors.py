"""Errors the simulator answers with: Notion's status codes and ``{object: "error", ...}`` body."""

from __future__ import annotations

from typing import Any

from opsync.sandbox.notion._common import parse_id


class NotionError(Exception):
    """An API error; the app renders it as Notion's error JSON with this status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        additional_data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.additional_data = additional_data
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.additional_data is not None:
            out["additional_data"] = self.additional_data
        return out


def validation_error(message: str) -> NotionError:
    return NotionError(400, "validation_error", message)


def body_error(path: str, expectation: str, actual: object) -> NotionError:
    """``body failed validation: <path> should be <expectation>, instead was `<actual>`.``"""
    return validation_error(
        f"body failed validation: {path} should be {expectation}, instead was `{actual}`."
    )


def too_long(path: str, limit: int, actual: int) -> NotionError:
    return body_error(f"{path}.length", f"≤ `{limit}`", actual)


def not_found(kind: str, object_id: str) -> NotionError:
    object_id = parse_id(object_id) or object_id
    return NotionError(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {object_id}. "
        "Make sure the relevant pages and databases are shared with your integration.",
    )
