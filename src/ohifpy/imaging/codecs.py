"""Frame decoders keyed by transfer syntax UID.

One registry serves both runtimes: in CPython the decoders come from pydicom,
looked up on first use of a syntax, with whichever of its pylibjpeg / Pillow
plugins are installed (none is needed to import this module); in the browser
the worker's WebAssembly codecs become pydicom plugins, loaded on first use through
:func:`set_decoder_loader` (awaited by :func:`load_decoder` before a frame is decoded),
and decoding in other workers where it can (:func:`run_codec`, then :func:`decode_frame`
with the codec's output).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder as get_pydicom_decoder
from pydicom.uid import UID

from ohifpy.imaging.codestream import CodestreamError, claimed_image
from ohifpy.imaging.pixel_module import COLOR, MONOCHROME, PALETTE_COLOR, PixelModule

from ..errors import OhifpyError


@dataclass(frozen=True, eq=False)
class DecodedFrame:
    """A decoded frame of stored values.

    ``pixels`` is ``(rows, columns)`` or, for three samples, ``(rows, columns, 3)``
    interleaved (planar configuration 0) whatever the encoding was; the dtype is
    signed when Pixel Representation is 1. ``photometric_interpretation`` says
    what the samples are *after* decoding: a codec that converts YBR to RGB (as
    JPEG 2000 decoders do for YBR_ICT/YBR_RCT) reports ``"RGB"``.
    """

    pixels: np.ndarray
    photometric_interpretation: str


FrameDecoder = Callable[..., DecodedFrame]
"""``decoder(data, pixel)``; pydicom's also take ``codec_output=`` (see :func:`run_codec`)."""


class FrameDecodeError(OhifpyError, ValueError):
    """A frame could not be decoded; the message names the transfer syntax and why."""

    def __init__(self, transfer_syntax_uid: str, reason: str) -> None:
        self.transfer_syntax_uid = str(transfer_syntax_uid)
        super().__init__(
            f"cannot decode frame in transfer syntax {_describe(transfer_syntax_uid)}: {reason}"
        )


class UnsupportedTransferSyntaxError(FrameDecodeError):
    """No decoder is registered (or available) for the transfer syntax."""

    def __init__(self, transfer_syntax_uid: str) -> None:
        super().__init__(
            transfer_syntax_uid,
            "no decoder is available for it here; ask the server to transcode the frames "
            "(data source option requestTransferSyntaxUID, e.g. 1.2.840.10008.1.2.1 for "
            "Explicit VR Little Endian) or use its server-side /rendered images",
        )


_DECODERS: dict[str, FrameDecoder] = {}
_LOADER: Callable[[str], Awaitable[None]] | None = None
CodecOffload = Callable[[bytes, str, PixelModule], Awaitable[Any]]
_OFFLOAD: CodecOffload | None = None


def set_decoder_loader(loader: Callable[[str], Awaitable[None]] | None) -> None:
    """Decoders that load on demand: ``await loader(uid)`` readies the syntax's decoder.

    The browser loads a WebAssembly codec only when a frame needs it, so a study that
    needs none (or one) does not pay for all of them while Python starts.
    """
    global _LOADER
    _LOADER = loader


async def load_decoder(transfer_syntax_uid: str) -> None:
    """Make the decoder for `transfer_syntax_uid` ready; nothing to do in CPython."""
    if _LOADER is not None:
        await _LOADER(str(transfer_syntax_uid).strip())


def set_codec_offload(offload: CodecOffload | None) -> None:
    """Codecs that run elsewhere: ``await offload(data, uid, pixel)`` gives the codec's
    output for the frame (None when it has no codec for the syntax).

    The browser decodes in a pool of codec workers, so decoding uses every core while
    Python, which owns the pipeline and the cache, goes on fetching.
    """
    global _OFFLOAD
    _OFFLOAD = offload


async def run_codec(data: bytes, transfer_syntax_uid: str, pixel: PixelModule) -> Any:
    """Decode the frame elsewhere where a codec there can: its output, for
    :func:`decode_frame`'s ``codec_output``; else None, once the decoder here is ready.

    The frame is checked as :func:`decode_frame` checks it before any codec sees it.
    """
    if _OFFLOAD is not None:
        _check_frame(data, transfer_syntax_uid, pixel)
        output = await _OFFLOAD(data, transfer_syntax_uid, pixel)
        if output is not None:
            return output
    await load_decoder(transfer_syntax_uid)
    return None


def register_decoder(transfer_syntax_uid: str, decoder: FrameDecoder) -> None:
    """Use `decoder` for frames in `transfer_syntax_uid`, replacing any previous one."""
    uid = str(transfer_syntax_uid).strip()
    if not uid:
        raise ValueError("register_decoder: the transfer syntax UID is empty")
    if not callable(decoder):
        raise TypeError(f"register_decoder: decoder for {uid} is not callable: {decoder!r}")
    _DECODERS[uid] = decoder


