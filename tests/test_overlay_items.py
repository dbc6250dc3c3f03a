"""ohifpy.viewer.overlay_items: the overlay's corners from OHIF's customizations in the app
config, checked at start-up, and computed for an image as plain text.

No network: runs under Pyodide too."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydicom import Dataset
from support.coroutines import complete

from ohifpy.config import AppConfig, ConfigError
from ohifpy.dicomweb.transport import Response
from ohifpy.measure import ImageGeometry
from ohifpy.model import DisplaySet, Instance, Study, display_sets_from_instances
from ohifpy.viewer.overlay_items import (
    DEFAULT_CUSTOMIZATION,
    DEFAULT_OVERLAY,
    OverlayItem,
    ViewportOverlay,
)
from ohifpy.viewer.presenters import overlay, plane_overlay, study_header
from ohifpy.viewer.tables import tables
from ohifpy.worker_api import WorkerAPI

SOURCES = [{"sourceName": "pacs", "configuration": {
    "name": "pacs", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web"}}]
GEOMETRY = ImageGeometry(rows=4, columns=4, spacing=(0.5, 0.5), spacing_source="PixelSpacing",
                         position=(0.0, 0.0, 0.0), orientation=(1, 0, 0, 0, 1, 0))


def config(*customizations: Any, **keys: Any) -> AppConfig:
    return AppConfig.from_json({"dataSources": SOURCES,
                                "customizationService": list(customizations), **keys})


def display_set(**attributes: Any) -> DisplaySet:
    """One CT image, its instance made from DICOM JSON as openViewer makes it."""
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2", "1.2.3", "1.2.3.4"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality, ds.Rows, ds.Columns, ds.InstanceNumber = "CT", 4, 4, 7
    ds.PixelSpacing = [0.5, 0.5]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    (result,) = display_sets_from_instances([Instance.from_json(ds.to_json_dict(), "http://x/", 0)])
    return result


def shown(corner: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(id, text) of a corner's items; a placeholder's text is its kind."""
    return [(item["id"], item.get("text", item["kind"])) for item in corner]


def test_the_default_is_todays_overlay() -> None:
    assert config().viewportOverlay == DEFAULT_OVERLAY
    ct = display_set(PatientName="Anchor^Chest^CT", PatientID="P1", StudyDate="20240115",
                     StudyDescription="CT chest", SeriesDescription="Axial 5mm", SeriesNumber=2)
    answer = overlay(ct, ct.images[0], 0, None, DEFAULT_OVERLAY)
    corners = answer["corners"]
    assert {corner: shown(items) for corner, items in corners.items()} == {
        "topLeft": [("PatientName", "Anchor, Chest CT"), ("PatientID", "P1"),
                    ("StudyDate", "15-Jan-2024"), ("StudyDescription", "CT chest")],
        "topRight": [("SeriesDescription", "Axial 5mm"), ("SeriesNumber", "2"),
                     ("Modality", "CT")],
        "bottomLeft": [("InstanceNumber", "instanceNumber")],
        "bottomRight": [("WindowLevel", "windowLevel"), ("ZoomLevel", "zoomLevel")],
    }
    assert corners["topLeft"][2] == {"id": "StudyDate", "kind": "attribute", "label": "",
                                     "title": "Study date", "attribute": "StudyDate",
                                     "text": "15-Jan-2024", "iso": "2024-01-15"}
    assert corners["topRight"][1]["label"] == "Se:"
    assert corners["bottomRight"][0] == {"id": "WindowLevel", "kind": "windowLevel",
                                         "label": "", "title": "Window / level"}
    # The texts are the corners' items, no longer keys of their own; it crosses as JSON.
    assert "patientName" not in answer and "studyDate" not in answer
    assert json.loads(json.dumps(answer["corners"])) == answer["corners"]


def test_items_without_a_value_are_left_out() -> None:
    bare = display_set()
    assert shown(DEFAULT_OVERLAY.corners(bare.images[0].instance.metadata)["topLeft"]) == []


