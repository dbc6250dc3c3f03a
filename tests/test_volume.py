"""ohifpy.volume: a reconstructable stack's geometry (shape, affine, each image's slice) and
the one array of voxels (stored values and their rescale) the stack view and MPR share,
on synthetic stacks of known geometry (axial, sagittal and oblique acquisitions,
anisotropic voxels, a non-trivial origin) holding two spheres at known patient positions.

Pure numpy and pydicom: this module runs under Pyodide too. ``tests/test_reformat.py`` and
``tests/test_mpr_views.py`` build on its stacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
from pydicom import Dataset

from ohifpy.imaging import ImageFrame, ModalityTransform, VOIWindow, render_rgba
from ohifpy.model import DisplaySet, ImageRef, Instance, display_sets_from_instances
from ohifpy.viewer.frames import Frames
from ohifpy.volume import Volume, VolumeError, VolumeGeometry

STUDY = "1.2.826.0.1.3680043.8.498.13"
SERIES = f"{STUDY}.1"
FRAME_OF_REFERENCE = f"{STUDY}.9"
SHAPE = (40, 48, 56)
"""(slices, rows, columns) of every synthetic stack."""
PIXEL_SPACING = (0.8, 0.7)
"""PixelSpacing: (row spacing, column spacing) mm."""
SLICE_SPACING = 2.0
ORIGIN = (-20.5, 13.25, -7.0)
"""ImagePositionPatient of the lowest slice (along the normal)."""
ORIENTATIONS = {
    "axial": (1, 0, 0, 0, 1, 0),
    "sagittal": (0, 1, 0, 0, 0, -1),  # columns anterior->posterior, rows head->feet
    # an exactly orthonormal rotation with short decimals (normal 0.64, -0.48, 0.6)
    "oblique": (0.6, 0.8, 0, -0.48, 0.36, 0.8),
}
INTERCEPT = -1024
AIR_HU = -1000
SPHERE = ((30, 20, 18), 6.0, 1000)
"""The bright sphere: its centre's voxel (column, row, slice), radius (mm) and HU."""
SECOND = ((12, 34, 26), 4.0, 500)
"""A smaller, dimmer sphere elsewhere (an oblique plane goes through both centres)."""
WINDOW = VOIWindow(40, 400)


@dataclass(frozen=True)
class Stack:
    """A synthetic acquisition: slice ``k`` has its pixel (0, 0) at ``origin + k x spacing x
    normal``; the phantom (air, two spheres) is sampled exactly at each voxel centre."""

    orientation: tuple[float, ...]
    shape: tuple[int, int, int] = SHAPE
    origin: tuple[float, float, float] = ORIGIN

    @property
    def row_cosine(self) -> np.ndarray:
        return np.array(self.orientation[:3], dtype=float)

    @property
    def column_cosine(self) -> np.ndarray:
        return np.array(self.orientation[3:], dtype=float)

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosine, self.column_cosine)

    @property
    def affine(self) -> np.ndarray:
        """What the geometry must be: (column, row, slice, 1) -> patient mm."""
        affine = np.eye(4)
        affine[:3, 0] = self.row_cosine * PIXEL_SPACING[1]
        affine[:3, 1] = self.column_cosine * PIXEL_SPACING[0]
        affine[:3, 2] = self.normal * SLICE_SPACING
        affine[:3, 3] = self.origin
        return affine

    def patient(self, column: float, row: float, slice_: float) -> np.ndarray:
        """The patient point of a voxel (index) position, from the stack's own definition."""
        return (np.asarray(self.origin) + slice_ * SLICE_SPACING * self.normal
                + column * PIXEL_SPACING[1] * self.row_cosine
                + row * PIXEL_SPACING[0] * self.column_cosine)

    def position(self, slice_: int) -> np.ndarray:
        return self.patient(0, 0, slice_)

    @property
    def sphere_centre(self) -> np.ndarray:
        return self.patient(*SPHERE[0])

    @property
    def second_centre(self) -> np.ndarray:
        return self.patient(*SECOND[0])

    def points(self) -> np.ndarray:
        """Every voxel centre's patient point, ``(slices, rows, columns, 3)``."""
        s, r, c = np.meshgrid(*(np.arange(n) for n in self.shape), indexing="ij")
        return (np.asarray(self.origin) + s[..., None] * SLICE_SPACING * self.normal
                + c[..., None] * PIXEL_SPACING[1] * self.row_cosine
                + r[..., None] * PIXEL_SPACING[0] * self.column_cosine)

    def hu(self) -> np.ndarray:
        """The phantom's HU at every voxel, ``[slice, row, column]`` int16."""
        return phantom_hu(self.points(), self.sphere_centre, self.second_centre)

    def datasets(self, slices: list[int] | None = None) -> list[Dataset]:
        """Metadata of the slices (all by default), numbered from the highest position
        down as a head-first CT is, so the display order runs against the position."""
        count = self.shape[0]
        return [image_dataset(self, k, count - k) for k in (range(count) if slices is None
                                                             else slices)]

    def images(self, slices: list[int] | None = None) -> list[ImageRef]:
        return [ref for ds in self.datasets(slices) for ref in Instance.from_dataset(ds).frames()]

    def display_set(self, slices: list[int] | None = None) -> DisplaySet:
        instances = [Instance.from_dataset(ds) for ds in self.datasets(slices)]
        (display_set,) = display_sets_from_instances(instances)
        return display_set

    def geometry(self) -> VolumeGeometry:
        return VolumeGeometry.from_display_set(self.display_set())

    def frame(self, slice_: int, hu: np.ndarray | None = None) -> ImageFrame:
        """The decoded frame of a slice, as the pixel pipeline makes it for this CT."""
        values = (self.hu() if hu is None else hu)[slice_]
        return ct_frame((values - INTERCEPT).astype(np.int16))

    def volume(self) -> Volume:
        """A Volume filled with every slice, put in display order."""
        display_set = self.display_set()
        geometry = VolumeGeometry.from_display_set(display_set)
        hu = self.hu()
        order = slice_order(display_set)
        volume = Volume(geometry, self.frame(order[0], hu))
        for k, slot in zip(order, geometry.slots, strict=True):
            volume.put(slot, self.frame(k, hu))
        return volume


