"""MPR in Chromium against the real Orthanc (issue 13): the MPR layouts, the planes'
pixels, the crosshairs, measuring on a reformatted plane, window/level sync, the URL's
hangingProtocolId, series MPR cannot show, and the stack grid coming back as it was.

One page serves the module (Pyodide starts once). The CT is the synthetic 200-slice
axial chest (512x512, 0.7 mm pixels, 1.25 mm apart, head first): its MPR views are exact
array slices of the stack, so each plane is compared with numpy slices of the frames
CPython decodes from the same server, rendered through the same window.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.image_loader import load_image_frame
from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba
from ohifpy.model import DisplaySet

from .conftest import App, cpython_display_sets, eventually
from .test_viewer_layout import canvas_pixels, open_viewer, pick_layout, save_screenshot, viewer_url

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

VIEWS = ("axial", "sagittal", "coronal")
CT_PIXEL_MM, CT_SLICE_MM = 0.7, 1.25




@pytest.fixture(scope="module")
async def ct_stack(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> DisplaySet:
    (stack,) = await cpython_display_sets(dicomweb_source, orthanc.manifest.study("ct").study_uid)
    return stack


@pytest.fixture(scope="module")
async def ct_volume(ct_stack: DisplaySet, dicomweb_source: DicomWebSource) -> np.ndarray:
    """The CT's modality values (HU) as CPython decodes them: ``[image, row, column]`` in
    the stack's display order (head to feet)."""
    async with DICOMwebDataSource(dicomweb_source) as source:
        frames = await asyncio.gather(*(load_image_frame(source, image)
                                        for image in ct_stack.images))
    return np.stack([frame.values for frame in frames])


# ---------------------------------------------------------------- helpers


def mpr_viewport(view: str) -> str:
    return f".viewport[data-mpr-view='{view}']"


async def open_ct(app: App, orthanc: LoadedOrthanc, **params: str) -> None:
    ct = orthanc.manifest.study("ct")
    await open_viewer(app, viewer_url(ct.study_uid, **params))
    await app.page.wait_for_selector(".viewport:not(.failed) canvas[data-image-index]",
                                     state="attached", timeout=60_000)


async def ct_in_mpr(app: App, orthanc: LoadedOrthanc, protocol: str = "mpr") -> None:
    """The CT opened as a stack, then put in an MPR layout from the layout picker."""
    await open_ct(app, orthanc)
    await pick_protocol(app, protocol)
    await wait_for_mpr(app, protocol)


async def wait_for_mpr(app: App, protocol: str = "mpr") -> None:
    await app.page.wait_for_selector(f".viewport-grid[data-layout='{protocol}']", timeout=60_000)
    for view in VIEWS:
        await app.page.wait_for_selector(
            f"{mpr_viewport(view)}:not(.failed) "
            "canvas[data-image-index][data-display-set-uid^='mpr:']",
            state="attached", timeout=60_000)
    await app.page.wait_for_selector(f"{mpr_viewport('axial')}[data-crosshair-center]",
                                     state="attached")


async def pick_protocol(app: App, protocol: str) -> None:
    await app.page.click(".layout-button")
    await app.page.click(f".layout-protocol[data-protocol='{protocol}']")


async def reset_mpr(app: App) -> None:
    """Back to the planes an MPR starts with (the worker keeps a series' MPR as it was
    left, for when it is shown again): the centre in the middle of the volume."""
    before = (await view_data(app, "axial"))["displaySetUid"]
    await app.page.click(".mpr-reset")
    await app.page.wait_for_function(  # every view is shown anew
        "([s, uid]) => document.querySelector(s).dataset.displaySetUid !== uid",
        arg=[f"{mpr_viewport('axial')} canvas", before])
    await app.page.wait_for_function(
        """s => { const v = document.querySelector(s), c = v.querySelector('canvas');
                  const [x, y] = (v.dataset.crosshairCenter ?? '').split(',').map(Number);
                  const b = c.getBoundingClientRect(), o = v.getBoundingClientRect();
                  return Math.abs(o.left + x - (b.left + b.width / 2)) < 1
                      && Math.abs(o.top + y - (b.top + b.height / 2)) < 1
                      && !v.querySelector('.crosshair-slab'); }""", arg=mpr_viewport("axial"))


async def view_data(app: App, view: str) -> dict[str, str]:
    return await app.page.eval_on_selector(f"{mpr_viewport(view)} canvas", "c => ({...c.dataset})")


async def image_index(app: App, view: str) -> int:
    return int((await view_data(app, view))["imageIndex"])


