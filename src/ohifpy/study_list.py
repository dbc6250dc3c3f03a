"""The study list's state: URL parameters in, QIDO query, sorted rows and pages out.

The page keeps the list in its URL with OHIF's parameter names (``patientName``,
``mrn``, ``startDate``, ``endDate``, ``description``, ``modalities``, ``accession``,
``sortBy``, ``sortDirection``, ``pageNumber``, ``datasources``), so a reload or a shared
link shows the same list. This module turns those parameters into a
:class:`~ohifpy.dicomweb.StudyQuery`, and the QIDO answer into the rows of one page; its
:data:`COLUMNS` are the page's columns, sort keys and filters.

Paging and sorting work as in OHIF's work list: QIDO is asked for ``queryLimit``
studies (OHIF's 101) and a page shows one fewer, so a full answer says that more
exist. Page *n* asks with ``offset=(n-1)*(queryLimit-1)``. When the first page holds
every match, the list is complete and sorted here by any column (the default: newest
study first); otherwise it stays in the server's order and cannot be sorted, because
sorting one window of an unknown whole would mislead (OHIF asks to narrow the filters).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dicomweb import StudyQuery
from .display_format import date_iso, date_text, person_name, time_iso, time_text
from .model import Series, Study

__all__ = [
    "COLUMNS",
    "LIST_PARAMS",
    "MODALITY_CHOICES",
    "OPTIONAL_SERIES_FIELDS",
    "SERIES_COLUMNS",
    "SORT_DIRECTIONS",
    "SORT_KEYS",
    "Column",
    "StudyListState",
    "display_date",
    "series_row",
    "sort_study_rows",
    "study_row",
    "study_texts",
]

SORT_DIRECTIONS = ("ascending", "descending")
_DATE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})")


def _casefolded(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: str(row[key]).casefold()


@dataclass(frozen=True)
class Column:
    """One column of the list: its URL name (``sortBy``), title, the row field it shows,
    its sort key (empty values go last), and its filter.

    ``filter`` is ``text`` (a search field; its parameter fills ``query_field`` of
    :class:`~ohifpy.dicomweb.StudyQuery`), ``dateRange`` (from, to) or ``modalities`` (a
    multi-select of :data:`MODALITY_CHOICES`); ``params`` are the URL parameters it sets.
    The page builds its table and filters from these (see :mod:`ohifpy.viewer.tables`).
    """

    name: str
    title: str
    field: str
    sort_key: Callable[[Mapping[str, Any]], Any]
    filter: str = ""
    params: tuple[str, ...] = ()
    query_field: str = ""

    def to_json(self) -> dict[str, Any]:
        """The column as the page builds it (its sort key stays here)."""
        return {"name": self.name, "title": self.title, "field": self.field,
                "filter": self.filter, "params": list(self.params)}


COLUMNS = (
    Column("patientName", "Patient name", "patientName", _casefolded("patientName"),
           "text", ("patientName",), "patient_name"),
    Column("mrn", "MRN", "patientId", _casefolded("patientId"), "text", ("mrn",), "patient_id"),
    Column("studyDate", "Study date", "displayDate",
           lambda row: row["studyDate"] + row["studyTime"], "dateRange", ("startDate", "endDate")),
    Column("description", "Description", "studyDescription", _casefolded("studyDescription"),
           "text", ("description",), "study_description"),
    Column("modalities", "Modality", "modalities", _casefolded("modalities"),
           "modalities", ("modalities",)),
    Column("accession", "Accession", "accessionNumber", _casefolded("accessionNumber"),
           "text", ("accession",), "accession_number"),
    Column("instances", "Instances", "numberOfInstances", lambda row: row["numberOfInstances"]),
)
SERIES_COLUMNS = (  # an expanded row's series: (title, field of series_row)
    ("Description", "seriesDescription"),
    ("Series", "seriesNumber"),
    ("Modality", "modality"),
    ("Instances", "numberOfInstances"),
    ("Source", "dataSource"),
)
OPTIONAL_SERIES_FIELDS = frozenset({"dataSource"})
"""Shown only when a row has a value: a merge source names where each series comes from."""
MODALITY_CHOICES = ("CR", "CT", "DX", "MG", "MR", "NM", "OT", "PT", "RF", "RTDOSE", "SEG", "SM",
                    "SR", "US", "XA")
"""What the modality filter offers."""

# sortBy (the column's URL name) -> the sort key of a row.
SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {c.name: c.sort_key for c in COLUMNS}
# URL text filter -> StudyQuery field.
_TEXT_FILTERS = {c.params[0]: c.query_field for c in COLUMNS if c.filter == "text"}
LIST_PARAMS = (*_TEXT_FILTERS, "startDate", "endDate", "modalities", "sortBy", "sortDirection",
               "pageNumber", "datasources")
"""Every URL parameter of the list, in the order :meth:`StudyListState.to_params` gives them."""


def _date(name: str, value: str) -> str:
    """``YYYYMMDD`` from the URL's ``YYYYMMDD`` or a date input's ``YYYY-MM-DD``."""
    match = _DATE.fullmatch(value)
    if value and not match:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD or YYYYMMDD), not {value!r}")
    return "".join(match.groups()) if match else ""


@dataclass(frozen=True)
class StudyListState:
    """What the list shows: the filters, the sort, the page (1-based), the data source."""

    query: StudyQuery
    sort_by: str = ""
    sort_direction: str = "ascending"
    page_number: int = 1
    data_source: str = ""

    def __post_init__(self) -> None:
        if self.sort_by and self.sort_by not in SORT_KEYS:
            raise ValueError(f"sortBy must be one of {', '.join(SORT_KEYS)}, not {self.sort_by!r}")
        if self.sort_direction not in SORT_DIRECTIONS:
            raise ValueError(f"sortDirection must be ascending or descending, "
                             f"not {self.sort_direction!r}")
        if self.page_number < 1:
            raise ValueError(f"pageNumber must be 1 or more, not {self.page_number}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> StudyListState:
        """The state a URL's query parameters describe; unknown parameters are ignored."""
        p = {key: str(value).strip() for key, value in params.items() if value is not None}
        page = p.get("pageNumber") or "1"
        if not page.isdigit():
            raise ValueError(f"pageNumber must be a number, not {page!r}")
        query = StudyQuery(
            **{field: p.get(name, "") for name, field in _TEXT_FILTERS.items()},
            modalities_in_study=tuple(p.get("modalities", "").split(",")),
            study_date_from=_date("startDate", p.get("startDate", "")),
            study_date_to=_date("endDate", p.get("endDate", "")),
        )
        return cls(query, p.get("sortBy", ""), p.get("sortDirection") or "ascending",
                   int(page), p.get("datasources", ""))

    def to_params(self) -> dict[str, str]:
        """The canonical URL parameters of this state (empty ones left out)."""
        q = self.query
        params = {name: getattr(q, field) for name, field in _TEXT_FILTERS.items()}
        params |= {
            "startDate": q.study_date_from,
            "endDate": q.study_date_to,
            "modalities": ",".join(q.modalities_in_study),
            "sortBy": self.sort_by,
            "sortDirection": self.sort_direction if self.sort_by else "",
            "pageNumber": str(self.page_number) if self.page_number > 1 else "",
            "datasources": self.data_source,
        }
        return {key: value for key, value in params.items() if value}

    def page_window(self, query_limit: int) -> tuple[int, int, int]:
        """``(offset, limit, page size)`` of the QIDO request for this page."""
        size = max(query_limit - 1, 1)
        return (self.page_number - 1) * size, query_limit, size


