"""``viewer``: the images a console cell computes on, read from whatever holds them.

:class:`Viewer` is the same object in the browser's console and in a CPython script; what
differs is its :class:`ViewerSource`: the worker's open display sets, active viewport and
decoded-frame cache in the browser, a study opened from a data source in CPython
(:mod:`ohifpy.console.study`). A source answers synchronously (a cell is plain code): in
CPython it waits for what it fetches; in the browser it answers from what the viewer
holds, or raises :class:`~ohifpy.console.derived.ConsoleError` saying what is still loading.

``viewer.image``
    The active viewport's current image as a read-only :class:`~ohifpy.console.arrays.
    SpatialArray` ``[row, column]`` of modality values, exactly the values the viewer
    measures (rescale or Modality LUT applied: HU for CT; int16 for a CT with an integral
    intercept, float32 for another rescale). A colour image is ``[row, column, channel]``
    uint8 RGB (a PALETTE COLOR image through its palette).
``viewer.volume``
    The active display set as a read-only ``[slice, row, column]`` SpatialArray of modality
    values, slices in ascending position along the normal of the first image (which may
    be the reverse of the display order: ``viewer.volume_index`` gives the slice of the
    current image), ``.affine`` that of :class:`ohifpy.volume.VolumeGeometry`. Only a
    reconstructable display set is a volume (:mod:`ohifpy.reconstructable`); another
    raises ``ConsoleError("<series> is not a volume: <reason>")``. Slices missing from a
    series with gaps hold the lowest value.
``viewer.measurements``
    A list of :class:`ViewerMeasurement`: tool, label, points (``[column, row]``, pixel
    centres at integers, as :mod:`ohifpy.measure`), values by name, where it is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..imaging import ImageFrame, VOIWindow, render_rgba
from ..measure import ImageGeometry, Measurement
from ..model import DisplaySet, ImageRef, describe
from ..volume import Volume, VolumeGeometry
from .arrays import Grid, SpatialArray
from .derived import ConsoleError, as_window

__all__ = ["Viewer", "ViewerMeasurement", "ViewerSource", "describe", "image_array",
           "image_grid", "not_a_volume", "volume_array", "volume_geometry"]


class ViewerSource(Protocol):
    """What a :class:`Viewer` reads. Every method may raise ConsoleError (told as it is)."""

    def display_sets(self) -> Sequence[DisplaySet]:
        """The open display sets, in the series panel's order."""
        ...

    def active(self) -> tuple[DisplaySet, int]:
        """The active viewport's display set and the index of its current image."""
        ...

    def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        """Image ``index`` of a display set, decoded."""
        ...

    def volume(self, display_set: DisplaySet) -> Volume:
        """A display set's volume with every image's slice loaded; ConsoleError (see
        :func:`not_a_volume`) when it is none."""
        ...

    def window(self) -> VOIWindow | None:
        """The active viewport's window; None: the current image's own default."""
        ...

    def measurements(self) -> Sequence[Measurement]:
        """The measurements, as the measurement panel lists them."""
        ...

    def activate(self, display_set: DisplaySet, index: int, window: VOIWindow | None) -> None:
        """Make an image current (and, when given, the window); a source that cannot
        (the browser: the user's viewport is) raises ConsoleError."""
        ...


def not_a_volume(display_set: DisplaySet, reason: str) -> ConsoleError:
    """The error of a display set that is no volume, with the reason."""
    return ConsoleError(f"{describe(display_set)} is not a volume: {reason}")


def image_array(frame: ImageFrame, image: ImageRef) -> SpatialArray:
    """A decoded frame's modality values (RGB for colour) placed by its image's plane and
    pixel spacing (PixelSpacing, else ImagerPixelSpacing, as measurements use); a
    read-only view of the frame the viewer holds."""
    values = frame.values
    if frame.palette is not None:
        values = frame.palette.lookup(frame.stored).astype(np.uint8)
    return SpatialArray(values, image_grid(image), image.instance.metadata, writeable=False)


def image_grid(image: ImageRef) -> Grid:
    """Where an image's pixels are (from its metadata: no pixels needed)."""
    geometry = ImageGeometry.from_image(image)
    return Grid.of_plane(geometry.spacing, geometry.position, geometry.orientation)


def volume_array(volume: Volume, display_set: DisplaySet) -> SpatialArray:
    """A volume's modality values placed by its geometry's affine, read-only: a view of
    volumes that hold them (as the console's volumes sent whole do), else computed."""
    return SpatialArray(volume.values(), Grid.of_affine(volume.geometry.affine),
                        display_set.images[0].instance.metadata, writeable=False)


def volume_geometry(display_set: DisplaySet) -> VolumeGeometry:
    """A display set's volume geometry, or ConsoleError saying why it has none."""
    if not display_set.is_image:
        raise not_a_volume(display_set, f"a {display_set.kind.upper()} is no image stack")
    if not display_set.is_reconstructable:
        raise not_a_volume(display_set, display_set.reconstruction.reason or "not reconstructable")
    try:
        return VolumeGeometry.from_display_set(display_set)
    except ValueError as exc:
        raise not_a_volume(display_set, str(exc)) from None


