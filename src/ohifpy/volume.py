"""A reconstructable display set as one array of modality values, with its patient geometry.

MPR needs the series as a volume; the stack view needs it as frames. Holding both would
double what a series costs, so the volume is the one copy: each frame of a reconstructable
display set is written into its slice as it loads, and the frame the stack view renders is
a view of that slice (:meth:`Volume.put`). The planes therefore fill in while the series
loads, and a series already loaded for the stack opens in MPR without another byte.

Voxels are indexed ``[slice, row, column]``; the affine maps ``(column, row, slice, 1)`` to
patient coordinates (LPS, mm), as an image's plane does for its pixels. Slices are in
ascending position along the first image's normal, whatever order the stack shows them
in; a whole-multiple gap leaves slices that are never loaded, drawn as the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .errors import OhifpyError
from .imaging import ImageFrame, ModalityTransform
from .model import DisplaySet, ImageRef

__all__ = ["Volume", "VolumeError", "VolumeGeometry"]


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


class Volume:
    """The voxels of one display set, filled slice by slice as its frames load.

    ``voxels`` hold modality values (HU for CT) in the narrowest dtype the frames need;
    a frame that needs a wider one widens the whole volume. Slices not loaded yet hold
    ``background`` (the first frame's lowest value: black in any window).
    """

    def __init__(self, geometry: VolumeGeometry, first: ImageFrame) -> None:
        values = first.values
        self.geometry = geometry
        self.background = values.min().item()
        self.voxels = np.full(geometry.shape, self.background, dtype=values.dtype)
        self.loaded = np.zeros(geometry.shape[0], dtype=bool)
        self.frames: list[ImageFrame | None] = [None] * geometry.shape[0]
        self.version = 0
        """Counts the slices put: a reformatted plane cached at one version is stale after."""

    @classmethod
    def of_voxels(cls, geometry: VolumeGeometry, voxels: np.ndarray) -> Volume:
        """A volume whose every slice is loaded already (sent whole, or computed)."""
        if voxels.shape != geometry.shape:
            raise VolumeError(f"voxels {voxels.shape} are not the geometry's {geometry.shape}")
        volume = cls.__new__(cls)
        volume.geometry, volume.voxels = geometry, voxels
        volume.background = voxels.min().item() if voxels.size else 0
        volume.loaded = np.ones(geometry.shape[0], dtype=bool)
        volume.frames = [None] * geometry.shape[0]
        volume.version = 1
        return volume

    @property
    def nbytes(self) -> int:
        return int(self.voxels.nbytes)

    @property
    def complete(self) -> bool:
        """Every image's slice is loaded."""
        return bool(self.loaded[list(self.geometry.slots)].all())

    @property
    def missing(self) -> int:
        """Slices no image fills (gaps of whole multiples of the spacing)."""
        return self.geometry.shape[0] - len(self.geometry.slots)

    def put(self, slot: int, frame: ImageFrame) -> ImageFrame:
        """Write a decoded frame into slice ``slot``; the frame to render is a view of it.

        The view renders exactly as the frame did: its modality values with the identity
        transform, its own windows, VOI LUT and photometric interpretation.
        """
        if frame.is_color or frame.stored.shape != self.geometry.shape[1:]:
            raise VolumeError("a frame of another kind or size than the volume's")
        values = frame.values
        if not np.can_cast(values.dtype, self.voxels.dtype, "safe"):
            floats = "f" in (values.dtype.kind, self.voxels.dtype.kind)  # float32 is ample
            self._widen(np.dtype(np.float32) if floats else
                        np.result_type(values.dtype, self.voxels.dtype))
        self.voxels[slot] = values
        self.loaded[slot] = True
        view = replace(frame, stored=self.voxels[slot], modality=ModalityTransform())
        self.frames[slot] = view
        self.version += 1
        return view

    def frame(self, slot: int) -> ImageFrame | None:
        """The frame of a loaded slice (a view of the voxels), else None."""
        return self.frames[slot]

    def template(self) -> ImageFrame | None:
        """A loaded frame nearest the middle: whose windows and photometric interpretation
        the reformatted planes use."""
        loaded = np.flatnonzero(self.loaded)
        if not len(loaded):
            return None
        middle = loaded[np.argmin(np.abs(loaded - (len(self.loaded) - 1) / 2))]
        return self.frames[int(middle)]

    def _widen(self, dtype: np.dtype) -> None:
        """Hold the voxels in a wider dtype (a frame's values do not fit); frames follow."""
        self.voxels = self.voxels.astype(dtype)
        self.frames = [None if f is None else replace(f, stored=self.voxels[slot])
                       for slot, f in enumerate(self.frames)]
