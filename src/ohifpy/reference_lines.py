"""Reference lines and scroll synchronisation between stacks of one frame of reference.

Pure geometry (numpy only), as cornerstone3D's ``ReferenceLinesTool`` and its
stack/image-slice synchronisers compute it, but in image coordinates of the target so the
page only maps two points to the screen.

Reference line
    The line where the source image's plane cuts the target image's plane, clipped to the
    target image's extent (the pixel edges, ``[-0.5, columns - 0.5] x [-0.5, rows - 0.5]``
    with pixel centres at integers, as :mod:`ohifpy.measure` counts), as the two points
    where it enters and leaves the image. Planes within :data:`PARALLEL_TOLERANCE` of
    parallel (cornerstone's ``1 - |n1 . n2| < EPSILON``) have no line, nor does a line that
    misses the image. Only the source's plane matters, not how far its pixels reach (what
    cornerstone's ``showFullDimension`` draws).

Nearest image
    The image of a stack whose plane is nearest a patient point: the smallest distance
    along each image's own normal; images equally near (within :data:`SAME_PLANE_MM`) are
    told apart by the distance from the point to their centres. cornerstone's stack image
    sync compares ImagePositionPatient (the first pixel's corner) with the source's;
    asking with the source image's centre measures the same for parallel stacks and does
    not depend on the fields of view. The synchroniser uses it only for stacks whose
    normals are within :data:`COPLANAR_DOT` of each other (cornerstone's
    ``areViewportsCoplanar``): a stack cut across by the source has no "same slice".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .errors import OhifpyError
from .measure import ImageGeometry
from .model import ImageRef

__all__ = [
    "COPLANAR_DOT",
    "PARALLEL_TOLERANCE",
    "SAME_PLANE_MM",
    "GeometryError",
    "are_coplanar",
    "frame_of_reference_uid",
    "image_centre",
    "nearest_image",
    "normal",
    "reference_line",
    "relate",
    "relative_index",
]

PARALLEL_TOLERANCE = 1e-3
"""Planes with ``1 - |n1 . n2|`` below this are parallel: no reference line (cornerstone's
``EPSILON``, about 2.6 degrees)."""

COPLANAR_DOT = 0.9
"""Stacks whose normals have ``|n1 . n2|`` above this scroll together (cornerstone's
``areViewportsCoplanar``)."""

SAME_PLANE_MM = 1e-3
"""Images whose planes are this close to the point count as equally near."""

Line = tuple[tuple[float, float], tuple[float, float]]


class GeometryError(OhifpyError, ValueError):
    """An image or stack without the geometry asked of it (no position, orientation or
    pixel spacing)."""


class _Stack(Protocol):
    @property
    def images(self) -> Sequence[ImageRef]: ...


def normal(geometry: ImageGeometry) -> np.ndarray | None:
    """The unit normal (row cosine x column cosine) of an image's plane, None without one."""
    if geometry.orientation is None or len(geometry.orientation) != 6:
        return None
    orientation = np.asarray(geometry.orientation, dtype=float)
    n = np.cross(orientation[:3], orientation[3:])
    length = float(np.linalg.norm(n))
    return n / length if length > 1e-6 else None


