"""The user's own files in Chromium: ``/local``, a drop anywhere, ZIPs, DICOMDIR sets.

Real files from the test data (the 200-slice CT, the MR, the multi-frame XA) go to the
page as a person gives them: through the folder and file inputs (Playwright hands
Chromium the paths, as the file chooser does) and through a drop, which Chromium's own
drag machinery makes (DevTools' ``Input.dispatchDragEvent`` with file paths: the page
gets real file-system entries, folders included, as from a file manager). Nothing is
uploaded: the files go to the worker, and Python reads them there.

What is on the canvas is checked against ``ohifpy render --folder`` of the same files:
the CPython pipeline with the same local-files source. Each test but the first opens
copies under new UIDs (``relabelled``), so the studies the worker keeps for the tab's
life never collide between tests.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from ohifpy.cli import render_image

from .conftest import App

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, subprocess builds

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4e80000000049454e44ae426082")
SUMMARY = ".notice .local-summary-text"


# ---------------------------------------------------------------- the files


@dataclass(frozen=True)
class Copy:
    """Test-data files written again under new UIDs (one new study per source study)."""

    files: tuple[Path, ...]
    study_uids: tuple[str, ...]


def relabelled(sources: Sequence[Path], label: str, out: Path) -> Copy:
    """The files under ``out`` with study, series and SOP UIDs made from ``label``."""
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    studies: dict[str, str] = {}
    for index, path in enumerate(sources):
        ds = pydicom.dcmread(path)
        old_study = str(ds.StudyInstanceUID)
        studies.setdefault(old_study, generate_uid(entropy_srcs=[label, old_study]))
        ds.StudyInstanceUID = studies[old_study]
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[label, str(ds.SeriesInstanceUID)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[label, str(index)])
        ds.PatientID = f"LOCAL-{label.upper()}"
        files.append(out / f"{index:04d}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
    return Copy(tuple(files), tuple(studies.values()))


def study_files(testdata: Any, key: str, count: int | None = None) -> list[Path]:
    return [testdata.root / i.path for i in testdata.study(key).instances[:count]]


@pytest.fixture(scope="module")
def scans(testdata: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as a user has one: the whole CT, the MR, the multi-frame XA in folders of
    their own, and a text file and a PNG that are not DICOM."""
    root = tmp_path_factory.mktemp("local") / "scans"
    for key in ("ct", "mr", "xa-cine"):
        (root / key).mkdir(parents=True)
        for path in study_files(testdata, key):
            shutil.copyfile(path, root / key / path.name)
    (root / "notes.txt").write_text("patient brought a CD\n")
    (root / "mr" / "preview.png").write_bytes(PNG_BYTES)
    return root


# ---------------------------------------------------------------- CPython reference


async def ohifpy_render(paths: Sequence[Path], study_uid: str, sop_uid: str | None = None,
                        frame: int | None = None) -> np.ndarray:
    """``ohifpy render --folder``: the same files through the CPython pipeline."""
    from ohifpy.datasources.local_files import LocalFilesDataSource

    source, _ = await LocalFilesDataSource.from_paths(paths)
    try:
        rgba, _, _ = await render_image(source, study_uid, None, sop_uid, frame)
    finally:
        await source.aclose()
    return rgba


# ---------------------------------------------------------------- driving the page


async def open_local_page(app: App) -> None:
    """Through the header's link, as a user does."""
    await app.page.click("header a.open-local")
    await app.page.wait_for_selector(".local-page .drop-zone")
    assert await app.page.inner_text(".drop-zone-title") == "Drop DICOM files or folders here"


def content_items(ds: Any) -> list[Any]:
    """Every SR content item under ``ds``, depth first."""
    found = []
    for item in ds.get("ContentSequence", []):
        found += [item, *content_items(item)]
    return found


async def clear_notice(app: App) -> None:
    """Close what an earlier opening said, so the next summary is this one's."""
    await app.page.evaluate("document.querySelector('.notice .notice-close')?.click()")
    await app.page.wait_for_selector(".notice", state="hidden")


async def summary(app: App) -> str:
    await app.page.wait_for_selector(SUMMARY, timeout=120_000)
    return await app.page.inner_text(SUMMARY)


async def wait_for_url(app: App, pattern: str) -> None:
    await app.page.wait_for_url(re.compile(pattern), timeout=120_000)


