"""The flat v1 error body, with the per-resource codes of the official OpenAPI description.

Code format ``RR SS HHH``: resource (2 digits), sub-code (2 digits), HTTP status (3 digits).
The spec pins, per endpoint and status, one ``code``/``title`` (and for "named" errors a
``description`` equal to the title) as JSON-schema constants. The simulator follows the spec
to the letter, so *every* 400 of a resource carries that resource's one documented 400 code —
e.g. any 400 of ``/v1/calls`` is ``0101400`` "Too Many Participants", any 400 of
``/v1/messages`` is ``0206400``. The actual reason is in ``message`` and, for parameter
problems, in ``errors[]`` (``{path, message, value, schema: {type}}``). Clients must branch
on the HTTP status, never on the code or the text.

Statuses the spec does not define for an endpoint (429, 502/503/504) use the same body shape
with the generic sub-code ``00`` (e.g. ``0100429`` "Too Many Requests").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

DOCS_URL = "https://openphone.com/docs"

#: resource name → the two leading digits of its error codes
RESOURCE_DIGITS: dict[str, str] = {
    "calls": "01",
    "messages": "02",
    "webhooks": "03",
    "phone-numbers": "04",
    "call-summaries": "05",
    "call-transcripts": "06",
    "contact-custom-fields": "07",
    "contacts": "08",
    "call-recordings": "09",
    "conversations": "10",
    "users": "11",
    "call-voicemails": "12",
}

#: (resource, status) → (sub-code, title, description or None) where the spec names the error
_NAMED: dict[tuple[str, int], tuple[str, str, str | None]] = {
    ("calls", 400): ("01", "Too Many Participants", "Too Many Participants"),
    ("calls", 403): ("01", "Not Phone Number User", "Not Phone Number User"),
    ("messages", 400): ("06", "A2P Registration Not Approved", "A2P Registration Not Approved"),
    (
        "messages",
        402,
    ): (
        "00",
        "The organization does not have enough prepaid credits to send the message",
        "Not Enough Credits",
    ),
    ("messages", 403): ("02", "Not Phone Number User", "Not Phone Number User"),
    ("webhooks", 400): ("05", "Invalid Version", "Invalid Version"),
    ("contacts", 400): ("01", "Invalid Custom Field Item", "Invalid Custom Field Item"),
    ("contacts", 403): ("01", "Not Phone Number User", "Not Phone Number User"),
    ("conversations", 403): ("01", "Not Phone Number User", "Not Phone Number User"),
}


def new_trace() -> str:
    """A request trace id, as the real API puts in ``trace``."""
    return uuid.uuid4().hex


@dataclass
class FieldError:
    """One ``errors[]`` item: where, why, the offending value and the expected JSON type."""

    path: str
    message: str
    value: Any = None
    schema_type: str = "string"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "value": self.value,
            "schema": {"type": self.schema_type},
        }


@dataclass
class ApiError(Exception):
    """Raised by a handler; the app turns it into the flat error body of ``resource``."""

    resource: str
    status: int
    message: str
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.resource}: {self.message}"


def error_code(resource: str, status: int) -> tuple[str, str, str | None]:
    """``(code, title, description)`` the spec documents for ``resource`` and ``status``."""
    digits = RESOURCE_DIGITS[resource]
    named = _NAMED.get((resource, status))
    if named is not None:
        sub, title, description = named
    elif status == 500:
        sub, title, description = "01", "Unknown", None
    else:
        sub, title, description = "00", HTTPStatus(status).phrase, None
    return f"{digits}{sub}{status:03d}", title, description


def error_body(
    resource: str, status: int, message: str, errors: list[FieldError] | None = None
) -> dict[str, Any]:
    code, title, description = error_code(resource, status)
    body: dict[str, Any] = {
        "message": message,
        "code": code,
        "status": status,
        "docs": DOCS_URL,
        "title": title,
        "trace": new_trace(),
    }
    if errors:
        body["errors"] = [item.to_json() for item in errors]
    if description is not None:
        body["description"] = description
    return body


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_body(error.resource, error.status, error.message, error.errors)
    return JSONResponse(body, status_code=error.status, headers=headers)