def phantom_hu(points: np.ndarray, centre: np.ndarray, second: np.ndarray) -> np.ndarray:
    hu = np.full(points.shape[:-1], AIR_HU, dtype=np.int16)
    hu[np.linalg.norm(points - second, axis=-1) <= SECOND[1]] = SECOND[2]
    hu[np.linalg.norm(points - centre, axis=-1) <= SPHERE[1]] = SPHERE[2]
    return hu


def image_dataset(stack: Stack, slice_: int, number: int) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
    ds.SOPInstanceUID = f"{SERIES}.{slice_ + 1}"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    ds.SeriesDescription = "Synthetic spheres"
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.InstanceNumber = number
    ds.Rows, ds.Columns = stack.shape[1:]
    ds.SamplesPerPixel, ds.BitsAllocated = 1, 16
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.ImageOrientationPatient = list(stack.orientation)
    ds.ImagePositionPatient = [round(float(v), 6) for v in stack.position(slice_)]
    ds.PixelSpacing = list(PIXEL_SPACING)
    ds.RescaleIntercept, ds.RescaleSlope = INTERCEPT, 1
    return ds


def ct_frame(stored: np.ndarray, photometric: str = "MONOCHROME2",
             windows: tuple[VOIWindow, ...] = (WINDOW,)) -> ImageFrame:
    return ImageFrame(stored, photometric, ModalityTransform(intercept=INTERCEPT), windows=windows)


def slice_order(display_set: DisplaySet) -> list[int]:
    """The synthetic slice index of each image of a display set, in display order."""
    return [int(ref.instance.sop_instance_uid.rsplit(".", 1)[1]) - 1 for ref in display_set.images]


