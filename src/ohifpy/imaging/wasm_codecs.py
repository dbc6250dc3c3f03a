"""The browser's WebAssembly DICOM codecs as pydicom decoding plugins (Pyodide only).

Pyodide has no build of pylibjpeg, so the worker loads the npm WebAssembly codecs
(``@cornerstonejs/codec-openjpeg``, ``-openjph``, ``-charls``,
``-libjpeg-turbo-8bit`` and ``jpeg-lossless-decoder-js``) and :func:`install`
loads each on first use. Each becomes a plugin of pydicom's decoder for its transfer
syntaxes, exactly where pylibjpeg sits in CPython, so pydicom's own post-processing
(J2K/JPEG-LS sign correction, unused bits, colour-space and planar handling) runs on
both sides and :func:`ohifpy.imaging.get_decoder` finds the codecs without a registry
of its own: lossless frames come out pixel-identical to CPython's.

The codecs themselves are called in JavaScript (``web/codecs.js``), one way wherever they
run: the viewer's frames decode in a pool of codec workers (``web/codec_pool.js``), one a
core, while Python fetches the next ones; their output reaches pydicom's plugin as a
decoding option (:class:`CodecOutput`). The worker's own copy of a codec serves where
there is no pool, and callers that decode synchronously (after
:func:`~ohifpy.imaging.load_decoder`).

JPEG extended 12-bit (and anything else) has no codec here: :func:`get_decoder`
raises :class:`~ohifpy.imaging.UnsupportedTransferSyntaxError` and the worker asks the
server to transcode instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydicom import uid
from pydicom.pixels import get_decoder as get_pydicom_decoder
from pydicom.pixels.common import PhotometricInterpretation as PI
from pydicom.pixels.decoders.base import DecodeRunner

from .codecs import FrameDecodeError, check_claimed_size, set_codec_offload, set_decoder_loader
from .pixel_module import PixelModule

__all__ = ["DECODER_DEPENDENCIES", "PLUGIN", "CodecOutput", "install", "is_available"]

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

_CODECS: dict[str, Any] = {}  # codec name -> its handle in this worker (see web/codecs.js)
_POOL: Any = None  # the codec workers (web/codec_pool.js), None where there are none


def install(load_codec: Callable[[str], Awaitable[Any]], pool: Any = None) -> None:
    """Decode in the codec workers where there are some, else load the codecs here on demand.

    Parameters
    ----------
    load_codec : callable
        ``await load_codec(name)`` (name: a key of ``PACKAGES``) gives the codec's handle in
        this worker, ``{decode(encoded, bytesPerSample)}`` (``loadCodec`` of
        ``web/codecs.js``): for callers that decode synchronously, and where there is no pool.
    pool : JS CodecPool, optional
        ``await pool.decode(name, encoded, bytesPerSample)`` decodes in another worker: the
        viewer's frames go there (:func:`ohifpy.imaging.codecs.run_codec`), so every core
        decodes while Python goes on fetching.
    """
    global _POOL
    _POOL = pool

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
        _add_plugins()

    set_decoder_loader(load)
    set_codec_offload(None if pool is None else _decode_in_pool)
    _add_plugins()


def _add_plugins() -> None:
    """pydicom takes a plugin only once it is available: add those that are now."""
    for syntax in SYNTAX_CODECS:
        decoder = get_pydicom_decoder(syntax)
        if is_available(syntax) and PLUGIN not in decoder.available_plugins:
            decoder.add_plugin(PLUGIN, (__name__, "decode_frame"))


def is_available(transfer_syntax_uid: str) -> bool:
    """pydicom's plugin protocol: whether a codec for the syntax is here or in the pool."""
    codec = SYNTAX_CODECS.get(uid.UID(transfer_syntax_uid))
    return codec is not None and (codec in _CODECS or _POOL is not None)


@dataclass(frozen=True)
class CodecOutput:
    """What a codec made of one frame: its decoded bytes and frame info, or its failure.

    The codec workers' answer reaches pydicom's plugin (:func:`decode_frame`) as this
    decoding option, so pydicom post-processes it exactly as a frame decoded here.
    """

    decoded: bytearray
    info: dict[str, Any] | None
    error: str = ""

    @classmethod
    def from_js(cls, result: Any) -> CodecOutput:
        """``{decoded, info}`` of web/codecs.js: the decoded bytes copied once into Python."""
        decoded = bytearray(result.decoded.byteLength)
        result.decoded.assign_to(decoded)
        info = result.info
        return cls(decoded, None if info is None else info.to_py())


async def _decode_in_pool(data: bytes, transfer_syntax_uid: str,
                          pixel: PixelModule) -> CodecOutput | None:
    """The frame decoded by a codec worker; None for a syntax no codec here decodes, or
    when no codec worker could take it (the caller decodes it here)."""
    from pyodide.ffi import JsException, to_js

    codec = SYNTAX_CODECS.get(uid.UID(transfer_syntax_uid))
    if codec is None:
        return None
    encoded = to_js(data)  # its own buffer, transferred to the codec worker
    try:
        result = await _POOL.decode(codec, encoded, (pixel.bits_allocated + 7) // 8)
    except JsException as exc:  # the codec's failure: the plugin raises it, as for one here
        return CodecOutput(bytearray(), None, _js_message(exc))
    return None if result is None else CodecOutput.from_js(result)


def decode_frame(src: bytes, runner: DecodeRunner) -> bytearray:
    """pydicom's plugin protocol: one encoded frame -> its decoded bytes.

    A frame a codec worker decoded comes as the ``codec_output`` option; otherwise the
    codec here decodes it. The runner's options are set the way pydicom's pylibjpeg
    plugin sets them (container size from the codestream precision, colour-by-pixel
    output, YBR converted by the codec reported as RGB), so pydicom reshapes and corrects
    the result as it does for pylibjpeg in CPython.

    The codestream's claimed size is checked against the runner's first (as
    :func:`ohifpy.imaging.decode_frame` does before it gets here): whoever calls pydicom,
    the WebAssembly heap, which never shrinks, is not grown for a size the metadata denies.
    """
    check_claimed_size(src, runner.transfer_syntax, runner.rows, runner.columns,
                       runner.samples_per_pixel, runner.bits_allocated)
    codec = SYNTAX_CODECS[runner.transfer_syntax]
    output = runner.get_option("codec_output") or _decode_here(codec, src, runner)
    if output.error:
        raise ValueError(output.error)
    if output.info is not None:
        _set_options(codec, output.info, runner)
    expected = runner.rows * runner.columns * runner.samples_per_pixel * runner.bits_allocated // 8
    if len(output.decoded) != expected:
        raise ValueError(f"the codec returned {len(output.decoded)} bytes, expected {expected}")
    return output.decoded


def _decode_here(codec: str, src: bytes, runner: DecodeRunner) -> CodecOutput:
    """Decode in this worker with the codec :func:`load_decoder` loaded."""
    from pyodide.ffi import JsException, to_js

    handle = _CODECS.get(codec)
    if handle is None:
        raise ValueError(f"the codec {PACKAGES[codec]} is not loaded here (await load_decoder)")
    try:
        return CodecOutput.from_js(handle.decode(to_js(src), (runner.bits_allocated + 7) // 8))
    except JsException as exc:
        return CodecOutput(bytearray(), None, _js_message(exc))


def _js_message(exc: Exception) -> str:
    """A JS Error's message without Pyodide's ``Error:`` prefix."""
    return str(exc).removeprefix("Error: ")


def _set_options(codec: str, info: dict[str, Any], runner: DecodeRunner) -> None:
    """Set the runner's options from an Emscripten codec's frame info."""
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
