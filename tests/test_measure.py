"""ohifpy.measure against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import Dataset

from ohifpy.measure import (
    NOTE_IMAGER_SPACING,
    NOTE_NO_SPACING,
    ImageGeometry,
    Measurement,
    MeasurementError,
    measure,
    modality_unit,
)
from ohifpy.model import Instance

CT = ImageGeometry(rows=64, columns=64, spacing=(0.5, 0.5), spacing_source="PixelSpacing",
                   position=(-100.0, -50.0, 20.0), orientation=(1, 0, 0, 0, 1, 0))


def values_of(result, *names):
    return [result.value(name).value for name in names]


def test_length_across_known_spacing() -> None:
    # 30 columns and 40 rows at 0.5 mm: a 15-20-25 triangle.
    result = measure("Length", [(10, 10), (40, 50)], CT)
    assert result.value("length").value == pytest.approx(25.0)
    assert result.value("length").unit == "mm"
    assert result.notes == ()


def test_anisotropic_spacing_scales_rows_and_columns_apart() -> None:
    # PixelSpacing is (row spacing, column spacing): 2 mm between rows, 0.5 mm between columns.
    geometry = ImageGeometry(64, 64, spacing=(2.0, 0.5), spacing_source="PixelSpacing")
    assert measure("Length", [(0, 0), (8, 0)], geometry).value("length").value == 4.0
    assert measure("Length", [(0, 0), (0, 8)], geometry).value("length").value == 16.0
    # 3 rows (6 mm) and 8 columns (4 mm): the angle is atan(6/4), not atan(3/8).
    angle = measure("Angle", [(8, 0), (0, 0), (8, 3)], geometry).value("angle").value
    assert angle == pytest.approx(math.degrees(math.atan2(6, 4)))
    square = measure("RectangleROI", [(0, 0), (4, 4)], geometry)
    assert square.value("area").value == pytest.approx(4 * 2.0 * 4 * 0.5)
    assert square.value("area").unit == "mm²"


def test_angle_of_known_degrees() -> None:
    assert measure("Angle", [(20, 10), (10, 10), (10, 0)], CT).value("angle").value == \
        pytest.approx(90.0)
    assert measure("Angle", [(20, 10), (10, 10), (20, 20)], CT).value("angle").value == \
        pytest.approx(45.0)
    result = measure("Angle", [(20, 10), (10, 10), (0, 10 + 1e-12)], CT)
    assert result.value("angle").value == pytest.approx(180.0)
    assert result.value("angle").unit == "°"


def test_cobb_angle_is_between_lines_whatever_the_drawing_direction() -> None:
    line = [(0, 0), (10, 0)]
    tilted = [(0, 20), (10, 20 + 10 * math.tan(math.radians(30)))]
    reversed_tilted = tilted[::-1]
    assert measure("CobbAngle", line + tilted, CT).value("angle").value == pytest.approx(30)
    assert measure("CobbAngle", line + reversed_tilted, CT).value("angle").value == \
        pytest.approx(30)


def test_bidirectional_long_axis_is_the_longer() -> None:
    result = measure("Bidirectional", [(10, 20), (14, 20), (12, 10), (12, 30)], CT)
    assert values_of(result, "longAxis", "shortAxis") == [10.0, 2.0]
    assert result.points == ((12, 10), (12, 30), (10, 20), (14, 20))  # long axis first


def test_circle_roi_on_image_of_known_hu() -> None:
    # Stored values 1064 with intercept -1024: 40 HU inside a disc of radius 10 px, air around.
    stored = np.full((64, 64), 24, np.int16)
    rows, columns = np.mgrid[:64, :64]
    disc = (columns - 32) ** 2 + (rows - 32) ** 2 <= 100
    stored[disc] = 1064
    hu = stored - 1024
    result = measure("CircleROI", [(32, 32), (32, 42)], CT, hu, "HU")
    assert values_of(result, "mean", "stdDev", "min", "max") == [40.0, 0.0, 40.0, 40.0]
    assert result.value("area").value == pytest.approx(math.pi * 5.0**2)  # r = 10 px * 0.5 mm
    assert result.value("pixelCount").value == disc.sum()  # the centre rule, boundary included
    assert result.value("mean").unit == "HU"
    # A larger circle takes in air: the mean is the pixel-weighted mix.
    bigger = measure("CircleROI", [(32, 32), (32, 46)], CT, hu, "HU")
    count = ((columns - 32) ** 2 + (rows - 32) ** 2 <= 196).sum()
    expected_mean = (disc.sum() * 40 + (count - disc.sum()) * -1000) / count
    assert bigger.value("mean").value == pytest.approx(expected_mean)
    assert bigger.value("min").value == -1000 and bigger.value("max").value == 40


def test_rectangle_and_ellipse_statistics() -> None:
    values = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    # Centres 2..4 x 1..2: values row*64+col.
    rect = measure("RectangleROI", [(4.5, 2.2), (1.6, 0.9)], CT, values, "HU")
    picked = values[1:3, 2:5]
    assert values_of(rect, "mean", "min", "max") == [picked.mean(), picked.min(), picked.max()]
    assert rect.value("stdDev").value == pytest.approx(picked.std())
    assert rect.points == ((1.6, 0.9), (4.5, 2.2))  # corners stored top-left, bottom-right
    ellipse = measure("EllipticalROI", [(10, 10), (20, 14)], CT, values, "HU")
    assert ellipse.value("area").value == pytest.approx(math.pi * 5 * 2 * 0.25)
    rows, columns = np.mgrid[:64, :64]
    mask = ((columns - 15) / 5.0) ** 2 + ((rows - 12) / 2.0) ** 2 <= 1
    assert ellipse.value("mean").value == pytest.approx(values[mask].mean())
    assert ellipse.value("pixelCount").value == mask.sum()


def test_freehand_roi_even_odd_rule_and_shoelace_area() -> None:
    values = np.zeros((64, 64))
    values[10:20, 10:20] = 100.0
    # A right triangle with legs of 10.5 px: area 55.125 px² at 0.25 mm² a pixel.
    triangle = measure("PlanarFreehandROI", [(9.5, 9.5), (20, 9.5), (9.5, 20)], CT, values)
    assert triangle.value("area").value == pytest.approx(55.125 * 0.25)
    # Centres i, j >= 10 below the hypotenuse i + j = 29.5: 10 + 9 + ... + 1 = 55 pixels.
    assert triangle.value("pixelCount").value == 55
    assert triangle.value("mean").value == 100.0


def test_roi_partly_outside_counts_only_pixels_inside() -> None:
    values = np.ones((64, 64))
    result = measure("RectangleROI", [(-10, -10), (1, 1)], CT, values)
    assert result.value("pixelCount").value == 4
    assert result.value("area").value == pytest.approx(11 * 11 * 0.25)
    assert any("partly outside" in note for note in result.notes)


def test_degenerate_roi_reports_zero_area_and_no_statistics() -> None:
    values = np.ones((64, 64))
    flat = measure("EllipticalROI", [(10.2, 10.2), (20.2, 10.2)], CT, values)
    assert flat.value("area").value == 0.0
    assert values_of(flat, "mean", "stdDev", "min", "max") == [None, None, None, None]
    assert "no pixel centre inside the ROI" in flat.notes
    point = measure("CircleROI", [(5, 5), (5, 5)], CT, values)
    assert point.value("area").value == 0.0
    assert point.value("mean").value is None
    outside = measure("RectangleROI", [(100, 100), (120, 120)], CT, values)
    assert outside.value("pixelCount").value == 0


def test_no_spacing_reports_pixels_and_says_so() -> None:
    geometry = ImageGeometry(64, 64)
    result = measure("Length", [(0, 0), (3, 4)], geometry)
    assert result.value("length").value == 5.0
    assert result.value("length").unit == "px"
    assert result.notes == (NOTE_NO_SPACING,)
    area = measure("RectangleROI", [(0, 0), (2, 3)], geometry, np.ones((64, 64)))
    assert (area.value("area").value, area.value("area").unit) == (6.0, "px²")


def geometry_of(ds: Dataset, frame: int = 1) -> ImageGeometry:
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, "1.2.3")
    return ImageGeometry.from_image(Instance.from_dataset(ds).frames()[frame - 1])


def test_geometry_prefers_pixel_spacing_then_imager_pixel_spacing() -> None:
    ds = Dataset()
    ds.Rows, ds.Columns = 10, 20
    ds.ImagerPixelSpacing = [0.2, 0.3]
    imager = geometry_of(ds)
    assert (imager.spacing, imager.spacing_source) == ((0.2, 0.3), "ImagerPixelSpacing")
    assert (imager.rows, imager.columns) == (10, 20)
    assert measure("Length", [(0, 0), (10, 0)], imager).notes == (NOTE_IMAGER_SPACING,)
    ds.PixelSpacing = [0.5, 0.6]
    assert geometry_of(ds).spacing == (0.5, 0.6)
    assert geometry_of(ds).spacing_source == "PixelSpacing"
    del ds.PixelSpacing, ds.ImagerPixelSpacing
    assert geometry_of(ds).spacing is None


def test_geometry_of_an_enhanced_frame() -> None:
    ds = Dataset()
    ds.Rows, ds.Columns, ds.NumberOfFrames = 8, 8, 2
    shared = Dataset()
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing = [1.5, 1.5]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = [measures], [orientation]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = []
    for z in (0.0, 3.0):
        frame, position = Dataset(), Dataset()
        position.ImagePositionPatient = [0, 0, z]
        frame.PlanePositionSequence = [position]
        ds.PerFrameFunctionalGroupsSequence.append(frame)
    second = geometry_of(ds, 2)
    assert second.spacing == (1.5, 1.5)
    assert measure("Probe", [(2, 1)], second).patient_position == (3.0, 1.5, 3.0)


def test_probe_value_and_patient_coordinates() -> None:
    values = np.arange(64 * 64).reshape(64, 64)
    result = measure("Probe", [(3.4, 5.6)], CT, values, "HU")  # the pixel at column 3, row 6
    assert result.value("value").value == 6 * 64 + 3
    assert result.patient_position == (-100 + 3 * 0.5, -50 + 6 * 0.5, 20.0)
    sagittal = ImageGeometry(64, 64, (2.0, 1.0), "PixelSpacing", (0.0, -10.0, 50.0),
                             (0, 1, 0, 0, 0, -1))
    assert measure("Probe", [(4, 3)], sagittal).patient_position == (0.0, -6.0, 44.0)
    with pytest.raises(MeasurementError, match="outside"):
        measure("Probe", [(64, 0)], CT, values)


def test_arrow_keeps_its_text_only() -> None:
    result = measure("ArrowAnnotate", [(1, 2), (3, 4)], CT, text="<b>lesion</b>")
    assert (result.values, result.text) == ((), "<b>lesion</b>")


def test_bad_requests_are_refused_clearly() -> None:
    with pytest.raises(MeasurementError, match="no measurement tool 'Ruler'"):
        measure("Ruler", [(0, 0), (1, 1)], CT)
    with pytest.raises(MeasurementError, match="Length takes 2 points, not 3"):
        measure("Length", [(0, 0), (1, 1), (2, 2)], CT)
    with pytest.raises(MeasurementError, match="finite"):
        measure("Length", [(0, 0), (float("nan"), 1)], CT)


def test_modality_units() -> None:
    ds = Dataset()
    ds.Modality = "CT"
    assert modality_unit(ds) == "HU"
    ds.Modality, ds.RescaleType = "MR", "US"
    assert modality_unit(ds) == "modality units"
    ds.RescaleType = "OD"
    assert modality_unit(ds) == "OD"


def test_measurement_json_round_trip() -> None:
    result = measure("CircleROI", [(32, 32), (32, 42)], CT, np.zeros((64, 64)), "HU")
    obj = {"uid": "1.2.3", "label": "lesion", "studyInstanceUID": "1", "seriesInstanceUID": "2",
           "sopInstanceUID": "3", "frameNumber": 1, **result.to_json()}
    again = Measurement.from_json(obj)
    assert again.result.values == result.values and again.result.points == result.points
    with pytest.raises(MeasurementError, match="not a measurement"):
        Measurement.from_json({"tool": "Length", "points": [[0, 0], [1, 1]]})


coordinate = st.floats(-20, 84, allow_nan=False).map(lambda v: round(v * 4) / 4)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["RectangleROI", "EllipticalROI", "CircleROI"]),
       coordinate, coordinate, coordinate, coordinate)
def test_roi_window_matches_the_whole_image_rule(tool: str, x0: float, y0: float, x1: float,
                                                 y1: float) -> None:
    """The ROI's pixels, found in a window around it, are those the rule picks on the whole
    image, wherever the ROI lies (inside, across an edge, outside)."""
    values = np.arange(64 * 64, dtype=np.float64).reshape(64, 64)
    rows, columns = np.mgrid[:64, :64]
    if tool == "RectangleROI":
        mask = ((columns >= min(x0, x1)) & (columns <= max(x0, x1))
                & (rows >= min(y0, y1)) & (rows <= max(y0, y1)))
    else:
        if tool == "EllipticalROI":
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
        else:
            cx, cy, rx = x0, y0, math.hypot(x1 - x0, y1 - y0)
            ry = rx
        mask = (((columns - cx) / rx) ** 2 + ((rows - cy) / ry) ** 2 <= 1 if rx and ry
                else np.zeros_like(columns, dtype=bool))
    result = measure(tool, [(x0, y0), (x1, y1)], CT, values)
    assert result.value("pixelCount").value == mask.sum()
    expected = values[mask].mean() if mask.any() else None
    assert result.value("mean").value == pytest.approx(expected)
