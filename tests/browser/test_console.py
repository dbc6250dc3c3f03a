"""The Python console in Chromium against the real Orthanc, typed into as a person would.

The toolbar's Python button opens the panel; cells are typed and run with Enter. A cell's
mean of ``viewer.image`` in a circle equals the Circle ROI drawn with the mouse (and
``ohifpy.measure`` in CPython), ``show(viewer.volume.max(axis=0))`` puts numpy's MIP
through the viewport's window on the canvas, tracebacks and hostile strings are text,
the viewport scrolls while a 5 s cell runs, and the console can reach neither another
origin nor code from text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource
from ohifpy.console import open_study
from ohifpy.measure import ImageGeometry, measure
from ohifpy.model import DisplaySet

from .conftest import App, ServedSite, cpython_display_sets, started_app
from .test_measurements_ui import AORTA, choose, drag, open_ct, rows

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

START_TIMEOUT = 120_000  # the console's own Pyodide starts on first use
CIRCLE_CELL = """\
m = viewer.measurements[-1]
(cx, cy), (ex, ey) = m.points[:2]
hu = viewer.image
rows, columns = np.ogrid[:hu.shape[0], :hu.shape[1]]
inside = (columns - cx) ** 2 + (rows - cy) ** 2 <= (ex - cx) ** 2 + (ey - cy) ** 2
print(m.tool, repr(float(hu[inside].mean())), repr(m['mean']))
print(m.points.tolist())"""


@pytest.fixture(scope="module")
async def ct_stack(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> DisplaySet:
    (stack,) = await cpython_display_sets(dicomweb_source, orthanc.manifest.study("ct").study_uid)
    return stack


async def open_console(app: App) -> None:
    if await app.page.get_attribute(".viewer", "data-console") != "open":
        await (await app.toolbar_control("[data-command='toggleConsole']")).click()
    await app.page.wait_for_selector(".console-panel .console-input", state="visible")
    await app.page.wait_for_function(
        "() => document.querySelector('.console-status').textContent !== 'Starting Python…'",
        timeout=START_TIMEOUT)


async def type_cell(app: App, code: str) -> None:
    """Type a cell (Shift+Enter between its lines) and run it with Enter."""
    box = app.page.locator(".console-input")
    await box.click()
    for n, line in enumerate(code.split("\n")):
        if n:
            await box.press("Shift+Enter")
        await box.type(line)
    await box.press("Enter")


async def run_cell(app: App, code: str) -> list[tuple[str, str]]:
    """Run a cell and wait for it to end; its output blocks as (stream, text)."""
    before = await app.page.locator(".console-output .console-cell").count()
    await type_cell(app, code)
    await app.page.wait_for_function(
        "n => document.querySelectorAll('.console-output .console-cell').length > n && "
        "document.querySelector('.console-panel').getAttribute('aria-busy') === 'false'",
        arg=before, timeout=START_TIMEOUT)
    return await app.page.evaluate(
        """n => {
            const nodes = [...document.querySelectorAll('.console-output > pre')];
            const cells = nodes.filter(p => p.classList.contains('console-cell'));
            const start = nodes.indexOf(cells[n]);
            return nodes.slice(start + 1).map(p => [p.dataset.stream, p.textContent]);
        }""", before)


def stdout(output: list[tuple[str, str]]) -> str:
    return "".join(text for stream, text in output if stream == "stdout")


def stderr(output: list[tuple[str, str]]) -> str:
    return "".join(text for stream, text in output if stream == "stderr")


async def test_the_mean_in_a_circle_is_the_circle_roi_mean(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet,
        dicomweb_source: DicomWebSource) -> None:
    s = await open_ct(app, orthanc, ct_stack)
    before = await app.page.locator(".measurement-row").count()
    await choose(app, "CircleROI")
    await drag(app, s.at(*AORTA), s.at(AORTA[0] + 12, AORTA[1]))
    await rows(app, before + 1)
    await open_console(app)
    output = await run_cell(app, CIRCLE_CELL)
    assert not stderr(output)
    first, second = stdout(output).splitlines()
    tool, ours, theirs = first.split()
    assert tool == "CircleROI" and float(ours) == pytest.approx(float(theirs), abs=1e-9)
    assert 230 < float(ours) < 270  # the aorta's 250 HU
    # And ohifpy.measure in CPython, on the same points of the same image.
    points = json.loads(second)  # the list the cell printed
    image = ct_stack.images[0]
    with open_study(dicomweb_source, image.instance.study_instance_uid, index=0) as study:
        values = np.asarray(study.viewer.image)
        circle = measure("CircleROI", points, ImageGeometry.from_image(image), values, "HU")
    assert circle.value("mean").value == pytest.approx(float(ours), abs=1e-9)


async def test_show_a_mip_puts_numpys_mip_through_the_window_on_the_canvas(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet,
        dicomweb_source: DicomWebSource) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_console(app)
    output = await run_cell(app, "mip = viewer.volume.max(axis=0)\nshow(mip, name='MIP')")
    assert not stderr(output), stderr(output)
    await app.page.wait_for_selector(".series-entry:has-text('MIP')", state="attached")
    await app.page.wait_for_function(
        """() => [...document.querySelectorAll('.series-entry')].some(e =>
               e.textContent.includes('MIP') &&
               e.dataset.displaySetUid === document.querySelector('.viewport canvas').dataset.displaySetUid)""",
        timeout=30_000)
    await app.settle()
    drawn = await app.pixels()
    with open_study(dicomweb_source, ct_stack.study_instance_uid) as study:
        expected = np.asarray(study.show(study.viewer.volume.max(axis=0)))
    assert drawn.shape[:2] == expected.shape
    assert np.array_equal(drawn[..., 0], expected)


async def test_errors_and_hostile_strings_are_text(app: App, orthanc: LoadedOrthanc,
                                                   ct_stack: DisplaySet) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_console(app)
    output = await run_cell(app, "def f(x):\n    return x / 0\nf(1)")
    assert "ZeroDivisionError: division by zero" in stderr(output)
    assert "return x / 0" in stderr(output)
    hostile = "<img src=x onerror=\"window.__pwned=1\">"
    output = await run_cell(app, f"print({hostile!r})")
    assert stdout(output) == hostile + "\n"
    assert await app.page.locator(".console-panel img").count() == 0
    assert await app.page.evaluate("() => window.__pwned") is None
    output = await run_cell(app, "print(1 +")
    assert "SyntaxError" in stderr(output)
    # The viewer goes on: the next cell runs.
    assert stdout(await run_cell(app, "6 * 7")) == "42\n"


async def test_the_viewport_scrolls_while_a_long_cell_runs(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_console(app)
    await type_cell(app, "import time\nend = time.time() + 5\nwhile time.time() < end:\n"
                         "    pass\nprint('done')")
    await app.page.wait_for_selector(".console-panel[aria-busy='true']")
    viewport = app.page.locator(".viewport").first
    box = await viewport.bounding_box()
    await app.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(10):
        await app.page.mouse.wheel(0, 120)
        await app.page.wait_for_timeout(50)
    await app.wait_for_image(10)  # drawn while the cell still runs
    assert await app.page.get_attribute(".console-panel", "aria-busy") == "true"
    await app.page.wait_for_selector(".console-panel[aria-busy='false']", timeout=30_000)
    assert "done" in await app.page.locator(".console-output").inner_text()


async def test_the_console_reaches_no_other_origin_and_compiles_no_text(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_console(app)
    output = await run_cell(app, "import js\njs.fetch('http://127.0.0.1:9/steal')")
    assert "may not fetch from http://127.0.0.1:9" in stderr(output)
    for code, said in [("js.eval('1 + 1')", "may not use eval"),
                       ("js.Function.new('return 1')", "may not compile code from text"),
                       ("js.WebSocket.new('ws://127.0.0.1:9')", "may not use WebSocket"),
                       ("js.XMLHttpRequest.new().open('GET', 'http://127.0.0.1:9/')",
                        "may not request http://127.0.0.1:9")]:
        assert said in stderr(await run_cell(app, code)), code
    # Nor does it hold the viewer's token or its worker: it has its own globals only.
    output = await run_cell(app, "print(hasattr(js, 'accessToken'), 'api' in dir(js))")
    assert stdout(output) == "False False\n"


async def test_history_completion_and_help(app: App, orthanc: LoadedOrthanc,
                                           ct_stack: DisplaySet) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_console(app)
    await run_cell(app, "answer = 41")
    await run_cell(app, "answer + 1")
    box = app.page.locator(".console-input")
    await box.click()
    await box.press("ArrowUp")
    assert await box.input_value() == "answer + 1"
    await box.press("ArrowUp")
    assert await box.input_value() == "answer = 41"
    await box.press("ArrowDown")
    await box.press("ArrowDown")
    assert await box.input_value() == ""
    await box.type("viewer.ima")
    await box.press("Tab")
    await app.page.wait_for_function(
        "() => document.querySelector('.console-input').value === 'viewer.image'")
    await box.fill("viewer.vol")
    await box.press("Tab")  # volume, volume_index: the common part, then the list
    await app.page.wait_for_selector(".console-completions:not([hidden]) li")
    assert await app.page.locator(".console-completions li").all_inner_texts() == [
        "viewer.volume", "viewer.volume_index"]
    await box.fill("")
    await app.page.click(".console-help")
    await app.page.wait_for_function(
        "() => document.querySelector('.console-output').textContent.includes('overlay(mask')")
    # Stop cannot interrupt on a page that is not cross-origin isolated, and says so.
    await type_cell(app, "while True:\n    pass")
    await app.page.wait_for_selector(".console-panel[aria-busy='true']")
    await app.page.click(".console-stop")
    assert "not cross-origin isolated" in await app.page.inner_text(".console-status")
    await app.page.click(".console-restart")
    await app.page.wait_for_selector(".console-panel[aria-busy='false']")
    output = await run_cell(app, "print('answer' in globals())")
    assert stdout(output) == "False\n"



@pytest.fixture(scope="module")
def isolated_site(orthanc_dist: Path, orthanc: LoadedOrthanc) -> Iterator[ServedSite]:
    """The same build served cross-origin isolated (ohifpy serve --cross-origin-isolated)."""
    with ServedSite(orthanc_dist, proxy={"/dicom-web": orthanc.dicomweb_root},
                    cross_origin_isolated=True) as served:
        yield served


async def test_ctrl_c_interrupts_a_cell_on_an_isolated_page(
        browser: Any, isolated_site: ServedSite, orthanc: LoadedOrthanc,
        ct_stack: DisplaySet) -> None:
    async with started_app(browser, isolated_site) as app:
        assert await app.page.evaluate("() => crossOriginIsolated")
        await open_ct(app, orthanc, ct_stack)
        await open_console(app)
        await run_cell(app, "answer = 42")
        await type_cell(app, "n = 0\nwhile True:\n    n += 1")
        await app.page.wait_for_selector(".console-panel[aria-busy='true']")
        await app.page.wait_for_timeout(300)
        await app.page.locator(".console-input").press("Control+c")
        await app.page.wait_for_selector(".console-panel[aria-busy='false']", timeout=10_000)
        assert "KeyboardInterrupt" in await app.page.inner_text(".console-output")
        # The console's names are kept: only the cell stopped.
        output = await run_cell(app, "print(answer, n > 0)")
        assert stdout(output) == "42 True\n"
