"""Measurements, tag browser, CSV and SR reports through WorkerAPI, against the real Orthanc."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import LoadedOrthanc, StoredCopy, store_copy
from test_sr import dciodvfy
from test_worker_api import ORTHANC_CONFIG, result

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.synthetic import XSS_IMG
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, dciodvfy

# Quarter-pixel points: SR graphic data is 32-bit float, exact for these.
DRAWN = [
    (0, "Length", [[100.25, 120.5], [300.75, 260.0]], ""),
    (0, "Bidirectional", [[200, 200], [210, 200], [180, 190], [240, 230]], ""),
    (0, "Angle", [[10, 10], [50, 50], [90, 10]], ""),
    (0, "CobbAngle", [[10, 100], [90, 110], [10, 200], [90, 170]], ""),
    (1, "RectangleROI", [[240.5, 250.25], [280, 300]], ""),
    (1, "EllipticalROI", [[200, 220], [260, 250]], ""),
    (2, "CircleROI", [[256, 256], [256, 276.5]], ""),
    (2, "PlanarFreehandROI", [[300, 300], [340, 310], [330, 350], [305, 340]], ""),
    (2, "Probe", [[256, 256]], ""),
    (2, "ArrowAnnotate", [[120, 130], [160, 170]], XSS_IMG),
]


@pytest.fixture(scope="module")
def measured_study(orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory
                   ) -> StoredCopy:
    """Three CT slices under new UIDs, so the reports stored here touch no other test's study."""
    return store_copy(orthanc, "ct", "measured", tmp_path_factory.mktemp("measured"))


async def started(orthanc: LoadedOrthanc) -> WorkerAPI:
    """A worker as the page starts it, on the Orthanc config."""
    worker = WorkerAPI(HttpxTransport())
    await result(worker, "init", config=ORTHANC_CONFIG, baseUrl=orthanc.base_url + "/")
    return worker


@pytest.fixture
async def worker(orthanc: LoadedOrthanc) -> AsyncIterator[WorkerAPI]:
    worker = await started(orthanc)
    yield worker
    await worker.transport.aclose()


async def open_stack(worker: WorkerAPI, study_uid: str) -> dict[str, Any]:
    return await result(worker, "openViewer", studyInstanceUIDs=study_uid)


def file_of(study: StoredCopy, sop_uid: str) -> pydicom.Dataset:
    return next(ds for ds in map(pydicom.dcmread, study.files) if ds.SOPInstanceUID == sop_uid)


async def test_measure_on_the_ct_in_mm_and_hu(worker: WorkerAPI, measured_study: StoredCopy) -> None:
    (stack,) = (await open_stack(worker, measured_study.study_uid))["displaySets"]
    uid = stack["displaySetUID"]
    ds = file_of(measured_study, stack["sopInstanceUIDs"][0])
    spacing = float(ds.PixelSpacing[0])
    length = await result(worker, "measure", displaySetUID=uid, imageIndex=0, tool="Length",
                          points=[[10, 10], [40, 50]], label="line")
    assert length["values"] == [{"name": "length", "value": pytest.approx(50 * spacing),
                                 "unit": "mm"}]
    assert (length["sopInstanceUID"], length["frameNumber"], length["label"]) == (
        ds.SOPInstanceUID, 1, "line")
    assert length["patientId"] == "OHIFPY-MEASURED" and length["uid"]
    # The circle's statistics from the file itself: centres within 20 px, rescale applied.
    circle = await result(worker, "measure", displaySetUID=uid, imageIndex=0, tool="CircleROI",
                          points=[[256, 256], [256, 276]])
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    rows, columns = np.mgrid[:512, :512]
    inside = hu[(columns - 256) ** 2 + (rows - 256) ** 2 <= 400]
    values = {v["name"]: v for v in circle["values"]}
    assert values["mean"]["value"] == pytest.approx(inside.mean())
    assert values["stdDev"]["value"] == pytest.approx(inside.std())
    assert (values["min"]["value"], values["max"]["value"]) == (inside.min(), inside.max())
    assert values["mean"]["unit"] == "HU"
    assert values["area"]["value"] == pytest.approx(math.pi * (20 * spacing) ** 2)
    probe = await result(worker, "measure", displaySetUID=uid, imageIndex=0, tool="Probe",
                         points=[[0, 0]])
    assert probe["patientPosition"] == [float(v) for v in ds.ImagePositionPatient]
    assert probe["values"][0]["value"] == hu[0, 0]
    bad = await worker.handle("measure", {"displaySetUID": uid, "imageIndex": 0,
                                          "tool": "Ruler", "points": [[0, 0]]})
    assert bad["error"]["type"] == "MeasurementError" and "no measurement tool" in \
        bad["error"]["message"]


