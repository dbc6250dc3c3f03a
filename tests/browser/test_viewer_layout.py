"""The viewer page in Chromium against the real Orthanc: series panel, viewport grid,
layout picker, URL parameters, loading, viewer hotkeys, tablet and phone layouts.

One page serves the module (Pyodide starts once); tests move through the app with its
own navigation and clear the saved preferences they depend on. What is checked is on
the screen: texts, canvas pixels, the canvases' data attributes, the URL.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc, make_test_data

from ohifpy.viewer.tables import tables

from .conftest import App, ServedSite, started_app

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

UNKNOWN_STUDY = "1.2.826.0.1.3680043.8.498.424242"
FOUR = ("ct", "mr", "xa-cine", "rgb")


def viewer_url(*studies: str, **params: str) -> str:
    query = "&".join([f"StudyInstanceUIDs={','.join(studies)}",
                      *(f"{key}={value}" for key, value in params.items())])
    return f"viewer?{query}"


async def open_viewer(app: App, relative: str, *, clear_layout: bool = True) -> None:
    """Go to a viewer URL (no saved layout unless kept) and wait for the panel."""
    if clear_layout:
        await app.page.evaluate("localStorage.removeItem('ohifpy:preferences')")
    await app.navigate(relative)
    await app.page.wait_for_selector(".study-browser .series-entry", state="attached",
                                     timeout=60_000)


def viewport(index: int) -> str:
    return f".viewport[data-viewport-index='{index}']"


async def wait_for_series(app: App, index: int, series_uid: str) -> None:
    """Until viewport ``index`` shows an image of the series."""
    await app.page.wait_for_selector(
        f"{viewport(index)}:not(.failed) canvas[data-series-uid='{series_uid}'][data-image-index]",
        state="attached", timeout=60_000)


async def shown_series(app: App) -> list[str | None]:
    return await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport", "vs => vs.map(v => v.querySelector('canvas').dataset.seriesUid ?? null)")


async def active_index(app: App) -> int:
    return int(await app.page.get_attribute(".viewport[data-active='true']", "data-viewport-index"))


async def canvas_pixels(app: App, selector: str) -> np.ndarray:
    """A canvas (viewport or thumbnail) as (rows, columns, 4) RGBA."""
    width, height, encoded = await app.page.eval_on_selector(selector, """c => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let text = '';
        for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
        return [c.width, c.height, btoa(text)]; }""")
    return np.frombuffer(base64.b64decode(encoded), np.uint8).reshape(height, width, 4)


async def pick_layout(app: App, rows: int, columns: int) -> None:
    await app.page.click(".layout-button")
    await app.page.click(f".layout-cell[data-rows='{rows}'][data-columns='{columns}']")
    await app.page.wait_for_selector(f".viewport-grid[data-layout='{rows}x{columns}']")


async def save_screenshot(page: Any, tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    """A screenshot under the session's tmp dir, for a person to look at."""
    path = tmp_path_factory.getbasetemp() / "screenshots" / name
    path.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def first_series(manifest: make_test_data.Manifest, key: str) -> str:
    return manifest.study(key).series[0].series_uid


# ---------------------------------------------------------------- the series panel


