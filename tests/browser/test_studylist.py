"""The study list (``/``) in Chromium, driven as a user does: typing, clicks, keys.

Most tests use the Orthanc build (every test study fits in one QIDO answer, so the list
sorts). One more build has three data sources: the same Orthanc asked for 11 studies at
a time, without wildcards and with fuzzy matching (paging), the static demo tree, and a
root where no server answers (a QIDO error).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient, StudyQuery
from ohifpy.display_format import person_name
from ohifpy.synthetic import XSS_IMG
from ohifpy.viewer.tables import tables

from .conftest import App, ServedSite, _build, started_app

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

TITLES = ["Patient name", "MRN", "Study date", "Description", "Modality", "Accession", "Instances"]
PAGE_SIZE = 10
SOURCES_CONFIG = {
    "dataSources": [
        {"sourceName": "paged", "configuration": {
            "name": "paged", "friendlyName": "Orthanc, 10 studies a page",
            "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web", "queryLimit": PAGE_SIZE + 1,
            "qidoSupportsIncludeField": True, "supportsWildcard": False,
            "supportsFuzzyMatching": True, "queryEncoding": "minimal",
            "requestTransferSyntaxUID": "*"}},
        {"sourceName": "demo", "configuration": {
            "name": "demo", "friendlyName": "Static demo", "qidoRoot": "demo/dicom-web",
            "wadoRoot": "demo/dicom-web", "staticWado": True, "supportsWildcard": False}},
        {"sourceName": "missing", "configuration": {
            "name": "missing", "friendlyName": "No server here",
            "qidoRoot": "/missing/dicom-web", "wadoRoot": "/missing/dicom-web"}},
    ],
    "defaultDataSourceName": "paged",
}

# Each row's cells as shown, and its study date-time as its <time> element says (ISO).
ROWS = """() => [...document.querySelectorAll('tr.study')].map(tr => ({
    uid: tr.dataset.studyInstanceUid, cells: [...tr.cells].map(td => td.textContent),
    when: tr.querySelector('time')?.dateTime ?? ''}))"""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sources_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one extra build: three data sources (and the demo tree one of them reads)."""
    folder = tmp_path_factory.mktemp("browser-sources")
    config = folder / "sources.json"
    config.write_text(json.dumps(SOURCES_CONFIG))
    return _build(folder / "dist", "--config", str(config))


@pytest.fixture(scope="session")
def sources_site(sources_dist: Path, orthanc: LoadedOrthanc) -> Iterator[ServedSite]:
    with ServedSite(sources_dist, proxy={"/dicom-web": orthanc.dicomweb_root}) as served:
        yield served


@pytest.fixture(scope="module")
async def sources_app(browser: Any, sources_site: ServedSite) -> AsyncIterator[App]:
    async with started_app(browser, sources_site) as app:
        yield app


# ---------------------------------------------------------------- helpers


async def orthanc_studies(orthanc: LoadedOrthanc, query: StudyQuery | None = None) -> dict[str, Any]:
    """What Orthanc itself answers (CPython client, no page): UID -> dataset."""
    source = DicomWebSource.from_url(orthanc.dicomweb_root, queryEncoding="minimal")
    async with DICOMwebClient(source) as client:
        found = await client.search_for_studies(query, limit=10_000)
    return {ds.StudyInstanceUID: ds for ds in found}


async def rows(app: App) -> list[dict[str, Any]]:
    return await app.page.evaluate(ROWS)


async def wait_for_url(app: App, *parts: str) -> None:
    """Until the list answered for these URL parameters (the URL is set with the rows)."""
    await app.page.wait_for_function(
        "parts => parts.every(p => decodeURIComponent(location.search).includes(p))",
        arg=list(parts), timeout=60_000)


async def wait_for_list(app: App) -> None:
    await app.page.wait_for_selector("tr.study, .list-state:not(.loading)", timeout=60_000)


async def fresh_list(app: App) -> None:
    """The list with no filters (and no remembered query)."""
    await app.navigate("")
    await app.page.click("text=Clear filters")
    await app.page.wait_for_function("location.search === ''")
    await wait_for_list(app)


