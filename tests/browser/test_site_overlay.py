"""A site's config on screen (issue 16): its viewport overlay, in OHIF's customization
shape, changes the corners; its dateFormat "locale" shows every date and time in the
browser's locale, one format across the study list, the series panel and the overlay.

The build is conftest's ``site_config_dist`` (:data:`conftest.SITE_CONFIG`), the one the
hanging protocol tests use too. What the corners should hold is the config's items, their
values :mod:`ohifpy.display_format` applied to the shown image's file; a locale text is
the browser's ``Intl.DateTimeFormat`` of the value's ISO form, on the scanner's clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import LoadedOrthanc

from ohifpy.display_format import time_iso, value_text

from .conftest import App, ServedSite, started_app
from .test_display_texts import corner_items, ids_of, list_row, open_study, reading, shown_dataset

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

DATE, TIME = {"dateStyle": "medium"}, {"timeStyle": "short"}


@pytest.fixture(scope="module")
async def app(browser: Any, site_config_site: ServedSite) -> AsyncIterator[App]:
    """This module's page on the site's build (``page_errors_fail`` watches it too)."""
    async with started_app(browser, site_config_site) as started:
        yield started


async def in_locale(app: App, instant: str, options: dict[str, str]) -> str:
    """The browser's locale text of a moment on the scanner's clock (``instant`` in UTC)."""
    return await app.page.evaluate(
        "([instant, options]) => new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC' })"
        ".format(new Date(instant))", [instant, options])


async def test_the_site_overlay_changes_the_corners(app: App, orthanc: LoadedOrthanc) -> None:
    _, shown = await open_study(app, orthanc, "ct")
    ds = await shown_dataset(orthanc, "ct", shown)
    corners = await corner_items(shown)
    assert ids_of(corners) == {
        "topLeft": ["PatientName", "StudyDate", "StudyDescription"],  # PatientID spliced out
        "topRight": ["SeriesDescription", "SeriesNumber", "Modality", "SliceLocation"],  # pushed
        "bottomLeft": ["WindowLevel", "InstanceNumber"],  # spliced in first
        "bottomRight": ["ZoomLevel", "StudyTime"],  # set
    }
    location, _ = value_text(ds.SliceLocation, "DS")
    assert corners["topRight"][-1] == ["SliceLocation", f"Loc: {location}"]
    canvas = shown.locator("canvas")
    center, width = (await canvas.get_attribute("data-window-center"),
                     await canvas.get_attribute("data-window-width"))
    assert corners["bottomLeft"][0] == ["WindowLevel", f"W: {width} L: {center}"]
    zoom = corners["bottomRight"][0][1]
    assert zoom.startswith("Z: ") and zoom.endswith("%")  # the config's label
    study_time = await in_locale(app, f"1970-01-01T{time_iso(ds.StudyTime)}Z", TIME)
    assert corners["bottomRight"][1] == ["StudyTime", study_time]
    assert await shown.locator(".overlay [data-item-id='SliceLocation']").get_attribute(
        "title") == "Slice location"

    # The next image: its own slice location.
    await shown.focus()
    await app.page.keyboard.press("ArrowDown")
    await app.page.wait_for_selector(".viewport canvas[data-image-index='1']", state="attached")
    ds = await shown_dataset(orthanc, "ct", shown)
    location, _ = value_text(ds.SliceLocation, "DS")
    assert (await corner_items(shown))["topRight"][-1] == ["SliceLocation", f"Loc: {location}"]


async def test_dates_in_the_locale_alike_in_the_list_the_panel_and_the_overlay(
        app: App, orthanc: LoadedOrthanc) -> None:
    want = reading(orthanc, "iso2022-jp")
    date = await in_locale(app, f"{want.date_iso}T00:00:00Z", DATE)
    when = await in_locale(app, f"{want.date_iso}T{want.time_iso}Z", {**DATE, **TIME})
    assert date != want.date  # not OHIF's DD-MMM-YYYY

    row = await list_row(app, orthanc, "iso2022-jp")
    cells = await row.locator("td").all_text_contents()
    assert (cells[0], cells[2]) == (want.name, when)

    header, shown = await open_study(app, orthanc, "iso2022-jp")
    assert await header.locator(".study-date").text_content() == date
    value = shown.locator(".overlay [data-item-id='StudyDate'] .overlay-value")
    assert await value.text_content() == date
    assert await value.locator("time").get_attribute("datetime") == want.date_iso
