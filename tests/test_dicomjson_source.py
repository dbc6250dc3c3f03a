"""The dicomjson data source over real HTTP: OHIF's JSON file, its instance files, frames.

A plain ``http.server`` on 127.0.0.1 serves the generated test data and the JSON files
written by :mod:`support.dicomjson` (OHIF's generator's format); it records every
request so the tests can count fetches and look at the headers sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from support.dicomjson import write_dicomjson
from support.static_trees import serve_directory

from ohifpy.datasources import DataSource, DataSourceError
from ohifpy.datasources.dicomjson import DicomJsonDataSource
from ohifpy.dicomweb import HTTPStatusError
from ohifpy.image_loader import load_image_frame
from ohifpy.model import Series, Study, display_sets_from_instances

pytestmark = pytest.mark.cpython_only  # sockets and threads, httpx

CT_SLICES = 16


@dataclass
class Server:
    """The test HTTP server: ``url(name)`` for a file under its root, and what it was asked."""

    root: Path
    base_url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base_url}{name}"

    def gets(self, name: str) -> int:
        return sum(path == f"/{name}" for path, _ in self.requests)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, testdata: Any) -> Iterator[Server]:
    from http.server import SimpleHTTPRequestHandler

    root = tmp_path_factory.mktemp("dicomjson")
    (root / "data").symlink_to(testdata.root, target_is_directory=True)
    requests: list[tuple[str, dict[str, str]]] = []

    class Recording(SimpleHTTPRequestHandler):
        """Keeps each request's path and headers: what the source sent, credentials included."""

        def send_head(self) -> Any:
            requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            return super().send_head()

    with serve_directory(root, handler=Recording) as url:
        yield Server(root, url, requests)


@pytest.fixture(scope="module")
def files(testdata: Any) -> dict[str, list[Path]]:
    """The DICOM files of the CT subset, the MR and the multi-frame XA."""
    ct = [testdata.root / i.path for i in testdata.study("ct").instances[:CT_SLICES]]
    return {key: [testdata.root / i.path for i in testdata.study(key).instances]
            for key in ("mr", "xa-cine")} | {"ct": ct}


@pytest.fixture(scope="module")
def dicomjson(server: Server, files: dict[str, list[Path]], testdata: Any) -> str:
    """URL of OHIF's JSON for the three studies (the multi-frame listed frame by frame)."""
    all_files = [*files["ct"], *files["mr"], *files["xa-cine"]]
    write_dicomjson(server.root / "studies.json", all_files, testdata.root,
                    server.url("data/"))
    return server.url("studies.json")


@pytest.fixture
async def source() -> Any:
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    transport = HttpxTransport()
    source = DicomJsonDataSource("dicomjson", "DICOM JSON", transport)
    yield source
    await source.aclose()
    await transport.aclose()


def write_json(server: Server, name: str, document: Any) -> str:
    (server.root / name).write_text(json.dumps(document), encoding="utf-8")
    return server.url(name)


def instance_entry(server: Server, path: str, **metadata: Any) -> dict[str, Any]:
    ds = dcmread(server.root / path, stop_before_pixels=True)
    return {"url": f"dicomweb:{server.url(path)}",
            "metadata": {"SOPInstanceUID": ds.SOPInstanceUID, "Rows": ds.Rows,
                         "Columns": ds.Columns, **metadata}}


def one_study(*instances: dict[str, Any]) -> dict[str, Any]:
    return {"studies": [{"StudyInstanceUID": "1.2.3", "PatientName": "Test^Dicomjson",
                         "series": [{"SeriesInstanceUID": "1.2.3.4", "Modality": "OT",
                                     "instances": list(instances)}]}]}


async def test_study_list_series_and_instances(
    source: DicomJsonDataSource, dicomjson: str, testdata: Any
) -> None:
    assert isinstance(source, DataSource)
    study_uids = await source.load(dicomjson)
    expected = {key: testdata.study(key) for key in ("ct", "mr", "xa-cine")}
    assert study_uids == [s.study_uid for s in expected.values()]

    rows = {row.study_instance_uid: row
            for row in map(Study.from_dataset, await source.search_for_studies())}
    for key, count in (("ct", CT_SLICES), ("mr", expected["mr"].num_instances),
                       ("xa-cine", 1)):
        row = rows[expected[key].study_uid]
        assert (row.patient_name, row.patient_id) == (expected[key].patient_name,
                                                      expected[key].patient_id)
        assert row.modalities_in_study == (expected[key].modality,)
        assert row.number_of_instances == count, key

    (series,) = map(Series.from_dataset, await source.search_for_series(expected["ct"].study_uid))
    assert (series.series_instance_uid, series.modality, series.number_of_instances) == (
        expected["ct"].series[0].series_uid, "CT", CT_SLICES)
    mr_instances = await source.search_for_instances(expected["mr"].study_uid)
    assert len(mr_instances) == expected["mr"].num_instances

    # The 30 per-frame entries are one instance of 30 frames, with the study's patient.
    (xa,) = await source.retrieve_study_instances(expected["xa-cine"].study_uid)
    assert xa.number_of_frames == expected["xa-cine"].instances[0].number_of_frames == 30
    assert str(xa.metadata.PatientName) == expected["xa-cine"].patient_name
    (display_set,) = display_sets_from_instances([xa])
    assert len(display_set.images) == 30

    # Loading the same URL again fetches nothing and adds nothing.
    assert await source.load(dicomjson) == study_uids
    assert len(await source.search_for_studies()) == 3


