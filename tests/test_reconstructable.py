"""Whether a display set can be shown in MPR: OHIF's rules, one fixture per rule."""

from __future__ import annotations

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence as DicomSequence

from ohifpy.model import ImageRef, Instance, display_sets_from_instances
from ohifpy.reconstructable import Reconstructability, reconstructability
from ohifpy.viewer.presenters import display_set_info

STUDY, SERIES, FRAME_OF_REFERENCE = "1.2.3", "1.2.3.4", "1.2.3.9"
AXIAL = (1, 0, 0, 0, 1, 0)


def image(number: int, z: float | None, *, orientation=AXIAL, rows: int = 4, columns: int = 4,
          samples: int = 1) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
    ds.SOPInstanceUID = f"1.2.3.4.{number}"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.InstanceNumber = number
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, samples
    ds.ImageOrientationPatient = list(orientation)
    if z is not None:
        ds.ImagePositionPatient = [0, 0, z]
    ds.PixelSpacing = [0.5, 0.5]
    return ds


def stack(*datasets: Dataset) -> list[ImageRef]:
    return [ref for ds in datasets for ref in Instance.from_dataset(ds).frames()]


def slices(*zs: float) -> list[Dataset]:
    return [image(n, z) for n, z in enumerate(zs, 1)]


def check(*datasets: Dataset) -> Reconstructability:
    return reconstructability(stack(*datasets))


def refused(result: Reconstructability, reason: str) -> None:
    assert (result.reconstructable, result.reason, result.note) == (False, reason, reason)


def enhanced(zs: list[float] | None, *, pixel_measures: bool = True) -> Dataset:
    """An enhanced multi-frame instance: shared orientation (and pixel measures), per-frame
    positions (none when ``zs`` is None)."""
    ds = image(1, None)
    del ds.ImageOrientationPatient, ds.PixelSpacing
    ds.NumberOfFrames = len(zs) if zs else 3
    shared, orientation = Dataset(), Dataset()
    orientation.ImageOrientationPatient = list(AXIAL)
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    if pixel_measures:
        measures = Dataset()
        measures.PixelSpacing = [0.25, 0.25]
        shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for z in zs or [None] * ds.NumberOfFrames:
        item = Dataset()
        if z is not None:
            position = Dataset()
            position.ImagePositionPatient = [0, 0, z]
            item.PlanePositionSequence = DicomSequence([position])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    return ds


def test_a_regular_stack_is_reconstructable_in_any_order() -> None:
    result = check(*slices(10.0, 0.0, 2.5, 7.5, 5.0))
    assert result == Reconstructability(True, None, pytest.approx(2.5), 0)
    assert result.note is None


def test_two_images_are_enough() -> None:
    assert check(*slices(0.0, 3.0)) == Reconstructability(True, None, pytest.approx(3.0))


def test_a_single_image_is_not() -> None:
    refused(check(image(1, 0.0)), "a single image")
    refused(reconstructability([]), "a single image")


def test_an_image_without_position_is_not() -> None:
    data = slices(0.0, 2.0, 4.0)
    del data[1].ImagePositionPatient
    refused(check(*data), "images without ImagePositionPatient")


def test_an_image_without_orientation_is_not() -> None:
    data = slices(0.0, 2.0, 4.0)
    del data[2].ImageOrientationPatient
    refused(check(*data), "images without ImageOrientationPatient")


@pytest.mark.parametrize("size", [{"rows": 8}, {"columns": 2}])
def test_images_of_different_sizes_are_not(size: dict[str, int]) -> None:
    data = [*slices(0.0, 2.0), image(3, 4.0, **size)]
    refused(check(*data), "images of different sizes")


def test_images_of_different_samples_per_pixel_are_not() -> None:
    data = [*slices(0.0, 2.0), image(3, 4.0, samples=3)]
    refused(check(*data), "a mix of colour and greyscale images")


def test_colour_images_are_not() -> None:
    refused(check(*(image(n, 2.0 * n, samples=3) for n in range(3))), "colour images")


def test_orientation_differing_by_more_than_001_is_not() -> None:
    tilted = (1, 0, 0, 0, 0.98, 0.02)  # one component 0.02 off
    refused(check(*slices(0.0, 2.0), image(3, 4.0, orientation=tilted)),
            "images of different orientations")


def test_orientation_within_001_is() -> None:
    nearly = (1, 0, 0, 0.005, 0.995, 0)
    result = check(*slices(0.0, 2.0), image(3, 4.0, orientation=nearly))
    assert result.reconstructable and result.spacing == pytest.approx(2.0)


def test_a_gap_30_percent_off_is_irregular() -> None:
    result = check(*slices(0.0, 2.0, 4.0, 6.6, 8.6))
    refused(result, "irregular slice spacing")
    assert result.spacing == pytest.approx(2.0)


def test_a_gap_under_20_percent_off_is_regular() -> None:
    assert check(*slices(0.0, 2.0, 4.0, 6.3, 8.3)).reconstructable


def test_a_short_gap_is_irregular() -> None:
    refused(check(*slices(0.0, 2.0, 4.0, 5.0, 7.0, 9.0)), "irregular slice spacing")


