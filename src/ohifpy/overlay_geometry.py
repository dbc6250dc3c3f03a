"""Where the patient is on screen: orientation markers and the scale bar of a viewport.

The markers are the patient-direction letters (PS3.3 C.7.6.1.1.1: L/R, P/A, H/F) of
the image's row and column directions, computed as cornerstone's
``getOrientationString`` does: the letters of the vector's components, largest first,
skipping components under 0.0001, so an oblique direction reads e.g. "LP". The edge a
direction points to gets its string, the opposite edge the string inverted. The page
only moves the four strings between edges when the view is rotated or flipped.

The scale bar needs millimetres per image pixel along each axis, from the same
PixelSpacing the measurements use.
"""

from __future__ import annotations

from collections.abc import Sequence

from ohifpy.measure import ImageGeometry
from ohifpy.model import ImageRef

# Letter of the negative and positive direction of each patient axis (LPS).
_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))
_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "F": "H", "H": "F"}
_MIN_COMPONENT = 0.0001


def orientation_string(vector: Sequence[float]) -> str:
    """Patient-direction letters of a direction cosine, most significant first."""
    magnitudes = [abs(float(v)) for v in vector[:3]]
    letters = ""
    for _ in range(3):
        axis = max(range(3), key=lambda i: magnitudes[i])
        others = [magnitudes[i] for i in range(3) if i != axis]
        # cornerstone needs a strict maximum: a tie (exactly 45 degrees) ends the string.
        if magnitudes[axis] <= _MIN_COMPONENT or any(m >= magnitudes[axis] for m in others):
            break
        negative, positive = _AXIS_LETTERS[axis]
        letters += negative if float(vector[axis]) < 0 else positive
        magnitudes[axis] = 0.0
    return letters


def invert_orientation(letters: str) -> str:
    """The opposite direction: every letter swapped (L<->R, A<->P, H<->F)."""
    return "".join(_OPPOSITE[letter] for letter in letters)


def orientation_markers(orientation: Sequence[float] | None) -> dict[str, str] | None:
    """Edge letters of the unrotated, unflipped image, from ImageOrientationPatient.

    Columns run along the row direction (the first three cosines) to the right edge,
    rows along the column direction to the bottom edge. None without an orientation.
    """
    if orientation is None or len(orientation) != 6:
        return None
    row = orientation_string(orientation[:3])
    column = orientation_string(orientation[3:])
    if not row and not column:
        return None
    return {"top": invert_orientation(column), "bottom": column,
            "left": invert_orientation(row), "right": row}


def pixel_size_mm(geometry: ImageGeometry) -> dict[str, float] | None:
    """Millimetres per image pixel across (``column``: along a row) and down (``row``).

    None without PixelSpacing (or ImagerPixelSpacing): the page then draws no scale bar.
    """
    if geometry.spacing is None:
        return None
    across, down = geometry.scale
    return {"column": across, "row": down}


def overlay_geometry(image: ImageRef) -> dict[str, object]:
    """What the page needs to draw an image's markers and scale bar."""
    return geometry_overlay(ImageGeometry.from_image(image))


def geometry_overlay(geometry: ImageGeometry) -> dict[str, object]:
    """:func:`overlay_geometry` of any plane (an MPR view's too)."""
    return {"orientationMarkers": orientation_markers(geometry.orientation),
            "pixelSizeMm": pixel_size_mm(geometry)}
