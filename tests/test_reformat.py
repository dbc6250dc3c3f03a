"""ohifpy.imaging.reformat, with the MPR views' grids: planes through synthetic volumes of
known geometry (see test_volume.py) show the spheres at the pixels their patient positions
give, in the axial, sagittal and coronal views of axial, sagittal and oblique acquisitions
and on an oblique plane through two known points; planes that follow the voxels are array
slices, others trilinear; slabs are numpy's max, min and mean over their planes; the
planes' spacing and pixel geometry measure true millimetres.

Pure numpy and pydicom: this module runs under Pyodide too.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from test_volume import (
    AIR_HU,
    PIXEL_SPACING,
    SECOND,
    SERIES,
    SHAPE,
    SLICE_SPACING,
    SPHERE,
    STACKS,
    Stack,
)

from ohifpy.imaging.reformat import Plane, Slab, reformat
from ohifpy.measure import ImageGeometry, measure
from ohifpy.viewer.mpr import MprViews, ViewGrid
from ohifpy.volume import Volume

VIEW_NAMES = ("axial", "sagittal", "coronal")
OUTSIDE = -2000
"""The background passed to reformat: no voxel of the phantom has it."""


@cache
def volume_of(name: str) -> Volume:
    return STACKS[name].volume()


def pattern(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Voxels that differ from all their neighbours (a transposed or flipped slice shows),
    int16, made without numpy.random (not in the browser's numpy)."""
    n = np.arange(int(np.prod(shape)), dtype=np.int64)
    return ((n * 2654435761) % 4001 - 2000).astype(np.int16).reshape(shape)


def views_of(name: str) -> MprViews:
    return MprViews("1.2.3", SERIES, volume_of(name).geometry)


def geometry_of_plane(plane: Plane) -> ImageGeometry:
    return ImageGeometry(plane.rows, plane.columns, plane.spacing, "PixelSpacing",
                         tuple(plane.origin), (*plane.row_cosine, *plane.column_cosine))


