"""When Python cannot run, the page says what failed and offers a reload that keeps the URL;
nothing waits forever on a worker that is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import LoadedOrthanc

from .conftest import App, RecordedContext, ServedSite, _close_context, _open_context


@pytest.fixture
async def context(browser: Any) -> AsyncIterator[RecordedContext]:
    recorded = await _open_context(browser)
    yield recorded
    await _close_context(recorded)


async def fatal_message(page: Any) -> str:
    alert = page.locator(".fatal[role=alert]")
    await alert.wait_for(timeout=60_000)
    return await alert.inner_text()


async def test_a_runtime_that_does_not_load_is_told_and_reload_keeps_the_url(
        context: RecordedContext, site: ServedSite, orthanc: LoadedOrthanc) -> None:
    # The network refuses Pyodide's script to the worker (before app.js has even run).
    await context.context.route("**/pyodide/pyodide.js", lambda route: route.abort())
    page = await context.context.new_page()
    link = site.url + f"viewer/?StudyInstanceUIDs={orthanc.manifest.study('mr').study_uid}"
    await page.goto(link)
    assert "could not be loaded" in await fatal_message(page)
    assert await page.text_content("#status") != "Starting Python…"

    await context.context.unroute("**/pyodide/pyodide.js")
    await page.get_by_role("button", name="Reload").click()
    app = App(page, site)
    await app.wait_for_image(0)
    assert page.url == link
    assert not await page.locator(".fatal").count()


async def test_a_runtime_that_fails_later_is_told_and_later_calls_do_not_hang(
        context: RecordedContext, site: ServedSite, orthanc: LoadedOrthanc) -> None:
    page = await context.context.new_page()
    app = App(page, site)
    await page.goto(site.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    # Pyodide's own fatal-error path, as running out of WebAssembly memory takes it.
    (worker,) = page.workers
    await worker.evaluate("""() => booting.then(({ pyodide }) =>
        pyodide._api.fatal_error(new Error('simulated: out of memory'))).catch(() => {})""")
    await app.navigate(f"viewer?StudyInstanceUIDs={orthanc.manifest.study('mr').study_uid}")
    assert "Pyodide already fatally failed" in await fatal_message(page)
    # The viewer's own call failed at once, with the same reason, instead of waiting.
    note = page.locator(".viewer .note.error")
    await note.wait_for(timeout=10_000)
    assert "fatally failed" in await note.inner_text()


async def test_an_error_that_escapes_the_worker_is_told(
        context: RecordedContext, site: ServedSite) -> None:
    page = await context.context.new_page()
    app = App(page, site)
    await page.goto(site.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    (worker,) = page.workers
    await worker.evaluate("() => setTimeout(() => { throw new Error('simulated crash'); })")
    assert "simulated crash" in await fatal_message(page)
    answer = await page.evaluate(
        "() => import('./worker_client.js').then(() => 'loaded')")  # the page still runs
    assert answer == "loaded"
