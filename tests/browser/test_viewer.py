"""The viewer in Chromium against the real Orthanc: what is on the canvas is ``ohifpy render``.

One page serves the whole module (Pyodide starts once); each test moves through the app
with its own navigation. Pixels are read back from the viewport canvas, which holds the
image at its own size whatever the zoom (zoom is a CSS transform), and compared with the
CPython pipeline rendering the same frame from the same server: exactly for lossless
transfer syntaxes, within a small tolerance for lossy ones, whose decoders (WebAssembly
here, pylibjpeg or the server's in CPython) may round differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import BadStudy, LoadedOrthanc, make_test_data
from pydicom.uid import UID

from ohifpy.config import DicomWebSource
from ohifpy.display_format import person_name
from ohifpy.imaging import VOIWindow

from .conftest import App, cpython_display_sets, cpython_render

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds


@dataclass(frozen=True)
class ImageCase:
    """One image of a test study in one transfer syntax."""

    study_key: str
    study_uid: str
    sop_uid: str
    transfer_syntax_uid: str

    @property
    def lossless(self) -> bool:
        return self.transfer_syntax_uid not in make_test_data.LOSSY_SYNTAXES


def _image_cases() -> list[Any]:
    """Every study of the manifest, once per transfer syntax among its instances."""
    cases = []
    for study in make_test_data.ensure().studies:
        if study.group in make_test_data.NON_IMAGE_GROUPS:
            continue
        seen = set()
        for instance in study.instances:
            if instance.transfer_syntax_uid in seen:
                continue
            seen.add(instance.transfer_syntax_uid)
            case = ImageCase(study.key, study.study_uid, instance.sop_uid,
                             instance.transfer_syntax_uid)
            name = UID(instance.transfer_syntax_uid).keyword or instance.transfer_syntax_uid
            cases.append(pytest.param(case, id=f"{study.key}-{name}"))
    return cases


async def show_image(app: App, source: DicomWebSource, study_uid: str, sop_uid: str) -> int:
    """Open the study, pick the display set holding the instance, step to its first frame.

    Returns the image index. The display sets and their order come from the CPython
    model; the page must agree (it runs the same code) or the wait times out.
    """
    for display_set in await cpython_display_sets(source, study_uid):
        for index, image in enumerate(display_set.images):
            if image.instance.sop_instance_uid == sop_uid and image.frame_number == 1:
                await app.open_study(study_uid)
                await app.show_display_set(display_set.display_set_uid)
                await app.wait_for_image(0, display_set_uid=display_set.display_set_uid)
                await app.go_to_image(index)
                await app.wait_for_image(index, sop_uid, display_set.display_set_uid)
                return index
    raise AssertionError(f"instance {sop_uid} is in no display set of study {study_uid}")


def assert_same_pixels(shown: np.ndarray, expected: np.ndarray, lossless: bool) -> None:
    assert shown.shape == expected.shape
    if lossless:
        differing = np.argwhere(np.any(shown != expected, axis=-1))
        assert differing.size == 0, (
            f"{len(differing)} pixels differ, first at {differing[0].tolist()}: "
            f"{shown[tuple(differing[0])]} != {expected[tuple(differing[0])]}")
        return
    diff = np.abs(shown.astype(np.int16) - expected.astype(np.int16))[..., :3]
    assert diff.mean() <= 1.5, f"mean difference {diff.mean():.2f}"
    assert np.mean(diff > 16) <= 0.01, f"{np.mean(diff > 16):.2%} of samples differ by more than 16"


@pytest.mark.parametrize("case", _image_cases())
async def test_canvas_equals_ohifpy_render(app: App, dicomweb_source: DicomWebSource,
                                     case: ImageCase) -> None:
    await show_image(app, dicomweb_source, case.study_uid, case.sop_uid)
    shown = await app.pixels()
    expected = await cpython_render(dicomweb_source, case.study_uid, sop=case.sop_uid)
    assert_same_pixels(shown, expected, case.lossless)


async def _stable_window(app: App) -> tuple[float, float]:
    """The window on the canvas once renders stop coming (a drag queues several)."""
    last = None
    for _ in range(100):
        await app.settle()
        data = await app.canvas()
        current = (data["windowCenter"], data["windowWidth"])
        if current == last:
            return float(current[0]), float(current[1])
        last = current
        await app.page.wait_for_timeout(150)
    raise AssertionError(f"the window never settled: {last}")


async def _viewport_center(app: App) -> tuple[float, float]:
    box = await app.page.locator(".viewport").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def _drag(app: App, button: str, dx: float, dy: float) -> None:
    x, y = await _viewport_center(app)
    mouse = app.page.mouse
    await mouse.move(x, y)
    await mouse.down(button=button)
    await mouse.move(x + dx, y + dy, steps=8)
    await mouse.up(button=button)


async def test_scroll_window_level_zoom_and_pan(app: App, orthanc: LoadedOrthanc,
                                          dicomweb_source: DicomWebSource) -> None:
    ct = orthanc.manifest.study("ct")
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    await app.open_study(ct.study_uid)
    await app.wait_for_image(0, stack.images[0].instance.sop_instance_uid)
    first = await app.pixels()

    x, y = await _viewport_center(app)
    await app.page.mouse.move(x, y)
    for _ in range(3):
        await app.page.mouse.wheel(0, 120)
    third = stack.images[3].instance.sop_instance_uid
    await app.wait_for_image(3, third)
    scrolled = await app.pixels()
    assert not np.array_equal(scrolled, first)
    assert np.array_equal(scrolled, await cpython_render(dicomweb_source, ct.study_uid, sop=third))
    await app.page.keyboard.press("ArrowUp")
    await app.wait_for_image(2, stack.images[2].instance.sop_instance_uid)
    await app.page.keyboard.press("ArrowDown")
    await app.wait_for_image(3, third)

    center, width = await _stable_window(app)
    await _drag(app, "left", -120, 0)  # to the left: a narrower window, more contrast
    new_center, new_width = await _stable_window(app)
    assert new_width < width and new_center == center
    windowed = await app.pixels()
    assert windowed[..., 0].std() > scrolled[..., 0].std()
    assert np.array_equal(windowed, await cpython_render(
        dicomweb_source, ct.study_uid, sop=third, window=VOIWindow(new_center, new_width)))

    canvas = app.page.locator(App.CANVAS)
    before = await canvas.bounding_box()
    await _drag(app, "right", 0, -100)  # up: zoom in
    zoomed = await canvas.bounding_box()
    assert zoomed["width"] > 1.5 * before["width"]
    assert zoomed["height"] > 1.5 * before["height"]
    assert np.array_equal(await app.pixels(), windowed)  # a view transform, not a re-render

    await _drag(app, "middle", 40, 30)
    panned = await canvas.bounding_box()
    assert panned["x"] == pytest.approx(zoomed["x"] + 40, abs=1)
    assert panned["y"] == pytest.approx(zoomed["y"] + 30, abs=1)


async def _viewport_error(app: App) -> str:
    await app.page.wait_for_selector(".viewport.failed", timeout=60_000)
    return await app.page.inner_text(".viewport-message")


async def test_corrupt_frame_shows_an_error_and_the_rest_keeps_working(
        app: App, corrupt_study: BadStudy, dicomweb_source: DicomWebSource,
        orthanc: LoadedOrthanc) -> None:
    (stack,) = await cpython_display_sets(dicomweb_source, corrupt_study.study_uid)
    order = [image.instance.sop_instance_uid for image in stack.images]
    await app.open_study(corrupt_study.study_uid)
    await app.page.focus(".viewport")
    await app.page.keyboard.press("Home")
    for index, sop in enumerate(order):
        if index:
            await app.page.keyboard.press("ArrowDown")
        if sop == corrupt_study.good_sop_uid:
            await app.wait_for_image(index, sop)
            assert await app.page.inner_text(".viewport-message") == ""
            assert np.array_equal(await app.pixels(), await cpython_render(
                dicomweb_source, corrupt_study.study_uid, sop=sop))
            continue
        await app.page.wait_for_selector(f".viewport.failed canvas[data-image-index='{index}']",
                                   state="attached", timeout=60_000)
        message = await _viewport_error(app)
        assert f"Image {index + 1} cannot be shown" in message
        if sop == corrupt_study.corrupt_sop_uid:
            assert "JPEG-LS" in message

    await app.page.click("#home")  # the study list still works
    ct = orthanc.manifest.study("ct")
    await app.page.wait_for_selector(f"tr[data-study-instance-uid='{ct.study_uid}']", timeout=60_000)


async def test_study_list_shows_dicom_strings_as_text(app: App, orthanc: LoadedOrthanc) -> None:
    dialogs: list[str] = []

    async def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    app.page.on("dialog", dismiss)
    await app.navigate("")
    xss = orthanc.manifest.study("xss")
    row = await app.page.wait_for_selector(f"tr[data-study-instance-uid='{xss.study_uid}']",
                                     timeout=60_000)
    assert person_name(xss.patient_name) in await row.inner_text()
    assert "<" in await row.inner_text()  # the markup is shown as text...
    assert await app.page.locator("main img, main script, main iframe").count() == 0  # ...not run
    assert dialogs == []
    rows = app.page.locator("tbody tr")
    assert await rows.count() >= len(orthanc.manifest.studies)
    empty = orthanc.manifest.study("no-modality")
    assert await app.page.locator(f"tr[data-study-instance-uid='{empty.study_uid}']").count() == 1
