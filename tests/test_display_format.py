"""ohifpy.display_format: names, dates, times, ages and sexes as readers read them, plain text.

Pure functions: runs under Pyodide too."""

from __future__ import annotations

import pytest
from pydicom import Dataset
from pydicom.valuerep import PersonName

from ohifpy.display_format import (
    age_text,
    date_iso,
    date_text,
    datetime_iso,
    datetime_text,
    person_name,
    sex_text,
    time_iso,
    time_text,
    value_text,
)
from ohifpy.model import Study
from ohifpy.study_list import study_row


@pytest.mark.parametrize(("value", "text"), [
    ("Doe^John^Andrew^Dr.^Jr.", "Doe, Dr. John Andrew, Jr."),  # all five components
    ("Adams^John Robert Quincy^^Rev.^B.A. M.Div.", "Adams, Rev. John Robert Quincy, B.A. M.Div."),
    ("Doe^John", "Doe, John"),
    ("Doe", "Doe"),
    ("^John", "John"),  # OHIF's formatPN would give ", John"
    ("Doe^^^^Jr.", "Doe, Jr."),
    ("Anchor^Chest^CT", "Anchor, Chest CT"),
    ("", ""),
    (None, ""),
    ("^^^^", ""),
    ("a^b^c^d^e^f", "a b c d e f"),  # six components: not a DICOM name, its words
])
def test_person_name_family_first_with_prefix_and_suffix(value: str | None, text: str) -> None:
    assert person_name(value) == text


@pytest.mark.parametrize(("value", "text"), [
    ("Yamada^Tarou=山田^太郎=やまだ^たろう", "Yamada, Tarou (山田 太郎)"),
    ("=山田^太郎=やまだ^たろう", "山田 太郎 (やまだ たろう)"),  # no alphabetic group
    ("Yamada^Tarou==やまだ^たろう", "Yamada, Tarou (やまだ たろう)"),  # no ideographic group
    ("Hong^Gildong=洪^吉洞=홍^길동", "Hong, Gildong (洪 吉洞)"),
    ("Wang^XiaoDong=王^小東=", "Wang, XiaoDong (王 小東)"),
    ("==", ""),
])
def test_person_name_ideographic_and_phonetic_groups(value: str, text: str) -> None:
    assert person_name(value) == person_name(PersonName(value)) == text


def test_a_dicom_json_name_in_three_groups_reads_as_one() -> None:
    """DICOM JSON sends PN as {Alphabetic, Ideographic, Phonetic}; pydicom joins them with '='."""
    ds = Dataset.from_json({"00100010": {"vr": "PN", "Value": [
        {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}]}})
    assert person_name(ds.PatientName) == "Yamada, Tarou (山田 太郎)"
    assert value_text(ds["PatientName"].value, "PN") == ("Yamada, Tarou (山田 太郎)", "")


@pytest.mark.parametrize(("value", "text", "iso"), [
    ("20240105", "05-Jan-2024", "2024-01-05"),
    ("20241231", "31-Dec-2024", "2024-12-31"),
    ("2024.01.05", "05-Jan-2024", "2024-01-05"),  # ACR-NEMA's form, which OHIF reads too
    ("20240229", "29-Feb-2024", "2024-02-29"),
    (" 20240105 ", "05-Jan-2024", "2024-01-05"),  # DA's padding space
    # malformed: shown as they are, no ISO
    ("20230229", "20230229", ""),
    ("20241305", "20241305", ""),
    ("00000101", "00000101", ""),
    ("2024", "2024", ""),
    ("2024-01-05", "2024-01-05", ""),
    ("garbage", "garbage", ""),
    ("", "", ""),
])
def test_dates_are_dd_mmm_yyyy_and_malformed_ones_stay(value: str, text: str, iso: str) -> None:
    assert (date_text(value), date_iso(value)) == (text, iso)


@pytest.mark.parametrize(("value", "text", "iso"), [
    ("143052", "14:30", "14:30:52"),
    ("1430", "14:30", "14:30:00"),  # not the year 1430
    ("14", "14:00", "14:00:00"),
    ("090323.000000", "09:03", "09:03:23"),
    ("143052.1", "14:30", "14:30:52"),
    ("14:30:52", "14:30", "14:30:52"),  # ACR-NEMA's colons
    ("000000", "00:00", "00:00:00"),
    ("235960", "23:59", "23:59:59"),  # a leap second, as a browser can parse it
    ("2530", "2530", ""),
    ("1460", "1460", ""),
    ("143052.1234567", "143052.1234567", ""),
    ("noon", "noon", ""),
])
def test_times_are_hh_mm_and_malformed_ones_stay(value: str, text: str, iso: str) -> None:
    assert (time_text(value), time_iso(value)) == (text, iso)


