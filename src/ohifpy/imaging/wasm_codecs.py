"""The browser's WebAssembly DICOM codecs as pydicom decoding plugins (Pyodide only).

Pyodide has no build of pylibjpeg, so the worker loads the npm WebAssembly codecs
(``@cornerstonejs/codec-openjpeg``, ``-openjph``, ``-charls``,
``-libjpeg-turbo-8bit`` and ``jpeg-lossless-decoder-js``) and :func:`install`
loads each on first use. Each becomes a plugin of pydicom's decoder for its transfer
syntaxes, exactly where pylibjpeg sits in CPython, so pydicom's own post-processing
(J2K/JPEG-LS sign correction, unused bits, colour-space and planar handling) runs on
both sides and :func:`ohifpy.imaging.get_decoder` finds the codecs without a registry
of its own: lossless frames come out pixel-identical to CPython's.

JPEG extended 12-bit (and anything else) has no codec here: :func:`get_decoder`
raises :class:`~ohifpy.imaging.UnsupportedTransferSyntaxError` and the worker asks the
server to transcode instead.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydicom import uid
from pydicom.pixels import get_decoder as get_pydicom_decoder
from pydicom.pixels.common import PhotometricInterpretation as PI
from pydicom.pixels.decoders.base import DecodeRunner

from .codecs import FrameDecodeError, check_claimed_size, set_decoder_loader

__all__ = ["DECODER_DEPENDENCIES", "PLUGIN", "install", "is_available"]

PLUGIN = "ohifpy-wasm"
"""The plugin label in pydicom's decoders (``decoding_plugin=`` selects it)."""

# codec name (the keys of dist/codecs/codecs.json) -> its npm package
PACKAGES = {
    "openjpeg": "@cornerstonejs/codec-openjpeg",
    "openjph": "@cornerstonejs/codec-openjph",
    "charls": "@cornerstonejs/codec-charls",
    "libjpeg-turbo-8bit": "@cornerstonejs/codec-libjpeg-turbo-8bit",
    "jpeg-lossless": "jpeg-lossless-decoder-js",
}
SYNTAX_CODECS = {
    uid.JPEGBaseline8Bit: "libjpeg-turbo-8bit",
    uid.JPEGLossless: "jpeg-lossless",
    uid.JPEGLosslessSV1: "jpeg-lossless",
    uid.JPEGLSLossless: "charls",
    uid.JPEGLSNearLossless: "charls",
    uid.JPEG2000Lossless: "openjpeg",
    uid.JPEG2000: "openjpeg",
    uid.HTJ2KLossless: "openjph",
    uid.HTJ2KLosslessRPCL: "openjph",
    uid.HTJ2K: "openjph",
}
DECODER_DEPENDENCIES = {syntax: (PACKAGES[codec],) for syntax, codec in SYNTAX_CODECS.items()}
"""pydicom's plugin protocol: what each syntax needs when the codec is missing."""

# Embind class each Emscripten codec exports.
_EMBIND_CLASSES = {
    "openjpeg": "J2KDecoder",
    "openjph": "HTJ2KDecoder",
    "charls": "JpegLSDecoder",
    "libjpeg-turbo-8bit": "JPEGDecoder",
}
_CODECS: dict[str, Any] = {}


def install(load_codec: Callable[[str], Awaitable[Any]]) -> None:
    """Load the codecs on demand: a syntax's codec comes in before its first frame decodes.

    Parameters
    ----------
    load_codec : callable
        ``await load_codec(name)`` (name: a key of ``PACKAGES``) gives the initialised
        Emscripten module, or for ``jpeg-lossless`` the ES module (with its ``Decoder``
        class); in the worker it is ``loadCodec`` of ``web/worker.js``.
    """

    async def load(transfer_syntax_uid: str) -> None:
        codec = SYNTAX_CODECS.get(uid.UID(transfer_syntax_uid))
        if codec is None or codec in _CODECS:
            return
        try:
            _CODECS[codec] = await load_codec(codec)
        except Exception as exc:  # noqa: BLE001 - a JS error while fetching or starting it
            raise FrameDecodeError(
                transfer_syntax_uid, f"its WebAssembly codec {PACKAGES[codec]} did not load ({exc})"
            ) from None
        # pydicom takes a plugin only once it is available: add it now the codec is here.
        for syntax, name in SYNTAX_CODECS.items():
            decoder = get_pydicom_decoder(syntax)
            if name == codec and PLUGIN not in decoder.available_plugins:
                decoder.add_plugin(PLUGIN, (__name__, "decode_frame"))

    set_decoder_loader(load)


def is_available(transfer_syntax_uid: str) -> bool:
    """pydicom's plugin protocol: whether the codec for the syntax has been installed."""
    return SYNTAX_CODECS.get(uid.UID(transfer_syntax_uid)) in _CODECS


