"""A failing server, as the viewer in Chromium meets it: faults injected by a real proxy.

The build's data source points at :class:`~support.faults.FaultProxy` in front of the
session's Orthanc (another origin, CORS answered as ``deploy/cdn-cors`` does), with a
short ``timeout`` and few ``maxRetries`` so every fault resolves in seconds. Each test
switches one fault on for some requests (by path pattern and count) and checks what a
user sees: a clear message where it happened (the list, the study, one image), a bounded
number of requests, the rest of the app working, and the failed part working again, on
demand, once the server is back. One page serves the module; each test uses studies of
its own, so frames decoded by an earlier test (the cache outlives a study) hide nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, LoadedOrthanc
from support.faults import Fault, FaultProxy

from ohifpy.config import DicomWebSource
from ohifpy.thumbnail import thumbnail_index

from .conftest import App, ServedSite, cpython_display_sets, started_app

pytestmark = pytest.mark.cpython_only  # a browser, server threads, subprocess builds

TIMEOUT = 3  # seconds per request: a stall longer than this is a timeout
MAX_RETRIES = 2  # of 429/503/504 answers: a search is asked at most 3 times
UNTOLD = ("Traceback", "[object", "Expecting value", "b'", "<html", "<!DOCTYPE", "undefined")
"""What a message shown to a user must never hold: a stack trace, an unprinted JS object,
a JSON parser's complaint, Python bytes, markup."""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def proxy(orthanc: LoadedOrthanc) -> Iterator[FaultProxy]:
    with FaultProxy(orthanc.base_url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def faults_site(orthanc_dist: Path, proxy: FaultProxy,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSite]:
    """The Orthanc build, its config edited in place to ask the proxy (as a deployer would)."""
    config = json.loads((ROOT / "config" / "local-orthanc.json").read_text())
    root = proxy.url + "/dicom-web"
    config["dataSources"][0]["configuration"] |= {
        "qidoRoot": root, "wadoRoot": root, "stowRoot": root,
        "timeout": TIMEOUT, "maxRetries": MAX_RETRIES}
    dist = tmp_path_factory.mktemp("faults") / "dist"
    shutil.copytree(orthanc_dist, dist, symlinks=True)  # the server refuses links out of it
    (dist / "config" / "app-config.json").write_text(json.dumps(config))
    with ServedSite(dist) as site:
        yield site


@pytest.fixture(scope="module")
async def app(browser: Any, faults_site: ServedSite) -> AsyncIterator[App]:
    async with started_app(browser, faults_site) as started:
        yield started


@pytest.fixture(autouse=True)
async def no_page_errors(app: App, proxy: FaultProxy) -> AsyncIterator[None]:
    """Every test fails on an uncaught exception or a console error (a Python traceback
    is printed there); the server is whole again after each, whatever happened."""
    errors: list[str] = []

    def on_error(error: Any) -> None:
        errors.append(f"pageerror: {error}")

    def on_console(message: Any) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    app.page.on("pageerror", on_error)
    app.page.on("console", on_console)
    yield
    proxy.up()
    proxy.clear()
    app.page.remove_listener("pageerror", on_error)
    app.page.remove_listener("console", on_console)
    assert not errors, errors


# ---------------------------------------------------------------- helpers


def frames_of(series_uid: str) -> str:
    """The pattern of a series' frame requests."""
    return rf"/series/{re.escape(series_uid)}/instances/[^/]+/frames/"


def series_response_of(series_uid: str) -> str:
    """The pattern of a series' WADO-RS Retrieve Series request (its stack loading whole)."""
    return rf"/series/{re.escape(series_uid)}$"


def frame_of(sop_uid: str, number: int = 1) -> str:
    """The pattern of one frame's requests."""
    return rf"/instances/{re.escape(sop_uid)}/frames/{number}$"


def assert_told(message: str, *expected: str) -> None:
    """A message for a person: it says each of ``expected`` and nothing of :data:`UNTOLD`."""
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    for text in UNTOLD:
        assert text not in message, f"{text!r} in {message!r}"


def viewport(index: int) -> str:
    return f".viewport[data-viewport-index='{index}']"


async def press(app: App, key: str, at: int = 0, times: int = 1) -> None:
    await app.page.focus(viewport(at))
    for _ in range(times):
        await app.page.keyboard.press(key)


async def shown(app: App, index: int, at: int = 0, timeout: float = 30_000) -> None:
    """Until viewport ``at`` shows image ``index``."""
    await app.page.wait_for_selector(
        f"{viewport(at)}:not(.failed) canvas[data-image-index='{index}']", state="attached",
        timeout=timeout)


async def failed(app: App, index: int, at: int = 0) -> str:
    """Until viewport ``at`` says image ``index`` cannot be shown; what it says."""
    await app.page.wait_for_selector(
        f"{viewport(at)}.failed canvas[data-image-index='{index}']", state="attached",
        timeout=30_000)
    return await app.page.inner_text(f"{viewport(at)} .viewport-message")


async def progress(app: App, series_uid: str) -> str:
    """The series panel's progress of a series, once its load has ended."""
    selector = f".series-entry[data-series-uid='{series_uid}'] .series-progress"
    await app.page.wait_for_selector(f"{selector}[data-complete='true']", timeout=60_000)
    return await app.page.inner_text(selector)


async def study_note(app: App, study_uid: str) -> str:
    """What the viewer says when it opens a study: its error note, or "" once it shows."""
    await app.navigate(f"viewer?StudyInstanceUIDs={study_uid}")
    await app.page.wait_for_selector(".viewer .note.error, .viewport canvas[data-image-index]",
                                     state="attached", timeout=30_000)
    return await app.page.inner_text(".viewer .note")


async def list_error(app: App) -> str:
    state = app.page.locator("tbody tr.list-state.error")
    await state.wait_for(timeout=30_000)
    return await state.inner_text()


def asked(app: App, pattern: str) -> list[str]:
    """The URLs matching ``pattern`` the app requests from now on, as it made them: the
    proxy sees more where Chromium itself sends a request again on a new connection
    because a kept-alive one closed unanswered (a dropped connection)."""
    found = re.compile(pattern)
    urls: list[str] = []
    app.page.context.on("request", lambda r: urls.append(r.url) if found.search(r.url) else None)
    return urls


async def open_list(app: App) -> None:
    """The study list with no filters; it searches at once."""
    await app.navigate("")
    await app.page.wait_for_selector("tbody tr.study, tbody tr.list-state:not(.loading)",
                                     timeout=30_000)


# ---------------------------------------------------------------- the faults


async def test_a_series_response_cut_short_is_finished_frame_by_frame(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    """A JPEG-LS stack's series response (16 instances of 157 KB) breaks off after 800 KB:
    the instances read before the break are decoded (a browser drops what it had not handed
    over yet), the others fetched frame by frame, once each; every image shows and nobody
    is told of a failure."""
    study = orthanc.manifest.study("ct-jpeg-ls")
    (series,) = study.series
    proxy.inject(series_response_of(series.series_uid), Fault.reset(800_000))
    requested = asked(app, frames_of(series.series_uid))
    await app.navigate(f"viewer?StudyInstanceUIDs={study.study_uid}")
    await shown(app, 0)
    assert await progress(app, series.series_uid) == "loaded"
    assert len(proxy.requests(series_response_of(series.series_uid))) == 1
    assert 1 <= len(requested) == len(set(requested)) <= 16
    await press(app, "End")
    await shown(app, 15)
    await press(app, "ArrowUp", times=7)
    await shown(app, 8)


async def test_server_down_mid_series_then_back(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    """The 200-slice CT beside the MR; the server goes away after 40 CT frames (and never
    gives the CT's thumbnail frame). The CT's series response breaks off at once, so its
    stack loads frame by frame; the MR's comes whole."""
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    ct_series, mr_series = ct.series[0].series_uid, mr.series[0].series_uid
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    thumbnail_sop = stack.images[thumbnail_index(stack)].instance.sop_instance_uid
    proxy.inject(series_response_of(ct_series), Fault.drop())
    proxy.inject(frames_of(ct_series), Fault.drop(), skip=40)
    proxy.inject(frame_of(thumbnail_sop), Fault.drop())
    requested = asked(app, frames_of(ct_series))
    await app.navigate(f"viewer?StudyInstanceUIDs={ct.study_uid},{mr.study_uid}")
    await shown(app, 0, at=0)
    await shown(app, 0, at=1)
    assert re.fullmatch(r"200/200 \((\d+) failed\)", await progress(app, ct_series))
    assert await progress(app, mr_series) == "loaded"
    proxy.down()  # the whole server is gone now: connections refused

    await press(app, "End", at=0)  # a frame that never loaded: told, not waited for
    assert_told(await failed(app, 199, at=0), "Image 200 cannot be shown", "cannot reach")
    await press(app, "Home", at=0)  # loaded frames still show, window/level works
    await shown(app, 0, at=0)
    await press(app, "End", at=1)  # the other viewport goes on from its frames
    await shown(app, 23, at=1)
    await press(app, "ArrowUp", at=1, times=5)
    await shown(app, 18, at=1)

    ct_thumbnail = f".series-entry[data-series-uid='{ct_series}'] .thumbnail"
    await app.page.wait_for_selector(f"{ct_thumbnail}[data-state='failed']", state="attached")

    proxy.up()
    proxy.clear()
    await press(app, "End", at=0)  # scrolled back to, the failed frame is asked again
    await shown(app, 199, at=0)
    # The thumbnail that failed meanwhile comes too.
    await app.page.wait_for_selector(f"{ct_thumbnail}[data-state='ready'] canvas",
                                     state="attached", timeout=30_000)
    # ...and the server being back, the rest of the series loads.
    await app.page.wait_for_function(
        """uid => document.querySelector(`.series-entry[data-series-uid='${uid}'] .progress-text`)
                   ?.textContent === 'loaded'""", arg=ct_series, timeout=60_000)
    # Each frame asked by its series' load, then at most when shown and by the load
    # again: never over and over.
    counts = Counter(requested)
    assert len(counts) == 200
    assert max(counts.values()) <= 3, counts.most_common(3)


async def test_a_storm_of_503s_is_retried_a_bounded_number_of_times(
        app: App, proxy: FaultProxy) -> None:
    """The study list's search meets three 503s with Retry-After, then the storm ends;
    a study's series listing meets 503s without Retry-After until the server recovers."""
    storm = proxy.inject(r"/studies\?", Fault.answer(503, retry_after=1), times=MAX_RETRIES + 1)
    started = time.monotonic()
    await open_list(app)
    assert_told(await list_error(app), "The study list could not be loaded",
                "HTTP 503 Service Unavailable")
    assert storm.seen == MAX_RETRIES + 1  # asked once, retried twice, then told
    assert time.monotonic() - started >= MAX_RETRIES * 1.0  # Retry-After: 1 was honoured

    await app.page.get_by_role("button", name="Try again").click()  # the storm is over
    row = app.page.locator("tbody tr.study").first
    await row.wait_for(timeout=30_000)
    assert storm.seen == MAX_RETRIES + 2

    storm = proxy.inject(r"/series\?", Fault.answer(503))
    await row.click()
    note = app.page.locator("tr.series-panel .note.error")
    await note.wait_for(timeout=30_000)
    assert_told(await note.inner_text(), "The series could not be listed", "HTTP 503")
    assert storm.seen == MAX_RETRIES + 1
    proxy.clear()
    await row.click()  # collapsed
    await row.click()  # and listed again
    await app.page.locator("tr.series-panel table.series tbody tr").first.wait_for(
        timeout=30_000)


async def test_a_stalled_frame_times_out_and_the_others_load(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    """One frame's request is held for 30 s; the data source gives up after TIMEOUT.
    (The series response breaks off: the stack loads frame by frame.)"""
    study = orthanc.manifest.study("ct-implicit-le")
    (stack,) = await cpython_display_sets(dicomweb_source, study.study_uid)
    stalled = frame_of(stack.images[3].instance.sop_instance_uid)
    proxy.inject(series_response_of(study.series[0].series_uid), Fault.drop())
    proxy.inject(stalled, Fault.stall(30))
    assert await study_note(app, study.study_uid) == ""
    await shown(app, 0)
    await press(app, "ArrowDown", times=3)
    assert_told(await failed(app, 3), "Image 4 cannot be shown",
                f"timed out after {TIMEOUT} s")
    await press(app, "ArrowDown")
    await shown(app, 4)
    assert await progress(app, study.series[0].series_uid) == "16/16 (1 failed)"

    proxy.release()  # the server answers again
    await press(app, "ArrowUp")
    await shown(app, 3)
    assert len(proxy.requests(stalled)) <= 3  # the load's, the viewport's, once more


async def test_a_reset_in_the_middle_of_an_answer(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    """The connection closes inside one frame's multipart body, then inside a metadata
    answer: that image, that study says so; the other frames show."""
    cine = orthanc.manifest.study("xa-cine")
    sop = cine.instances[0].sop_uid
    # Frame 3 alone, or in a request for several (framesPerRequest): that one fails whole,
    # and its frames are asked alone.
    with_frame_3 = rf"/instances/{re.escape(sop)}/frames/([0-9,]*,)?3(,[0-9,]*)?$"
    proxy.inject(with_frame_3, Fault.reset(after_bytes=4096))
    assert await study_note(app, cine.study_uid) == ""
    await shown(app, 0)
    await press(app, "ArrowDown", times=2)
    assert_told(await failed(app, 2), "Image 3 cannot be shown", "broke off")
    await press(app, "ArrowDown")
    await shown(app, 3)
    assert len(proxy.requests(with_frame_3)) <= 3  # a broken answer is not retried

    other = orthanc.manifest.study("cr-mono1")
    proxy.inject(rf"/studies/{other.study_uid}/metadata", Fault.reset(after_bytes=200))
    assert_told(await study_note(app, other.study_uid), "This study cannot be opened",
                other.study_uid, "broke off")
    proxy.clear()
    await app.page.get_by_role("button", name="Try again").click()  # the same page again
    await shown(app, 0)
    assert await app.page.inner_text(".viewer .note") == ""


async def test_an_html_page_where_dicom_json_is_expected(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc) -> None:
    """A portal's page answered 200 to the study search; a proxy's 502 page to metadata."""
    proxy.inject(r"/studies\?", Fault.html(200, title="Sign in to the archive"), times=1)
    await open_list(app)
    assert_told(await list_error(app), "The study list could not be loaded", "text/html",
                "not DICOM JSON", "an HTML page", "Sign in to the archive")
    await app.page.get_by_role("button", name="Try again").click()
    await app.page.locator("tbody tr.study").first.wait_for(timeout=30_000)

    study = orthanc.manifest.study("palette")
    proxy.inject(r"/metadata$", Fault.html(502))
    assert_told(await study_note(app, study.study_uid), "This study cannot be opened",
                "HTTP 502 Bad Gateway", "an HTML page", "502 Bad Gateway")
    proxy.clear()
    assert await study_note(app, study.study_uid) == ""


async def test_a_wrong_content_type(
        app: App, proxy: FaultProxy, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    """Frames labelled ``application/octet-stream`` (their multipart body whole) or
    ``text/plain``: the image says which label; metadata labelled ``text/plain`` is still
    DICOM JSON and is read (static hosts label files by extension). (The series response
    breaks off: the stack loads frame by frame.)"""
    study = orthanc.manifest.study("ct-rle")
    (stack,) = await cpython_display_sets(dicomweb_source, study.study_uid)
    sops = [image.instance.sop_instance_uid for image in stack.images]
    proxy.inject(series_response_of(study.series[0].series_uid), Fault.drop())
    proxy.inject(frame_of(sops[1]), Fault.relabel("application/octet-stream"))
    proxy.inject(frame_of(sops[2]), Fault.relabel("text/plain"))
    proxy.inject(r"/metadata$", Fault.relabel("text/plain"))
    assert await study_note(app, study.study_uid) == ""
    await shown(app, 0)
    await press(app, "ArrowDown")
    assert_told(await failed(app, 1), "Image 2 cannot be shown", "application/octet-stream",
                "multipart")
    await press(app, "ArrowDown")
    assert_told(await failed(app, 2), "Image 3 cannot be shown", "text/plain")
    await press(app, "ArrowDown")
    await shown(app, 3)
    assert await progress(app, study.series[0].series_uid) == "16/16 (2 failed)"
