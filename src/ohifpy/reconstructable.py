"""Whether a display set can be reconstructed into a volume (MPR), with OHIF's rules.

This follows OHIF's ``isDisplaySetReconstructable`` (platform/core/src/utils): a stack
is reconstructable when it has more than one image, every image has a position and
the same orientation (each direction cosine within 0.01 of the first image's), all
images have the same Rows, Columns and Samples per Pixel, the images do not all sit at
one location (within 0.01 mm: a cine or multi-phase series), and adjacent slices are
evenly spaced: every gap along the slice normal within 20 % of the nominal spacing.
A gap that is a whole multiple *k* of the spacing (each of the *k* steps within those
20 %) counts as *k* − 1 missing slices: reconstructable, with a note.

Where this differs from OHIF, and why:

- The nominal spacing is the *lower median* of the gaps, not OHIF's mean (the distance
  from the first to the last slice over their count). Missing slices can only lengthen
  gaps, and they inflate the mean: with one slice missing out of five, OHIF's mean is
  25 % above the true spacing, so every regular gap looks 20 % short and the series is
  refused. The lower median is the true spacing as long as fewer than half of the gaps
  are missing slices.
- Gaps are measured along the slice normal (ImagePositionPatient · normal), as the
  stack is sorted, rather than as the distance between positions: the normal is what
  a volume's slice spacing is (a tilted gantry shifts positions sideways too).
- Enhanced multi-frame instances (one display set each) are checked like a stack of
  single frames, frame by frame from their functional groups (Plane Position and
  Plane Orientation), so their spacing is checked too (OHIF leaves that as a TODO);
  as in OHIF they also need a Pixel Measures functional group or a top-level
  PixelSpacing. A multi-frame instance without per-frame positions (a classic
  multi-frame, an NM tomo with only a Detector Information Sequence) is not
  reconstructable here: our model gives its frames no position.
- Colour images (Samples per Pixel 3) are not reconstructable: our volume and MPR
  pipeline is greyscale only.

The check is vectorised (a handful of numpy operations per display set, whatever its
size): it runs in WebAssembly for every display set each time a study is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .imaging.functional_groups import frame_functional_group

if TYPE_CHECKING:
    from .model import ImageRef

__all__ = [
    "IOP_TOLERANCE",
    "NOT_RECONSTRUCTABLE",
    "SPACING_TOLERANCE",
    "ZERO_EXTENT_TOLERANCE",
    "Reconstructability",
    "reconstructability",
]

SPACING_TOLERANCE = 0.2
"""A gap may differ from the nominal spacing by less than this fraction of it (OHIF's)."""
IOP_TOLERANCE = 0.01
"""Each ImageOrientationPatient component may differ by less than this (OHIF's)."""
ZERO_EXTENT_TOLERANCE = 0.01
"""Images whose positions all lie within this distance (mm) share one location (OHIF's)."""


@dataclass(frozen=True)
class Reconstructability:
    """Whether a display set can be shown in MPR, and why not.

    Attributes
    ----------
    reconstructable
        Whether a volume can be built from the display set.
    reason
        Why not, as a short phrase that reads after "cannot be shown in MPR: " (e.g.
        ``"images of different orientations"``); None when reconstructable (and for the
        default of a display set never checked).
    spacing
        The nominal distance (mm) between adjacent slices along the normal (the lower
        median gap): set when reconstructable, and when refused for irregular spacing
        (what the spacing mostly is); None when refused before it is measured.
    missing_slices
        How many slices the gaps that are whole multiples of the spacing leave out.
    """

    reconstructable: bool
    reason: str | None
    spacing: float | None = None
    missing_slices: int = 0

    @property
    def note(self) -> str | None:
        """What the series panel says: the reason when not reconstructable, else the missing
        slices (``"2 missing slices"``) when there are any, else None."""
        if not self.reconstructable:
            return self.reason
        if self.missing_slices:
            plural = "" if self.missing_slices == 1 else "s"
            return f"{self.missing_slices} missing slice{plural}"
        return None


NOT_RECONSTRUCTABLE = Reconstructability(False, None)
"""A display set whose geometry was not checked (the default of a DisplaySet)."""


def _no(reason: str, spacing: float | None = None) -> Reconstructability:
    return Reconstructability(False, reason, spacing)


def reconstructability(images: Sequence[ImageRef]) -> Reconstructability:
    """Whether ``images`` (one display set, in any order) can form a volume, by OHIF's rules.

    The rules are checked in this order, and the first that fails is the reason: more
    than one image; every image has ImagePositionPatient and ImageOrientationPatient;
    the same Rows, Columns and Samples per Pixel; greyscale; one orientation (within
    :data:`IOP_TOLERANCE` per component); PixelSpacing for an enhanced multi-frame
    instance; more than one location; regular spacing (see the module docstring).
    """
    n = len(images)
    if n < 2:
        return _no("a single image")
    positions = [ref.image_position for ref in images]
    orientations = [ref.image_orientation for ref in images]
    if any(p is None for p in positions):
        return _no("images without ImagePositionPatient")
    if any(o is None for o in orientations):
        return _no("images without ImageOrientationPatient")

    instances = {id(ref.instance): ref.instance for ref in images}.values()
    sizes = np.asarray([(i.rows, i.columns, i.samples_per_pixel) for i in instances])
    if np.any(sizes[:, :2] != sizes[0, :2]):
        return _no("images of different sizes")
    if np.any(sizes[:, 2] != sizes[0, 2]):
        return _no("a mix of colour and greyscale images")
    if sizes[0, 2] != 1:
        return _no("colour images")

    iop = np.asarray(orientations, dtype=float)
    if np.any(np.abs(iop - iop[0]) >= IOP_TOLERANCE):
        return _no("images of different orientations")
    normal = np.cross(iop[0, :3], iop[0, 3:])
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        return _no("images with an invalid ImageOrientationPatient")
    if len(instances) == 1 and not _has_pixel_spacing(images[0]):
        return _no("frames without PixelSpacing")

    ipp = np.asarray(positions, dtype=float)
    if float(np.max(np.linalg.norm(ipp - ipp[0], axis=1))) < ZERO_EXTENT_TOLERANCE:
        return _no("images all at one location")

    gaps = np.diff(np.sort(ipp @ (normal / length)))
    spacing = float(np.partition(gaps, (n - 2) // 2)[(n - 2) // 2])  # the lower median
    if spacing < ZERO_EXTENT_TOLERANCE:  # most gaps are repeated positions
        return _no("irregular slice spacing")
    regular = np.abs(gaps - spacing) < SPACING_TOLERANCE * spacing
    if regular.all():
        return Reconstructability(True, None, spacing)
    # The rest may be whole multiples of the spacing: slices left out of a regular grid.
    steps = np.rint(gaps[~regular] / spacing)
    whole = (steps >= 2) & (
        np.abs(gaps[~regular] - steps * spacing) < SPACING_TOLERANCE * spacing * steps)
    if not whole.all():
        return _no("irregular slice spacing", spacing)
    return Reconstructability(True, None, spacing, int((steps - 1).sum()))


def _has_pixel_spacing(image: ImageRef) -> bool:
    """Whether a multi-frame instance says its pixel size, in a Pixel Measures functional
    group or at the top level (OHIF's ``hasPixelMeasurements``).

    Only multi-frame display sets ask: their dataset was converted already to read the
    per-frame positions (a classic multi-frame, without them, is refused before this).
    """
    instance = image.instance
    if not instance.has_functional_groups:
        return True  # a single-frame instance, or positions from the top level
    ds = instance.metadata
    measures = frame_functional_group(ds, image.frame_index, "PixelMeasuresSequence")
    return "PixelSpacing" in (measures if measures is not None else ds)
