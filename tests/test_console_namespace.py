"""ohifpy.console's pure parts on in-memory stacks of known geometry (tests/test_volume.py's
synthetic spheres, axial and oblique): SpatialArray's geometry through numpy operations, the
Viewer over a ViewerSource, show's derived images, overlay's masks, measurements as a cell
reads them. No server, no PIL: this module runs under Pyodide too. The same names against
Orthanc through ``open_study`` are tests/test_console_api.py's."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_volume import PIXEL_SPACING, SLICE_SPACING, STACKS, WINDOW, Stack, slice_order

from ohifpy.console import (
    HELP,
    Console,
    ConsoleError,
    DerivedImage,
    Grid,
    Overlay,
    SpatialArray,
    Viewer,
)
from ohifpy.console.derived import as_colour, as_window
from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba
from ohifpy.measure import ImageGeometry, ImageReference, Measurement, measure
from ohifpy.model import DisplaySet
from ohifpy.viewer.segmentations import MaskLayer, blend
from ohifpy.volume import Volume


class MemorySource:
    """A ViewerSource over one synthetic stack (and a single-image display set of it)."""

    def __init__(self, stack: Stack, measurements: Sequence[Measurement] = ()) -> None:
        self.stack = stack
        self.stack_set = stack.display_set()
        self.single = stack.display_set([3])
        self.hu = stack.hu()
        self.current: tuple[DisplaySet, int] = (self.stack_set, 5)
        self.chosen: VOIWindow | None = None
        self.reported = list(measurements)
        self.volumes = 0

    def display_sets(self) -> list[DisplaySet]:
        return [self.stack_set]

    def active(self) -> tuple[DisplaySet, int]:
        return self.current

    def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        return self.stack.frame(slice_order(display_set)[index], self.hu)

    def volume(self, display_set: DisplaySet) -> Volume:
        self.volumes += 1
        return self.stack.volume()

    def window(self) -> VOIWindow | None:
        return self.chosen

    def measurements(self) -> list[Measurement]:
        return self.reported

    def activate(self, display_set: DisplaySet, index: int, window: VOIWindow | None) -> None:
        self.current = (display_set, index)
        self.chosen = window or self.chosen


@pytest.fixture(params=["axial", "oblique"])
def source(request: pytest.FixtureRequest) -> MemorySource:
    return MemorySource(STACKS[request.param])


def run_cell(cell: str, namespace: dict) -> dict:
    """Run a console cell as the console runs it: its code in the namespace's globals."""
    exec(compile(cell, "<cell>", "exec"), namespace)  # noqa: S102 - a cell is code to run
    return namespace


def levels(values: np.ndarray, window: VOIWindow) -> np.ndarray:
    """What the display shows of modality values through a window: 8-bit gray levels."""
    return np.rint(window.apply(values) * 255.0).astype(np.uint8)


# ---------------------------------------------------------------- viewer.image, viewer.volume


def test_the_image_is_the_frames_modality_values_placed_by_its_plane(
        source: MemorySource) -> None:
    viewer = Viewer(source)
    image = viewer.image
    slice_ = slice_order(source.stack_set)[5]
    assert isinstance(image, SpatialArray) and image.dtype == np.int16
    assert np.array_equal(image, source.hu[slice_])  # HU, not stored values
    assert image.spacing == PIXEL_SPACING
    np.testing.assert_allclose(image.origin, source.stack.position(slice_), atol=1e-6)
    np.testing.assert_allclose(image.orientation, source.stack.orientation)
    assert image.dataset is source.stack_set.images[5].instance.metadata
    assert not image.flags.writeable  # a view of the frame the viewer holds
    with pytest.raises(ValueError, match="read-only"):
        image[0, 0] = 1
    copy = image.copy()
    copy[0, 0] = 1  # a copy is the cell's own
    # Pixel (row 7, column 11) is 11 column spacings along the row cosine, 7 row spacings
    # down the column cosine from the origin.
    np.testing.assert_allclose(image.to_patient([7, 11]),
                               source.stack.patient(11, 7, slice_), atol=1e-6)


