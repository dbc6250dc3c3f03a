"""ohifpy.study_list: URL parameters -> QIDO query, sorting, page windows."""

from __future__ import annotations

import pytest

from ohifpy.config import DicomWebSource
from ohifpy.study_list import StudyListState, display_date, sort_study_rows

URL = {
    "patientName": " Doe^J ", "mrn": "123", "description": "Chest", "accession": "A1",
    "modalities": "CT,MR", "startDate": "2020-01-31", "endDate": "20211231",
    "sortBy": "patientName", "sortDirection": "descending", "pageNumber": "3",
    "datasources": "pacs", "unrelated": "x",
}


def test_url_parameters_become_ohifs_qido_query() -> None:
    state = StudyListState.from_params(URL)
    wildcard = DicomWebSource.from_url("http://pacs/dicom-web", supportsWildcard=True,
                                       supportsFuzzyMatching=True)
    assert state.query.to_params(wildcard) == [
        ("PatientName", "*Doe^J*"), ("PatientID", "*123*"), ("AccessionNumber", "*A1*"),
        ("StudyDescription", "*Chest*"), ("ModalitiesInStudy", "CT,MR"),
        ("StudyDate", "20200131-20211231"), ("fuzzymatching", "true")]
    exact = DicomWebSource.from_url("http://pacs/dicom-web", supportsWildcard=False)
    assert ("PatientName", "Doe^J") in state.query.to_params(exact)
    assert (state.sort_by, state.sort_direction, state.page_number, state.data_source) == (
        "patientName", "descending", 3, "pacs")


def test_canonical_parameters_round_trip() -> None:
    params = StudyListState.from_params(URL).to_params()
    assert params == {
        "patientName": "Doe^J", "mrn": "123", "description": "Chest", "accession": "A1",
        "startDate": "20200131", "endDate": "20211231", "modalities": "CT,MR",
        "sortBy": "patientName", "sortDirection": "descending", "pageNumber": "3",
        "datasources": "pacs"}
    assert StudyListState.from_params(params).to_params() == params
    assert StudyListState.from_params({}).to_params() == {}  # page 1, default sort: no noise


@pytest.mark.parametrize(("params", "message"), [
    ({"startDate": "31/01/2020"}, "startDate must be a date"),
    ({"sortBy": "weight"}, "sortBy must be one of"),
    ({"sortBy": "mrn", "sortDirection": "up"}, "sortDirection must be ascending or descending"),
    ({"pageNumber": "two"}, "pageNumber must be a number"),
    ({"pageNumber": "0"}, "pageNumber must be 1 or more"),
])
def test_bad_parameters_are_named(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StudyListState.from_params(params)


def test_page_window_asks_one_more_than_a_page() -> None:
    assert StudyListState.from_params({}).page_window(101) == (0, 101, 100)
    assert StudyListState.from_params({"pageNumber": "3"}).page_window(11) == (20, 11, 10)
    assert StudyListState.from_params({"pageNumber": "2"}).page_window(1) == (1, 1, 1)


def row(name: str, date: str = "", time: str = "", instances: int | None = None) -> dict:
    return {"patientName": name, "patientId": "", "studyDate": date, "studyTime": time,
            "studyDescription": "", "accessionNumber": "", "modalities": "",
            "numberOfInstances": instances}


def names(rows: list) -> list[str]:
    return [r["patientName"] for r in rows]


def test_sorting_puts_empty_values_last_either_way() -> None:
    rows = [row("b", instances=3), row("", instances=None), row("A", instances=20),
            row("c", instances=100)]
    assert names(sort_study_rows(rows, "patientName", "ascending")) == ["A", "b", "c", ""]
    assert names(sort_study_rows(rows, "patientName", "descending")) == ["c", "b", "A", ""]
    assert names(sort_study_rows(rows, "instances", "ascending")) == ["b", "A", "c", ""]


def test_default_order_is_newest_study_first() -> None:
    rows = [row("old", "20190101"), row("none"), row("late", "20200101", "2300"),
            row("early", "20200101", "0700")]
    assert names(sort_study_rows(rows, "", "ascending")) == ["late", "early", "old", "none"]


def test_display_date_keeps_malformed_values() -> None:
    assert display_date("20200131", "070512.5") == "2020-01-31 07:05"
    assert display_date("20200131", "") == "2020-01-31"
    assert display_date("1997.04.24", "14:04:38") == "1997.04.24"
