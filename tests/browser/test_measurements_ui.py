"""The measurement tools, panel and tag browser in Chromium against the real Orthanc.

Each tool is drawn with the mouse on the 200-slice synthetic CT (0.7 mm pixels, known HU
anatomy) and the values read off the panel and the image. They are checked three ways:
against ``ohifpy.measure`` run in CPython on the image points the page kept, against
values computed by hand from the mouse positions (the canvas's on-screen box gives the
mapping, independent of the page's own), and the points against the mouse positions.
Reports are stored to a copy of the CT under new UIDs, so no other test's study changes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import LoadedOrthanc, store_copy
from test_sr import dciodvfy

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.measure import NOTE_IMAGER_SPACING, ImageGeometry, MeasurementResult, measure
from ohifpy.model import DisplaySet
from ohifpy.synthetic import CT_SPACING, XSS_IMG
from ohifpy.viewer.tables import tables

from .conftest import App, cpython_display_sets, started_app

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

AORTA = (287.0, 324.0)  # the descending aorta's centre on the CT (250 HU, 17 px radius)
SHOWN_NAMES = ("length", "longAxis", "shortAxis", "angle", "area", "mean", "stdDev", "min",
               "max", "value")


# ---------------------------------------------------------------- the screen


@dataclass(frozen=True)
class Screen:
    """Where the canvas is on screen (its transformed box): image point <-> page pixel.

    Only for the unrotated, unflipped view; computed from the browser's layout of the
    canvas, not from the page's own mapping.
    """

    left: float
    top: float
    scale: float

    def at(self, column: float, row: float) -> tuple[float, float]:
        """The whole page pixel nearest the image point (the mouse moves in pixels)."""
        return (round(self.left + (column + 0.5) * self.scale),
                round(self.top + (row + 0.5) * self.scale))

    def image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.left) / self.scale - 0.5, (y - self.top) / self.scale - 0.5


async def screen(app: App) -> Screen:
    canvas = app.page.locator(App.CANVAS)
    box = await canvas.bounding_box()
    return Screen(box["x"], box["y"], box["width"] / await canvas.evaluate("c => c.width"))


async def choose(app: App, tool: str) -> None:
    """The tool from the toolbar's measurement menu, unless it is the one chosen."""
    item = f".measure-tool[data-tool='{tool}']"
    if await app.page.get_attribute(f".toolbar {item}", "aria-checked") != "true":
        await (await app.toolbar_control(item)).click()


async def drag(app: App, *path: tuple[float, float]) -> None:
    mouse = app.page.mouse
    await mouse.move(*path[0])
    await mouse.down()
    for point in path[1:]:
        await mouse.move(*point, steps=4)
    await mouse.up()


async def click(app: App, point: tuple[float, float]) -> None:
    await drag(app, point)


async def rows(app: App, count: int) -> None:
    await app.page.wait_for_function(
        "n => document.querySelectorAll('.measurement-row').length === n", arg=count,
        timeout=30_000)


async def shown(app: App, uid: str) -> dict[str, Any]:
    """A measurement as the page shows it: points kept, panel values, text on the image."""
    return await app.page.evaluate(
        """uid => {
            const row = document.querySelector(`.measurement-row[data-uid='${uid}']`);
            const group = document.querySelector(`g.measurement[data-uid='${uid}']`);
            return {
                points: group ? JSON.parse(group.dataset.points) : null,
                values: Object.fromEntries(
                    [...row.querySelectorAll('.measurement-value[data-name]')]
                    .map(v => [v.dataset.name, v.textContent])),
                notes: [...row.querySelectorAll('.measurement-note')].map(n => n.textContent),
                arrow: row.querySelector('.measurement-value.arrow')?.textContent ?? '',
                label: row.querySelector('.measurement-label').value,
                onImage: group ? group.querySelector('text').textContent : null,
                handles: group ? [...group.querySelectorAll('.handle')].map(h => {
                    const b = h.getBoundingClientRect();
                    return [b.x + b.width / 2, b.y + b.height / 2];
                }) : [],
            };
        }""", uid)


async def panel_value_changed(app: App, uid: str, name: str, old: str) -> None:
    """Wait until the panel shows another ``name`` value for the measurement (re-measured)."""
    await app.page.wait_for_function(
        "([uid, name, old]) => document.querySelector(`.measurement-row[data-uid='${uid}'] "
        ".measurement-value[data-name=${name}]`)?.textContent !== old", arg=[uid, name, old])