@pytest.mark.parametrize(("value", "text", "iso"), [
    ("20240105143052.123+0100", "05-Jan-2024 14:30", "2024-01-05T14:30:52+01:00"),
    ("202401051430", "05-Jan-2024 14:30", "2024-01-05T14:30:00"),
    ("20240105", "05-Jan-2024", "2024-01-05"),
    ("2024", "2024", ""),  # partial: shown as it is
    ("2024010525", "2024010525", ""),
    ("20241405120000", "20241405120000", ""),
])
def test_datetimes(value: str, text: str, iso: str) -> None:
    assert (datetime_text(value), datetime_iso(value)) == (text, iso)


@pytest.mark.parametrize(("value", "text"), [
    ("045Y", "45 years"), ("001Y", "1 year"), ("003M", "3 months"), ("001M", "1 month"),
    ("002W", "2 weeks"), ("010D", "10 days"), ("000D", "0 days"),
    ("45", "45"), ("045y", "045y"), ("45Y", "45Y"), ("", ""),
])
def test_ages_spelled_out(value: str, text: str) -> None:
    assert age_text(value) == text


@pytest.mark.parametrize(("value", "text"), [
    ("M", "Male"), ("F", "Female"), ("O", "Other"), ("F ", "Female"), ("X", "X"), ("", ""),
])
def test_sexes_spelled_out(value: str, text: str) -> None:
    assert sex_text(value) == text


def test_values_by_vr() -> None:
    assert value_text("F", "CS", "PatientSex") == ("Female", "")
    assert value_text("F", "CS", "Laterality") == ("F", "")  # only PatientSex is a sex
    assert value_text("045Y", "AS", "PatientAge") == ("45 years", "")
    assert value_text("20240105", "DA") == ("05-Jan-2024", "2024-01-05")
    assert value_text("143052", "TM") == ("14:30", "14:30:52")
    assert value_text(["0.5", "0.703125"], "DS") == ("0.5, 0.7", "")  # two decimals
    assert value_text("-0.001", "DS") == ("0", "")
    assert value_text("-123.456", "DS") == ("-123.46", "")
    assert value_text("not a number", "DS") == ("not a number", "")
    assert value_text(12, "IS") == ("12", "")
    assert value_text(["ORIGINAL", "PRIMARY", "AXIAL"], "CS") == ("ORIGINAL, PRIMARY, AXIAL", "")
    assert value_text(["20240105", "20240106"], "DA") == ("05-Jan-2024, 06-Jan-2024", "")
    assert value_text(None, "LO") == value_text("", "PN") == value_text([], "CS") == ("", "")


@pytest.mark.parametrize("hostile", [
    "<img src=x onerror=alert(1)>", "<script>alert('x')</script>", "&lt;b&gt;", "javascript:x",
])
def test_hostile_strings_stay_plain_text(hostile: str) -> None:
    """Markup is neither escaped nor dropped (the page sets textContent); control
    characters, which could break or fake a line, become spaces."""
    name = hostile.replace("=", " ")  # in a name, '=' starts the ideographic group
    assert person_name(f"{name}^Bob") == f"{name}, Bob"
    assert date_text(hostile) == time_text(hostile) == age_text(hostile) == hostile
    assert value_text(hostile, "LO") == (hostile, "")
    assert person_name("Doe\n^Jo\x00hn\r\x1b[31m") == "Doe, Jo hn [31m"
    assert value_text("line one\nline two\t", "LT") == ("line one line two", "")


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_study_list_rows_get_the_texts_beside_the_raw_values() -> None:
    ds = Dataset()
    ds.StudyInstanceUID = "1.2.3"
    ds.PatientName = "Anchor^Chest^CT"
    ds.StudyDate, ds.StudyTime = "20240115", "093000.5"
    row = study_row(Study.from_dataset(ds))
    assert (row["patientName"], row["studyDate"], row["displayDate"]) == (
        "Anchor^Chest^CT", "20240115", "2024-01-15 09:30")  # unchanged for today's page
    assert {key: row[key] for key in ("patientNameText", "studyDateText", "studyDateIso",
                                      "studyTimeText", "studyTimeIso")} == {
        "patientNameText": "Anchor, Chest CT", "studyDateText": "15-Jan-2024",
        "studyDateIso": "2024-01-15", "studyTimeText": "09:30", "studyTimeIso": "09:30:00"}
    ds.StudyDate, ds.StudyTime = "2024XX15", ""
    row = study_row(Study.from_dataset(ds))
    assert (row["studyDateText"], row["studyDateIso"], row["studyTimeText"]) == (
        "2024XX15", "", "")
