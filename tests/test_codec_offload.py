"""Frames decoded by a codec elsewhere (the browser's codec workers): checked before they
go, and post-processed by pydicom as frames decoded here, pixel for pixel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydicom.pixels import get_decoder as get_pydicom_decoder
from reference import frames_of, load, metadata_of

from ohifpy.imaging import FrameDecodeError, PixelModule, decode_frame, wasm_codecs
from ohifpy.imaging import codecs as codecs_module
from ohifpy.imaging.codecs import run_codec, set_codec_offload, set_decoder_loader
from ohifpy.imaging.wasm_codecs import CodecOutput

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.cpython_only,  # pyjpegls and pylibjpeg-openjpeg stand in for the browser's codecs
]


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """wasm_codecs' plugin installed as with a codec pool (whose answers the tests give)."""
    monkeypatch.setattr(wasm_codecs, "_POOL", object())
    monkeypatch.setattr(codecs_module, "_DECODERS", {})
    wasm_codecs._add_plugins()
    yield
    for syntax in wasm_codecs.SYNTAX_CODECS:
        decoder = get_pydicom_decoder(syntax)
        if wasm_codecs.PLUGIN in decoder.available_plugins:
            decoder.remove_plugin(wasm_codecs.PLUGIN)
    set_codec_offload(None)
    set_decoder_loader(None)


def _codec_output(name: str) -> tuple[bytes, str, PixelModule, CodecOutput]:
    """A frame of a pydicom test file and what the browser's codec would make of it: the
    codestream's samples as decoded (unsigned for JPEG-LS, as coded for JPEG 2000)."""
    ds = load(name)
    (frame,) = frames_of(ds)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if name.endswith("jpeg_ls_lossless.dcm"):
        import jpeg_ls

        samples = jpeg_ls.decode(np.frombuffer(frame, np.uint8))
    else:
        import openjpeg

        samples = openjpeg.decode(frame)
    info = {"width": ds.Columns, "height": ds.Rows, "componentCount": 1,
            "bitsPerSample": ds.BitsStored, "interleaveMode": 0}
    return frame, syntax, PixelModule.from_dataset(metadata_of(ds)), CodecOutput(
        bytearray(samples.tobytes()), info)


def _through_the_plugin(syntax: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decode with wasm_codecs' plugin alone, as in the browser (pylibjpeg would answer
    first here)."""
    monkeypatch.setitem(codecs_module._DECODERS, syntax,
                        codecs_module._pydicom_decoder(syntax, wasm_codecs.PLUGIN))


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_a_frame_decoded_elsewhere_equals_the_frame_decoded_here(
        pool: None, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    frame, syntax, pixel, output = _codec_output(name)
    expected = decode_frame(frame, syntax, pixel)  # pylibjpeg, here
    _through_the_plugin(syntax, monkeypatch)
    decoded = decode_frame(frame, syntax, pixel, codec_output=output)
    assert decoded.pixels.dtype == expected.pixels.dtype
    assert np.array_equal(decoded.pixels, expected.pixels)
    assert decoded.pixels.dtype == np.int16  # signed, as the metadata says


async def test_run_codec_offloads_a_checked_frame_and_returns_its_output(pool: None) -> None:
    frame, syntax, pixel, output = _codec_output("MR_small_jpeg_ls_lossless.dcm")
    sent: list[Any] = []

    async def offload(data: bytes, uid: str, module: PixelModule) -> CodecOutput:
        sent.append((data, uid, module))
        return output

    set_codec_offload(offload)
    assert await run_codec(frame, syntax, pixel) is output
    assert sent == [(frame, syntax, pixel)]
    with pytest.raises(FrameDecodeError, match="no end marker"):
        await run_codec(frame[: len(frame) // 2], syntax, pixel)  # truncated: never sent
    assert len(sent) == 1


async def test_without_a_codec_elsewhere_the_decoder_here_is_readied(pool: None) -> None:
    frame, syntax, pixel, _ = _codec_output("MR_small_jpeg_ls_lossless.dcm")
    loaded: list[str] = []

    async def offload(data: bytes, uid: str, module: PixelModule) -> None:
        return None  # no codec worker could take it

    async def load(uid: str) -> None:
        loaded.append(uid)

    set_codec_offload(offload)
    set_decoder_loader(load)
    assert await run_codec(frame, syntax, pixel) is None
    assert loaded == [syntax]


def test_a_codec_failure_elsewhere_is_the_frames_decode_error(
        pool: None, monkeypatch: pytest.MonkeyPatch) -> None:
    frame, syntax, pixel, _ = _codec_output("MR_small_jp2klossless.dcm")
    _through_the_plugin(syntax, monkeypatch)
    failed = CodecOutput(bytearray(), None, "the codec rejected the codestream")
    with pytest.raises(FrameDecodeError, match="the codec rejected the codestream"):
        decode_frame(frame, syntax, pixel, codec_output=failed)