async def wait_for_index(app: App, view: str, index: int) -> None:
    await app.page.wait_for_selector(
        f"{mpr_viewport(view)} canvas[data-image-index='{index}']", state="attached",
        timeout=30_000)


async def crosshair_lines(app: App, view: str) -> dict[str, dict[str, list[float]]]:
    """The lines drawn in a view, by the view they show: {from, to} in CSS pixels from the
    viewport's top-left, edge to edge."""
    lines = await app.page.eval_on_selector(mpr_viewport(view),
                                            "v => JSON.parse(v.dataset.crosshairLines)")
    return {line["view"]: line for line in lines}


async def centres(app: App, selector: str) -> list[tuple[float, float]]:
    """The page positions of the centres of the elements (handles)."""
    return await app.page.eval_on_selector_all(selector, """nodes => nodes.map(n => {
        const b = n.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })""")


async def settled_centres(app: App, selector: str) -> list[tuple[float, float]]:
    """:func:`centres` once they stay put across two settles (the crosshairs are redrawn
    as each view's new plane lands: a handle read before that is no longer there)."""
    found = await centres(app, selector)
    for _ in range(50):
        await app.settle()
        again = await centres(app, selector)
        if again == found and found:
            return found
        found = again
    return found


async def crosshair_center(app: App, view: str) -> tuple[float, float]:
    """The crosshair centre on the page (from the viewport's data-crosshair-center)."""
    box = await app.page.locator(mpr_viewport(view)).bounding_box()
    text = await app.page.get_attribute(mpr_viewport(view), "data-crosshair-center")
    x, y = (float(v) for v in text.split(","))
    return box["x"] + x, box["y"] + y


class Canvas:
    """A viewport canvas on the page: image point <-> page pixel (no rotation or flip)."""

    def __init__(self, box: dict[str, float], width: int, height: int) -> None:
        self.box, self.width, self.height = box, width, height
        self.per_column = box["width"] / width  # page pixels per image column
        self.per_row = box["height"] / height  # ... per image row

    def at(self, column: float, row: float) -> tuple[float, float]:
        return (self.box["x"] + (column + 0.5) * self.per_column,
                self.box["y"] + (row + 0.5) * self.per_row)

    def image(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.box["x"]) / self.per_column - 0.5,
                (y - self.box["y"]) / self.per_row - 0.5)


async def canvas_of(app: App, view: str) -> Canvas:
    locator = app.page.locator(f"{mpr_viewport(view)} canvas")
    width, height = await locator.evaluate("c => [c.width, c.height]")
    return Canvas(await locator.bounding_box(), width, height)


async def drag(app: App, start: tuple[float, float], end: tuple[float, float],
               steps: int = 8) -> None:
    mouse = app.page.mouse
    await mouse.move(*start)
    await mouse.down()
    await mouse.move(*end, steps=steps)
    await mouse.up()


