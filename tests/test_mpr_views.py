"""ohifpy.viewer.mpr: the crosshair centre, the three views through it and what each page
action does to them, on a synthetic axial volume of known geometry (41 slices of 47 x 55
voxels, 0.7 x 0.8 x 2.0 mm: odd sizes, so its centre is a voxel's).

Pure numpy: this module runs under Pyodide too.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from test_volume import ORIENTATIONS, Stack

from ohifpy.errors import BadRequest
from ohifpy.imaging.reformat import Slab
from ohifpy.viewer.mpr import VIEWS, MprViews

STACK = Stack(ORIENTATIONS["axial"], shape=(41, 47, 55))
"""Columns +x (0.7 mm), rows +y (0.8 mm), slices +z (2 mm)."""
UID = "1.2.826.0.1.3680043.8.498.13.1"
NAMES = ["axial", "sagittal", "coronal"]
# Image indices: axial counts slices head (41 - 1) to feet, sagittal columns right to left,
# coronal rows back (47 - 1) to front. The centre is voxel (27, 23, 20).
CENTRE_INDICES = [40 - 20, 27, 46 - 23]


@pytest.fixture
def mpr() -> MprViews:
    return MprViews(UID, "series-uid", STACK.geometry())


def view(mpr: MprViews, name: str) -> dict[str, Any]:
    return mpr.state()["views"][NAMES.index(name)]


def indices(mpr: MprViews) -> list[int]:
    return [v["imageIndex"] for v in mpr.state()["views"]]


def uids(mpr: MprViews) -> list[str]:
    return [v["displaySetUID"] for v in mpr.state()["views"]]


def centre_pixel(mpr: MprViews, name: str) -> tuple[float, float]:
    column, row = view(mpr, name)["crosshair"]["center"]
    return column, row


def axial_point(mpr: MprViews, angle: float, mm: float = 10.0) -> list[float]:
    """The axial image point ``mm`` from the crosshair centre at ``angle`` (radians, from +x
    towards +y in the patient): the axial pixels are 0.7 mm wide and 0.8 mm high."""
    column, row = centre_pixel(mpr, "axial")
    return [column + mm * math.cos(angle) / 0.7, row + mm * math.sin(angle) / 0.8]


def assert_orthonormal(mpr: MprViews) -> None:
    depths = []
    for name in NAMES:
        v = mpr.views[name]
        assert np.linalg.norm(v.row_cosine) == pytest.approx(1, abs=1e-12)
        assert np.linalg.norm(v.column_cosine) == pytest.approx(1, abs=1e-12)
        assert float(v.row_cosine @ v.column_cosine) == pytest.approx(0, abs=1e-12)
        depths.append(v.depth)
    np.testing.assert_allclose(np.array(depths) @ np.array(depths).T, np.eye(3), atol=1e-12)


def test_the_initial_state(mpr: MprViews) -> None:
    state = mpr.state()
    assert state["mprUID"] == f"mpr:{UID}" and state["displaySetUID"] == UID
    assert state["slabMode"] == "mip"
    np.testing.assert_allclose(state["center"], STACK.patient(27, 23, 20), atol=1e-9)
    np.testing.assert_allclose(mpr.center, mpr.geometry.centre, atol=1e-12)
    assert [v["name"] for v in state["views"]] == NAMES
    assert [v["label"] for v in state["views"]] == ["Axial", "Sagittal", "Coronal"]
    assert [v["color"] for v in state["views"]] == [
        "rgb(200, 0, 0)", "rgb(200, 200, 0)", "rgb(0, 200, 0)"]
    assert uids(mpr) == [f"mpr:{UID}:{name}:0" for name in NAMES]
    assert {v["seriesInstanceUID"] for v in state["views"]} == {"series-uid"}
    assert [v["numImages"] for v in state["views"]] == [41, 55, 47]
    assert indices(mpr) == CENTRE_INDICES
    assert [v["slabThickness"] for v in state["views"]] == [0, 0, 0]
    assert [v["crosshair"]["center"] for v in state["views"]] == [
        pytest.approx([27, 23]), pytest.approx([23, 40 - 20]), pytest.approx([27, 40 - 20])]
    assert_orthonormal(mpr)


def test_center_moves_the_other_two_views(mpr: MprViews) -> None:
    mpr.update({"type": "center", "view": "axial", "point": [10, 30]})
    assert indices(mpr) == [20, 10, 46 - 30]  # the axial image stays
    np.testing.assert_allclose(mpr.center, STACK.patient(10, 30, 20), atol=1e-9)
    assert centre_pixel(mpr, "axial") == pytest.approx((10, 30))
    assert uids(mpr) == [f"mpr:{UID}:{name}:0" for name in NAMES]  # no plane turned
    # On the sagittal view columns run front to back (+y), rows head to feet.
    mpr.update({"type": "center", "view": "sagittal", "point": [5, 33]})
    assert indices(mpr) == [33, 10, 46 - 5]
    np.testing.assert_allclose(mpr.center, STACK.patient(10, 5, 40 - 33), atol=1e-9)
    # On the coronal view columns run right to left (+x), rows head to feet.
    mpr.update({"type": "center", "view": "coronal", "point": [50, 2]})
    assert indices(mpr) == [2, 50, 41]
    np.testing.assert_allclose(mpr.center, STACK.patient(50, 5, 40 - 2), atol=1e-9)
    assert [v["crosshair"]["center"] for v in mpr.state()["views"]] == [
        pytest.approx([50, 5]), pytest.approx([5, 2]), pytest.approx([50, 2])]


def test_center_between_pixels_shows_the_nearest_images(mpr: MprViews) -> None:
    mpr.update({"type": "center", "view": "axial", "point": [10.4, 29.6]})
    assert indices(mpr) == [20, 10, 46 - 30]
    np.testing.assert_allclose(mpr.center, STACK.patient(10.4, 29.6, 20), atol=1e-9)


@pytest.mark.parametrize(("action", "expected", "moved"), [
    ({"view": "axial", "line": "sagittal", "point": [40, 5]}, [20, 40, 23], (40, 23, 20)),
    ({"view": "axial", "line": "coronal", "point": [3, 44]}, [20, 27, 2], (27, 44, 20)),
    ({"view": "sagittal", "line": "axial", "point": [0, 7]}, [7, 27, 23], (27, 23, 33)),
    ({"view": "sagittal", "line": "coronal", "point": [3, 0]}, [20, 27, 43], (27, 3, 20)),
    ({"view": "coronal", "line": "axial", "point": [54, 40]}, [40, 27, 23], (27, 23, 0)),
    ({"view": "coronal", "line": "sagittal", "point": [54, 40]}, [20, 54, 23], (54, 23, 20)),
])
def test_move_moves_only_that_plane(mpr: MprViews, action: dict[str, Any],
                                    expected: list[int], moved: tuple[int, int, int]) -> None:
    mpr.update({"type": "move", **action})
    assert indices(mpr) == expected
    np.testing.assert_allclose(mpr.center, STACK.patient(*moved), atol=1e-9)
    assert uids(mpr) == [f"mpr:{UID}:{name}:0" for name in NAMES]


def test_rotate_by_90_degrees_in_the_axial_view_swaps_sagittal_and_coronal(
        mpr: MprViews) -> None:
    centre = mpr.center.copy()
    mpr.update({"type": "rotate", "view": "axial", "from": axial_point(mpr, 0),
                "to": axial_point(mpr, math.pi / 2)})
    assert uids(mpr) == [f"mpr:{UID}:axial:0", f"mpr:{UID}:sagittal:1", f"mpr:{UID}:coronal:1"]
    sagittal, coronal = mpr.views["sagittal"], mpr.views["coronal"]
    # +90 degrees about the axial normal (+z): +y becomes -x, +x becomes +y.
    np.testing.assert_allclose(sagittal.row_cosine, [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(sagittal.column_cosine, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(coronal.row_cosine, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(sagittal.depth, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(coronal.depth, [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(mpr.views["axial"].row_cosine, [1, 0, 0])
    assert_orthonormal(mpr)
    np.testing.assert_array_equal(mpr.center, centre)
    # Still along the voxels: the sagittal view now steps through the rows (0.8 mm) with
    # pixels 0.7 mm wide, the coronal through the columns.
    grid = mpr.grid("sagittal")
    assert grid.spacing == pytest.approx((2.0, 0.7)) and grid.step == pytest.approx(0.8)
    assert (grid.count, grid.rows, grid.columns) == (47, 41, 55)
    grid = mpr.grid("coronal")
    assert grid.spacing == pytest.approx((2.0, 0.8)) and grid.step == pytest.approx(0.7)
    assert (grid.count, grid.rows, grid.columns) == (55, 41, 47)
    assert indices(mpr) == [20, 23, 27]
    # In the axial view the sagittal line now runs along the rows, the coronal one down.
    lines = {line["view"]: line["points"] for line in view(mpr, "axial")["crosshair"]["lines"]}
    assert lines["sagittal"][0][1] == pytest.approx(lines["sagittal"][1][1])
    assert lines["coronal"][0][0] == pytest.approx(lines["coronal"][1][0])


def test_rotate_by_30_degrees_and_back(mpr: MprViews) -> None:
    before = {name: (v.row_cosine.copy(), v.column_cosine.copy()) for name, v in
              mpr.views.items()}
    start, end = axial_point(mpr, 0), axial_point(mpr, math.radians(30), mm=7.0)
    mpr.update({"type": "rotate", "view": "axial", "from": start, "to": end})
    cos, sin = math.cos(math.radians(30)), math.sin(math.radians(30))
    np.testing.assert_allclose(mpr.views["sagittal"].row_cosine, [-sin, cos, 0], atol=1e-12)
    np.testing.assert_allclose(mpr.views["coronal"].row_cosine, [cos, sin, 0], atol=1e-12)
    np.testing.assert_allclose(mpr.views["coronal"].column_cosine, [0, 0, -1], atol=1e-12)
    assert_orthonormal(mpr)
    assert uids(mpr)[1:] == [f"mpr:{UID}:sagittal:1", f"mpr:{UID}:coronal:1"]
    # Oblique in-plane: the smallest voxel spacing; still along the slices down the rows.
    grid = mpr.grid("sagittal")
    assert grid.spacing == pytest.approx((2.0, 0.7)) and grid.step == pytest.approx(0.7)
    # The planes shown go through the centre (within half a step of their grids).
    for name in NAMES:
        grid = mpr.grid(name)
        plane = grid.plane(view(mpr, name)["imageIndex"])
        assert abs(float((mpr.center - plane.origin) @ plane.normal)) <= grid.step / 2 + 1e-9
    # The way back: -30 degrees from the centre shown now.
    start, end = axial_point(mpr, math.radians(30)), axial_point(mpr, 0)
    mpr.update({"type": "rotate", "view": "axial", "from": start, "to": end})
    for name, (row, column) in before.items():
        np.testing.assert_allclose(mpr.views[name].row_cosine, row, atol=1e-12)
        np.testing.assert_allclose(mpr.views[name].column_cosine, column, atol=1e-12)
    assert uids(mpr)[1:] == [f"mpr:{UID}:sagittal:2", f"mpr:{UID}:coronal:2"]
    assert indices(mpr) == CENTRE_INDICES


def test_rotate_in_the_sagittal_view_turns_axial_and_coronal(mpr: MprViews) -> None:
    column, row = centre_pixel(mpr, "sagittal")
    # On the sagittal view +column is +y (0.8 mm), +row is -z (2 mm): from +y to -z.
    mpr.update({"type": "rotate", "view": "sagittal", "from": [column + 10, row],
                "to": [column, row + 4]})
    assert uids(mpr) == [f"mpr:{UID}:axial:1", f"mpr:{UID}:sagittal:0", f"mpr:{UID}:coronal:1"]
    np.testing.assert_allclose(mpr.views["sagittal"].row_cosine, [0, 1, 0])
    # 90 degrees about the sagittal normal (-x): the axial plane now faces along y.
    np.testing.assert_allclose(np.abs(mpr.views["axial"].depth), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(np.abs(mpr.views["coronal"].depth), [0, 0, 1], atol=1e-12)
    assert_orthonormal(mpr)


def test_a_hundred_small_rotations_adding_up_to_zero_leave_no_drift(mpr: MprViews) -> None:
    """A drag out to 75 degrees and back in 1.5 degree steps, each measured from the centre
    the page shows: the planes come back, and the centre never moved."""
    centre, state = mpr.center.copy(), mpr.state()
    angles = [math.radians(1.5 * k) for k in [*range(51), *range(49, -1, -1)]]
    assert len(angles) == 101
    for a, b in itertools.pairwise(angles):
        mpr.update({"type": "rotate", "view": "axial", "from": axial_point(mpr, a),
                    "to": axial_point(mpr, b)})
        np.testing.assert_array_equal(mpr.center, centre)
    assert_orthonormal(mpr)
    np.testing.assert_allclose(mpr.views["sagittal"].row_cosine, [0, 1, 0], atol=1e-9)
    np.testing.assert_allclose(mpr.views["coronal"].row_cosine, [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(mpr.state()["center"], state["center"], atol=1e-9)
    assert indices(mpr) == CENTRE_INDICES
    assert uids(mpr)[1:] == [f"mpr:{UID}:sagittal:100", f"mpr:{UID}:coronal:100"]
    # Pointer positions fixed from the start (the shown centre moving under them as the
    # grids turn): the planes may end a little off, the centre still never moves.
    column, row = centre_pixel(mpr, "axial")

    def fixed(angle: float) -> list[float]:
        return [column + 10 * math.cos(angle) / 0.7, row + 10 * math.sin(angle) / 0.8]

    for a, b in itertools.pairwise(angles):
        mpr.update({"type": "rotate", "view": "axial", "from": fixed(a), "to": fixed(b)})
    np.testing.assert_array_equal(mpr.center, centre)
    np.testing.assert_allclose(mpr.views["sagittal"].row_cosine, [0, 1, 0], atol=1e-2)
    assert_orthonormal(mpr)


def test_a_rotation_of_nothing_changes_nothing(mpr: MprViews) -> None:
    point = axial_point(mpr, 0.3)
    mpr.update({"type": "rotate", "view": "axial", "from": point, "to": point})
    assert uids(mpr) == [f"mpr:{UID}:{name}:0" for name in NAMES]


def plain(slab: Slab | None) -> tuple[float, str, float] | None:
    """A slab's thickness, mode and step (its bounds depend on the image)."""
    return None if slab is None else (slab.thickness, slab.mode, slab.step)


