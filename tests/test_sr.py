"""ohifpy.sr: TID 1500 reports written on the test CT's geometry, checked by dciodvfy and
read back."""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import Dataset

from ohifpy import synthetic
from ohifpy.imaging import ModalityTransform
from ohifpy.measure import (
    ImageGeometry,
    ImageReference,
    Measurement,
    MeasurementError,
    measure,
    modality_unit,
)
from ohifpy.model import Instance
from ohifpy.sr import (
    is_measurement_report,
    latest_reports,
    read_measurement_report,
    write_measurement_report,
)

# Points on quarter pixels: SR graphic data is 32-bit float, exact for these.
DRAWN = [
    ("Length", [(100.25, 120.5), (300.75, 260.0)], ""),
    ("Bidirectional", [(200, 200), (210, 200), (180, 190), (240, 230)], ""),
    ("Angle", [(10, 10), (50, 50), (90, 10)], ""),
    ("CobbAngle", [(10, 100), (90, 110), (10, 200), (90, 170)], ""),
    ("RectangleROI", [(240.5, 250.25), (280, 300)], ""),
    ("EllipticalROI", [(200, 220), (260, 250)], ""),
    ("CircleROI", [(256, 256), (256, 276.5)], ""),
    ("PlanarFreehandROI", [(300, 300), (340, 310), (330, 350), (305, 340)], ""),
    ("Probe", [(256, 256)], ""),
    ("ArrowAnnotate", [(120, 130), (160, 170)], "<img src=x onerror=alert(1)> nodule"),
]


@pytest.fixture(scope="module")
def ct() -> tuple[Dataset, ...]:
    return synthetic.ct_study(3).datasets


def measured(ds: Dataset, frame_number: int = 1) -> list[Measurement]:
    geometry = ImageGeometry.from_image(Instance.from_dataset(ds).frames()[0])
    values = ModalityTransform.from_dataset(ds, signed=True).apply(ds.pixel_array)
    image = ImageReference(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                           ds.SOPClassUID, frame_number)
    return [
        Measurement(pydicom.uid.generate_uid(), f"{tool} on slice {ds.InstanceNumber}", image,
                    measure(tool, points, geometry, values, modality_unit(ds), text))
        for tool, points, text in DRAWN
    ]


def saved_subset(m: Measurement) -> tuple:
    """What a report keeps: the SR has no pixel count and no notes."""
    return (m.uid, m.label, m.image, m.result.tool, m.result.points, m.result.text,
            tuple(q for q in m.result.values if q.name != "pixelCount"))


def test_report_round_trip(ct: tuple[Dataset, ...]) -> None:
    measurements = measured(ct[0]) + measured(ct[2])[:2]
    report = write_measurement_report(measurements, ct[0])
    buffer = io.BytesIO()
    report.save_as(buffer, enforce_file_format=True)
    again = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    assert is_measurement_report(again)
    back = read_measurement_report(again)
    assert [saved_subset(m) for m in back] == [saved_subset(m) for m in measurements]
    assert back[0].patient["PatientID"] == ct[0].PatientID
    circle = next(m for m in back if m.result.tool == "CircleROI")
    assert circle.result.value("mean").unit == "HU"


def test_report_refuses_measurements_of_another_study(ct: tuple[Dataset, ...]) -> None:
    other = Dataset()
    other.StudyInstanceUID = "1.2.3"
    with pytest.raises(MeasurementError, match="other studies"):
        write_measurement_report(measured(ct[0]), other)
    with pytest.raises(MeasurementError, match="no measurements"):
        write_measurement_report([], ct[0])


def test_multiframe_reference_names_the_frame(ct: tuple[Dataset, ...]) -> None:
    (first,) = measured(ct[0])[:1]
    image = ImageReference(first.image.study_instance_uid, first.image.series_instance_uid,
                           first.image.sop_instance_uid, first.image.sop_class_uid, 7,
                           number_of_frames=30)
    report = write_measurement_report([Measurement("1.2", "x", image, first.result)], ct[0])
    (back,) = read_measurement_report(report)
    assert back.image.frame_number == 7


@pytest.mark.cpython_only
def test_report_is_valid_per_dciodvfy(ct: tuple[Dataset, ...], tmp_path: Path) -> None:
    assert shutil.which("dciodvfy"), "dciodvfy not found (Debian: apt-get install dicom3tools)"
    report = write_measurement_report(measured(ct[0]) + measured(ct[1]), ct[0])
    path = tmp_path / "report.dcm"
    report.save_as(path, enforce_file_format=True)
    output = dciodvfy(path)
    assert output.splitlines()[0] == "Comprehensive3DSR", output  # the IOD it checked against
    assert [line for line in output.splitlines()[1:] if line.strip()] == [], output
    del report.CompletionFlag  # the same check does see a broken report
    report.save_as(path, enforce_file_format=True)
    assert "Error - </CompletionFlag(0040,a491)> - Missing attribute" in dciodvfy(path)


def dciodvfy(path: Path) -> str:
    proc = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True,
                          check=False, timeout=60)
    return proc.stdout + proc.stderr


def test_colour_and_degenerate_values_are_left_out(ct: tuple[Dataset, ...]) -> None:
    geometry = ImageGeometry.from_image(Instance.from_dataset(ct[0]).frames()[0])
    flat = measure("EllipticalROI", [(10, 10.25), (20, 10.25)], geometry, np.zeros((512, 512)))
    image = measured(ct[0])[0].image
    (back,) = read_measurement_report(write_measurement_report(
        [Measurement("1.2", "flat", image, flat)], ct[0]))
    assert [q.name for q in back.result.values] == ["area"]


def test_latest_report_per_study(ct: tuple[Dataset, ...]) -> None:
    at = [datetime.datetime(2024, 5, 1, 10, 0, 0, micro, datetime.UTC) for micro in (1, 2)]
    older = write_measurement_report(measured(ct[0]), ct[0], now=at[0])
    newer = write_measurement_report(measured(ct[1])[:1], ct[0], now=at[1])
    other = Dataset()
    other.StudyInstanceUID = "1.2.3"
    elsewhere = write_measurement_report(
        [replace(m, image=replace(m.image, study_instance_uid="1.2.3"))
         for m in measured(ct[0])[:1]], other, now=at[0])
    image = ct[0]
    assert latest_reports([older, image, newer, elsewhere]) == [newer, elsewhere]
    assert latest_reports([newer, older]) == [newer]
    assert latest_reports([image]) == []