async def test_panel_groups_studies_shows_thumbnails_progress_and_unknown_study(
        app: App, orthanc: LoadedOrthanc) -> None:
    manifest = orthanc.manifest
    studies = [manifest.study(key) for key in FOUR]
    uids = [s.study_uid for s in studies]
    await open_viewer(app, viewer_url(uids[0], UNKNOWN_STUDY, *uids[1:]))
    note = await app.page.inner_text(".viewer > .note")
    assert f"Study {UNKNOWN_STUDY} cannot be opened" in note

    headers = app.page.locator(".study-browser .study")
    assert await headers.evaluate_all("ss => ss.map(s => s.dataset.studyInstanceUid)") == uids
    for study, header in zip(studies, await headers.all(), strict=True):
        text = await header.locator(".study-header").inner_text()
        assert study.patient_name.split("^")[0] in text and study.description in text
        (series,) = study.series
        entry = header.locator(".series-entry")
        assert await entry.get_attribute("data-series-uid") == series.series_uid
        info = await entry.inner_text()
        frames = sum(i.number_of_frames for i in series.instances)
        assert series.modality in info and series.description in info
        assert f"{frames} {'frames' if study.key == 'xa-cine' else 'image'}" in info
    assert await headers.first.locator(".study-date").inner_text() == "05-Jan-2024"  # the worker's

    # Every thumbnail is the series' image in miniature (not blank); CT grey, RGB colour.
    await app.page.wait_for_function(
        "() => [...document.querySelectorAll('.thumbnail')].every(t => t.dataset.state)",
        timeout=60_000)
    for study in studies:
        selector = f".series-entry[data-series-uid='{study.series[0].series_uid}'] .thumbnail canvas"
        thumb = await canvas_pixels(app, selector)
        assert max(thumb.shape[:2]) <= 96 and thumb[..., :3].std() > 5
        colour = np.abs(thumb[..., 0].astype(int) - thumb[..., 1]).max()
        assert (colour > 30) == (study.key == "rgb")

    # Four studies side by side (2x2), all shown, so all load; the panel shows their progress.
    assert await shown_series(app) == [s.series[0].series_uid for s in studies]
    await app.page.wait_for_function(
        "() => document.querySelectorAll('.series-progress[data-complete=\"true\"]').length === 4",
        timeout=120_000)
    ct_progress = f".series-entry[data-series-uid='{studies[0].series[0].series_uid}'] .series-progress"
    assert await app.page.get_attribute(ct_progress, "data-loaded") == "200"
    assert await app.page.inner_text(ct_progress) == "loaded"


async def test_a_thumbnail_that_fails_leaves_a_placeholder(
        browser: Any, site: ServedSite, orthanc: LoadedOrthanc) -> None:
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    async with started_app(browser, site) as app:  # a worker with nothing cached yet
        # The MR's images fail (a broken server); its thumbnail says so, the rest works.
        await app.page.route(f"**/dicom-web/studies/{mr.study_uid}/series/**",
                             lambda route: route.fulfill(status=500, body="broken"))
        await open_viewer(app, viewer_url(ct.study_uid, mr.study_uid))
        mr_thumb = f".series-entry[data-series-uid='{mr.series[0].series_uid}'] .thumbnail"
        await app.page.wait_for_selector(f"{mr_thumb}[data-state='failed']", timeout=60_000)
        assert await app.page.inner_text(mr_thumb) == "No preview"
        ct_thumb = f".series-entry[data-series-uid='{ct.series[0].series_uid}'] .thumbnail"
        await app.page.wait_for_selector(f"{ct_thumb}[data-state='ready'] canvas")
        await wait_for_series(app, 0, ct.series[0].series_uid)
        assert await app.page.locator(f"{viewport(1)}.failed").count() == 1


async def test_thumbnails_rendered_by_the_server_when_the_config_says_so(
        new_context: Any, site: ServedSite, orthanc: LoadedOrthanc) -> None:
    ct, rgb = orthanc.manifest.study("ct"), orthanc.manifest.study("rgb")
    context = (await new_context()).context
    rendered: list[str] = []
    context.on("request", lambda r: rendered.append(r.url) if "/rendered" in r.url else None)

    async def config(route: Any) -> None:  # the shipped config, thumbnails from /rendered
        shipped = await (await route.fetch()).json()
        shipped["dataSources"][0]["configuration"]["thumbnailRendering"] = "rendered"
        await route.fulfill(json=shipped)

    await context.route("**/config/app-config.json", config)
    app = App(await context.new_page(), site)
    await app.page.goto(f"{site.url}{viewer_url(ct.study_uid, rgb.study_uid)}")
    await app.page.wait_for_selector(".thumbnail[data-state='ready'] canvas", timeout=90_000)
    await app.page.wait_for_function(
        "() => [...document.querySelectorAll('.thumbnail')].every(t => t.dataset.state === 'ready')",
        timeout=60_000)
    assert sorted(url.split("/studies/")[1].split("/")[0] for url in rendered) == sorted(
        [ct.study_uid, rgb.study_uid])
    for study in (ct, rgb):
        thumb = await canvas_pixels(
            app, f".series-entry[data-series-uid='{study.series[0].series_uid}'] .thumbnail canvas")
        assert max(thumb.shape[:2]) <= 96 and thumb[..., :3].std() > 5
        colour = np.abs(thumb[..., 0].astype(int) - thumb[..., 1]).max()
        assert (colour > 30) == (study is rgb)  # the JPEG decoded by the browser