def test_slab_is_twice_the_distance_from_the_line(mpr: MprViews) -> None:
    column, row = centre_pixel(mpr, "axial")
    # 5 columns (3.5 mm) right of the sagittal line; the 3 rows along it do not count.
    mpr.update({"type": "slab", "view": "axial", "line": "sagittal",
                "point": [column + 5, row + 3]})
    assert [v["slabThickness"] for v in mpr.state()["views"]] == [0, pytest.approx(7.0), 0]
    assert uids(mpr) == [f"mpr:{UID}:axial:0", f"mpr:{UID}:sagittal:1", f"mpr:{UID}:coronal:0"]
    assert plain(mpr.slab("sagittal", mpr.index("sagittal"))) == (pytest.approx(7.0), "mip", pytest.approx(0.7))
    assert mpr.slab("axial", mpr.index("axial")) is None and mpr.slab("coronal", mpr.index("coronal")) is None
    assert indices(mpr) == CENTRE_INDICES  # a slab moves no plane
    # The axial view draws the sagittal slab's edges 5 columns either side of its line.
    lines = {line["view"]: line for line in view(mpr, "axial")["crosshair"]["lines"]}
    edges = lines["sagittal"]["slab"]
    assert [edges[0][0][0], edges[1][0][0]] == pytest.approx([column - 5, column + 5])
    assert [edges[0][1][0], edges[1][1][0]] == pytest.approx([column - 5, column + 5])
    assert lines["coronal"]["slab"] is None
    # The other side, 2 rows (1.6 mm) above the coronal line in the axial view.
    mpr.update({"type": "slab", "view": "axial", "line": "coronal",
                "point": [column, row - 2]})
    assert view(mpr, "coronal")["slabThickness"] == pytest.approx(3.2)
    with pytest.raises(BadRequest, match="^a view's own plane has no line in it$"):
        mpr.update({"type": "slab", "view": "axial", "line": "axial", "point": [0, 0]})


