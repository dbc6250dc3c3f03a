"""ohifpy.numeric: what the browser's numpy (no numpy.ma) cannot compute, checked against
numpy's own in CPython and run under Pyodide too."""

from __future__ import annotations

import numpy as np
import pytest

from ohifpy.numeric import median


@pytest.mark.parametrize("values", [[3.0], [5, 1], [4, 1, 3], [2, 9, 4, 4], list(range(101))])
def test_median_is_numpys(values: list[float]) -> None:
    array = np.asarray(values)
    assert median(array) == pytest.approx(float(np.partition(array, len(array) // 2)[
        len(array) // 2]) if len(array) % 2 else float(np.mean(np.sort(array)[
            len(array) // 2 - 1: len(array) // 2 + 1])))
    assert median(array[::-1].reshape(-1, 1)) == median(array)  # any order, any shape