async def save_screenshot(app: App, tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    """A screenshot under the session's tmp dir, for a person to look at."""
    path = tmp_path_factory.getbasetemp() / "screenshots" / name
    path.parent.mkdir(exist_ok=True)
    await app.page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def requests_of(app: App) -> list[str]:
    """QIDO study searches the page (its worker) makes from now on."""
    seen: list[str] = []
    app.page.context.on("request", lambda r: seen.append(r.url) if "/studies?" in r.url else None)
    return seen


# ---------------------------------------------------------------- the list


async def test_columns_and_rows_show_dicom_strings_as_text(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await fresh_list(app)
    assert await app.page.locator("thead tr.titles th").all_inner_texts() == TITLES
    columns = tables()["studyList"]["columns"]  # the page's columns are the worker's
    assert [c["title"] for c in columns] == TITLES
    assert await app.page.locator("button.sort").evaluate_all(
        "bs => bs.map(b => b.dataset.sortBy)") == [c["name"] for c in columns]
    shown = {row["uid"]: row["cells"] for row in await rows(app)}
    assert set(shown) == set(await orthanc_studies(orthanc))
    assert await app.page.locator("tr.list-state").count() == 0
    manifest = orthanc.manifest
    assert shown[manifest.study("ct").study_uid] == [
        "Phantom, Chest CT", "OHIFPY-CT", "05-Jan-2024 08:30", "CT Chest with contrast", "CT",
        "OHIF0001", "200"]
    xss = shown[manifest.study("xss").study_uid]
    assert xss[0] == person_name(XSS_IMG) and xss[3] == '"><script>alert(1)</script>'
    assert await app.page.locator("table img, table script").count() == 0
    no_modality = shown[manifest.study("no-modality").study_uid]
    assert no_modality[0] == "Phantom, No Modality" and no_modality[4] == ""
    assert await app.page.locator(".list-bar .count").inner_text() == f"{len(shown)} studies"
    await save_screenshot(app, tmp_path_factory, "studylist.png")


async def test_text_filters_map_to_qido_with_wildcards(app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    sent = requests_of(app)
    await app.page.click("input[name=patientName]")
    await app.page.keyboard.type("phantom")  # matched without regard to case: a person name
    await wait_for_url(app, "patientName=phantom")
    expected = await orthanc_studies(orthanc, StudyQuery(patient_name="phantom"))
    shown = await rows(app)
    assert {row["uid"] for row in shown} == set(expected) and len(shown) >= 12
    assert all(row["cells"][0].startswith("Phantom, ") for row in shown)
    assert "PatientName=*phantom*" in sent[-1] and "includefield=" in sent[-1]
    assert "fuzzymatching" not in sent[-1]

    await app.page.fill("input[name=patientName]", "")
    await app.page.click("input[name=accession]")
    await app.page.keyboard.type("OHIF0006")
    await app.page.keyboard.press("Enter")
    await wait_for_url(app, "accession=OHIF0006")
    assert [row["uid"] for row in await rows(app)] == [orthanc.manifest.study("xss").study_uid]
    assert "AccessionNumber=*OHIF0006*" in sent[-1] and "PatientName" not in sent[-1]

    await app.page.fill("input[name=accession]", "")
    await app.page.fill("input[name=description]", "No such study")
    await app.page.press("input[name=description]", "Enter")
    await app.page.wait_for_selector("tr.list-state.empty")
    assert await app.page.inner_text("tbody") == "No studies match these filters."


async def test_date_range_and_modality_multi_select(app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    await app.page.fill("input[name=startDate]", "2024-03-01")
    await app.page.fill("input[name=endDate]", "2024-03-15")
    await wait_for_url(app, "startDate=20240301", "endDate=20240315")
    expected = await orthanc_studies(orthanc, StudyQuery(study_date_from="20240301",
                                                         study_date_to="20240315"))
    assert {row["uid"] for row in await rows(app)} == set(expected) and len(expected) >= 10

    await app.page.fill("input[name=startDate]", "")
    await app.page.fill("input[name=endDate]", "")
    await app.page.click(".modality-filter summary")
    assert await app.page.locator(".modality-options label").all_inner_texts() == \
        tables()["studyList"]["modalities"]
    await app.page.click(".modality-options label:has-text('CR')")
    await app.page.click(".modality-options label:has-text('MR')")
    await wait_for_url(app, "modalities=CR,MR")
    assert await app.page.inner_text(".modality-filter summary") == "CR, MR"
    expected = await orthanc_studies(orthanc, StudyQuery(modalities_in_study=("CR", "MR")))
    shown = await rows(app)
    assert {row["uid"] for row in shown} == set(expected)
    assert len(shown) >= 4 and all({"CR", "MR"} & set(row["cells"][4].split("/")) for row in shown)


async def test_sorting_by_any_column(app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    dates = [row["when"] for row in await rows(app)]
    filled = [d for d in dates if d]
    assert filled == sorted(filled, reverse=True) and dates[: len(filled)] == filled  # newest first

    await app.page.click("button.sort:has-text('Patient name')")
    await wait_for_url(app, "sortBy=patientName", "sortDirection=ascending")
    names = [row["cells"][0] for row in await rows(app)]
    by_orthanc = [str(ds.get("PatientName", "")) for ds in (await orthanc_studies(orthanc)).values()]
    assert names == [person_name(n) for n in sorted(by_orthanc, key=lambda n: (n == "", n.casefold()))]
    assert await app.page.get_attribute("th:has(button[data-sort-by=patientName])",
                                        "aria-sort") == "ascending"

    await app.page.click("button.sort:has-text('Patient name')")
    await wait_for_url(app, "sortDirection=descending")
    assert [row["cells"][0] for row in await rows(app)][:3] == [
        person_name(n) for n in sorted(by_orthanc, key=str.casefold, reverse=True)[:3]]

    await app.page.click("button.sort:has-text('Instances')")
    await wait_for_url(app, "sortBy=instances", "sortDirection=ascending")
    counts = [int(row["cells"][6]) for row in await rows(app)]
    assert counts == sorted(counts) and counts[-1] == 200  # numbers, not text: 200 after 16


async def test_expanding_a_row_lists_its_series_and_opens_the_viewer(
        app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    await fresh_list(app)
    study = orthanc.manifest.study("xss")
    row = app.page.locator(f"tr.study[data-study-instance-uid='{study.study_uid}']")
    await row.click()
    await app.page.wait_for_selector(".series-panel table.series tbody tr")
    series = await app.page.locator(".series-panel table.series tbody tr").evaluate_all(
        "trs => trs.map(tr => [tr.dataset.seriesInstanceUid, ...[...tr.cells].map(td => td.textContent)])")
    assert sorted((s[0], s[1], s[3], s[4]) for s in series) == sorted(
        (s.series_uid, s.description, s.modality, str(len(s.instances))) for s in study.series)
    disclose = row.locator("button.disclose")  # the keyboard's way in
    assert await disclose.get_attribute("aria-expanded") == "true"
    await save_screenshot(app, tmp_path_factory, "studylist-expanded.png")

    await disclose.focus()
    await app.page.keyboard.press("Enter")
    assert await app.page.locator(".series-panel").count() == 0
    await app.page.keyboard.press("Enter")
    await app.page.click(".series-panel >> text=Open in viewer")
    await app.page.wait_for_selector(".study-browser .series-entry", timeout=60_000)
    assert app.page.url == f"{app.site.url}viewer?StudyInstanceUIDs={study.study_uid}"


async def test_the_url_reproduces_the_list_and_the_last_query_is_remembered(
        app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    query = "?patientName=Syntax&modalities=CT&sortBy=patientName&sortDirection=descending"
    await app.page.goto(app.site.url + query)  # a reload, or a shared link
    await wait_for_list(app)
    assert await app.page.input_value("input[name=patientName]") == "Syntax"
    assert await app.page.inner_text(".modality-filter summary") == "CT"
    names = [row["cells"][0] for row in await rows(app)]
    expected = await orthanc_studies(orthanc, StudyQuery(patient_name="Syntax",
                                                         modalities_in_study=("CT",)))
    assert len(names) == len(expected) >= 15
    raw = [str(ds.PatientName) for ds in expected.values()]
    assert names == [person_name(n) for n in sorted(raw, key=str.casefold, reverse=True)]

    await app.navigate("")  # the list without parameters: the last query comes back
    await wait_for_url(app, "patientName=Syntax", "modalities=CT", "sortDirection=descending")
    assert await app.page.input_value("input[name=patientName]") == "Syntax"
    assert len(await rows(app)) == len(expected)

    await app.page.click("text=Clear filters")
    await app.page.wait_for_function("location.search === ''")
    assert await app.page.input_value("input[name=patientName]") == ""
    await app.navigate("")  # forgotten: the whole list
    await wait_for_list(app)
    assert app.page.url == app.site.url
    assert len(await rows(app)) == len(await orthanc_studies(orthanc))


async def test_a_remembered_query_goes_only_to_the_server_it_was_typed_for(
        app: App, orthanc: LoadedOrthanc) -> None:
    await fresh_list(app)
    sent = requests_of(app)
    # Typed for a server this config no longer points the source at: not restored, not sent.
    await app.page.evaluate("""() => localStorage.setItem('ohifpy:preferences', JSON.stringify({
        version: 1, values: {lastQuery: {patientName: 'Syntax', datasources: 'orthanc',
                                         queryServer: 'https://elsewhere.example/dicom-web'}}}))""")
    await app.navigate("")
    await wait_for_list(app)
    assert await app.page.input_value("input[name=patientName]") == ""
    assert sent and not [url for url in sent if "Syntax" in url]
    # Typed here: it comes back.
    await app.page.fill("input[name=patientName]", "Syntax")
    await app.page.keyboard.press("Enter")
    await wait_for_url(app, "patientName=Syntax")
    await app.navigate("")
    await wait_for_url(app, "patientName=Syntax")
    assert await app.page.input_value("input[name=patientName]") == "Syntax"
    await fresh_list(app)


# ---------------------------------------------------------------- three data sources


async def test_loading_state_then_pages_beyond_the_query_limit(
        sources_app: App, orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = sources_app
    await app.page.reload()
    await app.page.wait_for_selector("tr.list-state.loading >> text=Loading studies…")
    await wait_for_list(app)
    every = await orthanc_studies(orthanc)
    sent = requests_of(app)
    seen: list[str] = []
    for page in range(1, -(-len(every) // PAGE_SIZE) + 1):
        if page > 1:
            await app.page.click("button.next-page")
            await wait_for_url(app, f"pageNumber={page}")
        shown = await rows(app)
        assert len(shown) == min(PAGE_SIZE, len(every) - len(seen))
        assert await app.page.inner_text(".page-number") == f"Page {page}"
        assert await app.page.locator("button.sort:disabled").count() == len(TITLES)
        seen += [row["uid"] for row in shown]
        if page > 1:
            assert f"limit={PAGE_SIZE + 1}&offset={(page - 1) * PAGE_SIZE}" in sent[-1]
    assert sorted(seen) == sorted(every)
    assert await app.page.is_disabled("button.next-page")
    assert "narrow the filters to sort" in await app.page.inner_text(".sort-note")
    await save_screenshot(app, tmp_path_factory, "studylist-last-page.png")

    await app.page.click("button.previous-page")
    await wait_for_url(app, f"pageNumber={page - 1}")
    assert [row["uid"] for row in await rows(app)] == seen[(page - 2) * PAGE_SIZE:(page - 1) * PAGE_SIZE]


async def test_a_source_without_wildcards_matches_exactly(
        sources_app: App, orthanc: LoadedOrthanc) -> None:
    app = sources_app
    await fresh_list(app)
    sent = requests_of(app)
    await app.page.fill("input[name=patientName]", "Lestrade")
    await app.page.press("input[name=patientName]", "Enter")
    await app.page.wait_for_selector("tr.list-state.empty")
    assert "PatientName=Lestrade&" in sent[-1] and "fuzzymatching=true" in sent[-1]
    await app.page.fill("input[name=patientName]", "Lestrade^G")
    await app.page.press("input[name=patientName]", "Enter")
    await wait_for_url(app, "patientName=Lestrade^G")
    assert [row["cells"][0] for row in await rows(app)] == [person_name("Lestrade^G")]
    assert await app.page.is_hidden(".pager")  # one complete page: sortable
    assert await app.page.locator("button.sort:disabled").count() == 0


async def test_data_source_selector_and_a_failing_server(
        sources_app: App, sources_dist: Path) -> None:
    app = sources_app
    await fresh_list(app)
    select = "select[name=datasources]"
    assert await app.page.locator(f"{select} option").all_inner_texts() == [
        "Orthanc, 10 studies a page", "Static demo", "No server here"]
    await app.page.select_option(select, label="Static demo")
    await wait_for_url(app, "datasources=demo")
    demo = json.loads((sources_dist / "demo/dicom-web/studies/index.json").read_text())
    assert {row["uid"] for row in await rows(app)} == {s["0020000D"]["Value"][0] for s in demo}

    await app.page.select_option(select, label="No server here")
    await wait_for_url(app, "datasources=missing")
    state = app.page.locator("tbody tr.list-state.error")
    assert "The study list could not be loaded" in await state.inner_text()
    assert "404" in await state.inner_text()
    assert await app.page.locator("thead tr.titles th").all_inner_texts() == TITLES

    await app.navigate("")  # the last choice is remembered
    await wait_for_url(app, "datasources=missing")
    assert await app.page.input_value(select) == "missing"
    await app.page.select_option(select, label="Orthanc, 10 studies a page")
    await wait_for_url(app, "datasources=paged")
    assert len(await rows(app)) == PAGE_SIZE
