from __future__ import annotations

import opsync.blobs


def test_public_surface() -> None:
    assert sorted(opsync.blobs.__all__) == [
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
    for name in opsync.blobs.__all__:
        assert getattr(opsync.blobs, name) is not None