async def last_uid(app: App) -> str:
    return await app.page.eval_on_selector_all(".measurement-row", "r => r.at(-1).dataset.uid")


def number(text: str) -> float:
    match = re.search(r"-?\d+\.\d+", text)
    assert match, text
    return float(match.group())


# ---------------------------------------------------------------- CPython references


@dataclass(frozen=True)
class Slice:
    geometry: ImageGeometry
    hu: np.ndarray


def ct_slice(orthanc: LoadedOrthanc, display_set: DisplaySet, index: int) -> Slice:
    """One CT image's geometry (as the model reads it) and its HU from the file itself."""
    image = display_set.images[index]
    entry = next(i for i in orthanc.manifest.study("ct").instances
                 if i.sop_uid == image.instance.sop_instance_uid)
    ds = pydicom.dcmread(orthanc.manifest.root / entry.path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return Slice(ImageGeometry.from_image(image), hu)


def assert_values_shown(page: dict[str, Any], expected: MeasurementResult) -> None:
    """The panel and the image show the CPython values (to the 2 decimals shown)."""
    names = [q.name for q in expected.values if q.name in SHOWN_NAMES]
    assert sorted(page["values"]) == sorted(names)
    for name in names:
        quantity = expected.value(name)
        text = page["values"][name]
        assert number(text) == pytest.approx(quantity.value, abs=0.0051), (name, text)
        assert text.endswith(quantity.unit), text
        assert text in page["onImage"]


@pytest.fixture(scope="module")
async def ct_stack(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> DisplaySet:
    (stack,) = await cpython_display_sets(dicomweb_source, orthanc.manifest.study("ct").study_uid)
    return stack


async def open_ct(app: App, orthanc: LoadedOrthanc, stack: DisplaySet) -> Screen:
    await app.open_study(orthanc.manifest.study("ct").study_uid)
    await app.wait_for_image(0, stack.images[0].instance.sop_instance_uid)
    await app.settle()
    return await screen(app)


# ---------------------------------------------------------------- each tool

# Image points of each tool's gestures on the CT (drags, or clicks: one point), and the
# value a person computes from the mouse positions (None: no hand value to compare).
GESTURES: dict[str, list[list[tuple[float, float]]]] = {
    "Length": [[(200, 300), (300, 300)]],
    "Bidirectional": [[(180, 200), (300, 200)]],  # the short axis comes across its middle
    "Angle": [[(150, 250), (250, 250)], [(250, 150)]],
    "CobbAngle": [[(120, 120), (220, 120)], [(120, 200), (200, 280)]],
    "RectangleROI": [[(150, 150), (230, 210)]],
    "EllipticalROI": [[(150, 150), (250, 210)]],
    "CircleROI": [[AORTA, (AORTA[0] + 10, AORTA[1])]],
    "PlanarFreehandROI": [[(150, 150), (250, 150), (250, 230), (150, 230), (151, 152)]],
    "Probe": [[AORTA]],
    "ArrowAnnotate": [[(200, 200), (260, 260)]],
}


def by_hand(tool: str, mouse: list[list[tuple[float, float]]], s: Screen) -> dict[str, Any]:
    """What the tool must show, from the mouse positions and the 0.7 mm spacing."""
    mm = CT_SPACING / s.scale  # millimetres per page pixel
    sizes = [(abs(g[-1][0] - g[0][0]), abs(g[-1][1] - g[0][1])) for g in mouse]
    dx, dy = sizes[0]
    if tool == "Length":  # drawn level
        return {"length": dx * mm}
    if tool == "Bidirectional":  # drawn level; the short axis plumb, half as long
        return {"longAxis": dx * mm, "shortAxis": dx / 2 * mm}
    if tool == "Angle":  # a level arm, then a plumb one
        return {"angle": 90.0}
    if tool == "CobbAngle":  # a level line, then a slanting one
        return {"angle": math.degrees(math.atan2(sizes[1][1], sizes[1][0]))}
    if tool == "RectangleROI":
        return {"area": dx * dy * mm * mm}
    if tool == "EllipticalROI":
        return {"area": math.pi * dx / 2 * dy / 2 * mm * mm}
    if tool == "CircleROI":
        return {"area": math.pi * (dx * mm) ** 2, "mean": 250.0}
    if tool == "PlanarFreehandROI":
        return {"area": 100 * 80 * CT_SPACING**2}
    if tool == "Probe":
        return {"value": 250.0}
    return {}


HAND_TOLERANCE = {"mean": 6.0, "value": 40.0}  # noise of 9 HU around the aorta's 250 HU
HAND_RELATIVE = {"PlanarFreehandROI": 0.05}  # the drag's path is sampled by mouse moves


async def test_the_toolbar_offers_the_workers_tools_and_the_panel_names_a_row_by_its_label(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    """The measurement menu's tools are tables()["tools"] in order, labelled as Python
    labels them."""
    s = await open_ct(app, orthanc, ct_stack)
    tools = tables()["tools"]
    assert await app.page.locator(".measure-tool").evaluate_all(
        "bs => bs.map(b => [b.dataset.tool, b.textContent])") == [
        [tool["name"], tool["label"]] for tool in tools]
    before = await app.page.locator(".measurement-row").count()
    await choose(app, "CobbAngle")
    for gesture in GESTURES["CobbAngle"]:
        await drag(app, *(s.at(*p) for p in gesture))
    await rows(app, before + 1)
    label = next(tool["label"] for tool in tools if tool["name"] == "CobbAngle")
    assert await app.page.locator(".measurement-row .measurement-tool").last.inner_text() == label


@pytest.mark.parametrize("tool", list(GESTURES))
async def test_each_tool_shows_what_ohifpy_measure_computes(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet, tool: str) -> None:
    s = await open_ct(app, orthanc, ct_stack)
    await choose(app, tool)
    mouse = [[s.at(*p) for p in gesture] for gesture in GESTURES[tool]]
    for gesture in mouse:
        await drag(app, *gesture)
    if tool == "ArrowAnnotate":
        await app.page.fill(".viewport .arrow-text", "Aorta <b>here</b>")
        await app.page.keyboard.press("Enter")
    await rows(app, 1)
    page = await shown(app, await last_uid(app))

    # The points kept are where the mouse pressed and released, in image coordinates.
    pressed = [p for gesture in mouse for p in gesture]
    if tool == "PlanarFreehandROI":
        assert len(page["points"]) > len(pressed)
        assert page["points"][0] == pytest.approx(s.image(*pressed[0]), abs=0.01)
    elif tool == "Bidirectional":  # the long axis as drawn, the short one across its middle
        (x0, y), (x1, _) = pressed
        arm = (x1 - x0) / 4
        across = [((x0 + x1) / 2, y - arm), ((x0 + x1) / 2, y + arm)]
        assert np.allclose(page["points"], [s.image(*p) for p in pressed + across], atol=0.01)
    else:
        assert np.allclose(page["points"], [s.image(*p) for p in pressed], atol=0.01)

    piece = ct_slice(orthanc, ct_stack, 0)
    expected = measure(tool, page["points"], piece.geometry, piece.hu, "HU",
                       "Aorta <b>here</b>" if tool == "ArrowAnnotate" else "")
    assert_values_shown(page, expected)
    for name, value in by_hand(tool, mouse, s).items():
        tolerance = HAND_TOLERANCE.get(name, 0.01)
        assert expected.value(name).value == pytest.approx(
            value, abs=tolerance, rel=HAND_RELATIVE.get(tool, 1e-9)), name
    if tool == "Probe":
        column, row = (math.floor(v + 0.5) for v in page["points"][0])
        x0 = -(512 - 1) / 2 * CT_SPACING
        position = (x0 + column * CT_SPACING, x0 + row * CT_SPACING)
        assert page["onImage"].count(f"({position[0]:.1f}, {position[1]:.1f},") == 1
    if tool == "ArrowAnnotate":
        assert page["arrow"] == "Aorta <b>here</b>" and "Aorta <b>here</b>" in page["onImage"]
        assert await app.page.locator(".measurement-panel b, .annotations b").count() == 0
    assert page["notes"] == []  # PixelSpacing: nothing to warn about


async def level_length(app: App, study_uid: str, start: tuple[int, int], end: tuple[int, int]
                       ) -> tuple[dict[str, Any], float]:
    """A Length drawn level from image point ``start`` to ``end`` on the study's first image:
    what the page shows, and the pixels the mouse covered."""
    await app.open_study(study_uid)
    await app.wait_for_image(0)
    await app.settle()
    s = await screen(app)
    await choose(app, "Length")
    await drag(app, s.at(*start), s.at(*end))
    await rows(app, 1)
    return await shown(app, await last_uid(app)), (s.at(*end)[0] - s.at(*start)[0]) / s.scale


async def test_without_pixel_spacing_sizes_are_in_pixels_with_a_note(
        app: App, orthanc: LoadedOrthanc) -> None:
    page, pixels = await level_length(app, orthanc.manifest.study("xss").study_uid, (10, 20),
                                      (50, 20))
    assert page["values"]["length"].endswith(" px")
    assert number(page["values"]["length"]) == pytest.approx(pixels, abs=0.006)
    assert page["notes"] == ["no pixel spacing: sizes in pixels"]
    assert "no pixel spacing" in page["onImage"]


async def test_imager_pixel_spacing_is_used_and_named(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A projection image with ImagerPixelSpacing only (as a CR or DX has): millimetres from
    it, and a note that they are at the detector."""
    def detector_only(_: int, ds: Any) -> None:
        del ds.PixelSpacing
        ds.ImagerPixelSpacing = [0.5, 0.5]

    copy = store_copy(orthanc, "ct", "imager spacing", tmp_path_factory.mktemp("imager"),
                      count=1, edit=detector_only)
    page, pixels = await level_length(app, copy.study_uid, (100, 200), (300, 200))
    assert page["values"]["length"].endswith(" mm")
    assert number(page["values"]["length"]) == pytest.approx(pixels * 0.5, abs=0.006)
    assert page["notes"] == [NOTE_IMAGER_SPACING]
    assert NOTE_IMAGER_SPACING in page["onImage"]


async def test_panel_lists_per_series_and_jumps_to_another_series(
        app: App, orthanc: LoadedOrthanc) -> None:
    await app.open_study(orthanc.manifest.study("xss").study_uid)
    buttons = app.page.locator(".series-entry")
    series = []
    for index in range(2):
        await buttons.nth(index).click()
        uid = await buttons.nth(index).get_attribute("data-display-set-uid")
        await app.wait_for_image(0, display_set_uid=uid)
        await app.settle()
        s = await screen(app)
        await choose(app, "Length")
        await drag(app, s.at(10, 10 + 20 * index), s.at(50, 10 + 20 * index))
        await rows(app, index + 1)
        series.append((uid, await buttons.nth(index).get_attribute("data-series-uid"),
                       await last_uid(app)))
    sections = app.page.locator(".measurement-series")
    assert [await sections.nth(i).get_attribute("data-series-uid") for i in range(2)] == [
        series_uid for _, series_uid, _ in series]
    assert await sections.nth(0).locator("h3").text_content() == f"1 OT {XSS_IMG}"

    # On the second series now: "Show" on the first one's measurement brings that series.
    first_display_set, _, first = series[0]
    await app.page.click(f".measurement-row[data-uid='{first}'] .jump")
    await app.wait_for_image(0, display_set_uid=first_display_set)
    await app.settle()
    assert await buttons.nth(0).get_attribute("aria-current") == "true"
    drawn = await app.page.eval_on_selector_all("g.measurement", "g => g.map(x => x.dataset.uid)")
    assert drawn == [first]


# ---------------------------------------------------------------- anchoring


async def press(app: App, key: str) -> None:
    await app.page.focus(".viewport")
    await app.page.keyboard.press(key)
    await app.settle()


async def test_measurement_stays_on_its_image_through_zoom_rotate_flip_and_scroll(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    s = await open_ct(app, orthanc, ct_stack)
    await choose(app, "Length")
    a, b = s.at(200, 260), s.at(320, 300)
    await drag(app, a, b)
    await rows(app, 1)
    uid = await last_uid(app)
    before = await shown(app, uid)
    assert np.allclose(before["handles"], [a, b], atol=0.6)
    points = before["points"]

    # Zoom in (right-drag up), rotate 90° clockwise, flip: each handle is still over the
    # same image pixel, found from the canvas's box on screen.
    box = await app.page.locator(".viewport").bounding_box()
    await app.page.mouse.move(box["x"] + 40, box["y"] + box["height"] / 2)
    await app.page.mouse.down(button="right")
    await app.page.mouse.move(box["x"] + 40, box["y"] + box["height"] / 2 - 60, steps=4)
    await app.page.mouse.up(button="right")
    await press(app, "r")
    await press(app, "h")
    canvas = await app.page.locator(App.CANVAS).bounding_box()
    scale = canvas["width"] / 512
    assert scale > 1.2 * s.scale
    centre = (canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    # Rotated 90° clockwise, (x, y) -> (-y, x) from the centre, then mirrored left-right on
    # the screen (a flip acts on the view as shown, as in OHIF): (x, y) -> (y, x).
    expected = [(centre[0] + (r + 0.5 - 256) * scale, centre[1] + (c + 0.5 - 256) * scale)
                for c, r in points]
    turned = await shown(app, uid)
    assert np.allclose(turned["handles"], expected, atol=0.6)
    assert turned["values"] == before["values"] and turned["points"] == points

    # Away to the next image: not drawn there; back: drawn where it was.
    await press(app, "ArrowDown")
    await app.wait_for_image(1)
    await app.settle()
    assert await app.page.locator("g.measurement").count() == 0
    await press(app, "ArrowUp")
    await app.wait_for_image(0)
    await app.settle()
    back = await shown(app, uid)
    assert np.allclose(back["handles"], expected, atol=0.6)
    assert back["values"] == before["values"]


# ---------------------------------------------------------------- editing


async def test_move_a_handle_select_delete_undo_redo(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    s = await open_ct(app, orthanc, ct_stack)
    await choose(app, "Length")
    a, b = s.at(150, 300), s.at(250, 300)
    await drag(app, a, b)
    await rows(app, 1)
    uid = await last_uid(app)
    first = await shown(app, uid)
    piece = ct_slice(orthanc, ct_stack, 0)

    # Drag the second handle down 60 pixels: measured again, still one measurement.
    c = (b[0], b[1] + 60)
    await drag(app, b, c)
    await panel_value_changed(app, uid, "length", first["values"]["length"])
    moved = await shown(app, uid)
    assert moved["points"][0] == first["points"][0]
    assert moved["points"][1] == pytest.approx(s.image(*c), abs=0.01)
    assert_values_shown(moved, measure("Length", moved["points"], piece.geometry))
    assert await app.page.locator(".measurement-row").count() == 1

    async def now() -> dict[str, Any]:
        await app.settle()
        return await shown(app, uid)

    await app.page.keyboard.press("Control+z")
    assert (await now())["values"] == first["values"]
    assert (await now())["points"] == first["points"]
    await app.page.keyboard.press("Control+y")
    assert (await now())["values"] == moved["values"]

    # Select by clicking the line (the tool is still Length: a click draws nothing), delete.
    await choose(app, "Length")
    await click(app, ((a[0] + c[0]) / 2, (a[1] + c[1]) / 2))
    await app.page.wait_for_selector(f".measurement-row.selected[data-uid='{uid}']")
    assert await app.page.locator(f"g.measurement.selected[data-uid='{uid}']").count() == 1
    await app.page.keyboard.press("Delete")
    await rows(app, 0)
    assert await app.page.locator("g.measurement").count() == 0
    await app.page.keyboard.press("Control+z")
    await rows(app, 1)
    assert (await now())["values"] == moved["values"]
    await app.page.click(f".measurement-row[data-uid='{uid}'] .measurement-values")
    await app.page.keyboard.press("Backspace")
    await rows(app, 0)
    await app.page.keyboard.press("Control+Shift+z")  # nothing left to redo: still gone
    await app.page.keyboard.press("Control+z")
    await rows(app, 1)


async def test_bidirectional_short_axis_stays_perpendicular_and_values_follow_the_drag(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    """As in OHIF: dragging a short-axis end only lengthens its arm, dragging a long-axis end
    turns the short axis with it; the values on the image are measured during the drag."""
    s = await open_ct(app, orthanc, ct_stack)
    piece = ct_slice(orthanc, ct_stack, 0)
    await choose(app, "Bidirectional")
    await drag(app, s.at(180, 200), s.at(300, 200))
    await rows(app, 1)
    uid = await last_uid(app)

    def arms(points: list[list[float]]) -> tuple[float, float, float]:
        """Each short-axis end's signed distance from the long axis, and the cosine between
        the axes."""
        start, end, *short = (np.array(p) for p in points)
        axis = (end - start) / np.linalg.norm(end - start)
        normal = np.array([-axis[1], axis[0]])
        across = short[1] - short[0]
        return (*(float((p - start) @ normal) for p in short),
                float(across @ axis / np.linalg.norm(across)))

    drawn = await shown(app, uid)
    arm0, arm1, cosine = arms(drawn["points"])
    assert cosine == pytest.approx(0, abs=1e-9) and arm1 == pytest.approx(-arm0)

    # A short-axis end dragged down and sideways: only its arm grows, still perpendicular.
    mouse = app.page.mouse
    await mouse.move(*drawn["handles"][3])
    await mouse.down()
    await mouse.move(drawn["handles"][3][0] + 40, drawn["handles"][3][1] + 40, steps=5)
    during = await app.page.wait_for_function(
        """uid => {
            const group = document.querySelector(`g.measurement[data-uid='${uid}']`);
            const text = group.querySelector('text').textContent;
            return text && !text.includes('undefined') && group.dataset.points;
        }""", arg=uid)
    live_points = json.loads(await during.json_value())
    await app.page.wait_for_function(  # the label catches up with the last move
        "([uid, w]) => document.querySelector(`g.measurement[data-uid='${uid}'] text`)"
        ".textContent.includes(w)",
        arg=[uid, f"W: {measure('Bidirectional', live_points, piece.geometry).value('shortAxis').value:.2f}"])
    await mouse.up()
    await panel_value_changed(app, uid, "shortAxis", drawn["values"]["shortAxis"])
    lengthened = await shown(app, uid)
    new0, new1, cosine = arms(lengthened["points"])
    assert cosine == pytest.approx(0, abs=1e-9)
    pixel = 1 / s.scale  # the pointer lands on whole page pixels
    assert new0 == pytest.approx(arm0) and new1 == pytest.approx(arm1 + 40 * pixel, abs=pixel)
    assert np.allclose(lengthened["points"][:3], drawn["points"][:3])
    assert_values_shown(lengthened, measure("Bidirectional", lengthened["points"], piece.geometry))

    # A long-axis end dragged down: the short axis turns with it, same arms, same crossing.
    await drag(app, lengthened["handles"][1], (lengthened["handles"][1][0],
                                               lengthened["handles"][1][1] + 60))
    await panel_value_changed(app, uid, "longAxis", lengthened["values"]["longAxis"])
    turned = await shown(app, uid)
    turned0, turned1, cosine = arms(turned["points"])
    assert cosine == pytest.approx(0, abs=1e-9)
    assert (turned0, turned1) == pytest.approx((new0, new1))
    assert_values_shown(turned, measure("Bidirectional", turned["points"], piece.geometry))


# ---------------------------------------------------------------- panel and CSV


async def test_label_jump_to_and_csv_export(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    s = await open_ct(app, orthanc, ct_stack)
    await choose(app, "Length")
    await drag(app, s.at(200, 300), s.at(300, 340))
    await rows(app, 1)
    await press(app, "ArrowDown")
    await press(app, "ArrowDown")
    await app.wait_for_image(2, ct_stack.images[2].instance.sop_instance_uid)
    await choose(app, "CircleROI")
    await drag(app, s.at(*AORTA), s.at(AORTA[0], AORTA[1] + 12))
    await rows(app, 2)
    length_uid, circle_uid = await app.page.eval_on_selector_all(
        ".measurement-row", "r => r.map(x => x.dataset.uid)")
    label = app.page.locator(f".measurement-row[data-uid='{length_uid}'] .measurement-label")
    await label.fill("=aorta <i>x</i>")
    await label.press("Enter")
    await app.page.click(f".measurement-row[data-uid='{length_uid}'] .jump")
    await app.wait_for_image(0, ct_stack.images[0].instance.sop_instance_uid)
    await app.settle()
    length = await shown(app, length_uid)
    assert length["label"] == "=aorta <i>x</i>" and length["points"] is not None
    assert await app.page.locator(f"g.measurement[data-uid='{circle_uid}']").count() == 0
    circle = await shown(app, circle_uid)
    assert await app.page.locator(".measurement-series").count() == 1  # one series

    async with app.page.expect_download() as info:
        await app.page.click(".export-csv")
    download = await info.value
    assert download.suggested_filename == "measurements.csv"
    text = Path(await download.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Tool"], r["Label"], r["SOPInstanceUID"]) for r in table] == [
        ("Length", "'=aorta <i>x</i>", ct_stack.images[0].instance.sop_instance_uid),
        ("CircleROI", "", ct_stack.images[2].instance.sop_instance_uid)]
    assert float(table[0]["length"]) == pytest.approx(number(length["values"]["length"]),
                                                      abs=0.0051)
    assert table[0]["length unit"] == "mm"
    assert float(table[1]["mean"]) == pytest.approx(number(circle["values"]["mean"]), abs=0.0051)
    assert table[1]["mean unit"] == "HU"
    assert {r["StudyInstanceUID"] for r in table} == {orthanc.manifest.study("ct").study_uid}


# ---------------------------------------------------------------- DICOM SR round trip


@pytest.fixture(scope="module")
def report_study(orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three CT slices under new UIDs: the report stored here changes no other test's study."""
    return store_copy(orthanc, "ct", "measurements ui",
                      tmp_path_factory.mktemp("report-study")).study_uid


async def all_shown(app: App, stack: DisplaySet) -> dict[str, dict[str, Any]]:
    """Every measurement of the panel as shown on its image, which "Show" brings up."""
    uids = await app.page.eval_on_selector_all(".measurement-row", "r => r.map(x => x.dataset.uid)")
    found = {}
    for uid in uids:
        row = f".measurement-row[data-uid='{uid}']"
        await app.page.click(f"{row} .jump")
        where = await app.page.text_content(f"{row} .measurement-where")
        index = int(where.split()[-1]) - 1
        await app.wait_for_image(index, stack.images[index].instance.sop_instance_uid)
        await app.settle()
        found[uid] = {**await shown(app, uid), "index": index}
    return found


async def test_save_as_dicom_sr_and_reopen(
        browser: Any, site: Any, report_study: str, dicomweb_source: DicomWebSource,
        tmp_path: Path) -> None:
    (stack,) = await cpython_display_sets(dicomweb_source, report_study)
    async with started_app(browser, site) as app:
        await app.open_study(report_study)
        await app.wait_for_image(0)
        await app.settle()
        s = await screen(app)
        await choose(app, "Length")
        await drag(app, s.at(200, 300), s.at(300, 340))
        await press(app, "ArrowDown")
        await app.wait_for_image(1)
        await choose(app, "RectangleROI")
        await drag(app, s.at(260, 300), s.at(320, 350))
        await choose(app, "ArrowAnnotate")
        await drag(app, s.at(100, 100), s.at(150, 140))
        await app.page.fill(".viewport .arrow-text", XSS_IMG)
        await app.page.keyboard.press("Enter")
        await rows(app, 3)
        for index, label in enumerate(("main lesion", "liver", "look here")):
            field = app.page.locator(".measurement-row .measurement-label").nth(index)
            await field.fill(label)
            await field.press("Enter")
        drawn = await all_shown(app, stack)
        await app.page.click(".save-report")
        await app.page.wait_for_selector(".measure-message:has-text('Saved 3 measurements')")

    async with started_app(browser, site) as fresh:
        await fresh.open_study(report_study)
        await fresh.wait_for_image(0)
        await rows(fresh, 3)
        await fresh.settle()
        first_image = await fresh.page.eval_on_selector_all(
            "g.measurement", "g => g.map(x => x.dataset.tool)")
        assert first_image == ["Length"]  # shown on its image as the study opens
        back = await all_shown(fresh, stack)
        assert list(back) == list(drawn)
        assert [m["index"] for m in back.values()] == [0, 1, 1]
        for uid, before in drawn.items():
            again = back[uid]
            assert (again["label"], again["values"], again["arrow"]) == (
                before["label"], before["values"], before["arrow"])
            # SR graphic data is 32-bit float: the points come back to its precision.
            assert np.allclose(again["points"], before["points"], atol=1e-4)
        assert back[list(back)[2]]["arrow"] == XSS_IMG
        assert await fresh.page.locator("img[src='x']").count() == 0

    # The stored report is valid DICOM per dciodvfy.
    async with DICOMwebClient(dicomweb_source) as client:
        (report,) = [ds for ds in await client.retrieve_study_metadata(report_study)
                     if ds.Modality == "SR"]
        data = await client.retrieve_instance(report_study, report.SeriesInstanceUID,
                                              report.SOPInstanceUID)
    path = tmp_path / "report.dcm"
    path.write_bytes(data)
    output = await asyncio.to_thread(dciodvfy, path)
    assert output.strip() == "Comprehensive3DSR", output


async def test_a_refused_report_says_so(browser: Any, site: Any, report_study: str) -> None:
    async with started_app(browser, site) as app:
        refused = []

        async def refuse(route: Any) -> None:
            if route.request.method != "POST":
                await route.continue_()
                return
            refused.append(route.request.url)
            await route.fulfill(status=409, body="no space left for reports")

        await app.page.context.route("**/dicom-web/studies**", refuse)
        await app.open_study(report_study)
        await app.wait_for_image(0)
        await app.settle()
        reported = await app.page.locator(".measurement-row").count()  # saved by another test?
        s = await screen(app)
        await choose(app, "Length")
        await drag(app, s.at(100, 420), s.at(180, 440))  # clear of the saved ones
        await rows(app, reported + 1)
        await app.page.click(".save-report")
        message = app.page.locator(".measure-message.error")
        await message.wait_for()
        text = await message.text_content()
        assert text.startswith("The report was not saved:")
        assert "409" in text and "no space left for reports" in text, text  # the server's word
        assert refused and await app.page.locator(".measurement-row").count() == reported + 1


# ---------------------------------------------------------------- tag browser


async def open_tags(app: App) -> None:
    await app.page.click(".open-tags")
    await app.page.wait_for_selector(".tag-browser[open] .tag-row")


async def close_tags(app: App) -> None:
    await app.page.click(".tag-browser .tag-close")
    await app.page.wait_for_selector(".tag-browser", state="detached")


async def test_tag_browser_shows_a_hostile_value_as_text(app: App, orthanc: LoadedOrthanc) -> None:
    dialogs: list[str] = []
    app.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await app.open_study(orthanc.manifest.study("xss").study_uid)
    await app.page.click(".series-entry:has-text('onerror')")
    await app.wait_for_image(0)
    await open_tags(app)
    value = app.page.locator(".tag-browser .tag-row[data-keyword='SeriesDescription'] .tag-value")
    assert await value.text_content() == XSS_IMG
    assert await app.page.locator(".tag-browser img, img[src='x']").count() == 0
    await close_tags(app)
    assert dialogs == []


async def test_tag_browser_search_image_selector_and_sequences(
        app: App, orthanc: LoadedOrthanc, ct_stack: DisplaySet) -> None:
    await open_ct(app, orthanc, ct_stack)
    await open_tags(app)
    listing = app.page.locator(".tag-browser .tag-list")
    assert await listing.get_attribute("data-sop-instance-uid") == \
        ct_stack.images[0].instance.sop_instance_uid
    everything = await app.page.locator(".tag-browser .tag-list > .tag-row").count()
    assert everything > 30
    await app.page.fill(".tag-browser .tag-search", "0028,0030")
    await app.page.wait_for_function(
        "() => document.querySelectorAll('.tag-browser .tag-list > .tag-row').length === 1")
    row = app.page.locator(".tag-browser .tag-row[data-keyword='PixelSpacing']")
    assert await row.locator(".tag-vr").text_content() == "DS"
    assert await row.locator(".tag-value").text_content() == "0.7\\0.7"
    await app.page.fill(".tag-browser .tag-search", "instancenumber")
    await app.page.select_option(".tag-browser .tag-image", "5")
    sixth = ct_stack.images[5].instance
    await app.page.wait_for_selector(
        f".tag-browser .tag-list[data-sop-instance-uid='{sixth.sop_instance_uid}']")
    number_row = app.page.locator(".tag-browser .tag-row[data-keyword='InstanceNumber'] .tag-value")
    assert await number_row.text_content() == str(sixth.instance_number)
    await close_tags(app)

    # A sequence opens to its items and their elements; a search opens it by itself.
    await app.open_study(orthanc.manifest.study("voi-lut").study_uid)
    await app.wait_for_image(0)
    await open_tags(app)
    sequence = app.page.locator(".tag-browser details[data-keyword='VOILUTSequence']")
    explanation = sequence.locator(".tag-row[data-keyword='LUTExplanation']")
    assert not await explanation.is_visible()
    await sequence.locator(":scope > summary").click()
    await sequence.locator(":scope > details > summary").click()  # Item 1
    assert await explanation.is_visible()
    await close_tags(app)
    await open_tags(app)
    await app.page.fill(".tag-browser .tag-search", "LUTExplanation")
    await app.page.wait_for_function(
        "() => document.querySelectorAll('.tag-browser .tag-list > *').length === 1")
    assert await app.page.locator(
        ".tag-browser .tag-row[data-keyword='LUTExplanation']").first.is_visible()
    await close_tags(app)
