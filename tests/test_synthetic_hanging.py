"""The hanging-protocol and prior studies carry the headers protocols match on, and every
image says on screen which study, series and slice it is."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydicom.dataset import FileDataset
from pydicom.pixels import apply_modality_lut

from ohifpy import synthetic_hanging as hanging
from ohifpy.synthetic import SyntheticStudy


@pytest.fixture(scope="module")
def studies() -> dict[str, SyntheticStudy]:
    return {s.key: s for s in hanging.hanging_studies()}


def _series(study: SyntheticStudy, number: int) -> list[FileDataset]:
    return [ds for ds in study.datasets if ds.SeriesNumber == number]


def _on_screen(ds: FileDataset) -> np.ndarray:
    """8-bit grey levels of the image in its header's window (PS3.3 C.11.2.1.2, linear)."""
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    centre, width = float(ds.WindowCenter), float(ds.WindowWidth)
    scaled = ((values - (centre - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _bytes(ds: FileDataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_same_bytes_every_run(studies: dict[str, SyntheticStudy]) -> None:
    again = hanging.hanging_studies()
    assert [s.key for s in again] == list(studies)
    for first, second in zip(studies.values(), again):
        assert [_bytes(ds) for ds in first.datasets] == [_bytes(ds) for ds in second.datasets]


def test_every_study_and_instance_has_its_own_uid(studies: dict[str, SyntheticStudy]) -> None:
    assert list(studies) == [hanging.PRIOR_CURRENT_KEY, hanging.PRIOR_RECENT_KEY,
                             hanging.PRIOR_OLD_KEY, hanging.MR_PROTOCOL_KEY, hanging.MAMMO_KEY]
    assert len({s.study_uid for s in studies.values()}) == len(studies)
    sops = [ds.SOPInstanceUID for s in studies.values() for ds in s.datasets]
    assert len(set(sops)) == len(sops)
    for study in studies.values():
        assert {ds.StudyInstanceUID for ds in study.datasets} == {study.study_uid}
        assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
                   for ds in study.datasets)


# --- priors ---------------------------------------------------------------------------------


def test_priors_are_one_patient_on_three_dates(studies: dict[str, SyntheticStudy]) -> None:
    expected = {
        hanging.PRIOR_CURRENT_KEY: ("20240310", "CT Chest current",
                                    [("Axial 5mm", 24), ("Axial 2.5mm", 12)]),
        hanging.PRIOR_RECENT_KEY: ("20230915", "CT Chest prior",
                                   [("Axial 5mm", 30), ("Axial 2.5mm", 12)]),
        hanging.PRIOR_OLD_KEY: ("20210505", "CT Chest 2021", [("Axial 5mm", 20)]),
    }
    for spec in hanging.PRIOR_STUDIES:
        date, description, series = expected[spec.key]
        assert (spec.date, spec.description) == (date, description)
        study = studies[spec.key]
        first = study.datasets[0]
        assert (str(first.PatientName), first.PatientID) == hanging.PRIOR_PATIENT
        assert hanging.PRIOR_PATIENT == ("Prior^Compare^CT", "OHIFPY-PRIOR")
        assert {(ds.StudyDate, ds.StudyDescription, ds.Modality) for ds in study.datasets} == {
            (date, description, "CT")}
        found = [(_series(study, n)[0].SeriesDescription, len(_series(study, n)))
                 for n in range(1, len(series) + 1)]
        assert found == series
    assert len({ds.PatientBirthDate for s in studies.values() for ds in s.datasets
                if ds.PatientID == hanging.PRIOR_PATIENT[1]}) == 1


def test_each_prior_has_its_own_frame_of_reference(studies: dict[str, SyntheticStudy]) -> None:
    frames = {}
    for spec in hanging.PRIOR_STUDIES:
        in_study = {ds.FrameOfReferenceUID for ds in studies[spec.key].datasets}
        assert len(in_study) == 1  # the series of one study share it
        frames[spec.key] = in_study.pop()
    assert len(set(frames.values())) == 3


def test_prior_geometry_is_axial_and_follows_the_series_table(
        studies: dict[str, SyntheticStudy]) -> None:
    for spec in hanging.PRIOR_STUDIES:
        for stack in spec.series:
            images = _series(studies[spec.key], stack.number)
            assert [ds.InstanceNumber for ds in images] == list(range(1, stack.count + 1))
            for i, ds in enumerate(images):
                assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
                assert [float(v) for v in ds.PixelSpacing] == [3.0, 3.0]
                assert [float(v) for v in ds.ImagePositionPatient] == [-190.5, -190.5,
                                                                       stack.z(i)]
                assert float(ds.SliceThickness) == float(ds.SpacingBetweenSlices) == -stack.step
                assert (ds.Rows, ds.Columns, ds.BitsStored) == (128, 128, 12)
                assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1, -1024)
                assert (float(ds.WindowCenter), float(ds.WindowWidth)) == hanging.PRIOR_WINDOW
    current = {s.number: {s.z(i) for i in range(s.count)} for s in hanging.PRIOR_STUDIES[0].series}
    assert not current[1] & current[2]  # the thin slices lie between the thick ones


def test_the_marker_tells_series_and_slice(studies: dict[str, SyntheticStudy]) -> None:
    for spec in hanging.PRIOR_STUDIES:
        for ds in studies[spec.key].datasets:
            index = ds.InstanceNumber - 1
            expected = (ds.SeriesNumber, index)
            assert hanging.read_marker(ds.pixel_array) == expected
            screen = _on_screen(ds)
            rgba = np.dstack([screen, screen, screen, np.full_like(screen, 255)])
            assert hanging.read_marker(rgba) == expected  # as a canvas holds it
            top, left = hanging.marker_row(ds.SeriesNumber), hanging.marker_column(index)
            size = hanging.MARKER_SIZE
            assert (screen[top:top + size, left:left + size] == 255).all()
            assert screen[top - 1, left] == 0 and screen[top, left + size] == 0
    assert hanging.marker_column(29) + hanging.MARKER_SIZE <= 128


def test_the_soft_tissue_level_tells_the_studies_apart(
        studies: dict[str, SyntheticStudy]) -> None:
    row, col = hanging.PRIOR_LEVEL_PIXEL
    shown = {}
    for key, hu in hanging.PRIOR_BODY_HU.items():
        for ds in studies[key].datasets:
            values = apply_modality_lut(ds.pixel_array, ds)
            assert (values[row - 2:row + 3, col - 2:col + 3] == hu).all(), (key, ds.SliceLocation)
        shown[key] = int(_on_screen(studies[key].datasets[0])[row, col])
    assert shown == {hanging.PRIOR_CURRENT_KEY: 128, hanging.PRIOR_RECENT_KEY: 166,
                     hanging.PRIOR_OLD_KEY: 205}


def test_the_same_z_shows_the_same_anatomy_in_every_study(
        studies: dict[str, SyntheticStudy]) -> None:
    def lungs_at(key: str, z: float) -> np.ndarray:
        (ds,) = [d for d in studies[key].datasets if float(d.ImagePositionPatient[2]) == z]
        return apply_modality_lut(ds.pixel_array, ds)[30:] < -500  # below the marker band

    for z in (0.0, -50.0):
        assert lungs_at(hanging.PRIOR_CURRENT_KEY, z).sum() > 500
        assert (lungs_at(hanging.PRIOR_CURRENT_KEY, z)
                == lungs_at(hanging.PRIOR_RECENT_KEY, z)).all()
    assert not (lungs_at(hanging.PRIOR_CURRENT_KEY, 0.0)
                == lungs_at(hanging.PRIOR_CURRENT_KEY, -50.0)).all()


# --- MR protocol --------------------------------------------------------------------------


def test_mr_protocol_series(studies: dict[str, SyntheticStudy]) -> None:
    study = studies[hanging.MR_PROTOCOL_KEY]
    first = study.datasets[0]
    assert (str(first.PatientName), first.PatientID) == ("Protocol^Head^MR", "OHIFPY-MRHP")
    assert {(ds.StudyDate, ds.Modality) for ds in study.datasets} == {("20240401", "MR")}
    assert [(s.number, s.description, s.count) for s in hanging.MR_SERIES] == [
        (1, "AX T1 SE", 8), (2, "AX T2 FSE", 8), (3, "LOCALIZER", 1)]
    for spec in hanging.MR_SERIES:
        images = _series(study, spec.number)
        assert len(images) == spec.count
        assert {ds.SeriesDescription for ds in images} == {spec.description}
        for ds in images:
            assert (float(ds.WindowCenter), float(ds.WindowWidth)) == hanging.MR_WINDOW
    assert len({ds.FrameOfReferenceUID for ds in study.datasets}) == 1
    t1, t2 = _series(study, 1), _series(study, 2)
    assert ([ds.ImagePositionPatient for ds in t1] == [ds.ImagePositionPatient for ds in t2])
    assert all([float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
               for ds in t1 + t2)
    (localizer,) = _series(study, 3)
    assert [float(v) for v in localizer.ImageOrientationPatient] == [0, 1, 0, 0, 0, -1]
    assert "LOCALIZER" in localizer.ImageType


def test_t1_fluid_is_dark_and_t2_fluid_bright(studies: dict[str, SyntheticStudy]) -> None:
    study = studies[hanging.MR_PROTOCOL_KEY]
    row, col = hanging.MR_FLUID_PIXEL
    levels = hanging.MR_LEVELS
    for t1, t2 in zip(_series(study, 1), _series(study, 2)):
        assert t1.pixel_array[row, col] == levels["AX T1 SE"]["fluid"] == 150
        assert t2.pixel_array[row, col] == levels["AX T2 FSE"]["fluid"] == 1900
        assert t2.pixel_array.mean() > 1.5 * t1.pixel_array.mean()
        assert _on_screen(t2).mean() > _on_screen(t1).mean() + 15
        assert _on_screen(t1)[row, col] < 30
        assert _on_screen(t2)[row, col] > 220


# --- mammography ----------------------------------------------------------------------------


def test_mammo_views_are_tagged_and_in_shuffled_series_order(
        studies: dict[str, SyntheticStudy]) -> None:
    study = studies[hanging.MAMMO_KEY]
    first = study.datasets[0]
    assert (str(first.PatientName), first.PatientID) == ("Screening^Mammo", "OHIFPY-MG")
    by_number = {ds.SeriesNumber: ds for ds in study.datasets}
    assert [by_number[n].SeriesDescription for n in sorted(by_number)] == [
        "L MLO", "R CC", "L CC", "R MLO"]
    orientation = {"R CC": ["P", "L"], "L CC": ["A", "R"], "R MLO": ["P", "FL"],
                   "L MLO": ["A", "FR"]}
    codes = {"CC": "399162004", "MLO": "399368009"}
    for ds in study.datasets:
        laterality, view = ds.SeriesDescription.split()
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert (ds.Modality, ds.StudyDate, ds.PresentationIntentType) == (
            "MG", "20240502", "FOR PRESENTATION")
        assert (ds.ImageLaterality, ds.ViewPosition) == (laterality, view)
        assert list(ds.PatientOrientation) == orientation[ds.SeriesDescription]
        code = ds.ViewCodeSequence[0]
        assert (code.CodingSchemeDesignator, code.CodeValue) == ("SCT", codes[view])
        assert (ds.Rows, ds.Columns, ds.BitsStored, ds.PhotometricInterpretation) == (
            160, 128, 12, "MONOCHROME2")
        assert (float(ds.WindowCenter), float(ds.WindowWidth)) == hanging.MAMMO_WINDOW
        assert len(_series(study, ds.SeriesNumber)) == 1


def test_each_mammo_view_has_its_documented_brightness(
        studies: dict[str, SyntheticStudy]) -> None:
    by_description = {ds.SeriesDescription: ds for ds in studies[hanging.MAMMO_KEY].datasets}
    shown = {}
    for view in hanging.MAMMO_VIEWS:
        ds = by_description[view.description]
        assert (ds.SeriesNumber, ds.ImageLaterality, ds.ViewPosition) == (
            view.series_number, view.laterality, view.view)
        row, col = hanging.mammo_tissue_pixel(view.laterality)
        pixels = ds.pixel_array
        assert (pixels[row - 3:row + 4, col - 3:col + 4] == view.level).all()
        shown[view.description] = int(_on_screen(ds)[row, col])
        # chest wall on the documented edge, background on the other
        wall, far = view.chest_wall_column, hanging.MAMMO_COLUMNS - 1 - view.chest_wall_column
        assert pixels[row, wall] == view.level and pixels[row, far] == hanging.MAMMO_BACKGROUND
        assert view.chest_wall_column == (127 if view.laterality == "R" else 0)
    assert shown == {"R CC": 62, "L CC": 106, "R MLO": 149, "L MLO": 193}
