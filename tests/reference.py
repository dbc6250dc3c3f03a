"""Independent reference render built only from pydicom's own pixel functions.

ohifpy's pipeline must agree with it within +-1 per channel. Grayscale
images come back as ``(rows, columns)`` uint8, colour (RGB, YBR, PALETTE
COLOR) as ``(rows, columns, 3)`` uint8.

Also the helpers that feed the pipeline the way WADO-RS does: the frames of
a file as bytes (:func:`frames_of`), its metadata without Pixel Data through
DICOM JSON (:func:`metadata_of`), and small synthetic instances
(:func:`synthetic_instance`).
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def needs_codec_plugin(*cases: object) -> list:
    """Parametrize `cases` that pydicom decodes only through pylibjpeg or Pillow.

    They are marked ``cpython_only``: Pyodide has neither plugin (the browser
    registers WebAssembly codecs instead). A tuple case spreads over several arguments.
    """
    return [
        pytest.param(*(case if isinstance(case, tuple) else (case,)),
                     marks=pytest.mark.cpython_only)
        for case in cases
    ]


#: pydicom's shipped test files (available without download) that the pipeline
#: decodes and renders, native and encapsulated, with what each exercises.
RENDERABLE_TEST_FILES = [
    "CT_small.dcm",  # explicit LE, signed 16-bit
    "MR_small.dcm",
    "MR_small_implicit.dcm",  # implicit LE
    "MR_small_bigendian.dcm",  # explicit BE: byte-swapped words
    "MR_small_expb.dcm",
    "MR_small_padded.dcm",  # Pixel Data longer than the frame
    "image_dfl.dcm",  # deflated: WADO-RS frames are already inflated
    "SC_rgb_small_odd.dcm",  # 27-byte frame + padding byte
    "ExplVR_BigEnd.dcm",  # BE RGB, planar configuration 1
    "examples_rgb_color.dcm",
    "SC_ybr_full_422_uncompressed.dcm",  # native YBR_FULL_422 is upsampled
    "examples_palette.dcm",
    "examples_overlay.dcm",  # 12 bits stored in 16
    "rtdose.dcm",  # 15 frames, 32-bit
    "rtdose_expb.dcm",
    "liver_1frame.dcm",  # 1-bit
    "liver_expb_1frame.dcm",
    "MR_small_RLE.dcm",  # RLE: pydicom's own decoder, also in Pyodide
    "SC_rgb_rle.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_rle_32bit_2frame.dcm",
    "rtdose_rle.dcm",
    *needs_codec_plugin(
        "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline YBR_FULL
        "SC_rgb_dcmtk_+eb+cy+np.dcm",  # JPEG baseline YBR_FULL_422
        "SC_rgb_dcmtk_+eb+cr.dcm",  # JPEG baseline RGB
        "SC_rgb_small_odd_jpeg.dcm",
        "examples_ybr_color.dcm",  # 30 JPEG frames
        "JPGExtended.dcm",  # 12-bit JPEG extended
        "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless SV1
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEGLSNearLossless_08.dcm",
        "JPEGLSNearLossless_16.dcm",
        "SC_rgb_jls_lossy_line.dcm",
        "MR_small_jp2klossless.dcm",
        "JPEG2000.dcm",
        "693_J2KI.dcm",  # 14-bit lossy JPEG 2000
        "J2K_pixelrep_mismatch.dcm",  # codestream signedness differs from the header
        "examples_jpeg2k.dcm",  # YBR_RCT
        "GDCMJ2K_TextGBR.dcm",
    ),
]

_PROBES = np.array([-1e300, 1e300])


def reference_render(ds_with_pixels: Dataset, frame_index: int = 0, window=None) -> np.ndarray:
    """Render one frame of a dataset that has Pixel Data the pydicom way.

    ds.pixel_array (YBR converted to RGB), then apply_modality_lut and
    apply_voi_lut (window index 0, or `window`'s center/width/function), then
    a linear scale to 0..255 from the output range apply_voi_lut uses: the VOI
    LUT Descriptor's bit depth for a VOI LUT Sequence, the window's extremes
    for windowing, the minimum and maximum when there is no VOI at all.
    MONOCHROME1 is inverted. Colour samples deeper than 8 bits (and 16-bit
    palette entries) keep their top 8 bits.
    """
    ds = ds_with_pixels
    arr = ds.pixel_array
    if int(ds.get("NumberOfFrames") or 1) > 1:
        arr = arr[frame_index]
    photometric = ds.PhotometricInterpretation
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)[..., :3]
        return (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb
    if ds.SamplesPerPixel == 3:
        return (arr >> max(ds.BitsStored - 8, 0)).astype(np.uint8)

    modality = apply_modality_lut(arr, ds)
    voi_ds = _windowed(ds, window) if window is not None else ds
    if window is None and ds.get("VOILUTSequence"):
        out = apply_voi_lut(modality, voi_ds).astype(np.float64)
        low, high = 0.0, float(2 ** ds.VOILUTSequence[0].LUTDescriptor[2] - 1)
    elif "WindowCenter" in voi_ds:
        out = apply_voi_lut(modality, voi_ds)
        with np.errstate(over="ignore"):
            low, high = apply_voi_lut(_PROBES.copy(), voi_ds)
    else:
        out = modality.astype(np.float64)
        low, high = float(out.min()), float(out.max())
    if high == low:
        scaled = np.full(out.shape, 0.5)
    else:
        scaled = (out - low) / (high - low)
    gray = np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    return 255 - gray if photometric == "MONOCHROME1" else gray


def _windowed(ds: Dataset, window) -> Dataset:
    """A copy of the attributes windowing reads, with `window` as the only window."""
    out = Dataset()
    for keyword in (
        "PhotometricInterpretation",
        "BitsStored",
        "PixelRepresentation",
        "RescaleSlope",
        "RescaleIntercept",
        "ModalityLUTSequence",
    ):
        if keyword in ds:
            out[keyword] = ds[keyword]
    out.WindowCenter = window.center
    out.WindowWidth = window.width
    out.VOILUTFunction = window.function
    return out


def load(name: str) -> Dataset:
    """One of pydicom's shipped test files, read whole."""
    return dcmread(get_testdata_file(name))


def frames_of(ds: Dataset) -> list[bytes]:
    """Each frame's bytes as WADO-RS frame retrieval returns them in the stored syntax.

    Native single frames keep the padding byte of odd lengths.
    """
    count = int(ds.get("NumberOfFrames") or 1)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return list(generate_frames(ds.PixelData, number_of_frames=count))
    bits = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated
    length = (bits + 7) // 8
    if ds.PhotometricInterpretation == "YBR_FULL_422":
        length = length // 3 * 2
    if count == 1:
        return [ds.PixelData[: length + length % 2]]
    return [ds.PixelData[i * length : (i + 1) * length] for i in range(count)]


def metadata_of(ds: Dataset) -> Dataset:
    """`ds` as WADO-RS metadata gives it: through DICOM JSON, without Pixel Data or file meta."""
    metadata = Dataset()
    for element in ds:
        if element.tag != 0x7FE00010:
            metadata.add(element)
    return Dataset.from_json(metadata.to_json_dict(suppress_invalid_tags=True))


def synthetic_instance(stored: np.ndarray, **attributes) -> Dataset:
    """A minimal Explicit VR Little Endian instance holding `stored` as its only frame.

    Rows, Columns, Samples per Pixel, Bits Allocated/Stored, High Bit and Pixel
    Representation follow the array (a third axis means RGB); `attributes`
    add or override elements by keyword, e.g. ``PlanarConfiguration=1``.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns = stored.shape[:2]
    ds.SamplesPerPixel = 3 if stored.ndim == 3 else 1
    ds.PhotometricInterpretation = "RGB" if stored.ndim == 3 else "MONOCHROME2"
    if stored.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = stored.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if stored.dtype.kind == "i" else 0
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    layout = stored.transpose(2, 0, 1) if ds.get("PlanarConfiguration") == 1 else stored
    data = layout.astype(stored.dtype.newbyteorder("<")).tobytes()
    ds.PixelData = data + b"\0" * (len(data) % 2)
    ds["PixelData"].VR = "OB" if ds.BitsAllocated == 8 else "OW"
    return ds
