"""Canvas links: the customer's page in the user's Canvas database, by phone or email."""

from opsync.canvas.lookup import CanvasLookup, CanvasMatch, CanvasStats, Resolution
from opsync.canvas.phones import normalize_email, normalize_phone, phone_variants

__all__ = [
    "CanvasLookup",
    "CanvasMatch",
    "CanvasStats",
    "Resolution",
    "normalize_email",
    "normalize_phone",
    "phone_variants",
]
