"""Modality and VOI stages: lookup tables, rescale, windows (PS3.3 C.11.1, C.11.2)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_windowing
from reference import metadata_of

from ohifpy.imaging import LookupTable, LUTError, ModalityTransform, VOIWindow, voi_windows
from ohifpy.imaging.voi import voi_lut


def lut_item(descriptor, data, vr="US") -> Dataset:
    item = Dataset()
    item.LUTDescriptor = descriptor
    item.add_new("LUTData", vr, data)
    return item


# --- LookupTable -----------------------------------------------------------------------


def test_lookup_clamps_below_and_above_the_table():
    table = LookupTable.from_item(
        lut_item([4, 10, 16], [100, 200, 300, 400]), signed_input=False, little_endian=True
    )
    values = np.array([5, 10, 12, 13, 99])
    assert table.lookup(values).tolist() == [100, 100, 300, 400, 400]
    assert table.lookup(np.array([10.6, 11.4])).tolist() == [200, 200]  # rounded


@pytest.mark.parametrize("little_endian", [True, False])
def test_ow_lut_data_follows_the_byte_order(little_endian):
    data = np.array([1, 256, 4095], dtype="<u2" if little_endian else ">u2").tobytes()
    table = LookupTable.from_item(
        lut_item([3, 0, 12], data, "OW"), signed_input=False, little_endian=little_endian
    )
    assert table.data.tolist() == [1, 256, 4095]
    assert table.bits == 12


def test_packed_8_bit_ow_lut_data():
    table = LookupTable.from_item(
        lut_item([3, 0, 8], bytes([9, 8, 7, 0]), "OW"), signed_input=False, little_endian=True
    )
    assert table.data.tolist() == [9, 8, 7]


def test_packed_8_bit_ow_lut_data_of_a_big_endian_file():
    """A big endian file stores OW as 16-bit words: each pair of 8-bit entries is swapped."""
    table = LookupTable.from_item(
        lut_item([3, 0, 8], bytes([8, 9, 0, 7]), "OW"), signed_input=False, little_endian=False
    )
    assert table.data.tolist() == [9, 8, 7]


def test_first_mapped_value_is_signed_for_signed_input():
    item = lut_item([3, 0xFFFE, 16], [5, 6, 7])
    assert LookupTable.from_item(item, signed_input=True, little_endian=True).first_mapped == -2
    assert (
        LookupTable.from_item(item, signed_input=False, little_endian=True).first_mapped == 0xFFFE
    )


def test_zero_entries_means_65536():
    table = LookupTable.from_item(
        lut_item([0, 0, 16], np.arange(65536, dtype="<u2").tobytes(), "OW"),
        signed_input=False,
        little_endian=True,
    )
    assert table.data.size == 65536 and table.lookup(np.array([70000]))[0] == 65535


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (lut_item([3, 0], [1, 2, 3]), "3 values"),
        (lut_item([3, 0, 16], b"\1\0", "OW"), "too few"),
        (lut_item([3, 0, 16], [1, 2]), "2 entries, its descriptor says 3"),
        (lut_item([2, 0, 32], [1, 2]), "bits per entry"),
    ],
)
def test_unusable_lut_raises_lut_error(item, message):
    with pytest.raises(LUTError, match=message):
        LookupTable.from_item(item, signed_input=False, little_endian=True)


@pytest.mark.filterwarnings("ignore:No bulk data URI handler")
def test_lut_data_left_behind_a_bulk_data_uri_is_explained():
    metadata = Dataset.from_json(
        {
            "00283000": {
                "vr": "SQ",
                "Value": [
                    {
                        "00283002": {"vr": "US", "Value": [2, 0, 16]},
                        "00283006": {"vr": "OW", "BulkDataURI": "http://server/bulk/1"},
                    }
                ],
            }
        }
    )
    with pytest.raises(LUTError, match="BulkDataURI"):
        ModalityTransform.from_dataset(metadata, signed=False)


# --- ModalityTransform ----------------------------------------------------------------


def rescaled(slope, intercept) -> Dataset:
    ds = Dataset()
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    return ds


def test_integral_rescale_keeps_integers_in_the_narrowest_dtype():
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    transform = ModalityTransform.from_dataset(metadata_of(ct), signed=True)
    values = transform.apply(ct.pixel_array)
    assert values.dtype == np.int16
    np.testing.assert_array_equal(values, apply_modality_lut(ct.pixel_array, ct))

    unsigned = np.array([0, 4095], dtype=np.uint16)
    shifted = ModalityTransform.from_dataset(rescaled(1, -1024), signed=False).apply(unsigned)
    assert shifted.dtype == np.int16 and shifted.tolist() == [-1024, 3071]
    wide = ModalityTransform.from_dataset(rescaled(1, -1024), signed=False).apply(
        np.array([0, 65535], dtype=np.uint16)
    )
    assert wide.dtype == np.int32 and wide.tolist() == [-1024, 64511]


def test_fractional_rescale_gives_float32_close_to_pydicom():
    ds = rescaled("0.0125", "-3.5")
    stored = np.arange(-3000, 3000, 7, dtype=np.int16)
    values = ModalityTransform.from_dataset(ds, signed=True).apply(stored)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, apply_modality_lut(stored, ds), rtol=1e-6, atol=1e-4)


def test_identity_returns_the_stored_values_themselves():
    stored = np.arange(4, dtype=np.uint8)
    assert ModalityTransform.from_dataset(Dataset(), signed=False).apply(stored) is stored


def test_modality_lut_sequence_matches_pydicom_and_wins_over_rescale():
    ds = rescaled(2, 100)
    ds.PixelRepresentation, ds.BitsStored = 1, 16
    ds.ModalityLUTSequence = [lut_item([4, 0xFFFF, 12], [10, 20, 30, 4000])]  # first mapped -1
    stored = np.array([-5, -1, 0, 1, 2, 9], dtype=np.int16)
    transform = ModalityTransform.from_dataset(ds, signed=True)
    assert transform.apply(stored).tolist() == [10, 10, 20, 30, 4000, 4000]
    assert transform.keeps_integers
    unsigned_ds = rescaled(2, 100)
    unsigned_ds.ModalityLUTSequence = [lut_item([4, 2, 16], [10, 20, 30, 4000])]
    unsigned = np.array([0, 2, 4, 9], dtype=np.uint16)
    np.testing.assert_array_equal(
        ModalityTransform.from_dataset(unsigned_ds, signed=False).apply(unsigned),
        apply_modality_lut(unsigned, unsigned_ds),
    )


def enhanced(per_frame: list[dict], shared: dict) -> Dataset:
    """An enhanced multi-frame header with the given functional group items by keyword."""

    def groups(attributes: dict) -> Dataset:
        item = Dataset()
        for keyword, values in attributes.items():
            group = Dataset()
            for name, value in values.items():
                setattr(group, name, value)
            setattr(item, keyword, [group])
        return item

    ds = Dataset()
    ds.NumberOfFrames = len(per_frame)
    ds.PerFrameFunctionalGroupsSequence = [groups(attributes) for attributes in per_frame]
    ds.SharedFunctionalGroupsSequence = [groups(shared)]
    return ds


def test_pixel_value_transformation_per_frame_overrides_shared():
    ds = enhanced(
        per_frame=[
            {"PixelValueTransformationSequence": {"RescaleSlope": 2, "RescaleIntercept": 5}},
            {},
        ],
        shared={"PixelValueTransformationSequence": {"RescaleSlope": 1, "RescaleIntercept": -10}},
    )
    stored = np.array([1, 2], dtype=np.int16)
    assert ModalityTransform.from_dataset(ds, 0, signed=True).apply(stored).tolist() == [7, 9]
    assert ModalityTransform.from_dataset(ds, 1, signed=True).apply(stored).tolist() == [-9, -8]


# --- VOIWindow ------------------------------------------------------------------------


def windowing_dataset(center, width, function) -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored, ds.PixelRepresentation = 16, 1
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function
    return ds


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize(("center", "width"), [(40, 400), (0.5, 1), (-600, 1500.5), (100, 3)])
def test_window_functions_match_pydicom(function, center, width):
    ds = windowing_dataset(center, width, function)
    values = np.arange(-1200, 1200, 0.25)
    expected = apply_windowing(values, ds)
    low, high = -(2**15), 2**15 - 1  # pydicom's output range for 16-bit signed
    np.testing.assert_allclose(
        VOIWindow(center, width, function).apply(values), (expected - low) / (high - low), atol=1e-9
    )


def test_linear_width_1_is_a_threshold_at_the_center():
    window = VOIWindow(10, 1)
    assert window.apply(np.array([9, 9.5, 9.51, 10, 11])).tolist() == [0, 0, 1, 1, 1]


def test_window_function_is_normalised():
    assert VOIWindow(1, 2, " linear_exact ").function == "LINEAR_EXACT"
    assert VOIWindow(1, 2, "").function == "LINEAR"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((40, 0.5), "at least 1"),
        ((40, 0, "SIGMOID"), "greater than 0"),
        ((40, -3, "LINEAR_EXACT"), "greater than 0"),
        ((float("nan"), 10), "finite"),
        ((40, 400, "GAMMA"), "GAMMA"),
    ],
)
def test_invalid_windows_are_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        VOIWindow(*args)


# --- header windows and VOI LUT -------------------------------------------------------


def test_multi_valued_windows_with_explanations_first_is_default():
    ds = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))  # [450, 200] / [790, 443]
    ds.WindowCenterWidthExplanation = ["WINDOW1", "WINDOW2"]
    ds.VOILUTFunction = "SIGMOID"
    windows = voi_windows(metadata_of(ds))
    assert windows == [
        VOIWindow(450, 790, "SIGMOID", "WINDOW1"),
        VOIWindow(200, 443, "SIGMOID", "WINDOW2"),
    ]


def test_single_window_and_no_window():
    mr = metadata_of(pydicom.dcmread(get_testdata_file("MR_small.dcm")))
    assert voi_windows(mr) == [VOIWindow(600, 1600)]
    assert voi_windows(Dataset()) == []


def test_invalid_header_windows_are_skipped_and_unknown_function_is_linear():
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth = [10, 20, 30], [0, 5, 6]
    ds.VOILUTFunction = "GAMMA"
    assert voi_windows(ds) == [VOIWindow(20, 5), VOIWindow(30, 6)]


def test_frame_voi_lut_functional_group_per_frame_and_shared():
    ds = enhanced(
        per_frame=[{}, {"FrameVOILUTSequence": {"WindowCenter": 50, "WindowWidth": 350}}],
        shared={
            "FrameVOILUTSequence": {
                "WindowCenter": [40, 500],
                "WindowWidth": [400, 2000],
                "WindowCenterWidthExplanation": ["BRAIN", "BONE"],
            }
        },
    )
    assert voi_windows(ds, 0) == [
        VOIWindow(40, 400, "LINEAR", "BRAIN"),
        VOIWindow(500, 2000, "LINEAR", "BONE"),
    ]
    assert voi_windows(ds, 1) == [VOIWindow(50, 350)]


def test_voi_lut_sequence_is_read_from_json_metadata():
    ds = Dataset()
    ds.VOILUTSequence = [lut_item([3, 0xFC18, 8], np.array([0, 128, 255], "<u2").tobytes(), "OW")]
    table = voi_lut(metadata_of(ds), signed_input=True)
    assert (table.first_mapped, table.bits, table.data.tolist()) == (-1000, 8, [0, 128, 255])
    assert voi_lut(Dataset(), signed_input=False) is None