def test_slab_thickness_and_mode(mpr: MprViews) -> None:
    mpr.update({"type": "slabThickness", "line": "coronal", "thickness": 4})
    assert view(mpr, "coronal")["slabThickness"] == 4.0
    assert plain(mpr.slab("coronal", mpr.index("coronal"))) == (4.0, "mip", pytest.approx(0.8))
    assert uids(mpr)[2] == f"mpr:{UID}:coronal:1"
    mpr.update({"type": "slabThickness", "line": "coronal", "thickness": 4.0})
    assert uids(mpr)[2] == f"mpr:{UID}:coronal:1"  # the same slab: the same pixels
    # A new mode changes only the views with a slab.
    mpr.update({"type": "slabMode", "mode": "minip"})
    assert mpr.state()["slabMode"] == "minip"
    assert uids(mpr) == [f"mpr:{UID}:axial:0", f"mpr:{UID}:sagittal:0", f"mpr:{UID}:coronal:2"]
    assert plain(mpr.slab("coronal", mpr.index("coronal"))) == (4.0, "minip", pytest.approx(0.8))
    mpr.update({"type": "slabThickness", "line": "coronal", "thickness": -3})
    assert view(mpr, "coronal")["slabThickness"] == 0 and mpr.slab("coronal", mpr.index("coronal")) is None
    assert uids(mpr)[2] == f"mpr:{UID}:coronal:3"


