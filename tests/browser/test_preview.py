"""The server-rendered preview while Python starts (web/preview.js), in Chromium.

Each test opens a viewer link in a fresh context (a first visit) and holds back Pyodide's
runtime (the page's download of ``pyodide.asm.wasm``, which the worker waits for) until
it has looked at the page: what shows while Python starts is then certain, with no clock
in the test. Released, the viewer starts and its first diagnostic image replaces the
preview, with the pixels of ``ohifpy render``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource

from .conftest import App, RecordedContext, ServedSite, cpython_display_sets, cpython_render
from .test_site import demo_ct_uid

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

RUNTIME = "**/pyodide/pyodide.asm.wasm"
MARKED = "name => performance.getEntriesByName(name, 'mark').length > 0"


async def hold_runtime(page: Any) -> asyncio.Event:
    """Hold the page's download of Pyodide's runtime until the returned event is set."""
    release = asyncio.Event()

    async def held(route: Any) -> None:
        await release.wait()
        await route.continue_()

    await page.route(RUNTIME, held)
    return release


async def test_preview_shows_while_python_starts_then_the_diagnostic_image_replaces_it(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    recorded = await new_context()
    page = await recorded.context.new_page()
    app = App(page, site)
    ct = orthanc.manifest.study("ct")
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    first = stack.images[0].instance.sop_instance_uid
    release = await hold_runtime(page)
    await page.goto(f"{site.url}viewer?StudyInstanceUIDs={ct.study_uid}")

    preview = page.get_by_role("figure", name="Preview")
    await preview.wait_for(timeout=60_000)
    assert await preview.get_by_text("Preview", exact=True).is_visible()
    image = preview.get_by_role("img", name="Preview rendered by the server, not the diagnostic image")
    assert await image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [True, 512, 512]
    assert await page.evaluate(MARKED, "ohifpy:first-preview")
    assert not await page.evaluate(MARKED, "ohifpy:runtime-ready")
    assert await page.locator(App.CANVAS).count() == 0
    # The image the viewer shows first: the series' first image, rendered by the server.
    expected = (f"{site.url}dicom-web/studies/{ct.study_uid}/series/"
                f"{stack.series_instance_uid}/instances/{first}/rendered")
    assert [url for url in recorded.requests if url.endswith("/rendered")] == [expected]

    release.set()
    await app.wait_for_mark("ohifpy:first-image")
    await app.wait_for_image(0, first)
    assert await page.locator(".preview").count() == 0
    assert np.array_equal(await app.pixels(), await cpython_render(dicomweb_source, ct.study_uid,
                                                                   sop=first))


async def test_the_url_series_is_previewed(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc) -> None:
    """initialSeriesInstanceUID names the series the viewer hangs first: its preview."""
    recorded = await new_context()
    page = await recorded.context.new_page()
    planes = orthanc.manifest.study("planes")  # four CT series
    series = planes.series[1].series_uid
    release = await hold_runtime(page)
    await page.goto(f"{site.url}viewer?StudyInstanceUIDs={planes.study_uid}"
                    f"&initialSeriesInstanceUID={series}")
    await page.get_by_role("figure", name="Preview").wait_for(timeout=60_000)
    (rendered,) = [url for url in recorded.requests if url.endswith("/rendered")]
    assert f"/series/{series}/instances/" in rendered
    release.set()
    app = App(page, site)
    await app.wait_for_mark("ohifpy:first-image")
    await app.wait_for_image(0)
    assert (await app.canvas())["seriesUid"] == series
    assert await page.locator(".preview").count() == 0


async def test_an_image_not_numbered_1_is_found_in_the_series_list(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc) -> None:
    """The page asks for image number 1 first; a series without one is listed whole."""
    recorded = await new_context()
    page = await recorded.context.new_page()
    study = orthanc.manifest.study("pydicom-examples_palette")  # one image, InstanceNumber 24
    (instance,) = study.instances
    release = await hold_runtime(page)
    await page.goto(f"{site.url}viewer?StudyInstanceUIDs={study.study_uid}")
    await page.get_by_role("figure", name="Preview").wait_for(timeout=60_000)
    searches = [url.split("/instances")[1] for url in recorded.requests if "/instances" in url]
    assert searches[:2] == ["?InstanceNumber=1", ""]
    assert searches[2] == f"/{instance.sop_uid}/rendered"
    release.set()
    await App(page, site).wait_for_mark("ohifpy:first-image")
    assert await page.locator(".preview").count() == 0


async def test_a_source_that_cannot_render_shows_no_preview(
        new_context: Callable[[], Awaitable[RecordedContext]], demo_site: ServedSite,
        demo_dist: Any) -> None:
    """The static demo tree (staticWado) renders nothing: no preview, no request for one,
    and the viewer works as before."""
    recorded = await new_context()
    page = await recorded.context.new_page()
    app = App(page, demo_site)
    uid = demo_ct_uid(demo_dist)
    release = await hold_runtime(page)
    await page.goto(f"{demo_site.url}viewer?StudyInstanceUIDs={uid}")
    await page.get_by_text("Opening the study…").wait_for(timeout=60_000)
    release.set()
    await app.wait_for_mark("ohifpy:first-image")
    await app.wait_for_image(0)
    demo = DicomWebSource(name="demo", qidoRoot=demo_site.url + "demo/dicom-web",
                          wadoRoot=demo_site.url + "demo/dicom-web", staticWado=True)
    assert np.array_equal(await app.pixels(), await cpython_render(demo, uid))
    assert not await page.evaluate(MARKED, "ohifpy:first-preview")
    assert await page.locator(".preview").count() == 0
    assert not [url for url in recorded.requests if url.endswith("/rendered")]
