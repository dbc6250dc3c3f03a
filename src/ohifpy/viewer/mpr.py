"""MPR: three planes through one crosshair centre, and what each interaction does to them.

As in OHIF (cornerstone3D's crosshairs), the axial, sagittal and coronal views go
through one point, the centre. Dragging the centre moves it in a view's plane, dragging
another view's line moves that plane along its normal, a rotation handle turns the other
two planes about the view's normal (the three stay perpendicular), a slab handle sets a
plane's slab thickness. All that geometry lives here; the page sends pointer positions
in a view's image coordinates and draws the lines this answers.

Each view shows the plane of its grid nearest the centre: the grid steps along the view's
normal from one side of the volume to the other (its images, as a stack's, for the
slider and the wheel), and in-plane its pixels cover the whole volume. Where a view's
directions follow the volume's axes, its spacing is the voxels' and its planes are exact
slices; an oblique view samples every ``min(voxel spacing)`` mm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import BadRequest
from ..imaging.reformat import SLAB_MODES, Plane, Slab
from ..measure import ImageGeometry
from ..volume import VolumeGeometry

__all__ = ["MPR_PREFIX", "VIEWS", "MprViews", "ViewGrid"]

MPR_PREFIX = "mpr:"
"""Of an MPR's UID and its views' display set UIDs."""

# name -> (label, colour as OHIF draws its lines, row cosine, column cosine): the screen's
# right and down in patient LPS, as cornerstone3D's axial, sagittal and coronal cameras.
VIEWS: dict[str, tuple[str, str, tuple[float, ...], tuple[float, ...]]] = {
    "axial": ("Axial", "rgb(200, 0, 0)", (1, 0, 0), (0, 1, 0)),
    "sagittal": ("Sagittal", "rgb(200, 200, 0)", (0, 1, 0), (0, 0, -1)),
    "coronal": ("Coronal", "rgb(0, 200, 0)", (1, 0, 0), (0, 0, -1)),
}
_ALIGNED = 1e-6
_LINE_MM = 100.0  # the second point of a crosshair line, this far along it


@dataclass(frozen=True, eq=False)
class ViewGrid:
    """A view's planes: in-plane directions, spacing and extent, and its stack of positions.

    ``depth`` (= -normal) is the direction image indices increase along, so that the
    axial view counts from head to feet as a head-first stack does; ``first`` is the
    depth (mm, along ``depth`` from the patient origin) of image 0.
    """

    row_cosine: np.ndarray
    column_cosine: np.ndarray
    spacing: tuple[float, float]  # (row, column) mm
    rows: int
    columns: int
    origin: np.ndarray  # the in-plane corner: pixel (0, 0)'s centre at depth 0
    first: float
    step: float
    count: int

    @classmethod
    def covering(cls, geometry: VolumeGeometry, row_cosine: np.ndarray,
                 column_cosine: np.ndarray) -> ViewGrid:
        """The grid of planes with these directions that covers the whole volume."""
        depth = -np.cross(row_cosine, column_cosine)
        corners = geometry.voxel_centres()
        axes = geometry.affine[:3, :3] / geometry.spacing
        spacings = [_spacing_along(direction, axes, geometry.spacing)
                    for direction in (row_cosine, column_cosine, depth)]
        extents = []
        for direction, spacing in zip((row_cosine, column_cosine, depth), spacings, strict=True):
            projected = corners @ direction
            low, high = float(projected.min()), float(projected.max())
            extents.append((low, max(1, round((high - low) / spacing) + 1)))
        (column_low, columns), (row_low, rows), (first, count) = extents
        origin = column_low * row_cosine + row_low * column_cosine
        return cls(row_cosine, column_cosine, (spacings[1], spacings[0]), rows, columns, origin,
                   first, spacings[2], count)

    @property
    def depth(self) -> np.ndarray:
        return -np.cross(self.row_cosine, self.column_cosine)

    def index_of(self, point: np.ndarray) -> int:
        """The image whose plane is nearest the point."""
        index = round((float(point @ self.depth) - self.first) / self.step)
        return min(max(index, 0), self.count - 1)

    def depth_of(self, index: int) -> float:
        return self.first + index * self.step

    def plane(self, index: int) -> Plane:
        origin = self.origin + self.depth_of(index) * self.depth
        return Plane(origin, self.row_cosine, self.column_cosine, self.spacing, self.rows,
                     self.columns)


def _spacing_along(direction: np.ndarray, axes: np.ndarray, spacing: np.ndarray) -> float:
    """The voxel spacing along a volume axis the direction follows, else the smallest."""
    alignment = np.abs(axes.T @ direction)
    axis = int(np.argmax(alignment))
    return float(spacing[axis]) if alignment[axis] > 1 - _ALIGNED else float(spacing.min())


@dataclass(frozen=True, eq=False)
class _View:
    """One view's directions, slab and version (which changes with any of them)."""

    name: str
    row_cosine: np.ndarray
    column_cosine: np.ndarray
    slab_thickness: float = 0.0
    version: int = 0

    @property
    def depth(self) -> np.ndarray:
        return -np.cross(self.row_cosine, self.column_cosine)