STACKS = {name: Stack(orientation) for name, orientation in ORIENTATIONS.items()}


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize("name", ORIENTATIONS)
def test_the_geometry_of_a_stack_in_display_order_against_its_position(name: str) -> None:
    stack = STACKS[name]
    display_set = stack.display_set()
    # Numbered from the highest position down: the stack shows the highest slice first.
    assert slice_order(display_set) == list(range(39, -1, -1))
    assert display_set.is_reconstructable
    geometry = VolumeGeometry.from_display_set(display_set)
    assert geometry.shape == SHAPE
    assert geometry.slots == tuple(range(39, -1, -1))  # image i is slice 39 - i
    np.testing.assert_allclose(geometry.affine, stack.affine, atol=1e-9)
    np.testing.assert_allclose(geometry.spacing, [0.7, 0.8, 2.0], atol=1e-9)
    # The affine takes a voxel index to its patient point; image i's pixel (0, 0) is its IPP.
    for column, row, slice_ in [(0, 0, 0), (55, 0, 0), (0, 47, 0), (0, 0, 39), (30, 20, 18),
                                (55, 47, 39)]:
        np.testing.assert_allclose(geometry.affine @ [column, row, slice_, 1],
                                   [*stack.patient(column, row, slice_), 1], atol=1e-9)
    for i, ref in enumerate(display_set.images):
        np.testing.assert_allclose(geometry.affine @ [0, 0, geometry.slots[i], 1],
                                   [*ref.image_position, 1], atol=1e-9)
    corners = geometry.voxel_centres()
    assert corners.shape == (8, 3)
    np.testing.assert_allclose(corners[0], stack.patient(0, 0, 0), atol=1e-9)
    np.testing.assert_allclose(corners[-1], stack.patient(55, 47, 39), atol=1e-9)
    np.testing.assert_allclose(geometry.centre, stack.patient(27.5, 23.5, 19.5), atol=1e-9)


def test_the_order_images_come_in_does_not_change_the_geometry() -> None:
    stack = STACKS["axial"]
    ascending = VolumeGeometry.from_images(stack.images(list(range(40))), PIXEL_SPACING)
    shuffled_slices = [(k * 7) % 40 for k in range(40)]  # 7 is prime to 40: a permutation
    shuffled = VolumeGeometry.from_images(stack.images(shuffled_slices), PIXEL_SPACING)
    assert ascending.slots == tuple(range(40))
    assert shuffled.slots == tuple(shuffled_slices)
    np.testing.assert_allclose(shuffled.affine, ascending.affine, atol=1e-12)
    np.testing.assert_allclose(ascending.affine, stack.affine, atol=1e-9)


def test_a_missing_slice_keeps_its_place_as_a_gap() -> None:
    stack = STACKS["sagittal"]
    present = [k for k in range(40) if k != 17]
    display_set = stack.display_set(present)
    assert display_set.reconstruction.missing_slices == 1
    assert display_set.reconstruction.note == "1 missing slice"
    geometry = VolumeGeometry.from_display_set(display_set)
    assert geometry.shape == SHAPE  # the gap is a slice, not a stretched spacing
    assert geometry.slots == tuple(present[::-1])
    np.testing.assert_allclose(geometry.affine, stack.affine, atol=1e-9)
    # A spacing taken from the median gap alone finds the same.
    alone = VolumeGeometry.from_images(stack.images(present), PIXEL_SPACING)
    assert alone.slots == tuple(present) and np.allclose(alone.affine, geometry.affine)

    hu = stack.hu()
    volume = Volume(geometry, stack.frame(present[-1], hu))
    assert volume.missing == 1
    for k, slot in zip(slice_order(display_set), geometry.slots, strict=True):
        assert not volume.complete
        volume.put(slot, stack.frame(k, hu))
    assert volume.complete
    assert volume.loaded.tolist() == [k != 17 for k in range(40)]
    assert volume.frame(17) is None
    assert (volume.whole()[17] == volume.background).all()
    assert volume.background == AIR_HU - INTERCEPT  # the first frame's lowest stored value
    expected = hu.copy()
    expected[17] = AIR_HU
    assert np.array_equal(volume.values(), expected)


@pytest.mark.parametrize(("positions", "reason"), [
    ([0.0], "a single image"),
    ([4.0, 4.0, 4.0], "images at the same position"),
    ([0.0, 0.4, 2.0, 4.0, 6.0], "irregular slice spacing"),  # 0 and 0.4 share a slot
])
def test_images_that_make_no_volume_say_why(positions: list[float], reason: str) -> None:
    stack = STACKS["axial"]
    datasets = []
    for n, z in enumerate(positions):
        ds = image_dataset(stack, n, n + 1)
        ds.ImagePositionPatient = [0, 0, z]
        datasets.append(ds)
    images = [ref for ds in datasets for ref in Instance.from_dataset(ds).frames()]
    with pytest.raises(VolumeError, match=f"^{reason}$"):
        VolumeGeometry.from_images(images, PIXEL_SPACING)


