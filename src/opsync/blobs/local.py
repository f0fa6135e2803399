"""A blob store in a local folder: the embedded default (``OPSYNC_BLOB_URL=./opsync-media``).

Writes go to ``{root}/.tmp/`` and are renamed into place, so an object appears whole or not at
all (same file system, ``os.replace``). The folder is served by opsync itself at ``/media/…``
behind signed links (:mod:`opsync.blobs.media_app`). Blocking file calls run in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from opsync.blobs.base import DEFAULT_CHUNK_SIZE, BlobInfo, BlobStat
from opsync.blobs.keys import InvalidKey, content_type_for, validate_key
from opsync.blobs.signing import MediaSigner
from opsync.errors import NotFound, UpstreamUnavailable

log = logging.getLogger(__name__)

TEMP_DIR = ".tmp"


@contextlib.contextmanager
def _disk_errors(action: str, key: str) -> Iterator[None]:
    """Map file-system failures (disk full, permissions, I/O) to a retryable error."""
    try:
        yield
    except OSError as exc:
        raise UpstreamUnavailable(f"local blob store could not {action} {key!r}: {exc}") from exc


class LocalBlobStore:
    """Objects are files under ``root``; a key is a relative path.

    ``public_base_url`` is this service's public URL; with ``signer`` it makes the signed
    ``/media/`` links of :meth:`public_url`. Without either, :meth:`public_url` is ``None``.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        signer: MediaSigner | None = None,
        public_base_url: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.root = Path(root).resolve()
        self.signer = signer
        self._public_base_url = public_base_url
        self._chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path_of(self, key: str) -> Path:
        """The file that holds ``key``; raises InvalidKey for a key that could escape root."""
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):  # a symlink inside root pointing outside
            raise InvalidKey(f"blob key {key!r} resolves outside the store")
        return path

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str
    ) -> BlobInfo:
        """Write ``chunks`` to a temporary file, fsync it, then rename it to ``key``.

        ``content_type`` is not stored: a local object is served with the type its key's
        extension names (the key layout derives the extension from the content type).
        """
        target = self.path_of(key)
        temp_dir = self.root / TEMP_DIR
        with _disk_errors("prepare", key):
            await asyncio.to_thread(temp_dir.mkdir, parents=True, exist_ok=True)
        temp = temp_dir / f"{secrets.token_hex(16)}.part"
        hasher = hashlib.sha256()
        size = 0
        with _disk_errors("open", key):
            handle = await asyncio.to_thread(temp.open, "xb")
        try:
            async for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                with _disk_errors("write", key):
                    await asyncio.to_thread(handle.write, chunk)
            with _disk_errors("write", key):
                await asyncio.to_thread(_finish, handle, temp, target)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_discard, handle, temp))
            raise
        log.debug("blob stored", extra={"action": "blob_stored", "key": key, "size": size})
        return BlobInfo(key=key, size=size, sha256=hasher.hexdigest())

    async def stat(self, key: str) -> BlobStat | None:
        """Size and content type (from the extension) of ``key``, ``None`` if missing."""
        path = self.path_of(key)
        with _disk_errors("stat", key):
            try:
                result = await asyncio.to_thread(path.stat)
            except FileNotFoundError:
                return None
        if not S_ISREG(result.st_mode):
            return None
        return BlobStat(key=key, size=result.st_size, content_type=content_type_for(key))

    async def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        return await self.stat(key) is not None

    async def open_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Read ``key`` in chunks; raises NotFound before the first chunk when it is missing."""
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        if await self.stat(key) is None:
            raise NotFound(f"no blob stored under {key!r}")
        return self._read(self.path_of(key), key, start, end)

    async def _read(
        self, path: Path, key: str, start: int, end: int | None
    ) -> AsyncGenerator[bytes, None]:
        # Opened on the first chunk, so an iterator that is never started holds no file.
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:  # deleted since the stat
            raise NotFound(f"no blob stored under {key!r}") from exc
        except OSError as exc:
            raise UpstreamUnavailable(f"local blob store could not open {key!r}: {exc}") from exc
        try:
            with _disk_errors("read", key):
                await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = self._chunk_size if remaining is None else min(self._chunk_size, remaining)
                with _disk_errors("read", key):
                    chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        """Remove ``key`` (and nothing else); a missing key is not an error."""
        path = self.path_of(key)
        with _disk_errors("delete", key):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    def public_url(self, key: str) -> str | None:
        """``{public_base_url}/media/{key}?sig=…``, or ``None`` without a base URL or signer."""
        validate_key(key)
        if self.signer is None or not self._public_base_url:
            return None
        return self.signer.url(self._public_base_url, key)

    async def aclose(self) -> None:
        """Nothing to release."""


def _finish(handle: BinaryIO, temp: Path, target: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)


def _discard(handle: BinaryIO, temp: Path) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)