@pytest.mark.parametrize("key", ["ct", "mr"])
async def test_frames_equal_pydicom(
    source: DicomJsonDataSource, dicomjson: str, files: dict[str, list[Path]], key: str,
    testdata: Any,
) -> None:
    await source.load(dicomjson)
    instances = await source.retrieve_study_instances(testdata.study(key).study_uid)
    (display_set,) = display_sets_from_instances(instances)
    frames = await asyncio.gather(*(load_image_frame(source, image)
                                    for image in display_set.images))
    expected = {str(ds.SOPInstanceUID): ds.pixel_array for ds in map(dcmread, files[key])}
    for image, frame in zip(display_set.images, frames, strict=True):
        np.testing.assert_array_equal(frame.stored, expected[image.instance.sop_instance_uid])


async def test_multiframe_frames_from_one_fetch(
    source: DicomJsonDataSource, dicomjson: str, files: dict[str, list[Path]], server: Server,
    testdata: Any,
) -> None:
    await source.load(dicomjson)
    (xa,) = await source.retrieve_study_instances(testdata.study("xa-cine").study_uid)
    path = files["xa-cine"][0].relative_to(testdata.root).as_posix()
    before = server.gets(f"data/{path}")
    frames = await asyncio.gather(*(load_image_frame(source, image) for image in xa.frames()))
    expected = dcmread(files["xa-cine"][0]).pixel_array
    for index, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.stored, expected[index])
    assert server.gets(f"data/{path}") - before == 1  # 30 frames asked at once, one GET

    # No credential of any kind went to the JSON or the instance files.
    for _, headers in server.requests:
        assert not {"authorization", "cookie"} & set(headers)


async def test_second_file_adds_and_bad_instance_fails_alone(
    source: DicomJsonDataSource, server: Server, testdata: Any,
) -> None:
    good = f"data/{testdata.study('mr').instances[0].path}"
    missing = "data/no/such/file.dcm"
    entries = [{**instance_entry(server, good), "url": f"wadouri:{good}"},  # relative to the JSON
               {"url": f"dicomweb:{server.url(missing)}",
                "metadata": {"SOPInstanceUID": "1.2.3.4.99", "Rows": 64, "Columns": 64}}]
    assert await source.load(write_json(server, "two.json", one_study(*entries))) == ["1.2.3"]
    ct_entry = one_study(instance_entry(server, f"data/{testdata.study('ct').instances[0].path}"))
    ct_entry["studies"][0]["StudyInstanceUID"] = "1.2.5"
    assert await source.load(write_json(server, "ct.json", ct_entry)) == ["1.2.5"]
    assert {str(ds.StudyInstanceUID) for ds in await source.search_for_studies()} == {
        "1.2.3", "1.2.5"}

    instances = {i.sop_instance_uid: i for i in await source.retrieve_study_instances("1.2.3")}
    with pytest.raises(HTTPStatusError, match="404") as error:
        await source.retrieve_instance_frames("1.2.3", "1.2.3.4", "1.2.3.4.99", [1])
    assert server.url(missing) in str(error.value)
    good_uid = entries[0]["metadata"]["SOPInstanceUID"]
    frame = await load_image_frame(source, instances[good_uid].frames()[0])
    np.testing.assert_array_equal(frame.stored, dcmread(server.root / good).pixel_array)
    # The JSON's few attributes were completed from the file (as decoding needs).
    assert instances[good_uid].metadata.BitsAllocated == 16