def voxel_index(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(column, row, slice) indices of patient points (..., 3)."""
    inverse = np.linalg.inv(affine)
    return points @ inverse[:3, :3].T + inverse[:3, 3]


def pixel_points(plane: Plane) -> np.ndarray:
    """Every pixel centre's patient point, ``(rows, columns, 3)``."""
    rows, columns = np.mgrid[:plane.rows, :plane.columns]
    return (plane.origin + columns[..., None] * plane.spacing[1] * plane.row_cosine
            + rows[..., None] * plane.spacing[0] * plane.column_cosine)


# ---------------------------------------------------------------- the spheres in the views

# (acquisition, view) -> (image index, [column, row]) of the big sphere's centre, from the
# geometry worked out by hand: voxel (column 30, row 20, slice 18) of a 40x48x56 volume.
# Axial acquisition: columns +x, rows +y, slices +z. Sagittal: columns +y, rows -z, slices -x.
SPHERE_PIXELS = {
    ("axial", "axial"): (39 - 18, (30, 20)),
    ("axial", "sagittal"): (30, (20, 39 - 18)),
    ("axial", "coronal"): (47 - 20, (30, 39 - 18)),
    ("sagittal", "axial"): (20, (39 - 18, 30)),
    ("sagittal", "sagittal"): (39 - 18, (30, 20)),
    ("sagittal", "coronal"): (55 - 30, (39 - 18, 20)),
}


@pytest.mark.parametrize("view", VIEW_NAMES)
@pytest.mark.parametrize("acquisition", ["axial", "sagittal", "oblique"])
def test_the_sphere_is_at_its_pixels_in_every_view(acquisition: str, view: str) -> None:
    stack, volume = STACKS[acquisition], volume_of(acquisition)
    views = views_of(acquisition)
    centre = stack.sphere_centre
    views.center = centre
    grid = views.grid(view)
    index = grid.index_of(centre)
    plane = grid.plane(index)
    column, row = plane.image_point(centre)
    # The plane shown is the one through the centre (within half a step of it), and the
    # pixel is the centre's projection onto it.
    off = float((centre - plane.origin) @ plane.normal)
    assert abs(off) <= grid.step / 2 + 1e-9
    np.testing.assert_allclose(plane.patient_point(column, row), centre - off * plane.normal,
                               atol=1e-9)
    values = reformat(volume.values(), volume.geometry.affine, plane, None, OUTSIDE)
    assert values.shape == (grid.rows, grid.columns)
    if acquisition != "oblique":
        expected_index, expected_point = SPHERE_PIXELS[(acquisition, view)]
        assert index == expected_index
        assert (column, row) == pytest.approx(expected_point, abs=1e-9)
        assert values.dtype == np.int16  # the voxels' own values
        assert off == pytest.approx(0, abs=1e-9)
        assert views.state()["views"][VIEW_NAMES.index(view)]["imageIndex"] == expected_index
    else:
        assert values.dtype == np.float32  # interpolated
    c, r = round(column), round(row)
    assert values[r, c] == pytest.approx(SPHERE[2])
    # radius + 2 voxels (of the largest spacing) away, along the rows and the columns: air
    away = SPHERE[1] + 2 * SLICE_SPACING
    step_c, step_r = (math.ceil(away / s) for s in (plane.spacing[1], plane.spacing[0]))
    for dc, dr in ((step_c, 0), (-step_c, 0), (0, step_r), (0, -step_r)):
        assert 0 <= r + dr < plane.rows and 0 <= c + dc < plane.columns
        point = plane.patient_point(c + dc, r + dr)
        index_there = voxel_index(stack.affine, point)
        assert np.all((index_there >= 0) & (index_there <= np.array(SHAPE[::-1]) - 1))
        assert values[r + dr, c + dc] == pytest.approx(AIR_HU), (dc, dr)


@pytest.mark.parametrize("acquisition", ["axial", "sagittal", "oblique"])
def test_an_oblique_plane_through_two_known_points(acquisition: str) -> None:
    """The plane through both spheres' centres: each centre at its expected pixel, each
    sphere there, air between them, the background outside the volume."""
    stack, volume = STACKS[acquisition], volume_of(acquisition)
    first, second = stack.sphere_centre, stack.second_centre
    distance = float(np.linalg.norm(second - first))
    assert distance > SPHERE[1] + SECOND[1] + 6  # apart, with air between
    row_cosine = (second - first) / distance
    tilt = np.array([0.3, -0.5, 0.8])
    column_cosine = tilt - (tilt @ row_cosine) * row_cosine
    column_cosine /= np.linalg.norm(column_cosine)
    spacing = (0.5, distance / 46)  # the second centre falls 46 columns after the first
    origin = first - 15 * spacing[1] * row_cosine - 20 * spacing[0] * column_cosine
    plane = Plane(origin, row_cosine, column_cosine, spacing, 70, 90)
    assert plane.image_point(first) == pytest.approx((15, 20), abs=1e-9)
    assert plane.image_point(second) == pytest.approx((61, 20), abs=1e-9)
    np.testing.assert_allclose(plane.patient_point(61, 20), second, atol=1e-9)
    assert abs(float((second - origin) @ plane.normal)) < 1e-9  # both in the plane

    values = reformat(volume.values(), volume.geometry.affine, plane, None, OUTSIDE)
    assert values.dtype == np.float32 and values.shape == (70, 90)
    assert values[20, 15] == pytest.approx(SPHERE[2])
    assert values[20, 61] == pytest.approx(SECOND[2])
    assert values[20, 38] == pytest.approx(AIR_HU)  # half way: air
    # Every pixel away from the spheres' surfaces is the phantom there; outside the
    # volume, the background.
    points = pixel_points(plane)
    index = voxel_index(stack.affine, points)
    size = np.array(SHAPE[::-1])
    inside = np.all((index > 0) & (index < size - 1), axis=-1)
    outside = np.any((index < -0.6) | (index > size - 0.4), axis=-1)
    assert inside.sum() > 1000 and outside.sum() > 100  # both kinds are tested
    far = np.ones(plane.rows * plane.columns, bool).reshape(plane.rows, plane.columns)
    for centre, radius in ((first, SPHERE[1]), (second, SECOND[1])):
        far &= np.abs(np.linalg.norm(points - centre, axis=-1) - radius) > 2.5
    truth = np.full(points.shape[:2], AIR_HU)
    truth[np.linalg.norm(points - second, axis=-1) <= SECOND[1]] = SECOND[2]
    truth[np.linalg.norm(points - first, axis=-1) <= SPHERE[1]] = SPHERE[2]
    np.testing.assert_allclose(values[inside & far], truth[inside & far], atol=1e-3)
    assert (values[outside] == OUTSIDE).all()
    assert (values[inside] != OUTSIDE).all()
    # A Length between the two points on this plane is their distance in mm.
    length = measure("Length", [[15, 20], [61, 20]], geometry_of_plane(plane))
    assert length.value("length").value == pytest.approx(distance, abs=1e-9)
    assert length.value("length").unit == "mm"


# ---------------------------------------------------------------- exact and trilinear


def expected_slices(acquisition: str, view: str, voxels: np.ndarray, index: int) -> np.ndarray:
    """The numpy slice each view's image is, worked out from the acquisitions' axes."""
    last_slice, last_row, last_column = (n - 1 for n in voxels.shape)
    if acquisition == "axial":  # columns +x, rows +y, slices +z
        return {"axial": lambda: voxels[last_slice - index],
                "sagittal": lambda: voxels[::-1, :, index],
                "coronal": lambda: voxels[::-1, last_row - index, :]}[view]()
    assert acquisition == "sagittal"  # columns +y, rows -z, slices -x
    return {"axial": lambda: voxels[::-1, index, :].T,
            "sagittal": lambda: voxels[last_slice - index],
            "coronal": lambda: voxels[::-1, :, last_column - index].T}[view]()


@pytest.mark.parametrize("view", VIEW_NAMES)
@pytest.mark.parametrize("acquisition", ["axial", "sagittal"])
def test_planes_along_the_voxels_are_numpy_slices(acquisition: str, view: str) -> None:
    voxels = pattern()
    views = views_of(acquisition)
    grid = views.grid(view)
    affine = views.geometry.affine
    for index in (0, 1, grid.count // 2, grid.count - 1):
        values = reformat(voxels, affine, grid.plane(index), None, OUTSIDE)
        expected = expected_slices(acquisition, view, voxels, index)
        assert values.dtype == np.int16
        assert values.shape == expected.shape == (grid.rows, grid.columns)
        assert np.array_equal(values, expected), (view, index)
    for index in (-1, grid.count):  # a plane one step beyond the volume: all background
        beyond = Plane(grid.origin + grid.depth_of(index) * grid.depth, grid.row_cosine,
                       grid.column_cosine, grid.spacing, grid.rows, grid.columns)
        values = reformat(voxels, affine, beyond, None, OUTSIDE)
        assert values.dtype == np.int16 and (values == OUTSIDE).all()


def test_an_exact_plane_partly_outside_the_volume_is_background_there() -> None:
    voxels = pattern()
    stack = STACKS["axial"]
    # Slice 12, from 3 columns left of and 2 rows above the volume, 7 and 5 more pixels.
    origin = stack.patient(-3, -2, 12)
    plane = Plane(origin, stack.row_cosine, stack.column_cosine, PIXEL_SPACING, 53, 63)
    values = reformat(voxels, stack.affine, plane, None, OUTSIDE)
    assert values.dtype == np.int16
    assert np.array_equal(values[2:50, 3:59], voxels[12])
    inside = np.zeros(values.shape, bool)
    inside[2:50, 3:59] = True
    assert (values[~inside] == OUTSIDE).all()
    # Mirrored (columns run -x, rows -y) from beyond the far corner.
    mirrored = Plane(stack.patient(57, 49, 12), -stack.row_cosine, -stack.column_cosine,
                     PIXEL_SPACING, 53, 63)
    values = reformat(voxels, stack.affine, mirrored, None, OUTSIDE)
    assert values.dtype == np.int16
    assert np.array_equal(values[2:50, 2:58], voxels[12, ::-1, ::-1])
    assert (values[:2] == OUTSIDE).all() and (values[:, 58:] == OUTSIDE).all()


def ramp(points: np.ndarray) -> np.ndarray:
    return 3 * points[..., 0] - 2 * points[..., 1] + 0.5 * points[..., 2] + 7


@pytest.mark.parametrize("acquisition", ["axial", "oblique"])
def test_trilinear_planes_reproduce_a_linear_ramp(acquisition: str) -> None:
    """Trilinear interpolation is exact for a linear function: every pixel of an oblique
    plane inside the volume is the ramp at its patient point, every one outside the
    background."""
    stack = STACKS[acquisition]
    voxels = ramp(stack.points()).astype(np.float32)
    centre = stack.geometry().centre
    row_cosine = np.array([2.0, 1.0, -1.0]) / math.sqrt(6)
    column_cosine = np.array([1.0, -1.0, 1.0]) / math.sqrt(3)
    plane = Plane(centre - 40 * 0.6 * row_cosine - 40 * 0.6 * column_cosine, row_cosine,
                  column_cosine, (0.6, 0.6), 81, 81)
    values = reformat(voxels, stack.affine, plane, None, OUTSIDE)
    assert values.dtype == np.float32
    points = pixel_points(plane)
    index = voxel_index(stack.affine, points)
    size = np.array(SHAPE[::-1])
    inside = np.all((index >= 0) & (index <= size - 1), axis=-1)
    outside = np.any((index < -0.55) | (index > size - 0.45), axis=-1)
    assert inside.sum() > 500 and outside.sum() > 100
    np.testing.assert_allclose(values[inside], ramp(points[inside]), atol=2e-3)
    assert (values[outside] == OUTSIDE).all()


def test_a_plane_between_two_slices_is_their_mean() -> None:
    voxels = pattern()
    stack = STACKS["axial"]
    plane = Plane(stack.patient(0, 0, 20.5), stack.row_cosine, stack.column_cosine,
                  PIXEL_SPACING, 48, 56)
    values = reformat(voxels, stack.affine, plane, None, OUTSIDE)
    assert values.dtype == np.float32
    expected = (voxels[20].astype(np.float32) + voxels[21]) / 2
    np.testing.assert_allclose(values, expected, atol=1e-3)
    # A quarter of a pixel along the columns: 3/4 of one, 1/4 of the next (the last
    # column's right neighbour is outside: the inside one counts alone).
    shifted = Plane(stack.patient(0.25, 0, 20), stack.row_cosine, stack.column_cosine,
                    PIXEL_SPACING, 48, 56)
    values = reformat(voxels, stack.affine, shifted, None, OUTSIDE)
    slice_ = voxels[20].astype(np.float32)
    np.testing.assert_allclose(values[:, :-1], 0.75 * slice_[:, :-1] + 0.25 * slice_[:, 1:],
                               atol=1e-3)
    np.testing.assert_allclose(values[:, -1], slice_[:, -1], atol=1e-3)


# ---------------------------------------------------------------- slabs


def test_slab_offsets() -> None:
    assert Slab(5.0, "mip", 2.0).offsets().tolist() == [-2.0, 0.0, 2.0]
    assert Slab(8.0, "mip", 2.0).offsets().tolist() == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert Slab(2.8, "mip", 0.7).offsets().tolist() == pytest.approx([-1.4, -0.7, 0, 0.7, 1.4])
    assert Slab(1.0, "mip", 2.0).offsets().tolist() == [0.0]


@pytest.mark.parametrize("mode", ["mip", "minip", "mean"])
def test_slabs_along_the_voxels_are_numpy_over_the_slices(mode: str) -> None:
    voxels = pattern()
    views = views_of("axial")
    affine = views.geometry.affine
    reduce = {"mip": np.max, "minip": np.min, "mean": np.mean}[mode]
    views.update({"type": "slabMode", "mode": mode})
    # Axial view image 21 is slice 18; an 8 mm slab of 2 mm slices is slices 16..20.
    views.update({"type": "slabThickness", "line": "axial", "thickness": 8})
    slab = views.slab("axial", 21)
    assert (slab.thickness, slab.mode, slab.step) == (8.0, mode, 2.0)
    values = reformat(voxels, affine, views.grid("axial").plane(21), slab, OUTSIDE)
    expected = reduce(voxels[16:21], axis=0)
    if mode == "mean":
        assert values.dtype == np.float32
        np.testing.assert_allclose(values, expected, rtol=1e-6)
    else:
        assert values.dtype == np.int16 and np.array_equal(values, expected)
    # Sagittal image 30 is column 30; a 2.8 mm slab of 0.7 mm columns is columns 28..32.
    views.update({"type": "slabThickness", "line": "sagittal", "thickness": 2.8})
    slab = views.slab("sagittal", 30)
    assert (slab.thickness, slab.mode, slab.step) == (2.8, mode, pytest.approx(0.7))
    values = reformat(voxels, affine, views.grid("sagittal").plane(30), slab, OUTSIDE)
    expected = reduce(voxels[::-1, :, 28:33], axis=2)
    if mode == "mean":
        np.testing.assert_allclose(values, expected, rtol=1e-6)
    else:
        assert np.array_equal(values, expected)


@pytest.mark.parametrize("mode", ["minip", "mean"])
def test_a_slab_at_the_edge_of_the_volume_leaves_out_what_is_beyond(mode: str) -> None:
    voxels = pattern()
    views = views_of("axial")
    views.update({"type": "slabMode", "mode": mode})
    views.update({"type": "slabThickness", "line": "axial", "thickness": 8})
    values = reformat(voxels, views.geometry.affine, views.grid("axial").plane(0),
                      views.slab("axial", 0), OUTSIDE)
    reduce = {"minip": np.min, "mean": np.mean}[mode]
    np.testing.assert_allclose(values, reduce(voxels[37:40], axis=0), rtol=1e-6)


def test_a_mip_at_the_edge_of_the_volume_is_over_the_slices_it_has() -> None:
    voxels = pattern()
    views = views_of("axial")
    slab = Slab(8.0, "mip", 2.0)
    values = reformat(voxels, views.geometry.affine, views.grid("axial").plane(0), slab,
                      int(voxels.min()))
    assert np.array_equal(values, voxels[37:40].max(axis=0))  # slices 40 and 41 are not


@pytest.mark.parametrize("mode", ["mip", "minip", "mean"])
def test_an_oblique_slab_projects_its_planes(mode: str) -> None:
    """Off the voxels, a slab is still numpy's max, min or mean over its planes, each
    interpolated one step apart along the normal."""
    stack = STACKS["oblique"]
    voxels = volume_of("oblique").values()
    views = views_of("oblique")
    grid = views.grid("coronal")
    index = grid.index_of(stack.sphere_centre)
    plane = grid.plane(index)
    slab = Slab(4.0, mode, grid.step)
    offsets = slab.offsets()
    assert len(offsets) == 5  # 0.7 mm steps within 2 mm either side
    planes = [reformat(voxels, stack.affine,
                       Plane(plane.origin + offset * plane.normal, plane.row_cosine,
                             plane.column_cosine, plane.spacing, plane.rows, plane.columns),
                       None, OUTSIDE) for offset in offsets]
    values = reformat(voxels, stack.affine, plane, slab, OUTSIDE)
    reduce = {"mip": np.max, "minip": np.min, "mean": np.mean}[mode]
    np.testing.assert_allclose(values, reduce(np.stack(planes), axis=0), rtol=1e-6)
    if mode == "mip":  # the sphere is brightest across the slab
        column, row = (round(v) for v in plane.image_point(stack.sphere_centre))
        assert values[row, column] == pytest.approx(SPHERE[2])


# ---------------------------------------------------------------- spacing and geometry

# acquisition -> view -> ((row spacing, column spacing), step, count, rows, columns)
GRIDS = {
    "axial": {"axial": ((0.8, 0.7), 2.0, 40, 48, 56),
              "sagittal": ((2.0, 0.8), 0.7, 56, 40, 48),
              "coronal": ((2.0, 0.7), 0.8, 48, 40, 56)},
    "sagittal": {"axial": ((0.7, 2.0), 0.8, 48, 56, 40),
                 "sagittal": ((0.8, 0.7), 2.0, 40, 48, 56),
                 "coronal": ((0.8, 2.0), 0.7, 56, 48, 40)},
}


@pytest.mark.parametrize("view", VIEW_NAMES)
@pytest.mark.parametrize("acquisition", ["axial", "sagittal"])
def test_views_along_the_voxels_have_the_voxel_spacing(acquisition: str, view: str) -> None:
    grid = views_of(acquisition).grid(view)
    spacing, step, count, rows, columns = GRIDS[acquisition][view]
    assert grid.spacing == pytest.approx(spacing, abs=1e-12)
    assert grid.step == pytest.approx(step, abs=1e-12)
    assert (grid.count, grid.rows, grid.columns) == (count, rows, columns)


@pytest.mark.parametrize(("orientation", "spacings"), [
    # oblique in every direction: the smallest voxel spacing everywhere
    ((0.6, 0.8, 0, -0.48, 0.36, 0.8), {"axial": ((0.7, 0.7), 0.7), "sagittal": ((0.7, 0.7), 0.7),
                                       "coronal": ((0.7, 0.7), 0.7)}),
    # axial turned in-plane: the slices stay along the axial normal
    ((0.6, 0.8, 0, -0.8, 0.6, 0), {"axial": ((0.7, 0.7), 2.0), "sagittal": ((2.0, 0.7), 0.7),
                                   "coronal": ((2.0, 0.7), 0.7)}),
])
def test_oblique_views_take_the_smallest_spacing_and_cover_the_volume(
        orientation: tuple[float, ...], spacings: dict[str, tuple[tuple[float, float], float]]
) -> None:
    stack = Stack(orientation)
    geometry = stack.geometry()
    corners = geometry.voxel_centres()
    for view, (spacing, step) in spacings.items():
        views = MprViews("1.2.3", SERIES, geometry)
        grid = views.grid(view)
        assert grid.spacing == pytest.approx(spacing, abs=1e-12), view
        assert grid.step == pytest.approx(step, abs=1e-12), view
        # Every corner voxel's centre is on the grid's pixels and images, the grid no
        # larger than that (plus a pixel).
        depths = (corners @ grid.depth - grid.first) / grid.step
        assert depths.min() == pytest.approx(0, abs=1e-9)
        assert grid.count - 1.5 <= depths.max() <= grid.count - 0.5
        points = np.array([grid.plane(0).image_point(c) for c in corners])
        assert points.min(axis=0) == pytest.approx([0, 0], abs=1e-9)
        assert grid.columns - 1.5 <= points[:, 0].max() <= grid.columns - 0.5
        assert grid.rows - 1.5 <= points[:, 1].max() <= grid.rows - 0.5


def test_view_grid_covering_directly() -> None:
    geometry = STACKS["axial"].geometry()
    grid = ViewGrid.covering(geometry, np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0]))
    assert grid.spacing == pytest.approx((2.0, 0.8)) and grid.step == pytest.approx(0.7)
    np.testing.assert_allclose(grid.depth, [1, 0, 0], atol=1e-12)
    assert grid.first == pytest.approx(ORIGIN_X := STACKS["axial"].origin[0])
    assert grid.depth_of(3) == pytest.approx(ORIGIN_X + 3 * 0.7)
    assert grid.index_of(STACKS["axial"].patient(30, 0, 0)) == 30
    assert grid.index_of(np.array([-1e6, 0, 0])) == 0  # clamped to the images there are
    assert grid.index_of(np.array([1e6, 0, 0])) == 55