def test_images_without_position_or_spacing_make_no_volume() -> None:
    stack = STACKS["axial"]
    datasets = stack.datasets([0, 1, 2])
    del datasets[1].ImagePositionPatient
    images = [ref for ds in datasets for ref in Instance.from_dataset(ds).frames()]
    with pytest.raises(VolumeError, match="without ImagePositionPatient or ImageOrientation"):
        VolumeGeometry.from_images(images, PIXEL_SPACING)
    datasets = stack.datasets([0, 1, 2])
    for ds in datasets:
        del ds.PixelSpacing
    (display_set,) = display_sets_from_instances(Instance.from_dataset(ds) for ds in datasets)
    with pytest.raises(VolumeError, match="^images without PixelSpacing$"):
        VolumeGeometry.from_display_set(display_set)


# ---------------------------------------------------------------- the voxels


@pytest.mark.parametrize("name", ORIENTATIONS)
def test_frames_put_in_display_order_make_the_phantom(name: str) -> None:
    """Whatever order the stack shows them in, each frame lands in its slice: the voxels
    are the phantom at the affine's voxel centres (the spheres where they are in mm)."""
    stack = STACKS[name]
    volume = stack.volume()
    assert volume.stored.dtype == np.int16 and volume.stored.shape == SHAPE
    assert volume.complete and volume.missing == 0 and volume.version == 40
    voxels = volume.values()
    assert np.array_equal(voxels, stack.hu())
    (column, row, slice_), _, hu = SPHERE
    assert voxels[slice_, row, column] == hu
    # The sphere's centre in mm maps back through the affine to that voxel.
    index = np.linalg.inv(volume.geometry.affine) @ [*stack.sphere_centre, 1]
    np.testing.assert_allclose(index[:3], [column, row, slice_], atol=1e-9)
    # 6 mm is 3 slices of 2 mm: the sphere ends between the 3rd and 5th slice away.
    assert voxels[slice_ + 3, row, column] == hu
    assert voxels[slice_ + 4, row, column] == AIR_HU


@pytest.mark.parametrize(("photometric", "windows"), [
    ("MONOCHROME2", (WINDOW, VOIWindow(-600, 1500))),
    ("MONOCHROME1", ()),  # no window in the header: the default spans the values
])
def test_a_put_frame_is_a_view_of_the_voxels_and_renders_as_the_frame(
        photometric: str, windows: tuple[VOIWindow, ...]) -> None:
    stack = STACKS["axial"]
    hu = stack.hu()
    geometry = stack.geometry()
    frames = [ct_frame((hu[k] - INTERCEPT).astype(np.int16), photometric, windows)
              for k in range(40)]
    volume = Volume(geometry, frames[18])
    assert volume.background == AIR_HU - INTERCEPT  # stored: the volume holds those
    assert volume.stored.dtype == np.int16 and (volume.values() == AIR_HU).all()
    assert not volume.loaded.any() and volume.template() is None and volume.version == 0
    assert volume.nbytes == 40 * 48 * 56 * 2
    for n, slot in enumerate((18, 3, 30)):
        view = volume.put(slot, frames[slot])
        assert volume.version == n + 1
        assert volume.frame(slot) is view
        assert np.shares_memory(view.stored, volume.stored)
        assert np.shares_memory(view.stored, volume.stored[slot])
        assert np.array_equal(view.values, frames[slot].values)
        assert view.modality is volume.modality and view.modality.intercept == INTERCEPT
        assert (view.photometric_interpretation, view.windows) == (photometric, windows)
        for window in (None, WINDOW, VOIWindow(-600, 1500), VOIWindow(1000.5, 3.0)):
            for invert in (False, True):
                assert np.array_equal(render_rgba(view, window, invert=invert),
                                      render_rgba(frames[slot], window, invert=invert))
        assert view.default_window() == frames[slot].default_window()
    assert volume.loaded.tolist() == [k in (3, 18, 30) for k in range(40)]
    assert volume.template() is volume.frame(18)  # the loaded slice nearest the middle
    assert volume.frame(19) is None
    # Writing through the volume is what the view shows: one copy.
    volume.stored[30, 0, 0] = 123
    assert volume.frame(30).stored[0, 0] == 123


