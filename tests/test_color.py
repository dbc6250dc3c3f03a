"""Colour stage: YBR/RGB samples and Palette Color LUTs to 8-bit RGB."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_palette_files, get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space
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


def test_palette_without_descriptor_is_refused():
    with pytest.raises(LUTError, match=r"Descriptor \(0028,1101\)"):
        PaletteColorLUT.from_dataset(Dataset(), signed=False)
