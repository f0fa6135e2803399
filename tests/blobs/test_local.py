from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opsync.blobs import BlobStore, LocalBlobStore, MediaSigner
from opsync.blobs.keys import InvalidKey
from opsync.blobs.local import TEMP_DIR
from opsync.errors import NotFound, UpstreamUnavailable

KEY = "recordings/2026/03/09/AC123-1773100799123.mp3"
MIB = 1024 * 1024


class Boom(Exception):
    pass


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in await store.open_stream(key, start=start, end=end)])


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "media", chunk_size=4)


async def test_round_trip(store: LocalBlobStore) -> None:
    assert isinstance(store, BlobStore)
    info = await store.put_stream(KEY, _chunks(b"hello ", b"world"), "audio/mpeg")
    assert (info.key, info.size) == (KEY, 11)
    assert info.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert await store.exists(KEY)
    stat = await store.stat(KEY)
    assert stat is not None
    assert (stat.size, stat.content_type) == (11, "audio/mpeg")
    assert await _read(store, KEY) == b"hello world"
    assert await _read(store, KEY, 2, 7) == b"llo wo"
    assert await _read(store, KEY, 6) == b"world"
    assert (store.root / KEY).read_bytes() == b"hello world"


async def test_replace_and_delete_are_idempotent(store: LocalBlobStore) -> None:
    await store.put_stream(KEY, _chunks(b"one"), "audio/mpeg")
    await store.put_stream(KEY, _chunks(b"two!"), "audio/mpeg")
    assert await _read(store, KEY) == b"two!"
    await store.delete(KEY)
    await store.delete(KEY)
    assert not await store.exists(KEY)
    assert await store.stat(KEY) is None
    with pytest.raises(NotFound):
        await store.open_stream(KEY)


async def test_failing_iterator_leaves_nothing(store: LocalBlobStore) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"partial data"
        assert not await store.exists(KEY)  # mid-write: not visible under its key
        raise Boom

    with pytest.raises(Boom):
        await store.put_stream(KEY, failing(), "audio/mpeg")
    assert not await store.exists(KEY)
    assert not (store.root / "recordings").exists()
    assert list((store.root / TEMP_DIR).iterdir()) == []


async def test_failed_replacement_keeps_previous_object(store: LocalBlobStore) -> None:
    await store.put_stream(KEY, _chunks(b"old"), "audio/mpeg")

    async def failing() -> AsyncIterator[bytes]:
        yield b"new and longer"
        raise Boom

    with pytest.raises(Boom):
        await store.put_stream(KEY, failing(), "audio/mpeg")
    assert await _read(store, KEY) == b"old"


async def test_cancelled_write_leaves_nothing(store: LocalBlobStore) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        yield b"x"
        started.set()
        await asyncio.Event().wait()
        yield b"never"

    task = asyncio.create_task(store.put_stream(KEY, endless(), "audio/mpeg"))
    async with asyncio.timeout(2):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await store.exists(KEY)
    assert list((store.root / TEMP_DIR).iterdir()) == []


async def test_50_mib_streams_chunk_by_chunk(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    count = 50
    produced = 0
    expected = hashlib.sha256()

    async def source() -> AsyncIterator[bytes]:
        nonlocal produced
        for index in range(count):
            # Every chunk handed out before must already be on disk in the temporary file:
            # the store writes as it reads, holding no more than one chunk.
            (temp,) = list((tmp_path / TEMP_DIR).iterdir())
            assert temp.stat().st_size == produced * MIB
            chunk = bytes([index]) * MIB
            expected.update(chunk)
            produced += 1
            yield chunk

    info = await store.put_stream(KEY, source(), "audio/mpeg")
    assert produced == count
    assert info.size == count * MIB
    assert info.sha256 == expected.hexdigest()

    seen = 0
    reader = await store.open_stream(KEY)
    async for chunk in reader:
        assert len(chunk) <= 256 * 1024
        seen += len(chunk)
    assert seen == count * MIB


@pytest.mark.parametrize("key", ["../escape.mp3", "/abs.mp3", ".signing-key", "a//b"])
async def test_traversal_rejected_everywhere(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put_stream(key, _chunks(b"x"), "audio/mpeg")
    with pytest.raises(InvalidKey):
        await store.exists(key)
    with pytest.raises(InvalidKey):
        await store.open_stream(key)
    with pytest.raises(InvalidKey):
        await store.delete(key)
    with pytest.raises(InvalidKey):
        store.public_url(key)


async def test_symlink_out_of_root_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalBlobStore(tmp_path / "media")
    store.root.mkdir()
    (store.root / "recordings").symlink_to(outside)
    with pytest.raises(InvalidKey):
        await store.put_stream(KEY, _chunks(b"x"), "audio/mpeg")


async def test_disk_failure_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = LocalBlobStore(blocker)
    with pytest.raises(UpstreamUnavailable):
        await store.put_stream(KEY, _chunks(b"x"), "audio/mpeg")


def test_public_url(tmp_path: Path) -> None:
    signer = MediaSigner(b"k" * 32)
    store = LocalBlobStore(tmp_path, signer=signer, public_base_url="https://sync.example.com")
    url = store.public_url(KEY)
    assert url == f"https://sync.example.com/media/{KEY}?sig={signer.signature(KEY)}"
    assert LocalBlobStore(tmp_path, signer=signer).public_url(KEY) is None
    assert LocalBlobStore(tmp_path, public_base_url="https://x").public_url(KEY) is None


async def test_reader_opens_the_file_lazily(store: LocalBlobStore) -> None:
    await store.put_stream(KEY, _chunks(b"abcdef"), "audio/mpeg")
    reader = await store.open_stream(KEY, start=1, end=4)
    await store.delete(KEY)  # deleted after open_stream, before the first chunk
    with pytest.raises(NotFound):
        await anext(reader)
