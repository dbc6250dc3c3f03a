"""Measurements on one image: lengths, angles, ROI statistics, probe, arrow annotations.

The page sends a tool name and image-space points; everything a clinician reads
(millimetres, degrees, Hounsfield units) is computed here, in exact, testable Python.

Coordinates
    Points are ``(column, row)`` floats with pixel centres at integer coordinates, as
    cornerstone's image coordinates: pixel ``(i, j)`` covers ``[i-0.5, i+0.5] x
    [j-0.5, j+0.5]`` and its centre is at ImagePositionPatient. (DICOM SR puts the
    top-left corner of the image at 0,0 instead; :mod:`ohifpy.sr` converts.)

Physical size
    Distances scale columns by the column spacing (PixelSpacing[1]) and rows by the
    row spacing (PixelSpacing[0]), so anisotropic pixels measure true millimetres; angles
    are computed between those scaled vectors. PixelSpacing wins, else ImagerPixelSpacing
    (with a note: it is at the detector, not the patient), else values are in pixels
    and a note says so.

Which pixels an ROI holds (its statistics)
    A pixel counts when its **centre** lies inside the shape, boundary included
    (cornerstone's rule for rectangle and ellipse): rectangle ``x0 <= i <= x1``; ellipse
    ``((i-cx)/rx)^2 + ((j-cy)/ry)^2 <= 1``; circle is the ellipse with ``rx = ry`` = the
    centre-to-edge distance in pixels (a circle on the image grid, as DICOM SR's CIRCLE
    is; on anisotropic pixels its area is ``pi*r^2`` times both spacings); freehand by
    the even-odd rule on the closed polygon (a centre exactly on an edge may fall on
    either side). Pixels outside the image are not counted (a note says the ROI is
    partly outside). The **area** is the shape's geometric area (ellipse ``pi*rx*ry``, polygon
    by the shoelace formula), not the pixel count. Statistics are of modality values
    (rescale or Modality LUT applied): mean, population standard deviation, minimum,
    maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydicom import Dataset

from .errors import OhifpyError
from .imaging.functional_groups import frame_functional_group
from .model import ImageRef, float_values

__all__ = [
    "QUANTITY_LABELS",
    "TOOLS",
    "ImageGeometry",
    "ImageReference",
    "Measurement",
    "MeasurementError",
    "MeasurementResult",
    "Quantity",
    "Tool",
    "measure",
    "modality_unit",
]


@dataclass(frozen=True)
class Tool:
    """One measurement tool: cornerstone3D's name, the label people read, how many points
    it takes, and how the page's pointer places them.

    ``gestures`` are the press-drag-release gestures of one measurement, each placing
    that many points: 2 = the press places one and the drag moves the next, 1 = the drag
    moves the one pressed; ``"path"`` = one drag whose path is the outline. The page's
    tool buttons and pointer input come from this description, the only one.
    """

    name: str
    label: str
    fewest_points: int
    most_points: int
    gestures: tuple[int, ...] | Literal["path"]

    def to_json(self) -> dict[str, Any]:
        """What the page needs: the name it sends back, the label, the gestures."""
        gestures = self.gestures if self.gestures == "path" else list(self.gestures)
        return {"name": self.name, "label": self.label, "gestures": gestures}


TOOLS: Mapping[str, Tool] = {tool.name: tool for tool in (
    Tool("Length", "Length", 2, 2, (2,)),
    # long axis ends, then short axis ends; the drag draws the long axis and the page
    # places the short one across its middle
    Tool("Bidirectional", "Bidirectional", 4, 4, (2,)),
    Tool("Angle", "Angle", 3, 3, (2, 1)),  # end, vertex (one drag), then the other end
    Tool("CobbAngle", "Cobb angle", 4, 4, (2, 2)),  # first line's ends, second line's ends
    Tool("RectangleROI", "Rectangle", 2, 2, (2,)),  # opposite corners
    Tool("EllipticalROI", "Ellipse", 2, 2, (2,)),  # opposite corners of its bounding box
    Tool("CircleROI", "Circle", 2, 2, (2,)),  # centre, a point on the circle
    Tool("PlanarFreehandROI", "Freehand", 3, 10_000, "path"),  # the closed polygon's vertices
    Tool("Probe", "Probe", 1, 1, (1,)),
    Tool("ArrowAnnotate", "Arrow", 2, 2, (2,)),  # tip, tail; then its text
)}
ROI_TOOLS = frozenset({"RectangleROI", "EllipticalROI", "CircleROI", "PlanarFreehandROI"})
QUANTITY_LABELS: Mapping[str, str] = {
    # what the page writes before each value it shows; pixelCount is not shown
    "length": "Length", "longAxis": "L", "shortAxis": "W", "angle": "Angle", "area": "Area",
    "mean": "Mean", "stdDev": "SD", "min": "Min", "max": "Max", "value": "Value",
}

NOTE_IMAGER_SPACING = "ImagerPixelSpacing: at the detector, not corrected for magnification"
NOTE_NO_SPACING = "no pixel spacing: sizes in pixels"


class MeasurementError(OhifpyError, ValueError):
    """A measurement request that cannot be answered (unknown tool, wrong points)."""


@dataclass(frozen=True)
class ImageGeometry:
    """Where an image's pixels are: size, spacing (and which attribute gave it), plane.

    ``spacing`` is (row spacing, column spacing) in mm as PixelSpacing orders it;
    ``position`` the patient coordinates of pixel (0, 0)'s centre; ``orientation``
    the row and column direction cosines.
    """

    rows: int
    columns: int
    spacing: tuple[float, float] | None = None
    spacing_source: str = ""
    position: tuple[float, ...] | None = None
    orientation: tuple[float, ...] | None = None

    @classmethod
    def from_image(cls, image: ImageRef) -> ImageGeometry:
        """Geometry of one frame: its plane as the model found it, its pixel spacing
        (per-frame functional groups first, for enhanced objects)."""
        ds = image.instance.metadata
        measures = frame_functional_group(ds, image.frame_index, "PixelMeasuresSequence")
        spacing, source = float_values(measures, "PixelSpacing", 2), "PixelSpacing"
        if spacing is None:
            spacing = float_values(ds, "PixelSpacing", 2)
        if spacing is None:
            spacing, source = float_values(ds, "ImagerPixelSpacing", 2), "ImagerPixelSpacing"
        if spacing is not None and spacing.min() <= 0:
            spacing = None
        return cls(
            rows=image.instance.rows,
            columns=image.instance.columns,
            spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
            spacing_source=source if spacing is not None else "",
            position=_tuple(image.image_position),
            orientation=_tuple(image.image_orientation),
        )

    @property
    def scale(self) -> tuple[float, float]:
        """(mm per column step, mm per row step); 1, 1 without spacing."""
        return (self.spacing[1], self.spacing[0]) if self.spacing else (1.0, 1.0)

    @property
    def length_unit(self) -> str:
        return "mm" if self.spacing else "px"

    @property
    def area_unit(self) -> str:
        return "mm²" if self.spacing else "px²"

    @property
    def spacing_notes(self) -> tuple[str, ...]:
        if self.spacing is None:
            return (NOTE_NO_SPACING,)
        return (NOTE_IMAGER_SPACING,) if self.spacing_source == "ImagerPixelSpacing" else ()

    def patient_position(self, column: float, row: float) -> tuple[float, float, float] | None:
        """Patient coordinates (mm) of an image point; None without plane or spacing."""
        if self.position is None or self.orientation is None or self.spacing is None:
            return None
        row_cosine, column_cosine = np.array(self.orientation[:3]), np.array(self.orientation[3:])
        point = (np.array(self.position) + column * self.spacing[1] * row_cosine
                 + row * self.spacing[0] * column_cosine)
        return (float(point[0]), float(point[1]), float(point[2]))


def _tuple(vector: np.ndarray | None) -> tuple[float, ...] | None:
    return None if vector is None else tuple(float(v) for v in vector)


def modality_unit(ds: Dataset) -> str:
    """The unit of modality values: HU for CT, else RescaleType, else 'modality units'."""
    if str(ds.get("Modality", "")) == "CT":
        return "HU"
    rescale_type = str(ds.get("RescaleType", "") or "")
    return rescale_type if rescale_type and rescale_type != "US" else "modality units"


@dataclass(frozen=True)
class Quantity:
    """One named value with its unit (``value`` None when there is nothing to compute)."""

    name: str
    value: float | None
    unit: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class MeasurementResult:
    """What a tool measured on an image: its values, and notes on how to read them."""

    tool: str
    points: tuple[tuple[float, float], ...]
    values: tuple[Quantity, ...] = ()
    notes: tuple[str, ...] = ()
    text: str = ""
    patient_position: tuple[float, float, float] | None = None

    def value(self, name: str) -> Quantity | None:
        return next((q for q in self.values if q.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "points": [list(p) for p in self.points],
            "values": [q.to_json() for q in self.values],
            "notes": list(self.notes),
            "text": self.text,
            "patientPosition": None if self.patient_position is None
            else list(self.patient_position),
        }


@dataclass(frozen=True)
class ImageReference:
    """The image a measurement is drawn on: its instance and (1-based) frame."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str = ""
    frame_number: int = 1
    number_of_frames: int = field(default=1, compare=False)
    """Of the instance: an SR names the frame only of a multi-frame image."""


