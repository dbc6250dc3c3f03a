"""Browser fixtures: one Debian Chromium per session, real builds served by ``ohifpy serve``.

Two dists are built per session: one for the Orthanc tests (config
``config/local-orthanc.json``, served at ``/`` with ``--proxy /dicom-web=<Orthanc>``)
and one with the default config and its static demo tree, served from the subpath
``/viewer-app/``; a third, a site's config for the same Orthanc (:data:`SITE_CONFIG`),
when a module asks for it. Pyodide takes seconds to start in a page, so the tests reuse
a page and move through the app with its own in-app navigation (``history.pushState``),
as a user clicking links does.

The tests use Playwright's async API on the session's event loop (pytest-asyncio):
its sync API would keep a loop running in the test thread for the whole session.

Every browser context records the URL of each request it makes; when the context
closes, a request to any host but 127.0.0.1 fails the test that used it (Chromium also
runs with ``--host-resolver-rules`` that make every other host unresolvable).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import numpy as np
import pytest
from conftest import ROOT, LoadedOrthanc, build_static_site
from playwright.async_api import async_playwright
from support.csp import ReportRecorder  # a missing Playwright fails, never skips

from ohifpy.cli import render_image
from ohifpy.config import DicomWebSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.imaging import VOIWindow
from ohifpy.model import DisplaySet, Instance, display_sets_from_instances
from ohifpy.serve import start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
SUBPATH = "/viewer-app/"
BOOT_TIMEOUT_MS = 90_000  # Pyodide's first start in a fresh profile on a slow machine
MARKS = ("ohifpy:runtime-ready", "ohifpy:first-image", "ohifpy:series-loaded")

SITE_MR_PROTOCOL = {
    "id": "site-mr-t2-t1",
    "name": "MR T2 T1",
    "protocolMatchingRules": [{"attribute": "ModalitiesInStudy", "required": True, "weight": 10,
                               "constraint": {"contains": {"value": "MR"}}}],
    "displaySetSelectors": {
        "t2": {"seriesMatchingRules": [{"attribute": "SeriesDescription", "required": True,
                                        "constraint": {"containsI": {"value": "t2"}}}]},
        "t1": {"seriesMatchingRules": [{"attribute": "SeriesDescription", "required": True,
                                        "constraint": {"containsI": {"value": "t1"}}}]},
    },
    "stages": [
        {"id": "side-by-side", "name": "T2 | T1",
         "viewportStructure": {"layoutType": "grid", "properties": {"rows": 1, "columns": 2}},
         "viewports": [
             {"displaySets": [{"id": "t2"}]},
             {"displaySets": [{"id": "t1", "options": {
                 "voi": {"windowCenter": 500, "windowWidth": 1000}}}]},
         ]},
        {"id": "t2-large", "name": "T2 large",
         "viewportStructure": {"layoutType": "grid", "properties": {
             "rows": 1, "columns": 2, "layoutOptions": [
                 {"x": 0, "y": 0, "width": 0.7, "height": 1},
                 {"x": 0.7, "y": 0, "width": 0.3, "height": 1}]}},
         "viewports": [
             {"displaySets": [{"id": "t2", "options": {"voiInverted": True}}]},
             {"displaySets": [{"id": "t1"}]},
         ]},
    ],
}
"""A site's protocol for MR studies, as a config's ``hangingProtocols`` holds it."""

SITE_OVERLAY = [
    {"viewportOverlay.topLeft": {"$splice": [[1, 1]]}},  # no PatientID
    {"viewportOverlay.topRight": {"$push": [
        {"id": "SliceLocation", "inheritsFrom": "ohif.overlayItem", "attribute": "SliceLocation",
         "label": "Loc:", "title": "Slice location"}]}},
    {"viewportOverlay.bottomLeft": {"$splice": [[0, 0, {
        "id": "WindowLevel", "inheritsFrom": "ohif.overlayItem.windowLevel"}]]}},
    {"viewportOverlay.bottomRight": {"$set": [
        {"id": "ZoomLevel", "inheritsFrom": "ohif.overlayItem.zoomLevel", "label": "Z:"},
        {"id": "StudyTime", "inheritsFrom": "ohif.overlayItem", "attribute": "StudyTime",
         "title": "Study time"}]}},
]
"""A site's viewport overlay, in OHIF's ``customizationService`` shape: each command once."""

SITE_CONFIG = {"hangingProtocols": [SITE_MR_PROTOCOL], "dateFormat": "locale",
               "customizationService": SITE_OVERLAY}
"""What a site adds to ``config/local-orthanc.json``: its MR protocol, dates in the
browser's locale, its overlay."""


# ---------------------------------------------------------------- the site


