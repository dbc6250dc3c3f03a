"""One viewport and its tools in Chromium, driven as a person does: keys, clicks, wheel,
drags and touches, checked on screen (canvas pixels, overlay text, data-* attributes).

One page serves most of the module (Pyodide starts once); touch needs a context of its
own (``has_touch``). The real Orthanc serves the synthetic studies: the axial 200-slice
CT (0.7 mm pixels, two header windows), the sagittal MR and the 30-frame XA cine.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from PIL import Image

from .conftest import App, _close_context, _open_context

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]



# ---------------------------------------------------------------- helpers




async def open_first(app: App, orthanc: LoadedOrthanc, key: str) -> None:
    """Open a study of the manifest and wait for its first image."""
    await app.open_study(orthanc.manifest.study(key).study_uid)
    await app.wait_for_image(0)
    await app.page.focus(".viewport")


async def corner(app: App, name: str) -> str:
    return await app.page.inner_text(f".viewport .overlay.{name}")


async def screenshot(locator: Any) -> np.ndarray:
    """What the screen shows in the element's box, as RGB."""
    return np.asarray(Image.open(io.BytesIO(await locator.screenshot())).convert("RGB"))


def assert_same_image(shown: np.ndarray, expected: np.ndarray, margin: int = 6) -> None:
    """Equal but for placement: element boxes land on whole pixels, so a turned box may sit a
    pixel off (the best of the one-pixel shifts counts); the edges, where the active
    viewport's outline is drawn, are left out."""
    assert all(abs(a - b) <= 1 for a, b in zip(shown.shape, expected.shape, strict=True))
    rows = min(shown.shape[0], expected.shape[0]) - 2 * margin
    columns = min(shown.shape[1], expected.shape[1]) - 2 * margin
    inner = shown[margin:margin + rows, margin:margin + columns].astype(np.int16)
    diffs = [np.abs(inner - expected[margin + dy:margin + dy + rows,
                                     margin + dx:margin + dx + columns].astype(np.int16))
             for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    diff = min(diffs, key=np.mean)
    assert diff.mean() < 1.0 and np.mean(diff > 32) < 0.005, (diff.mean(), np.mean(diff > 32))


async def markers(app: App) -> dict[str, str]:
    return await app.page.eval_on_selector_all(
        ".viewport .orientation-marker",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.edge, n.textContent]))")


async def canvas_data(app: App, name: str) -> str:
    return await app.page.get_attribute(App.CANVAS, f"data-{name}")


async def wait_for_canvas(app: App, name: str, value: str) -> None:
    await app.page.wait_for_selector(f"{App.CANVAS}[data-{name}='{value}']", state="attached",
                                     timeout=30_000)


async def zoom_percent(app: App) -> int:
    text = await corner(app, "bottom-right")
    return int(text.split("Zoom: ")[1].rstrip("%"))


async def press(app: App, *keys: str) -> None:
    for key in keys:
        await app.page.keyboard.press(key)
    await app.settle()


async def toolbar_button(app: App, label: str) -> Any:
    """The toolbar's button named `label`, where it can be pressed (conftest)."""
    return await app.toolbar_control(f"button[aria-label='{label}']")


async def viewport_box(app: App) -> dict[str, float]:
    return await app.page.locator(".viewport").bounding_box()