@dataclass(frozen=True)
class Measurement:
    """A measurement as the panel, the CSV and the SR hold it: result + image + label."""

    uid: str
    label: str
    image: ImageReference
    result: MeasurementResult
    patient: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "label": self.label,
            "studyInstanceUID": self.image.study_instance_uid,
            "seriesInstanceUID": self.image.series_instance_uid,
            "sopInstanceUID": self.image.sop_instance_uid,
            "sopClassUID": self.image.sop_class_uid,
            "frameNumber": self.image.frame_number,
            "patientName": self.patient.get("PatientName", ""),
            "patientId": self.patient.get("PatientID", ""),
            **self.result.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Measurement:
        """A measurement sent back by the page (to save or export), checked."""
        try:
            result = MeasurementResult(
                tool=_tool(str(obj["tool"])),
                points=_points(str(obj["tool"]), obj["points"]),
                values=tuple(
                    Quantity(str(q["name"]), None if q.get("value") is None
                             else float(q["value"]), str(q.get("unit", "")))
                    for q in obj.get("values") or ()
                ),
                notes=tuple(str(n) for n in obj.get("notes") or ()),
                text=str(obj.get("text") or ""),
            )
            image = ImageReference(
                study_instance_uid=str(obj["studyInstanceUID"]),
                series_instance_uid=str(obj["seriesInstanceUID"]),
                sop_instance_uid=str(obj["sopInstanceUID"]),
                sop_class_uid=str(obj.get("sopClassUID") or ""),
                frame_number=int(obj.get("frameNumber") or 1),
            )
            patient = {"PatientName": str(obj.get("patientName") or ""),
                       "PatientID": str(obj.get("patientId") or "")}
            return cls(str(obj.get("uid") or ""), str(obj.get("label") or ""), image, result,
                       patient)
        except (KeyError, TypeError, ValueError) as exc:
            raise MeasurementError(f"not a measurement: {exc!s} in {dict(obj)!r:.200}") from None


