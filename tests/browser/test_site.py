"""The site as deployed: same-origin requests only, offline start from the service worker,
a subpath, and the built-in demo data source."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource

from .conftest import (
    SUBPATH,
    App,
    RecordedContext,
    ServedSite,
    cpython_display_sets,
    cpython_render,
)

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

CACHED_URLS = """async () => {
    const urls = [];
    for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
    }
    return urls;
}"""


# When the page registers its service worker (performance.now()), kept for the test.
REGISTRATION_PROBE = """(() => {
    const register = navigator.serviceWorker.register.bind(navigator.serviceWorker);
    navigator.serviceWorker.register = (...args) => {
        window.__registered ??= performance.now();
        return register(...args);
    };
})();"""


def demo_ct_uid(dist: Path) -> str:
    """The demo tree's CT, read from its static QIDO answer."""
    studies = json.loads((dist / "demo/dicom-web/studies/index.json").read_text())
    (ct,) = [s for s in studies if "CT" in s["00080061"]["Value"]]
    return ct["0020000D"]["Value"][0]


async def test_requests_stay_on_the_origin(new_context: Callable[[], Awaitable[RecordedContext]],
                                     site: ServedSite, orthanc: LoadedOrthanc) -> None:
    recorded = await new_context()
    app = App(await recorded.context.new_page(), site)
    ct = orthanc.manifest.study("ct")
    await app.page.goto(f"{site.url}viewer?StudyInstanceUIDs={ct.study_uid}")
    await app.wait_for_mark("ohifpy:first-image")
    await app.wait_for_mark("ohifpy:series-loaded")
    assert any("/dicom-web/studies/" in url for url in recorded.requests)
    assert any(url.endswith("/pyodide/pyodide.asm.wasm") for url in recorded.requests)
    assert recorded.foreign_requests() == []
    assert not [url for url in await app.page.evaluate(CACHED_URLS) if "/dicom-web/" in url]


START_UP = ("ohifpy:worker-started", "ohifpy:python-started", "ohifpy:libraries-imported",
            "ohifpy:core-imported", "ohifpy:runtime-ready")


async def test_start_up_phases_are_marked_in_order(app: App) -> None:
    """The worker's start-up phases (worker.js) are on the page's timeline, once each, in
    order and before runtime-ready: where a start's time goes shows in DevTools."""
    await app.wait_for_mark("ohifpy:runtime-ready")
    times = await app.page.evaluate(
        "names => names.map(n => performance.getEntriesByName(n, 'mark').map(m => m.startTime))",
        START_UP)
    assert all(len(t) == 1 for t in times), dict(zip(START_UP, times))
    starts = [t[0] for t in times]
    assert 0 < starts[0] and starts == sorted(starts), dict(zip(START_UP, starts))


async def test_a_viewer_link_fetches_its_metadata_once_and_only_the_codec_it_needs(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc) -> None:
    """The worker fetches the study's metadata while Python starts and Python's client takes
    that answer instead of asking again; codecs load when a frame needs them."""
    recorded = await new_context()
    by_the_app: list[Any] = []  # not the service worker's precaching of the whole shell
    recorded.context.on("request", lambda request: request.service_worker is None
                        and by_the_app.append(request))
    app = App(await recorded.context.new_page(), site)
    study = orthanc.manifest.study("ct-jpeg-ls")
    await app.page.goto(f"{site.url}viewer?StudyInstanceUIDs={study.study_uid}")
    await app.wait_for_mark("ohifpy:first-image")
    await app.wait_for_image(0)
    ready = await app.page.evaluate(
        "performance.timeOrigin + performance.getEntriesByName('ohifpy:runtime-ready')[0].startTime")
    metadata = [r for r in by_the_app if r.url.endswith(f"/studies/{study.study_uid}/metadata")]
    assert len(metadata) == 1, [r.url for r in metadata]
    assert metadata[0].timing["startTime"] < ready  # asked before Python could ask
    codec_files = {r.url.rsplit("/", 1)[1] for r in by_the_app if "/codecs/" in r.url}
    assert codec_files == {"codecs.json", "charlswasm_decode.js", "charlswasm_decode.wasm"}