async def test_click_shows_in_the_active_viewport_and_drag_onto_any(
        app: App, orthanc: LoadedOrthanc) -> None:
    manifest = orthanc.manifest
    ct, mr, xa, rgb = (first_series(manifest, key) for key in FOUR)
    await open_viewer(app, viewer_url(*(manifest.study(k).study_uid for k in FOUR)))
    await pick_layout(app, 1, 2)  # keeps the first two viewports and what they show
    await wait_for_series(app, 1, mr)
    assert await shown_series(app) == [ct, mr]

    await app.page.click(viewport(1))  # clicking a viewport makes it the active one
    assert await active_index(app) == 1
    assert await app.page.get_attribute(viewport(0), "data-active") is None
    await app.page.click(f".series-entry[data-series-uid='{rgb}']")
    await wait_for_series(app, 1, rgb)
    assert await shown_series(app) == [ct, rgb]
    assert await app.page.get_attribute(f".series-entry[data-series-uid='{rgb}']",
                                        "aria-current") == "true"

    await app.page.drag_and_drop(f".series-entry[data-series-uid='{xa}']", viewport(0))
    await wait_for_series(app, 0, xa)
    assert await shown_series(app) == [xa, rgb]
    assert await active_index(app) == 0  # the viewport dropped on


# ---------------------------------------------------------------- the grid and its layouts


async def test_layout_picker_keeps_viewports_and_is_remembered(
        app: App, orthanc: LoadedOrthanc) -> None:
    manifest = orthanc.manifest
    uids = [manifest.study(k).study_uid for k in FOUR]
    series = [first_series(manifest, k) for k in FOUR]
    await open_viewer(app, viewer_url(*uids))
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "2x2"
    # The picker offers every layout up to the worker's limits (ohifpy.hanging), no more.
    limits = tables()["layout"]
    assert await app.page.locator(".layout-cell").evaluate_all(
        "cells => cells.map(c => c.getAttribute('aria-label'))") == [
        f"{rows}×{columns}" for rows in range(1, limits["maxRows"] + 1)
        for columns in range(1, limits["maxColumns"] + 1)]
    await pick_layout(app, 3, 4)
    assert await app.page.locator(".viewport-grid > .viewport").count() == 12
    assert (await shown_series(app))[:4] == series  # kept
    assert (await shown_series(app))[4:] == [None] * 8  # nothing more to show: empty
    assert "Drag a series here" in await app.page.evaluate(
        f"getComputedStyle(document.querySelector(\"{viewport(5)}\"), '::before').content")
    # The grid is drawn as rows x columns, each cell a viewport.
    boxes = [await app.page.locator(viewport(i)).bounding_box() for i in (0, 1, 4)]
    assert boxes[1]["x"] > boxes[0]["x"] and boxes[1]["y"] == pytest.approx(boxes[0]["y"])
    assert boxes[2]["y"] > boxes[0]["y"] and boxes[2]["x"] == pytest.approx(boxes[0]["x"])

    await app.page.click(viewport(3))
    await pick_layout(app, 2, 1)  # the active viewport (3) goes: the last remaining one is
    assert await shown_series(app) == series[:2]
    assert await active_index(app) == 1

    # The picked layout is saved and used next time for one study...
    await open_viewer(app, viewer_url(uids[0]), clear_layout=False)
    await app.page.wait_for_selector(".viewport-grid[data-layout='2x1']")
    await wait_for_series(app, 0, series[0])
    assert await app.page.get_attribute(".layout-button", "aria-label") == "Layout 2×1"
    # ...but several studies in the URL ask for side by side.
    await open_viewer(app, viewer_url(uids[0], uids[1]), clear_layout=False)
    await app.page.wait_for_selector(".viewport-grid[data-layout='1x2']")
    await wait_for_series(app, 1, series[1])


