"""Names and dates as readers read them, and the overlay's compact mode (issue 16), in
Chromium against the real Orthanc with the default config (dates as OHIF's DD-MMM-YYYY).

The study list, the series panel's header and the viewport overlay show one format. What
each should show is :mod:`ohifpy.display_format` applied to the values the test data
holds (the study's first file, read by pydicom), never a copy of what the page shows:
a name in ISO 2022 IR 87 with its alphabetic, ideographic and phonetic groups, one in
UTF-8 with two groups, and one of family, given and middle names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydicom
import pytest
from conftest import LoadedOrthanc

from ohifpy import synthetic_hanging as hanging
from ohifpy.display_format import date_iso, date_text, person_name, time_iso, time_text

from .conftest import App
from .test_viewer_layout import open_viewer, viewer_url, viewport

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

NAMES = {
    "iso2022-jp": "alphabetic, ideographic and phonetic groups (ISO 2022 IR 87)",
    "utf8": "Greek and ideographic groups (UTF-8)",
    hanging.PRIOR_CURRENT_KEY: "family, given and middle names",
}


@dataclass(frozen=True)
class Reading:
    """A study's name, date and time as :mod:`ohifpy.display_format` writes them."""

    name: str
    date: str
    date_iso: str
    time: str
    time_iso: str


def study_file(orthanc: LoadedOrthanc, key: str, sop_uid: str | None = None) -> pydicom.Dataset:
    """A file of the study as the test data wrote it: that SOP instance's, else the first."""
    entries = orthanc.manifest.study(key).instances
    entry = next((i for i in entries if i.sop_uid == sop_uid), entries[0])
    return pydicom.dcmread(orthanc.manifest.root / entry.path)


def reading(orthanc: LoadedOrthanc, key: str) -> Reading:
    ds = study_file(orthanc, key)
    return Reading(person_name(ds.PatientName), date_text(ds.StudyDate), date_iso(ds.StudyDate),
                   time_text(ds.StudyTime), time_iso(ds.StudyTime))


async def list_row(app: App, orthanc: LoadedOrthanc, key: str) -> Any:
    """The study's row in the list, filtered by its patient ID."""
    study = orthanc.manifest.study(key)
    await app.navigate(f"?mrn={study.patient_id}")
    row = app.page.locator(f"tr.study[data-study-instance-uid='{study.study_uid}']")
    await row.wait_for(timeout=60_000)
    return row


async def open_study(app: App, orthanc: LoadedOrthanc, key: str) -> tuple[Any, Any]:
    """The viewer on the study, its first image drawn: the panel's header of the study and
    the first viewport."""
    uid = orthanc.manifest.study(key).study_uid
    await open_viewer(app, viewer_url(uid))
    await app.page.wait_for_selector(f"{viewport(0)}:not(.failed) canvas[data-image-index='0']",
                                     state="attached", timeout=60_000)
    return (app.page.locator(f".study[data-study-instance-uid='{uid}'] > .study-header"),
            app.page.locator(viewport(0)))


async def shown_dataset(orthanc: LoadedOrthanc, key: str, shown: Any) -> pydicom.Dataset:
    """The file of the image the viewport shows (its canvas names the SOP instance)."""
    return study_file(orthanc, key, await shown.locator("canvas").get_attribute("data-sop-instance-uid"))


async def open_preferences(app: App) -> None:
    """The preferences dialog, as the toolbar's button opens it."""
    await app.page.evaluate("""async () => {
        const { openPreferencesDialog } = await import(new URL('preferences_dialog.js', document.baseURI));
        openPreferencesDialog();
    }""")
    await app.page.wait_for_selector(".preferences-dialog[open]")


async def overlay_value(shown: Any, item_id: str) -> str:
    """The value an overlay item shows (its label aside)."""
    return await shown.locator(f".overlay [data-item-id='{item_id}'] .overlay-value").text_content()


async def corner_items(shown: Any) -> dict[str, list[list[str]]]:
    """Each corner's items on screen (display not none): [id, text], top to bottom."""
    return await shown.evaluate("""v => Object.fromEntries([...v.querySelectorAll('.overlay[data-corner]')]
        .map(c => [c.dataset.corner, [...c.children]
            .filter(i => getComputedStyle(i).display !== 'none')
            .map(i => [i.dataset.itemId, i.textContent])]))""")