def test_a_gap_of_twice_the_spacing_is_one_missing_slice() -> None:
    # OHIF's mean (8 / 3 mm) would call the regular gaps 25 % short and refuse this.
    result = check(*slices(0.0, 2.0, 6.0, 8.0))
    assert result == Reconstructability(True, None, pytest.approx(2.0), 1)
    assert result.note == "1 missing slice"


def test_a_gap_of_three_times_the_spacing_is_two_missing_slices() -> None:
    result = check(*slices(0.0, 2.0, 4.0, 10.0, 12.0))
    assert result == Reconstructability(True, None, pytest.approx(2.0), 2)
    assert result.note == "2 missing slices"


def test_missing_slices_add_up_over_gaps() -> None:
    result = check(*slices(0.0, 2.0, 6.0, 8.0, 14.0, 16.0, 18.0))
    assert (result.reconstructable, result.missing_slices) == (True, 3)


def test_a_gap_that_is_no_whole_multiple_is_irregular() -> None:
    refused(check(*slices(0.0, 2.0, 4.0, 9.0, 11.0)), "irregular slice spacing")  # 2.5×


def test_images_all_at_one_location_are_not() -> None:
    refused(check(*slices(5.0, 5.0, 5.0)), "images all at one location")
    refused(check(*slices(5.0, 5.0)), "images all at one location")


def test_repeated_positions_are_irregular() -> None:
    refused(check(*slices(0.0, 0.0, 2.0, 2.0, 4.0, 4.0)), "irregular slice spacing")


def test_spacing_is_measured_along_the_normal() -> None:
    # Sagittal (normal +x), positions stepping 3 mm in x and drifting in z.
    sagittal = (0, 1, 0, 0, 0, -1)
    data = []
    for n in range(4):
        ds = image(n, None, orientation=sagittal)
        ds.ImagePositionPatient = [3.0 * n, 0, 0.5 * n]
        data.append(ds)
    assert check(*data) == Reconstructability(True, None, pytest.approx(3.0))


def test_enhanced_multiframe_with_per_frame_positions_is_reconstructable() -> None:
    result = check(enhanced([4.0, 0.0, 2.0, 8.0]))
    assert result == Reconstructability(True, None, pytest.approx(2.0), 1)


def test_enhanced_multiframe_with_irregular_positions_is_not() -> None:
    refused(check(enhanced([0.0, 2.0, 4.0, 6.7])), "irregular slice spacing")


def test_multiframe_without_positions_is_not() -> None:
    refused(check(enhanced(None)), "images without ImagePositionPatient")
    classic = image(1, 0.0)
    classic.NumberOfFrames = 5  # one position for five frames: none of them has its own
    refused(check(classic), "images without ImagePositionPatient")


def test_multiframe_without_pixel_spacing_is_not() -> None:
    refused(check(enhanced([0.0, 2.0, 4.0], pixel_measures=False)), "frames without PixelSpacing")


def test_multiframe_cine_at_one_location_is_not() -> None:
    refused(check(enhanced([3.0, 3.0, 3.0])), "images all at one location")


@pytest.mark.parametrize("build", ["from_dataset", "from_json"])
def test_display_sets_carry_their_reconstruction(build: str) -> None:
    data = [*slices(0.0, 2.0, 6.0, 8.0), image(9, 0.0)]
    data[-1].SeriesInstanceUID, data[-1].SeriesNumber = "1.2.3.5", 2
    del data[-1].FrameOfReferenceUID
    for n, ds in enumerate(data[:-1]):
        ds.SeriesNumber = 1
        ds.InstanceNumber = 4 - n
    url = f"http://127.0.0.1/dicom-web/studies/{STUDY}/metadata"
    made = ([Instance.from_json(ds.to_json_dict(), url, i) for i, ds in enumerate(data)]
            if build == "from_json" else [Instance.from_dataset(ds) for ds in data])
    volume, single = display_sets_from_instances(made)
    assert volume.is_reconstructable and volume.reconstruction.missing_slices == 1
    assert volume.spacing_between_slices == pytest.approx(2.0)
    assert volume.frame_of_reference_uid == FRAME_OF_REFERENCE
    assert not single.is_reconstructable and single.spacing_between_slices is None
    assert single.frame_of_reference_uid == ""
    info = display_set_info(volume)
    assert (info["isReconstructable"], info["reconstructionNote"], info["frameOfReferenceUID"]) \
        == (True, "1 missing slice", FRAME_OF_REFERENCE)
    info = display_set_info(single)
    assert (info["isReconstructable"], info["reconstructionNote"]) == (False, "a single image")


def test_nearly_equal_orientations_are_still_sorted_by_position() -> None:
    data = [image(1, 0.0), image(2, 4.0, orientation=(1, 0, 0, 0.005, 0.995, 0)), image(3, 2.0)]
    (display_set,) = display_sets_from_instances(Instance.from_dataset(ds) for ds in data)
    assert [float(r.image_position[2]) for r in display_set.images] == [0.0, 2.0, 4.0]
    assert display_set.is_reconstructable
