"""Build the configured blob store from :class:`~opsync.config.Settings`.

``OPSYNC_BLOB_URL``:

- ``./folder``, ``/abs/folder`` or ``file:///abs/folder`` → :class:`LocalBlobStore`. Links are
  ``OPSYNC_PUBLIC_BASE_URL/media/{key}?sig=…``; the signing key is the one given, else a random
  key kept in ``{folder}/.signing-key`` (created on first use, never served).
- ``s3://bucket/prefix`` → :class:`S3BlobStore` with ``OPSYNC_S3_ENDPOINT_URL`` (empty: AWS),
  ``OPSYNC_S3_REGION`` and the ``OPSYNC_S3_*`` credentials. Add ``?public_url=https://…`` when
  a public domain serves the bucket root (an R2 public bucket, a CDN): links point there.
  Otherwise links are opsync's signed ``/media/`` URLs, proxied from the bucket, which needs a
  signing key shared by every instance (``signing_key``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from opsync.blobs._sigv4 import Credentials
from opsync.blobs.base import BlobStore
from opsync.blobs.local import LocalBlobStore
from opsync.blobs.s3 import S3BlobStore
from opsync.blobs.signing import MediaSigner, load_or_create_key
from opsync.clock import Clock
from opsync.config import Settings
from opsync.errors import ConfigError

SIGNING_KEY_FILE = ".signing-key"
SIGNING_KEY_VARIABLE = "OPSYNC_MEDIA_SIGNING_KEY"


def blob_store_from_settings(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    *,
    signing_key: bytes | str | None = None,
    clock: Clock | None = None,
) -> BlobStore:
    """The blob store ``settings.blob_url`` names. ``http`` is used (not closed) for S3.

    Raises :class:`ConfigError` for an unknown scheme, missing S3 credentials, or an S3 store
    whose links opsync must sign without a ``signing_key``.
    """
    url = settings.blob_url.strip()
    split = urlsplit(url)
    if split.scheme == "s3":
        return _s3_store(settings, http, signing_key, clock)
    if split.scheme == "file":
        root = Path(unquote(split.path))
    elif split.scheme and len(split.scheme) > 1:  # "C:\…" parses with scheme "c"
        raise ConfigError(
            "OPSYNC_BLOB_URL", f"unsupported scheme {split.scheme!r}: use a folder or s3://"
        )
    else:
        root = Path(url)
    key = signing_key if signing_key is not None else load_or_create_key(root / SIGNING_KEY_FILE)
    return LocalBlobStore(
        root,
        signer=MediaSigner(key, clock=clock),
        public_base_url=settings.public_base_url,
    )


def _s3_store(
    settings: Settings,
    http: httpx.AsyncClient | None,
    signing_key: bytes | str | None,
    clock: Clock | None,
) -> S3BlobStore:
    split = urlsplit(settings.blob_url.strip())
    if not split.netloc:
        raise ConfigError("OPSYNC_BLOB_URL", "s3://bucket/prefix needs a bucket name")
    public_urls = parse_qs(split.query).get("public_url", [])
    public_url = public_urls[0] if public_urls else None
    credentials = Credentials(
        access_key_id=settings.secret("s3_access_key_id"),
        secret_access_key=settings.secret("s3_secret_access_key"),
    )
    signer = MediaSigner(signing_key, clock=clock) if signing_key is not None else None
    if public_url is None and settings.public_base_url and signer is None:
        raise ConfigError(
            SIGNING_KEY_VARIABLE,
            "an S3 bucket without ?public_url= is served through opsync's signed /media/ links",
        )
    return S3BlobStore(
        split.netloc,
        prefix=unquote(split.path),
        credentials=credentials,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        http=http,
        public_url_base=public_url,
        media_base_url=settings.public_base_url,
        signer=signer,
        clock=clock,
    )
