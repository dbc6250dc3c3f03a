"""Accessibility in Chromium (issue 16): axe-core's checks on the study list and the viewer,
the keyboard reaching every control with a visible focus ring, Escape closing menus and
dialogs.

axe-core is the pinned npm package (node_modules/axe-core), injected into the page as a
script: it runs its WCAG 2 A/AA and best-practice rules on what the page shows, and a
rule broken with a "serious" or "critical" impact fails the test, every broken node
listed (rule, impact, CSS path). The default build is served without a
Content-Security-Policy, so the injected script runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ROOT, LoadedOrthanc

from .conftest import App
from .test_display_texts import open_preferences, open_study
from .test_studylist import fresh_list

# a browser, a server thread, subprocess builds; an uncaught page exception fails a test
pytestmark = [pytest.mark.cpython_only, pytest.mark.usefixtures("page_errors_fail")]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
VIOLATIONS = """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
    .map(v => ({ id: v.id, impact: v.impact,
                 nodes: v.nodes.map(n => ({ target: n.target.join(' '), impact: n.impact })) }))"""

# The controls a keyboard must reach (visible and enabled), and how one shows focus.
CONTROLS = """() => [...document.querySelectorAll(
        'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
    .filter(e => e.tabIndex >= 0 && !e.disabled && e.checkVisibility()
        && !e.closest('[inert], details:not([open]) > :not(summary)'))
    .map(e => e.dataset.testPath ??= Math.random().toString(36).slice(2))"""
FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const s = getComputedStyle(e);
    const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
        || /inset 0px 0px 0px [2-9]px|0px 0px 0px [2-9]px [^,]*inset/.test(s.boxShadow);
    const name = e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30) || e.name || e.className;
    return { id: e.dataset.testPath ??= Math.random().toString(36).slice(2),
             what: `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} "${name}"`, ring };
}"""


async def blocking_violations(app: App) -> list[str]:
    """Each node axe finds breaking a rule with a serious or critical impact."""
    if not await app.page.evaluate("typeof axe === 'object'"):
        await app.page.add_script_tag(path=str(AXE))
    found = await app.page.evaluate(VIOLATIONS)
    return [f"{v['id']} ({node['impact']}): {node['target']}" for v in found
            for node in v["nodes"] if node["impact"] in BLOCKING]


async def tab_through(app: App, limit: int = 400) -> tuple[dict[str, str], list[str]]:
    """Tab from the top of the page until focus comes round: the controls reached (id ->
    what), and those among them without a visible focus ring."""
    await app.page.evaluate("document.activeElement?.blur()")
    reached: dict[str, Any] = {}
    for _ in range(limit):
        await app.page.keyboard.press("Tab")
        focused = await app.page.evaluate(FOCUSED)
        if focused is None:
            continue
        if reached and focused["id"] == next(iter(reached)):
            break  # round: a date input's fields take a Tab each, so only the first counts
        reached.setdefault(focused["id"], focused)
    return ({key: f["what"] for key, f in reached.items()},
            [f["what"] for f in reached.values() if not f["ring"]])


async def assert_keyboard_reaches_everything(app: App) -> None:
    controls = set(await app.page.evaluate(CONTROLS))
    reached, without_ring = await tab_through(app)
    missed = await app.page.evaluate(
        "ids => ids.map(id => document.querySelector(`[data-test-path='${id}']`).outerHTML.slice(0, 120))",
        sorted(controls - set(reached)))
    assert not missed, f"not reached by Tab: {missed} (reached: {sorted(reached.values())})"
    assert not without_ring, f"no visible focus ring: {without_ring}"


# ---------------------------------------------------------------- axe


async def test_the_study_list_has_no_serious_violations(app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    assert await blocking_violations(app) == []
    # A row opened, its series listed; the modality menu open.
    await app.page.click(f"tr.study[data-study-instance-uid='{orthanc.manifest.study('ct').study_uid}']")
    await app.page.wait_for_selector(".series-panel table.series tbody tr")
    await app.page.click(".modality-filter summary")
    assert await blocking_violations(app) == []


async def test_the_local_files_page_has_no_serious_violations(app: App) -> None:
    await app.navigate("local")
    await app.page.wait_for_selector(".drop-zone")
    assert await blocking_violations(app) == []
    await assert_keyboard_reaches_everything(app)


async def test_the_viewer_has_no_serious_violations(app: App, orthanc: LoadedOrthanc) -> None:
    await open_study(app, orthanc, "ct")
    assert await app.page.get_attribute(".viewport-grid", "data-layout") == "1x1"
    await app.page.wait_for_selector(".thumbnail[data-state='ready']", state="attached", timeout=60_000)
    assert await blocking_violations(app) == []  # the series and measurement panels open

    await app.page.click(".segmentations-toggle")  # the right panel's other tab
    await app.page.wait_for_selector(".segmentation-panel", state="visible")
    assert await blocking_violations(app) == []
    await app.page.click(".segmentations-toggle")

    await app.page.keyboard.press("p")  # the Python console, with a cell's output
    await app.page.wait_for_selector(".console-panel", state="visible")
    await app.page.fill(".console-input", "print('<b>x</b>')\n1/0")
    await app.page.press(".console-input", "Enter")
    await app.page.wait_for_selector(".console-output .console-stderr", timeout=120_000)
    assert await blocking_violations(app) == []
    await app.page.keyboard.press("Escape")  # back to the viewport
    await app.page.keyboard.press("p")
    await app.page.wait_for_selector(".console-panel", state="hidden")


async def test_the_dialogs_have_no_serious_violations_and_close_with_escape(
        app: App, orthanc: LoadedOrthanc) -> None:
    await open_study(app, orthanc, "ct")
    await app.page.click(".open-tags")
    await app.page.wait_for_selector(".tag-browser[open] .tag-row")
    in_tags = await blocking_violations(app)
    await app.page.fill(".tag-browser .tag-search", "0028")  # Escape from a field with text too
    await app.page.keyboard.press("Escape")
    await app.page.wait_for_selector(".tag-browser", state="detached")

    await open_preferences(app)
    in_preferences = await blocking_violations(app)
    await app.page.keyboard.press("Escape")
    await app.page.wait_for_selector(".preferences-dialog", state="detached")
    assert (in_tags, in_preferences) == ([], [])


# ---------------------------------------------------------------- keyboard


async def test_escape_closes_the_modality_menu(app: App) -> None:
    await fresh_list(app)
    await app.page.focus(".modality-filter summary")
    await app.page.keyboard.press("Enter")
    assert await app.page.get_attribute(".modality-filter", "open") is not None
    await app.page.keyboard.press("Tab")  # into the menu
    await app.page.keyboard.press("Escape")
    assert await app.page.get_attribute(".modality-filter", "open") is None
    assert await app.page.evaluate("document.activeElement.matches('.modality-filter summary')")


async def test_the_keyboard_reaches_every_study_list_control_with_a_focus_ring(app: App) -> None:
    await fresh_list(app)
    await assert_keyboard_reaches_everything(app)


async def test_the_keyboard_reaches_every_viewer_control_with_a_focus_ring(
        app: App, orthanc: LoadedOrthanc) -> None:
    await open_study(app, orthanc, "ct")
    await app.page.wait_for_selector(".thumbnail[data-state='ready']", state="attached", timeout=60_000)
    await assert_keyboard_reaches_everything(app)