async def test_url_series_filter_and_initial_series(app: App, orthanc: LoadedOrthanc) -> None:
    xss = orthanc.manifest.study("xss")  # a study with two series
    first, second = (s.series_uid for s in xss.series)
    await open_viewer(app, viewer_url(xss.study_uid, initialSeriesInstanceUID=second))
    await wait_for_series(app, 0, second)
    entries = await app.page.eval_on_selector_all(".series-entry", "es => es.map(e => e.dataset.seriesUid)")
    assert sorted(entries) == sorted([first, second])

    await open_viewer(app, viewer_url(xss.study_uid, SeriesInstanceUIDs=first))
    await wait_for_series(app, 0, first)
    assert await app.page.eval_on_selector_all(
        ".series-entry", "es => es.map(e => e.dataset.seriesUid)") == [first]

    await app.navigate(viewer_url(UNKNOWN_STUDY))
    await app.page.wait_for_selector(".viewer > .note.error", timeout=60_000)
    assert UNKNOWN_STUDY in await app.page.inner_text(".viewer > .note")


async def test_viewer_hotkeys_move_between_viewports_and_series(
        app: App, orthanc: LoadedOrthanc) -> None:
    manifest = orthanc.manifest
    series = [first_series(manifest, k) for k in FOUR]
    await open_viewer(app, viewer_url(*(manifest.study(k).study_uid for k in FOUR)))
    await wait_for_series(app, 0, series[0])
    await app.page.focus(viewport(0))
    await app.page.keyboard.press("ArrowRight")
    assert await active_index(app) == 1
    await app.page.keyboard.press("ArrowLeft")
    await app.page.keyboard.press("ArrowLeft")  # wraps around
    assert await active_index(app) == 3
    await app.page.keyboard.press("PageUp")  # the previous display set into the active viewport
    await wait_for_series(app, 3, series[2])
    await app.page.keyboard.press("PageDown")
    await wait_for_series(app, 3, series[3])
    await app.page.keyboard.press("PageDown")  # the last one: stays
    assert await shown_series(app) == series


# ---------------------------------------------------------------- loading


async def test_displayed_image_first_and_a_series_no_longer_shown_stops_loading(
        browser: Any, site: ServedSite, orthanc: LoadedOrthanc) -> None:
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    ct_series, mr_series = ct.series[0].series_uid, mr.series[0].series_uid
    frames: list[str] = []
    pattern = f"**/dicom-web/studies/{ct.study_uid}/series/*/instances/*/frames/*"

    async def slow(route: Any) -> None:  # a slow server: the CT takes a while to load
        frames.append(route.request.url)
        await asyncio.sleep(0.1)
        await route.continue_()

    async with started_app(browser, site) as app:  # a worker with nothing cached yet
        await app.page.route(pattern, slow)
        await open_viewer(app, viewer_url(ct.study_uid, mr.study_uid))
        await wait_for_series(app, 0, ct_series)
        shown_sop = await app.page.get_attribute(f"{viewport(0)} canvas", "data-sop-instance-uid")
        assert f"/instances/{shown_sop}/frames/1" in frames[0]  # the displayed image first
        ct_progress = f".series-entry[data-series-uid='{ct_series}'] .series-progress"
        await app.page.wait_for_selector(f"{ct_progress}:not([hidden])", timeout=60_000)
        # Counts between the first and the last are shown too (at most every 250 ms).
        await app.page.wait_for_function(
            """selector => /^([2-9]|[1-9][0-9]+)\\/200$/.test(
                document.querySelector(selector + ' .progress-text').textContent)""",
            arg=ct_progress, timeout=30_000)

        # The user puts the MR in the CT's viewport: no viewport shows the CT any more.
        await app.page.click(viewport(0))
        await app.page.click(f".series-entry[data-series-uid='{mr_series}']")
        await wait_for_series(app, 0, mr_series)
        await app.page.wait_for_selector(
            f".series-entry[data-series-uid='{mr_series}'] .series-progress[data-complete='true']",
            timeout=60_000)
        requested = len(frames)
        await app.page.wait_for_timeout(1500)  # long enough for many more 0.1 s frames
        assert len(frames) == requested < 200, "the CT kept loading after it left the grid"
        assert await app.page.get_attribute(ct_progress, "data-complete") == "false"


