"""Blob store for call recordings and voicemails: local folder or S3-compatible bucket."""

from opsync.blobs.base import BlobInfo, BlobStat, BlobStore
from opsync.blobs.factory import blob_store_from_settings
from opsync.blobs.keys import InvalidKey, recording_key, voicemail_key
from opsync.blobs.local import LocalBlobStore
from opsync.blobs.media_app import media_routes
from opsync.blobs.s3 import S3BlobStore
from opsync.blobs.signing import MediaSigner

__all__ = [
    "BlobInfo",
    "BlobStat",
    "BlobStore",
    "InvalidKey",
    "LocalBlobStore",
    "MediaSigner",
    "S3BlobStore",
    "blob_store_from_settings",
    "media_routes",
    "recording_key",
    "voicemail_key",
]