async def wait_for_viewer(app: App, study_uid: str) -> None:
    """The viewer on a local study: the address names it and the local source."""
    await wait_for_url(app, rf"/viewer\?StudyInstanceUIDs={re.escape(study_uid)}&datasources=local$")
    await app.wait_for_image(0)
    await app.settle()


async def listed(app: App) -> set[str]:
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    return set(await app.page.eval_on_selector_all(
        "tr.study", "rows => rows.map(tr => tr.dataset.studyInstanceUid)"))


async def drop(app: App, paths: Sequence[Path], at: tuple[int, int] = (600, 400)) -> None:
    """Drag files and folders from outside the page and drop them, as from a file manager:
    Chromium's own drag events, with real file-system entries for the page to walk."""
    cdp = await app.page.context.new_cdp_session(app.page)
    data = {"items": [], "files": [str(p) for p in paths], "dragOperationsMask": 1}
    x, y = at
    try:
        for kind in ("dragEnter", "dragOver"):
            await cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
        assert await app.page.is_visible(".drop-overlay"), "no drop overlay while dragging"
        await cdp.send("Input.dispatchDragEvent", {"type": "drop", "x": x, "y": y, "data": data})
    finally:
        await cdp.detach()
    await app.page.wait_for_selector(".drop-overlay", state="hidden")


async def assert_canvas_is_render(app: App, paths: Sequence[Path], study_uid: str) -> None:
    shown = await app.pixels()
    expected = await ohifpy_render(paths, study_uid)
    assert shown.shape == expected.shape
    assert shown[..., :3].std() > 0, "a blank canvas"
    differing = np.argwhere(np.any(shown != expected, axis=-1))
    assert differing.size == 0, f"{len(differing)} pixels differ, first at {differing[0].tolist()}"


# ---------------------------------------------------------------- tests


async def test_a_folder_lists_its_studies_and_shows_them_as_ohifpy_render(
        app: App, scans: Path, testdata: Any) -> None:
    ct, mr, xa = (testdata.study(key) for key in ("ct", "mr", "xa-cine"))
    await app.navigate("")
    await clear_notice(app)
    await open_local_page(app)
    sent: list[str] = []

    def record(request: Any) -> None:
        sent.append(f"{request.method} {request.url}")

    app.page.on("request", record)
    await app.page.evaluate("""() => {
        self.noticeTexts = [];
        new MutationObserver(() => noticeTexts.push(document.querySelector('.notice').textContent))
            .observe(document.querySelector('.notice'), {childList: true, subtree: true});
    }""")
    await app.page.set_input_files("input.open-folder-input", scans)
    assert await summary(app) == "3 studies, 225 instances; 2 files are not DICOM"
    assert "Reading 227 files…" in await app.page.evaluate("noticeTexts")
    app.page.remove_listener("request", record)
    assert not [line for line in sent if not line.startswith("GET ")], sent  # nothing uploaded
    await wait_for_url(app, r"/\?datasources=local$")  # several studies: the study list
    assert await listed(app) >= {ct.study_uid, mr.study_uid, xa.study_uid}
    assert await app.page.is_visible("select[name=datasources]")
    assert "Local files" in await app.page.locator(
        "select[name=datasources] option").all_inner_texts()
    assert await app.page.input_value("select[name=datasources]") == "local"
    skipped = await app.page.text_content(".notice .local-skipped p")
    assert sorted(skipped.split(", ")) == ["scans/mr/preview.png", "scans/notes.txt"], skipped

    # The CT's row, its series, and "Open in viewer" that keeps the source.
    await app.page.click(f"tr.study[data-study-instance-uid='{ct.study_uid}']")
    await app.page.wait_for_selector(".series-panel table.series td")
    link = app.page.locator(".series-panel a.open-study")
    assert "datasources=local" in await link.get_attribute("href")
    await link.click()
    await wait_for_viewer(app, ct.study_uid)
    await assert_canvas_is_render(app, [scans], ct.study_uid)
    assert await app.page.inner_text(".save-report") == "Download DICOM SR"

    # A later image of the stack, then the multi-frame XA's first frame.
    await app.go_to_image(100)
    await app.wait_for_image(100)
    await app.settle()
    sop = await app.page.eval_on_selector(App.CANVAS, "c => c.dataset.sopInstanceUid")
    expected = await ohifpy_render([scans], ct.study_uid, sop_uid=sop)
    assert np.array_equal(await app.pixels(), expected)

    await app.navigate(f"viewer?StudyInstanceUIDs={xa.study_uid}&datasources=local")
    await app.wait_for_image(0, xa.instances[0].sop_uid)
    await app.settle()
    await assert_canvas_is_render(app, [scans], xa.study_uid)


