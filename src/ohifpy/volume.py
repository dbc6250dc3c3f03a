"""A reconstructable display set as one array of voxels, with its patient geometry.

MPR needs the series as a volume; the stack view needs it as frames. Holding both would
double what a series costs, so the volume is the one copy: each frame of a reconstructable
display set is written into its slice as it loads, and the frame the stack view renders is
a view of that slice (:meth:`Volume.put`). The planes therefore fill in while the series
loads, and a series already loaded for the stack opens in MPR without another byte.

The voxels are the frames' stored values at their stored size, with the one increasing
linear rescale they share (:attr:`Volume.modality`): 2 bytes a voxel for CT and for MR
or PET with a fractional slope alike, where modality values would take float32's 4. A
linear rescale commutes with interpolation, slabs and maxima, so a plane is reformatted
from the stored values and rescaled after. Frames whose rescales differ (PET's per-slice
slopes) or that map through a Modality LUT make the volume hold modality values instead.

Voxels are indexed ``[slice, row, column]``; the affine maps ``(column, row, slice, 1)`` to
patient coordinates (LPS, mm), as an image's plane does for its pixels. Slices are in
ascending position along the first image's normal, whatever order the stack shows them
in; a whole-multiple gap leaves slices that are never loaded, drawn as the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from .errors import OhifpyError
from .imaging import ImageFrame, ModalityTransform
from .imaging.reformat import Plane, Slab, reformat
from .model import DisplaySet, ImageRef

__all__ = ["Volume", "VolumeError", "VolumeGeometry", "VolumeSlice"]


class VolumeError(OhifpyError, ValueError):
    """A display set that cannot be held as a volume (told to the user as the reason)."""


@dataclass(frozen=True, eq=False)
class VolumeGeometry:
    """Where a volume's voxels are: its shape, affine and the slice of each image.

    ``slots[i]`` is the volume slice of the display set's image ``i`` (display order).
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    slots: tuple[int, ...]

    @classmethod
    def from_images(cls, images: Sequence[ImageRef], pixel_spacing: Sequence[float],
                    slice_spacing: float | None = None) -> VolumeGeometry:
        """The geometry of images sharing one orientation and size (a reconstructable stack).

        ``pixel_spacing`` is (row spacing, column spacing) in mm. The slice spacing, when
        not given, is the (lower) median gap along the normal, so that missing slices (gaps of
        whole multiples) keep their place instead of stretching every other gap.
        """
        first = images[0]
        if first.image_orientation is None or any(i.image_position is None for i in images):
            raise VolumeError("images without ImagePositionPatient or ImageOrientationPatient")
        row_cosine = np.asarray(first.image_orientation[:3], dtype=float)
        column_cosine = np.asarray(first.image_orientation[3:], dtype=float)
        normal = first.normal
        if normal is None or len(images) < 2:
            raise VolumeError("a single image")
        positions = np.asarray([i.image_position for i in images], dtype=float)
        distances = positions @ normal
        gaps = np.diff(np.sort(distances))
        # The lower median (np.median needs numpy.ma, which Pyodide's numpy leaves out).
        spacing = slice_spacing or float(np.partition(gaps, (len(gaps) - 1) // 2)[
            (len(gaps) - 1) // 2])
        if spacing <= 1e-6:
            raise VolumeError("images at the same position")
        lowest = int(np.argmin(distances))
        slots = np.rint((distances - distances[lowest]) / spacing).astype(int)
        if len(set(slots.tolist())) != len(images):
            raise VolumeError("irregular slice spacing")
        row_spacing, column_spacing = (float(s) for s in pixel_spacing)
        affine = np.eye(4)
        affine[:3, 0] = row_cosine * column_spacing
        affine[:3, 1] = column_cosine * row_spacing
        affine[:3, 2] = normal * spacing
        # Slice 0's origin: the lowest image's position, other slices along the normal.
        affine[:3, 3] = positions[lowest]
        shape = (int(slots.max()) + 1, first.instance.rows, first.instance.columns)
        return cls(shape, affine, tuple(int(s) for s in slots))

    @classmethod
    def from_display_set(cls, display_set: DisplaySet) -> VolumeGeometry:
        spacing = display_set.pixel_spacing
        if spacing is None:
            raise VolumeError("images without PixelSpacing")
        return cls.from_images(display_set.images, spacing,
                               display_set.reconstruction.spacing)

    @property
    def spacing(self) -> np.ndarray:
        """Millimetres per step along (column, row, slice)."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    def voxel_centres(self) -> np.ndarray:
        """The patient coordinates of the eight corner voxels' centres, ``(8, 3)``."""
        slices, rows, columns = self.shape
        corners = np.array([[c, r, s, 1.0] for s in (0, slices - 1) for r in (0, rows - 1)
                            for c in (0, columns - 1)])
        return (corners @ self.affine.T)[:, :3]

    @property
    def centre(self) -> np.ndarray:
        """The patient coordinates of the volume's centre."""
        return self.voxel_centres().mean(axis=0)


@dataclass(frozen=True, eq=False)
class VolumeSlice(ImageFrame):
    """A frame that is a view of a volume's slice: its modality values are computed each
    time they are asked for (a measurement, statistics), never kept beside the slice."""

    @property
    def values(self) -> np.ndarray:
        return self.modality.apply(self.stored)


class Volume:
    """The voxels of one display set, filled slice by slice as its frames load.

    ``stored`` holds the voxels, whose modality values (HU for CT) are ``modality`` of
    them (:meth:`values`), in the narrowest dtype the frames need; a frame that needs a
    wider one, or another rescale, widens the whole volume. Slices not loaded yet are
    ``background`` (the first frame's lowest value: black in any window) to whoever
    reads the volume whole (:meth:`whole`).
    """

    def __init__(self, geometry: VolumeGeometry, first: ImageFrame) -> None:
        shared = first.modality.commutes_with_resampling
        held = first.stored if shared else first.values
        self.geometry = geometry
        self.modality = first.modality if shared else ModalityTransform()
        self.background = held.min().item()
        self.stored = np.empty(geometry.shape, dtype=held.dtype)  # see whole()
        self._blank = True  # slices not loaded hold whatever the memory held
        self.loaded = np.zeros(geometry.shape[0], dtype=bool)
        self.frames: list[VolumeSlice | None] = [None] * geometry.shape[0]
        self.version = 0
        """Counts the slices put: a reformatted plane cached at one version is stale after."""

    @classmethod
    def of_voxels(cls, geometry: VolumeGeometry, voxels: np.ndarray) -> Volume:
        """A volume of modality values whose every slice is loaded already (sent whole,
        or computed)."""
        if voxels.shape != geometry.shape:
            raise VolumeError(f"voxels {voxels.shape} are not the geometry's {geometry.shape}")
        volume = cls.__new__(cls)
        volume.geometry, volume.stored, volume.modality = geometry, voxels, ModalityTransform()
        volume._blank = False
        volume.background = voxels.min().item() if voxels.size else 0
        volume.loaded = np.ones(geometry.shape[0], dtype=bool)
        volume.frames = [None] * geometry.shape[0]
        volume.version = 1
        return volume

    @property
    def nbytes(self) -> int:
        return int(self.stored.nbytes)

    def values(self) -> np.ndarray:
        """Every voxel's modality value: ``stored`` itself if it holds them, else a new
        array as large as the volume in modality values' dtype."""
        return self.modality.apply(self.whole())

    def whole(self) -> np.ndarray:
        """``stored`` with the slices not loaded yet set to the background, as a read of
        the whole volume (a plane, the console) needs them. They are set on the first such
        read, not when the volume is made: filling 100 MB there cost the first image of a
        512² CT 0.1 s in the browser."""
        if self._blank:
            self.stored[~self.loaded] = self.background
            self._blank = False
        return self.stored

    @property
    def complete(self) -> bool:
        """Every image's slice is loaded."""
        return bool(self.loaded[list(self.geometry.slots)].all())

    @property
    def missing(self) -> int:
        """Slices no image fills (gaps of whole multiples of the spacing)."""
        return self.geometry.shape[0] - len(self.geometry.slots)

    def put(self, slot: int, frame: ImageFrame) -> VolumeSlice:
        """Write a decoded frame into slice ``slot`` (one copy); the frame to render is a
        view of it.

        The view renders exactly as the frame did: the same modality values, its own
        windows, VOI LUT and photometric interpretation.
        """
        if frame.is_color or frame.stored.shape != self.geometry.shape[1:]:
            raise VolumeError("a frame of another kind or size than the volume's")
        if frame.modality.rescales_like(self.modality):
            self._hold(frame.stored.dtype, values=False)
            self.stored[slot] = frame.stored
        else:
            self._hold(frame.modality.dtype_of(frame.stored), values=True)
            frame.modality.apply(frame.stored, out=self.stored[slot])
        self.loaded[slot] = True
        attributes = {f.name: getattr(frame, f.name) for f in fields(frame)}
        view = VolumeSlice(**{**attributes, "stored": self.stored[slot],
                              "modality": self.modality})
        self.frames[slot] = view
        self.version += 1
        return view

    def frame(self, slot: int) -> VolumeSlice | None:
        """The frame of a loaded slice (a view of the voxels), else None."""
        return self.frames[slot]

    def template(self) -> VolumeSlice | None:
        """A loaded frame nearest the middle: whose windows and photometric interpretation
        the reformatted planes use."""
        loaded = np.flatnonzero(self.loaded)
        if not len(loaded):
            return None
        middle = loaded[np.argmin(np.abs(loaded - (len(self.loaded) - 1) / 2))]
        return self.frames[int(middle)]

    def plane_frame(self, plane: Plane, slab: Slab | None = None) -> ImageFrame:
        """A plane through the volume as a frame to render and measure, with the windows,
        VOI LUT and photometric interpretation of :meth:`template`.

        It is reformatted from the voxels as held and carries the volume's rescale: the
        modality values it renders and measures are those of the plane reformatted from
        modality values (a VOI LUT only where the plane's values are the voxels' own).
        """
        template = self.template()
        if template is None:
            raise VolumeError("no slice of the volume is loaded yet")
        stored = reformat(self.whole(), self.geometry.affine, plane, slab, self.background)
        return ImageFrame(stored, template.photometric_interpretation, self.modality,
                          windows=template.windows,
                          voi_lut=template.voi_lut if stored.dtype.kind in "iu" else None)

    def _hold(self, dtype: np.dtype, *, values: bool) -> None:
        """Make the voxels hold `dtype` (and modality values, if `values`), in one new
        array if they do not already; the frames put before follow."""
        rescale = values and not self.modality.is_identity
        if not rescale and np.can_cast(dtype, self.stored.dtype, "safe"):
            return
        self.whole()  # converted whole: the slices not loaded too
        held = self.modality.dtype_of(self.stored) if rescale else self.stored.dtype
        if np.can_cast(dtype, held, "safe"):  # a rescale only: its values fit held
            wider = held
        else:  # float32 is ample for any values with a fraction
            floats = "f" in (dtype.kind, held.kind)
            wider = np.dtype(np.float32) if floats else np.result_type(dtype, held)
        if rescale:
            background = np.array(self.background, dtype=self.stored.dtype)
            self.background = self.modality.apply(background).item()
            self.stored = self.modality.apply(self.stored, out=np.empty(self.stored.shape, wider))
            self.modality = ModalityTransform()
        else:
            self.stored = self.stored.astype(wider)
        self.frames = [None if f is None else replace(f, stored=self.stored[slot],
                                                      modality=self.modality)
                       for slot, f in enumerate(self.frames)]