def test_an_ideographic_name_from_dicom_json() -> None:
    ct = display_set(PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう")
    (name, *_) = overlay(ct, ct.images[0], 0, None, DEFAULT_OVERLAY)["corners"]["topLeft"]
    assert name["text"] == "Yamada, Tarou (山田 太郎)"


def test_a_custom_overlay_from_the_app_config_changes_the_corners() -> None:
    site = config(
        {"viewportOverlay.topLeft": {"$set": [
            {"id": "Name", "inheritsFrom": "ohif.overlayItem", "attribute": "PatientName",
             "color": "#fff"},
            {"id": "Age", "customizationType": "ohif.overlayItem", "attribute": "PatientAge",
             "label": "Age:"},
            {"id": "Sex", "inheritsFrom": "ohif.overlayItem", "attribute": "PatientSex"}]},
         "viewportOverlay.topRight": {"$push": [
             {"id": "Loc", "inheritsFrom": "ohif.overlayItem", "attribute": "SliceLocation",
              "label": "Loc:", "title": "Slice location"},
             {"id": "Thick", "inheritsFrom": "ohif.overlayItem", "attribute": "SliceThickness",
              "label": "Thick:"}]},
         "cornerstoneViewportClickCommands": {"doubleClick": {}},  # OHIF's, not ours: ignored
         },
        {"viewportOverlay.topRight": {"$splice": [[0, 3], [-1, 0, {
            "id": "Acquired", "inheritsFrom": "ohif.overlayItem",
            "attribute": "AcquisitionDateTime"}]]},
         "viewportOverlay.bottomLeft": [
             {"id": "Zoom", "inheritsFrom": "ohif.overlayItem.zoomLevel", "label": "Z"},
             {"id": "Rate", "inheritsFrom": "ohifpy.overlayItem.frameRate"}],
         "viewportOverlay.bottomRight": {"$set": []}},
    )
    ct = display_set(PatientName="Doe^John^Andrew^Dr.^Jr.", PatientAge="045Y", PatientSex="F",
                     SliceLocation="-123.456", SliceThickness="5.000000",
                     AcquisitionDateTime="20240105143052")
    corners = overlay(ct, ct.images[0], 0, None, site.viewportOverlay)["corners"]
    assert {corner: shown(items) for corner, items in corners.items()} == {
        "topLeft": [("Name", "Doe, Dr. John Andrew, Jr."), ("Age", "45 years"), ("Sex", "Female")],
        "topRight": [("Loc", "-123.46"), ("Acquired", "05-Jan-2024 14:30"), ("Thick", "5")],
        "bottomLeft": [("Zoom", "zoomLevel"), ("Rate", "frameRate")],
        "bottomRight": [],
    }
    assert corners["topLeft"][0]["title"] == "Patient's Name"  # the DICOM name by default
    assert corners["topRight"][0]["title"] == "Slice location"
    assert corners["topRight"][1]["iso"] == "2024-01-05T14:30:52"
    assert corners["bottomLeft"][0] == {"id": "Zoom", "kind": "zoomLevel", "label": "Z",
                                        "title": "Zoom"}
    # One object instead of OHIF's list works too.
    one = AppConfig.from_json({"dataSources": SOURCES, "customizationService": {
        "viewportOverlay.bottomRight": {"$push": [
            {"id": "Rate", "inheritsFrom": "ohifpy.overlayItem.frameRate"}]}}})
    assert [i.id for i in one.viewportOverlay.bottomRight] == ["WindowLevel", "ZoomLevel", "Rate"]


def test_an_mpr_plane_shows_its_series_first_instance() -> None:
    ct = display_set(PatientName="Doe^Jane", StudyDate="20240105")
    answer = plane_overlay(ct, "Sagittal", GEOMETRY, 1, 4, None, DEFAULT_OVERLAY)
    assert shown(answer["corners"]["topLeft"])[:2] == [("PatientName", "Doe, Jane"),
                                                       ("StudyDate", "05-Jan-2024")]


def test_the_study_header_gets_the_texts() -> None:
    ds = Dataset()
    ds.StudyInstanceUID, ds.PatientName, ds.StudyDate = "1.2", "Doe^Jane", "20240105"
    header = study_header(Study.from_dataset(ds), [])
    assert (header["patientName"], header["displayDate"]) == ("Doe^Jane", "2024-01-05")
    assert (header["patientNameText"], header["studyDateText"], header["studyDateIso"],
            header["studyTimeText"], header["studyTimeIso"]) == (
        "Doe, Jane", "05-Jan-2024", "2024-01-05", "", "")


ITEM = {"id": "X", "inheritsFrom": "ohif.overlayItem", "attribute": "PatientName"}


@pytest.mark.parametrize(("customization", "message"), [
    ({"viewportOverlay.topLeft": {"$push": [ITEM, {**ITEM, "id": "Y",
                                                   "attribute": "PatientNmae"}]}},
     re.escape("config.customizationService[0]['viewportOverlay.topLeft'].$push[1].attribute: "
               "'PatientNmae' is not a DICOM keyword")),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "attribute": "PixelData"}]}},
     r"\$set\[0\].attribute: PixelData \(VR OB or OW\) cannot be shown as text"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "attribute": "ReferencedImageSequence"}]}},
     "cannot be shown as text"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "contentF": "() => 1"}]}},
     r"\$set\[0\].contentF: is a JavaScript function in OHIF's config"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "condition": True}]}},
     r"\[0\].condition: is a JavaScript function"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "lable": "x"}]}},
     r"\$set\[0\].lable: unknown key \(known: attribute, customizationType, id,"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "inheritsFrom": "ohif.overlayItem.custom"}]}},
     r"\[0\].inheritsFrom: must be one of ohif.overlayItem, .* not 'ohif.overlayItem.custom'"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "inheritsFrom": ["ohif.overlayItem"]}]}},
     r"\[0\].inheritsFrom: must be one of .* not \['ohif.overlayItem'\]"),
    ({"viewportOverlay.topLeft": {"$set": [{"id": "X", "attribute": "PatientName"}]}},
     r"\[0\].inheritsFrom: must be one of .* not None"),
    ({"viewportOverlay.topLeft": {"$set": [
        {**ITEM, "customizationType": "ohif.overlayItem.zoomLevel"}]}},
     r"\[0\].inheritsFrom: differs from customizationType, its older name"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "id": ""}]}},
     r"\[0\].id: must be a non-empty string, not ''"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "label": 3}]}},
     r"\[0\].label: must be a string, not 3"),
    ({"viewportOverlay.topLeft": {"$set": [{**ITEM, "attribute": None}]}},
     r"\[0\].attribute: must be a non-empty string, not None"),
    ({"viewportOverlay.bottomLeft": {"$set": [
        {"id": "W", "inheritsFrom": "ohif.overlayItem.windowLevel", "attribute": "WindowWidth"}]}},
     r"\[0\].attribute: only ohif.overlayItem shows an attribute"),
    ({"viewportOverlay.topLeft": {"$set": ["PatientName"]}},
     r"\$set\[0\]: must be an object, not str"),
    ({"viewportOverlay.topLeft": {"$set": ITEM}},
     r"\$set: must be a list of overlay items, not dict"),
    ({"viewportOverlay.topLeft": {"$merge": [ITEM]}},
     r"\.\$merge: unknown command \(a JSON config can use \$set, \$push and \$splice\)"),
    ({"viewportOverlay.topLeft": {"$set": [], "$push": []}},
     r"\['viewportOverlay.topLeft'\]: must be a list of overlay items or one command"),
    ({"viewportOverlay.topLeft": {"$splice": [[0]]}},
     r"\$splice\[0\]: must be \[start, deleteCount, \.\.\.items\]"),
    ({"viewportOverlay.topLeft": {"$splice": [[0, -1]]}}, r"\$splice\[0\]: must be"),
    ({"viewportOverlay.topLeft": {"$splice": [[0, 0, {"id": "Q"}]]}},
     r"\$splice\[0\]\[2:\]\[0\].inheritsFrom"),
    ({"viewportOverlay.bottomCenter": [ITEM]},
     ("'viewportOverlay.bottomCenter' is not one of the overlay's corners "
      r"\(viewportOverlay.topLeft, viewportOverlay.topRight,")),
    ({"viewportOverlay.topLeft": {"$push": [{**ITEM, "id": "PatientName"}]}},
     "viewportOverlay.topLeft has two items with id 'PatientName'"),
    ("viewportOverlay.topLeft", r"config.customizationService\[0\]: must be an object"),
])
def test_invalid_overlay_configs_name_the_key(customization: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(customization)


def test_customization_service_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="config.customizationService: must be a list of "
                                          "customization objects"):
        AppConfig.from_json({"dataSources": SOURCES, "customizationService": "x"})


