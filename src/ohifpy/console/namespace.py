"""A console cell's names: ``viewer``, ``show``, ``overlay``, ``np``/``numpy`` and ``pydicom``.

:class:`Console` makes them over a :class:`~ohifpy.console.viewer.Viewer` and keeps what
the cells showed (:attr:`Console.shown`, :class:`~ohifpy.console.derived.DerivedImage`) and
laid over the images (:attr:`Console.overlays`, :class:`~ohifpy.console.derived.Overlay`),
for the browser's worker to turn into display sets and blended masks. What ``show`` and
``overlay`` return is the caller's choice (``present_image``, ``present_overlay``): the
record itself by default, a PIL image in CPython (:func:`picture_of_image`,
:func:`picture_of_overlay`).

``show(array, name=None, *, window=None, spacing=None)``
    ``array`` is ``(rows, columns)`` or a stack ``(frames, rows, columns)`` (or an RGB
    ``viewer.image``). It is placed by its own geometry when it is a SpatialArray (a MIP
    ``viewer.volume.max(axis=0)`` keeps the volume's row and column spacing and plane),
    else by the current image's or the volume's when it has their shape, else by
    ``spacing`` (mm per step along the last two axes) if given, else in pixels. Its window
    is ``window``, else the viewport's (the source's: the derived image looks as the
    images it was computed from), else one spanning its values; a boolean array shows
    False black and True white. A MONOCHROME1 source gives a MONOCHROME1 derived image.
``overlay(mask, colour="red", *, opacity=0.5, mode="both", name=None)``
    ``mask`` is boolean, the shape of ``viewer.image`` (over the current image) or of
    ``viewer.volume`` (over every image of the display set); any other shape is a
    ConsoleError naming both shapes. Drawn as a SEG segment is (fill at ``opacity`` and an
    opaque outline; ``mode`` "fill", "outline" or "both").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pydicom

from .arrays import Grid, SpatialArray
from .derived import ConsoleError, DerivedImage, Overlay, as_colour, as_window
from .viewer import Viewer, describe, image_grid, volume_geometry

__all__ = ["HELP", "Console", "picture_of_image", "picture_of_overlay"]

HELP = """\
viewer.image         the current image: numpy array [row, column] of modality values (HU for
                     CT), with .spacing (row, column mm), .origin, .orientation, .dataset
viewer.volume        the series as [slice, row, column], with .affine (patient mm of
                     (column, row, slice, 1)); .spacing, .origin, .orientation
viewer.measurements  the measurements: .tool, .label, .points [column, row], .values, m["mean"]
viewer.window        the viewport's window (center, width)
show(array, name=)   show a 2-D or 3-D array as a new series (spacing from its source)
overlay(mask, colour=)  lay a boolean mask over the current image or the volume
np, numpy, pydicom   imported"""
"""What the console's help says of its names."""