def sort_study_rows(
    rows: Sequence[Mapping[str, Any]], sort_by: str, direction: str
) -> list[Mapping[str, Any]]:
    """Rows ordered by a column, rows without a value in it last; no column: newest first."""
    if not sort_by:
        sort_by, direction = "studyDate", "descending"
    key = SORT_KEYS[sort_by]
    filled = [row for row in rows if key(row) not in ("", None)]
    empty = [row for row in rows if key(row) in ("", None)]
    return sorted(filled, key=key, reverse=direction == "descending") + empty


def display_date(date: str, time: str) -> str:
    """``YYYY-MM-DD HH:MM`` (the day alone without ``time``) for the page; a malformed
    value is shown as it is."""
    match = _DATE.fullmatch(date)
    if not match:
        return date
    day = "-".join(match.groups())
    clock = re.match(r"([0-9]{2}):?([0-9]{2})", time)
    return f"{day} {clock[1]}:{clock[2]}" if clock else day


def study_texts(study: Study) -> dict[str, str]:
    """A study's name, date and time as readers read them (:mod:`ohifpy.display_format`),
    with the ISO forms for a page showing the browser's locale (``""`` when malformed)."""
    return {
        "patientNameText": person_name(study.patient_name),
        "studyDateText": date_text(study.study_date),
        "studyDateIso": date_iso(study.study_date),
        "studyTimeText": time_text(study.study_time),
        "studyTimeIso": time_iso(study.study_time),
    }


def study_row(study: Study) -> dict[str, Any]:
    """One row of the list: plain strings and numbers, shown by the page as text."""
    return {
        "studyInstanceUID": study.study_instance_uid,
        "patientName": study.patient_name,
        "patientId": study.patient_id,
        "studyDate": study.study_date,
        "studyTime": study.study_time,
        "displayDate": display_date(study.study_date, study.study_time),
        "studyDescription": study.study_description,
        "accessionNumber": study.accession_number,
        "modalities": "/".join(study.modalities_in_study),
        "numberOfSeries": study.number_of_series,
        "numberOfInstances": study.number_of_instances,
        **study_texts(study),
    }


def series_row(series: Series, data_source: str = "") -> dict[str, Any]:
    """One series of an expanded study row; ``data_source`` names where it comes from when
    the list's source merges several."""
    return {
        "dataSource": data_source,
        "seriesInstanceUID": series.series_instance_uid,
        "seriesNumber": series.series_number,
        "modality": series.modality,
        "seriesDescription": series.series_description,
        "numberOfInstances": series.number_of_instances,
    }
