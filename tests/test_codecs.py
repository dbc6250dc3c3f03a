"""Frame decoding per transfer syntax: the registry, pydicom-backed decoders, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pydicom
import pytest
from pydicom.pixels import convert_color_space
from pydicom.uid import JPEG2000Lossless, RLELossless
from reference import (
    RENDERABLE_TEST_FILES,
    frames_of,
    load,
    metadata_of,
    needs_codec_plugin,
    synthetic_instance,
)

from ohifpy.imaging import (
    DecodedFrame,
    FrameDecodeError,
    PixelModule,
    PixelModuleError,
    UnsupportedTransferSyntaxError,
    decode_frame,
    get_decoder,
    register_decoder,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_pixel_module_from_metadata_with_usual_defaults():
    ds = metadata_of(load("CT_small.dcm"))
    del ds.HighBit
    assert PixelModule.from_dataset(ds) == PixelModule(
        128, 128, 1, 16, 16, 15, 1, "MONOCHROME2", 0, 1
    )
    rtdose = PixelModule.from_dataset(metadata_of(load("rtdose.dcm")))
    assert rtdose.number_of_frames == 15 and rtdose.bits_allocated == 32


@pytest.mark.parametrize(
    ("keyword", "tag"), [("Rows", "(0028,0010)"), ("BitsStored", "(0028,0101)")]
)
def test_pixel_module_names_a_missing_attribute(keyword, tag):
    ds = metadata_of(load("MR_small.dcm"))
    delattr(ds, keyword)
    with pytest.raises(PixelModuleError, match=re.escape(f"{tag} {keyword} is missing")):
        PixelModule.from_dataset(ds)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bits_stored": 17}, "bits_stored"),
        ({"bits_allocated": 12}, "bits_allocated"),
        ({"rows": 0}, "rows"),
        ({"photometric_interpretation": "RGB"}, "needs samples_per_pixel 3"),
        ({"photometric_interpretation": "HSV"}, "not supported"),
        ({"pixel_representation": 2}, "pixel_representation"),
        ({"number_of_frames": 0}, "number_of_frames"),
    ],
)
def test_pixel_module_rejects_inconsistent_values(fields, message):
    valid = {
        "rows": 2,
        "columns": 2,
        "samples_per_pixel": 1,
        "bits_allocated": 16,
        "bits_stored": 12,
        "high_bit": 11,
        "pixel_representation": 0,
        "photometric_interpretation": "MONOCHROME2",
    }
    with pytest.raises(PixelModuleError, match=message):
        PixelModule(**{**valid, **fields})


def decode_all(ds: pydicom.Dataset) -> list[DecodedFrame]:
    """decode_frame for each frame of a file, fed as WADO-RS would feed it."""
    pixel = PixelModule.from_dataset(metadata_of(ds))
    syntax = ds.file_meta.TransferSyntaxUID
    return [decode_frame(frame, syntax, pixel) for frame in frames_of(ds)]


@pytest.mark.parametrize("name", RENDERABLE_TEST_FILES)
def test_decode_frame_equals_pydicom_pixel_array(name):
    ds = load(name)
    frames = decode_all(ds)
    expected = ds.pixel_array if len(frames) > 1 else ds.pixel_array[None]
    for index, decoded in enumerate(frames):
        pixels = decoded.pixels
        assert pixels.dtype.isnative
        if decoded.photometric_interpretation.startswith("YBR_FULL"):
            pixels = convert_color_space(pixels, "YBR_FULL", "RGB")  # what pixel_array does
        np.testing.assert_array_equal(pixels, expected[index], err_msg=f"{name} frame {index}")


@pytest.mark.parametrize(
    ("name", "photometric"),
    [
        *needs_codec_plugin(
            ("examples_jpeg2k.dcm", "RGB"),  # the JPEG 2000 decoder inverts YBR_RCT
            ("SC_rgb_dcmtk_+eb+cy+np.dcm", "YBR_FULL_422"),  # JPEG decoding leaves YCbCr
        ),
        ("SC_ybr_full_422_uncompressed.dcm", "YBR_FULL"),  # upsampled native 4:2:2
        ("ExplVR_BigEnd.dcm", "RGB"),
        ("CT_small.dcm", "MONOCHROME2"),
    ],
)
def test_decoded_frame_reports_photometric_after_decoding(name, photometric):
    (decoded, *_) = decode_all(load(name))
    assert decoded.photometric_interpretation == photometric


def test_planar_configuration_1_comes_back_interleaved():
    rgb = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ds = synthetic_instance(rgb, PlanarConfiguration=1)
    (decoded,) = decode_all(ds)
    np.testing.assert_array_equal(decoded.pixels, rgb)


def test_bit_packed_frame_of_odd_size():
    bits = np.random.default_rng(4).integers(0, 2, (3, 5), dtype=np.uint8)
    pixel = PixelModule(3, 5, 1, 1, 1, 0, 0, "MONOCHROME2")
    packed = np.packbits(bits.ravel(), bitorder="little").tobytes()  # 15 bits -> 2 bytes
    decoded = decode_frame(packed, "1.2.840.10008.1.2.1", pixel)
    np.testing.assert_array_equal(decoded.pixels, bits)


def test_signed_12_bit_values_are_sign_extended():
    # 12 bits stored in 16: the high bits hold garbage (e.g. an overlay), not the sign
    values = np.array([[-2048, -1, 0, 2047]], dtype=np.int16)
    noisy = (values.view(np.uint16) & 0x0FFF) | 0xA000
    pixel = PixelModule(1, 4, 1, 16, 12, 11, 1, "MONOCHROME2")
    decoded = decode_frame(noisy.astype("<u2").tobytes(), "1.2.840.10008.1.2.1", pixel)
    np.testing.assert_array_equal(decoded.pixels, values)


def _ct_like(shape=(64, 48), seed=5) -> np.ndarray:
    return np.random.default_rng(seed).integers(-2000, 2000, shape).astype(np.int16)


@pytest.mark.cpython_only
@pytest.mark.parametrize(
    ("tool", "args", "syntax"),
    [
        ("dcmcjpeg", ["+el", "+sv", "2"], "1.2.840.10008.1.2.4.57"),
        ("dcmcjpeg", ["+el", "+sv", "7"], "1.2.840.10008.1.2.4.57"),
        ("dcmcjpeg", ["+e1"], "1.2.840.10008.1.2.4.70"),
        ("dcmcjpls", ["+el"], "1.2.840.10008.1.2.4.80"),
    ],
)
def test_signed_lossless_jpeg_family_made_by_dcmtk(tmp_path, tool, args, syntax):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} (dcmtk) is not installed: run scripts/setup.sh")
    original = _ct_like()
    synthetic_instance(original).save_as(tmp_path / "in.dcm", enforce_file_format=True)
    subprocess.run([tool, *args, tmp_path / "in.dcm", tmp_path / "out.dcm"], check=True)
    compressed = pydicom.dcmread(tmp_path / "out.dcm")
    assert compressed.file_meta.TransferSyntaxUID == syntax
    (decoded,) = decode_all(compressed)
    np.testing.assert_array_equal(decoded.pixels, original)


@pytest.mark.cpython_only
def test_jpeg_ls_near_lossless_made_by_dcmtk_stays_within_its_bound(tmp_path):
    if shutil.which("dcmcjpls") is None:
        pytest.fail("dcmcjpls (dcmtk) is not installed: run scripts/setup.sh")
    original = (_ct_like() + 2000).astype(np.uint16)  # dcmtk's near-lossless is unsigned only
    synthetic_instance(original).save_as(tmp_path / "in.dcm", enforce_file_format=True)
    subprocess.run(
        ["dcmcjpls", "+en", "+md", "3", tmp_path / "in.dcm", tmp_path / "out.dcm"], check=True
    )
    compressed = pydicom.dcmread(tmp_path / "out.dcm")
    assert compressed.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.81"
    (decoded,) = decode_all(compressed)
    assert np.abs(decoded.pixels.astype(int) - original).max() <= 3


@pytest.mark.parametrize("syntax", [RLELossless, *needs_codec_plugin(JPEG2000Lossless)])
def test_signed_lossless_made_by_pydicom_encoders(syntax):
    original = _ct_like(seed=6)
    ds = synthetic_instance(original)
    ds.compress(syntax)
    (decoded,) = decode_all(ds)
    np.testing.assert_array_equal(decoded.pixels, original)


@pytest.mark.cpython_only
@pytest.mark.parametrize(
    ("syntax", "options", "tolerance"),
    [
        ("1.2.840.10008.1.2.4.201", ["-reversible", "true"], 0),
        ("1.2.840.10008.1.2.4.202", ["-reversible", "true", "-prog_order", "RPCL"], 0),
        ("1.2.840.10008.1.2.4.203", ["-qstep", "0.0005"], 64),
    ],
)
def test_htj2k_made_by_openjph(tmp_path, syntax, options, tolerance):
    if shutil.which("ojph_compress") is None:
        pytest.fail("ojph_compress (openjph-tools) is not installed: run scripts/setup.sh")
    original = np.random.default_rng(7).integers(0, 4096, (32, 48)).astype(np.uint16)
    (tmp_path / "in.pgm").write_bytes(b"P5\n48 32\n4095\n" + original.astype(">u2").tobytes())
    subprocess.run(
        ["ojph_compress", "-i", tmp_path / "in.pgm", "-o", tmp_path / "out.j2c", *options],
        check=True,
        capture_output=True,
    )
    pixel = PixelModule(32, 48, 1, 16, 12, 11, 0, "MONOCHROME2")
    decoded = decode_frame((tmp_path / "out.j2c").read_bytes(), syntax, pixel)
    assert decoded.pixels.dtype == np.uint16
    assert np.abs(decoded.pixels.astype(int) - original).max() <= tolerance


# --- errors ---------------------------------------------------------------------------


def test_unknown_syntax_is_unsupported_and_suggests_transcoding():
    pixel = PixelModule(2, 2, 1, 8, 8, 7, 0, "MONOCHROME2")
    with pytest.raises(UnsupportedTransferSyntaxError) as caught:
        decode_frame(b"\0" * 4, "1.2.3.4.5", pixel)
    assert caught.value.transfer_syntax_uid == "1.2.3.4.5"
    message = str(caught.value)
    assert "1.2.3.4.5" in message
    assert "requestTransferSyntaxUID" in message and "/rendered" in message
    assert isinstance(caught.value, FrameDecodeError)


def test_known_syntax_without_decoder_names_it():
    with pytest.raises(
        UnsupportedTransferSyntaxError, match=r"MPEG2 .*\(1\.2\.840\.10008\.1\.2\.4\.100\)"
    ):
        get_decoder("1.2.840.10008.1.2.4.100")


@pytest.mark.parametrize(
    ("name", "cut"),
    [
        ("MR_small_RLE.dcm", 2),  # truncated
        *needs_codec_plugin(
            ("MR_small_jp2klossless.dcm", 2),
            ("MR_small_jpeg_ls_lossless.dcm", None),  # garbage
            ("SC_rgb_jpeg_dcmtk.dcm", None),
            ("SC_rgb_jpeg_gdcm.dcm", None),
            ("JPGExtended.dcm", None),
        ),
    ],
)
def test_corrupt_frame_raises_frame_decode_error_naming_the_syntax(name, cut):
    ds = load(name)
    frame = frames_of(ds)[0]
    data = frame[: len(frame) // cut] if cut else bytes(range(256)) * 4
    syntax = ds.file_meta.TransferSyntaxUID
    with pytest.raises(FrameDecodeError) as caught:
        decode_frame(data, syntax, PixelModule.from_dataset(ds))
    assert syntax.name in str(caught.value) and str(syntax) in str(caught.value)
    assert not isinstance(caught.value, UnsupportedTransferSyntaxError)


def test_undecodable_real_file_raises_frame_decode_error():
    ds = load("JPEG-lossy.dcm")  # a codestream no installed plugin accepts
    with pytest.raises(FrameDecodeError, match="JPEG Extended"):
        decode_all(ds)


def test_empty_frame_is_rejected_before_decoding():
    with pytest.raises(FrameDecodeError, match="empty"):
        decode_frame(b"", RLELossless, PixelModule(2, 2, 1, 8, 8, 7, 0, "MONOCHROME2"))


def test_truncated_native_frame_says_expected_and_got():
    ds = load("MR_truncated.dcm")
    with pytest.raises(FrameDecodeError, match=r"expected 8192 bytes .* got 8130"):
        decode_frame(ds.PixelData, ds.file_meta.TransferSyntaxUID, PixelModule.from_dataset(ds))


@pytest.mark.parametrize("extra", [2, 3])
def test_native_frame_longer_than_padding_is_rejected(extra):
    pixel = PixelModule(3, 3, 3, 8, 8, 7, 0, "RGB")  # 27 bytes: one padding byte allowed
    decode_frame(b"\1" * 28, "1.2.840.10008.1.2.1", pixel)
    with pytest.raises(FrameDecodeError, match=rf"expected 27 bytes .* got {27 + extra}"):
        decode_frame(b"\1" * (27 + extra), "1.2.840.10008.1.2.1", pixel)


# --- registry -------------------------------------------------------------------------

PRIVATE_SYNTAX = "1.2.826.0.1.3680043.10.1599.1"


def test_registered_decoder_is_used_and_replaced():
    pixel = PixelModule(2, 3, 1, 16, 16, 15, 0, "MONOCHROME2")
    register_decoder(
        PRIVATE_SYNTAX, lambda data, px: DecodedFrame(np.zeros((2, 3), ">u2"), "MONOCHROME2")
    )
    first = decode_frame(b"x", PRIVATE_SYNTAX, pixel)
    assert first.pixels.dtype == np.dtype("=u2")  # put in native byte order
    register_decoder(
        PRIVATE_SYNTAX, lambda data, px: DecodedFrame(np.full((2, 3), 7, "u2"), "MONOCHROME2")
    )
    assert decode_frame(b"x", PRIVATE_SYNTAX, pixel).pixels[0, 0] == 7


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (DecodedFrame(np.zeros((3, 2), "u1"), "MONOCHROME2"), "shape"),
        (DecodedFrame(np.zeros((2, 3, 3), "u1"), "RGB"), "shape"),
        (DecodedFrame(np.zeros((2, 3), "u1"), "YBR_PARTIAL_420"), "cannot be displayed"),
        (np.zeros((2, 3), "u1"), "instead of a DecodedFrame"),
    ],
)
def test_decoder_results_that_do_not_fit_are_rejected(result, problem):
    register_decoder(PRIVATE_SYNTAX, lambda data, px: result)
    with pytest.raises(FrameDecodeError, match=problem):
        decode_frame(b"x", PRIVATE_SYNTAX, PixelModule(2, 3, 1, 8, 8, 7, 0, "MONOCHROME2"))


def test_register_decoder_validates_its_arguments():
    with pytest.raises(ValueError, match="empty"):
        register_decoder(" ", lambda data, px: None)
    with pytest.raises(TypeError, match="not callable"):
        register_decoder(PRIVATE_SYNTAX, "decoder")


@pytest.mark.cpython_only  # a subprocess; the Pyodide run itself is the real check
def test_imaging_works_without_the_codec_plugins():
    """As in Pyodide: no pylibjpeg, openjpeg, libjpeg, rle or Pillow."""
    script = textwrap.dedent(
        """
        import sys
        for name in ("pylibjpeg", "openjpeg", "libjpeg", "rle", "PIL", "jpeg_ls", "gdcm"):
            sys.modules[name] = None  # makes any import of them fail
        import numpy as np
        from ohifpy.imaging import PixelModule, decode_frame, get_decoder
        from ohifpy.imaging import UnsupportedTransferSyntaxError
        pixel = PixelModule(1, 2, 1, 16, 16, 15, 1, "MONOCHROME2")
        frame = decode_frame(np.array([-5, 7], "<i2").tobytes(), "1.2.840.10008.1.2.1", pixel)
        assert frame.pixels.tolist() == [[-5, 7]], frame.pixels
        get_decoder("1.2.840.10008.1.2.5")  # pydicom's own RLE decoder is pure Python
        try:
            get_decoder("1.2.840.10008.1.2.4.90")
        except UnsupportedTransferSyntaxError:
            print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