class ServedSite:
    """``ohifpy serve`` for one dist, on its own asyncio loop in a thread; restartable.

    The port stays the same across stop/start, so a page's origin (and its service
    worker) survives a restart.
    """

    def __init__(self, dist: Path, base_path: str = "/", proxy: dict[str, str] | None = None,
                 *, cross_origin_isolated: bool = False):
        self.dist, self.base_path, self.proxy = dist, base_path, proxy or {}
        self.cross_origin_isolated = cross_origin_isolated
        self.port = 0
        self._stop: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def start(self) -> ServedSite:
        started = threading.Event()

        async def serve() -> None:
            server = await start_server(
                self.dist, port=self.port, proxy=self.proxy, base_path=self.base_path,
                cross_origin_isolated=self.cross_origin_isolated,
            )
            self.port = server.sockets[0].getsockname()[1]
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            self._stop = lambda: loop.call_soon_threadsafe(stop.set)
            started.set()
            await stop.wait()
            server.close()
            await server.wait_closed()  # the port is free again for a restart

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True,
                                        name=f"serve {self.dist}")
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError(f"ohifpy serve did not start for {self.dist}")
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stop is None or self._thread is None:
            return
        self._stop()
        self._thread.join(30)
        self._stop = self._thread = None


def _build(out: Path, *args: str) -> Path:
    proc = build_static_site("--out", str(out), *args)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out


@pytest.fixture(scope="session")
def orthanc_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The viewer configured for a DICOMweb server at the same origin's /dicom-web."""
    return _build(
        tmp_path_factory.mktemp("browser") / "dist",
        "--config", str(ROOT / "config" / "local-orthanc.json"),
        "--no-demo",
    )


@pytest.fixture(scope="session")
def demo_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default build (demo data source and its static tree) for a subpath."""
    return _build(tmp_path_factory.mktemp("browser-demo") / "dist", "--base-path", SUBPATH)


@pytest.fixture(scope="session")
def site_config_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Orthanc build with :data:`SITE_CONFIG` in its config."""
    folder = tmp_path_factory.mktemp("browser-site-config")
    config = json.loads((ROOT / "config" / "local-orthanc.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **SITE_CONFIG}))
    return _build(folder / "dist", "--config", str(folder / "config.json"), "--no-demo")


@pytest.fixture(scope="session")
def site_config_site(site_config_dist: Path, orthanc: LoadedOrthanc) -> Iterator[ServedSite]:
    with ServedSite(site_config_dist, proxy={"/dicom-web": orthanc.dicomweb_root}) as served:
        yield served


@pytest.fixture(scope="session")
def site(orthanc_dist: Path, orthanc: LoadedOrthanc) -> Iterator[ServedSite]:
    served = ServedSite(orthanc_dist, proxy={"/dicom-web": orthanc.dicomweb_root}).start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def demo_site(demo_dist: Path) -> Iterator[ServedSite]:
    served = ServedSite(demo_dist, base_path=SUBPATH).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def reports() -> Iterator[ReportRecorder]:
    """Where a module's pages send their Content-Security-Policy violation reports."""
    with ReportRecorder() as recorder:
        yield recorder


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (never playwright install)",
                    pytrace=False)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class RecordedContext:
    """A browser context and every URL it requested."""

    context: Any
    requests: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests
                if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(url).hostname != "127.0.0.1"]


async def _open_context(browser: Any, **options: Any) -> RecordedContext:
    context = await browser.new_context(viewport={"width": 1200, "height": 800}, **options)
    recorded = RecordedContext(context)
    context.on("request", lambda request: recorded.requests.append(request.url))
    return recorded


async def _close_context(recorded: RecordedContext) -> None:
    await recorded.context.close()
    foreign = recorded.foreign_requests()
    assert not foreign, f"requests left 127.0.0.1: {foreign[:10]}"


@pytest.fixture
async def new_context(browser: Any) -> AsyncIterator[Callable[[], Awaitable[RecordedContext]]]:
    """Fresh contexts (own cache, own service workers) for one test."""
    opened: list[RecordedContext] = []

    async def make() -> RecordedContext:
        opened.append(await _open_context(browser))
        return opened[-1]

    yield make
    for recorded in opened:
        await _close_context(recorded)