def test_the_volume_is_the_stack_in_position_order_with_the_geometry_affine(
        source: MemorySource) -> None:
    viewer = Viewer(source)
    volume = viewer.volume
    stack = source.stack
    assert volume.shape == stack.shape and not volume.flags.writeable
    assert np.array_equal(volume, source.hu)
    np.testing.assert_allclose(volume.affine, stack.affine, atol=1e-9)
    assert volume.spacing == pytest.approx((SLICE_SPACING, *PIXEL_SPACING))
    # The affine takes (column, row, slice, 1); to_patient takes [slice, row, column].
    for k, j, i in [(0, 0, 0), (39, 47, 55), (18, 20, 30), (7, 0, 13)]:
        np.testing.assert_allclose(volume.affine @ [i, j, k, 1], [*stack.patient(i, j, k), 1],
                                   atol=1e-6)
        np.testing.assert_allclose(volume.to_patient([k, j, i]), stack.patient(i, j, k),
                                   atol=1e-6)
    # The current image is slice volume_index of it, with the same plane.
    current = volume[viewer.volume_index]
    assert np.array_equal(current, viewer.image)
    np.testing.assert_allclose(current.origin, viewer.image.origin, atol=1e-6)
    np.testing.assert_allclose(current.orientation, viewer.image.orientation, atol=1e-12)


def test_a_display_set_that_is_no_volume_says_why_before_loading(
        source: MemorySource) -> None:
    source.current = (source.single, 0)
    with pytest.raises(ConsoleError, match=r"^'Synthetic spheres' is not a volume: a single "
                                           r"image$"):
        _ = Viewer(source).volume
    assert source.volumes == 0


def test_select_by_description_index_and_window(source: MemorySource) -> None:
    viewer = Viewer(source)
    assert viewer.select(index=-1) is viewer and viewer.index == 39
    viewer.select(series="Synthetic spheres")  # the same display set: the index stays
    assert viewer.index == 39
    viewer.select(series=source.stack_set.series_instance_uid, index=0, window=(40, 400))
    assert (viewer.index, viewer.window) == (0, VOIWindow(40, 400))
    assert np.array_equal(viewer.render()[..., 0], levels(viewer.image, VOIWindow(40, 400)))
    with pytest.raises(ConsoleError, match="no image series 'CT 2' here.*'Synthetic spheres'"):
        viewer.select(series="CT 2")
    with pytest.raises(ConsoleError, match=r"index must be an integer in -40\.\.39"):
        viewer.select(index=40)


# ---------------------------------------------------------------- what keeps the geometry


def test_reductions_keep_the_other_axes_and_element_wise_results_keep_all(
        source: MemorySource) -> None:
    volume = Viewer(source).volume
    stack = source.stack
    mip = volume.max(axis=0)
    assert isinstance(mip, SpatialArray) and mip.spacing == PIXEL_SPACING
    np.testing.assert_allclose(mip.origin, stack.position(0), atol=1e-6)
    np.testing.assert_allclose(mip.orientation, stack.orientation, atol=1e-12)
    coronal = volume.mean(axis=1)  # rows reduced: columns along the row cosine, slices down
    assert coronal.spacing == pytest.approx((SLICE_SPACING, PIXEL_SPACING[1]))
    np.testing.assert_allclose(coronal.orientation, [*stack.row_cosine, *stack.normal],
                               atol=1e-9)
    assert np.std(volume, axis=2).spacing == pytest.approx((SLICE_SPACING, PIXEL_SPACING[0]))
    assert np.median(volume, axis=0).spacing == PIXEL_SPACING
    bright = volume > 500
    assert bright.dtype == bool and bright.spacing == volume.spacing
    assert (volume * 2 + 1).spacing == volume.spacing
    assert np.clip(volume, 0, 100).spacing == volume.spacing
    # Over every spatial axis: a number; a mask of the array's own selects (where=).
    assert type(volume.max()) is np.int16 and type(volume[3:5].mean()) is np.float64
    assert volume.mean(where=bright) == pytest.approx(source.hu[source.hu > 500].mean())
    assert np.std(volume, where=~bright) == pytest.approx(source.hu[source.hu <= 500].std())
    assert np.array_equal(volume.sum(axis=0, where=bright),
                          np.where(source.hu > 500, source.hu, 0).sum(axis=0))


@pytest.mark.parametrize("operation", [
    lambda v: v[v > 0],
    lambda v: v[[0, 2]],
    lambda v: v[None],
    lambda v: v.reshape(-1),
    lambda v: v.ravel(),
    lambda v: np.stack([v, v]),
    lambda v: v[0] @ v[0].T,
    lambda v: v[0].dot(v[0].T),
    lambda v: v.argmax(axis=0),
    lambda v: np.where(v > 0, v, 0),
    lambda v: np.percentile(v, 90, axis=0),
])
def test_what_loses_the_geometry_is_a_plain_array(source: MemorySource, operation) -> None:
    result = operation(Viewer(source).volume)
    assert type(result) is np.ndarray


