"""Planes through a volume, in numpy: exact slices where the plane follows the voxels,
trilinear interpolation where it does not, and slabs (maximum, minimum, mean).

A plane is described as an image is (PS3.3 C.7.6.2): the patient position of its first
pixel's centre, the row and column direction cosines and the pixel spacing. The result is
an image of the voxels' values that every tool treats like an acquired one: its
:meth:`Plane.geometry` is what measurements, orientation markers and the scale bar read.
Voxels of stored values give the plane's stored values: an increasing linear rescale
applied to it gives what reformatting the modality values would (interpolation, means
and maxima commute with it), at half the memory of float32 voxels.

Where every pixel of a plane falls on a voxel centre (the axial, sagittal and coronal
planes of a volume acquired in one of them), the plane is an array slice and its values
are the voxels' own. Otherwise each sample is interpolated from its eight neighbours,
vectorised over the whole plane (no SciPy in the browser). Samples outside the volume
take ``background``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["SLAB_MODES", "Plane", "Slab", "reformat"]

SlabMode = Literal["mip", "minip", "mean"]
SLAB_MODES: tuple[SlabMode, ...] = ("mip", "minip", "mean")
_EXACT = 1e-4  # voxel units: closer than this to a voxel centre is on it


@dataclass(frozen=True, eq=False)
class Plane:
    """A sampled plane: ``rows`` x ``columns`` pixels from ``origin`` (pixel (0, 0)'s centre).

    ``row_cosine`` is the direction columns increase along (ImageOrientationPatient's
    first three values), ``column_cosine`` the one rows increase along; ``spacing`` is
    (row spacing, column spacing) in mm, in PixelSpacing's order.
    """

    origin: np.ndarray
    row_cosine: np.ndarray
    column_cosine: np.ndarray
    spacing: tuple[float, float]
    rows: int
    columns: int

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosine, self.column_cosine)

    def patient_point(self, column: float, row: float) -> np.ndarray:
        """The patient coordinates of image point ``[column, row]``."""
        return (self.origin + column * self.spacing[1] * self.row_cosine
                + row * self.spacing[0] * self.column_cosine)

    def image_point(self, point: np.ndarray) -> tuple[float, float]:
        """``[column, row]`` of the patient point's projection onto the plane."""
        offset = np.asarray(point, dtype=float) - self.origin
        return (float(offset @ self.row_cosine / self.spacing[1]),
                float(offset @ self.column_cosine / self.spacing[0]))


@dataclass(frozen=True)
class Slab:
    """A slab ``thickness`` mm thick centred on the plane, projected by ``mode``, sampled
    every ``step`` mm along the normal.

    ``within`` bounds the offsets (mm along the normal) that reach the volume: a slab
    at the volume's edge projects what is inside, not the background beyond it.
    """

    thickness: float
    mode: SlabMode = "mip"
    step: float = 1.0
    within: tuple[float, float] = (-np.inf, np.inf)

    def offsets(self) -> np.ndarray:
        """Sample offsets along the normal (mm): every step within half the thickness
        (and within the volume); the plane itself always."""
        half = int(np.floor(self.thickness / 2 / self.step + 1e-6))
        offsets = np.arange(-half, half + 1) * self.step
        low, high = self.within
        inside = (offsets >= low - 1e-6) & (offsets <= high + 1e-6)
        return offsets[inside | (offsets == 0)]


def reformat(
    voxels: np.ndarray,
    affine: np.ndarray,
    plane: Plane,
    slab: Slab | None = None,
    background: float = 0,
) -> np.ndarray:
    """The plane's ``(rows, columns)`` values from ``voxels[slice, row, column]``.

    ``affine`` maps ``(column, row, slice, 1)`` to patient mm. Exact slices keep the
    voxels' dtype; interpolated planes are float32. A slab's projection is taken over
    planes ``slab.step`` apart along the normal (exact slices again when they fall on
    voxels: a maximum intensity projection is then ``numpy.max`` over those slices).
    """
    inverse = np.linalg.inv(affine)
    start = inverse[:3, :3] @ plane.origin + inverse[:3, 3]
    per_column = inverse[:3, :3] @ (plane.row_cosine * plane.spacing[1])
    per_row = inverse[:3, :3] @ (plane.column_cosine * plane.spacing[0])
    per_normal = inverse[:3, :3] @ plane.normal
    offsets = slab.offsets() if slab and slab.thickness > 0 else np.zeros(1)

    def sample(offset: float) -> np.ndarray:
        return _sample(voxels, start + offset * per_normal, per_column, per_row, plane.rows,
                       plane.columns, background)

    # Projected one plane at a time: a thick slab holds two planes, not all of them.
    mode = slab.mode if slab else "mip"
    out = sample(offsets[0])
    if mode == "mean" and len(offsets) > 1:
        out = out.astype(np.float32)
    for offset in offsets[1:]:
        if mode == "mip":
            np.maximum(out, sample(offset), out=out)
        elif mode == "minip":
            np.minimum(out, sample(offset), out=out)
        else:
            out += sample(offset)
    if mode == "mean" and len(offsets) > 1:
        out /= np.float32(len(offsets))
    return out


def _sample(voxels: np.ndarray, start: np.ndarray, per_column: np.ndarray,
            per_row: np.ndarray, rows: int, columns: int, background: float) -> np.ndarray:
    """One plane in voxel index space (``start`` + column x ``per_column`` + row x
    ``per_row``, as (column, row, slice) indices): exact when it can be, else trilinear."""
    exact = _exact_slice(voxels, start, per_column, per_row, rows, columns, background)
    if exact is not None:
        return exact
    return _trilinear(voxels, start, per_column, per_row, rows, columns, background)


def _unit_axis(step: np.ndarray) -> tuple[int, int] | None:
    """(axis, +1/-1) when ``step`` moves exactly one voxel along one index axis."""
    axis = int(np.argmax(np.abs(step)))
    sign = 1 if step[axis] > 0 else -1
    unit = np.zeros(3)
    unit[axis] = sign
    return (axis, sign) if np.allclose(step, unit, atol=_EXACT) else None


def _exact_slice(voxels: np.ndarray, start: np.ndarray, per_column: np.ndarray,
                 per_row: np.ndarray, rows: int, columns: int,
                 background: float) -> np.ndarray | None:
    """The plane as an array slice when its pixels are voxel centres, else None."""
    along_columns, along_rows = _unit_axis(per_column), _unit_axis(per_row)
    if along_columns is None or along_rows is None or along_columns[0] == along_rows[0]:
        return None
    if not np.allclose(start, np.rint(start), atol=_EXACT):
        return None
    first = np.rint(start).astype(int)
    fixed = 3 - along_columns[0] - along_rows[0]
    sizes = voxels.shape[::-1]  # (columns, rows, slices): index axes 0, 1, 2
    out = np.full((rows, columns), background, dtype=voxels.dtype)
    if not 0 <= first[fixed] < sizes[fixed]:
        return out
    # Per plane axis (rows, then columns): the output range inside the volume, and the
    # voxel index its first pixel falls on.
    index: list[int | slice] = [0, 0, 0]
    index[fixed] = int(first[fixed])
    ranges = []
    for (axis, sign), count in ((along_rows, rows), (along_columns, columns)):
        indices = first[axis] + sign * np.arange(count)
        inside = np.flatnonzero((indices >= 0) & (indices < sizes[axis]))
        if not len(inside):
            return out
        begin, end = int(inside[0]), int(inside[-1]) + 1
        at = int(indices[begin])
        stop = at + sign * (end - begin)
        index[axis] = slice(at, None if stop < 0 else stop, sign)
        ranges.append(slice(begin, end))
    # voxels are [slice, row, column]: index axis a is array dimension 2 - a, so the
    # block's first dimension is the higher of the two index axes.
    block = voxels[tuple(index[::-1])]
    if along_rows[0] < along_columns[0]:
        block = block.T
    out[ranges[0], ranges[1]] = block
    return out


def _trilinear(voxels: np.ndarray, start: np.ndarray, per_column: np.ndarray,
               per_row: np.ndarray, rows: int, columns: int, background: float) -> np.ndarray:
    """Each pixel from its eight neighbouring voxels, vectorised over the plane (float32).

    The lower corner is clamped one voxel inside each edge (its fraction clamped to 0..1),
    so the eight neighbours are the lower corner's flat index plus eight constants and no
    per-corner bounds checks are needed; a sample within half a voxel of an edge takes
    the edge's value. Samples further out are the background.
    """
    r = np.arange(rows, dtype=np.float32)[:, None]
    c = np.arange(columns, dtype=np.float32)[None, :]
    sizes = voxels.shape[::-1]  # (columns, rows, slices): index axes 0, 1, 2
    strides = (1, sizes[0], sizes[0] * sizes[1])
    inside = np.ones((rows, columns), dtype=bool)
    base = np.zeros((rows, columns), dtype=np.int32)
    fractions = []
    for axis in range(3):
        coord = np.float32(start[axis]) + c * np.float32(per_column[axis]) \
            + r * np.float32(per_row[axis])
        inside &= (coord > -0.5) & (coord < sizes[axis] - 0.5)
        low = np.clip(np.floor(coord), 0, max(sizes[axis] - 2, 0))
        fractions.append(np.clip(coord - low, 0, 1).astype(np.float32, copy=False))
        base += low.astype(np.int32) * np.int32(strides[axis])
    flat = voxels.reshape(-1)
    # A voxel's neighbour along an axis of size 1 is itself.
    steps = [strides[axis] if sizes[axis] > 1 else 0 for axis in range(3)]
    # Lerp along columns at the four (row, slice) corners, then along rows, then slices.
    lines = []
    for offset in (0, steps[1], steps[2], steps[1] + steps[2]):
        low = flat[base + np.int32(offset)].astype(np.float32)
        high = flat[base + np.int32(offset + steps[0])].astype(np.float32)
        lines.append(_lerp(low, high, fractions[0]))
    planes = [_lerp(lines[0], lines[1], fractions[1]), _lerp(lines[2], lines[3], fractions[1])]
    out = _lerp(planes[0], planes[1], fractions[2])
    out[~inside] = np.float32(background)
    return out


def _lerp(low: np.ndarray, high: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """``low + (high - low) * fraction``, in ``high``'s memory."""
    high -= low
    high *= fraction
    high += low
    return high
