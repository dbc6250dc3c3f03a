"""Reference lines and the nearest image, on synthetic geometries with known answers."""

from __future__ import annotations

import math

import pytest
from pydicom import Dataset

from ohifpy.measure import ImageGeometry
from ohifpy.model import DisplaySet, Instance, display_sets_from_instances
from ohifpy.reference_lines import (
    GeometryError,
    are_coplanar,
    frame_of_reference_uid,
    image_centre,
    nearest_image,
    reference_line,
    relate,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # columns to the patient's left, rows down (-z)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)

# A coronal image as the planes study has it: 128 x 128, rows 1 mm apart along -z, columns
# 1.5 mm apart along x; pixel (0, 0) at x = -95.25, z = 63.
CORONAL_IMAGE = ImageGeometry(128, 128, (1.0, 1.5), "PixelSpacing", (-95.25, -10.0, 63.0), CORONAL)


def axial(z: float, orientation: tuple[float, ...] = AXIAL) -> ImageGeometry:
    return ImageGeometry(128, 128, (1.5, 1.5), "PixelSpacing", (-95.25, -95.25, z), orientation)


def ordered(line):
    """The line's ends left to right (the direction of a line is not part of the answer)."""
    assert line is not None
    return sorted(line)


def tilted(degrees: float) -> tuple[float, ...]:
    """An axial orientation turned about the y axis: its normal leans towards +x."""
    a = math.radians(degrees)
    return (math.cos(a), 0.0, -math.sin(a), 0.0, 1.0, 0.0)


def test_an_axial_plane_crosses_a_coronal_image_at_its_row() -> None:
    # z = 7 is row 63 - 7 = 56 (1 mm rows from z = 63 down), across the whole width.
    (start, end) = ordered(reference_line(axial(7.0), CORONAL_IMAGE))
    assert start == pytest.approx((-0.5, 56.0))
    assert end == pytest.approx((127.5, 56.0))
    # Only the source's plane matters: another field of view at the same z, the same line.
    elsewhere = ImageGeometry(64, 64, (3.0, 3.0), "PixelSpacing", (400.0, 400.0, 7.0), AXIAL)
    assert ordered(reference_line(elsewhere, CORONAL_IMAGE)) == pytest.approx([start, end])
    # Between pixel centres: a fractional row.
    assert ordered(reference_line(axial(-20.25), CORONAL_IMAGE))[0][1] == pytest.approx(83.25)


def test_a_coronal_plane_crosses_an_axial_image_at_its_row() -> None:
    # The coronal plane y = -10 on the axial image whose rows run along +y from -95.25.
    (start, end) = ordered(reference_line(CORONAL_IMAGE, axial(0.0)))
    row = (-10.0 + 95.25) / 1.5
    assert start == pytest.approx((-0.5, row)) and end == pytest.approx((127.5, row))


def test_a_sagittal_plane_is_a_column() -> None:
    sagittal = ImageGeometry(128, 128, (1.5, 1.5), "PixelSpacing", (12.0, -95.25, 95.25),
                             SAGITTAL)
    line = reference_line(sagittal, axial(0.0))
    column = (12.0 + 95.25) / 1.5
    assert sorted(line, key=lambda p: p[1]) == pytest.approx([(column, -0.5), (column, 127.5)])
    # and the axial image on the sagittal: a row (z = 0 is row 95.25 / 1.5)
    (start, end) = ordered(reference_line(axial(0.0), sagittal))
    assert start == pytest.approx((-0.5, 95.25 / 1.5)) and end[1] == pytest.approx(95.25 / 1.5)


@pytest.mark.parametrize("degrees", [0.0, 0.5, 180.0])
def test_parallel_planes_have_no_line(degrees: float) -> None:
    assert reference_line(axial(5.0, tilted(degrees)), axial(0.0)) is None
    assert reference_line(CORONAL_IMAGE, CORONAL_IMAGE) is None


def test_planes_just_beyond_the_tolerance_have_a_line() -> None:
    # Tilted 5 degrees about its first column (x = -95.25, z = 0): it cuts z = 0 there.
    line = reference_line(axial(0.0, tilted(5.0)), axial(0.0))
    assert sorted(line, key=lambda p: p[1]) == pytest.approx([(0.0, -0.5), (0.0, 127.5)])
    # and z = 4.5 at x = -95.25 - 4.5 / tan(5 degrees): left of the image
    assert reference_line(axial(0.0, tilted(5.0)), axial(4.5)) is None


def oblique(degrees: float) -> ImageGeometry:
    """A plane through the origin whose normal is (sin a, 0, cos a): on the coronal image,
    z = -tan(a) x, so it crosses at row 63 + tan(a) x."""
    a = math.radians(degrees)
    row_cosine = (math.cos(a), 0.0, -math.sin(a))
    return ImageGeometry(100, 100, (1.0, 1.0), "PixelSpacing", (0.0, 0.0, 0.0),
                         (*row_cosine, 0.0, 1.0, 0.0))


def coronal_point(x: float, z: float) -> tuple[float, float]:
    return ((x + 95.25) / 1.5, 63.0 - z)


def test_an_oblique_plane_runs_across_from_edge_to_edge() -> None:
    # 30 degrees: from the left edge (x = -96) to the right edge (x = 96).
    tan = math.tan(math.radians(30.0))
    (start, end) = ordered(reference_line(oblique(30.0), CORONAL_IMAGE))
    assert start == pytest.approx(coronal_point(-96.0, 96.0 * tan))
    assert end == pytest.approx(coronal_point(96.0, -96.0 * tan))


def test_a_steep_line_is_clipped_at_the_top_and_bottom_edges() -> None:
    # 60 degrees: row 63 + tan(60) x leaves the image at rows -0.5 and 127.5 first.
    tan = math.tan(math.radians(60.0))
    (start, end) = ordered(reference_line(oblique(60.0), CORONAL_IMAGE))
    assert start == pytest.approx(coronal_point(-63.5 / tan, 63.5))
    assert end == pytest.approx(coronal_point(64.5 / tan, -64.5))
    assert start[1] == pytest.approx(-0.5) and end[1] == pytest.approx(127.5)
    assert -0.5 < start[0] < end[0] < 127.5


def test_a_line_outside_the_image_is_none() -> None:
    # The coronal image spans z = 63.5 (top edge of row 0) down to z = -64.5.
    assert reference_line(axial(100.0), CORONAL_IMAGE) is None
    assert reference_line(axial(-64.6), CORONAL_IMAGE) is None
    inside = ordered(reference_line(axial(63.4), CORONAL_IMAGE))  # within row 0's top half
    assert inside[0][1] == pytest.approx(-0.4)
    # The oblique line through the origin misses an image far to the side.
    far = ImageGeometry(10, 10, (1.0, 1.0), "PixelSpacing", (500.0, 0.0, 50.0), CORONAL)
    assert reference_line(oblique(30.0), far) is None


def test_missing_geometry_gives_no_line() -> None:
    no_spacing = ImageGeometry(128, 128, None, "", CORONAL_IMAGE.position, CORONAL)
    no_position = ImageGeometry(128, 128, (1.5, 1.5), "PixelSpacing", None, AXIAL)
    no_plane = ImageGeometry(128, 128, (1.5, 1.5), "PixelSpacing", (0.0, 0.0, 0.0), None)
    degenerate = ImageGeometry(128, 128, (1.5, 1.5), "PixelSpacing", (0.0, 0.0, 0.0),
                               (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    assert reference_line(axial(0.0), no_spacing) is None
    for source in (no_position, no_plane, degenerate):
        assert reference_line(source, CORONAL_IMAGE) is None
    assert reference_line(CORONAL_IMAGE, no_plane) is None


def test_coplanar_and_centre() -> None:
    assert are_coplanar(axial(0.0), axial(10.0, tilted(20.0)))  # cos 20 > 0.9
    assert not are_coplanar(axial(0.0), axial(10.0, tilted(30.0)))  # cos 30 < 0.9
    assert not are_coplanar(axial(0.0), CORONAL_IMAGE)
    assert image_centre(axial(4.0)) == pytest.approx((0.0, 0.0, 4.0))
    assert image_centre(CORONAL_IMAGE) == pytest.approx((0.0, -10.0, 63.0 - 63.5))


# ---------------------------------------------------------------- stacks


def stack(positions, orientation=AXIAL, *, series: str = "1.2.3.4", frame: str | None = "9.8.7",
          size: int = 128, spacing: tuple[float, float] = (1.5, 1.5)) -> DisplaySet:
    datasets = []
    for i, position in enumerate(positions):
        ds = Dataset()
        ds.StudyInstanceUID = "1.2.3"
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = f"{series}.{i + 1}"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.Modality = "CT"
        ds.Rows = ds.Columns = size
        ds.InstanceNumber = i + 1
        ds.PixelSpacing = list(spacing)
        if position is not None:
            ds.ImagePositionPatient = list(position)
            ds.ImageOrientationPatient = list(orientation)
        if frame is not None:
            ds.FrameOfReferenceUID = frame
        datasets.append(ds)
    (display_set,) = display_sets_from_instances(Instance.from_dataset(ds) for ds in datasets)
    return display_set


def axial_positions(zs):
    return [(-95.25, -95.25, z) for z in zs]


def test_nearest_image_by_distance_along_the_normal() -> None:
    thin = stack(axial_positions(39.0 - 2 * k for k in range(40)))
    z_of = [float(image.image_position[2]) for image in thin.images]
    for z in (39.0, 18.9, 7.0, -38.2, 200.0, -200.0):
        expected = min(range(40), key=lambda k: abs(z_of[k] - z))
        assert nearest_image(thin, (0.0, 0.0, z)) == expected
    # Where in the plane the point is does not matter, only its height.
    assert nearest_image(thin, (300.0, -80.0, 18.9)) == nearest_image(thin, (0.0, 0.0, 18.9))
    thick = stack(axial_positions(37.5 - 5 * m for m in range(16)), series="1.2.3.5", size=96,
                  spacing=(2.0, 2.0))
    z_thick = [float(image.image_position[2]) for image in thick.images]
    assert z_thick[nearest_image(thick, (0, 0, 19.0))] == 17.5  # 1.5 mm away, 22.5 is 3.5


def test_nearest_image_among_images_in_one_plane_is_the_nearest_centre() -> None:
    # Two tiles side by side in the same plane, and one a little higher.
    tiles = stack([(-100.0, 0.0, 0.0), (100.0, 0.0, 0.0), (0.0, 0.0, 30.0)], size=10,
                  spacing=(1.0, 1.0))
    by_x = {float(image.image_position[0]): i for i, image in enumerate(tiles.images)}
    assert nearest_image(tiles, (104.0, 4.0, 1.0)) == by_x[100.0]
    assert nearest_image(tiles, (-97.0, 4.0, -1.0)) == by_x[-100.0]
    assert nearest_image(tiles, (0.0, 0.0, 20.0)) == by_x[0.0]


def test_nearest_image_skips_images_without_geometry() -> None:
    mixed = stack([None, (0.0, 0.0, 10.0)])
    with_position = next(i for i, image in enumerate(mixed.images)
                         if image.image_position is not None)
    assert nearest_image(mixed, (0.0, 0.0, -50.0)) == with_position
    with pytest.raises(GeometryError):
        nearest_image(stack([None, None]), (0.0, 0.0, 0.0))
    with pytest.raises(GeometryError):
        nearest_image(mixed, (0.0, 0.0))


def test_relate_within_one_frame_of_reference_only() -> None:
    thin = stack(axial_positions(39.0 - 2 * k for k in range(40)))
    coronal = stack([(-95.25, -58.0 + 4 * j, 63.0) for j in range(30)], CORONAL,
                    series="1.2.3.6", spacing=(1.0, 1.5))
    assert frame_of_reference_uid(thin) == "9.8.7"
    k = 16  # z = 7: row 56 of every coronal image
    (start, end), index = relate(thin, k, coronal, 12, sync=True)
    assert start[1] == pytest.approx(56.0) and end[1] == pytest.approx(56.0)
    assert index is None  # a coronal stack has no slice "at" an axial one
    thick = stack(axial_positions(37.5 - 5 * m for m in range(16)), series="1.2.3.5",
                  size=96, spacing=(2.0, 2.0))
    line, index = relate(thin, 10, thick, 0, sync=True)  # z = 19
    assert line is None  # parallel
    assert float(thick.images[index].image_position[2]) == 17.5
    assert relate(thin, 10, thick, 0, sync=False) == (None, None)

    other = stack([(-95.25, -58.0 + 4 * j, 63.0) for j in range(30)], CORONAL,
                  series="1.2.3.7", frame="1.1.1")
    assert relate(thin, k, other, 0, sync=True) == (None, None)
    unknown = stack(axial_positions([0.0]), series="1.2.3.8", frame=None)
    no_frame = stack([(-95.25, 0.0, 63.0)], CORONAL, series="1.2.3.9", frame=None)
    assert frame_of_reference_uid(unknown) == ""
    assert relate(unknown, 0, no_frame, 0, sync=True) == (None, None)  # "" is no frame
