"""DICOM JSON to pydicom datasets (ohifpy.dicomweb.dicom_json)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from ohifpy.dicomweb import DicomJSONError
from ohifpy.dicomweb.dicom_json import (
    bulk_data_uris,
    datasets_from_json,
    iter_bulk_data,
    set_bulk_data,
)

URL = "http://pacs/dicom-web/studies/1.2/series/1.3/metadata"


def parse(obj) -> list:
    return datasets_from_json(json.dumps(obj).encode(), URL)


def test_empty_bodies_are_no_datasets():
    assert datasets_from_json(b"", URL) == []
    assert datasets_from_json(b" \r\n", URL) == []
    assert parse([]) == []


def test_single_object_instead_of_array_is_one_dataset():
    (ds,) = parse({"00100020": {"vr": "LO", "Value": ["P1"]}})
    assert ds.PatientID == "P1"


def test_elements_without_value_are_empty():
    (ds,) = parse(
        {
            "00080061": {"vr": "CS"},
            "00100010": {"vr": "PN"},
            "00201208": {"vr": "IS", "Value": []},
            "00081190": {"vr": "UR", "Value": [None]},
        }
    )
    assert ds.ModalitiesInStudy == "" and ds["ModalitiesInStudy"].VM == 0
    assert ds.PatientName in ("", None) and ds["PatientName"].VM == 0
    assert ds["NumberOfStudyRelatedInstances"].VM == 0


def test_person_name_keeps_all_three_groups():
    (ds,) = parse(
        {
            "00100010": {
                "vr": "PN",
                "Value": [
                    {
                        "Alphabetic": "Yamada^Tarou",
                        "Ideographic": "山田^太郎",
                        "Phonetic": "やまだ^たろう",
                    }
                ],
            },
            "00080090": {"vr": "PN", "Value": [{"Ideographic": "李^华"}]},
        }
    )
    assert ds.PatientName.family_name == "Yamada"
    assert ds.PatientName.ideographic == "山田^太郎"
    assert ds.PatientName.phonetic == "やまだ^たろう"
    assert ds.ReferringPhysicianName.alphabetic == ""
    assert ds.ReferringPhysicianName.ideographic == "李^华"


def test_numbers_multi_values_and_inline_binary():
    (ds,) = parse(
        {
            "00280030": {"vr": "DS", "Value": [0.5, 0.25]},
            "00280010": {"vr": "US", "Value": [512]},
            "00281050": {"vr": "DS", "Value": ["40"]},
            "00091001": {"vr": "OB", "InlineBinary": base64.b64encode(b"\x00\xffraw").decode()},
        }
    )
    assert [float(v) for v in ds.PixelSpacing] == [0.5, 0.25]
    assert ds.Rows == 512
    assert float(ds.WindowCenter) == 40
    assert ds[0x00091001].value == b"\x00\xffraw"


HOSTILE = [
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE studies;--",
    "%00%2e%2e/../..",
    "*?^=",
    "\u202eevil\u200b",
    "emoji \U0001f600 and é",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_kept_as_is(text):
    (ds,) = parse(
        {
            "00081030": {"vr": "LO", "Value": [text]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": text.replace("=", "")}]},
        }
    )
    assert ds.StudyDescription == text
    assert str(ds.PatientName) == text.replace("=", "")


def test_backslash_is_the_dicom_value_delimiter_as_in_part10():
    (ds,) = parse({"00081030": {"vr": "LO", "Value": ["a\\b"]}})
    assert list(ds.StudyDescription) == ["a", "b"]


def test_sequences_and_relative_bulk_data_uris_are_resolved_against_the_response_url():
    (ds,) = parse(
        {
            "7FE00010": {"vr": "OW", "BulkDataURI": "../1.3/instances/9/bulk/7fe00010"},
            "00283010": {
                "vr": "SQ",
                "Value": [
                    {
                        "00283002": {"vr": "US", "Value": [4, 0, 16]},
                        "00283006": {"vr": "US", "BulkDataURI": ["bulk/lut"]},
                    },
                    None,
                ],
            },
            "00660023": {"vr": "OW", "BulkDataURI": "https://other/abs/uri"},
        }
    )
    assert bulk_data_uris(ds) == {
        0x7FE00010: "http://pacs/dicom-web/studies/1.2/series/1.3/instances/9/bulk/7fe00010",
        0x00660023: "https://other/abs/uri",
    }
    lut_item = ds.VOILUTSequence[0]
    assert bulk_data_uris(lut_item) == {
        0x00283006: "http://pacs/dicom-web/studies/1.2/series/1.3/bulk/lut"
    }
    assert lut_item["LUTData"].VM == 0  # value stays on the server until fetched
    assert len(ds.VOILUTSequence) == 2 and bulk_data_uris(ds.VOILUTSequence[1]) == {}
    found = [(item is lut_item, tag, uri) for item, tag, uri in iter_bulk_data(ds)]
    assert found == [
        (False, 0x00660023, "https://other/abs/uri"),
        (True, 0x00283006, "http://pacs/dicom-web/studies/1.2/series/1.3/bulk/lut"),
    ]


def test_set_bulk_data_converts_by_vr_and_forgets_the_uri():
    (ds,) = parse(
        {
            "00283010": {"vr": "SQ", "Value": [{"00283006": {"vr": "US", "BulkDataURI": "lut"}}]},
            "00660023": {"vr": "OW", "BulkDataURI": "ow"},
        }
    )
    item = ds.VOILUTSequence[0]
    set_bulk_data(item, 0x00283006, np.array([0, 1, 65535], "<u2").tobytes())
    assert list(item.LUTData) == [0, 1, 65535]
    assert bulk_data_uris(item) == {}
    set_bulk_data(ds, 0x00660023, b"\x01\x02")
    assert ds[0x00660023].value == b"\x01\x02"
    assert list(iter_bulk_data(ds)) == []


def test_datasets_not_from_json_have_no_bulk_data():
    from pydicom import Dataset

    assert bulk_data_uris(Dataset()) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Login</html>", "not JSON"),
        (b"\xff\xfe\xfa garbage", "not JSON"),
        (b'"a string"', "expected a JSON array"),
        (b"42", "expected a JSON array"),
        (b"[1]", "dataset 1 is a JSON int"),
        (b'[{}, "x"]', "dataset 2 is a JSON str"),
        (b'[{"00100010": {"Value": ["x"]}}]', "not DICOM JSON"),
        (b'[{"00100010": "x"}]', "not DICOM JSON"),
        (b'[{"zz": {"vr": "LO", "Value": ["x"]}}]', "not DICOM JSON"),
        (b'[{"00100020": {"vr": "LO", "Value": "not a list"}}]', "not DICOM JSON"),
        (
            b'[{"00283010": {"vr": "SQ", "Value": [{"00283006": {"Value": [1]}}]}}]',
            "not DICOM JSON",
        ),
    ],
)
def test_malformed_bodies_raise_dicom_json_error_naming_the_url(body, message):
    with pytest.raises(DicomJSONError, match=message) as info:
        datasets_from_json(body, URL)
    assert info.value.url == URL
