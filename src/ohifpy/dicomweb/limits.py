"""How large a response body may be before it is refused.

A server (or whatever answers in its place) can send any number of bytes, and the viewer
must not hold them all to find out: every request carries a limit, the transport refuses
an announced ``Content-Length`` above it before reading and stops reading once the body
passes it. Pixel data is capped by what its metadata says it holds
(:class:`PixelDataSize`), so a frame or an instance may be a little larger than its
uncompressed size but never arbitrarily so; everything else gets a fixed default.

Why these numbers: Pyodide's WebAssembly memory ends at 4 GiB, of which the frame cache
may take up to 3 GiB (``cacheSizeMB``); a body is held at least twice while it is parsed
(the bytes, then its parts or objects), so no single response may take more than an
eighth of that address space, and parsed DICOM JSON costs several times its bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ResponseTooLarge

__all__ = [
    "COMPRESSED_GROWTH",
    "DEFAULT_MAX_BODY_BYTES",
    "HEADER_ALLOWANCE",
    "MAX_JSON_BODY_BYTES",
    "MULTIPART_ALLOWANCE",
    "InflatedTooLarge",
    "PixelDataSize",
    "body_limit",
    "check_content_length",
    "check_received_length",
    "describe_bytes",
    "inflate",
]

KiB = 1 << 10
MiB = 1 << 20

DEFAULT_MAX_BODY_BYTES = 512 * MiB
"""Any body nothing predicts the size of (bulk data, a whole instance without metadata, a
rendered image, a DICOM JSON file list): the largest single instances viewers meet
(tomosynthesis, long cine runs) are a few hundred MB."""
MAX_JSON_BODY_BYTES = 256 * MiB
"""QIDO-RS and metadata responses: a 3000-slice study's metadata is about 20 MB, an
enhanced multi-frame instance's per-frame groups a few MB more; parsed, JSON takes several
times its size, so this keeps a hostile one from exhausting the heap."""
COMPRESSED_GROWTH = 2
"""A compressed frame is normally smaller than its pixels, but noise coded as JPEG or
RLE may come out larger: twice the uncompressed size is generous."""
MULTIPART_ALLOWANCE = 1 * MiB
"""Room for multipart boundaries, part headers and a tiny frame's codestream headers."""
HEADER_ALLOWANCE = 32 * MiB
"""A whole instance's attributes besides its pixels (per-frame functional groups,
embedded LUTs and overlays)."""


@dataclass(frozen=True)
class PixelDataSize:
    """What an instance's metadata says its pixel data takes uncompressed.

    ``frame_bytes`` is one frame (Rows x Columns x SamplesPerPixel x bytes per sample);
    the limits derived from it bound the responses that carry those frames.
    """

    frame_bytes: int
    number_of_frames: int = 1

    def frames_limit(self, count: int) -> int:
        """The most a response carrying ``count`` frames of this instance may hold."""
        return COMPRESSED_GROWTH * self.frame_bytes * max(count, 1) + MULTIPART_ALLOWANCE

    def instance_limit(self) -> int:
        """The most the whole instance (a Part 10 file, inflated or not) may hold."""
        return self.frames_limit(self.number_of_frames) + HEADER_ALLOWANCE


def body_limit(max_bytes: int | None) -> int:
    """The limit a transport applies: the request's own, else the default."""
    return DEFAULT_MAX_BODY_BYTES if max_bytes is None else max(int(max_bytes), 0)


def describe_bytes(count: int) -> str:
    """``"1048576 bytes (1 MiB)"``: exact for the log, readable for the user."""
    if count >= MiB:
        readable = f"{count / MiB:.4g} MiB"
    elif count >= KiB:
        readable = f"{count / KiB:.4g} KiB"
    else:
        return f"{count} bytes"
    return f"{count} bytes ({readable})"


def check_content_length(headers: Mapping[str, str], limit: int, method: str, url: str) -> None:
    """Refuse a response whose announced length (lower-case header names) passes ``limit``
    before a byte of it is read; an absent or unreadable one is checked as it arrives."""
    try:
        declared = int(headers.get("content-length", ""))
    except ValueError:
        return
    if declared > limit:
        raise ResponseTooLarge(
            f"{method} refused: the response announces a Content-Length of {declared} bytes, "
            f"more than its limit of {describe_bytes(limit)}",
            url,
            limit,
        )


def check_received_length(received: int, limit: int, method: str, url: str) -> None:
    """Refuse a body once more than ``limit`` bytes of it have arrived."""
    if received > limit:
        raise ResponseTooLarge(
            f"{method} stopped: the response is larger than its limit of "
            f"{describe_bytes(limit)}",
            url,
            limit,
        )


class InflatedTooLarge(ValueError):
    """Compressed data that inflates to more than its limit (``limit``, in bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"inflates to more than {describe_bytes(limit)}")
        self.limit = limit


def inflate(data: bytes, max_bytes: int, wbits: int = -zlib.MAX_WBITS) -> bytes:
    """``data`` inflated, at most ``max_bytes`` of it: a few KB of deflate can claim
    gigabytes, so nothing beyond the limit is ever produced.

    ``wbits`` is zlib's: raw deflate by default (a deflated DICOM dataset, PS3.5 A.5),
    ``16 + zlib.MAX_WBITS`` for gzip. Bytes after the end of the stream (a padding byte)
    are ignored. Messages read after what was inflated ("the deflated dataset ...").

    Raises
    ------
    InflatedTooLarge
        It inflates to more than ``max_bytes``.
    ValueError
        It is corrupt or truncated.
    """
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"is corrupt ({exc})") from None
    if len(out) > max_bytes:
        raise InflatedTooLarge(max_bytes)
    if not inflater.eof:
        raise ValueError("is truncated (its deflate stream does not end)")
    return out