def _tool(tool: str) -> str:
    if tool not in TOOLS:
        raise MeasurementError(f"no measurement tool {tool!r}; one of {', '.join(TOOLS)}")
    return tool


def _points(tool: str, points: Any) -> tuple[tuple[float, float], ...]:
    """The points as float pairs, as many as the tool takes."""
    spec = TOOLS[_tool(tool)]
    low, high = spec.fewest_points, spec.most_points
    try:
        pairs = tuple((float(p[0]), float(p[1])) for p in points)
    except (TypeError, ValueError, IndexError, KeyError):
        raise MeasurementError(f"{tool}: points must be [column, row] pairs") from None
    if not low <= len(pairs) <= high:
        wanted = str(low) if low == high else f"at least {low}"
        raise MeasurementError(f"{tool} takes {wanted} points, not {len(pairs)}")
    if not all(math.isfinite(v) for p in pairs for v in p):
        raise MeasurementError(f"{tool}: points must be finite numbers")
    return pairs


def measure(
    tool: str,
    points: Sequence[Sequence[float]],
    geometry: ImageGeometry,
    values: np.ndarray | None = None,
    unit: str = "modality units",
    text: str = "",
) -> MeasurementResult:
    """Measure with ``tool`` at ``points`` on an image.

    ``values`` are the frame's modality values ``(rows, columns)`` (None for colour
    images: ROI tools then give the area only, probe no value); ``unit`` is theirs
    (:func:`modality_unit`); ``text`` is an arrow's label.
    """
    pts = _points(tool, points)
    if tool in ("RectangleROI", "EllipticalROI"):
        (x0, y0), (x1, y1) = pts
        pts = ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1)))
    scaled = [np.array(p) * geometry.scale for p in pts]
    length, area = geometry.length_unit, geometry.area_unit
    notes = geometry.spacing_notes
    if tool == "Length":
        quantities = [Quantity("length", _distance(*scaled), length)]
    elif tool == "Bidirectional":
        axes = [_distance(*scaled[:2]), _distance(*scaled[2:])]
        if axes[1] > axes[0]:  # the long axis first, as the SR pairs each with its points
            pts, axes = pts[2:] + pts[:2], axes[::-1]
        quantities = [Quantity("longAxis", axes[0], length), Quantity("shortAxis", axes[1], length)]
    elif tool == "Angle":
        quantities = [Quantity("angle", _angle(scaled[0] - scaled[1], scaled[2] - scaled[1]), "°")]
    elif tool == "CobbAngle":
        between = _angle(scaled[1] - scaled[0], scaled[3] - scaled[2])
        cobb = None if between is None else min(between, 180.0 - between)
        quantities = [Quantity("angle", cobb, "°")]
    elif tool == "Probe":
        return _probe(pts, geometry, values, unit)
    elif tool == "ArrowAnnotate":
        return MeasurementResult(tool, pts, (), (), str(text))
    else:
        window, inside, shape_area = _roi(tool, pts, geometry)
        quantities = [Quantity("area", shape_area * geometry.scale[0] * geometry.scale[1], area)]
        extra, stats = _roi_statistics(
            pts, tool, geometry, inside, None if values is None else values[window], unit)
        quantities += stats
        notes = notes + extra
    return MeasurementResult(tool, pts, tuple(quantities), notes)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(b - a)))


