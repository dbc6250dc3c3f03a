"""The tables the page builds its controls from, sent once in ``init``'s answer.

Tool names and labels, layout limits, the study list's columns, parameters and modality
choices are defined where Python uses them (:mod:`ohifpy.measure`, :mod:`ohifpy.hanging`,
:mod:`ohifpy.study_list`); this module only gathers them as JSON, so the page keeps no
copy of its own that could drift from what the worker accepts.
"""

from __future__ import annotations

from typing import Any

from ..config import DateFormat
from ..hanging import MAX_COLUMNS, MAX_ROWS
from ..measure import QUANTITY_LABELS, TOOLS
from ..study_list import (
    COLUMNS,
    LIST_PARAMS,
    MODALITY_CHOICES,
    OPTIONAL_SERIES_FIELDS,
    SERIES_COLUMNS,
    SORT_DIRECTIONS,
)

__all__ = ["tables"]


def tables(date_format: DateFormat = "ohif") -> dict[str, Any]:
    """``tools`` (measurement tools in the panel's order), ``quantities`` (value name ->
    label; values not named are not shown), ``layout`` (the grid's limits),
    ``studyList`` (``columns``, ``seriesColumns``, ``params``, ``modalities``,
    ``sortDirections``) and ``dateFormat`` (the config's: ``ohif`` shows the worker's
    date and time texts, ``locale`` formats their ISO forms in the browser's locale)."""
    return {
        "tools": [tool.to_json() for tool in TOOLS.values()],
        "quantities": dict(QUANTITY_LABELS),
        "layout": {"maxRows": MAX_ROWS, "maxColumns": MAX_COLUMNS},
        "studyList": {
            "columns": [column.to_json() for column in COLUMNS],
            "seriesColumns": [{"title": title, "field": field,
                               "optional": field in OPTIONAL_SERIES_FIELDS}
                              for title, field in SERIES_COLUMNS],
            "params": list(LIST_PARAMS),
            "modalities": list(MODALITY_CHOICES),
            "sortDirections": list(SORT_DIRECTIONS),
        },
        "dateFormat": date_format,
    }