class Console:
    """The names of a console's cells over ``viewer`` and what they showed."""

    def __init__(self, viewer: Viewer, *,
                 present_image: Callable[[DerivedImage], Any] | None = None,
                 present_overlay: Callable[[Overlay], Any] | None = None) -> None:
        self.viewer = viewer
        self.shown: list[DerivedImage] = []
        self.overlays: list[Overlay] = []
        self._present_image = present_image
        self._present_overlay = present_overlay

    def namespace(self) -> dict[str, Any]:
        """A cell's globals: run ``exec(code, console.namespace())``."""
        return {"viewer": self.viewer, "show": self.show, "overlay": self.overlay,
                "np": np, "numpy": np, "pydicom": pydicom}

    def show(self, array: Any, name: str | None = None, *, window: Any = None,
             spacing: Any = None) -> Any:
        """Show ``array`` as a new display set (see the module's docstring)."""
        values = np.asarray(array)
        display_set = self.viewer.display_set
        grid = array.grid if isinstance(array, SpatialArray) else None
        rgb = grid is not None and grid.axes == 2 and values.ndim == 3
        if grid is None:
            grid = self._grid_of_shape(values.shape)
        if spacing is not None:
            grid = Grid(values.ndim, _spacing(spacing, values.ndim))
        if window is not None:
            window = as_window(window)
        elif not rgb and values.dtype != bool:
            window = self.viewer.window
        photometric = "RGB" if rgb else self._photometric()
        derived = DerivedImage.from_array(
            str(name) if name is not None else f"Python {len(self.shown) + 1}", values, grid,
            window, photometric=photometric, source_display_set_uid=display_set.display_set_uid,
            frame_of_reference_uid=display_set.frame_of_reference_uid)
        self.shown.append(derived)
        return derived if self._present_image is None else self._present_image(derived)

    def overlay(self, mask: Any, colour: Any = "red", *, opacity: float = 0.5,
                mode: str = "both", name: str | None = None) -> Any:
        """Lay a boolean ``mask`` over the current image or the volume."""
        values = np.asarray(mask)
        if values.dtype != bool:
            raise ConsoleError(f"overlay takes a boolean mask (e.g. viewer.image > 300), not "
                               f"an array of {values.dtype}")
        display_set, index = self.viewer.display_set, self.viewer.index
        image = display_set.images[index].instance
        image_index: int | None = index
        slots = None
        if values.shape != (image.rows, image.columns):
            try:
                geometry = volume_geometry(display_set)
            except ConsoleError as exc:
                raise ConsoleError(f"the mask's shape {values.shape} is not the image's "
                                   f"{(image.rows, image.columns)} (and {exc})") from None
            if values.shape != geometry.shape:
                raise ConsoleError(f"the mask's shape {values.shape} is neither the image's "
                                   f"{(image.rows, image.columns)} nor the volume's "
                                   f"{geometry.shape}")
            image_index, slots = None, geometry.slots
        made = Overlay(str(name) if name is not None else f"Mask {len(self.overlays) + 1}",
                       values.copy(), as_colour(colour), display_set.display_set_uid,
                       image_index, slots, float(opacity), mode)
        self.overlays.append(made)
        return made if self._present_overlay is None else self._present_overlay(made)

    def _grid_of_shape(self, shape: tuple[int, ...]) -> Grid | None:
        """The current image's grid, or its volume's, if an array has its shape."""
        display_set, index = self.viewer.display_set, self.viewer.index
        image = display_set.images[index]
        if shape == (image.instance.rows, image.instance.columns):
            return image_grid(image)
        if len(shape) == 3:
            try:
                geometry = volume_geometry(display_set)
            except ConsoleError:
                return None
            if shape == geometry.shape:
                return Grid.of_affine(geometry.affine)
        return None

    def _photometric(self) -> str:
        """MONOCHROME1 when the current image is (derived images look as their source)."""
        display_set, index = self.viewer.display_set, self.viewer.index
        kept = display_set.images[index].instance.metadata.get("PhotometricInterpretation", "")
        return "MONOCHROME1" if str(kept).strip() == "MONOCHROME1" else "MONOCHROME2"

    def __repr__(self) -> str:
        return (f"<console on {describe(self.viewer.display_set)}: {len(self.shown)} shown, "
                f"{len(self.overlays)} overlays>")


def _spacing(value: Any, ndim: int) -> tuple[float, ...]:
    """``show``'s spacing: mm per step along the last two axes (all three of a stack may be
    given), positive numbers."""
    try:
        spacing = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        spacing = ()
    if len(spacing) == 2 and ndim == 3:
        spacing = (1.0, *spacing)
    if len(spacing) != ndim or not all(s > 0 for s in spacing):
        raise ConsoleError(f"spacing must be {ndim} positive numbers (mm per step along each "
                           f"axis), not {value!r}")
    return spacing


def picture_of_image(derived: DerivedImage) -> Any:
    """A derived image as a PIL image (its middle frame): mode L for grayscale, RGB for
    colour. CPython only (PIL)."""
    return _picture(derived.render(), grayscale=not derived.is_color)


def picture_of_overlay(viewer: Viewer) -> Callable[[Overlay], Any]:
    """``overlay``'s presenter for CPython: the current image through the viewer's window
    with the mask blended, as a PIL RGB image."""

    def present(made: Overlay) -> Any:
        return _picture(made.blend(viewer.render(), viewer.index), grayscale=False)

    return present


def _picture(rgba: np.ndarray, *, grayscale: bool) -> Any:
    from PIL import Image  # CPython: the browser paints RGBA onto a canvas instead

    return Image.fromarray(np.ascontiguousarray(rgba[..., 0] if grayscale else rgba[..., :3]))
