"""SR documents as the page shows them: header and content tree as text, references to images.

The documents are the test data's (:mod:`ohifpy.synthetic_documents`), built here on a
small CT, read as written and as a DICOMweb server's metadata (DICOM JSON) hands them on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.config import disable_value_validation
from pydicom.sequence import Sequence as DicomSequence
from support.coroutines import complete

from ohifpy import sr_document as sr_module
from ohifpy import synthetic, synthetic_documents
from ohifpy.model import Instance, ModelError, display_sets_from_instances
from ohifpy.sr_document import SRDocumentError, content_tree, document_header, sr_document
from ohifpy.viewer import documents

URL = "http://127.0.0.1/dicom-web/studies/1/metadata"


@cache
def ct() -> synthetic.SyntheticStudy:
    return synthetic.ct_study(8)


def key_images() -> tuple[str, str]:
    """The slices the reports refer to: a quarter and half way down the stack."""
    datasets = ct().datasets
    return str(datasets[2].SOPInstanceUID), str(datasets[4].SOPInstanceUID)


def as_metadata(ds: Dataset) -> Dataset:
    """The dataset as the viewer gets it from a server: through DICOM JSON."""
    return Instance.from_json(ds.to_json_dict(), URL).metadata


@pytest.fixture(params=["file", "metadata"])
def read(request: pytest.FixtureRequest) -> Any:
    return (lambda ds: ds) if request.param == "file" else as_metadata


def find(nodes: list[dict[str, Any]], concept: str, value_type: str = "") -> dict[str, Any]:
    """The first node (depth first) with this concept name (and value type)."""
    for node in nodes:
        if node["conceptName"] == concept and value_type in ("", node["valueType"]):
            return node
        try:
            return find(node["children"], concept, value_type)
        except LookupError:
            continue
    raise LookupError(concept)


def test_basic_text_sr_header_and_tree(read: Any) -> None:
    document = sr_document(read(synthetic_documents.basic_text_sr(ct())))
    assert {k: document[k] for k in ("title", "documentType", "completionFlag",
                                     "verificationFlag", "observers", "contentDateTime")} == {
        "title": "Diagnostic Imaging Report", "documentType": "Basic Text SR",
        "completionFlag": "COMPLETE", "verificationFlag": "VERIFIED",
        "observers": ["Reader^Rita"], "contentDateTime": "2024-01-05 08:32:00"}
    assert document["verifyingObservers"] == [{"name": "Verifier^Victor",
                                               "organization": "ohifpy synthetic",
                                               "dateTime": "2024-01-05 10:00:00"}]
    assert not document["truncated"]
    root = document["root"]
    assert (root["id"], root["valueType"], root["relationship"]) == ("1", "CONTAINER", "")
    tree = root["children"]
    assert [(n["conceptName"], n["valueType"], n["relationship"]) for n in tree] == [
        ("Language of Content Item and Descendants", "CODE", "HAS CONCEPT MOD"),
        ("Person Observer Name", "PNAME", "HAS OBS CONTEXT"),
        ("DateTime Started", "DATETIME", "HAS OBS CONTEXT"),
        ("Procedure Study Instance UID", "UIDREF", "HAS OBS CONTEXT"),
        ("Findings", "CONTAINER", "CONTAINS"),
        ("Impressions", "CONTAINER", "CONTAINS"),
    ]
    assert [n["value"] for n in tree[:4]] == [
        "English (United States)", "Reader^Rita", "2024-01-05 09:15:00", ct().study_uid]
    finding = find(tree, "Finding")
    assert (finding["id"], finding["value"]) == ("1.5.1", "Lungs are clear.\nNo pleural effusion.")
    (image,) = finding["children"]  # an IMAGE without a concept name
    assert (image["conceptName"], image["valueType"], image["relationship"]) == (
        "", "IMAGE", "INFERRED FROM")
    assert image["references"] == [{"sopClassUID": str(synthetic.CT_IMAGE),
                                     "sopInstanceUID": key_images()[0], "frameNumbers": []}]
    assert find(tree, "Impression")["value"] == "No acute cardiopulmonary abnormality."
    assert tree[4]["continuous"] is False and content_tree(
        read(synthetic_documents.basic_text_sr(ct()))) == tree


def test_comprehensive_sr_values_units_coordinates_and_markup(read: Any) -> None:
    document = sr_document(read(synthetic_documents.comprehensive_sr(ct())))
    assert (document["documentType"], document["completionFlag"],
            document["verificationFlag"], document["verifyingObservers"]) == (
        "Comprehensive SR", "PARTIAL", "UNVERIFIED", [])
    tree = document["root"]["children"]
    mass = find(tree, "Finding", "CODE")
    assert mass["value"] == "Mass"
    assert find(mass["children"], "Finding Site")["value"] == "Lung"
    length = find(mass["children"], "Length")
    assert (length["value"], length["unit"], length["relationship"]) == (
        "12.5 mm", "mm", "HAS PROPERTIES")
    hu = find(mass["children"], "Attenuation Coefficient")
    assert (hu["value"], hu["unit"]) == ("35 Hounsfield unit", "Hounsfield unit")
    # The SCOORD's SELECTED FROM image is folded into its reference, with the points.
    (scoord,) = length["children"]
    assert (scoord["valueType"], scoord["value"], scoord["children"]) == (
        "SCOORD", "POLYLINE (2 points)", [])
    assert scoord["references"] == [{
        "sopClassUID": str(synthetic.CT_IMAGE), "sopInstanceUID": key_images()[1],
        "frameNumbers": [], "graphicType": "POLYLINE",
        "points": [[200.0, 240.0], [236.0, 252.0]]}]
    source = find(mass["children"], "Source of Measurement")
    assert source["references"][0]["sopInstanceUID"] == key_images()[1]
    # Markup is a value like any other: the same string, never escaped or dropped.
    findings = find(tree, "Findings")["children"]
    assert findings[1]["value"] == synthetic_documents.HOSTILE_TEXT == synthetic.XSS_IMG
    assert find(tree, "Best illustration of finding")["references"][0]["sopInstanceUID"] == \
        key_images()[0]
    assert find(tree, "Study Date")["value"] == "2024-01-05"
    assert find(tree, "Study Time")["value"] == "08:30:00"


def item(value_type: str, relationship: str = "CONTAINS", name: str = "Concept",
         **values: Any) -> Dataset:
    ds = Dataset()
    ds.RelationshipType, ds.ValueType = relationship, value_type
    if name:
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "1", "99TEST", name
        ds.ConceptNameCodeSequence = DicomSequence([code])
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def document_of(*children: Dataset) -> Dataset:
    root = item("CONTAINER", name="Report")
    del root.RelationshipType
    root.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR
    root.StudyInstanceUID, root.SeriesInstanceUID, root.SOPInstanceUID = "1", "1.1", "1.1.1"
    root.ContentSequence = DicomSequence(list(children))
    return root


def code(value: str, scheme: str, meaning: str = "") -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator = value, scheme
    if meaning:
        ds.CodeMeaning = meaning
    return ds


def test_values_of_every_kind(read: Any) -> None:
    multiframe = item("IMAGE", name="Key frame")
    reference = Dataset()
    reference.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    reference.ReferencedSOPInstanceUID = "1.2.3.4"
    reference.ReferencedFrameNumber = [3, 5]
    multiframe.ReferencedSOPSequence = DicomSequence([reference])
    ratio = item("NUM", name="Ratio")
    measured = Dataset()
    measured.NumericValue = "0.250"
    measured.MeasurementUnitsCodeSequence = DicomSequence([code("1", "UCUM", "no units")])
    ratio.MeasuredValueSequence = DicomSequence([measured])
    missing = item("NUM", name="Volume")
    missing.MeasuredValueSequence = DicomSequence([])
    missing.NumericValueQualifierCodeSequence = DicomSequence(
        [code("114006", "DCM", "Measurement failure")])
    nameless = item("CODE", name="Organ")
    nameless.ConceptCodeSequence = DicomSequence([code("T-1234", "SRT")])
    point = item("SCOORD3D", name="Centre", GraphicType="POINT",
                 GraphicData=[1.5, -2.0, 30.0], ReferencedFrameOfReferenceUID="1.2.3.9")
    by_reference = Dataset()
    by_reference.RelationshipType = "INFERRED FROM"
    by_reference.ReferencedContentItemIdentifier = [1, 1, 2]
    with disable_value_validation():  # a malformed DATE is shown as it is
        malformed = item("DATE", Date="2024")
        tree = sr_document(read(document_of(
            multiframe, ratio, missing, nameless, point, by_reference,
            item("DATETIME", DateTime="20240105101530.123+0100"),
            item("TIME", Time="0930"),
            malformed,
            item("TEXT", TextValue="  two\n  lines  "),
        )))["root"]["children"]
    assert tree[0]["references"] == [{"sopClassUID": "1.2.840.10008.5.1.4.1.1.12.1",
                                      "sopInstanceUID": "1.2.3.4", "frameNumbers": [3, 5]}]
    assert (tree[1]["value"], tree[1]["unit"]) == ("0.25", "")
    assert tree[2]["value"] == "Measurement failure"
    assert tree[3]["value"] == "T-1234 (SRT)"
    assert tree[4]["value"] == "POINT (1 point)"
    assert tree[4]["references"] == [{"sopClassUID": "", "sopInstanceUID": "",
                                      "frameNumbers": [], "frameOfReferenceUID": "1.2.3.9",
                                      "graphicType": "POINT", "points": [[1.5, -2.0, 30.0]]}]
    assert (tree[5]["valueType"], tree[5]["referencedContentItem"], tree[5]["value"]) == (
        "", "1.1.2", "content item 1.1.2")
    assert [n["value"] for n in tree[6:]] == [
        "2024-01-05 10:15:30", "09:30", "2024", "  two\n  lines  "]
    assert [n["id"] for n in tree] == [f"1.{n}" for n in range(1, 11)]


def test_large_and_deep_documents_are_cut_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sr_module, "MAX_NODES", 5)
    document = sr_document(document_of(*(item("TEXT", TextValue=str(n)) for n in range(10))))
    assert document["truncated"] and len(document["root"]["children"]) == 4  # with the root
    monkeypatch.setattr(sr_module, "MAX_NODES", 1000)
    monkeypatch.setattr(sr_module, "MAX_DEPTH", 3)
    deep = item("CONTAINER", name="Level")
    for _ in range(6):
        outer = item("CONTAINER", name="Level")
        outer.ContentSequence = DicomSequence([deep])
        deep = outer
    document = sr_document(document_of(deep))
    depth, node = 0, document["root"]
    while node["children"]:
        depth, node = depth + 1, node["children"][0]
    assert document["truncated"] and depth == 3


def test_a_dataset_without_content_is_not_a_document() -> None:
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3"
    with pytest.raises(SRDocumentError, match="not an SR document"):
        sr_document(ds)
    assert document_header(ds)["title"] == ""


def test_worker_answer_for_an_sr_display_set() -> None:
    datasets = [synthetic_documents.comprehensive_sr(ct())]
    datasets[0].SeriesNumber = 2
    (display_set,) = display_sets_from_instances(
        Instance.from_json(ds.to_json_dict(), URL) for ds in datasets)
    assert display_set.kind == "sr"
    answer = complete(documents.sr_document(display_set))
    assert answer["displaySetUID"] == display_set.display_set_uid
    assert answer["sopInstanceUID"] == str(datasets[0].SOPInstanceUID)
    assert answer["title"] == "Diagnostic Imaging Report"
    assert find(answer["root"]["children"], "Finding", "TEXT")["value"] == synthetic.XSS_IMG
    image = synthetic.ct_study(1).datasets[0]
    (stack,) = display_sets_from_instances([Instance.from_dataset(image)])
    with pytest.raises(ModelError, match="not 'sr'"):
        complete(documents.sr_document(stack))