def decode_frame(src: bytes, runner: DecodeRunner) -> bytearray:
    """pydicom's plugin protocol: one encoded frame -> its decoded bytes.

    The runner's options are set the way pydicom's pylibjpeg plugin sets them
    (container size from the codestream precision, colour-by-pixel output, YBR
    converted by the codec reported as RGB), so pydicom reshapes and corrects the
    result as it does for pylibjpeg in CPython.

    The codestream's claimed size is checked against the runner's first (as
    :func:`ohifpy.imaging.decode_frame` does before it gets here): whoever calls pydicom,
    the WebAssembly heap, which never shrinks, is not grown for a size the metadata denies.
    """
    check_claimed_size(src, runner.transfer_syntax, runner.rows, runner.columns,
                       runner.samples_per_pixel, runner.bits_allocated)
    codec = SYNTAX_CODECS[runner.transfer_syntax]
    if codec == "jpeg-lossless":
        decoded = _decode_jpeg_lossless(src, runner)
    else:
        decoded = _decode_embind_frame(codec, src, runner)
    expected = runner.rows * runner.columns * runner.samples_per_pixel * runner.bits_allocated // 8
    if len(decoded) != expected:
        raise ValueError(f"the codec returned {len(decoded)} bytes, expected {expected}")
    return decoded


def _decode_embind_frame(codec: str, src: bytes, runner: DecodeRunner) -> bytearray:
    """Decode with an Emscripten codec and set the runner's options from its frame info."""
    decoded, info = _decode_embind(codec, src)
    if not info["width"] or not info["height"]:
        raise ValueError("the codec found no image in the codestream (corrupt or truncated)")
    if (info["width"], info["height"], info["componentCount"]) != (
        runner.columns,
        runner.rows,
        runner.samples_per_pixel,
    ):
        raise ValueError(
            f"the codestream holds a {info['width']}x{info['height']} image of "
            f"{info['componentCount']} component(s), the metadata says {runner.columns}x"
            f"{runner.rows} with {runner.samples_per_pixel} sample(s) per pixel"
        )
    precision = int(info["bitsPerSample"])
    runner.set_option("bits_allocated", 8 if precision <= 8 else 16 if precision <= 16 else 32)
    if codec in ("openjpeg", "openjph"):
        if runner.photometric_interpretation in (PI.YBR_ICT, PI.YBR_RCT):
            runner.set_option("photometric_interpretation", PI.RGB)  # inverse MCT applied
    elif codec == "libjpeg-turbo-8bit":
        if runner.samples_per_pixel == 3:
            runner.set_option("photometric_interpretation", PI.RGB)  # libjpeg converts YCbCr
    elif runner.samples_per_pixel == 3:  # charls: planar output only without interleaving
        runner.set_option("planar_configuration", 1 if info["interleaveMode"] == 0 else 0)
    return decoded


def _decode_embind(codec: str, src: bytes) -> tuple[bytearray, dict[str, Any]]:
    """Run one of the cornerstone Emscripten decoders; returns its output and frame info."""
    module = _CODECS[codec]
    decoder = getattr(module, _EMBIND_CLASSES[codec]).new()
    try:
        decoder.getEncodedBuffer(len(src)).assign(src)
        _call(module, decoder.decode)
        info = decoder.getFrameInfo().to_py()
        if codec == "charls":
            info["interleaveMode"] = int(decoder.getInterleaveMode())
        view = decoder.getDecodedBuffer()  # a view into the codec's heap: copy it out once
        decoded = bytearray(view.byteLength)
        view.assign_to(decoded)
        return decoded, info
    finally:
        decoder.delete()  # embind objects are not garbage collected


def _call(module: Any, function: Callable[[], Any]) -> Any:
    """Call into a codec; a C++ exception (thrown to JS as a pointer) gets its message."""
    from pyodide.ffi import JsException

    try:
        return function()
    except JsException as exc:
        raise ValueError(_codec_message(module, exc)) from None


def _codec_message(module: Any, exc: Exception) -> str:
    """The text of a codec failure: Emscripten throws C++ exceptions as bare numbers."""
    pointer = re.search(r'thrown value gives """(\d+)"""', str(exc))
    if pointer is None:
        return str(exc)
    generic = "the codec rejected the codestream (corrupt or not what the metadata says)"
    getter = getattr(module, "getExceptionMessage", None)  # CharLS exports one
    if getter is None:
        return generic
    try:
        message = getter(int(pointer.group(1)))
    except Exception:  # noqa: BLE001 - the generic text still says what happened
        return generic
    return str(message if isinstance(message, str) else message[-1])


def _decode_jpeg_lossless(src: bytes, runner: DecodeRunner) -> bytearray:
    """JPEG lossless (process 14) with jpeg-lossless-decoder-js, into the runner's container."""
    from js import Uint8Array
    from pyodide.ffi import JsException, to_js

    bytes_per_sample = (runner.bits_allocated + 7) // 8
    data = to_js(src)  # a Uint8Array copy the decoder reads from
    try:
        decoded = (
            _CODECS["jpeg-lossless"]
            .Decoder.new()
            .decode(data.buffer, data.byteOffset, data.byteLength, bytes_per_sample)
        )
    except JsException as exc:
        raise ValueError(f"jpeg-lossless-decoder-js: {exc}") from None
    out = bytearray(decoded.byteLength)
    Uint8Array.new(decoded.buffer, decoded.byteOffset, decoded.byteLength).assign_to(out)
    return out
