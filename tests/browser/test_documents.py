"""SR documents, an encapsulated PDF and a video in the viewer, from the real Orthanc.

The documents study (:mod:`ohifpy.synthetic_documents`): a Basic Text SR, a Comprehensive
SR (with a TEXT item that is markup), a one-page PDF and a 3 s H.264 clip. What a person
sees: the series panel labels them; an SR's text with its values and units, the markup as
text; its image references showing the CT slice when the CT is open, disabled when not;
the browser's PDF viewer showing the page, and the Download button giving the PDF's
bytes; the video playing and stepping a frame at a time. Then the same under the deploy
recipe's Content-Security-Policy, with no violation.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import LoadedOrthanc
from PIL import Image
from support.csp import LISTENER, ReportRecorder, assert_no_violations

from ohifpy.config import DicomWebSource
from ohifpy.sr_document import sr_document
from ohifpy.synthetic_documents import HOSTILE_TEXT, NODULE_HU, NODULE_LENGTH_MM, VIDEO_RATE

from .conftest import App, cpython_display_sets
from .test_deploy_nginx import Deployment, deploy

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"  # Chromium's own
PDF_TITLE = "ohifpy test report"
FRAME_S = 1 / VIDEO_RATE


@pytest.fixture(scope="module")
def documents(orthanc: LoadedOrthanc) -> Any:
    return orthanc.manifest.study("documents")


def instance_path(orthanc: LoadedOrthanc, study: Any,
                  description: str) -> Path:
    (series,) = [s for s in study.series if s.description == description]
    return orthanc.manifest.root / series.instances[0].path


def display_set_of(infos: list[Any], description: str) -> str:
    (found,) = [d.display_set_uid for d in infos if d.series_description == description]
    return found


async def open_studies(app: App, *study_uids: str) -> None:
    await app.navigate(f"viewer?StudyInstanceUIDs={','.join(study_uids)}")
    await app.page.wait_for_selector(".study-browser .series-entry", state="attached",
                                     timeout=60_000)


async def show(app: App, display_set_uid: str, kind: str) -> str:
    """Click the series entry (shown in the active viewport) until its view is ready;
    returns the view's selector."""
    await app.show_display_set(display_set_uid)
    view = f".document-view[data-kind='{kind}'][data-display-set-uid='{display_set_uid}']"
    await app.page.wait_for_selector(f"{view}[data-state='ready']", timeout=60_000)
    return view


async def pdf_viewer_frame(app: App, view: str) -> Any:
    """Chromium's PDF viewer inside the view's <iframe>, once it has opened the document."""
    src = await app.page.get_attribute(f"{view} iframe.pdf-frame", "src")
    assert src and src.startswith("blob:")
    for _ in range(200):
        for frame in app.page.frames:
            parent = frame.parent_frame
            if (frame.url.startswith(PDF_VIEWER) and parent is not None and parent.url == src
                    and await frame.evaluate("() => document.title") == PDF_TITLE):
                return frame
        await app.page.wait_for_timeout(100)
    raise AssertionError(f"no PDF viewer opened {src}: frames {[f.url for f in app.page.frames]}")


