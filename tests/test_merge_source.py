"""MergedDataSource over two real static trees holding different series of one study.

Tree ``a`` has the study's CT and MR series, tree ``b`` its MR (three slices only) and XA
series: merged, the study shows three series, the MR as ``a`` has it, and every frame
comes from the tree that holds its series. With ``a``'s server stopped, ``b``'s series
still open.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import FileDataset
from support.static_trees import contract_studies, serve_directory, static_source

from ohifpy.datasources import DataSourceError
from ohifpy.datasources.merge import MergedDataSource
from ohifpy.datasources.static_wado import StaticWadoDataSource
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.errors import OhifpyError
from ohifpy.image_loader import load_image_frame
from ohifpy.model import ImageRef
from ohifpy.static_wado import write_static_dicomweb

pytestmark = pytest.mark.cpython_only  # HTTP servers on sockets

STUDY_UID = "1.2.826.0.1.3680043.8.498.20240601"
MR_IN_B = 3


@pytest.fixture(scope="module")
def series() -> dict[str, list[FileDataset]]:
    """The contract CT, MR and XA series moved into one study of one patient."""
    moved = {}
    for study in contract_studies():
        datasets = [copy.deepcopy(ds) for ds in study.datasets]
        for ds in datasets:
            ds.StudyInstanceUID = STUDY_UID
            ds.PatientName, ds.PatientID = "Merge^Patient", "OHIFPY-MERGE"
        moved[study.modality] = datasets
    return moved


@pytest.fixture(scope="module")
def roots(series: dict[str, list[FileDataset]],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    contents = {"a": series["CT"] + series["MR"], "b": series["MR"][:MR_IN_B] + series["XA"]}
    roots = {}
    for name, datasets in contents.items():
        roots[name] = tmp_path_factory.mktemp(f"tree-{name}")
        write_static_dicomweb(datasets, roots[name])
    return roots


class Served:
    """The two trees served, each with its request log and a way to take it down."""

    def __init__(self, roots: dict[str, Path]) -> None:
        self.logs: dict[str, list[tuple[str, int]]] = {name: [] for name in roots}
        self.urls: dict[str, str] = {}
        self._stacks = {name: ExitStack() for name in roots}
        for name, root in roots.items():
            self.urls[name] = self._stacks[name].enter_context(
                serve_directory(root, self.logs[name]))

    def stop(self, name: str) -> None:
        self._stacks[name].close()


@pytest.fixture
def served(roots: dict[str, Path]) -> Iterator[Served]:
    servers = Served(roots)
    yield servers
    for name in roots:
        servers.stop(name)


@pytest.fixture
async def merged(served: Served) -> AsyncIterator[MergedDataSource]:
    async with AsyncExitStack() as stack:
        sources = []
        for name, url in served.urls.items():
            source = StaticWadoDataSource(static_source(url, name), HttpxTransport())
            stack.push_async_callback(source.aclose)
            sources.append(source)
        yield MergedDataSource("merged", "Both trees", sources, default="a")


async def test_one_study_row_from_the_first_source(merged: MergedDataSource) -> None:
    (row,) = await merged.search_for_studies()
    assert row.StudyInstanceUID == STUDY_UID
    assert int(row.NumberOfStudyRelatedInstances) == 8 + 6  # a's row, not a sum
    assert not merged.failures


async def test_series_are_the_union_each_from_its_source(
        merged: MergedDataSource, series: dict[str, list[FileDataset]]) -> None:
    found = {str(ds.Modality): ds for ds in await merged.search_for_series(STUDY_UID)}
    assert sorted(found) == ["CT", "MR", "XA"]
    assert int(found["MR"].NumberOfSeriesRelatedInstances) == 6  # a's MR wins
    owners = {modality: merged.source_of_series(str(ds.SeriesInstanceUID))
              for modality, ds in found.items()}
    assert owners == {"CT": "a", "MR": "a", "XA": "b"}
    instances = await merged.search_for_instances(STUDY_UID)
    assert len(instances) == 8 + 6 + 1


async def test_study_instances_and_frames_come_from_the_owning_tree(
        merged: MergedDataSource, served: Served,
        series: dict[str, list[FileDataset]]) -> None:
    instances = await merged.retrieve_study_instances(STUDY_UID)
    by_series: dict[str, int] = {}
    for instance in instances:
        by_series[instance.series_instance_uid] = by_series.get(instance.series_instance_uid,
                                                                0) + 1
    assert sorted(by_series.values()) == [1, 6, 8]
    (xa,) = (i for i in instances if i.series_instance_uid == series["XA"][0].SeriesInstanceUID)
    served.logs["a"].clear()
    frame = await load_image_frame(merged, ImageRef(xa, 30))
    assert np.array_equal(frame.stored, series["XA"][0].pixel_array[29])
    assert not served.logs["a"] and any("/frames/30" in path for path, _ in served.logs["b"])
    mr = next(i for i in instances if i.series_instance_uid == series["MR"][0].SeriesInstanceUID)
    served.logs["b"].clear()
    await load_image_frame(merged, ImageRef(mr, 1))
    assert not served.logs["b"]


async def test_a_root_down_leaves_the_other_series_open(
        merged: MergedDataSource, served: Served, series: dict[str, list[FileDataset]]) -> None:
    served.stop("a")
    found = {str(ds.Modality) for ds in await merged.search_for_series(STUDY_UID)}
    assert found == {"MR", "XA"}
    assert list(merged.failures) == ["a"]
    instances = await merged.retrieve_study_instances(STUDY_UID)
    assert len(instances) == MR_IN_B + 1
    xa = next(i for i in instances if i.number_of_frames == 30)
    frame = await load_image_frame(merged, ImageRef(xa, 1))
    assert np.array_equal(frame.stored, series["XA"][0].pixel_array[0])


async def test_every_source_failing_is_the_error(merged: MergedDataSource,
                                                 served: Served) -> None:
    with pytest.raises(DataSourceError, match="not in the static DICOMweb tree"):
        await merged.retrieve_study_instances("1.2.826.0.1.3680043.8.498.2")
    served.stop("a")
    served.stop("b")
    with pytest.raises(OhifpyError) as failed:
        await merged.search_for_studies()
    assert set(merged.failures) == {"a", "b"}
    assert failed.value is merged.failures["a"]


async def test_storing_and_capabilities_are_the_default_sources(
        merged: MergedDataSource) -> None:
    assert merged.capabilities.store is merged.default.capabilities.store is False
    assert merged.default.name == "a"
    with pytest.raises(DataSourceError, match="cannot store"):
        await merged.store_instances([b"DICM"])
    with pytest.raises(DataSourceError, match="is not one of its sources"):
        MergedDataSource("m", "M", merged.sources, default="c")


async def test_the_viewer_lists_and_opens_the_union_naming_each_series_source(
        served: Served) -> None:
    """A config's merge source, through the worker as the page calls it: the expanded row
    names the source of each series, and the viewer opens all three series."""
    from ohifpy.worker_api import WorkerAPI

    def tree(name: str) -> dict[str, object]:
        return {"sourceName": name, "configuration": {
            "friendlyName": f"Tree {name.upper()}", "qidoRoot": served.urls[name],
            "wadoRoot": served.urls[name], "staticWado": True}}

    config = {"dataSources": [tree("a"), tree("b"), {
        "namespace": "@ohif/extension-default.dataSourcesModule.merge", "sourceName": "both",
        "configuration": {"friendlyName": "Both trees",
                          "seriesMerge": {"dataSourceNames": ["a", "b"]}}}],
        "defaultDataSourceName": "both"}
    worker = WorkerAPI(HttpxTransport())
    try:
        init = (await worker.handle("init", {"config": config, "baseUrl": ""}))["result"]
        assert [(s["name"], s["kind"]) for s in init["dataSources"]] == [
            ("a", "staticWado"), ("b", "staticWado"), ("both", "merge")]
        # Where each sends a typed query (the page keeps one only for the same server).
        a, b = (served.urls[name].rstrip("/") for name in "ab")
        assert [s["queryServer"] for s in init["dataSources"]] == [a, b, f"{a} {b}"]
        rows = (await worker.handle("searchSeries", {"studyInstanceUID": STUDY_UID}))["result"]
        assert sorted((r["modality"], r["dataSource"]) for r in rows["series"]) == [
            ("CT", "Tree A"), ("MR", "Tree A"), ("XA", "Tree B")]
        alone = (await worker.handle("searchSeries", {"studyInstanceUID": STUDY_UID,
                                                       "dataSource": "b"}))["result"]
        assert {r["dataSource"] for r in alone["series"]} == {""}  # one source: no column
        opened = (await worker.handle("openViewer", {"studyInstanceUIDs": STUDY_UID}))["result"]
        assert sorted(d["modality"] for d in opened["displaySets"]) == ["CT", "MR", "XA"]
    finally:
        await worker.transport.aclose()
