"""What a console cell hands the viewer: a derived image to show, a mask to overlay.

Both are plain records of numpy arrays, the same in CPython and in the browser: ``show``
and ``overlay`` make them (:mod:`ohifpy.console.namespace`); CPython renders them to a
picture at once, the browser's worker turns a :class:`DerivedImage` into a display set of
its own and blends an :class:`Overlay` into the images it renders.

A derived image is grayscale frames (or one RGB image), placed as DICOM places images:
each frame's ImagePositionPatient, one ImageOrientationPatient and PixelSpacing, so a
display set can be made of it as of any series (sorted, reconstructable, measured), and a
window: the source viewport's, so that ``show(viewer.volume.max(axis=0))`` looks like the
images it was computed from. It renders through the viewer's own pipeline
(:func:`ohifpy.imaging.render_rgba`), so the canvas and CPython give the same pixels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import OhifpyError
from ..imaging import ImageFrame, VOIWindow, render_rgba
from ..measure import ImageGeometry
from ..viewer.segmentations import DEFAULT_OPACITY, MODES, MaskLayer, blend
from .arrays import Grid

__all__ = ["COLOURS", "ConsoleError", "DerivedImage", "Overlay", "as_colour", "as_window"]


class ConsoleError(OhifpyError, ValueError):
    """A console name used in a way it cannot be (told to the user as it is)."""


COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "orange": (255, 165, 0),
    "purple": (128, 0, 128), "white": (255, 255, 255), "black": (0, 0, 0),
}
"""Colour names ``overlay`` knows (besides ``#rrggbb`` and ``(r, g, b)``)."""
_HEX = re.compile(r"#([0-9a-fA-F]{6})")


def as_colour(value: Any) -> tuple[int, int, int]:
    """A colour name, ``#rrggbb`` or an ``(r, g, b)`` of 0..255 as an RGB triple."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in COLOURS:
            return COLOURS[text]
        if match := _HEX.fullmatch(text):
            code = int(match.group(1), 16)
            return code >> 16, (code >> 8) & 0xFF, code & 0xFF
    elif isinstance(value, (Sequence, np.ndarray)) and len(value) == 3:
        try:
            red, green, blue = (int(v) for v in value)
        except (TypeError, ValueError):
            pass
        else:
            rgb = (red, green, blue)
            if all(0 <= v <= 255 and v == c for v, c in zip(rgb, value, strict=True)):
                return rgb
    raise ConsoleError(f"colour must be one of {', '.join(COLOURS)}, '#rrggbb' or (r, g, b) "
                       f"of 0..255, not {value!r}")


def as_window(value: Any) -> VOIWindow:
    """A VOIWindow, or ``(center, width)``, as a window (width at least 1)."""
    if isinstance(value, VOIWindow):
        return value
    try:
        center, width = value
        return VOIWindow(float(center), float(width))
    except (TypeError, ValueError) as exc:
        raise ConsoleError(f"window must be (center, width) with width >= 1, not {value!r} "
                           f"({exc})") from None


def value_window(array: np.ndarray) -> VOIWindow:
    """The window spanning an array's finite values (as :meth:`ImageFrame.default_window`
    spans a frame's): the lowest black, the highest white; a boolean's False black, True
    white."""
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return VOIWindow(0.5, 1.0, "LINEAR_EXACT")
    low, high = float(finite.min()), float(finite.max())
    return VOIWindow((low + high) / 2, max(high - low, 1.0), "LINEAR_EXACT", "minimum to maximum")


@dataclass(frozen=True, eq=False, repr=False)
class DerivedImage:
    """An array a cell showed, placed and windowed to become a display set of its own.

    ``array`` is ``(rows, columns)`` or ``(frames, rows, columns)`` of numbers (booleans
    are 0 and 1), or ``(rows, columns, 3)`` uint8 when ``photometric_interpretation`` is
    ``RGB``. ``spacing`` is each frame's PixelSpacing (row, column mm), ``positions`` each
    frame's ImagePositionPatient, ``orientation`` their ImageOrientationPatient (6 values);
    each None when the array's origin does not say (then sizes are in pixels).
    ``window`` renders grayscale frames (None for RGB). ``source_display_set_uid`` and
    ``frame_of_reference_uid`` name the display set it was computed from and its frame of
    reference ('' when not placed in it).
    """

    name: str
    array: np.ndarray
    spacing: tuple[float, float] | None
    positions: tuple[tuple[float, float, float], ...] | None
    orientation: tuple[float, ...] | None
    window: VOIWindow | None
    photometric_interpretation: str = "MONOCHROME2"
    source_display_set_uid: str = ""
    frame_of_reference_uid: str = ""

    @classmethod
    def from_array(cls, name: str, array: np.ndarray, grid: Grid | None,
                   window: VOIWindow | None, *, photometric: str = "MONOCHROME2",
                   source_display_set_uid: str = "",
                   frame_of_reference_uid: str = "") -> DerivedImage:
        """A derived image of ``array`` placed by ``grid`` (its spatial axes: 2 for one
        image, 3 for frames); ``window`` None: one spanning its values."""
        rgb = photometric == "RGB"
        values = np.array(array, copy=True)  # the cell may change its own array afterwards
        spatial = 2 if rgb else values.ndim
        if rgb and (values.shape[2:] != (3,) or values.dtype != np.uint8):
            raise ConsoleError(f"an RGB image is (rows, columns, 3) uint8, not {values.shape} "
                               f"{values.dtype}")
        if not rgb and (values.ndim not in (2, 3) or values.dtype.kind not in "biuf"):
            raise ConsoleError(
                "show takes a 2-D image (rows, columns) or a 3-D stack (frames, rows, columns) "
                f"of numbers, not an array of shape {values.shape} and dtype {values.dtype}")
        if values.dtype == bool:
            values = values.astype(np.uint8)
            window = window or VOIWindow(0.5, 1.0, "LINEAR_EXACT", "false to true")
        if grid is not None and grid.axes != spatial:
            grid = None
        spacing = positions = orientation = None
        if grid is not None:
            if grid.spacing is not None:
                spacing = (grid.spacing[-2], grid.spacing[-1])
            if grid.directions is not None:
                orientation = tuple(float(v) for v in np.concatenate(grid.directions[-1:-3:-1]))
            positions = _positions(grid, values.shape[0] if spatial == 3 else 1)
        if not rgb and window is None:
            window = value_window(values)
        return cls(name, values, spacing, positions, orientation, None if rgb else window,
                   photometric, source_display_set_uid,
                   frame_of_reference_uid if positions is not None else "")

    @property
    def frames(self) -> int:
        """How many images it holds: one, or the first axis of a 3-D grayscale array."""
        return self.array.shape[0] if self.array.ndim == 3 and not self.is_color else 1

    @property
    def is_color(self) -> bool:
        return self.photometric_interpretation == "RGB"

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of each frame."""
        return self.array.shape[:2] if self.is_color or self.array.ndim == 2 \
            else self.array.shape[1:]

    @property
    def origin(self) -> tuple[float, float, float] | None:
        """The first frame's ImagePositionPatient."""
        return None if self.positions is None else self.positions[0]

    def pixels(self, index: int) -> np.ndarray:
        """The values of frame ``index``."""
        if not -self.frames <= index < self.frames:
            raise ConsoleError(f"frame {index} is out of range 0..{self.frames - 1} of "
                               f"{self.name!r}")
        return self.array if self.is_color or self.array.ndim == 2 else self.array[index]

    def frame(self, index: int = 0) -> ImageFrame:
        """Frame ``index`` as the pixel pipeline's decoded frame: renders (and measures) as
        any image does. NaN shows as the window's lowest value."""
        values = self.pixels(index)
        if values.dtype.kind == "f" and np.isnan(values).any():
            values = np.where(np.isnan(values), -np.inf, values)
        return ImageFrame(values, self.photometric_interpretation,
                          windows=() if self.window is None else (self.window,))

    def render(self, index: int | None = None, window: VOIWindow | None = None) -> np.ndarray:
        """Frame ``index`` (the middle one by default) as ``(rows, columns, 4)`` uint8 RGBA
        through ``window`` (its own by default)."""
        frame = self.frame(self.frames // 2 if index is None else index)
        return render_rgba(frame, None if frame.is_color else (window or self.window))

    def __repr__(self) -> str:
        rows, columns = self.shape
        mm = "" if self.spacing is None else f", {self.spacing[0]:g}x{self.spacing[1]:g} mm pixels"
        frames = f"{self.frames} frames" if self.frames > 1 else "1 image"
        return (f"<shown {self.name!r}: {frames} of {rows}x{columns} {self.array.dtype}{mm}>")

    def image_geometry(self, index: int = 0) -> ImageGeometry:
        """Where frame ``index``'s pixels are, for :func:`ohifpy.measure.measure`."""
        rows, columns = self.shape
        return ImageGeometry(rows, columns, self.spacing, "PixelSpacing" if self.spacing else "",
                             None if self.positions is None else self.positions[index],
                             self.orientation)


def _positions(grid: Grid, count: int) -> tuple[tuple[float, float, float], ...] | None:
    """Each frame's position: the origin, then along the frames' axis (3 axes)."""
    if grid.origin is None:
        return None
    if count == 1 and grid.axes == 2:
        return (tuple(float(v) for v in grid.origin),)  # type: ignore[return-value]
    steps = grid.steps
    if steps is None:
        return None
    points = grid.origin + np.arange(count)[:, None] * steps[0]
    return tuple(tuple(float(v) for v in p) for p in points)  # type: ignore[misc]


@dataclass(frozen=True, eq=False, repr=False)
class Overlay:
    """A boolean mask a cell laid over the viewer's images, in ``colour`` at ``opacity``.

    ``mask`` is ``(rows, columns)`` over image ``image_index`` of display set
    ``display_set_uid`` (display order), or ``(slices, rows, columns)`` over its volume,
    indexed as ``viewer.volume``; then ``slots[i]`` is the mask slice of image ``i`` (the
    volume's slice of each image, :attr:`ohifpy.volume.VolumeGeometry.slots`). Drawn as SEG
    segments are (:func:`ohifpy.viewer.segmentations.blend`; ``mode`` fill, outline, both).
    """

    name: str
    mask: np.ndarray
    colour: tuple[int, int, int]
    display_set_uid: str
    image_index: int | None = None
    slots: tuple[int, ...] | None = None
    opacity: float = DEFAULT_OPACITY
    mode: str = "both"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConsoleError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 0 <= self.opacity <= 1:
            raise ConsoleError(f"opacity must be 0..1, not {self.opacity!r}")
        if (self.image_index is None) == (self.slots is None) or \
                self.mask.ndim != (2 if self.slots is None else 3):
            raise ConsoleError("an overlay is a 2-D mask on one image or a 3-D mask on a volume")

    def __repr__(self) -> str:
        over = "the volume" if self.slots is not None else f"image {self.image_index}"
        return (f"<overlay {self.name!r}: {int(self.mask.sum()):,} pixels over {over}, "
                f"colour {self.colour}>")

    def mask_of(self, image_index: int) -> np.ndarray | None:
        """The mask over image ``image_index`` of its display set, None where it has none."""
        if self.slots is None:
            return self.mask if image_index == self.image_index else None
        return self.mask[self.slots[image_index]]

    def blend(self, rgba: np.ndarray, image_index: int) -> np.ndarray:
        """Blend into ``(rows, columns, 4)`` RGBA of image ``image_index`` (in place)."""
        mask = self.mask_of(image_index)
        if mask is None:
            return rgba
        return blend(rgba, [MaskLayer(mask, self.colour, self.opacity, self.mode)])
