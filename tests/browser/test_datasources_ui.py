"""Data sources in Chromium: ``datasources=`` on the viewer, ``/viewer/dicomjson?url=``.

One build has three sources of three kinds: the Orthanc (default, DICOMweb through the
same origin), the static demo tree, and a ``dicomjson`` source. OHIF dicomjson files are
served by a server of their own on 127.0.0.1 (another origin: it answers with CORS, as
a bucket does), listing test-data files it serves too. What is on the canvas is checked
against the CPython pipeline reading the same source.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from support.dicomjson import write_dicomjson
from support.static_trees import serve_directory

from ohifpy.cli import render_image
from ohifpy.config import DicomWebSource

from .conftest import App, ServedSite, _build, cpython_render, started_app

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

JSON_NAMESPACE = "@ohif/extension-default.dataSourcesModule.dicomjson"
CONFIG = {
    "dataSources": [
        {"sourceName": "orthanc", "configuration": {
            "name": "orthanc", "friendlyName": "Orthanc", "qidoRoot": "/dicom-web",
            "wadoRoot": "/dicom-web", "stowRoot": "/dicom-web", "queryEncoding": "minimal",
            "qidoSupportsIncludeField": True, "requestTransferSyntaxUID": "*"}},
        {"sourceName": "demo", "configuration": {
            "name": "demo", "friendlyName": "Static demo", "qidoRoot": "demo/dicom-web",
            "wadoRoot": "demo/dicom-web", "staticWado": True, "supportsWildcard": False}},
        {"namespace": JSON_NAMESPACE, "sourceName": "json",
         "configuration": {"name": "json", "friendlyName": "DICOM JSON files"}},
    ],
    "defaultDataSourceName": "orthanc",
}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sources_ui_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser-datasources")
    config = folder / "config.json"
    config.write_text(json.dumps(CONFIG))
    return _build(folder / "dist", "--config", str(config))


@pytest.fixture(scope="module")
def sources_ui_site(sources_ui_dist: Path, orthanc: LoadedOrthanc) -> Iterator[ServedSite]:
    with ServedSite(sources_ui_dist, proxy={"/dicom-web": orthanc.dicomweb_root}) as served:
        yield served


@pytest.fixture(scope="module")
async def sources_app(browser: Any, sources_ui_site: ServedSite) -> AsyncIterator[App]:
    async with started_app(browser, sources_ui_site) as app:
        yield app


@dataclass
class FileServer:
    """Another origin on 127.0.0.1 serving dicomjson files and the DICOM files they list."""

    root: Path
    base_url: str
    log: list[tuple[str, int]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.log]

    def url(self, name: str) -> str:
        return self.base_url + name

    def dicomjson(self, name: str, files: Sequence[Path], data_root: Path) -> str:
        write_dicomjson(self.root / name, files, data_root, self.url("data/"))
        return self.url(name)


class CrossOrigin(SimpleHTTPRequestHandler):
    """A static host that lets any page read its files (the viewer is another origin)."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()


@pytest.fixture(scope="module")
def files_server(tmp_path_factory: pytest.TempPathFactory, testdata: Any) -> Iterator[FileServer]:
    root = tmp_path_factory.mktemp("dicomjson-origin")
    (root / "data").symlink_to(testdata.root, target_is_directory=True)
    log: list[tuple[str, int]] = []
    with serve_directory(root, log, handler=CrossOrigin) as url:
        yield FileServer(root, url, log)


def study_files(testdata: Any, key: str) -> list[Path]:
    return [testdata.root / i.path for i in testdata.study(key).instances]


def demo_studies(dist: Path) -> dict[str, str]:
    """The demo tree's studies by modality, from its static QIDO answer."""
    studies = json.loads((dist / "demo/dicom-web/studies/index.json").read_text())
    return {s["00080061"]["Value"][0]: s["0020000D"]["Value"][0] for s in studies}


async def dicomjson_render(url: str, study_uid: str) -> np.ndarray:
    """The CPython pipeline on the same dicomjson file (``ohifpy render --dicomjson``)."""
    from ohifpy.datasources.dicomjson import DicomJsonDataSource
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    transport = HttpxTransport()
    try:
        source = DicomJsonDataSource("dicomjson", "DICOM JSON", transport)
        await source.load(url)
        rgba, _, _ = await render_image(source, study_uid)
    finally:
        await transport.aclose()
    return rgba


async def listed(app: App) -> list[str]:
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    return await app.page.eval_on_selector_all(
        "tr.study", "rows => rows.map(tr => tr.dataset.studyInstanceUid)")


async def open_row(app: App, study_uid: str) -> Any:
    """Expand a study's row; its "Open in viewer" link."""
    await app.page.click(f"tr.study[data-study-instance-uid='{study_uid}']")
    await app.page.wait_for_selector(".series-panel table.series td")
    return app.page.locator(".series-panel a.open-study")


async def viewer_error(app: App) -> str:
    note = app.page.locator(".viewer .note.error")
    await note.wait_for(timeout=60_000)
    return await note.inner_text()


# ---------------------------------------------------------------- datasources=


async def test_the_selector_lists_every_source(sources_app: App) -> None:
    app = sources_app
    await app.page.evaluate("localStorage.removeItem('ohifpy:preferences')")
    await app.navigate("")
    await app.page.wait_for_selector("tr.study")
    assert await app.page.locator("select[name=datasources] option").all_inner_texts() == [
        "Orthanc", "Static demo", "DICOM JSON files"]


