"""Colour stage: YBR/RGB samples and Palette Color LUTs to 8-bit RGB."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.data import get_palette_files, get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, convert_color_space
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from reference import metadata_of

from ohifpy.imaging import LUTError, PaletteColorLUT
from ohifpy.imaging.color import to_rgb

SAMPLES = np.random.default_rng(8).integers(0, 256, (6, 9, 3), dtype=np.uint8)


@pytest.mark.parametrize("photometric", ["YBR_FULL", "YBR_FULL_422"])
def test_ybr_full_converts_like_pydicom(photometric):
    np.testing.assert_array_equal(
        to_rgb(SAMPLES, photometric, 8), convert_color_space(SAMPLES, "YBR_FULL", "RGB")
    )


@pytest.mark.parametrize("photometric", ["RGB", "YBR_ICT", "YBR_RCT"])
def test_rgb_and_jpeg_2000_component_transforms_pass_through(photometric):
    np.testing.assert_array_equal(to_rgb(SAMPLES, photometric, 8), SAMPLES)


def test_deep_samples_keep_their_top_8_bits():
    deep = SAMPLES.astype(np.uint16) << 4 | 0x0F  # 12 bits stored
    np.testing.assert_array_equal(to_rgb(deep, "RGB", 12), SAMPLES)


def test_unknown_colour_space_is_refused():
    with pytest.raises(ValueError, match="HSV"):
        to_rgb(SAMPLES, "HSV", 8)


def test_16_bit_palette_from_json_metadata_matches_pydicom():
    ds = pydicom.dcmread(get_testdata_file("examples_palette.dcm"))  # 256 x 16-bit entries
    palette = PaletteColorLUT.from_dataset(metadata_of(ds), signed=False)
    assert palette.rgb.shape == (256, 3) and palette.rgb.dtype == np.uint8
    expected = apply_color_lut(np.arange(256, dtype=np.uint8), ds) >> 8
    np.testing.assert_array_equal(palette.rgb, expected)
    np.testing.assert_array_equal(palette.lookup(ds.pixel_array), palette.rgb[ds.pixel_array])


@pytest.mark.parametrize("name", ["spring.dcm", "winter.dcm", "hotiron.dcm", "pet20step.dcm"])
def test_well_known_palettes_segmented_or_not_from_json_metadata(name):
    (path,) = get_palette_files(name)
    ds = pydicom.dcmread(path)
    palette = PaletteColorLUT.from_dataset(metadata_of(ds), signed=False)
    np.testing.assert_array_equal(palette.rgb, apply_color_lut(np.arange(256), ds))


def palette_dataset(first_mapped: int) -> Dataset:
    ds = Dataset()
    for channel, values in (
        ("Red", [0, 100, 200, 250]),
        ("Green", [1, 2, 3, 4]),
        ("Blue", [9, 8, 7, 6]),
    ):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [4, first_mapped, 8])
        ds.add_new(f"{channel}PaletteColorLookupTableData", "OW", bytes(values))
    return ds


def test_palette_lookup_clamps_and_reads_a_signed_first_mapped_value():
    palette = PaletteColorLUT.from_dataset(palette_dataset(0xFFFF), signed=True)  # first -1
    assert palette.first_mapped == -1
    got = palette.lookup(np.array([-7, -1, 0, 1, 30], dtype=np.int16))
    assert got[:, 0].tolist() == [0, 0, 100, 200, 250]
    assert got[:, 2].tolist() == [9, 9, 8, 7, 6]


@pytest.mark.filterwarnings("ignore:No bulk data URI handler")
def test_palette_data_left_behind_a_bulk_data_uri_is_explained():
    metadata = Dataset.from_json(
        {
            "00281101": {"vr": "US", "Value": [256, 0, 16]},
            "00281201": {"vr": "OW", "BulkDataURI": "http://server/bulk/red"},
        }
    )
    with pytest.raises(LUTError, match="BulkDataURI"):
        PaletteColorLUT.from_dataset(metadata, signed=False)


def test_palette_data_of_the_wrong_length_is_named():
    ds = palette_dataset(0)
    ds.GreenPaletteColorLookupTableData = bytes(6)
    with pytest.raises(LUTError, match=r"Green .* \(0028,1202\) has 6 bytes, not the 4 or 8"):
        PaletteColorLUT.from_dataset(ds, signed=False)


def test_palette_without_descriptor_is_refused():
    with pytest.raises(LUTError, match=r"Descriptor \(0028,1101\)"):
        PaletteColorLUT.from_dataset(Dataset(), signed=False)


def as_read_from_a_file(ds: Dataset, syntax: str) -> Dataset:
    """`ds` written in `syntax` and read back by pydicom: binary values stay as stored."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, implicit_vr=syntax == ImplicitVRLittleEndian,
             little_endian=syntax != ExplicitVRBigEndian)
    buffer.seek(0)
    return dcmread(buffer, force=True)