def test_scroll_moves_that_plane_to_the_image(mpr: MprViews) -> None:
    mpr.update({"type": "scroll", "view": "sagittal", "imageIndex": 5})
    assert indices(mpr) == [20, 5, 23]
    np.testing.assert_allclose(mpr.center, STACK.patient(5, 23, 20), atol=1e-9)
    mpr.update({"type": "scroll", "view": "axial", "imageIndex": 40})
    assert indices(mpr) == [40, 5, 23]
    np.testing.assert_allclose(mpr.center, STACK.patient(5, 23, 0), atol=1e-9)
    mpr.update({"type": "scroll", "view": "coronal", "imageIndex": 999})  # clamped
    assert indices(mpr) == [40, 5, 46]
    mpr.update({"type": "scroll", "view": "coronal", "imageIndex": -3})
    assert indices(mpr) == [40, 5, 0]
    np.testing.assert_allclose(mpr.center, STACK.patient(5, 46, 0), atol=1e-9)
    assert uids(mpr) == [f"mpr:{UID}:{name}:0" for name in NAMES]


def test_reset_goes_back_to_the_start_under_new_uids(mpr: MprViews) -> None:
    initial = mpr.state()
    mpr.update({"type": "center", "view": "axial", "point": [3, 4]})
    mpr.update({"type": "rotate", "view": "axial", "from": axial_point(mpr, 0),
                "to": axial_point(mpr, 0.5)})
    mpr.update({"type": "slabThickness", "line": "axial", "thickness": 6})
    mpr.update({"type": "slabMode", "mode": "mean"})
    assert uids(mpr) == [f"mpr:{UID}:axial:2", f"mpr:{UID}:sagittal:1", f"mpr:{UID}:coronal:1"]
    mpr.update({"type": "reset"})
    state = mpr.state()
    # Every view's UID is new (the page draws them again), all else as it started.
    assert uids(mpr) == [f"mpr:{UID}:axial:3", f"mpr:{UID}:sagittal:2", f"mpr:{UID}:coronal:2"]
    for before, after in zip(initial["views"], state["views"], strict=True):
        assert {**before, "displaySetUID": None} == {**after, "displaySetUID": None}
    assert state["center"] == initial["center"] and state["slabMode"] == "mip"
    for name, (_, _, row, column) in VIEWS.items():
        np.testing.assert_array_equal(mpr.views[name].row_cosine, row)
        np.testing.assert_array_equal(mpr.views[name].column_cosine, column)