def test_transposes_and_flips_move_the_geometry_with_the_samples(source: MemorySource) -> None:
    image = Viewer(source).image
    for moved, back in [(image.T, lambda i: i[::-1]), (np.flip(image, 0), lambda i: (47 - i[0], i[1])),
                        (np.rot90(image), lambda i: (i[1], 55 - i[0])),
                        (np.swapaxes(image, 0, 1), lambda i: i[::-1])]:
        assert isinstance(moved, SpatialArray)
        for index in [(0, 0), (3, 9), (20, 40)]:
            assert moved[index] == image[back(index)]
            np.testing.assert_allclose(moved.to_patient(index), image.to_patient(back(index)),
                                       atol=1e-6)


def _basic_index(size: int) -> st.SearchStrategy:
    """An integer or a slice (any step, either sign) of an axis of ``size``."""
    bound = st.none() | st.integers(-size - 2, size + 2)
    return st.integers(-size, size - 1) | st.builds(
        slice, bound, bound, st.none() | st.integers(-4, 4).filter(bool))


OBLIQUE = SpatialArray(STACKS["oblique"].hu(), Grid.of_affine(STACKS["oblique"].affine))


@settings(max_examples=150, deadline=None)
@given(st.tuples(*(_basic_index(n) for n in (40, 48, 56))), st.data())
def test_any_basic_index_places_every_sample_where_it_was(key, data) -> None:
    volume = OBLIQUE
    sub = volume[key]
    indices = [np.arange(n)[part] for n, part in zip(volume.shape, key, strict=True)]
    kept = [np.atleast_1d(ix) for ix in indices]
    if not isinstance(sub, SpatialArray):
        assert np.ndim(sub) == 0  # every axis taken by an integer
        return
    assert sub.spacing is not None and sub.ndim == sum(isinstance(p, slice) for p in key)
    if 0 in sub.shape:
        return
    at = data.draw(st.tuples(*(st.integers(0, n - 1) for n in sub.shape)))
    full, position = [], iter(at)
    for part, ix in zip(key, kept, strict=True):
        full.append(int(ix[next(position)]) if isinstance(part, slice) else int(ix[0]))
    assert sub[at] == volume[tuple(full)]
    np.testing.assert_allclose(sub.to_patient(at), volume.to_patient(full), atol=1e-6)


def test_a_grid_without_a_plane_keeps_spacing_and_says_none_for_the_rest() -> None:
    array = SpatialArray(np.zeros((10, 12)), Grid.of_plane((0.5, 0.25), None, None))
    assert array[2:, ::2].spacing == (0.5, 0.5)
    assert (array.origin, array.orientation, array.affine) == (None, None, None)
    with pytest.raises(ValueError, match="no patient geometry"):
        array.to_patient([0, 0])


# ---------------------------------------------------------------- show


def test_show_a_mip_renders_numpys_mip_through_the_source_window(source: MemorySource) -> None:
    console = Console(Viewer(source))
    derived = run_cell("mip = viewer.volume.max(axis=0)\nshown = show(mip, name='MIP')",
                       console.namespace())["shown"]
    assert isinstance(derived, DerivedImage) and console.shown == [derived]
    assert derived.window == WINDOW  # the viewport's: the header's first window
    expected = levels(source.hu.max(axis=0), WINDOW)
    rgba = derived.render()
    assert np.array_equal(rgba[..., 0], expected) and (rgba[..., 3] == 255).all()
    assert (derived.name, derived.frames, derived.shape) == ("MIP", 1, (48, 56))
    assert derived.spacing == PIXEL_SPACING
    np.testing.assert_allclose(derived.origin, source.stack.position(0), atol=1e-6)
    np.testing.assert_allclose(derived.orientation, source.stack.orientation, atol=1e-12)
    assert derived.source_display_set_uid == source.stack_set.display_set_uid
    assert derived.frame_of_reference_uid == source.stack_set.frame_of_reference_uid
    # It measures as an image of that plane does.
    geometry = derived.image_geometry(0)
    assert (geometry.rows, geometry.columns, geometry.spacing) == (48, 56, PIXEL_SPACING)
    circle = measure("CircleROI", [[30, 20], [30, 26]], geometry, derived.frame(0).values)
    assert circle.value("max").value == 1000