def test_a_frame_that_needs_a_wider_dtype_widens_the_volume() -> None:
    stack = STACKS["axial"]
    geometry = stack.geometry()
    hu = stack.hu()
    volume = Volume(geometry, stack.frame(0, hu))
    first = volume.put(0, stack.frame(0, hu))
    # A narrower frame fits as it is.
    narrow = volume.put(1, ImageFrame(np.full((48, 56), 7, np.uint8), "MONOCHROME2"))
    # (another rescale: the volume holds modality values from now on)
    assert volume.stored.dtype == np.int16 and narrow.stored.dtype == np.int16
    assert volume.modality.is_identity and volume.background == AIR_HU
    # Unsigned 16-bit values above int16's range: int32, the earlier slices kept.
    wide = np.full((48, 56), 60000, np.uint16)
    view = volume.put(2, ImageFrame(wide, "MONOCHROME2"))
    assert volume.stored.dtype == np.int32 and volume.nbytes == 40 * 48 * 56 * 4
    assert (view.values == 60000).all()
    assert np.array_equal(volume.stored[0], hu[0]) and (volume.stored[1] == 7).all()
    assert (volume.whole()[3:] == AIR_HU).all()
    # Every frame put before is a view of the new voxels, and renders as before.
    for slot in range(3):
        assert np.shares_memory(volume.frame(slot).stored, volume.stored)
    assert np.array_equal(render_rgba(volume.frame(0), WINDOW), render_rgba(first, WINDOW))
    assert np.array_equal(volume.frame(0).values, hu[0])
    assert volume.frame(0).stored.dtype == np.int32

    # A non-integral rescale into an int16 volume: float32 (int16 fits in it).
    volume = Volume(geometry, stack.frame(0, hu))
    first = volume.put(0, stack.frame(0, hu))
    halves = ImageFrame(np.full((48, 56), 3, np.int16), "MONOCHROME2",
                        ModalityTransform(slope=0.5, intercept=0.25))
    view = volume.put(1, halves)
    assert volume.stored.dtype == np.float32 and view.stored.dtype == np.float32
    assert (volume.stored[1] == 1.75).all() and np.array_equal(volume.stored[0], hu[0])
    assert np.shares_memory(volume.frame(0).stored, volume.stored)
    assert np.array_equal(render_rgba(volume.frame(0), WINDOW), render_rgba(first, WINDOW))


def test_a_frame_of_another_kind_or_size_is_refused() -> None:
    stack = STACKS["axial"]
    volume = Volume(stack.geometry(), stack.frame(0))
    with pytest.raises(VolumeError, match="another kind or size"):
        volume.put(0, ct_frame(np.zeros((48, 55), np.int16)))
    with pytest.raises(VolumeError, match="another kind or size"):
        volume.put(0, ImageFrame(np.zeros((48, 56, 3), np.uint8), "RGB"))
    assert not volume.loaded.any() and volume.version == 0


# ---------------------------------------------------------------- Frames.track


def test_frames_track_a_reconstructable_display_set_and_say_why_not_otherwise() -> None:
    source = SimpleNamespace(name="synthetic")  # track reads the source's name alone
    frames = Frames(64 << 20, lambda event, data: None)
    stack = STACKS["oblique"]
    display_set = stack.display_set()
    assert frames.track(display_set, source) is None
    geometry = frames.geometry(display_set.display_set_uid)
    assert geometry is not None and geometry.slots == tuple(range(39, -1, -1))
    np.testing.assert_allclose(geometry.affine, stack.affine, atol=1e-9)
    assert frames.track(display_set, source) is None  # once is enough
    assert frames.geometry(display_set.display_set_uid) is geometry
    assert frames.volume(display_set.display_set_uid) is None  # no frame loaded yet
    assert len(frames.cache) == 0

    frames.forget([display_set.display_set_uid])
    assert frames.geometry(display_set.display_set_uid) is None
    single = STACKS["axial"].display_set([5])  # the same display set UID, one image
    assert frames.track(single, source) == "a single image"
    assert frames.geometry(single.display_set_uid) is None


def test_frames_do_not_track_a_volume_larger_than_half_the_cache() -> None:
    """200 slices of 512x512 16-bit: 100 MB, told in the reason (metadata is enough)."""
    datasets = []
    for k in range(200):
        ds = image_dataset(STACKS["axial"], k, k + 1)
        ds.Rows = ds.Columns = 512
        datasets.append(ds)
    (display_set,) = display_sets_from_instances(Instance.from_dataset(ds) for ds in datasets)
    source = SimpleNamespace(name="synthetic")
    small = Frames(128 << 20, lambda event, data: None)
    assert small.track(display_set, source) == (
        "its volume (100 MB) needs a cache of at least 200 MB (cacheSizeMB is 128)")
    assert small.geometry(display_set.display_set_uid) is None
    assert Frames(256 << 20, lambda event, data: None).track(display_set, source) is None