@asynccontextmanager
async def started_app(browser: Any, site: ServedSite) -> AsyncIterator[App]:
    """A page of its own context with the app started at the site's root."""
    recorded = await _open_context(browser)
    app = App(await recorded.context.new_page(), site)
    await app.page.goto(site.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    yield app
    await _close_context(recorded)


@pytest.fixture(scope="module")
async def app(browser: Any, site: ServedSite) -> AsyncIterator[App]:
    """One page with the app started, shared by a module's tests."""
    async with started_app(browser, site) as started:
        yield started


# ---------------------------------------------------------------- driving the app


class App:
    """What a test does with the app in a page: navigate, wait, look at the viewport."""

    CANVAS = ".viewport canvas"

    def __init__(self, page: Any, site: ServedSite) -> None:
        self.page, self.site = page, site

    async def wait_for_mark(self, name: str, timeout: float = BOOT_TIMEOUT_MS) -> float:
        await self.page.wait_for_function(
            "name => performance.getEntriesByName(name, 'mark').length > 0", arg=name,
            timeout=timeout)
        return await self.page.evaluate(
            "name => performance.getEntriesByName(name, 'mark')[0].startTime", name)

    async def navigate(self, relative: str) -> None:
        """Go to a route inside the running app (no reload), as an in-app link does."""
        await self.page.evaluate(
            "url => { history.pushState(null, '', url); dispatchEvent(new PopStateEvent('popstate')); }",
            self.site.url + relative)

    async def open_study(self, study_uid: str) -> None:
        await self.navigate(f"viewer?StudyInstanceUIDs={study_uid}")
        await self.page.wait_for_selector(".study-browser .series-entry", state="attached", timeout=60_000)

    async def toolbar_control(self, selector: str) -> Any:
        """The toolbar's control ``.toolbar <selector>`` where a user can press it.

        The one shown on the bar (a split button's primary part), else the first in DOM
        order with the popups holding it (the "More" panel, a split button's menu) opened
        by clicks on their buttons, outermost first, as a user does.
        """
        controls = self.page.locator(f".toolbar {selector}")
        await controls.first.wait_for(state="attached")
        for index in range(await controls.count()):
            if await controls.nth(index).is_visible():
                return controls.nth(index)
        control = controls.first
        popups = await control.evaluate("""node => {
            const ids = [];
            for (let p = node.closest('.popup'); p; p = p.parentElement.closest('.popup')) ids.unshift(p.id);
            return ids;
        }""")
        for popup in popups:
            if not await self.page.locator(f"#{popup}").is_visible():
                await self.page.click(f"[aria-controls='{popup}']")
        return control

    async def show_display_set(self, display_set_uid: str) -> None:
        """Click the series panel's entry: it shows in the active viewport."""
        await self.page.click(f".series-entry[data-display-set-uid='{display_set_uid}']")

    async def wait_for_image(self, index: int, sop_uid: str | None = None,
                             display_set_uid: str | None = None) -> None:
        """Until the canvas shows image ``index`` (of that SOP instance / display set)."""
        selector = f".viewport:not(.failed) canvas[data-image-index='{index}']"
        if sop_uid:
            selector += f"[data-sop-instance-uid='{sop_uid}']"
        if display_set_uid:
            selector += f"[data-display-set-uid='{display_set_uid}']"
        await self.page.wait_for_selector(selector, state="attached", timeout=60_000)

    async def go_to_image(self, index: int) -> None:
        """From image 0, step with the arrow key, as a user would."""
        await self.page.focus(".viewport")
        for _ in range(index):
            await self.page.keyboard.press("ArrowDown")

    async def canvas(self) -> dict[str, str]:
        return await self.page.eval_on_selector(self.CANVAS, "c => ({...c.dataset})")

    async def pixels(self) -> np.ndarray:
        """The viewport canvas as ``(rows, columns, 4)`` RGBA, read back from the canvas."""
        width, height, encoded = await self.page.eval_on_selector(
            self.CANVAS,
            """c => {
                const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let text = '';
                for (let i = 0; i < data.length; i += 0x8000) {
                    text += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
                }
                return [c.width, c.height, btoa(text)];
            }""")
        return np.frombuffer(base64.b64decode(encoded), np.uint8).reshape(height, width, 4)

    async def settle(self) -> None:
        """Let pending renders land (two animation frames)."""
        await self.page.wait_for_timeout(50)
        await self.page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


# ---------------------------------------------------------------- CPython references


async def cpython_render(source: DicomWebSource, study: str, series: str | None = None,
                         sop: str | None = None, window: VOIWindow | None = None) -> np.ndarray:
    """``ohifpy render`` of the same image: the CPython pipeline, same server."""
    async with DICOMwebDataSource(source) as client:
        rgba, _, _ = await render_image(client, study, series, sop, None, window)
    return rgba


async def cpython_display_sets(source: DicomWebSource, study: str) -> list[DisplaySet]:
    """The study's display sets as the model orders them (the worker runs the same code)."""
    async with DICOMwebClient(source) as client:
        metadata = await client.retrieve_study_metadata(study)
    return display_sets_from_instances(Instance.from_dataset(ds) for ds in metadata)


@pytest.fixture
async def page_errors_fail(app: App) -> AsyncIterator[None]:
    """The test also fails on an uncaught exception in the app's page (use it with
    ``pytest.mark.usefixtures``)."""
    errors: list[str] = []

    def listener(error: Any) -> None:
        errors.append(str(error))

    app.page.on("pageerror", listener)
    yield
    app.page.remove_listener("pageerror", listener)
    assert not errors, errors


async def eventually(check: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    """Run ``check`` until it passes (what the page shows fills in as series load)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await check()
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.25)
