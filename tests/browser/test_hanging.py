"""Hanging protocols and prior studies in Chromium against the real Orthanc (issue 15).

The studies are :mod:`ohifpy.synthetic_hanging`'s: three chest CTs of one patient (current,
six months before, three years before; each its own frame of reference, the soft tissue
level telling them apart on screen and a marker square telling series and slice), a head
MR (T1 with dark fluid, T2 with bright fluid) and a four-view mammogram in shuffled series
order. The site's build (conftest's ``site_config_dist``) has a site protocol (MR: T2
left, T1 right by SeriesDescription, a second stage in a custom layout), so one page
serves the module.

What is checked is on the screen: which display set each viewport's canvas shows, its
pixels (levels, the marker), the grid's boxes, the panel's tabs and texts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy import synthetic_hanging as hanging

from .conftest import App, ServedSite, eventually, started_app
from .test_viewer_layout import canvas_pixels, open_viewer, pick_layout, viewer_url, viewport

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

COMPARE = "@ohif/hpCompare"
CURRENT, RECENT, OLD = hanging.PRIOR_CURRENT_KEY, hanging.PRIOR_RECENT_KEY, hanging.PRIOR_OLD_KEY
STACK_5MM = hanging.PRIOR_STUDIES[0].series[0]
PRIOR_5MM = hanging.PRIOR_STUDIES[1].series[0]
MAMMO_ORDER = ("R CC", "L CC", "R MLO", "L MLO")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def app(browser: Any, site_config_site: ServedSite) -> AsyncIterator[App]:
    """This module's page on the site's build (``page_errors_fail`` watches it too)."""
    async with started_app(browser, site_config_site) as started:
        yield started


# ---------------------------------------------------------------- helpers


def series_uids(orthanc: LoadedOrthanc, key: str) -> dict[str, str]:
    """SeriesDescription -> SeriesInstanceUID of a study of the manifest."""
    return {s.description: s.series_uid for s in orthanc.manifest.study(key).series}


def compare_url(orthanc: LoadedOrthanc, **params: str) -> str:
    studies = (orthanc.manifest.study(key).study_uid for key in (CURRENT, RECENT))
    return viewer_url(*studies, hangingProtocolId=COMPARE, **params)


async def shown(app: App) -> list[str | None]:
    """The SeriesInstanceUID each viewport's canvas shows, in viewport order."""
    return await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport",
        "vs => vs.map(v => v.querySelector('canvas').dataset.seriesUid ?? null)")


async def wait_for(app: App, index: int, series_uid: str, image: int | None = None) -> None:
    """Until viewport ``index`` shows an image of the series (image ``image`` if given)."""
    at = "[data-image-index]" if image is None else f"[data-image-index='{image}']"
    await app.page.wait_for_selector(
        f"{viewport(index)}:not(.failed) canvas[data-series-uid='{series_uid}']{at}",
        state="attached", timeout=60_000)


async def level(app: App, index: int, row: int, column: int) -> float:
    """The grey value viewport ``index``'s canvas shows at image pixel (row, column)."""
    pixels = await canvas_pixels(app, f"{viewport(index)} canvas")
    return float(pixels[row, column, :3].mean())


def ct_level(hu: float) -> float:
    """Where soft tissue of ``hu`` lands on screen in the prior CTs' window."""
    center, width = hanging.PRIOR_WINDOW
    return float(np.clip(((hu - (center - 0.5)) / (width - 1) + 0.5) * 255, 0, 255))


async def stage_label(app: App) -> str:
    return await app.page.inner_text(".hanging-stage .stage-label")


async def press(app: App, key: str) -> None:
    """A hotkey with the active viewport focused, as a user at the images presses it."""
    await app.page.focus(".viewport[data-active='true']")
    await app.page.keyboard.press(key)


async def tab_studies(app: App, tab: str) -> list[str]:
    """Select a tab of the series panel; the StudyInstanceUIDs it lists, in order."""
    await app.page.click(f".study-tab[data-tab='{tab}']")
    assert await app.page.get_attribute(f".study-tab[data-tab='{tab}']", "aria-selected") == "true"
    return await app.page.eval_on_selector_all(
        ".study-list > .study", "ss => ss.map(s => s.dataset.studyInstanceUid)")


# ---------------------------------------------------------------- compare: current and prior


