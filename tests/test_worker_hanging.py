"""worker_api's hanging-protocol methods against the real Orthanc, on the hanging test data
(ohifpy.synthetic_hanging): openViewer with hangingProtocolId and stageId, applyStage,
priorStudies (QIDO by PatientID, the Primary / Recent / All tabs), addStudy, a site's
protocol from the config, and sync by relative position across frames of reference."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import LoadedOrthanc
from test_worker_api import CountingTransport, result
from test_worker_viewer import config

from ohifpy import synthetic_hanging as data
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx

T2_LEFT_T1_RIGHT = {
    "id": "@site/mr-t2-t1", "name": "MR T2 | T1",
    "protocolMatchingRules": [{"attribute": "ModalitiesInStudy", "required": True,
                               "constraint": {"contains": "MR"}}],
    "displaySetSelectors": {
        "T2": {"seriesMatchingRules": [{"attribute": "SeriesDescription", "required": True,
                                        "constraint": {"containsI": "T2"}}]},
        "T1": {"seriesMatchingRules": [{"attribute": "SeriesDescription", "required": True,
                                        "constraint": {"containsI": "T1"}}]}},
    "stages": [{"name": "T2 T1", "viewportStructure": {"properties": {"rows": 1, "columns": 2}},
                "viewports": [{"displaySets": [{"id": "T2", "options": {
                    "voi": {"windowCenter": 900, "windowWidth": 1800}}}]},
                              {"displaySets": [{"id": "T1"}]}]}],
}


@pytest.fixture
async def worker(orthanc: LoadedOrthanc) -> AsyncIterator[WorkerAPI]:
    api = WorkerAPI(CountingTransport())
    await result(api, "init", config={**config(qidoSupportsIncludeField=True),
                                      "hangingProtocols": [T2_LEFT_T1_RIGHT]},
                 baseUrl=orthanc.base_url + "/")
    yield api
    await api.transport.aclose()


def descriptions(answer: dict[str, Any], uids: list[str | None]) -> list[str | None]:
    by_uid = {d["displaySetUID"]: d for d in answer["displaySets"]}
    return [None if uid is None else
            f"{by_uid[uid]['studyInstanceUID'][-6:]}:{by_uid[uid]['seriesDescription']}"
            for uid in uids]


def study_uid(orthanc: LoadedOrthanc, key: str) -> str:
    return orthanc.manifest.study(key).study_uid


async def test_compare_current_and_prior_by_stage(worker: WorkerAPI,
                                                  orthanc: LoadedOrthanc) -> None:
    current, prior = study_uid(orthanc, data.PRIOR_CURRENT_KEY), study_uid(orthanc,
                                                                           data.PRIOR_RECENT_KEY)
    answer = await result(worker, "openViewer", studyInstanceUIDs=f"{current},{prior}",
                          hangingProtocolId="@ohif/hpCompare")
    protocol = answer["protocol"]
    assert (protocol["id"], protocol["stageId"]) == ("@ohif/hpCompare", "2x2")
    assert [s["status"] for s in protocol["stages"]] == ["enabled", "enabled"]
    assert answer["syncScroll"] and answer["mpr"] is None and not answer["notice"]
    c, p = current[-6:], prior[-6:]
    assert descriptions(answer, answer["viewports"]) == [
        f"{c}:Axial 5mm", f"{p}:Axial 5mm", f"{c}:Axial 2.5mm", f"{p}:Axial 2.5mm"]
    # Next stage: 2x1; no stage after it; back again.
    second = await result(worker, "applyStage", step=1)
    assert second["protocol"]["stageId"] == "2x1" and second["layout"]["columns"] == 2
    assert descriptions(answer, second["viewports"]) == [f"{c}:Axial 5mm", f"{p}:Axial 5mm"]
    last = await result(worker, "applyStage", step=1)
    assert last["protocol"]["stageId"] == "2x1" and last["notice"] == "This is the last stage."
    assert (await result(worker, "applyStage", step=-1))["protocol"]["stageId"] == "2x2"
    # stageId in the URL; another protocol on the same studies.
    by_id = await result(worker, "openViewer", studyInstanceUIDs=[current, prior],
                         hangingProtocolId="@ohif/hpCompare", stageId="2x1")
    assert by_id["protocol"]["stageIndex"] == 1 and len(by_id["viewports"]) == 2
    side = await result(worker, "applyStage", protocolId="default")
    assert side["protocol"]["id"] == "default" and not side["syncScroll"]


async def test_sync_by_relative_position_across_frames_of_reference(
        worker: WorkerAPI, orthanc: LoadedOrthanc) -> None:
    current, prior = study_uid(orthanc, data.PRIOR_CURRENT_KEY), study_uid(orthanc,
                                                                           data.PRIOR_RECENT_KEY)
    answer = await result(worker, "openViewer", studyInstanceUIDs=[current, prior],
                          hangingProtocolId="@ohif/hpCompare", stageId="2x1")
    source, target = answer["viewports"]
    counts = {d["displaySetUID"]: d["numImages"] for d in answer["displaySets"]}
    assert (counts[source], counts[target]) == (24, 30)
    for relative, expected in ((False, None), (True, 13)):
        lines = await result(worker, "referenceLines", displaySetUID=source, imageIndex=10,
                             targets=[{"displaySetUID": target, "imageIndex": 0}], sync=True,
                             relative=relative)
        assert lines["lines"][0]["imageIndex"] == expected  # 10/23 of 29 is 12.6


async def test_priors_in_tabs_and_opened_beside(worker: WorkerAPI,
                                               orthanc: LoadedOrthanc) -> None:
    current = study_uid(orthanc, data.PRIOR_CURRENT_KEY)
    recent = study_uid(orthanc, data.PRIOR_RECENT_KEY)
    old = study_uid(orthanc, data.PRIOR_OLD_KEY)
    opened = await result(worker, "openViewer", studyInstanceUIDs=current)
    assert opened["protocol"]["id"] == "default"
    priors = await result(worker, "priorStudies")
    assert priors["message"] == ""
    tabs = {t["name"]: [s["studyInstanceUID"] for s in t["studies"]] for t in priors["tabs"]}
    assert tabs == {"primary": [current], "recent": [current, recent],
                    "all": [current, recent, old]}
    assert [s["opened"] for s in priors["tabs"][2]["studies"]] == [True, False, False]
    assert priors["tabs"][2]["studies"][1]["studyDescription"] == "CT Chest prior"
    added = await result(worker, "addStudy", studyInstanceUID=recent)
    assert added["study"]["studyInstanceUID"] == recent
    assert [d["seriesDescription"] for d in added["displaySets"]] == ["Axial 5mm", "Axial 2.5mm"]
    uid = added["displaySets"][0]["displaySetUID"]
    image = await result(worker, "renderImage", displaySetUID=uid, imageIndex=29)
    assert image["width"] == 128
    assert (await result(worker, "addStudy", studyInstanceUID=recent))["displaySets"] == added[
        "displaySets"]  # already open: the same
    # The prior opened from the panel takes part in a protocol applied now.
    compare = await result(worker, "applyStage", protocolId="@ohif/hpCompare", stageId="2x1")
    assert compare["viewports"][1] == uid
    again = await result(worker, "priorStudies")
    assert [s["opened"] for s in again["tabs"][2]["studies"]] == [True, True, False]


async def test_a_site_protocol_and_the_mammography_protocol(worker: WorkerAPI,
                                                            orthanc: LoadedOrthanc) -> None:
    mr = await result(worker, "openViewer", studyInstanceUIDs=study_uid(orthanc,
                                                                        data.MR_PROTOCOL_KEY))
    assert mr["protocol"]["id"] == "@site/mr-t2-t1"
    assert [d.split(":")[1] for d in descriptions(mr, mr["viewports"])] == ["AX T2 FSE",
                                                                            "AX T1 SE"]
    assert mr["viewportOptions"][0] == {"voi": {"windowCenter": 900, "windowWidth": 1800}}
    mammo = await result(worker, "openViewer", studyInstanceUIDs=study_uid(orthanc,
                                                                           data.MAMMO_KEY))
    assert mammo["protocol"]["id"] == "@ohif/hpMammo"
    assert [d.split(":")[1] for d in descriptions(mammo, mammo["viewports"])] == [
        "R CC", "L CC", "R MLO", "L MLO"]
    unknown = await result(worker, "openViewer", studyInstanceUIDs=study_uid(
        orthanc, data.MAMMO_KEY), hangingProtocolId="nope")
    assert unknown["protocol"]["id"] == "@ohif/hpMammo"  # what matches, as without one
    assert "No hanging protocol named 'nope'" in unknown["notice"]


async def test_the_calls_need_an_open_viewer(orthanc: LoadedOrthanc) -> None:
    api = WorkerAPI(CountingTransport())
    await result(api, "init", config=config(), baseUrl=orthanc.base_url + "/")
    for method in ("applyStage", "priorStudies"):
        answer = await api.handle(method, {})
        assert "open the viewer first" in answer["error"]["message"]
    await api.transport.aclose()
