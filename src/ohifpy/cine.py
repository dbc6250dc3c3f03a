"""The frame rate a cine loop of an image plays at, from its header.

OHIF starts cine at the rate the modality recorded: RecommendedDisplayFrameRate, else
CineRate, else one frame per FrameTime (ms). None means the header says nothing and the
viewer keeps its own default.
"""

from __future__ import annotations

from pydicom import Dataset


def cine_frame_rate(ds: Dataset) -> float | None:
    """Frames per second from the header (positive), or None."""
    for keyword in ("RecommendedDisplayFrameRate", "CineRate"):
        rate = _positive(ds.get(keyword))
        if rate is not None:
            return rate
    frame_time = _positive(ds.get("FrameTime"))
    return None if frame_time is None else 1000.0 / frame_time


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