def ids_of(corners: dict[str, list[list[str]]]) -> dict[str, list[str]]:
    """Each corner's item ids, from :func:`corner_items`."""
    return {corner: [item_id for item_id, _ in items] for corner, items in corners.items()}


# ---------------------------------------------------------------- names and dates


@pytest.mark.parametrize("key", list(NAMES))
async def test_names_and_dates_read_alike_in_the_list_the_panel_and_the_overlay(
        app: App, orthanc: LoadedOrthanc, key: str) -> None:
    want = reading(orthanc, key)
    row = await list_row(app, orthanc, key)
    cells = await row.locator("td").all_text_contents()
    assert cells[0] == want.name
    assert cells[2] == f"{want.date} {want.time}"
    assert await row.locator("td").first.get_attribute("title") == want.name  # a cut name whole
    assert await row.locator("time").get_attribute("datetime") == f"{want.date_iso}T{want.time_iso}"

    header, shown = await open_study(app, orthanc, key)
    assert await header.locator(".study-patient").text_content() == want.name
    assert await header.locator(".study-date").text_content() == want.date
    assert await header.locator(".study-date time").get_attribute("datetime") == want.date_iso

    assert await overlay_value(shown, "PatientName") == want.name
    assert await overlay_value(shown, "StudyDate") == want.date
    date = shown.locator(".overlay [data-item-id='StudyDate'] time")
    assert await date.get_attribute("datetime") == want.date_iso


async def test_dicom_strings_stay_text_in_the_overlay(app: App, orthanc: LoadedOrthanc) -> None:
    _, shown = await open_study(app, orthanc, "xss")
    ds = study_file(orthanc, "xss")
    assert await overlay_value(shown, "PatientName") == person_name(ds.PatientName)
    assert await overlay_value(shown, "StudyDescription") == ds.StudyDescription
    assert await app.page.locator(".overlay img, .overlay script").count() == 0


# ---------------------------------------------------------------- the overlay


async def test_default_corners_and_the_compact_mode_from_the_preferences(
        app: App, orthanc: LoadedOrthanc) -> None:
    _, shown = await open_study(app, orthanc, "ct")
    corners = await corner_items(shown)
    ids = ids_of(corners)
    assert ids == {"topLeft": ["PatientName", "PatientID", "StudyDate", "StudyDescription"],
                   "topRight": ["SeriesDescription", "SeriesNumber", "Modality"],
                   "bottomLeft": ["InstanceNumber"],
                   "bottomRight": ["WindowLevel", "ZoomLevel"]}
    images = len(orthanc.manifest.study("ct").instances)
    instance = (await shown_dataset(orthanc, "ct", shown)).InstanceNumber
    assert corners["bottomLeft"] == [["InstanceNumber", f"Im: 1/{images} · Instance {instance}"]]
    size = await shown.locator(".overlay.top-left").evaluate("c => parseFloat(getComputedStyle(c).fontSize)")

    # The preferences dialog's checkbox: one line a corner (the first), smaller type; saved.
    await open_preferences(app)
    compact = app.page.get_by_label("Compact: one line a corner, smaller text")
    await compact.check()
    await app.page.keyboard.press("Escape")
    await app.page.wait_for_selector(".preferences-dialog", state="detached")
    assert await shown.evaluate("v => v.classList.contains('overlay-compact')")
    assert ids_of(await corner_items(shown)) == {corner: items[:1] for corner, items in ids.items()}
    assert await shown.locator(".overlay.top-left").evaluate(
        "c => parseFloat(getComputedStyle(c).fontSize)") < size
    assert await app.page.evaluate(
        "JSON.parse(localStorage.getItem('ohifpy:preferences')).values.overlayCompact") is True

    # Off again from the dialog: every item back.
    await open_preferences(app)
    await compact.uncheck()
    await app.page.keyboard.press("Escape")
    assert ids_of(await corner_items(shown)) == ids
