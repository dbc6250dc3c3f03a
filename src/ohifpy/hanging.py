"""Which display set the viewer shows in which viewport when a study opens.

A small hanging protocol, in the spirit of OHIF's default one: one study fills the
grid (the user's saved layout, else 1x1) with its display sets in order, the
``initialSeriesInstanceUID`` first; several studies open side by side, one viewport per
study, so they can be compared. Image stacks hang before what is not one (videos,
documents, then segmentations and structure sets, which are shown over their images):
a study opens on its images, and on a document only when it has nothing else. The page
only applies the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .model import DisplaySet

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "Hanging", "Layout", "hang"]

MAX_ROWS = 3
MAX_COLUMNS = 4
_HANGING_ORDER = {"image": 0, "video": 1, "pdf": 1, "sr": 1}
"""Kinds by when they hang (stable within a rank); any other kind (seg, rtstruct) last."""


@dataclass(frozen=True)
class Layout:
    """A viewport grid of ``rows`` x ``columns`` (1x1 up to 3x4, as the layout picker offers)."""

    rows: int = 1
    columns: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.rows <= MAX_ROWS and 1 <= self.columns <= MAX_COLUMNS):
            raise ValueError(
                f"a layout has 1 to {MAX_ROWS} rows and 1 to {MAX_COLUMNS} columns, "
                f"not {self.rows}x{self.columns}"
            )

    @classmethod
    def parse(cls, text: str) -> Layout:
        """``"2x3"`` (rows x columns; ``×`` too) as the ``layout`` preference stores it."""
        match = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", str(text))
        if not match:
            raise ValueError(f"a layout is written rowsxcolumns, e.g. 2x2, not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @property
    def size(self) -> int:
        return self.rows * self.columns

    def __str__(self) -> str:
        return f"{self.rows}x{self.columns}"


@dataclass(frozen=True)
class Hanging:
    """The grid and what each viewport shows (``None``: an empty viewport)."""

    layout: Layout
    viewports: tuple[str | None, ...]
    active: int = 0


def _side_by_side(count: int) -> Layout:
    """One viewport per study: in one row up to three, then a near-square grid (2x2 for
    four, 2x3 for six, 3x4 at most), so no viewport gets too narrow to read."""
    if count <= 3:
        return Layout(1, count)
    columns = min(math.ceil(math.sqrt(count)), MAX_COLUMNS)
    return Layout(min(math.ceil(count / columns), MAX_ROWS), columns)


def hang(
    studies: Sequence[Sequence[DisplaySet]],
    initial_series_instance_uid: str = "",
    preferred: Layout | None = None,
) -> Hanging:
    """Place the display sets of ``studies`` (each in panel order) in a viewport grid.

    ``preferred`` (the saved layout) applies to a single study only: several studies
    ask for the side-by-side layout (:func:`_side_by_side`), which the URL's several ``StudyInstanceUIDs`` mean.
    The initial series hangs first whatever its kind; the others follow image stacks
    first (see :data:`_HANGING_ORDER`), each kind in panel order. The viewport showing the
    initial series is the active one.
    """
    groups = [sorted(group, key=lambda d: _HANGING_ORDER.get(d.kind, 2))
              for group in studies if group]
    if not groups:
        raise ValueError("no display sets to show")

    def first_of(group: list[DisplaySet]) -> DisplaySet:
        for display_set in group:
            if display_set.series_instance_uid == initial_series_instance_uid:
                return display_set
        return group[0]

    if len(groups) > 1:
        layout = _side_by_side(len(groups))
        shown = [first_of(group) for group in groups[: layout.size]]
    else:
        (group,) = groups
        layout = preferred or Layout()
        first = first_of(group)
        shown = [first, *(d for d in group if d is not first)][: layout.size]
    uids: list[str | None] = [d.display_set_uid for d in shown]
    uids += [None] * (layout.size - len(uids))
    active = next(
        (i for i, d in enumerate(shown) if d.series_instance_uid == initial_series_instance_uid),
        0,
    )
    return Hanging(layout, tuple(uids), active)
