"""Real, tiny media files made in code: silent MP3 audio and a small PNG image.

The MP3 is a run of MPEG-1 Layer III frames (32 kbit/s, 44.1 kHz, mono) whose side
information and main data are all zero, which every decoder plays as silence. Each frame is
104 bytes and lasts 1152 samples (~26 ms), so a second of audio costs ~4 KB.
"""

from __future__ import annotations

import struct
import zlib

#: MPEG-1 Layer III, no CRC | 32 kbit/s, 44100 Hz, no padding | mono
MP3_FRAME_HEADER = bytes([0xFF, 0xFB, 0x10, 0xC0])
MP3_FRAME_BYTES = 144 * 32_000 // 44_100  # 104
MP3_FRAME_SECONDS = 1152 / 44_100
MAX_AUDIO_SECONDS = 20


def silent_mp3(seconds: float) -> bytes:
    """A valid MP3 of ``seconds`` of silence (capped at ``MAX_AUDIO_SECONDS``, at least 1 frame).

    Starts with an ID3v2.4 tag (no frames) so sniffers recognise it as MP3 at once.
    """
    seconds = max(0.0, min(float(seconds), MAX_AUDIO_SECONDS))
    frames = max(1, round(seconds / MP3_FRAME_SECONDS))
    frame = MP3_FRAME_HEADER + bytes(MP3_FRAME_BYTES - len(MP3_FRAME_HEADER))
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"
    return id3 + frame * frames


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (30, 144, 255)) -> bytes:
    """A valid solid-colour RGB PNG."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