def _angle(u: np.ndarray, v: np.ndarray) -> float | None:
    """Degrees between two vectors (0..180); None when one has no length."""
    nu, nv = float(np.hypot(*u)), float(np.hypot(*v))
    if nu == 0 or nv == 0:
        return None
    cosine = float(np.dot(u, v)) / (nu * nv)
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def _probe(
    pts: tuple[tuple[float, float], ...], geometry: ImageGeometry, values: np.ndarray | None,
    unit: str,
) -> MeasurementResult:
    """The value of the pixel whose square holds the point, and its patient position."""
    column, row = (math.floor(c + 0.5) for c in pts[0])
    if not (0 <= column < geometry.columns and 0 <= row < geometry.rows):
        raise MeasurementError(f"the probe at ({pts[0][0]:g}, {pts[0][1]:g}) is outside the "
                               f"{geometry.columns}x{geometry.rows} image")
    quantities: tuple[Quantity, ...] = ()
    notes: tuple[str, ...] = ()
    if values is not None:
        quantities = (Quantity("value", float(values[row, column]), unit),)
    position = geometry.patient_position(column, row)
    if position is None:
        notes = ("no patient coordinates: the image has no plane or spacing",)
    return MeasurementResult("Probe", pts, quantities, notes, patient_position=position)


