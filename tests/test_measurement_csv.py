"""ohifpy.measurement_csv: rows a spreadsheet reads back, with no formula smuggled in."""

from __future__ import annotations

import csv
import io

import numpy as np

from ohifpy.measure import ImageGeometry, ImageReference, Measurement, measure
from ohifpy.measurement_csv import measurements_csv

GEOMETRY = ImageGeometry(64, 64, (0.5, 0.5), "PixelSpacing")
IMAGE = ImageReference("1.2.1", "1.2.2", "1.2.3", "1.2.840.10008.5.1.4.1.1.2", 1)
PATIENT = {"PatientName": "=HYPERLINK(\"http://x\")", "PatientID": "@SUM(1)"}


def test_rows_with_values_units_and_uids() -> None:
    values = np.full((64, 64), -1000.0)
    measurements = [
        Measurement("1", "a, \"quoted\" label", IMAGE,
                    measure("Length", [(0, 0), (30, 40)], GEOMETRY), PATIENT),
        Measurement("2", "-1+1", IMAGE,
                    measure("RectangleROI", [(0, 0), (3, 3)], GEOMETRY, values, "HU"), PATIENT),
    ]
    text = measurements_csv(measurements)
    assert text.endswith("\r\n")
    header, length, roi = list(csv.reader(io.StringIO(text)))
    assert header[:8] == ["PatientName", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                          "SOPInstanceUID", "FrameNumber", "Label", "Tool"]
    row = dict(zip(header, length, strict=True))
    assert (row["length"], row["length unit"], row["Tool"]) == ("25.0", "mm", "Length")
    assert row["Label"] == "a, \"quoted\" label"  # quoted by the csv module, read back whole
    assert (row["SOPInstanceUID"], row["FrameNumber"]) == ("1.2.3", "1")
    assert row["mean"] == ""
    row = dict(zip(header, roi, strict=True))
    assert (row["mean"], row["mean unit"], row["area unit"]) == ("-1000.0", "HU", "mm²")
    assert row["min"] == "-1000.0"  # a number of ours stays a number


def test_formula_injection_is_defused() -> None:
    m = Measurement("1", "=cmd|' /C calc'!A0", IMAGE,
                    measure("ArrowAnnotate", [(0, 0), (1, 1)], GEOMETRY, text="+1"), PATIENT)
    header, row = list(csv.reader(io.StringIO(measurements_csv([m]))))
    cells = dict(zip(header, row, strict=True))
    assert cells["Label"] == "'=cmd|' /C calc'!A0"
    assert cells["PatientName"] == "'=HYPERLINK(\"http://x\")"
    assert cells["PatientID"] == "'@SUM(1)"
    assert cells["Text"] == "'+1"