def get_decoder(transfer_syntax_uid: str) -> FrameDecoder:
    """Return the decoder for `transfer_syntax_uid`.

    Registered decoders win; otherwise pydicom's decoder is used when it and
    its plugins for that syntax are importable.

    Raises
    ------
    UnsupportedTransferSyntaxError
        If neither exists.
    """
    uid = str(transfer_syntax_uid).strip()
    decoder = _DECODERS.get(uid) or _pydicom_decoder(uid)
    if decoder is None:
        raise UnsupportedTransferSyntaxError(uid)
    _DECODERS.setdefault(uid, decoder)
    return decoder


def decode_frame(data: bytes, transfer_syntax_uid: str, pixel: PixelModule, *,
                 codec_output: Any = None) -> DecodedFrame:
    """Decode one frame (as WADO-RS returns it) into stored values.

    The decoder's result is checked against `pixel` and put in native byte
    order, so whatever codec ran (pydicom's or a browser one) the rest of the
    pipeline sees the same shape and dtype. ``codec_output`` is what :func:`run_codec`
    got from a codec elsewhere: pydicom's plugin takes it instead of decoding.
    """
    decoder = get_decoder(transfer_syntax_uid)
    _check_frame(data, transfer_syntax_uid, pixel)
    options = {} if codec_output is None else {"codec_output": codec_output}
    decoded = decoder(bytes(data), pixel, **options)
    problem = _mismatch(decoded, pixel)
    if problem:
        raise FrameDecodeError(transfer_syntax_uid, f"the decoder returned {problem}")
    pixels = decoded.pixels
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
        decoded = DecodedFrame(pixels, decoded.photometric_interpretation)
    return decoded


# JPEG (ISO 10918), JPEG-LS and JPEG 2000 / HTJ2K codestreams end with an EOI/EOC marker.
_MARKER_TERMINATED = frozenset({
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
})
_END_MARKER = b"\xff\xd9"


def _check_frame(data: bytes, transfer_syntax_uid: str, pixel: PixelModule) -> None:
    """Refuse an empty, truncated or mis-sized frame before any codec allocates for it."""
    if not data:
        raise FrameDecodeError(transfer_syntax_uid, "the frame is empty (0 bytes)")
    _check_codestream(data, transfer_syntax_uid)
    check_claimed_size(data, transfer_syntax_uid, pixel.rows, pixel.columns,
                       pixel.samples_per_pixel, pixel.bits_allocated)


def _check_codestream(data: bytes, transfer_syntax_uid: str) -> None:
    """Refuse a JPEG-family frame that lost its end marker (a truncated transfer).

    Some decoders (libjpeg's JPEG-LS among them) return a partly grey image for a
    truncated codestream instead of failing; a user must see an error, not a
    plausible-looking wrong image, whatever codec runs. Padding after the marker
    (a fragment's trailing zero, a few stray bytes) is tolerated.
    """
    if transfer_syntax_uid not in _MARKER_TERMINATED:
        return
    # Only the last KiB is copied to strip the padding, not the whole frame.
    if _END_MARKER not in data[-1024:].rstrip(b"\x00")[-16:]:
        raise FrameDecodeError(
            transfer_syntax_uid,
            f"the {len(data)}-byte codestream has no end marker (FFD9): truncated or corrupt",
        )


MIN_TILE_BUDGET = 1024
"""JPEG 2000 tiles any frame may have; a decoder spends about 10 KB on each before it reads
a pixel, so a small image claiming 1x1-pixel tiles is refused. Larger frames may have one
tile per :data:`PIXELS_PER_TILE` pixels."""
PIXELS_PER_TILE = 256 * 256