def _roi(
    tool: str, pts: tuple[tuple[float, float], ...], geometry: ImageGeometry
) -> tuple[tuple[slice, slice], np.ndarray, float]:
    """The image window around the ROI, the mask of pixel centres inside it, and its area
    in pixel units (the window keeps a small ROI on a large image cheap)."""
    xs, ys = _extent(tool, pts)
    window = (_span(ys, geometry.rows), _span(xs, geometry.columns))
    rows, columns = np.mgrid[window].astype(float)
    if tool == "RectangleROI":
        (x0, y0), (x1, y1) = pts
        inside = (columns >= x0) & (columns <= x1) & (rows >= y0) & (rows <= y1)
        return window, inside, (x1 - x0) * (y1 - y0)
    if tool in ("EllipticalROI", "CircleROI"):
        if tool == "EllipticalROI":
            (x0, y0), (x1, y1) = pts
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        else:
            (cx, cy), edge = pts
            rx = ry = math.hypot(edge[0] - cx, edge[1] - cy)
        if rx == 0 or ry == 0:
            return window, np.zeros_like(columns, dtype=bool), 0.0
        inside = ((columns - cx) / rx) ** 2 + ((rows - cy) / ry) ** 2 <= 1.0
        return window, inside, math.pi * rx * ry
    vx, vy = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    inside = np.zeros_like(columns, dtype=bool)
    for k in range(len(pts)):  # even-odd rule: toggle where a ray to the right crosses an edge
        xa, ya, xb, yb = vx[k - 1], vy[k - 1], vx[k], vy[k]
        if ya == yb:
            continue
        spans = (ya > rows) != (yb > rows)
        crossing = xa + (rows - ya) * (xb - xa) / (yb - ya)
        inside ^= spans & (columns < crossing)
    area = 0.5 * abs(float(np.dot(vx, np.roll(vy, -1)) - np.dot(vy, np.roll(vx, -1))))
    return window, inside, area


def _roi_statistics(
    pts: tuple[tuple[float, float], ...], tool: str, geometry: ImageGeometry,
    inside: np.ndarray, values: np.ndarray | None, unit: str,
) -> tuple[tuple[str, ...], list[Quantity]]:
    """Notes and the mean/stdDev/min/max of the pixels inside (None where undefined).

    ``inside`` and ``values`` cover the same window of the image.
    """
    notes: list[str] = []
    if _extends_outside(tool, pts, geometry):
        notes.append("partly outside the image: statistics of the pixels inside it")
    if values is None:
        notes.append("colour image: no pixel statistics")
        return tuple(notes), []
    selected = values[inside].astype(np.float64)
    if selected.size == 0:
        notes.append("no pixel centre inside the ROI")
        stats: list[float | None] = [None, None, None, None]
    else:
        stats = [float(selected.mean()), float(selected.std()),
                 float(selected.min()), float(selected.max())]
    names = ("mean", "stdDev", "min", "max")
    return tuple(notes), [Quantity(n, v, unit) for n, v in zip(names, stats, strict=True)] + [
        Quantity("pixelCount", float(selected.size), "pixels")]


def _span(extent: tuple[float, float], size: int) -> slice:
    """Indices of the pixel centres within ``extent``, clipped to ``0..size`` (maybe empty)."""
    start = min(max(math.ceil(extent[0]), 0), size)
    return slice(start, max(min(math.floor(extent[1]) + 1, size), start))


def _extent(tool: str, pts: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """(min x, max x), (min y, max y) of the shape."""
    if tool == "CircleROI":
        (cx, cy), edge = pts
        r = math.hypot(edge[0] - cx, edge[1] - cy)
        return (cx - r, cx + r), (cy - r, cy + r)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (min(xs), max(xs)), (min(ys), max(ys))


def _extends_outside(tool: str, pts: tuple[tuple[float, float], ...],
                     geometry: ImageGeometry) -> bool:
    """Whether the shape reaches beyond the image's edges (pixel squares, not centres)."""
    xs, ys = _extent(tool, pts)
    return (xs[0] < -0.5 or ys[0] < -0.5 or xs[1] > geometry.columns - 0.5
            or ys[1] > geometry.rows - 0.5)
