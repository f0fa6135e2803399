"""OpenPhone (Quo) v1 API: the async client, its models and the webhook envelopes.

Signature verification lives in :mod:`opsync.openphone.signatures`.
"""

from opsync.openphone._errors import (
    OpenPhoneAuthError,
    OpenPhoneNotFound,
    OpenPhoneRequestError,
)
from opsync.openphone.client import OpenPhoneClient
from opsync.openphone.events import EventRef, WebhookEnvelope, event_ref, parse_envelope

__all__ = [
    "EventRef",
    "OpenPhoneAuthError",
    "OpenPhoneClient",
    "OpenPhoneNotFound",
    "OpenPhoneRequestError",
    "WebhookEnvelope",
    "event_ref",
    "parse_envelope",
]