async def test_datasources_opens_a_study_of_another_source_in_the_viewer(
        sources_app: App, sources_ui_site: ServedSite, sources_ui_dist: Path) -> None:
    app = sources_app
    ct = demo_studies(sources_ui_dist)["CT"]
    asked: list[str] = []
    app.page.on("request", lambda request: asked.append(request.url))

    await app.navigate(f"viewer?StudyInstanceUIDs={ct}&datasources=demo")
    await app.page.wait_for_selector(".series-entry .image-count:text('40 images')")
    await app.wait_for_image(0)
    await app.settle()
    demo = DicomWebSource(name="demo", qidoRoot=sources_ui_site.url + "demo/dicom-web",
                          wadoRoot=sources_ui_site.url + "demo/dicom-web", staticWado=True)
    assert np.array_equal(await app.pixels(), await cpython_render(demo, ct))
    await app.go_to_image(20)
    await app.wait_for_image(20)
    await app.settle()
    sop = await app.page.eval_on_selector(App.CANVAS, "c => c.dataset.sopInstanceUid")
    assert np.array_equal(await app.pixels(), await cpython_render(demo, ct, sop=sop))
    assert any(f"/demo/dicom-web/studies/{ct}" in url for url in asked), asked
    orthanc = f"127.0.0.1:{sources_ui_site.port}/dicom-web/"
    assert not [url for url in asked if orthanc in url], asked
    save = app.page.locator(".save-report")  # a static tree stores nothing
    assert (await save.inner_text(), await save.get_attribute("title")) == (
        "Save as DICOM SR", "Static demo cannot store reports")

    # The demo's synthetic CT has the UIDs of the test data's, of which Orthanc holds 200
    # slices (the demo 40): without datasources the default source answers.
    await app.navigate(f"viewer?StudyInstanceUIDs={ct}")
    await app.wait_for_image(0)
    assert await app.page.inner_text(".series-entry .image-count") == "200 images"
    assert [url for url in asked if orthanc in url]

    # The list of that source links to the viewer with it.
    await app.navigate("?datasources=demo")
    assert ct in await listed(app)
    link = await open_row(app, ct)
    assert "datasources=demo" in await link.get_attribute("href")
    await link.click()
    await app.page.wait_for_url(re.compile(rf"/viewer\?StudyInstanceUIDs={ct}&datasources=demo$"))
    await app.wait_for_image(0)


# ---------------------------------------------------------------- /viewer/dicomjson


async def test_viewer_dicomjson_opens_the_studies_of_the_file(
        sources_app: App, files_server: FileServer, testdata: Any) -> None:
    app = sources_app
    mr = testdata.study("mr")
    url = files_server.dicomjson("mr.json", study_files(testdata, "mr"), testdata.root)
    address = f"viewer/dicomjson?url={url}"
    await app.navigate(address)
    await app.wait_for_image(0)
    await app.settle()
    assert app.page.url == app.site.url + address  # kept as it is, so a reload works
    assert np.array_equal(await app.pixels(), await dicomjson_render(url, mr.study_uid))
    assert any(path.startswith("/data/mr/") for path in files_server.paths)

    # A reload starts the app again on the same address and shows the same image.
    await app.page.reload()
    await app.wait_for_image(0)
    await app.settle()
    assert np.array_equal(await app.pixels(), await dicomjson_render(url, mr.study_uid))


async def test_the_study_list_of_a_dicomjson_file(
        sources_app: App, files_server: FileServer, testdata: Any) -> None:
    app = sources_app
    mr, xa = testdata.study("mr"), testdata.study("xa-cine")
    url = files_server.dicomjson("two.json", [*study_files(testdata, "mr"),
                                              *study_files(testdata, "xa-cine")], testdata.root)
    await app.navigate(f"?datasources=json&url={url}")
    assert set(await listed(app)) >= {mr.study_uid, xa.study_uid}
    assert await app.page.input_value("select[name=datasources]") == "json"
    assert f"url={url}" in app.page.url.replace("%3A", ":").replace("%2F", "/")
    link = await open_row(app, xa.study_uid)
    href = await link.get_attribute("href")
    assert href.startswith("viewer/dicomjson?") and f"StudyInstanceUIDs={xa.study_uid}" in href
    await link.click()
    await app.wait_for_image(0, xa.instances[0].sop_uid)
    await app.settle()
    assert np.array_equal(await app.pixels(), await dicomjson_render(url, xa.study_uid))


@pytest.mark.parametrize(("url", "said"), [
    ("", "needs url="),
    ("file:///etc/passwd", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("missing.json", "404"),
    ("not-dicomjson.json", "not a dicomjson file"),
])
async def test_a_bad_dicomjson_address_is_said_on_the_page(
        sources_app: App, files_server: FileServer, url: str, said: str) -> None:
    app = sources_app
    (files_server.root / "not-dicomjson.json").write_text('{"patients": []}')
    if url.endswith(".json"):
        url = files_server.url(url)
    await app.navigate(f"viewer/dicomjson?url={url}" if url else "viewer/dicomjson")
    text = await viewer_error(app)
    assert said in text, text
    if url:
        assert "The DICOM JSON file" in text and "could not be loaded" in text, text


async def test_without_a_dicomjson_source_in_the_config_the_worker_makes_one(
        app: App, files_server: FileServer, testdata: Any) -> None:
    """The Orthanc build's config has no dicomjson source: OHIF's address works anyway."""
    mr = testdata.study("mr")
    url = files_server.dicomjson("alone.json", study_files(testdata, "mr"), testdata.root)
    await app.navigate(f"?datasources=dicomjson&url={url}")
    assert await listed(app) == [mr.study_uid]
    link = await open_row(app, mr.study_uid)
    await link.click()
    await app.wait_for_image(0)
    await app.settle()
    assert np.array_equal(await app.pixels(), await dicomjson_render(url, mr.study_uid))
