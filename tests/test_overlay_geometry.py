"""Orientation markers as cornerstone computes them, and the scale bar's pixel size."""

from __future__ import annotations

import math

import pytest

from ohifpy.measure import ImageGeometry
from ohifpy.overlay_geometry import (
    invert_orientation,
    orientation_markers,
    orientation_string,
    pixel_size_mm,
)


@pytest.mark.parametrize(("vector", "letters"), [
    ((1, 0, 0), "L"), ((-1, 0, 0), "R"), ((0, 1, 0), "P"), ((0, -1, 0), "A"),
    ((0, 0, 1), "H"), ((0, 0, -1), "F"),
    # oblique: every component above 0.0001, the largest first
    ((0.8, -0.6, 0), "LA"), ((-0.1, 0.3, 0.95), "HPR"), ((0.99999999, 0.00001, 0), "L"),
    # an exact tie has no strict maximum: cornerstone stops there
    ((math.sqrt(0.5), math.sqrt(0.5), 0), ""),
])
def test_orientation_string(vector: tuple[float, float, float], letters: str) -> None:
    assert orientation_string(vector) == letters


def test_invert_swaps_every_letter() -> None:
    assert invert_orientation("HPR") == "FAL"


def test_axial_markers_put_the_patients_right_on_the_left() -> None:
    assert orientation_markers([1, 0, 0, 0, 1, 0]) == {
        "top": "A", "bottom": "P", "left": "R", "right": "L"}


def test_sagittal_markers() -> None:
    # rows run posterior, columns run down to the feet (the test MR)
    assert orientation_markers([0, 1, 0, 0, 0, -1]) == {
        "top": "H", "bottom": "F", "left": "A", "right": "P"}


def test_no_orientation_no_markers() -> None:
    assert orientation_markers(None) is None
    assert orientation_markers([0, 0, 0, 0, 0, 0]) is None


def test_pixel_size_across_and_down_from_pixel_spacing() -> None:
    # PixelSpacing is (row spacing, column spacing): across a row the step is the second
    geometry = ImageGeometry(rows=10, columns=20, spacing=(0.5, 0.8), spacing_source="PixelSpacing")
    assert pixel_size_mm(geometry) == {"column": 0.8, "row": 0.5}
    assert pixel_size_mm(ImageGeometry(rows=10, columns=20)) is None
