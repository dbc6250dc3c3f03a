"""The browser console's two Pythons, run here as the page wires them, against the real Orthanc.

The viewer's worker (:class:`WorkerAPI`: ``consoleSnapshot``, ``consoleShow``,
``consoleOverlay``) and the console's (:class:`ConsoleSession`: ``needs``, ``run``) talk
in the messages of :mod:`ohifpy.console.messages`; here the test is the page between
them. The numbers a cell prints equal those of the same cell run through the CPython
API (``open_study``), a shown MIP renders as numpy's MIP through the viewport's window,
an overlay is blended into the image it lies over, and errors come back as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from test_worker_api import CountingTransport, result
from test_worker_viewer import config

from ohifpy.config import DicomWebSource
from ohifpy.console import open_study
from ohifpy.console.remote import ConsoleSession
from ohifpy.imaging import VOIWindow
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx

CIRCLE_CELL = """\
hu = viewer.image
rows, columns = np.ogrid[:hu.shape[0], :hu.shape[1]]
inside = (columns - 256) ** 2 + (rows - 200) ** 2 <= 30 ** 2
print(round(float(hu[inside].mean()), 6))
"""


class Page:
    """The page between the two workers (web/console_client.js), for one active viewport."""

    def __init__(self, api: WorkerAPI, session: ConsoleSession) -> None:
        self.api, self.session = api, session
        self.display_set_uid, self.image_index = "", 0
        self.window: dict[str, float] | None = None
        self.measurements: list[dict[str, Any]] = []

    async def run(self, code: str) -> dict[str, Any]:
        needs = self.session.needs(code)
        if "error" in needs:
            return {"ok": False, "syntax": needs["error"]}
        answer = await result(self.api, "consoleSnapshot", displaySetUID=self.display_set_uid,
                              imageIndex=self.image_index, window=self.window,
                              volume=needs["volume"], displaySets=needs["displaySets"],
                              volumes=needs["volumes"])
        snapshot = answer["snapshot"]
        if answer["imageData"] is not None:
            snapshot["image"]["data"] = answer["imageData"].tobytes()
        if answer["volumeData"] is not None:
            snapshot["volume"]["data"] = answer["volumeData"].tobytes()
        snapshot["measurements"] = self.measurements
        done = self.session.run(code, snapshot)
        done["displaySets"] = [(await result(self.api, "consoleShow", derived=shown))["displaySet"]
                               for shown in done["shown"]]
        for overlay in done["overlays"]:
            await result(self.api, "consoleOverlay", overlay=overlay)
        return done


@pytest.fixture
async def page(orthanc: LoadedOrthanc) -> AsyncIterator[tuple[Page, list[tuple[str, str]]]]:
    api = WorkerAPI(CountingTransport())
    await result(api, "init", config={**config(), "cacheSizeMB": 256},
                 baseUrl=orthanc.base_url + "/")
    opened = await result(api, "openViewer",
                          studyInstanceUIDs=orthanc.manifest.study("ct").study_uid)
    output: list[tuple[str, str]] = []
    viewer = Page(api, ConsoleSession(lambda stream, text: output.append((stream, text))))
    viewer.display_set_uid = opened["viewports"][0]
    (shown,) = [d for d in opened["displaySets"] if d["displaySetUID"] == viewer.display_set_uid]
    viewer.image_index = shown["numImages"] // 2
    yield viewer, output
    await api.transport.aclose()


def printed(output: list[tuple[str, str]], stream: str = "stdout") -> str:
    return "".join(text for s, text in output if s == stream)


async def test_a_cell_gives_the_numbers_the_cpython_api_gives(
        page: tuple[Page, list[tuple[str, str]]], orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    viewer, output = page
    done = await viewer.run(CIRCLE_CELL)
    assert done["ok"], printed(output, "stderr")
    in_browser = float(printed(output))
    with open_study(dicomweb_source, orthanc.manifest.study("ct").study_uid,
                    index=viewer.image_index) as study:
        namespace = study.namespace()
        exec(CIRCLE_CELL.replace("print(", "value = ("), namespace)  # noqa: S102
        assert namespace["value"] == in_browser
        # And the volume, sent once the cell names it, is the one the API loads.
        output.clear()
        done = await viewer.run("print(viewer.volume.shape, float(viewer.volume.mean()))")
        assert done["ok"], printed(output, "stderr")
        volume = study.viewer.volume
        assert printed(output).strip() == f"{volume.shape} {float(volume.mean())}"


async def test_show_a_mip_becomes_a_display_set_rendered_through_the_window(
        page: tuple[Page, list[tuple[str, str]]]) -> None:
    viewer, output = page
    viewer.window = {"center": 40.0, "width": 400.0}
    done = await viewer.run("mip = viewer.volume.max(axis=0)\nshow(mip, name='MIP <b>')")
    assert done["ok"], printed(output, "stderr")
    (info,) = done["displaySets"]
    assert info["seriesDescription"] == "MIP <b>" and info["numImages"] == 1
    assert info["modality"] == "CT" and info["studyInstanceUID"]
    rendered = await result(viewer.api, "renderImage", displaySetUID=info["displaySetUID"])
    snapshot = await result(viewer.api, "consoleSnapshot", displaySetUID=viewer.display_set_uid,
                            imageIndex=0, volume=True)
    voxels = snapshot["volumeData"]
    expected = np.rint(VOIWindow(40, 400).apply(voxels.max(axis=0)) * 255).astype(np.uint8)
    assert rendered["window"] == {"center": 40.0, "width": 400.0}
    assert np.array_equal(rendered["rgba"][..., 0], expected)
    # Measured as any image: in mm (the CT's pixel spacing), the MIP's own values.
    assert (await viewer.run("print(viewer.image.spacing[1])"))["ok"]
    column_mm = float(printed(output).splitlines()[-1])
    length = await result(viewer.api, "measure", displaySetUID=info["displaySetUID"],
                          imageIndex=0, tool="Length", points=[[100, 200], [200, 200]])
    values = {v["name"]: v["value"] for v in length["values"]}
    assert values["length"] == pytest.approx(100 * column_mm)
    probe = await result(viewer.api, "measure", displaySetUID=info["displaySetUID"],
                         imageIndex=0, tool="Probe", points=[[256, 200]])
    assert {v["name"]: v["value"] for v in probe["values"]}["value"] == voxels.max(axis=0)[200, 256]


async def test_a_shown_stack_is_a_series_of_its_own_with_its_volume(
        page: tuple[Page, list[tuple[str, str]]]) -> None:
    """show() of a 3-D array: a stack placed as the volume's slices, which a cell reads back
    as viewer.volume once it is the active series."""
    viewer, output = page
    done = await viewer.run("thick = viewer.volume[::10] > 0\nshow(thick, name='every 10th')")
    assert done["ok"], printed(output, "stderr")
    (info,) = done["displaySets"]
    assert info["numImages"] == 20 and info["isReconstructable"]
    viewer.display_set_uid, viewer.image_index = info["displaySetUID"], 0
    done = await viewer.run("print(viewer.volume.shape, viewer.volume.spacing[0], "
                            "int(viewer.volume.sum()) == int(thick.sum()))")
    assert done["ok"], printed(output, "stderr")
    assert printed(output).splitlines()[-1] == "(20, 512, 512) 12.5 True"


async def test_overlay_is_blended_into_the_image_it_lies_over(
        page: tuple[Page, list[tuple[str, str]]]) -> None:
    viewer, output = page
    before = await result(viewer.api, "renderImage", displaySetUID=viewer.display_set_uid,
                          imageIndex=viewer.image_index)
    done = await viewer.run("bone = viewer.image > 300\noverlay(bone, 'red', mode='fill')\n"
                            "print(int(bone.sum()))")
    assert done["ok"], printed(output, "stderr")
    after = await result(viewer.api, "renderImage", displaySetUID=viewer.display_set_uid,
                         imageIndex=viewer.image_index)
    changed = np.any(after["rgba"] != before["rgba"], axis=2)
    assert changed.sum() == int(printed(output)) > 0
    assert (after["rgba"][changed][:, 0] >= after["rgba"][changed][:, 1]).all()  # red


async def test_errors_come_back_as_python_tells_them(
        page: tuple[Page, list[tuple[str, str]]]) -> None:
    viewer, output = page
    assert "SyntaxError" in (await viewer.run("print(1 +"))["syntax"]
    done = await viewer.run("def f():\n    return 1 / 0\nf()")
    assert not done["ok"]
    error = printed(output, "stderr")
    assert "ZeroDivisionError: division by zero" in error and "return 1 / 0" in error
    assert "remote.py" not in error  # the cell's frames, not the console's
    output.clear()
    hostile = "<img src=x onerror=alert(1)>"
    assert (await viewer.run(f"print({hostile!r})\n{hostile!r}"))["ok"]
    assert printed(output) == f"{hostile}\n{hostile!r}\n"
    output.clear()
    done = await viewer.run("overlay(np.zeros((3, 3), dtype=bool))")
    assert not done["ok"] and printed(output, "stderr").startswith("ConsoleError: the mask's")
    output.clear()
    done = await viewer.run("viewer.select(index=0)")
    assert "viewer.select works in scripts" in printed(output, "stderr")


async def test_the_viewer_checks_what_the_console_sends(
        page: tuple[Page, list[tuple[str, str]]]) -> None:
    viewer, _ = page
    bad = {"name": "x", "array": {"dtype": "int16", "shape": [4, 4], "data": b"\0" * 7}}
    answer = await viewer.api.handle("consoleShow", {"derived": bad})
    assert answer["error"]["type"] == "ConsoleError"
    assert "7 bytes do not fill int16 (4, 4)" in answer["error"]["message"]
    bad["array"] = {"dtype": "object", "shape": [1], "data": b"\0" * 8}
    answer = await viewer.api.handle("consoleShow", {"derived": bad})
    assert "no array of object" in answer["error"]["message"]
    mask = {"dtype": "bool", "shape": [2, 2], "data": b"\1" * 4}
    answer = await viewer.api.handle("consoleOverlay", {"overlay": {
        "mask": mask, "colour": [255, 0, 0], "displaySetUID": viewer.display_set_uid,
        "imageIndex": 0}})
    assert "the mask is 2x2" in answer["error"]["message"]
