"""ohifpy.overlays.rtstruct: RTSTRUCT contours -> image pixel coordinates on known planes.

The structure set is the test data's (ohifpy.synthetic_objects.rtstruct, pydicom only), over
header-only slices with the test CT's geometry: 512x512 pixels of 0.7 mm, pixel (0, 0) at
x = y = -178.85 mm, slices every 1.25 mm down from z = -60 mm.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from ohifpy import synthetic_objects
from ohifpy.measure import ImageGeometry
from ohifpy.overlays.cielab import default_color
from ohifpy.overlays.rtstruct import (
    DEFAULT_TOLERANCE_MM,
    RTSTRUCT_STORAGE,
    StructureSet,
    StructureSetError,
    is_structure_set,
)

SLICES = 40
ORIGIN = -(512 - 1) / 2 * 0.7  # -178.85
TOP_Z = -60.0
HOSTILE = "<img src=x onerror=alert(1)>"
SPHERE, BOX, SMALL, CYLINDER, XSS = synthetic_objects.STRUCTURES


def ct_headers(slices: int = SLICES) -> list[Dataset]:
    headers = []
    for i in range(slices):
        ds = Dataset()
        ds.PatientName, ds.PatientID = "Phantom^RT", "OHIFPY-RT"
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.9.8"
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.9.8.1"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.9.8.1.{i + 1}"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.9.8.9"
        ds.Rows = ds.Columns = 512
        ds.PixelSpacing = [0.7, 0.7]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [ORIGIN, ORIGIN, TOP_Z - 1.25 * i]
        headers.append(ds)
    return headers


@pytest.fixture(scope="module")
def rtstruct_file() -> Dataset:
    """The structure set written to a file and read back (raw ContourData, as from disk)."""
    buffer = io.BytesIO()
    synthetic_objects.rtstruct(ct_headers()).save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@pytest.fixture(scope="module")
def structure_set(rtstruct_file: Dataset) -> StructureSet:
    return StructureSet.from_dataset(rtstruct_file)


def axial(z: float) -> ImageGeometry:
    return ImageGeometry(512, 512, (0.7, 0.7), "PixelSpacing", (ORIGIN, ORIGIN, z),
                         (1, 0, 0, 0, 1, 0))


def pixel(x: float, y: float) -> tuple[float, float]:
    """[column, row] of patient (x, y) on an axial slice of the CT."""
    return ((x - ORIGIN) / 0.7, (y - ORIGIN) / 0.7)


def test_rois_names_colours_and_references(structure_set: StructureSet) -> None:
    s = structure_set
    assert (s.label, s.name, s.series_description) == (
        "STRUCTURES", "Synthetic structures", "RTSTRUCT of the structures")
    assert s.frame_of_reference_uids == ("1.2.826.0.1.3680043.9.8.9",)
    assert s.referenced_series_uids == ("1.2.826.0.1.3680043.9.8.1",)
    assert len(s.referenced_image_uids) == SLICES
    assert [r.number for r in s.rois] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.name for r in s.rois[:5]] == [st.label for st in synthetic_objects.STRUCTURES]
    assert s.roi(5).name == HOSTILE  # kept as text, exactly
    assert s.roi(1).color == SPHERE.rgb and s.roi(1).color_source == "ROIDisplayColor"
    assert s.roi(5).color == synthetic_objects.RTSTRUCT_FALLBACK_RGB
    assert (s.roi(6).color, s.roi(6).color_source) == (default_color(6), "default")
    (note,) = s.notes
    assert note == ("no ROIDisplayColor for ROI(s) 6 (Reference point), 7 (Open line): shown "
                    "in default colours")
    assert s.roi(1).interpreted_type == "GTV" and s.roi(2).interpreted_type == "ORGAN"
    assert {c.geometric_type for c in s.roi(2).contours} == {"CLOSED_PLANAR"}
    assert s.roi(6).contours[0].geometric_type == "POINT"
    # a contour per slice the structure crosses
    zs = TOP_Z - 1.25 * np.arange(SLICES)
    assert len(s.roi(1).contours) == int((np.abs(zs - SPHERE.centre[2]) < 12).sum())
    assert s.roi(2).contours[0].image_uids[0] in s.referenced_image_uids
    panel = s.to_json()
    assert panel["rois"][4]["name"] == HOSTILE
    assert json.loads(json.dumps(panel)) == panel
    with pytest.raises(StructureSetError, match="no ROI 9"):
        s.roi(9)


def test_axial_slice_contours_land_on_the_expected_pixels(structure_set: StructureSet) -> None:
    z = -80.0  # slice 16: the sphere's centre plane, inside box and cylinder
    found = structure_set.contours_on(axial(z))
    assert [(c.roi_number, c.kind) for c in found] == [
        (1, "polygon"), (2, "polygon"), (4, "polygon"), (6, "points"), (7, "polyline")]
    sphere = found[0].points
    assert sphere.shape == (synthetic_objects.CONTOUR_POINTS, 2)
    centre = pixel(*SPHERE.centre[:2])
    radii = np.hypot(sphere[:, 0] - centre[0], sphere[:, 1] - centre[1])
    np.testing.assert_allclose(radii, 12.0 / 0.7, rtol=1e-6)  # DS keeps 6 decimals
    cx, cy, _ = BOX.centre
    hx, hy, _ = BOX.size
    np.testing.assert_allclose(found[1].points, [
        pixel(cx - hx, cy - hy), pixel(cx + hx, cy - hy),
        pixel(cx + hx, cy + hy), pixel(cx - hx, cy + hy)], atol=1e-9)
    np.testing.assert_allclose(found[3].points, [(255.5, 255.5)])  # (0, 0) is the centre
    np.testing.assert_allclose(found[4].points, [pixel(-20, -20), pixel(0, -10),
                                                 pixel(20, -20)])
    assert found[1].to_json()["points"] == [round(v, 2) for v in found[1].points.ravel()]


def test_only_contours_within_half_a_slice(structure_set: StructureSet) -> None:
    on_slice = {c.roi_number for c in structure_set.contours_on(axial(-80.0))}
    # between slices (MPR planes): the nearer slice's contours, half the spacing either way
    assert {c.roi_number for c in structure_set.contours_on(axial(-80.6))} == on_slice
    assert {c.roi_number for c in structure_set.contours_on(axial(-79.4))} == on_slice
    nearer = structure_set.contours_on(axial(-80.7))  # nearer -81.25
    assert 6 not in {c.roi_number for c in nearer}
    assert structure_set.contours_on(axial(-80.0), tolerance=0.01)
    assert structure_set.contours_on(axial(-80.02), tolerance=0.01) == []
    assert structure_set.contours_on(axial(-50.0)) == []  # above every structure


def test_an_image_plane_shifted_in_its_own_plane(structure_set: StructureSet) -> None:
    # a zoomed-in or cropped plane: pixel (0, 0) elsewhere, half-millimetre pixels
    geometry = ImageGeometry(200, 300, (0.5, 0.5), "PixelSpacing", (-100.0, -50.0, -80.0),
                             (1, 0, 0, 0, 1, 0))
    (box,) = [c for c in structure_set.contours_on(geometry) if c.roi_number == 2]
    cx, cy, _ = BOX.centre
    hx, hy, _ = BOX.size
    np.testing.assert_allclose(box.points[0], ((cx - hx + 100) / 0.5, (cy - hy + 50) / 0.5))


def test_sagittal_plane_crossing_axial_contours(structure_set: StructureSet) -> None:
    cx, cy, cz = SPHERE.centre
    # sagittal through the sphere's centre: rows go down (-z) by 1.25 mm, columns along +y
    sagittal = ImageGeometry(40, 512, (1.25, 0.7), "PixelSpacing", (cx, ORIGIN, TOP_Z),
                             (0, 1, 0, 0, 0, -1))
    pieces = [c for c in structure_set.contours_on(sagittal, rois=[1])]
    assert pieces and all(c.kind == "segments" and c.points.shape == (2, 2) for c in pieces)
    for piece in pieces:
        row = piece.points[0, 1]
        assert piece.points[1, 1] == pytest.approx(row)
        z = TOP_Z - 1.25 * row
        half = math.sqrt(SPHERE.size[0] ** 2 - (z - cz) ** 2)
        # the 64-gon's chord: within r (1 - cos(pi/64)) of the circle's
        expected = sorted([((cy - half) - ORIGIN) / 0.7, ((cy + half) - ORIGIN) / 0.7])
        np.testing.assert_allclose(sorted(piece.points[:, 0]), expected,
                                   atol=SPHERE.size[0] * (1 - math.cos(math.pi / 64)) / 0.7)
    # coronal through the box: its straight sides give exact ends
    bx, by, _ = BOX.centre
    coronal = ImageGeometry(40, 512, (1.25, 0.7), "PixelSpacing", (ORIGIN, by, TOP_Z),
                            (1, 0, 0, 0, 0, -1))
    box = [c for c in structure_set.contours_on(coronal) if c.roi_number == 2]
    assert len(box) == len(structure_set.roi(2).contours)
    for piece in box:
        np.testing.assert_allclose(sorted(piece.points[:, 0]),
                                   [pixel(bx - BOX.size[0], 0)[0], pixel(bx + BOX.size[0], 0)[0]])
    # the open line crosses too: one point; the POINT ROI never shows off its plane
    line = [c for c in structure_set.contours_on(
        ImageGeometry(40, 512, (1.25, 0.7), "PixelSpacing", (-10.0, ORIGIN, TOP_Z),
                      (0, 1, 0, 0, 0, -1))) if c.roi_number in (6, 7)]
    assert [(c.roi_number, c.kind, len(c.points)) for c in line] == [(7, "points", 1)]
    assert line[0].points[0] == pytest.approx(((-15.0 - ORIGIN) / 0.7, 16.0))


def test_oblique_plane_cuts_a_polygon_into_inside_segments() -> None:
    # a U-shaped (concave) contour cut across both arms: two segments, not one
    u = np.array([[0, 0, 0], [30, 0, 0], [30, 30, 0], [20, 30, 0], [20, 10, 0], [10, 10, 0],
                  [10, 30, 0], [0, 30, 0]], dtype=float)
    structure_set = structure_set_of([("CLOSED_PLANAR", u)])
    # a plane tilted about x: it meets z = 0 in the line y = 23.75, 6.25 rows down its image
    tilted = ImageGeometry(64, 64, (1.0, 1.0), "PixelSpacing", (-5.0, 20.0, -5.0),
                           (1, 0, 0, 0, 0.6, 0.8))
    (cut,) = structure_set.contours_on(tilted)
    assert cut.kind == "segments"
    np.testing.assert_allclose(cut.points[:, 1], 6.25)
    pairs = sorted(tuple(sorted(pair)) for pair in cut.points[:, 0].reshape(-1, 2).tolist())
    assert pairs == [(5.0, 15.0), (25.0, 35.0)]  # x 0..10 and 20..30, columns from x = -5


def test_slightly_tilted_and_non_planar_contours() -> None:
    tilted = np.array([[0, 0, 0.0], [10, 0, 0.1], [10, 10, 0.2], [0, 10, 0.1]])
    wavy = np.array([[0, 20, -1.0], [5, 20, 1.0], [10, 20, -1.0], [15, 20, 1.0]])
    s = structure_set_of([("CLOSED_PLANAR", tilted), ("OPEN_NONPLANAR", wavy)])
    plane = ImageGeometry(40, 40, (1.0, 1.0), "PixelSpacing", (0.0, 0.0, 0.0),
                          (1, 0, 0, 0, 1, 0))
    (polygon, crossings) = s.contours_on(plane)  # the tilt is within the default tolerance
    assert polygon.kind == "polygon" and len(polygon.points) == 4
    assert crossings.kind == "points"
    np.testing.assert_allclose(crossings.points, [[2.5, 20], [7.5, 20], [12.5, 20]])


def test_frame_of_reference_and_visibility_filters(structure_set: StructureSet) -> None:
    geometry = axial(-80.0)
    assert structure_set.contours_on(geometry, frame_of_reference_uid="1.2.3") == []
    assert len(structure_set.contours_on(
        geometry, frame_of_reference_uid="1.2.826.0.1.3680043.9.8.9")) == 5
    assert [c.roi_number for c in structure_set.contours_on(geometry, rois=[4, 7])] == [4, 7]
    assert structure_set.contours_on(ImageGeometry(512, 512)) == []  # no plane: nothing


def test_dicom_json_reads_like_the_file(rtstruct_file: Dataset,
                                        structure_set: StructureSet) -> None:
    from_json = StructureSet.from_json(json.loads(json.dumps(rtstruct_file.to_json_dict())))
    assert [r.to_json() for r in from_json.rois] == [r.to_json() for r in structure_set.rois]
    for a, b in zip(from_json.contours_on(axial(-80.0)), structure_set.contours_on(axial(-80.0))):
        assert (a.roi_number, a.kind) == (b.roi_number, b.kind)
        np.testing.assert_allclose(a.points, b.points)


def test_default_tolerance_without_parallel_planes() -> None:
    square = np.array([[0, 0, 5], [10, 0, 5], [10, 10, 5], [0, 10, 5]], dtype=float)
    only = structure_set_of([("CLOSED_PLANAR", square)])
    plane = ImageGeometry(20, 20, (1.0, 1.0), "PixelSpacing", (0.0, 0.0, 5.0 + 0.9 *
                                                                DEFAULT_TOLERANCE_MM),
                          (1, 0, 0, 0, 1, 0))
    assert [c.kind for c in only.contours_on(plane)] == ["polygon"]
    farther = ImageGeometry(20, 20, (1.0, 1.0), "PixelSpacing",
                            (0.0, 0.0, 5.0 + 1.1 * DEFAULT_TOLERANCE_MM), (1, 0, 0, 0, 1, 0))
    assert only.contours_on(farther) == []


def test_broken_contours_are_left_out_with_a_note() -> None:
    good = np.array([[0, 0, 0], [5, 0, 0], [5, 5, 0]], dtype=float)
    s = structure_set_of([("CLOSED_PLANAR", good), ("CLOSED_PLANAR", np.zeros(4)),
                          ("SPLINE", good), ("CLOSED_PLANAR", np.vstack([good, good[:1]]))])
    assert len(s.roi(1).contours) == 2
    assert len(s.roi(1).contours[1].points) == 3  # a repeated first point is dropped
    assert any("not x, y, z triplets" in n for n in s.notes)
    assert any("'SPLINE'" in n for n in s.notes)


def test_is_structure_set(rtstruct_file: Dataset) -> None:
    assert is_structure_set(rtstruct_file) and is_structure_set(RTSTRUCT_STORAGE)
    assert not is_structure_set("1.2.840.10008.5.1.4.1.1.66.4")
    seg = Dataset()
    seg.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    with pytest.raises(StructureSetError, match="not an RT Structure Set"):
        StructureSet.from_dataset(seg)


def structure_set_of(contours: list[tuple[str, np.ndarray]]) -> StructureSet:
    """One ROI with these (type, points) contours, written with pydicom."""
    ds = Dataset()
    ds.SOPClassUID = RTSTRUCT_STORAGE
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.9.8.3"
    roi = Dataset()
    roi.ROINumber, roi.ROIName = 1, "Test"
    ds.StructureSetROISequence = [roi]
    items = []
    for kind, points in contours:
        item = Dataset()
        item.ContourGeometricType = kind
        item.NumberOfContourPoints = len(points.ravel()) // 3
        item.ContourData = [float(v) for v in points.ravel()]
        items.append(item)
    contour = Dataset()
    contour.ReferencedROINumber = 1
    contour.ROIDisplayColor = [1, 2, 3]
    contour.ContourSequence = items
    ds.ROIContourSequence = [contour]
    return StructureSet.from_dataset(ds)