async def test_compare_shows_current_and_prior_side_by_side_and_scrolls_them_together(
        app: App, orthanc: LoadedOrthanc) -> None:
    current, prior = series_uids(orthanc, CURRENT), series_uids(orthanc, RECENT)
    await open_viewer(app, compare_url(orthanc))
    await wait_for(app, 0, current[STACK_5MM.description], 0)
    await wait_for(app, 1, prior[PRIOR_5MM.description], 0)

    # The 2x2 stage (both studies have two stacks): current left, prior right, by row.
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "2x2"
    assert await shown(app) == [current["Axial 5mm"], prior["Axial 5mm"],
                                current["Axial 2.5mm"], prior["Axial 2.5mm"]]
    assert await stage_label(app) == "Compare Two Studies · 2x2"
    assert await app.page.is_disabled(".hanging-stage .stage-previous")
    assert await app.page.is_enabled(".hanging-stage .stage-next")
    # Each study's own soft tissue level, and the marker of slice 0 of series 1.
    row, column = hanging.PRIOR_LEVEL_PIXEL
    body = hanging.PRIOR_BODY_HU
    assert await level(app, 0, row, column) == pytest.approx(ct_level(body[CURRENT]), abs=4)
    assert await level(app, 1, row, column) == pytest.approx(ct_level(body[RECENT]), abs=4)
    assert hanging.read_marker(await canvas_pixels(app, f"{viewport(1)} canvas")) == (1, 0)

    # Sync scroll is on (the toolbar says so); the prior, another frame of reference,
    # follows the current by relative position in its stack.
    sync = app.page.locator(".toolbar button[aria-label='Sync scroll']")
    assert await sync.get_attribute("aria-pressed") == "true"
    await app.page.focus(viewport(0))
    for _ in range(10):
        await app.page.keyboard.press("ArrowDown")
    await wait_for(app, 0, current["Axial 5mm"], 10)
    expected = round(10 / (STACK_5MM.count - 1) * (PRIOR_5MM.count - 1))
    await wait_for(app, 1, prior["Axial 5mm"], expected)
    assert hanging.read_marker(await canvas_pixels(app, f"{viewport(1)} canvas")) == (1, expected)
    # The current's 2.5 mm stack (its frame of reference) by position: its slices fall
    # halfway between the 5 mm ones.
    z = STACK_5MM.z(10)
    thin = hanging.PRIOR_STUDIES[0].series[1]
    nearest = {i for i in range(thin.count) if abs(thin.z(i) - z) <= abs(thin.step) / 2 + 1e-6}

    async def by_position() -> None:
        index = int(await app.page.get_attribute(f"{viewport(2)} canvas", "data-image-index"))
        assert index in nearest

    await eventually(by_position)

    # The toggle turns it off: the prior stays where it is.
    await (await app.toolbar_control("button[aria-label='Sync scroll']")).click()
    assert await sync.get_attribute("aria-pressed") == "false"
    await press(app, "ArrowDown")
    await wait_for(app, 0, current["Axial 5mm"], 11)
    await app.page.wait_for_timeout(300)
    prior_index = await app.page.get_attribute(f"{viewport(1)} canvas", "data-image-index")
    assert prior_index == str(expected)
    # On again: the prior joins the current's relative position at once.
    await (await app.toolbar_control("button[aria-label='Sync scroll']")).click()
    await wait_for(app, 1, prior["Axial 5mm"],
                   round(11 / (STACK_5MM.count - 1) * (PRIOR_5MM.count - 1)))


async def test_next_and_previous_stage_by_hotkey_and_buttons(
        app: App, orthanc: LoadedOrthanc) -> None:
    current, prior = series_uids(orthanc, CURRENT), series_uids(orthanc, RECENT)
    await open_viewer(app, compare_url(orthanc))
    await wait_for(app, 1, prior["Axial 5mm"])
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "2x2"

    await press(app, ".")  # next stage: 2x1, current and prior side by side
    await app.page.wait_for_selector(".viewport-grid[data-layout='1x2']")
    await wait_for(app, 0, current["Axial 5mm"])
    await wait_for(app, 1, prior["Axial 5mm"])
    assert await stage_label(app) == "Compare Two Studies · 2x1"
    assert await app.page.get_attribute(".hanging-stage", "data-stage-id") == "2x1"
    assert await app.page.is_enabled(".hanging-stage .stage-previous")
    assert await app.page.is_disabled(".hanging-stage .stage-next")
    # Past the last stage: it stays, and the status line says so.
    await press(app, ".")
    await app.page.wait_for_function(
        "() => document.querySelector('.viewer > .note').textContent.includes('last stage')")
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x2"

    await press(app, ",")  # previous stage: the 2x2 again
    await app.page.wait_for_selector(".viewport-grid[data-layout='2x2']")
    await wait_for(app, 2, current["Axial 2.5mm"])
    await wait_for(app, 3, prior["Axial 2.5mm"])
    assert await stage_label(app) == "Compare Two Studies · 2x2"
    assert "last stage" not in await app.page.inner_text(".viewer > .note")  # that notice went

    await app.page.click(".hanging-stage .stage-next")  # the header's buttons do the same
    await app.page.wait_for_selector(".viewport-grid[data-layout='1x2']")
    assert await stage_label(app) == "Compare Two Studies · 2x1"