# ---------------------------------------------------------------- images of every kind, sizes


async def test_2x2_with_ct_mr_multiframe_and_colour(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    manifest = orthanc.manifest
    series = [first_series(manifest, k) for k in FOUR]
    await open_viewer(app, viewer_url(*(manifest.study(k).study_uid for k in FOUR)))
    await pick_layout(app, 2, 2)
    for index, uid in enumerate(series):
        await wait_for_series(app, index, uid)
    ct, mr, xa, rgb = [await canvas_pixels(app, f"{viewport(i)} canvas") for i in range(4)]
    for grey in (ct, mr, xa):
        assert np.array_equal(grey[..., 0], grey[..., 1]) and grey[..., 0].std() > 5
    assert np.abs(rgb[..., 0].astype(int) - rgb[..., 1]).max() > 100  # colour, not grey

    # The XA cine is one instance: scrolling steps through its frames.
    await app.page.click(viewport(2))
    xa_canvas = f"{viewport(2)} canvas"
    sop = await app.page.get_attribute(xa_canvas, "data-sop-instance-uid")
    for _ in range(3):
        await app.page.keyboard.press("ArrowDown")
    await app.page.wait_for_selector(f"{xa_canvas}[data-frame-number='4'][data-image-index='3']")
    assert await app.page.get_attribute(xa_canvas, "data-sop-instance-uid") == sop
    assert not np.array_equal(await canvas_pixels(app, xa_canvas), xa)
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "viewer-2x2.png")

    await app.navigate("")
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    await save_screenshot(app.page, tmp_path_factory, "studylist.png")


@pytest.mark.parametrize(("name", "width", "height"), [("tablet", 1024, 768), ("phone", 390, 844)])
async def test_tablet_and_phone_panel_is_a_toggle_and_the_grid_fills_the_rest(
        browser: Any, site: ServedSite, orthanc: LoadedOrthanc,
        tmp_path_factory: pytest.TempPathFactory, name: str, width: int, height: int) -> None:
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    async with started_app(browser, site) as small:
        await small.page.set_viewport_size({"width": width, "height": height})
        await open_viewer(small, viewer_url(ct.study_uid, mr.study_uid))
        await wait_for_series(small, 0, ct.series[0].series_uid)
        assert not await small.page.is_visible(".study-browser")
        grid = await small.page.locator(".viewport-grid").bounding_box()
        assert grid["x"] == pytest.approx(0, abs=1) and grid["width"] == pytest.approx(width, abs=1)
        assert grid["y"] + grid["height"] == pytest.approx(height, abs=1)
        assert await small.page.evaluate("document.documentElement.scrollWidth") <= width
        await small.settle()
        await save_screenshot(small.page, tmp_path_factory, f"viewer-{name}.png")

        await small.page.click(".series-toggle")
        assert await small.page.is_visible(".study-browser")
        panel = await small.page.locator(".study-browser").bounding_box()
        assert panel["width"] < width  # over the grid, which keeps its size
        assert (await small.page.locator(".viewport-grid").bounding_box()) == grid
        await save_screenshot(small.page, tmp_path_factory, f"viewer-{name}-panel.png")

        await small.page.click(f".series-entry[data-series-uid='{mr.series[0].series_uid}']")
        await wait_for_series(small, 0, mr.series[0].series_uid)
        assert not await small.page.is_visible(".study-browser")  # out of the way again
