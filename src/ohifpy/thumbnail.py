"""Series thumbnails: which image stands for a display set, and shrinking its RGBA.

The viewer's series panel shows the middle image of each display set (OHIF's
choice: the first slice of a stack is often blank), rendered through the same
pipeline as the viewport and reduced here by averaging pixel blocks, so a thumbnail
costs one frame, never the whole series.
"""

from __future__ import annotations

import math

import numpy as np

from .model import DisplaySet

__all__ = ["THUMBNAIL_SIZE", "downsample_rgba", "thumbnail_index"]

THUMBNAIL_SIZE = 96
"""The longer side of a thumbnail, in pixels (two device pixels per CSS pixel at 48)."""


def thumbnail_index(display_set: DisplaySet) -> int:
    """The image a display set's thumbnail shows: the middle one (a frame, for cine)."""
    return len(display_set.images) // 2


def downsample_rgba(rgba: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """``(rows, columns, 4)`` uint8 reduced to at most ``size`` on its longer side.

    Averages ``factor x factor`` blocks (an integer factor, so no resampling
    artefacts); the last partial block of each side is dropped, which loses under
    ``factor`` pixels of edge. Images already small enough come back unchanged.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected (rows, columns, 4) RGBA, not shape {rgba.shape}")
    if size < 1:
        raise ValueError(f"thumbnail size must be positive, not {size}")
    rows, columns = rgba.shape[:2]
    factor = math.ceil(max(rows, columns) / size)
    if factor <= 1:
        return rgba
    out_rows, out_columns = max(rows // factor, 1), max(columns // factor, 1)
    block_rows, block_columns = min(factor, rows), min(factor, columns)
    blocks = rgba[: out_rows * block_rows, : out_columns * block_columns].reshape(
        out_rows, block_rows, out_columns, block_columns, 4
    )
    return np.round(blocks.mean(axis=(1, 3), dtype=np.float32)).astype(np.uint8)