async def test_stage_id_in_the_url_opens_that_stage(app: App, orthanc: LoadedOrthanc) -> None:
    current, prior = series_uids(orthanc, CURRENT), series_uids(orthanc, RECENT)
    await open_viewer(app, compare_url(orthanc, stageId="2x1"))
    await wait_for(app, 0, current["Axial 5mm"])
    await wait_for(app, 1, prior["Axial 5mm"])
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x2"
    assert await stage_label(app) == "Compare Two Studies · 2x1"
    # An unknown protocol: the default hanging, and the status line says why (as text).
    unknown = "<b>no-such-protocol</b>"
    await open_viewer(app, viewer_url(orthanc.manifest.study(CURRENT).study_uid,
                                      hangingProtocolId=unknown))
    await app.page.wait_for_function(
        "id => document.querySelector('.viewer > .note').textContent.includes(id)", arg=unknown,
        timeout=60_000)
    assert await app.page.locator(".viewer > .note b").count() == 0
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x1"


# ---------------------------------------------------------------- the series panel's priors


async def test_series_panel_lists_priors_by_tab_and_opens_them(
        app: App, orthanc: LoadedOrthanc) -> None:
    uid = {key: orthanc.manifest.study(key).study_uid for key in (CURRENT, RECENT, OLD)}
    old_series, recent_series = series_uids(orthanc, OLD), series_uids(orthanc, RECENT)
    await open_viewer(app, viewer_url(uid[CURRENT]))
    tabs = app.page.locator(".study-browser [role='tablist'] [role='tab']")
    await app.page.wait_for_selector(".study-tab[data-tab='all']", timeout=60_000)
    assert await tabs.all_inner_texts() == ["Primary", "Recent", "All"]
    assert await app.page.get_attribute(".study-tab[data-tab='primary']", "aria-selected") == "true"
    assert await tab_studies(app, "primary") == [uid[CURRENT]]

    # Recent: the current (opened, expanded) and the prior of six months before, newest
    # first; All: the 2021 study too, only there.
    assert await tab_studies(app, "recent") == [uid[CURRENT], uid[RECENT]]
    current_entries = f".study[data-study-instance-uid='{uid[CURRENT]}'] .series-entry"
    assert await app.page.locator(current_entries).count() == 2
    assert await tab_studies(app, "all") == [uid[CURRENT], uid[RECENT], uid[OLD]]
    old = app.page.locator(f".study.closed[data-study-instance-uid='{uid[OLD]}'] .study-open")
    text = await old.inner_text()
    assert await old.locator("time").get_attribute("datetime") == "2021-05-05"  # its date
    assert "CT Chest 2021" in text and "CT" in text
    assert f"{orthanc.manifest.study(OLD).num_instances} instances" in text

    # Opening the 2021 study lists its series; clicking one shows it in the active viewport.
    await old.click()
    entry = (f".study[data-study-instance-uid='{uid[OLD]}'] "
             f".series-entry[data-series-uid='{old_series['Axial 5mm']}']")
    await app.page.wait_for_selector(entry, timeout=60_000)
    closed = f".study.closed[data-study-instance-uid='{uid[OLD]}']"
    assert await app.page.locator(closed).count() == 0
    await app.page.click(entry)
    await wait_for(app, 0, old_series["Axial 5mm"], 0)
    row, column = hanging.PRIOR_LEVEL_PIXEL

    async def prior_drawn() -> None:
        # The canvas is labelled with the series when it is shown; the image index left
        # from the image before can match until the prior's first frame is drawn.
        assert await level(app, 0, row, column) == pytest.approx(
            ct_level(hanging.PRIOR_BODY_HU[OLD]), abs=4)

    await eventually(prior_drawn)
    # Its thumbnail comes too.
    await app.page.wait_for_selector(f"{entry} .thumbnail[data-state='ready'] canvas",
                                     state="attached", timeout=60_000)
    assert await tab_studies(app, "recent") == [uid[CURRENT], uid[RECENT]]
    assert await tab_studies(app, "primary") == [uid[CURRENT]]

    # The recent prior opened by keyboard (Enter on its header), its 2.5 mm stack dragged
    # onto the viewport.
    await tab_studies(app, "recent")
    await app.page.focus(f".study.closed[data-study-instance-uid='{uid[RECENT]}'] .study-open")
    await app.page.keyboard.press("Enter")
    thin = f".series-entry[data-series-uid='{recent_series['Axial 2.5mm']}']"
    await app.page.wait_for_selector(thin, timeout=60_000)
    await app.page.drag_and_drop(thin, viewport(0))
    await wait_for(app, 0, recent_series["Axial 2.5mm"])
    # Opened studies are expanded in every tab they are in.
    assert await tab_studies(app, "all") == [uid[CURRENT], uid[RECENT], uid[OLD]]
    assert await app.page.locator(".study-list > .study.closed").count() == 0


