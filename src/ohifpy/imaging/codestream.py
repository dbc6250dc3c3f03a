"""What a compressed frame's codestream header claims, read before any decoder runs.

A decoder allocates the image its codestream's header describes, whatever the metadata
says: a few KB of JPEG 2000 claiming 65535x65535 makes OpenJPEG (in CPython) or its
WebAssembly build (in the browser, where the heap never shrinks) reach for gigabytes.
Reading the header here takes microseconds and no allocation, so the claim is checked
against Rows, Columns, SamplesPerPixel and BitsAllocated first (see
:func:`ohifpy.imaging.codecs.check_claimed_size`), the same way for every decoder.

Covered: JPEG (ISO 10918: the SOFn frame header), JPEG-LS (SOF55), JPEG 2000 and HTJ2K
(the SIZ marker segment, in a raw codestream or a JP2 file) and RLE (its segment table).
Native frames need no header: their length is checked against the metadata instead.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from itertools import pairwise

from pydicom import uid

__all__ = [
    "JPEG2000_SYNTAXES",
    "JPEG_SYNTAXES",
    "RLE_SYNTAXES",
    "Claim",
    "CodestreamError",
    "claimed_image",
]

JPEG_SYNTAXES = frozenset({
    uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1,
    uid.JPEGLSLossless, uid.JPEGLSNearLossless,
})
JPEG2000_SYNTAXES = frozenset({
    uid.JPEG2000Lossless, uid.JPEG2000, uid.JPEG2000MCLossless, uid.JPEG2000MC,
    uid.HTJ2KLossless, uid.HTJ2KLosslessRPCL, uid.HTJ2K,
})
RLE_SYNTAXES = frozenset({uid.RLELossless})

# JPEG frame headers: SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC); SOF55 is JPEG-LS's.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}  # RSTn, TEM, SOI: no length
_SOS, _EOI = 0xDA, 0xD9
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_MAX_JP2_BOXES = 64


class CodestreamError(ValueError):
    """The frame's header cannot be read: not a codestream of its transfer syntax."""


@dataclass(frozen=True)
class Claim:
    """The image a codestream says it holds.

    ``segments`` is RLE's segment count (one per byte of each sample), ``tiles`` JPEG
    2000's tile count; both are 1 elsewhere. ``columns``/``rows``/``precision`` are 0
    where the header does not tell them (RLE).
    """

    columns: int
    rows: int
    components: int
    precision: int
    tiles: int = 1
    segments: int = 0


def claimed_image(data: bytes, transfer_syntax_uid: str) -> Claim | None:
    """What the header of ``data`` claims, or None for a syntax without such a header.

    Raises
    ------
    CodestreamError
        The header is missing, truncated or inconsistent.
    """
    syntax = str(transfer_syntax_uid).strip()
    if syntax in JPEG_SYNTAXES:
        return _jpeg_frame_header(data)
    if syntax in JPEG2000_SYNTAXES:
        return _j2k_siz(data, _j2k_codestream_start(data))
    if syntax in RLE_SYNTAXES:
        return _rle_header(data)
    return None


def _jpeg_frame_header(data: bytes) -> Claim:
    """The SOFn (or SOF55) segment's size, walking the marker segments before it."""
    if not data.startswith(b"\xff\xd8"):
        raise CodestreamError("not a JPEG codestream: it does not start with SOI (FFD8)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise CodestreamError(f"not a JPEG codestream: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker in (_SOS, _EOI):
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise CodestreamError(f"JPEG marker segment FF{marker:02X} has length {length}")
        if marker in _SOF_MARKERS:
            if length < 8 or pos + 10 > len(data):
                raise CodestreamError("the JPEG frame header is truncated")
            precision, rows, columns, components = struct.unpack_from(">BHHB", data, pos + 4)
            return Claim(columns, rows, components, precision)
        pos += 2 + length
    raise CodestreamError("the JPEG codestream has no frame header (SOFn) before its scan")


def _j2k_codestream_start(data: bytes) -> int:
    """Where the raw codestream starts: at once, or in a JP2 file's ``jp2c`` box."""
    if data.startswith(b"\xff\x4f"):
        return 0
    if not data.startswith(_JP2_SIGNATURE):
        raise CodestreamError("not a JPEG 2000 codestream: it starts with neither SOC (FF4F) "
                              "nor a JP2 signature box")
    pos = 0
    for _ in range(_MAX_JP2_BOXES):
        if pos + 8 > len(data):
            break
        length, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if length == 1:
            if pos + 16 > len(data):
                break
            (length,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        if kind == b"jp2c":
            return pos + header
        if length == 0 or length < header:  # to the end of the file, or malformed
            break
        pos += length
    raise CodestreamError("the JP2 file has no codestream box (jp2c)")


def _j2k_siz(data: bytes, start: int) -> Claim:
    """The SIZ marker segment, which must follow SOC: image, tile and component sizes."""
    if data[start:start + 4] != b"\xff\x4f\xff\x51":
        raise CodestreamError("not a JPEG 2000 codestream: SOC is not followed by SIZ (FF51)")
    components = start + 42  # SOC, SIZ, then Lsiz to Csiz: 38 bytes
    if components > len(data):
        raise CodestreamError("the JPEG 2000 SIZ header is truncated")
    (length, _capabilities, xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz,
     csiz) = struct.unpack_from(">HHIIIIIIIIH", data, start + 4)
    if csiz < 1 or length != 38 + 3 * csiz or components + 3 * csiz > len(data):
        raise CodestreamError(f"the JPEG 2000 SIZ header's length ({length}) does not fit its "
                              f"{csiz} component(s)")
    if (xsiz <= xosiz or ysiz <= yosiz or not xtsiz or not ytsiz or xtosiz > xosiz
            or ytosiz > yosiz or xtosiz + xtsiz <= xosiz or ytosiz + ytsiz <= yosiz):
        raise CodestreamError("the JPEG 2000 SIZ header's image and tile sizes are inconsistent")
    precision = max((data[components + 3 * i] & 0x7F) + 1 for i in range(csiz))
    tiles = math.ceil((xsiz - xtosiz) / xtsiz) * math.ceil((ysiz - ytosiz) / ytsiz)
    return Claim(xsiz - xosiz, ysiz - yosiz, csiz, precision, tiles=tiles)


def _rle_header(data: bytes) -> Claim:
    """RLE's 64-byte header: the segment count and where each segment starts (PS3.5 G.5)."""
    if len(data) < 64:
        raise CodestreamError(f"the RLE header needs 64 bytes, the frame has {len(data)}")
    count, *offsets = struct.unpack_from("<16I", data)
    if not 1 <= count <= 15:
        raise CodestreamError(f"the RLE header lists {count} segments (1 to 15 may be)")
    used = offsets[:count]
    if used[0] != 64 or any(b <= a for a, b in pairwise(used)) or used[-1] >= len(data):
        raise CodestreamError("the RLE header's segment offsets are not ascending within the "
                              "frame")
    return Claim(0, 0, 0, 0, segments=count)
