"""SEG and RTSTRUCT overlays in Chromium against the real Orthanc (issue 14 items 1, 2, 6).

The ``ct-seg`` study: 40 CT slices, a binary SEG of five structures (one labelled with
markup), a fractional SEG and an RTSTRUCT of the same structures
(:mod:`ohifpy.synthetic_objects`). What a person sees: clicking the SEG shows it over the
CT, the canvas being exactly the CPython blend of the structures' masks in their colours at
the default opacity; "Go to" scrolls to the slice through a segment's centre; hiding a
segment or changing its opacity changes its pixels and no others; an RTSTRUCT's circle
contour lies on the screen where its patient points are; hostile labels are text; a SEG
hung first opens over its source.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy import synthetic_objects
from ohifpy.config import DicomWebSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.image_loader import load_image_frame
from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba
from ohifpy.model import DisplaySet
from ohifpy.overlays.cielab import default_color
from ohifpy.viewer.segmentations import MaskLayer, blend, outline

from .conftest import App, cpython_display_sets, eventually
from .test_viewer_layout import canvas_pixels, open_viewer, save_screenshot, viewer_url

pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

HOSTILE = "<img src=x onerror=alert(1)>"
CANVAS = ".viewport canvas"


class Study:
    """The ct-seg study as CPython sees it: display sets, the CT's HU, its headers."""

    def __init__(self, uid: str, display_sets: list[DisplaySet], hu: np.ndarray) -> None:
        self.uid, self.display_sets, self.hu = uid, display_sets, hu
        self.ct = display_sets[0]
        self.datasets = [image.instance.metadata for image in self.ct.images]

    def uid_of(self, description: str) -> str:
        (found,) = [d.display_set_uid for d in self.display_sets
                    if d.series_description == description]
        return found

    def inside(self, structure: synthetic_objects.Structure) -> np.ndarray:
        return structure.contains(*synthetic_objects.voxel_centres(self.datasets))