async def save_screenshot(app: App, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A screenshot under the session's tmp dir, for a person to look at."""
    path = tmp_path_factory.getbasetemp() / "screenshots" / name
    path.parent.mkdir(exist_ok=True)
    await app.page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


async def screen_rgb(app: App) -> np.ndarray:
    """What the page shows (a screenshot), as (rows, columns, 3) RGB."""
    png = await app.page.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ---------------------------------------------------------------- coordinate mapping

# A Viewport on a stub worker answering one black image but for a red pixel at ``red``
# ([column, row]); ``aspect`` is its pixels' height over width (the render answer's).
STUB_VIEWPORT = """async ({ width, height, red, aspect, pixelSizeMm }) => {
    const { Viewport } = await import(new URL('viewport.js', document.baseURI));
    const worker = {
        recycle() {},
        async call() {
            const rgba = new Uint8Array(width * height * 4);
            for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
            rgba.set([255, 0, 0, 255], (red[1] * width + red[0]) * 4);
            return { width, height, rgba, imageIndex: 0, window: null, presets: [], aspect,
                     overlay: { imageIndex: 0, numImages: 1, sopInstanceUID: 's', frameNumber: 1,
                                orientationMarkers: null, pixelSizeMm } };
        },
    };
    const host = document.createElement('div');
    host.style.cssText = 'position:fixed;left:30px;top:40px;width:400px;height:300px;display:flex;z-index:9';
    document.body.append(host);
    const viewport = new Viewport(worker);
    host.append(viewport.element);
    viewport.element.classList.add('overlays-hidden');
    const drawn = new Promise(r => viewport.addEventListener('imagechange', r, { once: true }));
    viewport.setDisplaySet({ displaySetUID: 'd', seriesInstanceUID: 's', numImages: 1 });
    await drawn;
    window.stubViewport = viewport;
    window.viewChanges = 0;
    viewport.addEventListener('viewchange', () => window.viewChanges++);
}"""

TRANSFORM = """async ([[rotation, flipH, flipV, zoom, pan], points, red]) => {
    const viewport = window.stubViewport;
    viewport.resetView();
    viewport.rotate(rotation);
    if (flipH) viewport.flipHorizontal();
    if (flipV) viewport.flipVertical();
    viewport.zoomBy(zoom);
    viewport.pan = pan;
    viewport.layout();
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const back = points.map(p => viewport.clientToImage(viewport.imageToClient(p)));
    const box = viewport.element.getBoundingClientRect();
    const [x, y] = viewport.imageToClient(red);
    const canvas = viewport.canvas.getBoundingClientRect();
    const bar = viewport.scaleBar;
    return { points, back, red: [box.left + x, box.top + y], viewChanges: window.viewChanges,
             canvas: [canvas.width, canvas.height], scale: viewport.scale(),
             barMmPerPixel: Number(bar.dataset.mm) / parseFloat(bar.style.width) };
}"""
REMOVE_STUB = ("() => { const v = window.stubViewport; v.element.parentNode.remove(); "
               "v.destroy(); }")


async def test_image_and_client_coordinates_invert_each_other_and_find_a_pixel(app: App) -> None:
    """A Viewport on a stub worker: a 40x30 image, black but one red pixel at (16, 12).

    Under every rotation and flip, zoomed and panned or not,
    clientToImage(imageToClient(p)) == p, and the screen is red exactly where
    imageToClient puts the centre of pixel (16, 12) (and black 1.5 pixels away).
    """
    await app.navigate("nothing-here")  # an empty page of the running app
    await app.page.evaluate(STUB_VIEWPORT, {"width": 40, "height": 30, "red": [16, 12],
                                            "aspect": 1, "pixelSizeMm": None})
    points = [[0, 0], [39, 29], [16, 12], [-3.25, 17.5], [22.7, -4.1]]
    view_changes = 0
    for rotation in (0, 90, 180, 270):
        for flip_h in (False, True):
            for flip_v in (False, True):
                for zoom, pan in ((1, [0, 0]), (2.5, [37, -21])):
                    case = [rotation, flip_h, flip_v, zoom, pan]
                    result = await app.page.evaluate(TRANSFORM, [case, points, [16, 12]])
                    assert result["viewChanges"] > view_changes  # each change told listeners
                    view_changes = result["viewChanges"]
                    for point, back in zip(result["points"], result["back"]):
                        assert back == pytest.approx(point, abs=1e-9), case
                    shown = await screen_rgb(app)
                    x, y = (math.floor(v) for v in result["red"])
                    red, green, blue = (int(v) for v in shown[y, x])  # smoothed: nearly red
                    assert red > 200 and green < 30 and blue < 30, case
                    step = math.ceil(10 * zoom * 1.5)  # 10 screen pixels per image pixel at fit
                    assert shown[y, x + step].max() == 0 and shown[y + step, x].max() == 0, case
    await app.page.evaluate(REMOVE_STUB)


async def test_pixels_taller_than_wide_are_drawn_to_scale(app: App) -> None:
    """A Viewport on a stub worker: a 40x15 image whose pixels are twice as tall as wide
    (the render answer's aspect 2), black but one red pixel at (16, 6). Under every
    rotation and flip, zoomed and panned or not, clientToImage(imageToClient(p)) == p, the
    screen is red where imageToClient puts that pixel's centre, the canvas is drawn 40
    wide by 30 tall in units of a column, the scale bar reads the same mm per screen pixel
    turned or not, and a capture shows the image stretched as the screen does."""
    await app.navigate("nothing-here")  # an empty page of the running app
    await app.page.evaluate(STUB_VIEWPORT, {"width": 40, "height": 15, "red": [16, 6], "aspect": 2,
                                            "pixelSizeMm": {"column": 1, "row": 2}})
    points = [[0, 0], [39, 14], [16, 6], [-3.25, 7.5], [22.7, -4.1]]
    for rotation in (0, 90, 180, 270):
        for flip_h, flip_v in ((False, False), (True, False), (False, True)):
            for zoom, pan in ((1, [0, 0]), (2.5, [37, -21])):
                case = [rotation, flip_h, flip_v, zoom, pan]
                result = await app.page.evaluate(TRANSFORM, [case, points, [16, 6]])
                for point, back in zip(result["points"], result["back"], strict=True):
                    assert back == pytest.approx(point, abs=1e-9), case
                across, down = result["canvas"]
                if rotation % 180:
                    across, down = down, across
                assert (across, down) == pytest.approx(
                    (40 * result["scale"], 30 * result["scale"]), abs=0.01), case
                assert result["barMmPerPixel"] == pytest.approx(1 / result["scale"], rel=1e-6), case
                shown = await screen_rgb(app)
                x, y = (math.floor(v) for v in result["red"])
                red, green, blue = (int(v) for v in shown[y, x])
                assert red > 200 and green < 30 and blue < 30, case
                # a pixel is 10 screen pixels across and 20 down at fit: 1.5 pixels away is
                # black (where that is still in the viewport, at 30..430 x 40..340)
                across_step = math.ceil(15 * zoom)
                down_step = math.ceil(30 * zoom)
                dx, dy = (down_step, across_step) if rotation % 180 else (across_step, down_step)
                for sx, sy in ((x + dx, y), (x - dx, y), (x, y + dy), (x, y - dy)):
                    if 30 < sx < 430 and 40 < sy < 340:
                        assert shown[sy, sx].max() == 0, (case, sx, sy)
    # The capture: the viewport as shown, the red pixel where the screen has it.
    capture = await app.page.evaluate("""async () => {
        const v = window.stubViewport;
        v.resetView();
        const blob = await v.capture();
        const bitmap = await createImageBitmap(blob);
        const c = new OffscreenCanvas(bitmap.width, bitmap.height);
        const g = c.getContext('2d');
        g.drawImage(bitmap, 0, 0);
        const [x, y] = v.imageToClient([16, 6]);
        const at = (px, py) => [...g.getImageData(Math.floor(px), Math.floor(py), 1, 1).data];
        return { red: at(x, y), below: at(x, y + 25), beside: at(x + 12, y) };
    }""")
    assert capture["red"][0] > 200 and capture["red"][1] < 30, capture
    assert max(capture["below"][:3]) == 0 and max(capture["beside"][:3]) == 0, capture
    await app.page.evaluate(REMOVE_STUB)


# ---------------------------------------------------------------- the viewer's viewport


async def test_stack_scroll_by_wheel_keys_and_slider(app: App, orthanc: LoadedOrthanc,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    await open_first(app, orthanc, "ct")
    assert (await corner(app, "bottom-left")).startswith("Im: 1/200")
    box = await viewport_box(app)
    await app.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(2):
        await app.page.mouse.wheel(0, 120)
    await app.wait_for_image(2)
    await press(app, "ArrowDown")
    await app.wait_for_image(3)
    await press(app, "ArrowUp", "ArrowUp")
    await app.wait_for_image(1)
    await press(app, "End")
    await app.wait_for_image(199)
    assert (await corner(app, "bottom-left")).startswith("Im: 200/200")
    await press(app, "Home")
    await app.wait_for_image(0)

    slider = app.page.locator(".viewport .stack-slider")
    assert await slider.get_attribute("aria-valuetext") == "Image 1 of 200"
    track = await slider.bounding_box()
    assert track["height"] > 3 * track["width"]  # vertical, at the right edge
    assert track["x"] + track["width"] > box["x"] + box["width"] - 30
    # drag the thumb from the top to the middle of the track: the middle of the stack
    x = track["x"] + track["width"] / 2
    await app.page.mouse.move(x, track["y"] + 3)
    await app.page.mouse.down()
    await app.page.mouse.move(x, track["y"] + track["height"] / 2, steps=10)
    await app.page.mouse.up()
    index = int(await slider.input_value())
    assert 90 <= index <= 110
    await app.wait_for_image(index)
    assert await slider.get_attribute("aria-valuetext") == f"Image {index + 1} of 200"
    assert (await corner(app, "bottom-left")).startswith(f"Im: {index + 1}/200")
    await save_screenshot(app, tmp_path_factory, "viewport-ct.png")


async def test_window_presets_by_key_and_menu(app: App, orthanc: LoadedOrthanc) -> None:
    await open_first(app, orthanc, "ct")
    assert "W: 400 L: 40" in await corner(app, "bottom-right")  # the header's first window
    soft = await app.pixels()
    await press(app, "2")  # lung
    await wait_for_canvas(app, "window-width", "1500")
    assert await canvas_data(app, "window-center") == "-600"
    assert "W: 1500 L: -600" in await corner(app, "bottom-right")
    assert not np.array_equal(await app.pixels(), soft)
    for key, (width, center) in {"3": (150, 90), "4": (2500, 480), "5": (80, 40),
                                 "1": (400, 40)}.items():
        await press(app, key)
        await wait_for_canvas(app, "window-width", str(width))
        assert await canvas_data(app, "window-center") == str(center)
    assert np.array_equal(await app.pixels(), soft)

    # The window/level menu: the presets, each named with its width and level, and its key.
    assert await preset_items(app) == [
        ("Soft tissue, W 400 L 40", "1"), ("Lung, W 1500 L -600", "2"), ("Liver, W 150 L 90", "3"),
        ("Bone, W 2500 L 480", "4"), ("Brain, W 80 L 40", "5")]
    await (await app.toolbar_control(".preset-menu .preset[data-preset='4']")).click()
    await wait_for_canvas(app, "window-width", "2500")
    assert "W: 2500 L: 480" in await corner(app, "bottom-right")

    await open_first(app, orthanc, "xa-cine")  # the header's window only
    assert await preset_items(app) == [("Header 1, W 1024 L 512", "1")]


async def preset_items(app: App) -> list[tuple[str, str]]:
    """The window/level menu's items: (name, key)."""
    return [tuple(item) for item in await app.page.locator(".toolbar .preset-menu .preset").evaluate_all(
        "ps => ps.map(p => [p.getAttribute('aria-label'), p.querySelector('.menu-key').textContent])")]


async def test_view_commands_markers_and_scale_bar(app: App, orthanc: LoadedOrthanc) -> None:
    await open_first(app, orthanc, "ct")
    assert await markers(app) == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    await press(app, "r")  # rotate right: the patient's right comes to the top
    assert await canvas_data(app, "rotation") == "90"
    assert await markers(app) == {"top": "R", "right": "A", "bottom": "L", "left": "P"}
    await press(app, "h")  # flip horizontally: what is on the screen's left goes right
    assert await markers(app) == {"top": "R", "right": "P", "bottom": "L", "left": "A"}
    await press(app, "l", "l")
    assert await canvas_data(app, "rotation") == "270"
    await press(app, "v")
    await press(app, "Space")  # reset
    assert await markers(app) == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert (await canvas_data(app, "rotation"), await canvas_data(app, "flip")) == ("0", "1,1")

    # Rotating shows the same pixels turned: the canvas box swaps its sides.
    canvas = app.page.locator(App.CANVAS)
    upright = await canvas.bounding_box()
    await press(app, "h")
    assert await canvas_data(app, "flip") == "-1,1"
    assert await markers(app) == {"top": "A", "bottom": "P", "left": "L", "right": "R"}
    await press(app, "Space")

    fit = await zoom_percent(app)
    bar = app.page.locator(".viewport .scale-bar")
    assert await bar.is_visible()
    fit_bar = await bar.bounding_box()
    mm = float(await bar.get_attribute("data-mm"))
    # 0.7 mm pixels drawn at the canvas's on-screen size
    px_per_mm = upright["width"] / 512 / 0.7
    assert fit_bar["width"] == pytest.approx(mm * px_per_mm, rel=0.02)
    await press(app, "+")
    assert await zoom_percent(app) == pytest.approx(fit * 1.25, abs=1)  # fit shown rounded
    assert await canvas_data(app, "zoom") == "1.25"
    zoomed = await canvas.bounding_box()
    assert zoomed["width"] == pytest.approx(upright["width"] * 1.25, rel=0.01)
    zoomed_mm = float(await bar.get_attribute("data-mm"))
    assert (await bar.bounding_box())["width"] == pytest.approx(zoomed_mm * px_per_mm * 1.25,
                                                                 rel=0.02)
    await press(app, "-", "-")
    assert await zoom_percent(app) == pytest.approx(fit * 0.8, abs=1)
    await press(app, "=")
    assert await zoom_percent(app) == fit

    shown = await app.pixels()
    await press(app, "i")
    await wait_for_canvas(app, "invert", "true")
    assert np.array_equal((await app.pixels())[..., :3], 255 - shown[..., :3])
    await press(app, "Space")
    await wait_for_canvas(app, "invert", "false")

    await (await toolbar_button(app, "Show overlays")).click()
    assert not await app.page.locator(".viewport .overlay.top-left").is_visible()
    assert not await bar.is_visible()
    assert not await app.page.locator(".viewport .orientation-marker.top").is_visible()
    # What the screen shows turns and mirrors with the view (the image alone, overlays off;
    # the stack slider, which stays put, lies over the canvas's right edge: left out).
    upright_shot = await screenshot(canvas)
    await press(app, "r")
    assert_same_image(await screenshot(canvas), np.rot90(upright_shot, k=-1), margin=24)
    await press(app, "h")
    assert_same_image(await screenshot(canvas), np.fliplr(np.rot90(upright_shot, k=-1)), margin=24)
    await press(app, "Space")
    await (await toolbar_button(app, "Show overlays")).click()
    assert await app.page.locator(".viewport .overlay.top-left").is_visible()

    await open_first(app, orthanc, "mr")  # sagittal: its own letters
    assert await markers(app) == {"top": "H", "bottom": "F", "left": "A", "right": "P"}
    assert await bar.is_visible()
    await open_first(app, orthanc, "xa-cine")  # no orientation, no spacing
    assert await markers(app) == {"top": "", "bottom": "", "left": "", "right": ""}
    assert not await bar.is_visible()


async def test_toolbar_buttons_and_mouse_tools(app: App, orthanc: LoadedOrthanc) -> None:
    await open_first(app, orthanc, "ct")
    canvas = app.page.locator(App.CANVAS)
    await (await toolbar_button(app, "Rotate right")).click()
    assert await canvas_data(app, "rotation") == "90"
    await (await toolbar_button(app, "Rotate left")).click()
    await (await toolbar_button(app, "Flip vertically")).click()
    assert await canvas_data(app, "flip") == "1,-1"
    await (await toolbar_button(app, "Reset view")).click()
    assert await canvas_data(app, "flip") == "1,1"
    before = await canvas.bounding_box()
    await (await toolbar_button(app, "Zoom in")).click()
    assert (await canvas.bounding_box())["width"] > before["width"]
    await (await toolbar_button(app, "Zoom to fit")).click()
    assert (await canvas.bounding_box())["width"] == pytest.approx(before["width"])

    box = await viewport_box(app)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    async def drag(dx: float, dy: float, button: str = "left") -> None:
        await app.page.mouse.move(x, y)
        await app.page.mouse.down(button=button)
        await app.page.mouse.move(x + dx, y + dy, steps=6)
        await app.page.mouse.up(button=button)
        await app.settle()

    stack_scroll = await toolbar_button(app, "Stack scroll")
    await stack_scroll.click()
    assert await stack_scroll.get_attribute("aria-pressed") == "true"
    await drag(0, 60)  # down the stack
    await app.page.wait_for_function(
        "() => Number(document.querySelector('.viewport canvas').dataset.imageIndex) > 5")
    await press(app, "z")  # the zoom tool on the left button
    assert await (await toolbar_button(app, "Zoom")).get_attribute("aria-pressed") == "true"
    assert await stack_scroll.get_attribute("aria-pressed") == "false"
    await drag(0, -80)
    assert (await canvas.bounding_box())["width"] > 1.3 * before["width"]
    await (await toolbar_button(app, "Pan")).click()
    zoomed = await canvas.bounding_box()
    await drag(50, 20)
    panned = await canvas.bounding_box()
    assert (panned["x"] - zoomed["x"], panned["y"] - zoomed["y"]) == pytest.approx((50, 20), abs=1)
    await (await toolbar_button(app, "Window/level")).click()
    width = float(await canvas_data(app, "window-width"))
    await drag(-60, 0)
    await app.page.wait_for_function(
        "w => Number(document.querySelector('.viewport canvas').dataset.windowWidth) < w", arg=width)


# The image indexes the canvas shows from now on: each change's old value, then the current.
RECORD_FRAMES = """() => {
    const canvas = document.querySelector('.viewport canvas');
    const shown = [];
    const record = records => shown.push(...records.map(r => Number(r.oldValue)));
    const observer = new MutationObserver(record);
    observer.observe(canvas, { attributeFilter: ['data-image-index'], attributeOldValue: true });
    window.shownFrames = () => {
        record(observer.takeRecords());
        return [...shown, Number(canvas.dataset.imageIndex)];
    };
}"""


async def test_cine_through_frames_and_stacks(app: App, orthanc: LoadedOrthanc) -> None:
    await open_first(app, orthanc, "xa-cine")
    fps = app.page.locator(".toolbar .cine-fps")
    assert await fps.input_value() == "15"  # the header's RecommendedDisplayFrameRate
    await (await app.toolbar_control(".cine-fps")).fill("12")
    await fps.press("Enter")
    await app.page.focus(".viewport")
    await press(app, "c")
    play = app.page.locator(".toolbar .cine-play")
    assert await play.get_attribute("aria-label") == "Pause cine"
    await app.page.wait_for_selector(".viewport[data-cine='playing']", state="attached")
    # Looping: it reaches the last frame and comes round to the first ones again.
    await app.wait_for_image(29)
    await app.page.wait_for_function(
        "() => Number(document.querySelector('.viewport canvas').dataset.imageIndex) < 5")
    assert await canvas_data(app, "frame-number") != "30"
    await press(app, "c")
    assert await app.page.locator(".viewport[data-cine]").count() == 0
    assert await play.get_attribute("aria-label") == "Play cine"
    stopped = await canvas_data(app, "image-index")
    await app.page.wait_for_timeout(400)
    assert await canvas_data(app, "image-index") == stopped

    # Without loop it stops on the last frame.
    loop = await toolbar_button(app, "Loop")
    assert await loop.get_attribute("aria-pressed") == "true"
    await loop.click()
    assert await loop.get_attribute("aria-pressed") == "false"
    await app.page.focus(".viewport")
    await press(app, "End", "ArrowUp", "ArrowUp", "ArrowUp")
    await app.wait_for_image(26)
    await (await toolbar_button(app, "Play cine")).click()
    await app.page.wait_for_selector(".viewport:not([data-cine]) canvas[data-image-index='29']",
                                     state="attached")
    assert await canvas_data(app, "frame-number") == "30"
    await (await toolbar_button(app, "Loop")).click()
    assert await loop.get_attribute("aria-pressed") == "true"

    # Faster than the worker renders: slower, but every frame is shown, in order.
    await (await app.toolbar_control(".cine-fps")).fill("120")
    await fps.press("Enter")
    await app.page.focus(".viewport")
    await app.page.evaluate(RECORD_FRAMES)
    await press(app, "c")
    await app.page.wait_for_function("() => window.shownFrames().length > 40")
    await press(app, "c")
    shown = await app.page.evaluate("() => window.shownFrames()")
    steps = {(b - a) % 30 for a, b in pairwise(shown)}  # 0: the same frame drawn again
    assert steps <= {0, 1} and 1 in steps, shown

    await open_first(app, orthanc, "ct")  # a stack of single-frame instances
    assert await fps.input_value() == "24"  # no rate in the header: the default
    await press(app, "c")
    await app.page.wait_for_function(
        "() => Number(document.querySelector('.viewport canvas').dataset.imageIndex) >= 4")
    await press(app, "c")
    assert await app.page.locator(".viewport[data-cine]").count() == 0


async def capture(app: App) -> np.ndarray:
    async with app.page.expect_download() as info:
        await (await toolbar_button(app, "Capture the viewport as PNG")).click()
    download = await info.value
    assert download.suggested_filename == "viewport.png"
    return np.asarray(Image.open(await download.path()).convert("RGB"))


async def test_capture_downloads_the_viewport_as_shown(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await open_first(app, orthanc, "ct")
    await press(app, "+", "3")  # zoomed in, liver window
    await wait_for_canvas(app, "window-width", "150")
    # an annotation, as a measurement tool draws it in the annotation layer, styled by the
    # page's CSS (which an SVG drawn as an image would not see by itself)
    await app.page.eval_on_selector(".viewport svg.annotations", """svg => {
        const c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
        Object.entries({cx: 60, cy: 300, r: 20, class: 'test-mark'}).forEach(([k, v]) => c.setAttribute(k, v));
        svg.append(c);
        const style = document.createElement('style');
        style.id = 'test-style';
        style.textContent = '.test-mark { fill: #00ff00; stroke: none; }';
        document.head.append(style);
    }""")
    shot = await capture(app)
    path = tmp_path_factory.getbasetemp() / "screenshots" / "capture.png"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(shot).save(path)  # for a person to look at
    view = await viewport_box(app)
    assert shot.shape[:2] == (round(view["height"]), round(view["width"]))

    # The image part is the canvas as transformed on screen.
    canvas = await app.page.locator(App.CANVAS).bounding_box()
    pixels = await app.pixels()
    scale = canvas["width"] / pixels.shape[1]
    differences = []
    for row in range(100, 420, 16):
        for column in range(100, 420, 16):
            x = int(canvas["x"] - view["x"] + (column + 0.5) * scale)
            y = int(canvas["y"] - view["y"] + (row + 0.5) * scale)
            if 0 <= x < shot.shape[1] and 0 <= y < shot.shape[0]:
                differences.append(abs(int(shot[y, x, 0]) - int(pixels[row, column, 0])))
    assert len(differences) > 200
    assert np.median(differences) <= 2 and np.percentile(differences, 90) <= 16

    assert tuple(shot[300, 60]) == (0, 255, 0)  # the annotation
    assert shot[5:60, 5:140].max() > 200  # the patient's name in the top-left corner
    await (await toolbar_button(app, "Show overlays")).click()
    bare = await capture(app)
    assert bare[5:60, 5:140].max() < 30
    await (await toolbar_button(app, "Show overlays")).click()
    await app.page.eval_on_selector(".viewport svg.annotations", "svg => svg.replaceChildren()")
    await app.page.eval_on_selector("#test-style", "style => style.remove()")
    await press(app, "Space")


async def test_hotkeys_and_mouse_buttons_remapped_survive_a_reload(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await open_first(app, orthanc, "ct")
    await (await toolbar_button(app, "Preferences")).click()
    dialog = app.page.locator("dialog.preferences-dialog")
    await dialog.wait_for()
    await dialog.locator(".hotkey[data-command='invert']").click()
    await app.page.keyboard.press("k")
    assert await dialog.locator(".hotkey[data-command='invert']").inner_text() == "k"
    await dialog.locator(".hotkey[data-command='flipHorizontal']").click()
    await app.page.keyboard.press("k")  # taken: refused
    message = dialog.locator(".preferences-message")
    assert "already used by “Invert”" in await message.inner_text()
    await app.page.keyboard.press("Escape")  # cancels the remapping, not the dialog
    assert await dialog.is_visible()
    assert await dialog.locator(".hotkey[data-command='flipHorizontal']").inner_text() == "h"
    await dialog.locator("select[name='tool-right']").select_option("Pan")
    await save_screenshot(app, tmp_path_factory, "preferences.png")
    await dialog.locator("button", has_text="Close").click()

    await app.page.reload()
    await app.wait_for_mark("ohifpy:runtime-ready")
    await app.wait_for_image(0)
    await app.page.focus(".viewport")
    shown = await app.pixels()
    await press(app, "i")  # no longer a hotkey
    assert np.array_equal(await app.pixels(), shown)
    assert await canvas_data(app, "invert") == "false"
    await press(app, "k")
    await wait_for_canvas(app, "invert", "true")
    assert "Invert (k)" == await (await toolbar_button(app, "Invert")).get_attribute("title")

    canvas = app.page.locator(App.CANVAS)
    before = await canvas.bounding_box()
    box = await viewport_box(app)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await app.page.mouse.move(x, y)
    await app.page.mouse.down(button="right")
    await app.page.mouse.move(x + 40, y - 30, steps=5)
    await app.page.mouse.up(button="right")
    after = await canvas.bounding_box()  # panned, not zoomed
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((40, -30), abs=1)
    assert after["width"] == pytest.approx(before["width"])

    await (await toolbar_button(app, "Preferences")).click()
    await dialog.locator("button", has_text="Restore defaults").click()
    assert await dialog.locator(".hotkey[data-command='invert']").inner_text() == "i"
    await dialog.locator("button", has_text="Close").click()
    await press(app, "i")
    await wait_for_canvas(app, "invert", "false")


async def test_toolbar_fits_a_tablet(app: App, orthanc: LoadedOrthanc,
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    await app.page.set_viewport_size({"width": 1024, "height": 768})
    try:
        await open_first(app, orthanc, "ct")
        toolbar = app.page.locator(".toolbar")
        assert await toolbar.evaluate("t => t.scrollWidth <= t.clientWidth")
        controls = toolbar.locator("button, select, input")
        for index in range(await controls.count()):
            control = controls.nth(index)
            assert await control.get_attribute("aria-label"), await control.evaluate("c => c.outerHTML")
            if not await control.is_visible():  # in a menu, or in the "More" panel
                continue
            box = await control.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1024
            if await control.evaluate("c => c.matches('button, select, .cine-fps')"):
                assert box["height"] >= 30  # big enough for a finger
        view = await viewport_box(app)
        assert view["height"] > 500
        await save_screenshot(app, tmp_path_factory, "viewport-tablet.png")
    finally:
        await app.page.set_viewport_size({"width": 1200, "height": 800})


# ---------------------------------------------------------------- touch


@pytest.fixture(scope="module")
async def touch_app(browser: Any, site: Any) -> AsyncIterator[App]:
    """A page of a touch-screen context (a tablet's size)."""
    recorded = await _open_context(browser, has_touch=True)
    app = App(await recorded.context.new_page(), site)
    await app.page.set_viewport_size({"width": 1024, "height": 768})
    await app.page.goto(site.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    yield app
    await _close_context(recorded)


async def swipe(app: App, start: list[tuple[float, float]], end: list[tuple[float, float]],
                steps: int = 8) -> None:
    """Fingers down at ``start``, moved in steps to ``end``, lifted (CDP touch events)."""
    cdp = await app.page.context.new_cdp_session(app.page)

    async def touch(kind: str, points: list[tuple[float, float]]) -> None:
        await cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
            {"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})

    await touch("touchStart", start)
    for step in range(1, steps + 1):
        t = step / steps
        await touch("touchMove", [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
                                  for a, b in zip(start, end)])
    await touch("touchEnd", [])
    await cdp.detach()
    await app.settle()


async def test_touch_one_finger_tool_pinch_zoom_two_finger_pan(touch_app: App,
                                                               orthanc: LoadedOrthanc) -> None:
    app = touch_app
    await open_first(app, orthanc, "ct")
    box = await viewport_box(app)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    width = float(await canvas_data(app, "window-width"))
    await swipe(app, [(cx, cy)], [(cx + 80, cy)])  # window/level, the default tool
    await app.page.wait_for_function(
        "w => Number(document.querySelector('.viewport canvas').dataset.windowWidth) > w", arg=width)
    assert await canvas_data(app, "image-index") == "0"

    stack_scroll = await toolbar_button(app, "Stack scroll")
    # a tap during the swipe's fling only stops the fling (as on a phone): let it end
    await app.page.wait_for_timeout(500)
    await stack_scroll.tap()  # the click a tap makes may come after tap() returns
    await app.page.wait_for_selector(".toolbar button[data-tool='StackScroll'][aria-pressed='true']")
    await swipe(app, [(cx, cy - 100)], [(cx, cy + 60)])
    await app.page.wait_for_function(  # the image drawn once fetched
        "() => Number(document.querySelector('.viewport canvas').dataset.imageIndex) > 10")

    fit = await zoom_percent(app)
    canvas = app.page.locator(App.CANVAS)
    before = await canvas.bounding_box()
    await swipe(app, [(cx - 50, cy), (cx + 50, cy)], [(cx - 100, cy), (cx + 100, cy)])  # pinch out
    assert await zoom_percent(app) == pytest.approx(2 * fit, abs=2)
    zoomed = await canvas.bounding_box()
    assert zoomed["width"] == pytest.approx(2 * before["width"], rel=0.02)
    # about the fingers' midpoint (the viewport's centre): the canvas stays centred
    assert zoomed["x"] + zoomed["width"] / 2 == pytest.approx(before["x"] + before["width"] / 2,
                                                              abs=2)

    await swipe(app, [(cx - 50, cy), (cx + 50, cy)], [(cx - 20, cy + 40), (cx + 80, cy + 40)])
    panned = await canvas.bounding_box()
    assert (panned["x"] - zoomed["x"], panned["y"] - zoomed["y"]) == pytest.approx((30, 40), abs=2)
    assert panned["width"] == pytest.approx(zoomed["width"])
