"""QIDO-RS parameters and query-string encoding (ohifpy.dicomweb.query)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import Dataset

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import StudyQuery
from ohifpy.dicomweb.query import (
    SERIES_LIST_FIELDS,
    STUDY_LIST_FIELDS,
    encode_query,
    match_static,
    qido_params,
    with_query,
)


def source(**options) -> DicomWebSource:
    return DicomWebSource.from_url("http://pacs/dicom-web", **options)


FULL = StudyQuery(
    patient_name="Doe^J",
    patient_id="P1",
    accession_number="A7",
    study_description="Head",
    modalities_in_study=("CT", "MR"),
    study_date_from="20200101",
    study_date_to="20201231",
    study_instance_uid="1.2.3",
)


def test_wildcards_and_fuzzy_matching_as_ohif():
    params = FULL.to_params(source(supportsWildcard=True, supportsFuzzyMatching=True))
    assert params == [
        ("PatientName", "*Doe^J*"),
        ("PatientID", "*P1*"),
        ("AccessionNumber", "*A7*"),
        ("StudyDescription", "*Head*"),
        ("ModalitiesInStudy", "CT,MR"),
        ("StudyDate", "20200101-20201231"),
        ("StudyInstanceUID", "1.2.3"),
        ("fuzzymatching", "true"),
    ]


def test_without_wildcard_or_fuzzy_support_values_are_sent_as_typed():
    params = dict(FULL.to_params(source(supportsWildcard=False, supportsFuzzyMatching=False)))
    assert params["PatientName"] == "Doe^J"
    assert params["PatientID"] == "P1"
    assert params["AccessionNumber"] == "A7"
    assert params["StudyDescription"] == "Head"
    assert "fuzzymatching" not in params


def test_wildcard_without_fuzzy_and_fuzzy_without_wildcard():
    only_wild = dict(StudyQuery(patient_name="x").to_params(source(supportsWildcard=True)))
    assert only_wild == {"PatientName": "*x*"}
    only_fuzzy = dict(
        StudyQuery(patient_name="x").to_params(
            source(supportsWildcard=False, supportsFuzzyMatching=True)
        )
    )
    assert only_fuzzy == {"PatientName": "x", "fuzzymatching": "true"}


def test_empty_query_has_no_matching_keys():
    assert StudyQuery().to_params(source()) == []


@pytest.mark.parametrize(
    ("date_from", "date_to", "expected"),
    [
        ("20200101", "", "20200101-"),
        ("", "20201231", "-20201231"),
        ("20200505", "20200505", "20200505-20200505"),
    ],
)
def test_open_date_ranges(date_from, date_to, expected):
    params = dict(StudyQuery(study_date_from=date_from, study_date_to=date_to).to_params(source()))
    assert params == {"StudyDate": expected}


@pytest.mark.parametrize("bad", ["2020-01-01", "2020011", "yesterday", "２０２００１０１"])
def test_dates_must_be_yyyymmdd(bad):
    with pytest.raises(ValueError, match="study_date_from must be YYYYMMDD"):
        StudyQuery(study_date_from=bad)


def test_modalities_from_a_string_and_uid_lists_joined_with_commas():
    query = StudyQuery(modalities_in_study="CT\\MR, PT", study_instance_uid=" 1.2.3\\1.2.4 ; 1.5")
    assert query.modalities_in_study == ("CT", "MR", "PT")
    assert dict(query.to_params(source())) == {
        "ModalitiesInStudy": "CT,MR,PT",
        "StudyInstanceUID": "1.2.3,1.2.4,1.5",
    }


def test_uid_filter_without_a_uid_is_refused_not_dropped():
    with pytest.raises(ValueError, match="no UID"):
        StudyQuery(study_instance_uid="abc")


@pytest.mark.parametrize("supported", [True, False])
def test_includefield_only_when_supported(supported):
    params = qido_params(
        source(qidoSupportsIncludeField=supported),
        [("PatientID", "1")],
        fields=[*STUDY_LIST_FIELDS, "00100040", "00081030"],  # duplicates sent once
        limit=25,
        offset=50,
    )
    expected = [("PatientID", "1")]
    if supported:
        expected.append(("includefield", ",".join([*STUDY_LIST_FIELDS, "00100040"])))
    assert params == [*expected, ("limit", "25"), ("offset", "50")]


def test_study_list_fields_cover_what_orthanc_omits():
    assert {"00081030", "00080061", "00201208"} <= set(STUDY_LIST_FIELDS)
    assert {"0008103E", "00080021"} <= set(SERIES_LIST_FIELDS)


def test_no_limit_and_zero_offset_send_nothing():
    assert qido_params(source(), []) == []


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (None, -5)])
def test_bad_paging_is_refused(limit, offset):
    with pytest.raises(ValueError):
        qido_params(source(), [], limit=limit, offset=offset)


def test_minimal_encoding_keeps_qido_syntax_literal():
    query = encode_query(
        [
            ("PatientName", "*Doe^J*"),
            ("includefield", "00081030,00080061"),
            ("StudyDate", "2020.1-"),
        ],
        "minimal",
    )
    assert query == "PatientName=*Doe^J*&includefield=00081030,00080061&StudyDate=2020.1-"


def test_strict_encoding_encodes_all_but_unreserved():
    query = encode_query(
        [("PatientName", "*Doe^J*"), ("includefield", "a,b"), ("x", "a-._~")], "strict"
    )
    assert query == "PatientName=%2ADoe%5EJ%2A&includefield=a%2Cb&x=a-._~"


HOSTILE = "a b&c=d#e+f%g/h?i;j'k\"l<m>n\\o\u00e9\u4e2d\U0001f600\x00\n"


def test_minimal_encoding_of_hostile_values():
    query = encode_query([("StudyDescription", HOSTILE)], "minimal")
    assert query == (
        "StudyDescription=a%20b%26c%3Dd%23e%2Bf%25g/h?i%3Bj%27k%22l%3Cm%3En%5Co"
        "%C3%A9%E4%B8%AD%F0%9F%98%80%00%0A"
    )


@given(value=st.text(), encoding=st.sampled_from(["minimal", "strict"]))
def test_any_value_survives_encoding_and_cannot_break_the_query(value, encoding):
    query = encode_query([("k", value), ("limit", "5")], encoding)
    assert query.isascii()
    assert not set(query) & set(" \"#<>\\'`{}|+;")
    key_value, limit = query.split("&")
    assert limit == "limit=5"
    assert unquote(key_value.split("=", 1)[1]) == value
    assert query.count("&") == 1 and query.count("=") == 2


def test_with_query_appends_only_when_there_are_params():
    assert with_query("http://s/studies", [], "minimal") == "http://s/studies"
    assert with_query("http://s/studies", {"limit": "1"}, "minimal") == "http://s/studies?limit=1"


def _study(name: str, date: str, modalities: list[str], uid: str) -> Dataset:
    ds = Dataset()
    ds.PatientName, ds.StudyDate, ds.StudyInstanceUID = name, date, uid
    ds.ModalitiesInStudy = modalities
    return ds


STATIC_LIST = [
    _study("Doe^John", "20200105", ["CT", "SR"], "1.2.3"),
    _study("Roe^Jane", "20210105", ["MR"], "1.2.4"),
    _study("Poe^Edgar", "", [], "1.2.5"),
]


@pytest.mark.parametrize(("filters", "names"), [
    ([], ["Doe^John", "Roe^Jane", "Poe^Edgar"]),
    ([("PatientName", "doe*")], ["Doe^John"]),  # wildcard, person names ignore case
    ([("PatientName", "*o?^J*")], ["Doe^John", "Roe^Jane"]),
    ([("PatientName", "Doe")], []),  # single value matching is whole-value
    ([("StudyDate", "2021-")], ["Roe^Jane"]),  # open range; empty dates never match one
    ([("StudyDate", "-20201231")], ["Doe^John"]),
    ([("StudyDate", "20200105")], ["Doe^John"]),
    ([("ModalitiesInStudy", "MR,SR")], ["Doe^John", "Roe^Jane"]),  # any of the values
    ([("0020000D", "1.2.4,1.2.5")], ["Roe^Jane", "Poe^Edgar"]),  # UID list, by tag
    ([("StudyInstanceUID", "1.2.3"), ("ModalitiesInStudy", "MR")], []),  # all must match
    ([("fuzzymatching", "true"), ("AccessionNumber", "")], ["Doe^John", "Roe^Jane", "Poe^Edgar"]),
    ([("AccessionNumber", "A1")], []),  # absent attribute: only universal matching
])
def test_static_lists_are_matched_as_a_server_would(filters, names):
    assert [str(ds.PatientName) for ds in match_static(STATIC_LIST, filters)] == names


def test_static_lists_page_with_limit_and_offset():
    assert [ds.StudyInstanceUID for ds in match_static(STATIC_LIST, [], limit=1, offset=1)] == [
        "1.2.4"]
    assert match_static(STATIC_LIST, [], offset=5) == []