@pytest.mark.parametrize(("action", "message"), [
    ({}, "no MPR action None"),
    ({"type": "zoom", "view": "axial"}, "no MPR action 'zoom'"),
    ({"type": "zoom"}, "no MPR action 'zoom'"),
    ({"type": "center", "point": [1, 2]}, "view must be one of axial, sagittal, coronal, not None"),
    ({"type": "center", "view": "oblique", "point": [1, 2]},
     "view must be one of axial, sagittal, coronal, not 'oblique'"),
    ({"type": "center", "view": "axial", "point": "here"},
     "point must be [column, row] numbers, not 'here'"),
    ({"type": "center", "view": "axial", "point": [1]},
     "point must be [column, row] numbers, not [1]"),
    ({"type": "center", "view": "axial", "point": [1, "a"]},
     "point must be [column, row] numbers, not [1, 'a']"),
    ({"type": "center", "view": "axial", "point": [1, math.nan]},
     "point must be finite numbers, not [1, nan]"),
    ({"type": "move", "view": "axial", "point": [1, 2]},
     "line must be one of axial, sagittal, coronal, not None"),
    ({"type": "move", "view": "axial", "line": "axial", "point": [1, 2]},
     "a view's own plane has no line in it"),
    ({"type": "rotate", "view": "axial", "from": [1, 2]},
     "to must be [column, row] numbers, not None"),
    ({"type": "slabThickness", "line": "axial", "thickness": "thick"},
     "thickness must be a number, not 'thick'"),
    ({"type": "slabThickness", "line": "axial", "thickness": math.inf},
     "thickness must be a finite number, not inf"),
    ({"type": "slabThickness", "thickness": 3},
     "line must be one of axial, sagittal, coronal, not None"),
    ({"type": "slabMode", "mode": "max"}, "slab mode must be one of mip, minip, mean, not 'max'"),
    ({"type": "scroll", "view": "axial", "imageIndex": None},
     "imageIndex must be a number, not None"),
])
def test_bad_actions_say_what_is_wrong_and_change_nothing(
        mpr: MprViews, action: dict[str, Any], message: str) -> None:
    before = mpr.state()
    with pytest.raises(BadRequest) as raised:
        mpr.update(action)
    assert str(raised.value) == message
    assert mpr.state() == before