@pytest.fixture(scope="module")
async def study(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> Study:
    uid = orthanc.manifest.study(synthetic_objects.CT_SEG_KEY).study_uid
    display_sets = await cpython_display_sets(dicomweb_source, uid)
    assert [d.kind for d in display_sets] == ["image", "seg", "seg", "rtstruct"]
    async with DICOMwebDataSource(dicomweb_source) as source:
        frames = await asyncio.gather(*(load_image_frame(source, image)
                                        for image in display_sets[0].images))
    return Study(uid, display_sets, np.stack([frame.values for frame in frames]))


async def open_study(app: App, study: Study, **params: str) -> None:
    await open_viewer(app, viewer_url(study.uid, **params))
    await app.page.wait_for_selector(f".viewport:not(.failed) canvas[data-image-index]"
                                     f"[data-display-set-uid='{study.ct.display_set_uid}']",
                                     state="attached", timeout=60_000)


def item(uid: str) -> str:
    return f".segmentation-panel .segmentation[data-display-set-uid='{uid}']"


def row(uid: str, number: int) -> str:
    return f"{item(uid)} .segment-row[data-number='{number}']"


async def shown_window(app: App) -> VOIWindow:
    data = await app.page.eval_on_selector(CANVAS, "c => ({...c.dataset})")
    return VOIWindow(float(data["windowCenter"]), float(data["windowWidth"]))


def expected(study: Study, index: int, window: VOIWindow,
             styles: dict[int, tuple[bool, float, str]] | None = None) -> np.ndarray:
    """The CPython blend of the binary SEG's structures over CT image ``index``."""
    plain = render_rgba(ImageFrame(np.ascontiguousarray(study.hu[index]), "MONOCHROME2"), window)
    layers = []
    for structure in synthetic_objects.STRUCTURES:
        visible, opacity, mode = (styles or {}).get(structure.number, (True, 0.5, "both"))
        mask = study.inside(structure)[index]
        if visible and mask.any():
            layers.append(MaskLayer(mask, structure.rgb or default_color(structure.number),
                                    opacity, mode))
    return blend(plain, layers)


async def go_to(app: App, uid: str, number: int, index: int) -> None:
    await app.page.click(f"{row(uid, number)} .segment-goto")
    await app.page.wait_for_selector(f".viewport:not(.failed) canvas[data-image-index='{index}']",
                                     state="attached", timeout=30_000)


async def test_seg_over_the_ct_is_the_cpython_blend_and_its_styles_change_only_its_pixels(
        app: App, study: Study, tmp_path_factory: pytest.TempPathFactory) -> None:
    await open_study(app, study)
    seg = study.uid_of("SEG binary, 5 segments")
    # The series panel lists the SEG with its modality; a click shows it over the CT.
    entry = f".series-entry[data-display-set-uid='{seg}']"
    assert await app.page.eval_on_selector(f"{entry} .modality", "n => n.textContent") == "SEG"
    await app.show_display_set(seg)
    await app.page.wait_for_selector(f"{item(seg)}[data-drawn='true']", timeout=60_000)
    assert await app.page.get_attribute(".viewer", "data-segmentations") == "open"
    assert await app.page.eval_on_selector(
        CANVAS, "c => c.dataset.displaySetUid") == study.ct.display_set_uid
    mark = await app.page.evaluate(
        "() => performance.getEntriesByName('ohifpy:segmentation-shown', 'mark').length")
    assert mark == 1

    # Its segments: labels as text (the markup one too), colours, volumes, HU.
    labels = await app.page.eval_on_selector_all(f"{item(seg)} .segment-label",
                                                 "ns => ns.map(n => n.textContent)")
    assert labels == [s.label for s in synthetic_objects.STRUCTURES]
    assert HOSTILE in labels
    assert await app.page.locator(".segmentation-panel img").count() == 0
    swatch = await app.page.eval_on_selector(f"{row(seg, 1)} .segment-swatch",
                                             "n => getComputedStyle(n).backgroundColor")
    assert swatch == "rgb(220, 50, 50)"
    stats = await app.page.eval_on_selector(f"{row(seg, 1)} .segment-stats",
                                            "n => n.textContent")
    sphere = study.inside(synthetic_objects.STRUCTURES[0])
    volume = sphere.sum() * 0.7 * 0.7 * 1.25 / 1000
    assert stats.startswith(f"{volume:.2f} mL") and "HU" in stats
    assert f"min {study.hu[sphere].min():g}" in stats

    # "Go to" the sphere: the slice through its centre (z = -80 mm, image 16).
    await go_to(app, seg, 1, 16)
    window = await shown_window(app)

    async def shows(expected_rgba: np.ndarray) -> None:
        shown = await canvas_pixels(app, CANVAS)
        differing = np.argwhere(np.any(shown != expected_rgba, axis=-1))
        assert differing.size == 0, f"{len(differing)} pixels differ, first {differing[:3]}"

    await eventually(lambda: shows(expected(study, 16, window)))
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "seg-over-ct.png")
    before = await canvas_pixels(app, CANVAS)

    # Hiding the sphere changes exactly its pixels, back to the plain CT.
    await app.page.click(f"{row(seg, 1)} .segment-visible")
    hidden_styles = {1: (False, 0.5, "both")}
    await eventually(lambda: shows(expected(study, 16, window, hidden_styles)))
    hidden = await canvas_pixels(app, CANVAS)
    assert np.array_equal(np.any(hidden != before, axis=-1), sphere[16])

    # The box at full opacity: only its inside changes (its outline is opaque already).
    await app.page.eval_on_selector(
        f"{row(seg, 2)} .segment-opacity",
        "n => { n.value = '1'; n.dispatchEvent(new Event('input', {bubbles: true})); }")
    denser_styles = {**hidden_styles, 2: (True, 1.0, "both")}
    await eventually(lambda: shows(expected(study, 16, window, denser_styles)))
    denser = await canvas_pixels(app, CANVAS)
    box = study.inside(synthetic_objects.STRUCTURES[1])[16]
    changed = np.any(denser != hidden, axis=-1)
    assert changed.any() and not (changed & ~(box & ~outline(box))).any()

    # Outline only, then the segmentation removed: the plain CT.
    await app.page.select_option(f"{row(seg, 4)} .segment-mode", "outline")
    await eventually(lambda: shows(expected(study, 16, window,
                                            {**denser_styles, 4: (True, 0.5, "outline")})))
    await app.page.click(f"{item(seg)} .segmentation-remove")
    await eventually(lambda: shows(expected(study, 16, window,
                                            {n: (False, 0, "fill") for n in range(1, 6)})))
    assert await app.page.locator(item(seg)).count() == 0


async def test_rtstruct_contours_land_on_their_pixels_and_names_are_text(
        app: App, study: Study, tmp_path_factory: pytest.TempPathFactory) -> None:
    await open_study(app, study)
    rt = study.uid_of("RTSTRUCT of the structures")
    await app.show_display_set(rt)
    await app.page.wait_for_selector(f"{row(rt, 7)}", timeout=60_000)
    names = await app.page.eval_on_selector_all(f"{item(rt)} .segment-label",
                                                "ns => ns.map(n => n.textContent)")
    assert names == [s.label for s in synthetic_objects.STRUCTURES] + [
        synthetic_objects.POINT_ROI[1], synthetic_objects.LINE_ROI[1]]
    assert await app.page.locator(".segmentation-panel img").count() == 0
    await go_to(app, rt, 1, 16)
    polygon = ".viewport .roi-contours g.roi[data-roi='1'] polygon"
    await app.page.wait_for_selector(polygon, state="attached", timeout=30_000)
    await app.settle()
    await save_screenshot(app.page, tmp_path_factory, "rtstruct-over-ct.png")

    # The sphere's circle at z = -80 mm: its patient points on the CT's pixel grid, mapped
    # to the viewport as the canvas is drawn (pixel centres at half a screen pixel).
    ds = study.datasets[16]
    x0, y0, z = (float(v) for v in ds.ImagePositionPatient)
    row_mm, column_mm = (float(v) for v in ds.PixelSpacing)
    circle = synthetic_objects.STRUCTURES[0].contour(z)
    columns, rows = (circle[:, 0] - x0) / column_mm, (circle[:, 1] - y0) / row_mm
    canvas = await app.page.locator(CANVAS).bounding_box()
    viewport = await app.page.locator(".viewport").bounding_box()
    width, height = await app.page.eval_on_selector(CANVAS, "c => [c.width, c.height]")
    expected_points = np.stack([
        canvas["x"] - viewport["x"] + (columns + 0.5) * canvas["width"] / width,
        canvas["y"] - viewport["y"] + (rows + 0.5) * canvas["height"] / height], axis=1)
    text = await app.page.get_attribute(polygon, "points")
    shown = np.array([[float(v) for v in pair.split(",")] for pair in text.split()])
    np.testing.assert_allclose(shown, expected_points, atol=0.05)
    assert await app.page.get_attribute(polygon, "stroke") == "rgb(220, 50, 50)"
    # the ROI point and the open line of z = -80 mm are drawn too
    assert await app.page.locator(".roi-contours g.roi[data-roi='6'] circle").count() == 1
    assert await app.page.locator(".roi-contours g.roi[data-roi='7'] polyline").count() == 1

    # Hidden, the ROI's contour goes; zoomed, it follows the image.
    await app.page.click(f"{row(rt, 1)} .segment-visible")
    await app.page.wait_for_selector(polygon, state="detached", timeout=30_000)
    await app.page.click(f"{row(rt, 1)} .segment-visible")
    await app.page.wait_for_selector(polygon, state="attached", timeout=30_000)
    await app.page.focus(".viewport")
    await app.page.keyboard.press("+")  # zoom in
    await eventually(lambda: _moved(app, polygon, text))
    await app.page.keyboard.press("Space")  # reset the view