def check_claimed_size(data: bytes, transfer_syntax_uid: str, rows: int, columns: int,
                       samples_per_pixel: int, bits_allocated: int) -> None:
    """Refuse a codestream whose header claims another image than the metadata describes.

    Runs before any decoder (pydicom's plugins in CPython, the WebAssembly codecs in the
    browser), which would allocate the claimed image first: only this frame fails, with
    both sizes in the message. Precision may exceed Bits Allocated up to 16 bits (8-bit
    containers of 12-bit JPEG 2000 exist; the decoders widen them), not more.
    """
    try:
        claim = claimed_image(data, transfer_syntax_uid)
    except CodestreamError as exc:
        raise FrameDecodeError(transfer_syntax_uid, str(exc)) from None
    if claim is None:
        return
    if claim.segments:
        expected = samples_per_pixel * math.ceil(bits_allocated / 8)
        if claim.segments != expected:
            raise FrameDecodeError(
                transfer_syntax_uid,
                f"the RLE header lists {claim.segments} segments, a frame of "
                f"{samples_per_pixel} sample(s) of {bits_allocated} bits has {expected}",
            )
        return
    if (claim.columns, claim.rows, claim.components) != (columns, rows, samples_per_pixel):
        raise FrameDecodeError(
            transfer_syntax_uid,
            f"the codestream claims a {claim.columns}x{claim.rows} image of "
            f"{claim.components} component(s), the metadata says {columns}x{rows} with "
            f"{samples_per_pixel} sample(s) per pixel",
        )
    if not 0 < claim.precision <= max(bits_allocated, 16):
        raise FrameDecodeError(
            transfer_syntax_uid,
            f"the codestream claims {claim.precision}-bit samples, the metadata allocates "
            f"{bits_allocated} bits",
        )
    most_tiles = max(MIN_TILE_BUDGET, rows * columns // PIXELS_PER_TILE)
    if claim.tiles > most_tiles:
        raise FrameDecodeError(
            transfer_syntax_uid,
            f"the codestream claims {claim.tiles} tiles for a {columns}x{rows} image "
            f"(at most {most_tiles} are decoded)",
        )


def _mismatch(decoded: object, pixel: PixelModule) -> str:
    """What is wrong with a decoder's result for `pixel`, or '' when it fits."""
    if not isinstance(decoded, DecodedFrame) or not isinstance(decoded.pixels, np.ndarray):
        return f"{type(decoded).__name__} instead of a DecodedFrame holding an ndarray"
    photometric = decoded.photometric_interpretation
    if photometric in (*MONOCHROME, PALETTE_COLOR):
        samples = 1
    elif photometric in COLOR:
        samples = 3
    else:
        return f"photometric interpretation {photometric!r}, which cannot be displayed"
    expected = (pixel.rows, pixel.columns) + ((3,) if samples == 3 else ())
    if decoded.pixels.shape != expected or samples != pixel.samples_per_pixel:
        return (
            f"{photometric} pixels of shape {decoded.pixels.shape} for a "
            f"{pixel.rows}x{pixel.columns} {pixel.photometric_interpretation} frame"
        )
    return ""


def native_frame_length(pixel: PixelModule) -> int:
    """Bytes in one native (uncompressed) frame, without the padding byte of odd lengths.

    Bit-packed (1-bit) frames round up to whole bytes; native YBR_FULL_422 keeps
    two samples in three (PS3.3 C.7.6.3.1.2).
    """
    samples = pixel.rows * pixel.columns * pixel.samples_per_pixel
    if pixel.bits_allocated == 1:
        return math.ceil(samples / 8)
    length = samples * pixel.bits_allocated // 8
    if pixel.photometric_interpretation == "YBR_FULL_422":
        length = length // 3 * 2
    return length


def _describe(transfer_syntax_uid: str) -> str:
    """'Name (UID)' for messages, or just the UID when pydicom doesn't know it."""
    uid = UID(str(transfer_syntax_uid).strip())
    return f"{uid.name} ({uid})" if uid.name != str(uid) else str(uid)


def _pydicom_decoder(uid: str, plugin: str = "") -> FrameDecoder | None:
    """pydicom's decoder for `uid` wrapped as a FrameDecoder, or None if unavailable.

    ``plugin`` pins one of its plugins (pydicom's own pure-Python RLE is what Pyodide runs;
    CPython prefers pylibjpeg's): the tests decode through each.
    """
    try:
        decoder = get_pydicom_decoder(uid)
    except NotImplementedError:
        return None
    if not decoder.is_available or (plugin and plugin not in decoder.available_plugins):
        return None
    options: dict[str, Any] = {"decoding_plugin": plugin} if plugin else {}

    def decode(data: bytes, pixel: PixelModule, **codec_output: Any) -> DecodedFrame:
        if not decoder.is_encapsulated:
            data = _native_source(data, uid, pixel)
        try:
            source = encapsulate([data]) if decoder.is_encapsulated else data
            pixels, properties = decoder.as_array(source, **_decode_options(pixel), **options,
                                                  **codec_output)
        except Exception as exc:  # plugins raise anything from RuntimeError to struct.error
            raise FrameDecodeError(uid, f"{type(exc).__name__}: {exc}") from exc
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            # A Rust plugin's panic (pylibjpeg-rle on a corrupt frame) is pyo3's
            # PanicException, a BaseException: it would pass every handler of the worker.
            raise FrameDecodeError(uid, f"the decoder panicked: {exc}") from None
        return DecodedFrame(pixels, str(properties["photometric_interpretation"]))

    return decode


def _decode_options(pixel: PixelModule) -> dict[str, Any]:
    """pydicom decoding options for one frame from a buffer (see its DecodeRunner)."""
    return {
        "rows": pixel.rows,
        "columns": pixel.columns,
        "samples_per_pixel": pixel.samples_per_pixel,
        "bits_allocated": pixel.bits_allocated,
        "bits_stored": pixel.bits_stored,
        "pixel_representation": pixel.pixel_representation,
        "photometric_interpretation": pixel.photometric_interpretation,
        "planar_configuration": pixel.planar_configuration,
        "number_of_frames": 1,
        "pixel_keyword": "PixelData",
        # Colour conversion is color.py's job, the same for every decoder.
        "as_rgb": False,
    }


def _native_source(data: bytes, uid: str, pixel: PixelModule) -> bytes:
    """The frame bytes without padding, after checking the length fits `pixel`."""
    expected = native_frame_length(pixel)
    if len(data) not in (expected, expected + expected % 2):
        raise FrameDecodeError(
            uid,
            f"expected {expected} bytes for a {pixel.rows}x{pixel.columns} "
            f"{pixel.photometric_interpretation} frame of {pixel.samples_per_pixel} sample(s) "
            f"with {pixel.bits_allocated} bits allocated, got {len(data)}",
        )
    return data[:expected]
