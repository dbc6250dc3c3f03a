"""Measurements as CSV: one row per measurement, for a spreadsheet or a registry.

Columns: patient, study, series, SOP instance and frame, label, tool, then each
value with its unit in a column of its own (``length``, ``length unit``, ...; the
union over all rows, in order of first appearance), the arrow text and the notes.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) get a leading ``'``, as OWASP advises against
CSV injection: labels and patient names are typed by people. Numbers are written
by this module and left as they are, so negative HU stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .measure import Measurement

__all__ = ["FORMULA_PREFIXES", "measurements_csv"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FIXED_COLUMNS = ("PatientName", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                 "SOPInstanceUID", "FrameNumber", "Label", "Tool")


def measurements_csv(measurements: Sequence[Measurement]) -> str:
    """The CSV text (RFC 4180: CRLF line ends, fields quoted where needed)."""
    names: dict[str, None] = {}
    for m in measurements:
        names.update((q.name, None) for q in m.result.values)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FIXED_COLUMNS, *(c for n in names for c in (n, f"{n} unit")),
                     "Text", "Notes"])
    for m in measurements:
        by_name = {q.name: q for q in m.result.values}
        cells: list[str | float] = [
            _safe(m.patient.get("PatientName", "")), _safe(m.patient.get("PatientID", "")),
            m.image.study_instance_uid, m.image.series_instance_uid, m.image.sop_instance_uid,
            m.image.frame_number, _safe(m.label), m.result.tool,
        ]
        for name in names:
            q = by_name.get(name)
            cells += ["", ""] if q is None else [
                "" if q.value is None else repr(q.value), _safe(q.unit)]
        cells += [_safe(m.result.text), _safe("; ".join(m.result.notes))]
        writer.writerow(cells)
    return out.getvalue()


def _safe(text: str) -> str:
    """``text``, defused if a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