async def test_refused_files(source: DicomJsonDataSource, server: Server,
                             testdata: Any) -> None:
    (server.root / "not.json").write_bytes(b"<html>not json</html>")
    with pytest.raises(DataSourceError, match=r"not\.json: not a dicomjson file: not JSON"):
        await source.load(server.url("not.json"))
    with pytest.raises(DataSourceError, match='no "studies" list'):
        await source.load(write_json(server, "nostudies.json", {"study": []}))
    with pytest.raises(HTTPStatusError, match="404"):
        await source.load(server.url("absent.json"))

    good = instance_entry(server, f"data/{testdata.study('mr').instances[0].path}")
    for url in ("file:///etc/passwd", "dicomweb:file:///etc/passwd", "wadouri:data:,DICM",
                "javascript:alert(1)", "dicomweb:http://user:secret@127.0.0.1/x.dcm"):
        bad = {"url": url, "metadata": {"SOPInstanceUID": "1.2.3.4.5"}}
        with pytest.raises(DataSourceError,
                           match=r"studies\[0\]\.series\[0\]\.instances\[1\]\.url: .* refused"):
            await source.load(write_json(server, "bad-url.json", one_study(good, bad)))
    no_url = {"metadata": {"SOPInstanceUID": "1.2.3.4.5"}}
    with pytest.raises(DataSourceError, match=r"studies\[0\]\.series\[0\]\.instances\[1\]: no url"):
        await source.load(write_json(server, "no-url.json", one_study(good, no_url)))
    # A refused file adds nothing, not even its good instances.
    assert await source.search_for_studies() == []

    for url in ("file:///etc/passwd", "data:application/json,{}", "javascript:alert(1)",
                "studies.json"):
        with pytest.raises(DataSourceError, match="refused"):
            await source.load(url)


def test_structure_errors_name_the_place(source: DicomJsonDataSource) -> None:
    url = "http://example.test/studies.json"
    cases = {
        '{"studies": {}}': 'no "studies" list',
        '{"studies": [{"series": []}]}': r"studies\[0\]: no StudyInstanceUID",
        '{"studies": [{"StudyInstanceUID": "1.2", "series": [{"SeriesInstanceUID": "1.3"}]}]}':
            r"studies\[0\]\.series\[0\]: no 'instances' list",
        '{"studies": [{"StudyInstanceUID": "1.2<script>", "series": []}]}':
            r"studies\[0\]: StudyInstanceUID '1\.2<script>' is not a UID",
        '{"studies": [{"StudyInstanceUID": "1.2", "series": [{"SeriesInstanceUID": "1.3", '
        '"instances": [{"url": "a.dcm", "metadata": {}}]}]}]}':
            r"studies\[0\]\.series\[0\]\.instances\[0\]\.metadata: no SOPInstanceUID",
        '{"studies": [{"StudyInstanceUID": "1.2", "series": [{"SeriesInstanceUID": "1.3", '
        '"instances": [{"url": "a.dcm?frame=x", "metadata": {"SOPInstanceUID": "1.4"}}]}]}]}':
            r"instances\[0\]\.url: frame='x' is not a frame number",
        '{"studies": [{"StudyInstanceUID": "1.2", "Rows": NaN, "series": []}]}': "NaN",
        "[" * 100_000: "not JSON",
    }
    for body, message in cases.items():
        with pytest.raises(DataSourceError, match=message):
            source.add_json(body.encode(), url)


