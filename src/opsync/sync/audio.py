"""Recordings and voicemails copied to the blob store, streamed, each at most once.

The key follows the seed's layout (:mod:`opsync.blobs.keys`): the call's UTC date and its
start time in epoch milliseconds, so the same audio always lands under the same key. The
stored keys are remembered in the call's snapshot (``audio``: source id → key); a key not
remembered is checked in the store before downloading, so a crash between the upload and the
snapshot write does not download the file again.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime

from opsync.blobs.keys import AudioKind, audio_key
from opsync.sync.context import SyncContext

DEFAULT_CONTENT_TYPE = "audio/mpeg"


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def store_audio(
    ctx: SyncContext,
    *,
    kind: AudioKind,
    call_id: str,
    source_id: str,
    url: str,
    started_at: datetime,
    content_type: str | None,
    stored: MutableMapping[str, str],
    phone_number_id: str | None = None,
) -> str | None:
    """Copy the audio at ``url`` into the blob store unless ``stored`` (the snapshot's map of
    source id → key) already has it; returns its public URL (None when the blob store has
    none). ``stored`` is updated in place. Idempotent.

    Raises the OpenPhone client's errors for the download and the blob store's for the write.
    """
    key = stored.get(source_id)
    if key is None:
        key = audio_key(kind, call_id, _epoch_ms(started_at), content_type)
        if not await ctx.blobs.exists(key):
            chunks = ctx.openphone.iter_download(url)
            async with ctx.metrics.timed("api_call", f"download_{kind}", phone_number_id):
                await ctx.blobs.put_stream(key, chunks, content_type or DEFAULT_CONTENT_TYPE)
        stored[source_id] = key
    return ctx.blobs.public_url(key)
