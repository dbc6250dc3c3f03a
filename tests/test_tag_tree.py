"""ohifpy.tag_tree: the tag browser's rows, from datasets as WADO-RS metadata gives them."""

from __future__ import annotations

import json

from pydicom import Dataset

from ohifpy.dicomweb.dicom_json import dataset_from_json
from ohifpy.synthetic import XSS_IMG
from ohifpy.tag_tree import BULK_DATA, MAX_VALUES, filter_tree, tag_tree

METADATA = {
    "00080018": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": XSS_IMG}]},
    "00200037": {"vr": "DS", "Value": [1, 0, 0, 0, 1, 0]},
    "00209165": {"vr": "AT", "Value": ["00200032"]},
    "00281201": {"vr": "OW", "BulkDataURI": "http://server/bulk/00281201"},
    "00283010": {"vr": "SQ", "Value": [
        {"00283006": {"vr": "US", "Value": list(range(100))},
         "00283003": {"vr": "LO", "Value": ["GAMMA"]}},
        {"00283003": {"vr": "LO", "Value": ["LINEAR"]}},
    ]},
    "7FE00010": {"vr": "OW", "BulkDataURI": "http://server/frames"},
}


def rows(nodes):
    return {node["tag"]: node for node in nodes}


def test_every_element_with_tag_vr_keyword_and_text_value() -> None:
    ds = dataset_from_json(METADATA, "http://server/metadata")
    tree = rows(tag_tree(ds))
    assert list(tree) == ["(0008,0018)", "(0010,0010)", "(0020,0037)", "(0020,9165)",
                          "(0028,1201)", "(0028,3010)", "(7FE0,0010)"]
    name = tree["(0010,0010)"]
    assert (name["vr"], name["keyword"], name["name"]) == ("PN", "PatientName", "Patient's Name")
    # Verbatim, '=' and markup included: the page sets it as text.
    assert name["value"] == XSS_IMG
    assert tree["(0020,0037)"]["value"] == "1.0\\0.0\\0.0\\0.0\\1.0\\0.0"  # JSON numbers
    assert tree["(0020,9165)"]["value"] == "(0020,0032)"
    assert tree["(0028,1201)"]["value"] == tree["(7FE0,0010)"]["value"] == BULK_DATA
    json.dumps(tag_tree(ds))  # the answer crosses to the page as JSON-able data


def test_sequences_have_items_as_children() -> None:
    tree = rows(tag_tree(dataset_from_json(METADATA, "http://server/metadata")))
    sequence = tree["(0028,3010)"]
    assert (sequence["vr"], sequence["value"]) == ("SQ", "2 items")
    first, second = sequence["children"]
    assert (first["name"], second["name"]) == ("Item 1", "Item 2")
    lut = rows(first["children"])["(0028,3006)"]["value"]
    assert lut.startswith("0\\1\\2\\") and lut.endswith(f"\\{MAX_VALUES - 1}\\… (100 values)")
    assert rows(second["children"])["(0028,3003)"]["value"] == "LINEAR"


def test_binary_values_are_summarised() -> None:
    ds = Dataset()
    ds.add_new(0x00091001, "OB", b"\x00" * 1000)
    ds.PatientID = ""
    tree = rows(tag_tree(ds))
    assert tree["(0009,1001)"]["value"] == "(1000 bytes)"
    assert tree["(0010,0020)"]["value"] == ""


def test_search_by_tag_or_keyword_keeps_ancestors() -> None:
    tree = tag_tree(dataset_from_json(METADATA, "http://server/metadata"))
    assert [n["tag"] for n in filter_tree(tree, "patientname")] == ["(0010,0010)"]
    for query in ("(0010,0010)", "0010,0010", "00100010"):
        assert [n["tag"] for n in filter_tree(tree, query)] == ["(0010,0010)"]
    (sequence,) = filter_tree(tree, "LUTExplanation")
    assert sequence["tag"] == "(0028,3010)"
    assert [len(item["children"]) for item in sequence["children"]] == [1, 1]
    (whole,) = filter_tree(tree, "VOILUTSequence")
    assert len(whole["children"][0]["children"]) == 2  # a matching sequence keeps its items
    assert filter_tree(tree, "") == tree
    assert filter_tree(tree, "no such thing") == []
