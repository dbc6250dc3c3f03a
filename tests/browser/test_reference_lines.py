"""Reference lines and sync scroll in Chromium against the real Orthanc, on the planes study
(ohifpy.synthetic.planes_study: axial 2 mm, coronal and axial 5 mm stacks of one frame of
reference, a sagittal of another).

What is checked is on the screen: where the drawn SVG line is over the image (its client
coordinates mapped back through the canvas's box into image pixels), compared with the row
the study's geometry puts the active image's plane at; and which image each viewport shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import LoadedOrthanc

from ohifpy import synthetic

from .conftest import App
from .test_viewer_layout import open_viewer, pick_layout, viewer_url, viewport

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

AXIAL, CORONAL, THICK, SAGITTAL = synthetic.PLANES_SERIES


def coronal_row(z: float) -> float:
    """The coronal image row at height z (rows run down from the first row's z, 1 mm apart)."""
    return (CORONAL.first[2] - z) / CORONAL.spacing[0]


def nearest(series: synthetic.PlanesSeries, z: float) -> int:
    return min(range(series.count), key=lambda i: abs(series.position(i)[2] - z))


async def shown_index(app: App, index: int) -> int:
    return int(await app.page.get_attribute(f"{viewport(index)} canvas", "data-image-index"))


async def wait_for_index(app: App, index: int, image: int) -> None:
    await app.page.wait_for_selector(
        f"{viewport(index)}:not(.failed) canvas[data-image-index='{image}']", state="attached",
        timeout=60_000)


async def scroll(app: App, index: int, steps: int) -> None:
    """Make viewport ``index`` the active one (focus) and step through its stack by keys."""
    await app.page.focus(viewport(index))
    await app.page.wait_for_selector(f"{viewport(index)}[data-active='true']")
    for _ in range(abs(steps)):
        await app.page.keyboard.press("ArrowDown" if steps > 0 else "ArrowUp")


async def line_on(app: App, index: int, source_uid: str, source_image: int) -> dict[str, Any]:
    """The reference line drawn on viewport ``index`` for that source image, its ends mapped
    from the viewport's client coordinates back to image [column, row] through the canvas's
    box on the screen (no rotation or flip here)."""
    selector = (f"{viewport(index)} .reference-line[data-source-display-set-uid='{source_uid}']"
                f"[data-source-image-index='{source_image}']")
    await app.page.wait_for_selector(selector, state="attached", timeout=30_000)
    return await app.page.eval_on_selector(selector, """line => {
        const element = line.closest('.viewport');
        const box = element.getBoundingClientRect();
        const canvas = element.querySelector('canvas');
        const image = canvas.getBoundingClientRect();
        const toImage = (x, y) => [
            (x + box.left - image.left) / (image.width / canvas.width) - 0.5,
            (y + box.top - image.top) / (image.height / canvas.height) - 0.5];
        const ends = [['x1', 'y1'], ['x2', 'y2']].map(([x, y]) =>
            toImage(Number(line.getAttribute(x)), Number(line.getAttribute(y))));
        return {ends: ends.sort((a, b) => a[0] - b[0]), points: JSON.parse(line.dataset.points),
                columns: canvas.width, rows: canvas.height};
    }""")


def assert_row(line: dict[str, Any], row: float) -> None:
    """A horizontal line across the whole image at ``row``, within one image pixel."""
    (c0, r0), (c1, r1) = line["ends"]
    assert abs(r0 - row) <= 1 and abs(r1 - row) <= 1, (line, row)
    assert abs(c0 + 0.5) <= 1 and abs(c1 - (line["columns"] - 0.5)) <= 1, line
    # and the image points the page was given say the same
    assert all(abs(point[1] - row) <= 1 for point in line["points"]), line


async def no_line_on(app: App, index: int, source_uid: str, source_image: int) -> None:
    """Viewport ``index`` was answered for that source image and draws no line."""
    await app.page.wait_for_selector(
        f"{viewport(index)} .reference-lines[data-answered-for='{source_uid}/{source_image}']",
        state="attached", timeout=30_000)
    assert await app.page.locator(f"{viewport(index)} .reference-line").count() == 0


async def test_reference_lines_and_sync_scroll(app: App, orthanc: LoadedOrthanc) -> None:
    planes = orthanc.manifest.study("planes")
    series_uid = {s.description: s.series_uid for s in planes.series}
    await open_viewer(app, viewer_url(planes.study_uid))
    # 1x2: the axial stack in the first viewport, the coronal (next in the panel) beside it.
    await pick_layout(app, 1, 2)
    for index, spec in enumerate((AXIAL, CORONAL)):
        await app.page.wait_for_selector(
            f"{viewport(index)} canvas[data-series-uid='{series_uid[spec.description]}']"
            "[data-image-index]", state="attached", timeout=60_000)
    axial_uid = await app.page.get_attribute(f"{viewport(0)} canvas", "data-display-set-uid")
    references = app.page.locator(".toolbar button[aria-label='Reference lines']")
    assert await references.get_attribute("aria-pressed") == "true"  # on by default

    # The axial viewport active at image 10: the coronal shows the line of its height.
    await scroll(app, 0, 10)
    await wait_for_index(app, 0, 10)
    assert_row(await line_on(app, 1, axial_uid, 10), coronal_row(AXIAL.position(10)[2]))
    assert await app.page.locator(f"{viewport(0)} .reference-line").count() == 0  # the source
    # Scrolling moves it: five images (10 mm) further down, ten rows lower.
    await scroll(app, 0, 5)
    await wait_for_index(app, 0, 15)
    line = await line_on(app, 1, axial_uid, 15)
    assert_row(line, coronal_row(AXIAL.position(15)[2]))
    assert line["ends"][0][1] == pytest.approx(coronal_row(AXIAL.position(10)[2]) + 10, abs=1)

    # 2x2: the thick axial and the sagittal of another frame of reference join. The coronal's
    # line follows its viewport's new size; the parallel stack and the other frame get none.
    await pick_layout(app, 2, 2)
    for index, spec in ((2, THICK), (3, SAGITTAL)):
        await app.page.wait_for_selector(
            f"{viewport(index)} canvas[data-series-uid='{series_uid[spec.description]}']"
            "[data-image-index]", state="attached", timeout=60_000)
    await app.page.wait_for_selector(f"{viewport(0)}[data-active='true']")
    await no_line_on(app, 2, axial_uid, 15)
    await no_line_on(app, 3, axial_uid, 15)
    await app.settle()
    assert_row(await line_on(app, 1, axial_uid, 15), coronal_row(AXIAL.position(15)[2]))

    # Sync scroll: the thick axial stack follows the thin one to its nearest image; the
    # coronal (cut across) and the sagittal (another frame) stay where they are.
    sync = app.page.locator(".toolbar button[aria-label='Sync scroll']")
    assert await sync.get_attribute("aria-pressed") == "false"
    await (await app.toolbar_control("button[aria-label='Sync scroll']")).click()
    assert await sync.get_attribute("aria-pressed") == "true"
    coronal_before, sagittal_before = await shown_index(app, 1), await shown_index(app, 3)
    await wait_for_index(app, 2, nearest(THICK, AXIAL.position(15)[2]))
    await scroll(app, 0, 8)
    await wait_for_index(app, 0, 23)
    await wait_for_index(app, 2, nearest(THICK, AXIAL.position(23)[2]))
    assert (await shown_index(app, 1), await shown_index(app, 3)) == (
        coronal_before, sagittal_before)
    # The wheel over the thick stack (not the active viewport) scrolls it and the thin one
    # follows; the thin one stays the active viewport, whose line the coronal shows.
    thick_at = await shown_index(app, 2)
    box = await app.page.locator(viewport(2)).bounding_box()
    await app.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(2):
        await app.page.mouse.wheel(0, 100)
        await app.page.wait_for_timeout(50)
    await wait_for_index(app, 2, thick_at + 2)
    thin_at = nearest(AXIAL, THICK.position(thick_at + 2)[2])
    await wait_for_index(app, 0, thin_at)
    assert await app.page.get_attribute(viewport(0), "data-active") == "true"
    assert_row(await line_on(app, 1, axial_uid, thin_at), coronal_row(AXIAL.position(thin_at)[2]))

    # Scrolling the thick stack takes the thin one along, and the coronal's line is now the
    # thick image's plane. No feedback: both then stay where they are.
    thick_uid = await app.page.get_attribute(f"{viewport(2)} canvas", "data-display-set-uid")
    start = await shown_index(app, 2)
    await scroll(app, 2, -3)
    await wait_for_index(app, 2, start - 3)
    z = THICK.position(start - 3)[2]
    await wait_for_index(app, 0, nearest(AXIAL, z))
    assert_row(await line_on(app, 1, thick_uid, start - 3), coronal_row(z))
    await app.page.wait_for_timeout(500)
    assert (await shown_index(app, 0), await shown_index(app, 2)) == (nearest(AXIAL, z), start - 3)

    # Sync off: the thin stack scrolls alone again.
    await (await app.toolbar_control("button[aria-label='Sync scroll']")).click()
    assert await sync.get_attribute("aria-pressed") == "false"
    thick_now = await shown_index(app, 2)
    thin_now = await shown_index(app, 0)
    await scroll(app, 0, 6)
    await wait_for_index(app, 0, thin_now + 6)
    assert_row(await line_on(app, 1, axial_uid, thin_now + 6),
               coronal_row(AXIAL.position(thin_now + 6)[2]))
    assert await shown_index(app, 2) == thick_now

    # Reference lines off: none drawn; on again: back.
    await (await app.toolbar_control("button[aria-label='Reference lines']")).click()
    assert await references.get_attribute("aria-pressed") == "false"
    assert await app.page.locator(".reference-line").count() == 0
    await (await app.toolbar_control("button[aria-label='Reference lines']")).click()
    assert_row(await line_on(app, 1, axial_uid, thin_now + 6),
               coronal_row(AXIAL.position(thin_now + 6)[2]))