def test_show_a_stack_places_each_frame(source: MemorySource) -> None:
    console = Console(Viewer(source))
    volume = console.viewer.volume
    derived = console.show(volume[::-2], window=(0, 2000))
    assert derived.frames == 20 and derived.window == VOIWindow(0, 2000)
    for frame, k in [(0, 39), (1, 37), (19, 1)]:
        np.testing.assert_allclose(derived.positions[frame], source.stack.position(k), atol=1e-6)
        assert np.array_equal(derived.pixels(frame), source.hu[k])
    assert np.array_equal(derived.render()[..., 0], levels(source.hu[19], VOIWindow(0, 2000)))


def test_show_places_plain_arrays_of_the_image_or_volume_shape(source: MemorySource) -> None:
    console = Console(Viewer(source))
    image = console.viewer.image
    same = console.show(np.asarray(image) + 0.5)  # a plain array of the image's shape
    np.testing.assert_allclose(same.origin, image.origin)
    assert same.spacing == PIXEL_SPACING and same.name == "Python 1"
    stacked = console.show(np.asarray(console.viewer.volume))
    assert stacked.frames == 40 and stacked.spacing == PIXEL_SPACING
    other = console.show(np.ones((7, 9)))
    assert (other.spacing, other.positions, other.orientation) == (None, None, None)
    assert other.frame_of_reference_uid == ""
    given = console.show(np.ones((7, 9)), spacing=(2, 3))
    assert given.spacing == (2.0, 3.0) and given.positions is None


def test_show_a_mask_shows_false_black_and_true_white(source: MemorySource) -> None:
    console = Console(Viewer(source))
    mask = console.viewer.image > 500
    derived = console.show(mask)
    assert derived.array.dtype == np.uint8
    assert np.array_equal(derived.render()[..., 0], np.where(mask, 255, 0))


def test_show_without_a_window_spans_the_values_and_nan_is_black() -> None:
    values = np.array([[np.nan, -1.0], [3.0, 1.0]])
    derived = DerivedImage.from_array("x", values, None, None)
    assert derived.window == VOIWindow(1.0, 4.0, "LINEAR_EXACT", "minimum to maximum")
    assert derived.render()[..., 0].tolist() == [[0, 0], [255, 128]]


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros(5), r"shape \(5,\)"),
    (np.zeros((2, 3, 4, 5)), r"shape \(2, 3, 4, 5\)"),
    (np.zeros((4, 4), dtype=complex), "complex128"),
    (np.array([["a"]]), "<U1"),
])
def test_show_refuses_what_is_no_image(source: MemorySource, array, message) -> None:
    with pytest.raises(ConsoleError, match=message):
        Console(Viewer(source)).show(array)


def test_show_refuses_a_spacing_that_is_no_spacing(source: MemorySource) -> None:
    with pytest.raises(ConsoleError, match="spacing must be 2 positive numbers"):
        Console(Viewer(source)).show(np.ones((3, 3)), spacing=(1, 0))


# ---------------------------------------------------------------- overlay


def test_overlay_a_mask_on_the_image_and_on_the_volume(source: MemorySource) -> None:
    console = Console(Viewer(source))
    made = run_cell("made = overlay(viewer.image > 500, colour='yellow', opacity=0.25)",
                    console.namespace())["made"]
    assert isinstance(made, Overlay) and console.overlays == [made]
    assert (made.colour, made.opacity, made.image_index, made.slots) == ((255, 255, 0), 0.25,
                                                                           5, None)
    assert made.mask_of(5) is made.mask and made.mask_of(4) is None
    rendered = console.viewer.render()
    expected = blend(rendered.copy(), [MaskLayer(made.mask, (255, 255, 0), 0.25, "both")])
    assert np.array_equal(made.blend(rendered, 5), expected)

    volume = console.viewer.volume
    whole = console.overlay(volume > 500, colour=(0, 128, 255), mode="fill")
    order = slice_order(source.stack_set)
    for index in (0, 5, 39):  # each image gets the mask slice of its position
        assert np.array_equal(whole.mask_of(index), source.hu[order[index]] > 500)


def test_overlay_says_which_shapes_it_takes(source: MemorySource) -> None:
    console = Console(Viewer(source))
    with pytest.raises(ConsoleError, match=r"mask's shape \(48, 55\) is neither the image's "
                                           r"\(48, 56\) nor the volume's \(40, 48, 56\)"):
        console.overlay(np.zeros((48, 55), dtype=bool))
    with pytest.raises(ConsoleError, match="boolean mask"):
        console.overlay(np.zeros((48, 56)))
    source.current = (source.single, 0)
    with pytest.raises(ConsoleError, match=r"not the image's \(48, 56\) \(and 'Synthetic "
                                           r"spheres' is not a volume: a single image\)"):
        console.overlay(np.zeros((1, 48, 56), dtype=bool))
    assert console.overlays == []