# ---------------------------------------------------------------- protocols by matching rules


async def test_a_protocol_from_the_config_arranges_the_mr_study(
        app: App, orthanc: LoadedOrthanc) -> None:
    mr = series_uids(orthanc, hanging.MR_PROTOCOL_KEY)
    t1, t2 = mr["AX T1 SE"], mr["AX T2 FSE"]
    await open_viewer(app, viewer_url(orthanc.manifest.study(hanging.MR_PROTOCOL_KEY).study_uid))
    # Matched by its rules (no protocol in the URL): T2 left, T1 right, whatever the order.
    await wait_for(app, 0, t2)
    await wait_for(app, 1, t1)
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x2"
    assert await stage_label(app) == "MR T2 T1 · T2 | T1"
    # T1's display set options: its window (fluid dark there, bright on the T2).
    await app.page.wait_for_selector(
        f"{viewport(1)} canvas[data-window-center='500'][data-window-width='1000']",
        state="attached", timeout=30_000)
    row, column = hanging.MR_FLUID_PIXEL
    assert await level(app, 0, row, column) > 200
    assert await level(app, 1, row, column) < 60

    # The second stage: a custom layout, T2 in the wider box, inverted.
    await press(app, ".")
    await app.page.wait_for_selector(".viewport-grid[data-layout='custom']")
    await wait_for(app, 0, t2)
    await wait_for(app, 1, t1)
    grid = await app.page.locator(".viewport-grid").bounding_box()
    boxes = [await app.page.locator(viewport(i)).bounding_box() for i in (0, 1)]
    assert boxes[0]["width"] / grid["width"] == pytest.approx(0.7, abs=0.01)
    assert boxes[1]["x"] - grid["x"] == pytest.approx(0.7 * grid["width"], abs=3)
    assert boxes[0]["height"] == pytest.approx(grid["height"], abs=3)
    await app.page.wait_for_selector(f"{viewport(0)} canvas[data-invert='true']", state="attached")
    await eventually(lambda: _darker(app, 0, row, column))
    assert await app.page.get_attribute(".layout-button", "aria-label") == "Layout T2 large"

    # The layout picker goes back to a plain grid; the header no longer names a stage.
    await pick_layout(app, 1, 1)
    assert not await app.page.eval_on_selector(
        ".viewport-grid", "g => g.classList.contains('custom-layout')")
    assert await stage_label(app) == "MR T2 T1"
    box = await app.page.locator(viewport(0)).bounding_box()
    grid = await app.page.locator(".viewport-grid").bounding_box()
    assert box["width"] == pytest.approx(grid["width"], abs=1)


async def _darker(app: App, index: int, row: int, column: int) -> None:
    assert await level(app, index, row, column) < 60  # T2's bright fluid, inverted


@pytest.mark.parametrize("protocol", ["@ohif/hpMammo", ""])
async def test_mammography_hangs_right_and_left_cc_and_mlo(
        app: App, orthanc: LoadedOrthanc, protocol: str) -> None:
    views = {v.description: v for v in hanging.MAMMO_VIEWS}
    series = series_uids(orthanc, hanging.MAMMO_KEY)
    params = {"hangingProtocolId": protocol} if protocol else {}
    study_uid = orthanc.manifest.study(hanging.MAMMO_KEY).study_uid
    await open_viewer(app, viewer_url(study_uid, **params))
    for index, name in enumerate(MAMMO_ORDER):
        await wait_for(app, index, series[name])
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "2x2"
    assert await shown(app) == [series[name] for name in MAMMO_ORDER]
    assert (await stage_label(app)).startswith("Mammography Breast Screening")
    # Each view's own tissue level on screen, and its description in the overlay.
    center, width = hanging.MAMMO_WINDOW
    for index, name in enumerate(MAMMO_ORDER):
        view = views[name]
        row, column = hanging.mammo_tissue_pixel(view.laterality)
        expected = ((view.level - (center - 0.5)) / (width - 1) + 0.5) * 255
        assert await level(app, index, row, column) == pytest.approx(expected, abs=4)
        assert name in await app.page.inner_text(f"{viewport(index)} .overlay.top-right")