def test_hostile_values_and_labels_stay_plain_text() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    site = config({"viewportOverlay.topLeft": {"$set": [
        {"id": hostile, "inheritsFrom": "ohif.overlayItem", "attribute": "StudyDescription",
         "label": hostile, "title": hostile}]}})
    ct = display_set(StudyDescription=f"{hostile}\nsecond line")
    (item,) = overlay(ct, ct.images[0], 0, None, site.viewportOverlay)["corners"]["topLeft"]
    assert (item["id"], item["label"], item["title"]) == (hostile, hostile, hostile)
    assert item["text"] == f"{hostile} second line"  # one line; the page sets textContent


class NoNetwork:
    """A transport for a test that must not make requests."""

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        raise AssertionError(f"no request expected: {method} {url}")

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("date_format", ["ohif", "locale"])
def test_the_date_format_reaches_the_page_in_the_tables(date_format: str) -> None:
    worker = WorkerAPI(NoNetwork())
    app = {"dataSources": SOURCES, "dateFormat": date_format, "customizationService": [
        {"viewportOverlay.bottomRight": {"$set": []}}]}
    answer = complete(worker.handle("init", {"config": app, "baseUrl": "http://x/"}))
    assert answer["result"]["tables"]["dateFormat"] == date_format
    assert answer["result"]["tables"] == tables(date_format)  # type: ignore[arg-type]
    assert worker._overlay_layout().bottomRight == ()  # the session's config is used
    assert tables()["dateFormat"] == "ohif"


def test_a_bad_date_format_is_named() -> None:
    with pytest.raises(ConfigError, match="config.dateFormat must be 'ohif' .* or 'locale' "
                                          r".* not 'dd/mm/yyyy'"):
        config(dateFormat="dd/mm/yyyy")
    assert config().dateFormat == "ohif" and config(dateFormat="locale").dateFormat == "locale"


def test_the_default_customization_is_ohif_json_read_as_a_site_would() -> None:
    assert json.loads(json.dumps(DEFAULT_CUSTOMIZATION)) == DEFAULT_CUSTOMIZATION
    assert config(DEFAULT_CUSTOMIZATION).viewportOverlay == DEFAULT_OVERLAY
    assert OverlayItem.read(DEFAULT_CUSTOMIZATION["viewportOverlay.topLeft"][0], "") == (
        DEFAULT_OVERLAY.topLeft[0])
    assert ViewportOverlay.from_config([]) == DEFAULT_OVERLAY