@pytest.mark.parametrize(("colour", "rgb"), [("Red", (255, 0, 0)), ("#10ff0a", (16, 255, 10)),
                                             ((1, 2, 3), (1, 2, 3)),
                                             (np.array([4, 5, 6]), (4, 5, 6))])
def test_colours(colour, rgb) -> None:
    assert as_colour(colour) == rgb


@pytest.mark.parametrize("colour", ["reddish", "#12345", (256, 0, 0), (0.5, 0, 0), (1, 2)])
def test_colours_that_are_none(colour) -> None:
    with pytest.raises(ConsoleError, match="colour must be one of red"):
        as_colour(colour)


def test_windows() -> None:
    assert as_window((40, 400)) == VOIWindow(40, 400) and as_window(WINDOW) is WINDOW
    with pytest.raises(ConsoleError, match="width >= 1"):
        as_window((40, 0))


# ---------------------------------------------------------------- measurements and help


def test_measurements_as_a_cell_reads_them(source: MemorySource) -> None:
    image_ref = source.stack_set.images[5]
    geometry = ImageGeometry.from_image(image_ref)
    slice_ = slice_order(source.stack_set)[5]
    result = measure("CircleROI", [[30, 20], [30, 25.5]], geometry, source.hu[slice_], "HU")
    instance = image_ref.instance
    reference = ImageReference(instance.study_instance_uid, instance.series_instance_uid,
                               instance.sop_instance_uid)
    elsewhere = ImageReference(instance.study_instance_uid, "1.2.3", "1.2.3.4")
    source.reported = [Measurement("1.9", "sphere", reference, result),
                       Measurement("2.9", "", elsewhere, measure("Length", [[0, 0], [3, 4]],
                                                                 geometry))]
    circle, line = Viewer(source).measurements
    assert (circle.tool, circle.label, circle.display_set_uid, circle.image_index) == (
        "CircleROI", "sphere", source.stack_set.display_set_uid, 5)
    np.testing.assert_allclose(circle.points, [[30, 20], [30, 25.5]])
    assert circle["mean"] == result.value("mean").value and circle.units["mean"] == "HU"
    # The cell's own mean over the circle's pixels is the tool's.
    rows, columns = np.ogrid[:48, :56]
    inside = (columns - 30) ** 2 + (rows - 20) ** 2 <= 5.5 ** 2
    assert Viewer(source).image[inside].mean() == pytest.approx(circle["mean"], abs=1e-9)
    np.testing.assert_allclose(circle.patient_points[0], source.stack.patient(30, 20, slice_),
                               atol=1e-6)
    assert repr(circle).startswith("<CircleROI 'sphere': area=")
    assert (line.display_set_uid, line.image_index, line.patient_points) == (None, None, None)
    assert line.values == {"length": pytest.approx(math.hypot(3 * PIXEL_SPACING[1],
                                                              4 * PIXEL_SPACING[0]))}
    with pytest.raises(KeyError, match="Length has no 'mean'; it has length"):
        line["mean"]


def test_the_help_names_every_name_of_the_namespace(source: MemorySource) -> None:
    names = Console(Viewer(source)).namespace()
    assert set(names) == {"viewer", "show", "overlay", "np", "numpy", "pydicom"}
    for name in names:
        assert name in HELP
    assert "viewer.volume" in HELP and ".affine" in HELP


def test_a_colour_image_is_rgb_and_shows_as_rgb() -> None:
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    array = SpatialArray(rgb, Grid.of_plane((1.0, 1.0), (0, 0, 0), (1, 0, 0, 0, 1, 0)))
    assert array[1:3].spacing == (1.0, 1.0) and array[..., 0].spacing == (1.0, 1.0)
    assert array.mean(axis=2).spacing == (1.0, 1.0)  # over the channels: still the image
    derived = DerivedImage.from_array("rgb", array, array.grid, None, photometric="RGB")
    assert derived.window is None and derived.frames == 1 and derived.shape == (4, 5)
    assert np.array_equal(derived.render()[..., :3], rgb)
    assert np.array_equal(render_rgba(derived.frame()), derived.render())