class MprViews:
    """The MPR of one volume: the centre, the three views, and their grids.

    ``uid`` is ``mpr:<display set UID>``; each view is known to the page as a display set
    of its own, ``mpr:<display set UID>:<view>:<version>``, whose images are its grid's
    planes.
    """

    def __init__(self, display_set_uid: str, series_instance_uid: str,
                 geometry: VolumeGeometry) -> None:
        self.display_set_uid = display_set_uid
        self.series_instance_uid = series_instance_uid
        self.geometry = geometry
        self.uid = f"{MPR_PREFIX}{display_set_uid}"
        self.reset()

    def reset(self) -> None:
        versions = {name: view.version + 1 for name, view in getattr(self, "views", {}).items()}
        self.views = {name: _View(name, np.array(row, float), np.array(column, float),
                                  version=versions.get(name, 0))
                      for name, (_, _, row, column) in VIEWS.items()}
        self.slab_mode = "mip"
        self._grids: dict[str, ViewGrid] = {}
        self.center = self.geometry.centre

    # ------------------------------------------------------------ views as display sets

    def view_uid(self, name: str) -> str:
        return f"{self.uid}:{name}:{self.views[name].version}"

    def grid(self, name: str) -> ViewGrid:
        grid = self._grids.get(name)
        if grid is None:
            view = self.views[name]
            grid = ViewGrid.covering(self.geometry, view.row_cosine, view.column_cosine)
            self._grids[name] = grid
        return grid

    def slab(self, name: str, index: int) -> Slab | None:
        """The slab of a view's image ``index``, within the volume's planes."""
        thickness = self.views[name].slab_thickness
        if thickness <= 0:
            return None
        grid = self.grid(name)
        depth = grid.depth_of(index)
        # Offsets along the normal (= -depth) that stay within the grid's planes.
        within = (depth - grid.depth_of(grid.count - 1), depth - grid.first)
        return Slab(thickness, self.slab_mode, grid.step, within)

    def index(self, name: str) -> int:
        return self.grid(name).index_of(self.center)

    def shown_center(self) -> np.ndarray:
        """Where the three planes shown meet: the centre on each view's grid."""
        point = np.zeros(3)
        for name in self.views:
            grid = self.grid(name)
            point += grid.depth_of(grid.index_of(self.center)) * grid.depth
        return point

    def geometry_of(self, name: str, index: int) -> ImageGeometry:
        """The image geometry of a view's plane: what measurements and overlays read."""
        plane = self.grid(name).plane(index)
        return ImageGeometry(plane.rows, plane.columns, plane.spacing, "PixelSpacing",
                             tuple(float(v) for v in plane.origin),
                             tuple(float(v) for v in (*plane.row_cosine, *plane.column_cosine)))

    # ------------------------------------------------------------ interaction

    def update(self, action: Mapping[str, Any]) -> None:
        """Apply one of the page's actions (see ``updateMpr`` in the worker API)."""
        kind = action.get("type")
        if kind == "reset":
            self.reset()
            return
        if kind == "slabMode":
            mode = action.get("mode")
            if mode not in SLAB_MODES:
                raise BadRequest(f"slab mode must be one of {', '.join(SLAB_MODES)}, not {mode!r}")
            self.slab_mode = str(mode)
            for name, view in self.views.items():  # the slabs' pixels change
                if view.slab_thickness > 0:
                    self.views[name] = replace(view, version=view.version + 1)
            return
        if kind == "slabThickness":
            self._set_slab(self._name(action, "line"), _number(action, "thickness"))
            return
        if kind not in ("scroll", "center", "move", "rotate", "slab"):
            raise BadRequest(f"no MPR action {kind!r}")
        name = self._name(action, "view")
        if kind == "scroll":
            grid = self.grid(name)
            index = int(_number(action, "imageIndex"))
            depth = grid.depth_of(min(max(index, 0), grid.count - 1))
            center = self.shown_center()
            self.center = center + (depth - float(center @ grid.depth)) * grid.depth
            return
        center = self.shown_center()
        if kind == "rotate":
            self._rotate(name, self._point(name, action, "from"), self._point(name, action, "to"),
                         center)
            return
        point = self._point(name, action, "point")
        if kind == "center":
            self.center = point
            return
        line = self._name(action, "line")
        if line == name:
            raise BadRequest("a view's own plane has no line in it")
        depth = self.views[line].depth
        distance = float((point - center) @ depth)
        if kind == "move":
            self.center = center + distance * depth
        else:
            self._set_slab(line, 2 * abs(distance))

    def _rotate(self, name: str, start: np.ndarray, end: np.ndarray, center: np.ndarray) -> None:
        """Turn the other two views about this view's normal by the angle start -> end
        around the centre shown. The centre itself stays where it is (not snapped to the
        grids shown), so that a drag's many small turns do not walk it away."""
        axis = -self.views[name].depth
        a, b = start - center, end - center
        angle = math.atan2(float(np.cross(a, b) @ axis), float(a @ b))
        if abs(angle) < 1e-9:
            return
        rotation = _rotation(axis, angle)
        for other, view in self.views.items():
            if other != name:
                self.views[other] = replace(view, row_cosine=rotation @ view.row_cosine,
                                            column_cosine=rotation @ view.column_cosine,
                                            version=view.version + 1)
                self._grids.pop(other, None)

    def _set_slab(self, name: str, thickness: float) -> None:
        thickness = max(0.0, float(thickness))
        view = self.views[name]
        if thickness != view.slab_thickness:
            self.views[name] = replace(view, slab_thickness=thickness, version=view.version + 1)

    def _name(self, action: Mapping[str, Any], key: str) -> str:
        name = action.get(key)
        if name not in self.views:
            raise BadRequest(f"{key} must be one of {', '.join(self.views)}, not {name!r}")
        return str(name)

    def _point(self, name: str, action: Mapping[str, Any], key: str) -> np.ndarray:
        """The patient point of an action's ``[column, row]`` on the plane the view shows."""
        value = action.get(key)
        try:
            column, row = (float(v) for v in value)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise BadRequest(f"{key} must be [column, row] numbers, not {value!r}") from None
        if not (math.isfinite(column) and math.isfinite(row)):
            raise BadRequest(f"{key} must be finite numbers, not {value!r}")
        return self.grid(name).plane(self.index(name)).patient_point(column, row)

    # ------------------------------------------------------------ the page's state

    def state(self) -> dict[str, Any]:
        """What the page draws: each view's display set, image and crosshair lines."""
        center = self.shown_center()
        return {
            "mprUID": self.uid,
            "displaySetUID": self.display_set_uid,
            "center": [float(v) for v in center],
            "slabMode": self.slab_mode,
            "views": [self._view_state(name, center) for name in self.views],
        }

    def _view_state(self, name: str, center: np.ndarray) -> dict[str, Any]:
        label, color, _, _ = VIEWS[name]
        grid = self.grid(name)
        plane = grid.plane(grid.index_of(self.center))
        lines = []
        for other, view in self.views.items():
            if other == name:
                continue
            direction = np.cross(plane.normal, view.depth)
            norm = float(np.linalg.norm(direction))
            if norm < 1e-9:  # parallel planes: no line
                continue
            direction /= norm
            along = _LINE_MM * direction
            half = view.slab_thickness / 2 * view.depth

            def segment(base: np.ndarray, along: np.ndarray = along) -> list[list[float]]:
                return [list(plane.image_point(base)), list(plane.image_point(base + along))]

            lines.append({
                "view": other,
                "color": VIEWS[other][1],
                "points": segment(center),
                "slab": [segment(center - half), segment(center + half)]
                if view.slab_thickness > 0 else None,
            })
        return {
            "name": name,
            "label": label,
            "color": color,
            "displaySetUID": self.view_uid(name),
            "seriesInstanceUID": self.series_instance_uid,
            "numImages": grid.count,
            "imageIndex": grid.index_of(self.center),
            "slabThickness": self.views[name].slab_thickness,
            "crosshair": {"center": list(plane.image_point(center)), "lines": lines},
        }


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _number(action: Mapping[str, Any], key: str) -> float:
    value = action.get(key)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise BadRequest(f"{key} must be a finite number, not {value!r}")
    return number