def assert_crosshairs(mpr: MprViews) -> None:
    """In each view the other two views' lines, in their colours, through the centre shown,
    each along where that view's plane cuts this one."""
    state = mpr.state()
    centre = np.array(state["center"])
    for name, shown in zip(NAMES, state["views"], strict=True):
        grid = mpr.grid(name)
        plane = grid.plane(shown["imageIndex"])
        crosshair = shown["crosshair"]
        np.testing.assert_allclose(plane.patient_point(*crosshair["center"]), centre, atol=1e-9)
        lines = crosshair["lines"]
        assert [line["view"] for line in lines] == [n for n in NAMES if n != name]
        for line in lines:
            assert line["color"] == VIEWS[line["view"]][1]
            first, second = line["points"]
            assert first == pytest.approx(crosshair["center"], abs=1e-9)
            assert math.dist(first, second) > 10  # a direction to extend the line along
            other = mpr.views[line["view"]].depth
            for point in (first, second):
                on_plane = plane.patient_point(*point)
                assert float((on_plane - centre) @ other) == pytest.approx(0, abs=1e-9)


def test_crosshair_lines_pass_through_the_centre_in_the_other_views_colours(
        mpr: MprViews) -> None:
    assert_crosshairs(mpr)
    axial = {line["view"]: line["points"] for line in view(mpr, "axial")["crosshair"]["lines"]}
    assert [p[0] for p in axial["sagittal"]] == pytest.approx([27, 27])  # a column
    assert [p[1] for p in axial["coronal"]] == pytest.approx([23, 23])  # a row
    mpr.update({"type": "center", "view": "coronal", "point": [12, 30]})
    assert_crosshairs(mpr)
    mpr.update({"type": "rotate", "view": "axial", "from": axial_point(mpr, 0),
                "to": axial_point(mpr, math.radians(30))})
    assert_crosshairs(mpr)
    mpr.update({"type": "rotate", "view": "coronal", "from": [20, 5], "to": [25, 9]})
    assert_crosshairs(mpr)
    assert_orthonormal(mpr)
