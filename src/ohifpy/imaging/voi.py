"""VOI LUT stage (PS3.3 C.11.2): modality values -> display values in 0..1.

Windows are the viewer's currency: the header's give the presets and the
first is the default, a window/level drag makes new ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ohifpy.imaging.functional_groups import frame_functional_group
from ohifpy.imaging.lut import LookupTable, is_little_endian

VOI_LUT_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


@dataclass(frozen=True)
class VOIWindow:
    """A window center/width and its VOI LUT Function (LINEAR, LINEAR_EXACT or SIGMOID).

    The function name is normalised to upper case. Width must be positive, and
    at least 1 for LINEAR, whose formula divides by ``width - 1`` (PS3.3
    C.11.2.1.2.1): a drag handler should clamp to that.
    """

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""

    def __post_init__(self) -> None:
        function = str(self.function).strip().upper() or "LINEAR"
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "center", float(self.center))
        object.__setattr__(self, "width", float(self.width))
        if function not in VOI_LUT_FUNCTIONS:
            raise ValueError(
                f"VOI LUT Function {self.function!r} is not one of {', '.join(VOI_LUT_FUNCTIONS)}"
            )
        if not (math.isfinite(self.center) and math.isfinite(self.width)):
            raise ValueError(f"window center/width must be finite, got {self.center}/{self.width}")
        minimum = 1.0 if function == "LINEAR" else 0.0
        if self.width < minimum or self.width == 0:
            raise ValueError(
                f"window width {self.width} is invalid for {function}: it must be "
                + ("at least 1" if function == "LINEAR" else "greater than 0")
            )

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Display values in 0..1 (float64) for modality `values`."""
        x = np.asarray(values, dtype=np.float64)
        if self.function == "SIGMOID":  # C.11.2.1.3.1
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-4.0 * (x - self.center) / self.width))
        if self.function == "LINEAR_EXACT":  # C.11.2.1.3.2
            center, width = self.center, self.width
        else:  # LINEAR, C.11.2.1.2.1
            center, width = self.center - 0.5, self.width - 1.0
            if width == 0:  # the formula degenerates to a threshold at the center
                return (x > center).astype(np.float64)
        y = (x - center) / width
        y += 0.5
        return np.clip(y, 0.0, 1.0, out=y)


def voi_windows(ds: Dataset, frame_index: int = 0) -> list[VOIWindow]:
    """The windows the header offers for a frame, first (the default) first.

    Reads the Frame VOI LUT functional group of enhanced multi-frame objects,
    else the top-level Window Center/Width (multi-valued, with explanations and
    VOI LUT Function). Invalid pairs (e.g. width 0) are skipped rather than
    failing the image; an unknown function falls back to LINEAR.
    """
    source = frame_functional_group(ds, frame_index, "FrameVOILUTSequence") or ds
    centers = _values(source.get("WindowCenter"))
    widths = _values(source.get("WindowWidth"))
    explanations = _values(source.get("WindowCenterWidthExplanation"))
    function = str(source.get("VOILUTFunction") or "LINEAR").strip().upper()
    if function not in VOI_LUT_FUNCTIONS:
        function = "LINEAR"
    windows = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        explanation = str(explanations[index]) if index < len(explanations) else ""
        try:
            windows.append(VOIWindow(float(center), float(width), function, explanation))
        except (TypeError, ValueError):
            continue
    return windows


def voi_lut(ds: Dataset, *, signed_input: bool) -> LookupTable | None:
    """The first VOI LUT Sequence item as a table, or None when there is none.

    `signed_input` says modality values can be negative, which makes the
    descriptor's first mapped value signed.
    """
    items = ds.get("VOILUTSequence")
    if not items:
        return None
    return LookupTable.from_item(
        items[0], signed_input=signed_input, little_endian=is_little_endian(ds)
    )


def _values(value: Any) -> list[Any]:
    """A DICOM value of VM 1-n as a list (absent or empty -> [])."""
    if value is None or value == "":
        return []
    if isinstance(value, (str, bytes, int, float)):
        return [value]
    return list(value)
