"""What every blob store offers: streamed, atomic writes; streamed reads; a public URL.

Errors follow :mod:`opsync.errors`: a missing object read raises :class:`~opsync.errors.NotFound`;
a store that cannot be reached (disk, network, 5xx) raises
:class:`~opsync.errors.UpstreamUnavailable`; rejected credentials
:class:`~opsync.errors.AuthError`; a bad key :class:`~opsync.blobs.keys.InvalidKey`. An error
raised by the caller's chunk iterator propagates unchanged, after the partial write is undone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from opsync.blobs.signing import MediaSigner

DEFAULT_CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """The outcome of a write: the key, its size in bytes and the hex SHA-256 of the content."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BlobStat:
    """What is known about a stored object without reading it."""

    key: str
    size: int
    content_type: str


@runtime_checkable
class BlobStore(Protocol):
    """A place for recordings and voicemails (local folder or S3-compatible bucket)."""

    @property
    def signer(self) -> MediaSigner | None:
        """The signer of this store's ``/media/`` links (serve them with it), if any."""
        ...

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str
    ) -> BlobInfo:
        """Store the bytes of ``chunks`` under ``key``, consuming them as they come.

        Atomic: until it returns, nothing (or the previous object) is visible under ``key``;
        if it raises, no partial object is left. Idempotent: storing again replaces the object.
        """
        ...

    async def stat(self, key: str) -> BlobStat | None:
        """Size and content type of ``key``, or ``None`` when there is no such object."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def open_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of ``key`` from ``start`` to ``end`` (inclusive; ``None``: to the end).

        Raises :class:`~opsync.errors.NotFound` here, before any chunk, when it is missing.
        The caller should drain or ``aclose()`` the iterator.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; idempotent (deleting a missing key is not an error)."""
        ...

    def public_url(self, key: str) -> str | None:
        """A permanent URL where ``key`` can be fetched, or ``None`` when none is configured."""
        ...

    async def aclose(self) -> None:
        """Release what the store owns (its HTTP client); the store is unusable afterwards."""
        ...


def http_range(start: int, end: int | None) -> str | None:
    """The ``Range`` header for ``start``..``end`` (inclusive), ``None`` for the whole object."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range {start}-{end}")
    if start == 0 and end is None:
        return None
    return f"bytes={start}-{'' if end is None else end}"
