"""The viewport grid's shape: rows x columns, as the layout picker offers and the ``layout``
preference stores it (1x1 up to :data:`MAX_ROWS` x :data:`MAX_COLUMNS`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "Layout"]

MAX_ROWS = 3
MAX_COLUMNS = 4


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
