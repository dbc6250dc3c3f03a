"""StaticWadoDataSource over real static trees served by a plain HTTP server on 127.0.0.1.

The same test studies (a CT in JPEG-LS and in RLE, the MR, a JPEG-lossless XA cine) are
written three ways: by our own ``write_static_dicomweb``, by OHIF's ``mkdicomweb create``
(gzipped JSON, multipart ``.mht`` frames) and by ``mkdicomweb create -e`` (raw ``.jls``
frames). A user opening any of them sees the same studies and the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian
from support.static_trees import mkdicomweb_tree, serve_directory, static_source

from ohifpy.config import AppConfig
from ohifpy.datasources import DataSourceError, create_data_sources
from ohifpy.datasources.static_wado import StaticWadoDataSource
from ohifpy.dicomweb import StudyQuery
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.image_loader import load_image_frame
from ohifpy.model import ImageRef, Instance
from ohifpy.static_wado import write_static_dicomweb

pytestmark = pytest.mark.cpython_only  # Node (mkdicomweb), an HTTP server on a socket

STUDIES = ("ct-jpeg-ls", "ct-rle", "mr", "xa-cine-jpeg-lossless")
TREES = ("ohifpy", "mkdicomweb", "mkdicomweb-raw")


@dataclass
class Tree:
    kind: str
    root: Path
    url: str
    log: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def files(testdata: Any) -> dict[str, list[Path]]:
    return {key: [testdata.root / i.path for i in testdata.study(key).instances]
            for key in STUDIES}


def _tree_root(kind: str, files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    if kind == "ohifpy":
        root = tmp_path_factory.mktemp("ohifpy-tree")
        write_static_dicomweb((dcmread(path) for path in files), root)
        return root
    return mkdicomweb_tree(files, *(["-e"] if kind == "mkdicomweb-raw" else []))


@pytest.fixture(scope="module", params=TREES)
def tree(request: pytest.FixtureRequest, files: dict[str, list[Path]],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    root = _tree_root(request.param, [p for paths in files.values() for p in paths],
                      tmp_path_factory)
    served = Tree(request.param, root, "")
    with serve_directory(root, served.log) as url:
        served.url = url
        yield served


@pytest.fixture
async def source(tree: Tree) -> AsyncIterator[StaticWadoDataSource]:
    src = StaticWadoDataSource(static_source(tree.url), HttpxTransport())
    yield src
    await src.aclose()


def _values(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]


def test_mkdicomweb_writes_the_layout_the_source_reads(files: dict[str, list[Path]],
                                                       testdata: Any) -> None:
    everything = [p for paths in files.values() for p in paths]
    plain, raw = mkdicomweb_tree(everything), mkdicomweb_tree(everything, "-e")
    assert (plain / "studies" / "index.json.gz").is_file()

    def frames_of(root: Path, key: str) -> list[str]:
        study = testdata.study(key)
        series, instance = study.series[0], study.series[0].instances[0]
        series_dir = root / "studies" / study.study_uid / "series" / series.series_uid
        assert (series_dir / "metadata.gz").is_file()
        assert (series_dir / "instances" / "index.json.gz").is_file()
        assert not (root / "studies" / study.study_uid / "metadata.gz").exists()
        frames = series_dir / "instances" / instance.sop_uid / "frames"
        return sorted(p.name for p in frames.iterdir())

    assert frames_of(plain, "mr") == ["1.mht.gz"]  # native pixels are gzipped
    assert frames_of(plain, "ct-jpeg-ls") == ["1.mht"]
    assert frames_of(plain, "xa-cine-jpeg-lossless") == sorted(f"{n}.mht" for n in range(1, 31))
    assert frames_of(raw, "ct-jpeg-ls") == ["1.jls"]  # -e: raw codestream, syntax by extension
    assert frames_of(raw, "ct-rle") == ["1.mht"]  # no extension for RLE: still multipart


async def test_study_list_shows_every_study_with_its_columns(source: StaticWadoDataSource,
                                                             testdata: Any) -> None:
    rows = {str(row.StudyInstanceUID): row for row in await source.search_for_studies()}
    for key in STUDIES:
        study = testdata.study(key)
        row = rows[study.study_uid]
        assert str(row.PatientName) == study.patient_name
        assert _values(row.ModalitiesInStudy) == [study.modality]
        assert int(row.NumberOfStudyRelatedInstances) == study.num_instances
        assert str(row.StudyDescription) == study.description


async def test_filters_match_in_the_client(source: StaticWadoDataSource,
                                           testdata: Any) -> None:
    mr = testdata.study("mr")
    by_id = await source.search_for_studies(StudyQuery(patient_id=mr.patient_id))
    assert [str(row.StudyInstanceUID) for row in by_id] == [mr.study_uid]
    cine = await source.search_for_studies(StudyQuery(modalities_in_study=("XA",)))
    assert [str(row.StudyInstanceUID) for row in cine] == [
        testdata.study("xa-cine-jpeg-lossless").study_uid]
    two = await source.search_for_studies(StudyQuery(patient_name="Syntax"), limit=1, offset=1)
    assert len(two) == 1 and str(two[0].PatientName).startswith("Syntax^")


@pytest.mark.parametrize("key", STUDIES)
async def test_frames_are_the_source_files_pixels(source: StaticWadoDataSource,
                                                  files: dict[str, list[Path]], testdata: Any,
                                                  key: str) -> None:
    study = testdata.study(key)
    instances = {i.sop_instance_uid: i
                 for i in await source.retrieve_study_instances(study.study_uid)}
    assert len(instances) == study.num_instances
    for path in files[key]:
        ds = dcmread(path)
        expected = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
        instance = instances[str(ds.SOPInstanceUID)]
        assert instance.number_of_frames == len(expected)
        for number, pixels in enumerate(expected, start=1):
            frame = await load_image_frame(source, ImageRef(instance, number))
            assert np.array_equal(frame.stored, pixels), (path.name, number)


async def test_series_filter_and_metadata_without_pixels(source: StaticWadoDataSource,
                                                         testdata: Any) -> None:
    study = testdata.study("mr")
    series_uid = study.series[0].series_uid
    instances = await source.retrieve_study_instances(study.study_uid, [series_uid])
    assert {i.series_instance_uid for i in instances} == {series_uid}
    assert len(instances) == study.num_instances
    metadata = await source.retrieve_series_metadata(study.study_uid, series_uid)
    assert len(metadata) == study.num_instances
    assert all("PixelData" not in ds or not ds.PixelData for ds in metadata)
    listed = await source.search_for_instances(study.study_uid)
    assert {str(ds.SOPInstanceUID) for ds in listed} == {i.sop_uid for i in study.instances}


async def test_one_request_per_frame_once_the_tree_is_known(
        tree: Tree, source: StaticWadoDataSource, testdata: Any) -> None:
    instances = await source.retrieve_study_instances(testdata.study("ct-rle").study_uid)
    await source.retrieve_instance_frames(*_uids(instances[0]), [1])  # finds the frame names
    tree.log.clear()
    for instance in instances[1:]:
        await source.retrieve_instance_frames(*_uids(instance), [1])
    assert [status for _, status in tree.log] == [200] * (len(instances) - 1)


async def test_what_a_file_tree_cannot_do(source: StaticWadoDataSource,
                                          testdata: Any) -> None:
    assert not (source.capabilities.store or source.capabilities.rendered
                or source.capabilities.query_options)
    with pytest.raises(DataSourceError, match="not in the static DICOMweb tree"):
        await source.retrieve_study_instances("1.2.826.0.1.3680043.8.498.1")
    (instance, *_) = await source.retrieve_study_instances(testdata.study("mr").study_uid)
    with pytest.raises(DataSourceError, match="cannot transcode"):
        await source.retrieve_instance_frames(*_uids(instance), [1],
                                              transfer_syntax_uid=ExplicitVRLittleEndian)
    with pytest.raises(DataSourceError, match="cannot store"):
        await source.store_instances([instance.metadata])


class LikeStaticWadoServer(SimpleHTTPRequestHandler):
    """A mkdicomweb tree under PS3.18 URLs, as OHIF's static-wado-webserver (and a bucket
    deployed by ``deploydicomweb``) serves it: ``X`` answered from ``X.gz``,
    ``X/index.json.gz`` or ``X.mht[.gz]``, gzip sent as ``Content-Encoding``, frames as
    ``multipart/related`` without a boundary parameter."""

    gzipped = False

    def translate_path(self, path: str) -> str:
        base = super().translate_path(path).rstrip("/")
        for name in (base, f"{base}.gz", f"{base}/index.json.gz", f"{base}.mht",
                     f"{base}.mht.gz"):
            if os.path.isfile(name):
                self.gzipped = name.endswith(".gz")
                return name
        return base

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return "multipart/related" if ".mht" in str(path) else "application/json"

    def end_headers(self) -> None:
        if self.gzipped:
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()


async def test_a_tree_served_under_its_dicomweb_urls(files: dict[str, list[Path]],
                                                     testdata: Any) -> None:
    log: list[tuple[str, int]] = []
    study = testdata.study("ct-jpeg-ls")
    with serve_directory(mkdicomweb_tree(files["ct-jpeg-ls"]), log,
                         handler=LikeStaticWadoServer) as url:
        source = StaticWadoDataSource(static_source(url), HttpxTransport())
        (row,) = await source.search_for_studies()
        assert row.StudyInstanceUID == study.study_uid
        instances = await source.retrieve_study_instances(study.study_uid)
        frame = await load_image_frame(source, ImageRef(instances[0], 1))
        await source.aclose()
    expected = dcmread(testdata.root / next(
        i.path for i in study.instances if i.sop_uid == instances[0].sop_instance_uid))
    assert np.array_equal(frame.stored, expected.pixel_array)
    assert log and all(status == 200 for _, status in log)  # every name found at once
    assert any(path.endswith("/frames/1") for path, _ in log)


async def test_a_static_wado_config_entry_makes_this_source(tree: Tree) -> None:
    transport = HttpxTransport()
    (source,) = create_data_sources(AppConfig((static_source(tree.url),)), transport).values()
    assert isinstance(source, StaticWadoDataSource)
    assert await source.search_for_studies()
    await transport.aclose()


def _uids(instance: Instance) -> tuple[str, str, str]:
    return instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid
