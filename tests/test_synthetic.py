"""The synthetic studies are deterministic, well-formed and show what they claim to show."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import FileDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from ohifpy import synthetic

CT_SLICES = 24


def _roundtrip(ds: FileDataset) -> tuple[bytes, FileDataset]:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), dcmread(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def ct() -> synthetic.SyntheticStudy:
    return synthetic.ct_study(CT_SLICES)


@pytest.fixture(scope="module")
def studies() -> dict[str, synthetic.SyntheticStudy]:
    return {s.key: s for s in synthetic.all_studies(ct_slices=CT_SLICES)}


def _hu_at(ds: FileDataset, x_mm: float, y_mm: float, radius_px: int = 2) -> float:
    """Median HU in a small square around patient (x, y) on an axial slice."""
    origin_x, origin_y = float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1])
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    col = round((x_mm - origin_x) / col_spacing)
    row = round((y_mm - origin_y) / row_spacing)
    hu = apply_modality_lut(ds.pixel_array, ds)
    return float(np.median(hu[row - radius_px:row + radius_px + 1,
                              col - radius_px:col + radius_px + 1]))


def test_same_inputs_write_identical_bytes() -> None:
    first = [_roundtrip(ds)[0] for ds in synthetic.ct_study(3).datasets]
    second = [_roundtrip(ds)[0] for ds in synthetic.ct_study(3).datasets]
    assert first == second


def test_every_study_is_queryable_and_unique(studies: dict[str, synthetic.SyntheticStudy]) -> None:
    study_uids = [s.study_uid for s in studies.values()]
    sop_uids = [ds.SOPInstanceUID for s in studies.values() for ds in s.datasets]
    assert len(set(study_uids)) == len(study_uids)
    assert len(set(sop_uids)) == len(sop_uids)
    assert len({s.datasets[0].PatientID for s in studies.values()}) == len(studies)
    for s in studies.values():
        for ds in s.datasets:
            assert ds.StudyInstanceUID == s.study_uid
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            for keyword in ("PatientName", "PatientID", "StudyDate", "AccessionNumber",
                            "StudyDescription", "SeriesInstanceUID", "SOPClassUID"):
                assert ds.get(keyword), f"{s.key}: {keyword} missing"
            assert ("Modality" in ds) is (s.key != "no-modality")


def test_ct_geometry_runs_head_to_feet_with_shuffled_instance_numbers(
        ct: synthetic.SyntheticStudy) -> None:
    z = [float(ds.ImagePositionPatient[2]) for ds in ct.datasets]
    assert all(b - a == pytest.approx(-synthetic.CT_SLICE_MM) for a, b in itertools.pairwise(z))
    numbers = [int(ds.InstanceNumber) for ds in ct.datasets]
    assert sorted(numbers) == list(range(1, CT_SLICES + 1))
    assert numbers != sorted(numbers), "some InstanceNumbers must disagree with position"
    assert len({ds.FrameOfReferenceUID for ds in ct.datasets}) == 1
    first = ct.datasets[0]
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert (first.Rows, first.Columns, first.PixelRepresentation) == (512, 512, 1)
    assert [float(v) for v in first.WindowCenter] == [40, -600]
    assert [float(v) for v in first.WindowWidth] == [400, 1500]
    assert list(first.WindowCenterWidthExplanation) == ["SOFT TISSUE", "LUNG"]


def test_ct_shows_chest_anatomy_in_hounsfield_units(ct: synthetic.SyntheticStudy) -> None:
    ds = ct.datasets[CT_SLICES // 3]  # mid chest: lungs, heart, aorta, spine
    assert _hu_at(ds, 0, -140) == pytest.approx(-1000, abs=30)  # air in front of the chest
    assert _hu_at(ds, 0, -105) == pytest.approx(-100, abs=30)  # subcutaneous fat
    assert _hu_at(ds, -72, 60) == pytest.approx(-850, abs=30)  # right lung, low
    assert _hu_at(ds, 22, 48) == pytest.approx(250, abs=30)  # contrast-filled aorta
    assert _hu_at(ds, 0, 72) >= 650  # vertebral body (or its cortex)
    corner = apply_modality_lut(ds.pixel_array, ds)[0, 0]
    assert corner == -3024  # outside the reconstruction circle, stored -2000
    assert ds.pixel_array.min() == synthetic.CT_PADDING


def test_ct_slices_change_along_z(ct: synthetic.SyntheticStudy) -> None:
    top, bottom = ct.datasets[0].pixel_array, ct.datasets[-1].pixel_array
    assert np.mean(top != bottom) > 0.2
    low = ct.datasets[-1]  # upper abdomen: no lung, liver instead
    assert _hu_at(low, -72, 0) == pytest.approx(60, abs=30)


def test_mr_is_sagittal_unsigned_without_window(studies: dict[str, synthetic.SyntheticStudy]
                                                ) -> None:
    mr = studies["mr"].datasets
    assert len(mr) == 24
    assert [float(v) for v in mr[0].ImageOrientationPatient] == [0, 1, 0, 0, 0, -1]
    xs = [float(ds.ImagePositionPatient[0]) for ds in mr]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    for ds in mr:
        assert "WindowCenter" not in ds and "WindowWidth" not in ds
        assert (ds.PixelRepresentation, ds.BitsStored) == (0, 12)
        assert int(ds.pixel_array.max()) < 4096
    assert mr[12].pixel_array.max() > 1000  # CSF is bright on T2


def test_xa_is_a_cine_whose_frames_differ(studies: dict[str, synthetic.SyntheticStudy]) -> None:
    (ds,) = studies["xa-cine"].datasets
    frames = ds.pixel_array
    assert frames.shape == (30, 256, 256) and ds.NumberOfFrames == 30
    assert float(ds.FrameTime) == pytest.approx(66.67)
    assert ds.FrameIncrementPointer == 0x00181063
    dark = [(f < 500).sum() for f in frames]  # contrast filling the vessels
    assert dark[0] < dark[15] < dark[-1]


@pytest.mark.parametrize("key", ["rgb", "rgb-planar", "ybr-full"])
def test_color_layouts_all_show_the_same_pattern(
        studies: dict[str, synthetic.SyntheticStudy], key: str) -> None:
    ds = _roundtrip(studies[key].datasets[0])[1]
    rgb = ds.pixel_array  # pydicom converts YBR_FULL to RGB
    pattern = synthetic.color_test_pattern()
    tolerance = 2 if key == "ybr-full" else 0
    assert rgb.shape == (240, 320, 3)
    assert np.abs(rgb.astype(int) - pattern).max() <= tolerance
    for (top, left), colour in synthetic.COLOR_BLOCKS.values():
        assert np.abs(rgb[top + 20, left + 20].astype(int) - colour).max() <= tolerance


def test_planar_configuration_one_stores_colour_by_plane(
        studies: dict[str, synthetic.SyntheticStudy]) -> None:
    ds = studies["rgb-planar"].datasets[0]
    plane = 240 * 320
    red_plane = np.frombuffer(ds.PixelData[:plane], np.uint8).reshape(240, 320)
    assert ds.PlanarConfiguration == 1
    assert np.array_equal(red_plane, synthetic.color_test_pattern()[..., 0])


def test_palette_maps_indices_through_hot_iron(studies: dict[str, synthetic.SyntheticStudy]
                                               ) -> None:
    ds = _roundtrip(studies["palette"].datasets[0])[1]
    rgb = apply_color_lut(ds.pixel_array, ds)
    assert list(ds.RedPaletteColorLookupTableDescriptor) == [256, 0, 16]
    assert list(rgb[10, 10]) == [0, 0, 0]  # index 0
    assert list(rgb[160, 160]) == [65535, 65535, 65535]  # the disc, index 255
    assert rgb[120, 100, 0] > rgb[120, 100, 2]  # mid indices are red-yellow


def test_monochrome1_stores_lungs_high_and_bone_low(
        studies: dict[str, synthetic.SyntheticStudy]) -> None:
    ds = studies["cr-mono1"].datasets[0]
    pixels = ds.pixel_array
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    lung = np.median(pixels[200:260, 100:130])  # left of the image: right lung
    spine = np.median(pixels[380:420, 195:205])
    assert lung > spine + 1500


def test_lut_sequences_are_non_linear(studies: dict[str, synthetic.SyntheticStudy]) -> None:
    modality = _roundtrip(studies["modality-lut"].datasets[0])[1]
    out = apply_modality_lut(np.array([0, 2048, 4095], np.uint16), modality)
    assert out[0] == 0 and out[2] == 65535
    assert out[1] > 0.9 * 65535  # log curve: half the input is far above half the output

    voi = _roundtrip(studies["voi-lut"].datasets[0])[1]
    assert "WindowCenter" not in voi
    out = apply_voi_lut(np.array([0, 1024, 4095], np.uint16), voi)
    assert list(out) == [0, round(4095 * math.sqrt(0.25)), 4095]

    sigmoid = _roundtrip(studies["voi-sigmoid"].datasets[0])[1]
    assert sigmoid.VOILUTFunction == "SIGMOID"
    out = apply_voi_lut(np.array([1000, 2048, 3000], np.uint16), sigmoid)
    assert out[0] < out[1] < out[2]
    assert out[1] == pytest.approx((out.max() + out.min()) / 2, rel=0.1)


def test_hostile_strings_survive_a_file_roundtrip(
        studies: dict[str, synthetic.SyntheticStudy]) -> None:
    xss = [_roundtrip(ds)[1] for ds in studies["xss"].datasets]
    assert str(xss[0].PatientName) == synthetic.XSS_IMG
    assert xss[0].StudyDescription == synthetic.XSS_SCRIPT
    assert {ds.SeriesDescription for ds in xss} == {synthetic.XSS_IMG, synthetic.XSS_SCRIPT}
    long = _roundtrip(studies["long-strings"].datasets[0])[1]
    with pytest.warns(UserWarning, match="exceeds the maximum length of 64"):
        assert len(long.StudyDescription) == len(long.SeriesDescription) == 1000


def test_character_sets_encode_as_declared(studies: dict[str, synthetic.SyntheticStudy]) -> None:
    raw, jis = _roundtrip(studies["iso2022-jp"].datasets[0])
    assert b"\x1b$B" in raw  # ISO 2022 escape into JIS X 0208
    assert list(jis.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
    name = jis.PatientName
    assert (str(name.alphabetic), name.ideographic, name.phonetic) == (
        "Yamada^Tarou", "山田^太郎", "やまだ^たろう")

    raw, utf8 = _roundtrip(studies["utf8"].datasets[0])
    assert utf8.SpecificCharacterSet == "ISO_IR 192"
    assert "🫁" in utf8.StudyDescription and "🫁".encode() in raw
    assert utf8.PatientName.ideographic == "山田^太郎"


def test_derive_study_copies_pixels_under_new_uids(ct: synthetic.SyntheticStudy) -> None:
    copy = synthetic.derive_study(ct, "ct-copy", "Copy", count=4, patient=("Copy^CT", "CP1"))
    again = synthetic.derive_study(ct, "ct-copy", "Copy", count=4, patient=("Copy^CT", "CP1"))
    assert len(copy.datasets) == 4
    assert [d.SOPInstanceUID for d in copy.datasets] == [d.SOPInstanceUID for d in again.datasets]
    for src, new in zip(ct.datasets, copy.datasets):
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                        "FrameOfReferenceUID"):
            assert new[keyword].value != src[keyword].value
        assert new.file_meta.MediaStorageSOPInstanceUID == new.SOPInstanceUID
        assert (str(new.PatientName), new.PatientID, new.StudyDescription) == (
            "Copy^CT", "CP1", "Copy")
        assert new.PixelData == src.PixelData
    assert len({d.FrameOfReferenceUID for d in copy.datasets}) == 1
    assert ct.datasets[0].StudyDescription == "CT Chest with contrast"  # source untouched