async def _moved(app: App, selector: str, before: str) -> None:
    assert await app.page.get_attribute(selector, "points") != before


async def test_a_seg_hung_first_opens_over_its_source_in_that_viewport(
        app: App, study: Study) -> None:
    fractional = study.uid_of("SEG fractional, 2 segments")
    series = next(d.series_instance_uid for d in study.display_sets
                  if d.display_set_uid == fractional)
    await open_viewer(app, viewer_url(study.uid, initialSeriesInstanceUID=series))
    await app.page.wait_for_selector(f"{item(fractional)}[data-drawn='true']", timeout=60_000)
    assert await app.page.eval_on_selector(
        ".viewport[data-active='true'] canvas",
        "c => c.dataset.displaySetUid") == study.ct.display_set_uid
    labels = await app.page.eval_on_selector_all(f"{item(fractional)} .segment-label",
                                                 "ns => ns.map(n => n.textContent)")
    assert labels == ["Soft sphere", "Partial box"]
    note = await app.page.eval_on_selector(f"{row(fractional, 2)} .segment-note",
                                           "n => n.textContent")
    assert "default colour" in note


async def test_mpr_views_show_the_seg_blended_like_the_stack(app: App, study: Study) -> None:
    await open_study(app, study)
    seg = study.uid_of("SEG binary, 5 segments")
    await app.show_display_set(seg)
    await app.page.wait_for_selector(f"{item(seg)}[data-drawn='true']", timeout=60_000)
    await app.page.click(".layout-button")
    await app.page.click(".layout-protocol[data-protocol='mpr']")
    axial = ".viewport[data-mpr-view='axial'] canvas[data-display-set-uid^='mpr:']"
    await app.page.wait_for_selector(
        ".viewport[data-mpr-view='axial']:not(.failed) canvas[data-image-index]",
        state="attached", timeout=60_000)

    async def same() -> None:
        data = await app.page.eval_on_selector(axial, "c => ({...c.dataset})")
        window = VOIWindow(float(data["windowCenter"]), float(data["windowWidth"]))
        shown = await canvas_pixels(app, axial)
        wanted = expected(study, int(data["imageIndex"]), window)
        differing = np.argwhere(np.any(shown != wanted, axis=-1))
        assert differing.size == 0, f"{len(differing)} pixels differ"

    # the axial view through the sphere (the stack's image 16), as the stack shows it
    await app.page.focus(".viewport[data-mpr-view='axial']")
    index = int(await app.page.eval_on_selector(axial, "c => c.dataset.imageIndex"))
    for _ in range(abs(16 - index)):
        await app.page.keyboard.press("ArrowDown" if index < 16 else "ArrowUp")
    await app.page.wait_for_selector(f"{axial}[data-image-index='16']", state="attached")
    await eventually(same)
    # hiding every segment takes the overlay off the views too
    for number in range(1, 6):
        await app.page.click(f"{row(seg, number)} .segment-visible")
    plain = {n: (False, 0.5, "both") for n in range(1, 6)}

    async def plain_view() -> None:
        data = await app.page.eval_on_selector(axial, "c => ({...c.dataset})")
        window = VOIWindow(float(data["windowCenter"]), float(data["windowWidth"]))
        assert np.array_equal(await canvas_pixels(app, axial),
                              expected(study, 16, window, plain))

    await eventually(plain_view)
    await app.page.click(".layout-button")
    await app.page.click(".layout-protocol[data-protocol='mpr']")  # back to the stack
    await app.page.wait_for_selector("[data-mpr-view]", state="detached")
