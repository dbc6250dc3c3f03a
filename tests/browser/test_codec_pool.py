"""Compressed frames decode in the codec workers (web/codec_pool.js), and in the Python
worker when none can start: the pixels are ``ohifpy render``'s either way."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc

from ohifpy.config import DicomWebSource

from .conftest import App, RecordedContext, ServedSite, cpython_display_sets, cpython_render

pytestmark = pytest.mark.cpython_only  # a browser, a server thread, Orthanc

SYNTAXES = ("ct-jpeg-ls", "ct-jpeg-lossless-sv1", "ct-j2k", "ct-htj2k")


async def _load_series(app: App, source: DicomWebSource, study_uid: str) -> list[str]:
    """Open the study, wait until its stack is loaded; its SOP instances in stack order."""
    (stack,) = await cpython_display_sets(source, study_uid)
    sops = [image.instance.sop_instance_uid for image in stack.images]
    await app.page.goto(f"{app.site.url}viewer?StudyInstanceUIDs={study_uid}")
    await app.wait_for_image(0, sops[0])
    await app.wait_for_mark("ohifpy:series-loaded")
    return sops


async def _shows_render_of(app: App, source: DicomWebSource, study_uid: str, sop: str,
                           index: int) -> None:
    await app.go_to_image(index)
    await app.wait_for_image(index, sop)
    assert np.array_equal(await app.pixels(), await cpython_render(source, study_uid, sop=sop))


@pytest.mark.parametrize("key", SYNTAXES)
async def test_a_compressed_series_decodes_in_codec_workers(
        new_context: Callable[[], Awaitable[RecordedContext]], site: ServedSite,
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, key: str) -> None:
    recorded = await new_context()
    app = App(await recorded.context.new_page(), site)
    study = orthanc.manifest.study(key)
    sops = await _load_series(app, dicomweb_source, study.study_uid)
    workers = [worker.url.rsplit("/", 1)[1] for worker in app.page.workers]
    assert workers.count("codec_worker.js") >= 2, workers  # both cores decode
    await _shows_render_of(app, dicomweb_source, study.study_uid, sops[0], 0)
    await _shows_render_of(app, dicomweb_source, study.study_uid, sops[-1], len(sops) - 1)


async def test_frames_decode_in_the_python_worker_when_no_codec_worker_starts(
        browser: Any, orthanc_dist: Path, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource, tmp_path: Path) -> None:
    """A site whose codec_worker.js is missing (a route cannot stop a worker's own requests)."""
    dist = tmp_path / "dist"
    shutil.copytree(orthanc_dist, dist, copy_function=os.link)
    (dist / "codec_worker.js").unlink()
    context = await browser.new_context(viewport={"width": 1200, "height": 800},
                                        service_workers="block")  # it would not install
    with ServedSite(dist, proxy={"/dicom-web": orthanc.dicomweb_root}) as site:
        try:
            app = App(await context.new_page(), site)
            study = orthanc.manifest.study("ct-jpeg-ls")
            sops = await _load_series(app, dicomweb_source, study.study_uid)
            await _shows_render_of(app, dicomweb_source, study.study_uid, sops[-1], len(sops) - 1)
        finally:
            await context.close()