async def assert_pdf_page_shown(app: App, view: str) -> None:
    """The PDF viewer has the document open and a page is painted: a white sheet with
    dark text on it, in the iframe as the page shows it."""
    await pdf_viewer_frame(app, view)
    frame = app.page.locator(f"{view} iframe.pdf-frame")
    for _ in range(50):
        shot = np.asarray(Image.open(io.BytesIO(await frame.screenshot())).convert("L"))
        white = shot >= 250
        rows, columns = np.nonzero(white)
        if white.mean() > 0.05:
            sheet = shot[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
            if (sheet < 100).mean() > 0.001:  # the text and the frame drawn on the page
                return
        await app.page.wait_for_timeout(200)
    raise AssertionError(f"no page painted: {white.mean():.1%} of the frame is white")


def pdf_bytes(path: Path) -> bytes:
    ds = pydicom.dcmread(path)
    return bytes(ds.EncapsulatedDocument[:int(ds.EncapsulatedDocumentLength)])


# ---------------------------------------------------------------- the series panel


@pytest.mark.usefixtures("page_errors_fail")
async def test_series_panel_labels_what_has_no_image(
        app: App, documents: Any) -> None:
    await open_studies(app, documents.study_uid)
    entries = app.page.locator(".series-entry")
    await entries.first.wait_for()
    labels = await entries.evaluate_all("""entries => entries.map(e => ({
        kind: e.dataset.kind,
        label: e.querySelector('.thumbnail-label')?.textContent,
        modality: e.querySelector('.thumbnail-modality')?.textContent ?? '',
        canvas: e.querySelector('canvas') !== null,
        count: e.querySelector('.image-count').textContent,
        mpr: e.querySelector('.series-mpr') !== null }))""")
    assert labels == [
        {"kind": "sr", "label": "SR", "modality": "", "canvas": False, "count": "document", "mpr": False},
        {"kind": "sr", "label": "SR", "modality": "", "canvas": False, "count": "document", "mpr": False},
        {"kind": "pdf", "label": "PDF", "modality": "DOC", "canvas": False, "count": "document", "mpr": False},
        {"kind": "video", "label": "Video", "modality": "ES", "canvas": False, "count": "75 frames", "mpr": False},
    ]


# ---------------------------------------------------------------- SR


@pytest.mark.usefixtures("page_errors_fail")
async def test_sr_text_values_and_hostile_text(
        app: App, orthanc: LoadedOrthanc, documents: Any,
        dicomweb_source: DicomWebSource) -> None:
    dialogs: list[str] = []
    app.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    infos = await cpython_display_sets(dicomweb_source, documents.study_uid)
    await open_studies(app, documents.study_uid)
    view = await show(app, display_set_of(infos, "Comprehensive SR findings"), "sr")

    header = await app.page.inner_text(f"{view} .sr-header")
    for text in ("Diagnostic Imaging Report", "Comprehensive SR", "PARTIAL", "UNVERIFIED",
                 "Reader^Rita"):
        assert text in header
    items = await app.page.eval_on_selector_all(
        f"{view} .sr-line",
        "lines => lines.map(l => [l.querySelector('.sr-concept')?.textContent ?? '',"
        " l.querySelector('.sr-value')?.textContent ?? ''])")
    assert ["Length", f"{NODULE_LENGTH_MM} mm"] in items
    assert ["Attenuation Coefficient", f"{NODULE_HU} Hounsfield unit"] in items
    assert ["Finding Site", "Lung"] in items
    # The markup is a value's text, and nothing was made of it.
    assert ["Finding", HOSTILE_TEXT] in items
    assert await app.page.locator(f"{view} img, {view} [onerror]").count() == 0
    assert await app.page.locator("img[src='x']").count() == 0

    # The CT it refers to is not open: its references say so and do nothing.
    references = app.page.locator(f"{view} button.sr-reference")
    assert await references.count() == 3
    for i in range(3):
        assert await references.nth(i).is_disabled()
        assert "not in the studies open in the viewer" in (
            await references.nth(i).get_attribute("title"))
    await app.page.wait_for_timeout(300)
    assert dialogs == []

    # The image tools do nothing on it, and nothing throws.
    await app.page.click(view)
    for key in ("i", "r", "h", "1", "ArrowDown", "ArrowUp", "Space", "End", "c"):
        await app.page.keyboard.press(key)
    assert await app.page.locator(".toolbar button[data-tool='WindowLevel']").is_disabled()
    box = await app.page.locator(view).bounding_box()
    await app.page.mouse.move(box["x"] + 50, box["y"] + box["height"] / 2)
    await app.page.mouse.down(button="right")
    await app.page.mouse.move(box["x"] + 90, box["y"] + box["height"] / 2 + 40, steps=4)
    await app.page.mouse.up(button="right")
    assert await app.page.locator(f"{view} .sr-line").count() == len(items)
    assert await app.page.locator(".viewport.showing-document .measurement").count() == 0


@pytest.mark.usefixtures("page_errors_fail")
async def test_sr_image_reference_shows_the_ct_slice(
        app: App, orthanc: LoadedOrthanc, documents: Any,
        dicomweb_source: DicomWebSource) -> None:
    ct = orthanc.manifest.study("ct")
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    order = [image.instance.sop_instance_uid for image in stack.images]
    report = sr_document(pydicom.dcmread(
        instance_path(orthanc, documents, "Comprehensive SR findings")))
    findings = report["root"]["children"][3]["children"]
    best = findings[2]["references"][0]["sopInstanceUID"]  # "Best illustration of finding"
    source = findings[0]["children"][3]["references"][0]["sopInstanceUID"]  # of measurement
    assert best != source

    infos = await cpython_display_sets(dicomweb_source, documents.study_uid)
    await open_studies(app, documents.study_uid, ct.study_uid)  # side by side
    ct_canvas = f"canvas[data-display-set-uid='{stack.display_set_uid}']"
    await app.page.wait_for_selector(f".viewport {ct_canvas}[data-image-index='0']", state="attached",
                                     timeout=60_000)
    await app.page.click(".viewport.showing-document")  # the documents' viewport: active
    view = await show(app, display_set_of(infos, "Comprehensive SR findings"), "sr")
    for sop in (best, source):
        button = app.page.locator(f"{view} button.sr-reference[data-sop-instance-uid='{sop}']")
        assert await button.count() >= 1
        assert await button.first.is_enabled()
        await button.first.click()
        index = order.index(sop)
        await app.page.wait_for_selector(
            f".viewport:not(.failed) {ct_canvas}[data-image-index='{index}']"
            f"[data-sop-instance-uid='{sop}']", state="attached", timeout=60_000)
        # The CT viewport showed it; the report stays where it was.
        assert await app.page.locator(view).count() == 1
    assert await app.page.locator(".viewport[data-active='true'] canvas").get_attribute(
        "data-display-set-uid") == stack.display_set_uid


# ---------------------------------------------------------------- PDF


@pytest.mark.usefixtures("page_errors_fail")
async def test_pdf_shows_a_page_and_downloads(
        app: App, orthanc: LoadedOrthanc, documents: Any,
        dicomweb_source: DicomWebSource) -> None:
    expected = pdf_bytes(instance_path(orthanc, documents, "Encapsulated PDF report"))
    infos = await cpython_display_sets(dicomweb_source, documents.study_uid)
    await open_studies(app, documents.study_uid)
    view = await show(app, display_set_of(infos, "Encapsulated PDF report"), "pdf")
    await assert_pdf_page_shown(app, view)
    src = await app.page.get_attribute(f"{view} iframe.pdf-frame", "src")
    blob = await app.page.evaluate(
        "url => fetch(url).then(r => r.blob()).then(b => [b.type, b.size])", src)
    assert blob == ["application/pdf", len(expected)]

    async with app.page.expect_download() as download:
        await app.page.click(f"{view} button.document-download")
    saved = await download.value
    assert saved.suggested_filename == f"{PDF_TITLE}.pdf"
    assert Path(await saved.path()).read_bytes() == expected

    # Another series in that viewport: the PDF's Blob URL is let go.
    await show(app, display_set_of(infos, "Basic Text SR report"), "sr")
    assert await app.page.locator(".pdf-frame").count() == 0
    gone = await app.page.evaluate("url => fetch(url).then(() => 'kept', () => 'revoked')", src)
    assert gone == "revoked"


# ---------------------------------------------------------------- video


async def video_state(app: App, view: str) -> dict[str, Any]:
    return await app.page.eval_on_selector(
        f"{view} video",
        "v => ({time: v.currentTime, paused: v.paused, ready: v.readyState, duration: v.duration})")


async def wait_for_time(app: App, view: str, expected: float) -> float:
    """Until the video has sought to ``expected`` s (Chromium keeps times in microseconds)."""
    for _ in range(100):
        state = await video_state(app, view)
        if abs(state["time"] - expected) < 1e-5 and state["ready"] >= 2:
            return state["time"]
        await app.page.wait_for_timeout(50)
    raise AssertionError(f"the video is at {state['time']} s, not {expected} s")


@pytest.mark.usefixtures("page_errors_fail")
async def test_video_plays_and_steps_frames(
        app: App, documents: Any,
        dicomweb_source: DicomWebSource) -> None:
    infos = await cpython_display_sets(dicomweb_source, documents.study_uid)
    await open_studies(app, documents.study_uid)
    view = await show(app, display_set_of(infos, "Endoscopy clip H.264"), "video")
    await app.page.wait_for_function(
        "s => document.querySelector(s)?.readyState >= 2", arg=f"{view} video", timeout=30_000)
    state = await video_state(app, view)
    assert state["paused"] and state["time"] == 0
    assert abs(state["duration"] - 3) < 0.1

    await app.page.click(f"{view} button.video-play")
    await app.page.wait_for_function(
        "s => document.querySelector(s).currentTime > 0.3", arg=f"{view} video", timeout=10_000)
    assert await app.page.get_attribute(f"{view} button.video-play", "aria-label") == "Pause"
    await app.page.click(f"{view} button.video-play")
    await app.page.wait_for_function("s => document.querySelector(s).paused", arg=f"{view} video")
    start = (await video_state(app, view))["time"]
    assert 0.3 < start < 3

    await app.page.click(f"{view} button.video-step-forward")
    now = await wait_for_time(app, view, start + FRAME_S)
    await app.page.click(f"{view} button.video-step-back")
    await wait_for_time(app, view, now - FRAME_S)
    # The viewport's previous / next image keys step too, and the time is shown.
    await app.page.keyboard.press("ArrowDown")
    await app.page.keyboard.press("ArrowDown")
    at = await wait_for_time(app, view, start + 2 * FRAME_S)
    await app.page.keyboard.press("ArrowUp")
    at = await wait_for_time(app, view, at - FRAME_S)
    frame = int(at / FRAME_S + 1e-6) + 1
    assert f"frame {frame}/75" in await app.page.inner_text(f"{view} .video-time")
    # The toolbar's cine button (and its key) plays and pauses it.
    await app.page.keyboard.press("c")
    await app.page.wait_for_function("s => !document.querySelector(s).paused", arg=f"{view} video")
    await app.page.keyboard.press("c")
    await app.page.wait_for_function("s => document.querySelector(s).paused", arg=f"{view} video")

    # Moving on stops it and lets its Blob go.
    src = await app.page.get_attribute(f"{view} video", "src")
    await show(app, display_set_of(infos, "Basic Text SR report"), "sr")
    gone = await app.page.evaluate("url => fetch(url).then(() => 'kept', () => 'revoked')", src)
    assert gone == "revoked"

    # A browser that cannot play it: the worker's note, and the bytes to download.
    await app.page.evaluate("""() => {
        window.__canPlayType = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = () => ''; }""")
    try:
        await app.show_display_set(display_set_of(infos, "Endoscopy clip H.264"))
        status = f"{view}[data-state='ready'] .document-status.error"
        await app.page.wait_for_selector(status, timeout=30_000)
        assert await app.page.inner_text(status) == "H.264 video: this browser cannot play it"
        assert await app.page.locator(f"{view} video").count() == 0
        assert await app.page.locator(f"{view} button.document-download").count() == 1
    finally:
        await app.page.evaluate(
            "() => { HTMLMediaElement.prototype.canPlayType = window.__canPlayType; }")


# ---------------------------------------------------------------- under the CSP


@pytest.fixture(scope="module")
def recipe(orthanc_dist: Path, orthanc: LoadedOrthanc, reports: ReportRecorder,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    site = deploy(tmp_path_factory.mktemp("documents-csp"), orthanc_dist, "/", orthanc, reports)
    yield site
    site.nginx.stop()


async def test_documents_under_the_recipes_csp(
        new_context: Any, recipe: Deployment, reports: ReportRecorder,
        documents: Any, dicomweb_source: DicomWebSource) -> None:
    recorded = await new_context()
    await recorded.context.add_init_script(LISTENER)
    app = App(await recorded.context.new_page(), recipe)  # type: ignore[arg-type]  # has .url
    await app.page.goto(recipe.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    infos = await cpython_display_sets(dicomweb_source, documents.study_uid)
    await open_studies(app, documents.study_uid)
    await show(app, display_set_of(infos, "Comprehensive SR findings"), "sr")
    view = await show(app, display_set_of(infos, "Encapsulated PDF report"), "pdf")
    await assert_pdf_page_shown(app, view)
    view = await show(app, display_set_of(infos, "Endoscopy clip H.264"), "video")
    await app.page.click(f"{view} button.video-play")
    await app.page.wait_for_function(
        "s => document.querySelector(s).currentTime > 0.2", arg=f"{view} video", timeout=10_000)
    await app.page.click(f"{view} button.video-play")
    await assert_no_violations(app.page, reports)