async def test_a_drop_anywhere_opens_files_and_folders(
        app: App, testdata: Any, tmp_path: Path) -> None:
    one = relabelled(study_files(testdata, "mr"), "dropped mr", tmp_path / "dropped" / "mr")
    loose = tmp_path / "dropped" / "readme.txt"
    loose.write_text("not DICOM")

    # On the viewer (of a study from Orthanc): a folder and a loose file; one study, so
    # the viewer opens on it.
    await app.open_study(testdata.study("mr").study_uid)
    await app.wait_for_image(0)
    await clear_notice(app)
    await drop(app, [one.files[0].parent, loose])
    assert await summary(app) == "1 study, 24 instances; 1 file is not DICOM"
    await wait_for_viewer(app, one.study_uids[0])
    await assert_canvas_is_render(app, one.files, one.study_uids[0])

    # On the study list: two folders, two studies, the list of the local source.
    ct = relabelled(study_files(testdata, "ct", 12), "dropped ct", tmp_path / "two" / "ct")
    xa = relabelled(study_files(testdata, "xa-cine"), "dropped xa", tmp_path / "two" / "xa")
    await app.navigate("")
    await app.page.wait_for_selector("tr.study, tr.list-state")
    await clear_notice(app)
    await drop(app, [ct.files[0].parent, xa.files[0].parent])
    assert await summary(app) == "2 studies, 13 instances"
    await wait_for_url(app, r"/\?datasources=local$")
    assert await listed(app) >= {ct.study_uids[0], xa.study_uids[0]}

    # A drag of something else than files (text) shows no overlay and opens nothing.
    await app.page.evaluate("""() => {
        const data = new DataTransfer();
        data.setData('text/plain', 'hello');
        document.body.dispatchEvent(new DragEvent('dragenter', {dataTransfer: data, bubbles: true}));
    }""")
    assert await app.page.is_hidden(".drop-overlay")


async def test_a_zip_opens_like_a_folder(app: App, testdata: Any, tmp_path: Path) -> None:
    copy = relabelled(study_files(testdata, "ct", 20), "zipped", tmp_path / "zipped")
    archive = tmp_path / "from-the-cd.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in copy.files:
            zipped.write(path, f"DICOM/SERIES1/{path.stem}")  # no extension, as on a CD
        zipped.writestr("README.TXT", "viewer not included")
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page")
    await clear_notice(app)
    async with app.page.expect_file_chooser() as chooser:
        await app.page.click("button.open-files")
    assert (await chooser.value).is_multiple()
    await (await chooser.value).set_files(archive)
    assert await summary(app) == "1 study, 20 instances; 1 file is not DICOM"
    await wait_for_viewer(app, copy.study_uids[0])
    await assert_canvas_is_render(app, [archive], copy.study_uids[0])


async def test_a_dicomdir_set_opens_its_studies(app: App, testdata: Any, tmp_path: Path) -> None:
    mr = relabelled(study_files(testdata, "mr"), "dicomdir mr", tmp_path / "staging" / "mr")
    xa = relabelled(study_files(testdata, "xa-cine"), "dicomdir xa", tmp_path / "staging" / "xa")
    fileset = FileSet()
    for path in (*mr.files, *xa.files):
        fileset.add(pydicom.dcmread(path))
    cd = tmp_path / "CDROM"
    fileset.write(cd)
    assert (cd / "DICOMDIR").is_file()
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page")
    await clear_notice(app)
    # "Open folder" asks showDirectoryPicker first, which headless Chromium refuses as a
    # cancel; without it (other browsers) the button opens the folder input's chooser.
    await app.page.evaluate("() => { self.showDirectoryPicker = undefined; }")
    try:
        async with app.page.expect_file_chooser() as chooser:
            await app.page.click("button.open-folder")
        await (await chooser.value).set_files(cd)
    finally:
        await app.page.evaluate("() => { delete self.showDirectoryPicker; }")  # the prototype's again
    assert await summary(app) == "2 studies, 25 instances"
    await wait_for_url(app, r"/\?datasources=local$")
    assert await listed(app) >= {mr.study_uids[0], xa.study_uids[0]}
    await app.navigate(f"viewer?StudyInstanceUIDs={mr.study_uids[0]}&datasources=local")
    await app.wait_for_image(0)
    await app.settle()
    await assert_canvas_is_render(app, [cd], mr.study_uids[0])