def words(values: np.ndarray, syntax: str) -> bytes:
    """16-bit values as OW bytes in the byte order of `syntax`."""
    return values.astype(">u2" if syntax == ExplicitVRBigEndian else "<u2").tobytes()


#: Red, green and blue 16-bit palettes whose two bytes differ, so a byte swap shows.
RAMPS = np.stack([np.linspace(0, 65535, 256), np.linspace(65535, 300, 256),
                  (np.arange(256) * 997) % 65536]).astype(np.uint16)


def palette_in(syntax: str, bits: int, padded: bool = False) -> Dataset:
    """A 256-entry palette (`bits` per entry) encoded as a file in `syntax` holds it.

    8-bit entries are packed two per OW word, so a big endian file swaps each pair;
    `padded` puts each 8-bit entry in a word of its own (PS3.3 C.7.6.3.1.5's note).
    """
    ds = Dataset()
    for channel, ramp in zip(("Red", "Green", "Blue"), RAMPS):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [256, 0, bits])
        entries = ramp if bits == 16 else ramp >> 8
        if bits == 8 and not padded:
            data = entries.astype(np.uint8).tobytes()
            if syntax == ExplicitVRBigEndian:
                data = np.frombuffer(data, "<u2").astype(">u2").tobytes()
        else:
            data = words(entries, syntax)
        ds.add_new(f"{channel}PaletteColorLookupTableData", "OW", data)
    return as_read_from_a_file(ds, syntax)


SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("syntax", SYNTAXES)
def test_palette_data_of_a_file_is_read_in_the_files_byte_order(syntax, bits):
    palette = PaletteColorLUT.from_dataset(palette_in(syntax, bits), signed=False)
    np.testing.assert_array_equal(palette.rgb, (RAMPS >> 8).T)
    # pydicom agrees once the file is little endian (it reads OW data in native order)
    expected = apply_color_lut(np.arange(256), palette_in(ExplicitVRLittleEndian, bits))
    np.testing.assert_array_equal(palette.rgb, expected >> (bits - 8))


def segmented_palette_in(syntax: str) -> Dataset:
    """Segmented 16-bit palettes (PS3.3 C.7.9.2) as a file in `syntax` holds them: entry 0,
    then one linear segment of 255 entries up to a value whose two bytes differ."""
    ds = Dataset()
    for channel, end in (("Red", 0x1234), ("Green", 0xFF00), ("Blue", 0x00FF)):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [256, 0, 16])
        ds.add_new(f"Segmented{channel}PaletteColorLookupTableData", "OW",
                   words(np.array([0, 1, 0, 1, 255, end]), syntax))
    return as_read_from_a_file(ds, syntax)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_segmented_palette_data_of_a_file_is_read_in_the_files_byte_order(syntax):
    palette = PaletteColorLUT.from_dataset(segmented_palette_in(syntax), signed=False)
    assert palette.rgb[-1].tolist() == [0x12, 0xFF, 0x00]
    expected = apply_color_lut(np.arange(256), segmented_palette_in(syntax))
    np.testing.assert_array_equal(palette.rgb, expected >> 8)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_8_bit_entries_padded_to_16_bits_keep_their_values(syntax):
    """PS3.3 C.7.6.3.1.5: some write 8-bit entries one per word; the length tells."""
    palette = PaletteColorLUT.from_dataset(palette_in(syntax, 8, padded=True), signed=False)
    np.testing.assert_array_equal(palette.rgb, (RAMPS >> 8).T)


def test_16_bit_entries_under_an_8_bit_descriptor_keep_their_top_8_bits():
    """The reverse mislabel: 16-bit data (values above 255) with an 8 in the descriptor."""
    ds = palette_in(ExplicitVRLittleEndian, 16)
    for channel in ("Red", "Green", "Blue"):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [256, 0, 8])
    palette = PaletteColorLUT.from_dataset(ds, signed=False)
    np.testing.assert_array_equal(palette.rgb, (RAMPS >> 8).T)