@pytest.mark.parametrize("acquisition", ["axial", "sagittal", "oblique"])
def test_pixel_geometry_of_the_views_and_a_length_on_the_sagittal(acquisition: str) -> None:
    stack = STACKS[acquisition]
    views = views_of(acquisition)
    grid = views.grid("sagittal")
    index = grid.index_of(stack.sphere_centre)
    geometry = views.geometry_of("sagittal", index)
    plane = grid.plane(index)
    assert (geometry.rows, geometry.columns) == (grid.rows, grid.columns)
    assert geometry.spacing == grid.spacing and geometry.spacing_source == "PixelSpacing"
    np.testing.assert_allclose(geometry.orientation, [0, 1, 0, 0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(geometry.position, plane.origin, atol=1e-12)
    for name in VIEW_NAMES:  # each view's orientation, as the page's markers read it
        cosines = views.geometry_of(name, 0).orientation
        np.testing.assert_allclose(cosines, [*views.grid(name).row_cosine,
                                             *views.grid(name).column_cosine], atol=1e-12)
    if acquisition == "axial":
        # Pixel (0, 0) of sagittal image 30 is voxel (30, 0, 39): the top front.
        assert index == 30
        np.testing.assert_allclose(geometry.position, stack.patient(30, 0, 39), atol=1e-9)
        assert geometry.spacing == pytest.approx((2.0, 0.8))
        # Voxels (30, 5, 10) and (30, 40, 30) are pixels (5, 29) and (40, 9).
        a, b = stack.patient(30, 5, 10), stack.patient(30, 40, 30)
        assert geometry.patient_position(5, 29) == pytest.approx(tuple(a), abs=1e-9)
        assert geometry.patient_position(40, 9) == pytest.approx(tuple(b), abs=1e-9)
        length = measure("Length", [[5, 29], [40, 9]], geometry)
        assert length.value("length").value == pytest.approx(math.hypot(35 * 0.8, 20 * 2.0))
        return
    # Any two pixels: their distance in the patient, whatever the acquisition.
    points = [[3.0, 7.0], [41.5, 30.25]]
    a, b = (np.array(geometry.patient_position(*p)) for p in points)
    np.testing.assert_allclose(a, plane.patient_point(*points[0]), atol=1e-9)
    length = measure("Length", points, geometry)
    assert length.value("length").value == pytest.approx(float(np.linalg.norm(a - b)), abs=1e-9)
    assert length.value("length").value == pytest.approx(
        math.hypot(38.5 * grid.spacing[1], 23.25 * grid.spacing[0]))