async def test_a_corrupt_file_is_named_with_its_reason_while_the_others_open(
        app: App, testdata: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    good = relabelled(study_files(testdata, "ct", 5), "mixed", folder)
    header = good.files[0].read_bytes()[:132]  # preamble and DICM: it claims to be DICOM
    (folder / "broken.dcm").write_bytes(header + b"\x02\x00\x10\x00UI\xff\x7f" + bytes(40))
    hostile = folder / "<img src=x onerror=alert(1)>.dcm"
    hostile.write_bytes(header + bytes(range(256)) * 3)
    dialogs: list[str] = []
    app.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page")
    await clear_notice(app)
    await app.page.set_input_files("input.open-folder-input", folder)
    assert await summary(app) == "1 study, 5 instances; 2 files could not be read"
    await wait_for_viewer(app, good.study_uids[0])  # the good ones open
    failed = await app.page.eval_on_selector_all(
        ".notice .local-failed li",
        "items => items.map(li => [li.querySelector('.file-name').textContent,"
        " li.querySelector('.file-reason').textContent])")
    names = sorted(name.rsplit("/", 1)[-1] for name, _ in failed)
    assert names == ["<img src=x onerror=alert(1)>.dcm", "broken.dcm"], failed
    for _, reason in failed:
        assert len(reason) > len(": ") + 5, failed  # a reason, not just a name
    assert await app.page.locator(".notice img").count() == 0  # the name stayed text
    assert not dialogs
    await assert_canvas_is_render(app, good.files, good.study_uids[0])
    await app.page.click(".notice .notice-close")
    assert await app.page.is_hidden(".notice")


async def test_a_length_on_local_files_downloads_a_dicom_sr(
        app: App, testdata: Any, tmp_path: Path) -> None:
    from test_sr import dciodvfy

    from .test_measurements_ui import choose, drag, number, rows, screen

    copy = relabelled(study_files(testdata, "ct", 8), "measured", tmp_path / "measured")
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page")
    await clear_notice(app)
    await app.page.set_input_files("input.open-folder-input", copy.files[0].parent)
    await wait_for_viewer(app, copy.study_uids[0])
    save = app.page.locator(".save-report")
    assert await save.inner_text() == "Download DICOM SR"

    s = await screen(app)
    await choose(app, "Length")
    await drag(app, s.at(150, 250), s.at(350, 250))
    await rows(app, 1)
    shown = number(await app.page.inner_text(".measurement-row .measurement-value[data-name=length]"))
    async with app.page.expect_download() as info:
        await save.click()
    download = await info.value
    assert download.suggested_filename.endswith(".dcm")
    await app.page.wait_for_selector(".measure-message:has-text('Downloaded 1 measurement as DICOM SR')")
    path = tmp_path / download.suggested_filename
    await download.save_as(path)

    report = pydicom.dcmread(path)
    assert report.SOPClassUID == COMPREHENSIVE_3D_SR and report.Modality == "SR"
    assert report.StudyInstanceUID == copy.study_uids[0]
    values = [item for item in content_items(report)
              if "MeasuredValueSequence" in item
              and item.ConceptNameCodeSequence[0].CodeMeaning == "Length"]
    assert len(values) == 1
    measured = float(values[0].MeasuredValueSequence[0].NumericValue)
    assert values[0].MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    assert abs(measured - shown) < 0.05, (measured, shown)
    if shutil.which("dciodvfy"):
        output = await asyncio.to_thread(dciodvfy, path)
        assert output.strip() == "Comprehensive3DSR", output

    # The report stays with the files for the tab's life: opening the study shows it.
    await app.navigate("")
    await app.navigate(f"viewer?StudyInstanceUIDs={copy.study_uids[0]}&datasources=local")
    await app.wait_for_image(0)
    await rows(app, 1)


async def test_a_reload_forgets_local_files(app: App, scans: Path, testdata: Any) -> None:
    """Nothing persists: after a reload the local study is gone, and the page says why."""
    study = testdata.study("mr").study_uid
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page")
    await clear_notice(app)
    await app.page.set_input_files("input.open-folder-input", scans / "mr")
    await wait_for_viewer(app, study)
    await app.page.reload()
    note = app.page.locator(".viewer .note.error")
    await note.wait_for(timeout=90_000)
    assert "kept only in the tab that opened them" in await note.inner_text()
    await app.page.click(".viewer .note.error a.open-local-again")
    await app.page.wait_for_selector(".local-page .drop-zone")