def rendered(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """A plane of modality values through a window, as the worker renders one."""
    return render_rgba(ImageFrame(np.ascontiguousarray(values), "MONOCHROME2"),
                       VOIWindow(center, width))


def expected_plane(volume: np.ndarray, view: str, index: int) -> np.ndarray:
    """An MPR view's plane as a numpy slice of the stack (head at the top): axial the
    image itself; sagittal the column ``index`` (rows are the images, columns the stack's
    rows, anterior on the left); coronal the row counted from the back (columns are the
    stack's columns, the patient's right on the left)."""
    if view == "axial":
        return volume[index]
    if view == "sagittal":
        return volume[:, :, index]
    return volume[:, volume.shape[1] - 1 - index, :]


# ---------------------------------------------------------------- the layouts


async def test_mpr_planes_are_the_volumes_slices_through_the_same_window(
        app: App, orthanc: LoadedOrthanc, ct_volume: np.ndarray,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    await ct_in_mpr(app, orthanc)
    # Three viewports side by side, in OHIF's order and colours, crosshairs the active tool.
    assert await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport", "vs => vs.map(v => v.dataset.mprView)") == list(VIEWS)
    boxes = [await app.page.locator(mpr_viewport(v)).bounding_box() for v in VIEWS]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert boxes[0]["y"] == pytest.approx(boxes[2]["y"])
    assert boxes[0]["height"] == pytest.approx(boxes[1]["height"])
    assert await app.page.get_attribute(".layout-button", "aria-label") == "Layout MPR"
    crosshairs = app.page.locator(".toolbar button[data-tool='Crosshairs']")
    assert await crosshairs.is_visible()
    assert await crosshairs.get_attribute("aria-pressed") == "true"
    colours = await app.page.eval_on_selector_all(
        f"{mpr_viewport('axial')} .crosshair-line",
        "gs => Object.fromEntries(gs.map(g => [g.dataset.view, g.getAttribute('stroke')]))")
    assert colours == {"sagittal": "rgb(200, 200, 0)", "coronal": "rgb(0, 200, 0)"}

    # Shapes and aspect: the sagittal and coronal views are 200 rows of 512 columns, each
    # row drawn 1.25 / 0.7 times as tall as a column is wide.
    slices, rows, columns = ct_volume.shape
    for view, shape in (("axial", (rows, columns)), ("sagittal", (slices, rows)),
                        ("coronal", (slices, columns))):
        canvas = await canvas_of(app, view)
        assert (canvas.height, canvas.width) == shape, view
        assert canvas.per_row / canvas.per_column == pytest.approx(
            1 if view == "axial" else CT_SLICE_MM / CT_PIXEL_MM, rel=1e-3), view

    # Once the series is in, every plane is the numpy slice through the window shown.
    await app.page.wait_for_selector(".series-progress[data-complete='true']", state="attached",
                                     timeout=120_000)
    for view in VIEWS:
        async def same(view: str = view) -> None:
            data = await view_data(app, view)
            expected = rendered(expected_plane(ct_volume, view, int(data["imageIndex"])),
                                float(data["windowCenter"]), float(data["windowWidth"]))
            shown = await canvas_pixels(app, f"{mpr_viewport(view)} canvas")
            differing = np.argwhere(np.any(shown != expected, axis=-1))
            assert differing.size == 0, f"{view}: {len(differing)} pixels differ"
        await eventually(same)
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "mpr.png")
    # Scrolling a view shows another slice, and the others' lines follow.
    sagittal_lines = await app.page.get_attribute(mpr_viewport("sagittal"), "data-crosshair-lines")
    await app.page.focus(mpr_viewport("axial"))
    axial = await image_index(app, "axial")
    for _ in range(5):
        await app.page.keyboard.press("ArrowDown")
    await wait_for_index(app, "axial", axial + 5)
    await app.page.wait_for_function(
        "([s, before]) => document.querySelector(s).dataset.crosshairLines !== before",
        arg=[mpr_viewport("sagittal"), sagittal_lines])
    data = await view_data(app, "axial")
    assert np.array_equal(await canvas_pixels(app, f"{mpr_viewport('axial')} canvas"), rendered(
        ct_volume[axial + 5], float(data["windowCenter"]), float(data["windowWidth"])))


async def test_axial_primary_layout_and_leaving_it_by_the_same_entry(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await ct_in_mpr(app, orthanc, "primaryAxial")
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "mpr-axial-primary.png")
    axial, sagittal, coronal = [await app.page.locator(mpr_viewport(v)).bounding_box()
                                for v in VIEWS]
    assert sagittal["x"] == pytest.approx(coronal["x"]) and sagittal["x"] > axial["x"]
    assert coronal["y"] > sagittal["y"]
    assert axial["height"] == pytest.approx(sagittal["height"] + coronal["height"], abs=4)
    await pick_protocol(app, "mpr")  # from one MPR layout to the other: the same views
    await app.page.wait_for_selector(".viewport-grid[data-layout='mpr']")
    assert await app.page.locator(".viewport[data-mpr-view]").count() == 3
    await pick_protocol(app, "mpr")  # the same entry again: the stack as it was
    await app.page.wait_for_selector(".viewport-grid[data-layout='1x1']")
    assert await app.page.locator(".viewport[data-mpr-view]").count() == 0
    assert await app.page.get_attribute(".layout-button", "aria-label") == "Layout 1×1"


# ---------------------------------------------------------------- crosshairs


async def test_dragging_the_crosshair_centre_moves_the_other_planes(
        app: App, orthanc: LoadedOrthanc) -> None:
    await ct_in_mpr(app, orthanc)
    await reset_mpr(app)
    axial = await canvas_of(app, "axial")
    start = await crosshair_center(app, "axial")
    # The centre drawn where the volume's centre is (the middle of the axial image).
    assert axial.image(*start) == pytest.approx((255.5, 255.5), abs=0.6)
    target = (round(axial.at(300, 180)[0]), round(axial.at(300, 180)[1]))  # whole page pixels
    column, row = axial.image(*target)
    await drag(app, start, target)
    # The sagittal view is the column the centre is on, the coronal the row (from the back).
    await wait_for_index(app, "sagittal", round(column))
    await wait_for_index(app, "coronal", 511 - round(row))
    await app.page.wait_for_function(
        "([s, x, y]) => { const [cx, cy] = document.querySelector(s).dataset.crosshairCenter"
        ".split(',').map(Number); const b = document.querySelector(s).getBoundingClientRect();"
        " return Math.abs(b.left + cx - x) < 1.5 && Math.abs(b.top + cy - y) < 1.5; }",
        arg=[mpr_viewport("axial"), *target])
    # The sagittal view's lines go through the new centre: its axial line (red) at the
    # axial image's height, its coronal line at the row's depth.
    sagittal = await canvas_of(app, "sagittal")
    centre = sagittal.image(*(await crosshair_center(app, "sagittal")))
    assert centre[0] == pytest.approx(row, abs=0.6)
    assert centre[1] == pytest.approx(await image_index(app, "axial"), abs=0.6)

    # A press elsewhere brings the centre there.
    elsewhere = axial.at(200, 300)
    await drag(app, elsewhere, elsewhere, steps=1)
    await wait_for_index(app, "sagittal", 200)
    await wait_for_index(app, "coronal", 511 - 300)

    # Dragging the sagittal line (yellow, vertical in the axial view) moves only that plane.
    yellow = (await crosshair_lines(app, "axial"))["sagittal"]
    box = await app.page.locator(mpr_viewport("axial")).bounding_box()
    grab = (box["x"] + yellow["from"][0] + 0.3 * (yellow["to"][0] - yellow["from"][0]),
            box["y"] + yellow["from"][1] + 0.3 * (yellow["to"][1] - yellow["from"][1]))
    moved_to = (grab[0] + 40, grab[1])
    await drag(app, grab, moved_to)
    moved = axial.image(*moved_to)[0] - axial.image(*grab)[0]
    await wait_for_index(app, "sagittal", 200 + round(moved))
    assert await image_index(app, "coronal") == 511 - 300


async def test_rotation_makes_an_oblique_plane_and_a_slab_handle_sets_its_thickness(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await ct_in_mpr(app, orthanc)
    await reset_mpr(app)
    before = {v: (await view_data(app, v))["displaySetUid"] for v in VIEWS}
    handles = await centres(app, f"{mpr_viewport('axial')} .crosshair-rotate")
    assert len(handles) == 4  # two on each line
    centre = await crosshair_center(app, "axial")
    handle = handles[0]
    radius = math.dist(handle, centre)
    angle = math.atan2(handle[1] - centre[1], handle[0] - centre[0]) + math.radians(30)
    turned_to = (centre[0] + radius * math.cos(angle), centre[1] + radius * math.sin(angle))
    await drag(app, handle, turned_to, steps=12)
    # The sagittal and coronal planes turned (new display sets), the axial one did not;
    # the lines in the axial view turned by the drag's angle.
    for view in ("sagittal", "coronal"):
        await app.page.wait_for_function(
            "([s, uid]) => document.querySelector(s).dataset.displaySetUid !== uid",
            arg=[f"{mpr_viewport(view)} canvas", before[view]])
    assert (await view_data(app, "axial"))["displaySetUid"] == before["axial"]

    async def turned() -> None:
        yellow = (await crosshair_lines(app, "axial"))["sagittal"]
        dx, dy = (yellow["to"][i] - yellow["from"][i] for i in (0, 1))
        tilt = math.degrees(math.atan2(dx, dy)) % 180  # 0: vertical
        assert min(tilt, 180 - tilt) == pytest.approx(30, abs=2)
    await eventually(turned, 10)
    await app.page.wait_for_selector(
        f"{mpr_viewport('sagittal')}:not(.failed) canvas[data-image-index]", state="attached")

    # A slab handle dragged away from its line: that plane gets a slab, drawn dashed.
    red_line = f"{mpr_viewport('sagittal')} .crosshair-line[data-view='axial']"
    squares = await settled_centres(app, f"{red_line} .crosshair-slab-handle")
    assert squares
    red = (await crosshair_lines(app, "sagittal"))["axial"]
    dx, dy = (red["to"][i] - red["from"][i] for i in (0, 1))
    normal = (-dy / math.hypot(dx, dy), dx / math.hypot(dx, dy))
    axial_uid = (await view_data(app, "axial"))["displaySetUid"]
    await drag(app, squares[0], (squares[0][0] + 20 * normal[0], squares[0][1] + 20 * normal[1]))
    await app.page.wait_for_function(
        "([s, uid]) => document.querySelector(s).dataset.displaySetUid !== uid",
        arg=[f"{mpr_viewport('axial')} canvas", axial_uid])
    await app.page.wait_for_selector(f"{red_line} .crosshair-slab", state="attached")
    assert await app.page.locator(f"{red_line} .crosshair-slab").count() == 2  # both edges
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "mpr-oblique-slab.png")
    # The axial plane's slab is twice the handle's distance from its line: 20 page pixels
    # down the sagittal view, whose rows are 1.25 mm apart (the turn was about that axis).
    sagittal = await canvas_of(app, "sagittal")
    await app.page.focus(mpr_viewport("axial"))
    thickness = float(await app.page.input_value(".mpr-slab-thickness"))
    assert thickness == pytest.approx(2 * 20 * CT_SLICE_MM / sagittal.per_row,
                                      abs=2 * CT_SLICE_MM / sagittal.per_row)
    await reset_mpr(app)  # back to the planes MPR opened with


# ---------------------------------------------------------------- measuring, window/level


async def test_a_length_on_the_sagittal_plane_reads_millimetres(
        app: App, orthanc: LoadedOrthanc) -> None:
    await ct_in_mpr(app, orthanc)
    await app.page.focus(mpr_viewport("sagittal"))
    await (await app.toolbar_control(".measure-tool[data-tool='Length']")).click()
    sagittal = await canvas_of(app, "sagittal")
    start = tuple(round(v) for v in sagittal.at(150, 40))
    end = tuple(round(v) for v in sagittal.at(330, 170))
    await drag(app, start, end)
    await app.page.wait_for_selector(".measurement-row", timeout=30_000)
    text = await app.page.inner_text(".measurement-row .measurement-value[data-name='length']")
    (c0, r0), (c1, r1) = sagittal.image(*start), sagittal.image(*end)
    known = math.hypot((c1 - c0) * CT_PIXEL_MM, (r1 - r0) * CT_SLICE_MM)
    assert float(text.split()[-2]) == pytest.approx(known, abs=0.1), text
    assert text.endswith("mm")
    # On screen, the patient is to scale: that many mm is as long as the line is drawn.
    mm_per_page_pixel = CT_PIXEL_MM / sagittal.per_column
    assert math.dist(start, end) * mm_per_page_pixel == pytest.approx(known, abs=0.1)
    # Drawn on its plane where it was drawn.
    group = app.page.locator(f"{mpr_viewport('sagittal')} g.measurement")
    points = await group.evaluate("g => JSON.parse(g.dataset.points)")
    assert [sagittal.at(*p) for p in points] == [pytest.approx(start, abs=1),
                                                 pytest.approx(end, abs=1)]
    crosshairs = app.page.locator(".toolbar button[data-tool='Crosshairs']")
    await crosshairs.click()  # back to the crosshairs
    assert await crosshairs.get_attribute("aria-pressed") == "true"
    assert await app.page.get_attribute(mpr_viewport("sagittal"), "data-primary-tool") == "Crosshairs"


async def test_window_level_is_synchronised_across_the_views_unless_turned_off(
        app: App, orthanc: LoadedOrthanc) -> None:
    await ct_in_mpr(app, orthanc)
    await app.page.focus(mpr_viewport("coronal"))
    await app.page.keyboard.press("2")  # lung: 1500 / -600
    for view in VIEWS:
        await app.page.wait_for_selector(
            f"{mpr_viewport(view)} canvas[data-window-center='-600'][data-window-width='1500']",
            state="attached", timeout=30_000)
    sync = app.page.locator(".mpr-sync-window")
    assert await sync.get_attribute("aria-pressed") == "true"
    await sync.click()
    assert await sync.get_attribute("aria-pressed") == "false"
    await app.page.focus(mpr_viewport("coronal"))
    await app.page.keyboard.press("5")  # brain: 80 / 40, this view only
    await app.page.wait_for_selector(
        f"{mpr_viewport('coronal')} canvas[data-window-center='40'][data-window-width='80']",
        state="attached")
    await app.settle()
    for view in ("axial", "sagittal"):
        assert (await view_data(app, view))["windowCenter"] == "-600"
    await sync.click()  # on again: the active view's window goes to the others
    for view in VIEWS:
        await app.page.wait_for_selector(f"{mpr_viewport(view)} canvas[data-window-center='40']",
                                         state="attached")


# ---------------------------------------------------------------- URL, not reconstructable, back


async def test_hanging_protocol_id_opens_mpr_from_the_url(app: App, orthanc: LoadedOrthanc) -> None:
    await open_ct(app, orthanc, hangingProtocolId="mpr")
    await wait_for_mpr(app)
    assert await app.page.get_attribute(".layout-button", "aria-label") == "Layout MPR"
    await open_ct(app, orthanc, hangingProtocolId="primaryAxial")
    await wait_for_mpr(app, "primaryAxial")
    # Leaving it: the hanging the study would have had.
    await pick_layout(app, 1, 1)
    assert await app.page.locator(".viewport[data-mpr-view]").count() == 0
    await app.page.wait_for_selector(".viewport:not(.failed) canvas[data-image-index='0']",
                                     state="attached")


@pytest.mark.parametrize("key", ["xa-cine", "cr-mono1"])
async def test_a_series_mpr_cannot_show_disables_the_layouts_with_the_reason(
        app: App, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, key: str) -> None:
    study = orthanc.manifest.study(key)
    (display_set,) = await cpython_display_sets(dicomweb_source, study.study_uid)
    reason = display_set.reconstruction.reason
    assert reason and not display_set.is_reconstructable
    await open_viewer(app, viewer_url(study.study_uid))
    await app.page.wait_for_selector(".viewport canvas[data-image-index]", state="attached",
                                     timeout=60_000)
    await app.page.click(".layout-button")
    for protocol in ("mpr", "primaryAxial"):
        entry = app.page.locator(f".layout-protocol[data-protocol='{protocol}']")
        assert await entry.is_disabled()
        assert await entry.get_attribute("title") == f"Cannot be shown in MPR: {reason}"
    await app.page.keyboard.press("Escape")
    # From the URL: the stack layout, and a note saying why.
    await open_viewer(app, viewer_url(study.study_uid, hangingProtocolId="mpr"))
    await app.page.wait_for_function(
        "r => document.querySelector('.viewer > .note').textContent.includes(r)", arg=reason,
        timeout=60_000)
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x1"
    assert await app.page.locator(".viewport[data-mpr-view]").count() == 0


async def test_back_to_a_stack_layout_restores_the_stack_as_it_was(
        app: App, orthanc: LoadedOrthanc) -> None:
    mr = orthanc.manifest.study("mr")
    ct = orthanc.manifest.study("ct")
    await open_viewer(app, viewer_url(ct.study_uid, mr.study_uid))  # 1x2: CT, MR
    for index in (0, 1):  # both drawn: the CT's presets (key 2) come with its first image
        await app.page.wait_for_selector(
            f".viewport[data-viewport-index='{index}'] canvas[data-image-index]",
            state="attached", timeout=60_000)
    ct_viewport = ".viewport[data-viewport-index='0']"
    await app.page.focus(ct_viewport)
    for key in ("ArrowDown",) * 7 + ("2", "+", "+", "r"):  # image 8, lung window, zoom, rotate
        await app.page.keyboard.press(key)
    await app.page.wait_for_selector(
        f"{ct_viewport} canvas[data-image-index='7'][data-window-center='-600']", state="attached")
    await app.settle()
    before = await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport canvas", "cs => cs.map(c => ({...c.dataset}))")
    pixels = await canvas_pixels(app, f"{ct_viewport} canvas")

    await pick_protocol(app, "mpr")
    await wait_for_mpr(app)
    await app.page.focus(mpr_viewport("axial"))
    await app.page.keyboard.press("ArrowDown")
    await pick_layout(app, 1, 2)  # the layout it was in: everything as it was
    assert await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport canvas", "cs => cs.map(c => ({...c.dataset}))") == before
    assert np.array_equal(await canvas_pixels(app, f"{ct_viewport} canvas"), pixels)
    active = await app.page.get_attribute(".viewport[data-active='true']", "data-viewport-index")
    assert active == "0"
    # The MPR tool and controls are gone with it (the tool hidden, the controls out of the page).
    assert await app.page.get_attribute(".toolbar button[data-tool='Crosshairs']", "hidden") == ""
    assert await app.page.locator(".mpr-controls").count() == 0

    await pick_protocol(app, "primaryAxial")
    await wait_for_mpr(app, "primaryAxial")
    await pick_layout(app, 1, 1)  # another layout: the stack grid comes back, then 1x1
    assert await app.page.eval_on_selector_all(
        ".viewport-grid > .viewport canvas", "cs => cs.map(c => ({...c.dataset}))") == before[:1]