async def test_tag_browser_shows_hostile_values_verbatim(worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    xss = orthanc.manifest.study("xss")
    opened = await result(worker, "openViewer", studyInstanceUIDs=xss.study_uid)
    stack = next(d for d in opened["displaySets"] if d["seriesDescription"] == XSS_IMG)
    tags = await result(worker, "tags", displaySetUID=stack["displaySetUID"], imageIndex=0)
    rows = {node["keyword"]: node for node in tags["elements"]}
    assert rows["SeriesDescription"]["value"] == XSS_IMG
    assert rows["PatientName"]["value"] == XSS_IMG
    assert rows["SeriesDescription"]["tag"] == "(0008,103E)"
    assert rows["PixelData"]["value"] == "(bulk data)"
    assert tags["total"] == len(tags["elements"]) and tags["frameNumber"] == 1
    found = await result(worker, "tags", displaySetUID=stack["displaySetUID"], imageIndex=0,
                         search="0008,103e")
    assert [(n["keyword"], n["value"]) for n in found["elements"]] == [
        ("SeriesDescription", XSS_IMG)]


async def test_csv_export(worker: WorkerAPI, measured_study: StoredCopy) -> None:
    (stack,) = (await open_stack(worker, measured_study.study_uid))["displaySets"]
    length = await result(worker, "measure", displaySetUID=stack["displaySetUID"], imageIndex=1,
                          tool="Length", points=[[0, 0], [0, 10]], label="=1+1")
    exported = await result(worker, "exportMeasurementsCsv", measurements=[length])
    header, row = list(csv.reader(io.StringIO(exported["csv"])))
    cells = dict(zip(header, row, strict=True))
    assert (cells["Label"], cells["PatientID"], cells["length unit"]) == (
        "'=1+1", "OHIFPY-MEASURED", "mm")
    assert cells["SOPInstanceUID"] == stack["sopInstanceUIDs"][1]
    assert cells["StudyInstanceUID"] == measured_study.study_uid


def saved(measurement: dict[str, Any]) -> dict[str, Any]:
    """What a report keeps of a measurement (not the pixel count, notes or patient position)."""
    keep = ("uid", "label", "tool", "points", "text", "studyInstanceUID", "seriesInstanceUID",
            "sopInstanceUID", "frameNumber", "displaySetUID", "imageIndex")
    return {**{k: measurement[k] for k in keep},
            "values": [v for v in measurement["values"] if v["name"] != "pixelCount"]}


async def test_report_round_trip_through_orthanc(
        orthanc: LoadedOrthanc, measured_study: StoredCopy,
        dicomweb_source: DicomWebSource, tmp_path: Path) -> None:
    worker = await started(orthanc)
    opened = await open_stack(worker, measured_study.study_uid)
    assert opened["measurements"] == []
    uid = opened["displaySets"][0]["displaySetUID"]
    drawn = [await result(worker, "measure", displaySetUID=uid, imageIndex=index, tool=tool,
                          points=points, text=text, label=f"{tool} <b>{index}</b>")
             for index, tool, points, text in DRAWN]
    drawn[0]["values"] = [{"name": "length", "value": 1.0, "unit": "mm"}]  # page-side tampering
    stored = await result(worker, "saveReport", measurements=drawn)
    (report,) = stored["reports"]
    assert (report["studyInstanceUID"], report["numMeasurements"]) == (
        measured_study.study_uid, len(DRAWN))

    # A fresh viewer opens the study: the SR is found and its measurements are back on
    # the same images, with the values measured in Python (not the tampered one).
    fresh = await started(orthanc)
    reopened = await open_stack(fresh, measured_study.study_uid)
    assert len(reopened["displaySets"]) == 1  # the SR series is no image stack
    back = reopened["measurements"]
    drawn[0] = await result(worker, "measure", displaySetUID=uid, imageIndex=0, tool="Length",
                            points=DRAWN[0][2], label=drawn[0]["label"], uid=drawn[0]["uid"])
    assert [saved(m) for m in back] == [saved(m) for m in drawn]
    assert {m["reportSOPInstanceUID"] for m in back} == {report["sopInstanceUID"]}
    assert (await result(fresh, "loadReports", studyInstanceUIDs=[measured_study.study_uid])
            )["measurements"] == back

    # What the server holds is valid per dciodvfy.
    async with DICOMwebClient(dicomweb_source) as client:
        data = await client.retrieve_instance(measured_study.study_uid,
                                              report["seriesInstanceUID"],
                                              report["sopInstanceUID"])
    path = tmp_path / "report.dcm"
    path.write_bytes(data)
    output = await asyncio.to_thread(dciodvfy, path)
    assert output.strip() == "Comprehensive3DSR", output  # the IOD, and no error or warning

    # Saved again without the first measurement: the newest report is what opens.
    await result(worker, "saveReport", measurements=drawn[1:])
    newest = await result(fresh, "loadReports", studyInstanceUIDs=measured_study.study_uid)
    assert [m["uid"] for m in newest["measurements"]] == [m["uid"] for m in drawn[1:]]
    for w in (worker, fresh):
        await w.transport.aclose()


async def test_save_needs_the_image_open(worker: WorkerAPI, measured_study: StoredCopy) -> None:
    (stack,) = (await open_stack(worker, measured_study.study_uid))["displaySets"]
    length = await result(worker, "measure", displaySetUID=stack["displaySetUID"], imageIndex=0,
                          tool="Length", points=[[0, 0], [0, 10]])
    gone = {**length, "sopInstanceUID": "1.2.3.4"}
    answer = await worker.handle("saveReport", {"measurements": [gone]})
    assert answer["error"]["type"] == "ModelError" and "open its study" in \
        answer["error"]["message"]
    broken = await worker.handle("saveReport", {"measurements": [{"tool": "Length"}]})
    assert broken["error"]["type"] == "MeasurementError"