async def test_naturalized_metadata_tolerated_and_kept_as_data(
    source: DicomJsonDataSource,
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    metadata = {
        "SOPInstanceUID": "1.2.3.4.5", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.7",
        "Rows": 8, "Columns": "8", "NumberOfFrames": "2", "InstanceNumber": "7",
        "PixelSpacing": [0.5, "0.5"], "WindowCenter": [40, 400], "WindowWidth": "not a number",
        "ImageType": ["ORIGINAL", "PRIMARY"], "AccessionNumber": 12345,
        "ReferringPhysicianName": {"Alphabetic": "Doe^Jane", "Ideographic": "ドウ"},
        "SeriesDescription": hostile, "NoSuchKeyword": {"x": 1}, "__proto__": 1,
        "Rows ": 9, "PixelData": "AAAA", "SmallestImagePixelValue": -5, "BitsStored": True,
        "ReferencedImageSequence": [{"ReferencedSOPInstanceUID": "1.2.3", "Bogus": 1},
                                    "not an item"],
        "SharedFunctionalGroupsSequence": [{"PixelMeasuresSequence": [{"PixelSpacing": [1, 1]}]}],
    }
    document = {"studies": [{
        "StudyInstanceUID": "1.2.3", "PatientName": hostile, "PatientID": "ID<1>",
        "StudyDate": "20240101", "NumInstances": 99, "Modalities": "OT",
        "series": [{"SeriesInstanceUID": "1.2.3.4", "SeriesNumber": 3, "Modality": "OT",
                    "instances": [{"url": "dicomweb:/f.dcm?frame=1", "metadata": metadata},
                                  {"url": "dicomweb:/f.dcm?frame=3", "metadata": metadata}]}],
    }]}
    assert source.add_json(json.dumps(document).encode(), "https://example.test/a/b.json") == [
        "1.2.3"]
    (header,) = await source.retrieve_series_metadata("1.2.3", "1.2.3.4")
    assert str(header.PatientName) == hostile and header.PatientID == "ID<1>"
    assert header.SeriesDescription == hostile
    assert (header.Rows, header.Columns, header.InstanceNumber) == (8, 8, 7)
    assert header.NumberOfFrames == 3  # the highest ?frame= listed wins over the metadata's 2
    assert [float(v) for v in header.PixelSpacing] == [0.5, 0.5]
    assert [float(v) for v in header.WindowCenter] == [40, 400]
    assert header.AccessionNumber == "12345"
    assert str(header.ReferringPhysicianName) == "Doe^Jane=ドウ"
    assert header.SmallestImagePixelValue == -5
    assert header.SeriesNumber == 3 and header.StudyDate == "20240101"
    for absent in ("WindowWidth", "PixelData", "BitsStored", "ReferencedImageSequence"):
        assert absent not in header, absent
    assert header.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing == [1, 1]


async def test_file_cache_is_bounded_by_size(
    dicomjson: str, files: dict[str, list[Path]], server: Server, testdata: Any,
) -> None:
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    ct = testdata.study("ct")
    first, second = (f"data/{p.relative_to(testdata.root).as_posix()}" for p in files["ct"][:2])
    uids = [(ct.study_uid, ct.series[0].series_uid, i.sop_uid) for i in ct.instances[:2]]
    for cache_bytes, first_gets in ((8 * 2**20, 1), (1, 2)):  # room for both files; for the last
        transport = HttpxTransport()
        source = DicomJsonDataSource("dicomjson", "DICOM JSON", transport, cache_bytes=cache_bytes)
        try:
            await source.load(dicomjson)
            before = server.gets(first), server.gets(second)
            for index in (0, 1, 0, 0):
                await source.retrieve_instance_frames(*uids[index], [1])
            assert (server.gets(first) - before[0], server.gets(second) - before[1]) == (
                first_gets, 1)
        finally:
            await source.aclose()
            await transport.aclose()


async def test_what_a_file_list_cannot_do(source: DicomJsonDataSource, dicomjson: str,
                                          testdata: Any) -> None:
    assert (source.capabilities.store, source.capabilities.rendered,
            source.capabilities.query_options) == (False, False, False)
    await source.load(dicomjson)
    ct = testdata.study("ct")
    uids = (ct.study_uid, ct.series[0].series_uid, ct.instances[0].sop_uid)
    with pytest.raises(DataSourceError, match="cannot transcode"):
        await source.retrieve_instance_frames(*uids, [1], transfer_syntax_uid="1.2.840.10008.1.2.5")
    (frame,) = await source.retrieve_instance_frames(
        *uids, [1], transfer_syntax_uid=ct.instances[0].transfer_syntax_uid)
    assert frame.transfer_syntax_uid == ct.instances[0].transfer_syntax_uid
    with pytest.raises(DataSourceError, match=r"asked for frames \[2\], the file has 1"):
        await source.retrieve_instance_frames(*uids, [2])
    with pytest.raises(DataSourceError, match="not among the loaded"):
        await source.retrieve_instance_frames(ct.study_uid, ct.series[0].series_uid, "1.2.9", [1])
    with pytest.raises(DataSourceError, match="cannot store"):
        await source.store_instances([b""])
    with pytest.raises(DataSourceError, match="no rendered"):
        await source.retrieve_rendered(ct.study_uid)
    with pytest.raises(DataSourceError, match="no thumbnails"):
        await source.retrieve_thumbnail(ct.study_uid)


def test_command_line_lists_and_renders_a_dicomjson_file(
        server: Server, dicomjson: str, files: dict[str, list[Path]], testdata: Any,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``ohifpy studies/render --dicomjson`` take the URL or a file on disk alike; the PNG is
    the frame through the viewer's pipeline, pixel for pixel."""
    from PIL import Image

    from ohifpy.cli import main
    from ohifpy.dicomweb.part10 import read_instance, split_frames
    from ohifpy.imaging import prepare_frame, render_rgba

    on_disk = server.root / "studies.json"
    for given in (dicomjson, str(on_disk)):
        assert main(["studies", "--dicomjson", given]) == 0
        out = capsys.readouterr().out
        assert out.strip().endswith("3 studies")
        assert testdata.study("xa-cine").patient_name in out

    cine = testdata.study("xa-cine")
    png = tmp_path / "f3.png"
    assert main(["render", "--dicomjson", str(on_disk), "--study", cine.study_uid,
                 "--frame", "3", "-o", str(png)]) == 0
    assert "frame 3" in capsys.readouterr().err
    ds = read_instance(files["xa-cine"][0].read_bytes())
    frame = prepare_frame(split_frames(ds)[2], str(ds.file_meta.TransferSyntaxUID), ds, 2)
    expected = render_rgba(frame, frame.default_window())[..., :3]
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), expected)

    assert main(["studies", "--dicomjson", "file:///etc/passwd"]) == 1
    assert "http" in capsys.readouterr().err
