"""What the browser's console worker and the viewer's worker send each other, as plain data.

The console runs cells in a worker of its own (:mod:`ohifpy.console.remote`), so a long
cell never holds up the viewer's rendering and no cell can reach the viewer's access
token. The two Pythons talk through the page in ``postMessage`` data: JSON values and
arrays as ``{dtype, shape, data}`` with ``data`` the bytes (a transferred buffer in the
browser). Each side checks what it receives: a dtype it knows, bytes that fill the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..imaging import VOIWindow
from ..model import DisplaySet
from .derived import ConsoleError, DerivedImage, Overlay

__all__ = ["array_from_message", "array_message", "derived_from_message", "derived_message",
           "instances_json", "overlay_from_message", "overlay_message", "window_from_message",
           "window_message"]

DTYPES = frozenset({"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                    "float64"})
"""The arrays a message may carry: what frames, volumes, masks and derived images hold."""
MAX_ELEMENTS = 1 << 30
"""No array in a message has more (a 2,000-slice 512x512 volume has 2**29)."""


def array_message(array: np.ndarray) -> dict[str, Any]:
    """An array as ``{dtype, shape, data}`` (``data`` its C-order bytes)."""
    values = np.ascontiguousarray(array)
    if values.dtype.name not in DTYPES:
        values = values.astype(np.float64 if values.dtype.kind in "fc" else np.int32)
    return {"dtype": values.dtype.name, "shape": list(values.shape), "data": values.tobytes()}


def array_from_message(message: Mapping[str, Any], what: str = "array") -> np.ndarray:
    """The array of an :func:`array_message` (read-only, over the message's bytes)."""
    try:
        dtype = np.dtype(str(message["dtype"]))
        shape = tuple(int(n) for n in message["shape"])
        data = message["data"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConsoleError(f"{what}: not an array message ({exc})") from None
    if dtype.name not in DTYPES or not 0 < len(shape) <= 4 or min(shape) < 0 \
            or int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        raise ConsoleError(f"{what}: no array of {dtype.name} {shape} is sent here")
    buffer = memoryview(data).cast("B")
    if buffer.nbytes != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise ConsoleError(f"{what}: {buffer.nbytes} bytes do not fill {dtype.name} {shape}")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def instances_json(display_set: DisplaySet) -> list[dict[str, Any]]:
    """The DICOM JSON of a display set's instances (each once): what the console makes the
    same display set of (:func:`ohifpy.model.display_sets_from_instances`)."""
    found: dict[str, dict[str, Any]] = {}
    for image in display_set.images:
        instance = image.instance
        if instance.sop_instance_uid not in found:
            found[instance.sop_instance_uid] = instance.json if instance.json is not None \
                else instance.metadata.to_json_dict(bulk_data_threshold=1 << 62)
    return list(found.values())


def window_message(window: VOIWindow | None) -> dict[str, Any] | None:
    return None if window is None else {"center": window.center, "width": window.width,
                                        "function": window.function,
                                        "explanation": window.explanation}


def window_from_message(message: Mapping[str, Any] | None) -> VOIWindow | None:
    if not message:
        return None
    try:
        return VOIWindow(float(message["center"]), max(float(message["width"]), 1.0),
                         str(message.get("function") or "LINEAR"),
                         str(message.get("explanation") or ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConsoleError(f"not a window: {exc}") from None


def derived_message(derived: DerivedImage) -> dict[str, Any]:
    """A derived image for the viewer's worker to make a display set of."""
    return {
        "name": derived.name,
        "array": array_message(derived.array),
        "spacing": None if derived.spacing is None else list(derived.spacing),
        "positions": None if derived.positions is None else [list(p) for p in derived.positions],
        "orientation": None if derived.orientation is None else list(derived.orientation),
        "window": window_message(derived.window),
        "photometricInterpretation": derived.photometric_interpretation,
        "sourceDisplaySetUID": derived.source_display_set_uid,
        "frameOfReferenceUID": derived.frame_of_reference_uid,
    }


def derived_from_message(message: Mapping[str, Any]) -> DerivedImage:
    """The derived image of a :func:`derived_message`, checked as ``show`` checks it."""
    array = array_from_message(message.get("array") or {}, "show")
    photometric = str(message.get("photometricInterpretation") or "MONOCHROME2")
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB"):
        raise ConsoleError(f"show: no photometric interpretation {photometric!r}")
    window = window_from_message(message.get("window"))
    made = DerivedImage.from_array(str(message.get("name") or "Python"), array, None, window,
                                   photometric=photometric,
                                   source_display_set_uid=str(message.get("sourceDisplaySetUID")
                                                              or ""))
    frames, (rows, columns) = made.frames, made.shape
    try:
        spacing = _floats(message.get("spacing"), 2)
        positions = None if message.get("positions") is None else \
            tuple(_floats(p, 3) for p in message["positions"])
        orientation = _floats(message.get("orientation"), 6)
    except (TypeError, ValueError) as exc:
        raise ConsoleError(f"show: the image's placement is not numbers ({exc})") from None
    if positions is not None and len(positions) != frames:
        raise ConsoleError(f"show: {len(positions)} positions for {frames} frames")
    if rows * columns == 0:
        raise ConsoleError("show: an image of no pixels")
    return DerivedImage(made.name, made.array, spacing, positions, orientation, made.window,
                        photometric, made.source_display_set_uid,
                        str(message.get("frameOfReferenceUID") or "") if positions else "")


def overlay_message(overlay: Overlay) -> dict[str, Any]:
    """A mask for the viewer's worker to lay over a display set's images."""
    return {
        "name": overlay.name,
        "mask": array_message(overlay.mask),
        "colour": list(overlay.colour),
        "displaySetUID": overlay.display_set_uid,
        "imageIndex": overlay.image_index,
        "slots": None if overlay.slots is None else list(overlay.slots),
        "opacity": overlay.opacity,
        "mode": overlay.mode,
    }


def overlay_from_message(message: Mapping[str, Any]) -> Overlay:
    mask = array_from_message(message.get("mask") or {}, "overlay")
    if mask.dtype != bool:
        raise ConsoleError(f"overlay: a mask is boolean, not {mask.dtype}")
    try:
        index = message.get("imageIndex")
        slots = message.get("slots")
        return Overlay(str(message.get("name") or "Mask"), mask,
                       tuple(int(c) for c in message["colour"])[:3],  # type: ignore[arg-type]
                       str(message["displaySetUID"]), None if index is None else int(index),
                       None if slots is None else tuple(int(s) for s in slots),
                       float(message.get("opacity", 0.5)), str(message.get("mode") or "both"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConsoleError(f"overlay: {exc}") from None


def _floats(values: Any, count: int) -> tuple[float, ...] | None:
    if values is None:
        return None
    found = tuple(float(v) for v in values)
    if len(found) != count or not all(np.isfinite(found)):
        raise ValueError(f"{count} finite numbers expected, not {values!r}")
    return found
