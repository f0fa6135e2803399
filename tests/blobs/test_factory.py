from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from opsync.blobs import LocalBlobStore, S3BlobStore, blob_store_from_settings
from opsync.blobs.factory import SIGNING_KEY_FILE
from opsync.config import load_settings
from opsync.errors import ConfigError

KEY = "recordings/2026/03/09/AC123-1773100799123.mp3"
S3_ENV = {
    "OPSYNC_S3_ACCESS_KEY_ID": "AKID",
    "OPSYNC_S3_SECRET_ACCESS_KEY": "secret",
    "OPSYNC_S3_ENDPOINT_URL": "https://acct.r2.cloudflarestorage.com",
}


def test_local_folder_with_generated_signing_key(tmp_path: Path) -> None:
    settings = load_settings(
        {"OPSYNC_BLOB_URL": str(tmp_path / "media"), "OPSYNC_PUBLIC_BASE_URL": "https://s.example"}
    )
    store = blob_store_from_settings(settings)
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "media").resolve()
    assert (tmp_path / "media" / SIGNING_KEY_FILE).exists()
    url = store.public_url(KEY)
    assert url is not None
    assert url.startswith(f"https://s.example/media/{KEY}?sig=")
    # A restart reads the same key, so links written into Notion keep working.
    assert blob_store_from_settings(settings).public_url(KEY) == url


def test_file_url_and_given_signing_key(tmp_path: Path) -> None:
    settings = load_settings({"OPSYNC_BLOB_URL": f"file://{tmp_path}/m"})
    store = blob_store_from_settings(settings, signing_key="x" * 32)
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "m").resolve()
    assert not (tmp_path / "m").exists()
    assert store.public_url(KEY) is None  # no OPSYNC_PUBLIC_BASE_URL


async def test_s3_with_public_bucket_domain() -> None:
    settings = load_settings(
        {"OPSYNC_BLOB_URL": "s3://audio/opsync?public_url=https://pub-1.r2.dev", **S3_ENV}
    )
    async with httpx.AsyncClient() as http:
        store = blob_store_from_settings(settings, http)
        assert isinstance(store, S3BlobStore)
        assert (store.bucket, store.prefix) == ("audio", "opsync")
        assert store.public_url(KEY) == f"https://pub-1.r2.dev/opsync/{KEY}"
        await store.aclose()
        assert not http.is_closed  # borrowed, not owned


async def test_s3_proxied_through_opsync() -> None:
    settings = load_settings(
        {"OPSYNC_BLOB_URL": "s3://audio", "OPSYNC_PUBLIC_BASE_URL": "https://s.example", **S3_ENV}
    )
    with pytest.raises(ConfigError, match="OPSYNC_MEDIA_SIGNING_KEY"):
        blob_store_from_settings(settings)
    store = blob_store_from_settings(settings, signing_key=b"k" * 32)
    assert (store.public_url(KEY) or "").startswith(f"https://s.example/media/{KEY}?sig=")
    assert store.signer is not None
    await store.aclose()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OPSYNC_BLOB_URL": "s3://audio"}, "OPSYNC_S3_ACCESS_KEY_ID"),
        ({"OPSYNC_BLOB_URL": "s3:///prefix", **S3_ENV}, "OPSYNC_BLOB_URL"),
        ({"OPSYNC_BLOB_URL": "gs://audio"}, "OPSYNC_BLOB_URL"),
    ],
)
def test_config_errors(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        blob_store_from_settings(load_settings(env))
    assert caught.value.variable == variable