def _axes(geometry: ImageGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Pixel (0, 0)'s centre and the patient-space steps of one column and one row (mm)."""
    if (geometry.position is None or len(geometry.position) != 3 or geometry.spacing is None
            or normal(geometry) is None):
        return None
    orientation = np.asarray(geometry.orientation, dtype=float)
    row_spacing, column_spacing = geometry.spacing
    return (np.asarray(geometry.position, dtype=float),
            orientation[:3] * column_spacing,  # one column to the right
            orientation[3:] * row_spacing)  # one row down


def image_centre(geometry: ImageGeometry) -> np.ndarray:
    """The patient point at the centre of the image (its position without pixel spacing)."""
    if geometry.position is None or len(geometry.position) != 3:
        raise GeometryError("the image has no ImagePositionPatient")
    axes = _axes(geometry)
    if axes is None:
        return np.asarray(geometry.position, dtype=float)
    origin, column_step, row_step = axes
    return (origin + column_step * (geometry.columns - 1) / 2
            + row_step * (geometry.rows - 1) / 2)


def are_coplanar(first: ImageGeometry, second: ImageGeometry) -> bool:
    """Whether two images face nearly the same way (|n1 . n2| > :data:`COPLANAR_DOT`)."""
    a, b = normal(first), normal(second)
    return a is not None and b is not None and abs(float(a @ b)) > COPLANAR_DOT


def reference_line(source: ImageGeometry, target: ImageGeometry) -> Line | None:
    """Where the source image's plane cuts the target image, in the target's [column, row].

    Returns the two ends of the line inside the target image (clipped to its pixel
    edges), or None when the planes are parallel, the line misses the image or either
    image lacks the geometry (position and orientation; the target's pixel spacing too).
    """
    source_normal = normal(source)
    target_normal = normal(target)
    axes = _axes(target)
    if (source_normal is None or target_normal is None or axes is None
            or source.position is None or len(source.position) != 3):
        return None
    if 1.0 - abs(float(source_normal @ target_normal)) < PARALLEL_TOLERANCE:
        return None
    origin, column_step, row_step = axes
    # The source plane n.(p - s) = 0 at target pixel (c, r), p = origin + c*cs + r*rs:
    # a*c + b*r + d = 0.
    a = float(source_normal @ column_step)
    b = float(source_normal @ row_step)
    d = float(source_normal @ (origin - np.asarray(source.position, dtype=float)))
    return _clip(a, b, d, target.columns, target.rows)


def _clip(a: float, b: float, d: float, columns: int, rows: int) -> Line | None:
    """The part of the line a*c + b*r + d = 0 inside [-0.5, columns-0.5] x [-0.5, rows-0.5]."""
    low_c, high_c, low_r, high_r = -0.5, columns - 0.5, -0.5, rows - 0.5
    # A point and a direction of the line, then Liang-Barsky against the rectangle.
    length = np.hypot(a, b)
    if length < 1e-12:
        return None
    point = np.array([-a * d, -b * d]) / length**2
    direction = np.array([-b, a]) / length
    t0, t1 = -np.inf, np.inf
    for p, q_low, q_high in ((direction[0], point[0] - low_c, high_c - point[0]),
                             (direction[1], point[1] - low_r, high_r - point[1])):
        if abs(p) < 1e-12:
            if q_low < 0 or q_high < 0:
                return None  # parallel to these edges and outside them
            continue
        # low <= point + t*p <= high
        ta, tb = -q_low / p, q_high / p
        t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
    if not t0 < t1:
        return None  # misses the image, or only touches a corner
    start, end = point + t0 * direction, point + t1 * direction
    return (float(start[0]), float(start[1])), (float(end[0]), float(end[1]))


def nearest_image(display_set: _Stack, point: Sequence[float] | np.ndarray) -> int:
    """The index of the stack's image whose plane is nearest the patient ``point`` (mm).

    Distance along each image's own normal first; among images as near (within
    :data:`SAME_PLANE_MM`), the one whose centre is nearest. Images without position or
    orientation are skipped; a stack with none raises :class:`GeometryError`.
    """
    target = np.asarray(point, dtype=float)
    if target.shape != (3,):
        raise GeometryError(f"a patient point has three coordinates, not {point!r}")
    indices = [i for i, image in enumerate(display_set.images)
               if image.image_position is not None and image.normal is not None]
    if not indices:
        raise GeometryError("no image of the stack has a position and an orientation")
    images = [display_set.images[i] for i in indices]
    # One array operation per stack: small numpy calls are what costs in WebAssembly.
    positions = np.asarray([image.image_position for image in images], dtype=float)
    normals = np.asarray([image.normal for image in images], dtype=float)
    distances = np.abs(np.einsum("ij,ij->i", target - positions, normals))
    near = np.flatnonzero(distances <= distances.min() + SAME_PLANE_MM)
    if len(near) == 1:
        return indices[int(near[0])]
    centres = [image_centre(ImageGeometry.from_image(images[i])) for i in near]
    best = min(range(len(near)), key=lambda k: float(np.linalg.norm(centres[k] - target)))
    return indices[int(near[best])]


def frame_of_reference_uid(display_set: _Stack) -> str:
    """The stack's FrameOfReferenceUID ("" without one): the display set's, else its first
    instance's."""
    uid = getattr(display_set, "frame_of_reference_uid", None)
    if uid is None:
        uid = display_set.images[0].instance.metadata.get("FrameOfReferenceUID", "")
    return str(uid or "").strip()


def relative_index(source_index: int, source_count: int, target_count: int) -> int:
    """The image at the same place in a stack of ``target_count`` as ``source_index`` is in
    one of ``source_count`` (first to first, last to last)."""
    if source_count <= 1 or target_count <= 1:
        return 0
    return round(source_index / (source_count - 1) * (target_count - 1))


def relate(source_set: _Stack, source_index: int, target_set: _Stack, target_index: int,
           sync: bool = False, *, relative: bool = False) -> tuple[Line | None, int | None]:
    """What a viewport showing ``target_set[target_index]`` draws of the source image.

    Returns its reference line (see :func:`reference_line`) and, with ``sync``, the index
    of its image nearest the source image's centre (:func:`nearest_image`) when it faces
    the same way (:func:`are_coplanar`); both None unless the two stacks share a
    non-empty FrameOfReferenceUID, as cornerstone draws and syncs only within one. With
    ``relative`` (a current study beside its prior), a stack of another frame of reference
    that faces the same way syncs by place in the stack (:func:`relative_index`): positions
    mean nothing across frames of reference.
    """
    source = ImageGeometry.from_image(source_set.images[source_index])
    target = ImageGeometry.from_image(target_set.images[target_index])
    frame = frame_of_reference_uid(source_set)
    if not frame or frame != frame_of_reference_uid(target_set):
        if sync and relative and are_coplanar(source, target):
            return None, relative_index(source_index, len(source_set.images),
                                        len(target_set.images))
        return None, None
    line = reference_line(source, target)
    index = None
    if sync and source.position is not None and are_coplanar(source, target):
        try:
            index = nearest_image(target_set, image_centre(source))
        except GeometryError:
            index = None
    return line, index