async def test_python_starts_when_the_page_cannot_compile_its_runtime(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    """boot.js compiles pyodide.asm.wasm for the worker; a browser without
    WebAssembly.compileStreaming hands it nothing and the worker loads the runtime itself."""
    page = await (await new_context()).context.new_page()
    await page.add_init_script("delete WebAssembly.compileStreaming")
    app = App(page, site)
    ct = orthanc.manifest.study("ct")
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    first = stack.images[0].instance.sop_instance_uid
    await page.goto(f"{site.url}viewer?StudyInstanceUIDs={ct.study_uid}")
    await app.wait_for_image(0, first)
    assert await page.evaluate("typeof WebAssembly.compileStreaming") == "undefined"
    assert np.array_equal(await app.pixels(), await cpython_render(dicomweb_source, ct.study_uid,
                                                                   sop=first))


async def test_the_demo_from_a_subpath_shows_the_ct(new_context: Callable[[], Awaitable[RecordedContext]],
                                              demo_site: ServedSite, demo_dist: Path) -> None:
    app = App(await (await new_context()).context.new_page(), demo_site)
    await app.page.goto(demo_site.url)
    uid = demo_ct_uid(demo_dist)
    row = await app.page.wait_for_selector(f"tr.study[data-study-instance-uid='{uid}']", timeout=90_000)
    assert await app.page.locator("tr.study").count() == 2  # the demo CT and MR
    await row.click()
    await app.page.click(".series-panel >> text=Open in viewer")
    await app.wait_for_mark("ohifpy:first-image")
    assert app.page.url.startswith(f"{demo_site.url}viewer?StudyInstanceUIDs=")
    await app.wait_for_image(0)
    shown = await app.pixels()
    assert shown.shape == (512, 512, 4)
    demo = DicomWebSource(name="demo", qidoRoot=demo_site.url + "demo/dicom-web",
                          wadoRoot=demo_site.url + "demo/dicom-web", staticWado=True)
    assert np.array_equal(shown, await cpython_render(demo, uid))


async def test_second_start_works_offline_from_the_service_worker(
        new_context: Callable[[], Awaitable[RecordedContext]], demo_dist: Path) -> None:
    served = ServedSite(demo_dist, base_path=SUBPATH).start()
    try:
        app = App(await (await new_context()).context.new_page(), served)
        await app.page.add_init_script(REGISTRATION_PROBE)
        await app.page.goto(f"{served.url}viewer?StudyInstanceUIDs={demo_ct_uid(demo_dist)}")
        await app.wait_for_mark("ohifpy:first-image")
        await app.page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=90_000)
        # Its downloads and compiles came after the first image, not in its way.
        registered, first_image = await app.page.evaluate("""() => [window.__registered,
            performance.getEntriesByName('ohifpy:first-image', 'mark')[0].startTime]""")
        assert registered >= first_image
        cached = await app.page.evaluate(CACHED_URLS)
        assert f"{served.url}pyodide/pyodide.asm.wasm" in cached
        assert f"{served.url}worker.js" in cached
        assert not [url for url in cached if "/demo/" in url or "dicom-web" in url]

        served.stop()
        await app.page.reload()
        await app.wait_for_mark("ohifpy:runtime-ready")
        assert await app.page.evaluate("navigator.serviceWorker.controller !== null")
        # Pyodide's runtime came from the cache by the worker's static route, not its handler.
        assert await app.page.evaluate("""() => performance.getEntriesByType('resource')
            .filter(e => e.name.endsWith('/pyodide/pyodide.asm.wasm'))
            .map(e => e.workerFinalSourceType)""") == ["cache"]
        await app.page.wait_for_selector("text=This study cannot be opened", timeout=60_000)
        cached = await app.page.evaluate(CACHED_URLS)
        assert not [url for url in cached if "/demo/" in url or "dicom-web" in url]
    finally:
        served.stop()
