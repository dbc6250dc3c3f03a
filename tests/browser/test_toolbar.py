"""The viewer's toolbar in Chromium against the real Orthanc, as OHIF's: icon buttons whose
tooltips name the command and its key, split buttons whose menus run the chosen tool,
use by keyboard alone, and one row on a narrow screen with the rest in its "More" panel.

One page serves the module; each test opens the 200-slice CT afresh at the window size it
needs. What is checked is what a person sees and does: names, tooltips, focus, what the
active viewport does (its tool, its canvas's data attributes, a measurement drawn).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from conftest import ROOT, LoadedOrthanc

from .conftest import App

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

WIDE = {"width": 1600, "height": 1000}  # everything on the bar
NARROW = {"width": 1024, "height": 768}
DEFAULT_SIZE = {"width": 1200, "height": 800}  # the other modules' (conftest)

# The tooltips of the controls with a key (OHIF's default hotkeys); every other control's
# tooltip is its name alone.
KEYS = {
    "Zoom": "z", "Zoom in": "+", "Zoom out": "-", "Zoom to fit": "=", "Rotate right": "r",
    "Rotate left": "l", "Flip horizontally": "h", "Flip vertically": "v", "Invert": "i",
    "Reset view": "Space", "Play cine": "c",
    "Soft tissue, W 400 L 40": "1", "Lung, W 1500 L -600": "2", "Liver, W 150 L 90": "3",
    "Bone, W 2500 L 480": "4", "Brain, W 80 L 40": "5", "Python console": "p",
}
# Every control the toolbar shows for the CT, by name (split buttons: their primary part,
# their arrow, their menu's items).
CONTROLS = {
    "Length", "Measurement tools", "Bidirectional", "Angle", "Cobb angle", "Rectangle",
    "Ellipse", "Circle", "Freehand", "Probe", "Arrow",
    "Zoom", "Zoom commands", "Zoom in", "Zoom out", "Zoom to fit",
    "Window/level", "Window presets", "Soft tissue, W 400 L 40", "Lung, W 1500 L -600",
    "Liver, W 150 L 90", "Bone, W 2500 L 480", "Brain, W 80 L 40",
    "Pan", "Stack scroll", "Crosshairs", "Rotate right", "Rotate and flip", "Rotate left",
    "Flip horizontally", "Flip vertically", "Invert", "Reset view", "Play cine",
    "Frames per second", "Loop", "Capture the viewport as PNG", "Show overlays",
    "Reference lines", "Sync scroll", "Python console", "Tag browser", "Preferences",
    "More tools",
}

# Each toolbar control's name, tooltip, icon, whether it is a menu's item and whether a
# person sees it.
CONTROL_FACTS = """bar => [...bar.querySelectorAll('button, input, select')].map(c => ({
    name: c.getAttribute('aria-label'), title: c.title,
    icons: [...c.querySelectorAll('.icon')].map(i => i.dataset.icon),
    item: c.matches("[role^='menuitem']"), shown: c.checkVisibility(),
}))"""


async def open_ct(app: App, orthanc: LoadedOrthanc, size: dict[str, int]) -> None:
    """The CT in a 1x1 viewer with the default keys, at the window size `size`."""
    await app.page.set_viewport_size(size)
    await app.page.evaluate("localStorage.removeItem('ohifpy:preferences')")
    await app.open_study(orthanc.manifest.study("ct").study_uid)
    await app.wait_for_image(0)
    await app.page.focus(".viewport")


@pytest.fixture
async def ct(app: App, orthanc: LoadedOrthanc) -> AsyncIterator[None]:
    """The CT opened wide; the default window size again after the test."""
    await open_ct(app, orthanc, WIDE)
    yield
    await app.page.set_viewport_size(DEFAULT_SIZE)


async def focused(app: App, selector: str) -> bool:
    return await app.page.evaluate("s => document.activeElement.matches(s)", selector)


async def tab_to(app: App, selector: str, key: str = "Tab") -> None:
    """Press Tab (or Shift+Tab) until the focus is on `selector`."""
    for _ in range(80):
        if await focused(app, selector):
            return
        await app.page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {selector}")


async def primary_tool(app: App) -> str:
    return await app.page.get_attribute(".viewport[data-active='true']", "data-primary-tool")


async def test_each_control_is_named_with_its_key_and_shows_a_vendored_icon(
        app: App, orthanc: LoadedOrthanc, ct: None) -> None:
    controls = await app.page.locator(".toolbar").evaluate(CONTROL_FACTS)
    names = [c["name"] for c in controls]
    assert set(names) == CONTROLS, set(names) ^ CONTROLS
    for control in controls:
        key = KEYS.get(control["name"])
        assert control["title"] == (f"{control['name']} ({key})" if key else control["name"]), control
    # On a wide screen everything is on the bar (but the crosshairs, an MPR tool): the
    # menus' items alone are hidden, and every button shows an icon.
    assert not await app.page.is_visible(".toolbar-more")
    shown = [c for c in controls if c["shown"]]
    assert {c["name"] for c in shown} == {c["name"] for c in controls if not c["item"]} - {
        "More tools", "Crosshairs"}
    assert not any(c["item"] for c in shown)
    assert all(c["icons"] for c in shown if c["name"] != "Frames per second")

    # The icons are inline SVGs of Lucide's shapes (vendor/icons/icons.js), stroked in
    # their control's colour: no image or mask for the page to fetch and parse.
    published = json.loads((ROOT / "node_modules" / "lucide-static" / "icon-nodes.json").read_text())
    invert = await app.page.eval_on_selector(".toolbar [aria-label='Invert'] .icon", """i => ({
        tag: i.tagName, size: i.getBoundingClientRect().width,
        shapes: [...i.children].map(c => [c.tagName, Object.fromEntries(
            [...c.attributes].map(a => [a.name, a.value]))]),
        stroke: getComputedStyle(i).stroke, color: getComputedStyle(i.closest('button')).color})""")
    assert invert["tag"] == "svg" and invert["shapes"] == published["contrast"], invert
    assert invert["stroke"] == invert["color"] and invert["size"] > 10, invert
    assert await app.page.evaluate(
        "performance.getEntriesByType('resource').filter(e => /[.]svg/.test(e.name)).length") == 0

    # A key remapped in the preferences: the tooltips name the new one.
    await app.page.click(".toolbar [aria-label='Preferences']")
    dialog = app.page.locator("dialog.preferences-dialog")
    await dialog.locator(".hotkey[data-command='zoomIn']").click()
    await app.page.keyboard.press("q")
    await dialog.locator("button", has_text="Close").click()
    await app.page.wait_for_selector(".toolbar [aria-label='Zoom in'][title='Zoom in (q)']",
                                     state="attached")  # once the dialog's "close" event came
    await app.page.evaluate("localStorage.removeItem('ohifpy:preferences')")


async def test_a_split_button_runs_the_item_picked_and_shows_it(
        app: App, orthanc: LoadedOrthanc, ct: None) -> None:
    page = app.page
    measure = page.locator(".toolbar .split-arrow[aria-label='Measurement tools']")
    assert await measure.get_attribute("aria-haspopup") == "menu"
    await measure.click()
    menu = page.locator(".toolbar [role='menu'][aria-label='Measurement tools']")
    assert await menu.is_visible() and await measure.get_attribute("aria-expanded") == "true"
    assert await focused(app, ".measure-tool[data-tool='Length']")  # the first item
    await menu.locator("[role='menuitemradio'][aria-label='Angle']").click()
    assert not await menu.is_visible()
    assert await primary_tool(app) == "Angle"
    primary = page.locator(".toolbar .split-primary[data-tool='Angle']")
    assert await primary.get_attribute("aria-label") == "Angle"
    assert await primary.get_attribute("aria-pressed") == "true"
    assert await menu.locator("[aria-label='Angle']").get_attribute("aria-checked") == "true"

    # A drag and a click on the image draw an angle.
    rows = page.locator(".measurement-row[data-tool='Angle']")
    before = await rows.count()
    box = await page.locator(".viewport").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(x - 80, y)
    await page.mouse.down()
    await page.mouse.move(x, y, steps=4)
    await page.mouse.up()
    await page.mouse.click(x, y - 80)
    await page.wait_for_function(
        "n => document.querySelectorAll(\".measurement-row[data-tool='Angle']\").length > n",
        arg=before)
    assert "90" in await rows.last.inner_text()

    # Another tool leaves the primary as it is; the split's primary runs its item again.
    await page.click(".toolbar [aria-label='Pan']")
    assert await primary_tool(app) == "Pan"
    assert await primary.get_attribute("aria-pressed") == "false"
    await primary.click()
    assert await primary_tool(app) == "Angle"

    # Rotate/flip: the item picked runs and becomes the primary, which runs it again.
    await page.click(".toolbar .split-arrow[aria-label='Rotate and flip']")
    await page.click(".toolbar [role='menuitem'][aria-label='Flip vertically']")
    assert await page.get_attribute(App.CANVAS, "data-flip") == "1,-1"
    await page.click(".toolbar .split-primary[aria-label='Flip vertically']")
    assert await page.get_attribute(App.CANVAS, "data-flip") == "1,1"

    # Window presets: the active viewport's, each with its key; the primary is the tool.
    await page.click(".toolbar .split-arrow[aria-label='Window presets']")
    presets = page.locator(".toolbar .preset-menu .preset")
    assert await presets.evaluate_all("ps => ps.map(p => p.querySelector('.menu-key').textContent)") == [
        "1", "2", "3", "4", "5"]
    await presets.nth(1).click()  # lung
    await page.wait_for_selector(f"{App.CANVAS}[data-window-width='1500']", state="attached")
    assert await page.get_attribute(".toolbar .split-primary[aria-label='Window/level']", "data-tool") == "WindowLevel"

    # A click elsewhere closes a menu.
    await page.click(".toolbar .split-arrow[aria-label='Zoom commands']")
    assert await page.is_visible(".toolbar [role='menu'][aria-label='Zoom commands']")
    await page.mouse.click(x, y)
    assert not await page.is_visible(".toolbar [role='menu'][aria-label='Zoom commands']")
    await page.keyboard.press("Space")  # reset


async def test_keyboard_alone_chooses_a_tool_changes_the_layout_and_opens_the_tags(
        app: App, orthanc: LoadedOrthanc, ct: None) -> None:
    page = app.page
    assert await page.get_attribute(".toolbar [data-tool='WindowLevel']", "aria-pressed") == "true"
    # A tool: back from the viewport to the measurement menu's button; Enter opens the menu
    # on its first item, the arrows move, Enter picks.
    arrow = ".split-arrow[aria-label='Measurement tools']"
    await tab_to(app, arrow, "Shift+Tab")
    await page.keyboard.press("Enter")
    assert await focused(app, "[role='menuitemradio'][aria-label='Length']")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    assert await focused(app, "[role='menuitemradio'][aria-label='Angle']")
    await page.keyboard.press("Enter")
    assert await primary_tool(app) == "Angle"
    assert await focused(app, arrow)  # the menu closed, the focus back on its button
    assert not await page.is_visible(".toolbar [role='menu'][aria-label='Measurement tools']")
    # ArrowDown opens it too (the viewer's ArrowDown hotkey does not run); Escape closes it.
    image = await page.get_attribute(App.CANVAS, "data-image-index")
    await page.keyboard.press("ArrowDown")
    assert await focused(app, "[role='menuitemradio'][aria-label='Length']")
    await page.keyboard.press("ArrowUp")  # round to the last
    assert await focused(app, "[role='menuitemradio'][aria-label='Arrow']")
    await page.keyboard.press("Escape")
    assert await focused(app, arrow)
    assert await page.get_attribute(App.CANVAS, "data-image-index") == image
    assert await primary_tool(app) == "Angle"

    # The layout: its button, Enter, ArrowRight to 1x2, Enter.
    await tab_to(app, ".layout-button", "Shift+Tab")
    await page.keyboard.press("Enter")
    assert await focused(app, ".layout-cell[aria-label='1×1']")
    await page.keyboard.press("ArrowRight")
    assert await focused(app, ".layout-cell[aria-label='1×2']")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".viewport-grid[data-layout='1x2']")
    assert await focused(app, ".layout-button")
    assert await page.get_attribute(".layout-button", "aria-label") == "Layout 1×2"

    # The tag browser: Tab on to its button, Enter; Escape closes it.
    await tab_to(app, ".toolbar [aria-label='Tag browser']")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".tag-browser[open] .tag-row")
    await page.keyboard.press("Escape")
    await page.wait_for_selector(".tag-browser", state="detached")


async def test_a_narrow_screen_keeps_one_row_and_runs_the_rest_from_more(
        app: App, orthanc: LoadedOrthanc) -> None:
    await open_ct(app, orthanc, NARROW)
    page = app.page
    try:
        bar = page.locator(".toolbar")
        # One row: every control on the bar at the same height, the bar one control high.
        tops = await bar.evaluate("""bar => [...bar.children].filter(c => c.checkVisibility())
            .map(c => Math.round(c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2))""")
        assert len(tops) > 5 and max(tops) - min(tops) <= 1, tops
        height = (await bar.bounding_box())["height"]
        more = page.locator(".toolbar-more")
        assert await more.is_visible()
        assert height < 1.5 * (await more.bounding_box())["height"] + 10
        assert await bar.evaluate("b => b.scrollWidth <= b.clientWidth")
        # The rest is in the panel: together, the same controls as on a wide screen.
        controls = await bar.evaluate(CONTROL_FACTS)
        assert {c["name"] for c in controls} == CONTROLS
        in_panel = await page.locator(".toolbar-overflow").evaluate(
            "p => [...p.querySelectorAll(':scope > *')].map(c => c.getAttribute('aria-label'))")
        assert in_panel[-2:] == ["Tag browser", "Preferences"], in_panel

        # By keyboard: Enter on "More" opens the panel on its first control; End, ArrowUp
        # to the tag browser, Enter runs it (and closes the panel).
        await tab_to(app, ".toolbar-more", "Shift+Tab")
        await page.keyboard.press("Enter")
        assert await page.is_visible(".toolbar-overflow")
        await page.keyboard.press("End")
        assert await focused(app, ".toolbar-overflow [aria-label='Preferences']")
        await page.keyboard.press("ArrowUp")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".tag-browser[open] .tag-row")
        assert not await page.is_visible(".toolbar-overflow")
        await page.keyboard.press("Escape")
        await page.wait_for_selector(".tag-browser", state="detached")

        # By mouse: each control there named beside its icon; the first one runs.
        await more.click()
        first = page.locator(".toolbar-overflow > button").first
        name = await first.get_attribute("aria-label")
        assert await first.evaluate("b => getComputedStyle(b, '::after').content") == f'"{name}"'
        if name == "Show overlays":
            await first.click()
            await page.wait_for_selector(".viewport.overlays-hidden")
            await (await app.toolbar_control("[aria-label='Show overlays']")).click()
        else:
            assert name == "Capture the viewport as PNG", name
            async with page.expect_download() as download:
                await first.click()
            assert (await download.value).suggested_filename == "viewport.png"
        assert not await page.is_visible(".toolbar-overflow")

        # Wide again: all back on the bar.
        await page.set_viewport_size(WIDE)
        await page.wait_for_selector(".toolbar-more", state="hidden")
        assert await page.locator(".toolbar-overflow > *").count() == 0
    finally:
        await page.set_viewport_size(DEFAULT_SIZE)
