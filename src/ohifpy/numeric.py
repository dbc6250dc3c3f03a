"""numpy helpers the browser's numpy cannot give: Pyodide's build leaves out ``numpy.ma``,
which ``numpy.median`` and ``numpy.percentile`` need, so code that runs in the worker
uses these instead."""

from __future__ import annotations

import numpy as np

__all__ = ["median"]


def median(values: np.ndarray) -> float:
    """The median of a non-empty array (the mean of the two middle values when even)."""
    ordered = np.sort(np.asarray(values, dtype=float).ravel())
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else float(
        (ordered[middle - 1] + ordered[middle]) / 2)