@dataclass(frozen=True, eq=False)
class ViewerMeasurement:
    """A measurement as a cell reads it.

    ``points`` are ``(n, 2)`` image coordinates ``[column, row]`` (pixel centres at
    integers), ``values`` the measured quantities by name (``length``, ``area``, ``mean``,
    ``stdDev``, ``min``, ``max``, ``angle``, ``value``, ...; ``m["mean"]`` reads one) and
    ``units`` theirs. ``display_set_uid`` and ``image_index`` say where it is drawn (None
    when its image is in no open display set), ``patient_points`` its points in patient
    mm where that image is placed. ``measurement`` is :class:`ohifpy.measure.Measurement`.
    """

    tool: str
    label: str
    points: np.ndarray
    values: dict[str, float | None]
    units: dict[str, str]
    text: str
    uid: str
    measurement: Measurement
    display_set_uid: str | None = None
    image_index: int | None = None
    patient_points: np.ndarray | None = None

    @classmethod
    def of(cls, measurement: Measurement, display_set_uid: str | None = None,
           image_index: int | None = None,
           geometry: ImageGeometry | None = None) -> ViewerMeasurement:
        """A measurement, drawn on image ``image_index`` (of ``geometry``) of a display set."""
        result = measurement.result
        points = np.asarray(result.points, dtype=float).reshape(-1, 2)
        placed = None if geometry is None else [geometry.patient_position(c, r)
                                                for c, r in points]
        return cls(result.tool, measurement.label, points,
                   {q.name: q.value for q in result.values},
                   {q.name: q.unit for q in result.values}, result.text, measurement.uid,
                   measurement, display_set_uid, image_index,
                   None if placed is None or None in placed else np.asarray(placed, dtype=float))

    def __getitem__(self, name: str) -> float | None:
        values = self.values
        if name not in values:
            raise KeyError(f"{self.tool} has no {name!r}; it has {', '.join(values) or 'none'}")
        return values[name]

    def __repr__(self) -> str:
        quantities = ", ".join(f"{q.name}={q.value:.6g} {q.unit}".rstrip()
                               for q in self.measurement.result.values if q.value is not None)
        label = f" {self.label!r}" if self.label else ""
        return f"<{self.tool}{label}: {quantities or 'no values'}>"


class Viewer:
    """``viewer`` in a cell: the active image, its volume, the measurements (see the module's
    docstring)."""

    def __init__(self, source: ViewerSource) -> None:
        self._source = source

    @property
    def display_set(self) -> DisplaySet:
        """The active display set."""
        return self._source.active()[0]

    @property
    def index(self) -> int:
        """The index of the current image in the active display set (display order)."""
        return self._source.active()[1]

    @property
    def display_sets(self) -> list[DisplaySet]:
        """The open display sets (image stacks and others), in the series panel's order."""
        return list(self._source.display_sets())

    @property
    def image(self) -> SpatialArray:
        display_set, index = self._source.active()
        return image_array(self._source.frame(display_set, index), display_set.images[index])

    @property
    def volume(self) -> SpatialArray:
        display_set = self.display_set
        volume_geometry(display_set)  # says why not before anything is loaded
        return volume_array(self._source.volume(display_set), display_set)

    @property
    def volume_index(self) -> int:
        """The slice of ``viewer.volume`` the current image is."""
        display_set, index = self._source.active()
        return volume_geometry(display_set).slots[index]

    @property
    def window(self) -> VOIWindow | None:
        """The active viewport's window (the image's default unless set); None for colour."""
        window = self._source.window()
        if window is not None:
            return window
        display_set, index = self._source.active()
        return self._source.frame(display_set, index).default_window()

    def render(self) -> np.ndarray:
        """The current image as the viewport draws it through ``window``: ``(rows, columns,
        4)`` uint8 RGBA (without overlays)."""
        display_set, index = self._source.active()
        return render_rgba(self._source.frame(display_set, index), self.window)

    @property
    def measurements(self) -> list[ViewerMeasurement]:
        placed = {(image.instance.sop_instance_uid, image.frame_number): (d, i, image)
                  for d in self._source.display_sets() for i, image in enumerate(d.images)}
        found = []
        for m in self._source.measurements():
            where = placed.get((m.image.sop_instance_uid, m.image.frame_number))
            if where is None:
                found.append(ViewerMeasurement.of(m))
            else:
                display_set, index, image = where
                found.append(ViewerMeasurement.of(m, display_set.display_set_uid, index,
                                                  ImageGeometry.from_image(image)))
        return found

    def select(self, series: Any = None, index: int | None = None, window: Any = None) -> Viewer:
        """Make another image current: ``series`` (a SeriesInstanceUID, display set UID,
        SeriesDescription or SeriesNumber; the active display set when None), ``index``
        (display order, negative from the end; the middle image when the series changes,
        else the current one), ``window`` ((center, width) or a VOIWindow). Returns the
        viewer."""
        current, current_index = self._source.active()
        display_set = current if series is None else self._find(series)
        if index is None:
            index = current_index if display_set is current else len(display_set.images) // 2
        count = len(display_set.images)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not -count <= index < count:
            raise ConsoleError(f"index must be an integer in {-count}..{count - 1} for "
                               f"{describe(display_set)}, not {index!r}")
        self._source.activate(display_set, int(index) % count,
                              None if window is None else as_window(window))
        return self

    def _find(self, series: Any) -> DisplaySet:
        stacks = [d for d in self._source.display_sets() if d.is_image]
        if isinstance(series, DisplaySet):
            matches = [d for d in stacks if d.display_set_uid == series.display_set_uid]
        elif isinstance(series, (int, np.integer)) and not isinstance(series, bool):
            matches = [d for d in stacks if d.series_number == series]
        else:
            text = str(series)
            matches = [d for d in stacks if text in (d.series_instance_uid, d.display_set_uid)]
            matches = matches or [d for d in stacks if d.series_description.strip() == text.strip()]
        if not matches:
            raise ConsoleError(f"no image series {series!r} here (by UID, description or "
                               f"number); there are {', '.join(map(describe, stacks))}")
        return matches[0]

    def __repr__(self) -> str:
        display_set, index = self._source.active()
        return (f"<viewer: {describe(display_set)}, image {index} of "
                f"{len(display_set.images)}>")
