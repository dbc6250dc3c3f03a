"""The console's names in CPython: a study opened from a data source, for scripts and notebooks.

``open_study(source, study_instance_uid)`` opens a study from a DICOMweb URL, an app config
(an :class:`~ohifpy.config.AppConfig`, a JSON file's path, or one source's config) and a
source name, or a folder of files, and gives ``study.viewer``, ``study.show`` and
``study.overlay``: the console's objects (:mod:`ohifpy.console.viewer`,
:mod:`ohifpy.console.namespace`) over the study, so a console cell runs unchanged::

    with open_study("http://127.0.0.1:8042/dicom-web", "1.2.3") as study:
        exec(cell, study.namespace())

The current image is the first image series' middle image until ``study.viewer.select(
series=..., index=..., window=...)`` chooses another. ``show`` and ``overlay`` return PIL
images (which notebooks display and ``.save("x.png")`` writes), rendered through the
current window; they are kept in ``study.console.shown`` and ``.overlays`` as well.

Frames are fetched, decoded and held exactly as the viewer's worker does it
(:class:`ohifpy.viewer.frames.Frames`, with ``cache_mb`` of decoded frames), so the values
are the viewer's. The data sources are asynchronous; :class:`AsyncStudy` is the study on
the caller's event loop, and :class:`Study` the same on an event loop of its own in a
thread, which is what makes the names synchronous: a cell's ``viewer.image`` waits for
its frame whether it runs in a script or in a notebook (where an event loop is already
running, so ``asyncio.run`` could not). CPython only (httpx, threads): the module is in
the browser's wheel too, but nothing there imports it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import weakref
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from ..config import AppConfig, DicomWebSource, SourceConfig, load_config
from ..datasources import DataSource, create_data_sources
from ..dicomweb import Transport
from ..imaging import ImageFrame, VOIWindow
from ..measure import Measurement
from ..model import DisplaySet, Instance, Study, display_sets_from_instances
from ..sr import latest_reports, read_measurement_report
from ..viewer.frames import Frames
from ..volume import Volume, VolumeError
from .derived import ConsoleError
from .namespace import Console, picture_of_image, picture_of_overlay
from .viewer import Viewer, describe, not_a_volume, volume_geometry

__all__ = ["DEFAULT_CACHE_MB", "AsyncStudy", "OpenedStudy", "open_study"]

DEFAULT_CACHE_MB = 2048
"""Decoded frames a study keeps: a volume may take half (a 1,000-slice 512x512 CT)."""

T = TypeVar("T")
SourceSpec = str | os.PathLike[str] | AppConfig | SourceConfig


class AsyncStudy:
    """A study's display sets, decoded frames, volumes and measurement reports, on the
    caller's event loop: ``await AsyncStudy.open(...)``, then ``await study.frame(display
    set, index)``, ``study.volume(display set)``, ``study.measurements()``; ``aclose()``."""

    def __init__(self, sources: dict[str, DataSource], source: DataSource,
                 transport: Transport, instances: Sequence[Instance],
                 display_sets: Sequence[DisplaySet], cache_mb: int) -> None:
        self.sources, self.source, self.transport = sources, source, transport
        self.instances = list(instances)
        self.display_sets = list(display_sets)
        self.images = [d for d in display_sets if d.is_image]
        self.summary = Study.from_dataset(self.images[0].instance.metadata)
        """The study as the study list shows it (patient, date, description)."""
        self.frames = Frames(cache_mb << 20, lambda event, data: None)
        for display_set in self.display_sets:  # as the worker: frames go into their volume
            self.frames.track(display_set, source)
        self._measurements: list[Measurement] | None = None

    @classmethod
    async def open(cls, source: SourceSpec, study_instance_uid: str | None = None, *,
                   data_source: str = "", cache_mb: int | None = None) -> AsyncStudy:
        """Open a study (the source's only one when no UID is given); see :func:`open_study`."""
        if sys.platform == "emscripten":
            raise ConsoleError("open_study is for CPython: in the viewer's console, viewer is "
                               "the open study")
        from ..dicomweb.httpx_transport import HttpxTransport  # CPython only

        transport = HttpxTransport()
        sources: dict[str, DataSource] = {}
        try:
            sources, chosen = await _data_sources(source, data_source, transport)
            uid = study_instance_uid or await _only_study(chosen)
            instances = await chosen.retrieve_study_instances(uid)
            display_sets = display_sets_from_instances(instances)
            if not any(d.is_image for d in display_sets):
                raise ConsoleError(f"study {uid} has no image series")
            return cls(sources, chosen, transport, instances, display_sets,
                       DEFAULT_CACHE_MB if cache_mb is None else int(cache_mb))
        except BaseException:
            await _close(sources, transport)
            raise

    async def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        """Image ``index`` of a display set, decoded (held for the next time)."""
        return await self.frames.get(self.source, display_set.images[index])

    async def volume(self, display_set: DisplaySet) -> Volume:
        """A reconstructable display set's volume, every image loaded into it."""
        volume_geometry(display_set)  # says why not, before anything is loaded
        try:
            return await self.frames.whole_volume(display_set, self.source)
        except VolumeError as exc:
            raise not_a_volume(display_set, str(exc)) from None

    async def measurements(self) -> list[Measurement]:
        """The measurements of the study's newest measurement report (as the viewer opens
        them); read once."""
        if self._measurements is None:
            found: list[Measurement] = []
            for report in latest_reports(i.metadata for i in self.instances if not i.has_pixels):
                await self.source.load_bulkdata(report)
                found += read_measurement_report(report)
            self._measurements = found
        return list(self._measurements)

    async def aclose(self) -> None:
        await _close(self.sources, self.transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _data_sources(spec: SourceSpec, name: str, transport: Transport
                        ) -> tuple[dict[str, DataSource], DataSource]:
    """Every source of what ``spec`` names, and the one to open the study from."""
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if re.match(r"https?://", text, re.IGNORECASE):
            spec = DicomWebSource.from_url(text, qidoSupportsIncludeField=True)
        elif Path(text).is_dir():
            from ..datasources.local_files import LocalFilesDataSource, file_handles

            local = LocalFilesDataSource()
            await local.add_files(file_handles([Path(text)]))
            return {local.name: local}, local
        else:
            spec = load_config(text)
    config = spec if isinstance(spec, AppConfig) else AppConfig((spec,))
    chosen = name or config.defaultDataSourceName
    config.source(chosen)  # an unknown name is said before any request
    sources = create_data_sources(config, transport)
    return sources, sources[chosen]


async def _only_study(source: DataSource) -> str:
    studies = await source.search_for_studies(None, limit=2)
    if len(studies) != 1:
        raise ConsoleError(f"give the StudyInstanceUID: {source.friendly_name or source.name} "
                           f"holds {'no' if not studies else 'more than one'} study")
    return str(studies[0].StudyInstanceUID)


async def _close(sources: dict[str, DataSource], transport: Transport) -> None:
    for source in sources.values():
        await source.aclose()
    await transport.aclose()


class _Loop:
    """An event loop running in a thread of its own, which synchronous code waits on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ohifpy-study",
                                       daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and wait for it (Ctrl+C cancels it)."""
        if not self.thread.is_alive():
            coroutine.close()
            raise ConsoleError("the study is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    @staticmethod
    def stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        loop.close()


class _StudySource:
    """The :class:`~ohifpy.console.viewer.ViewerSource` of an opened study: the current
    image is chosen here (:meth:`Viewer.select`), frames wait on the study's loop."""

    def __init__(self, study: AsyncStudy, loop: _Loop) -> None:
        self._study, self._loop = study, loop
        first = study.images[0]
        self._active = (first, len(first.images) // 2)
        self._window: VOIWindow | None = None

    def display_sets(self) -> Sequence[DisplaySet]:
        return self._study.display_sets

    def active(self) -> tuple[DisplaySet, int]:
        return self._active

    def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        return self._loop.run(self._study.frame(display_set, index))

    def volume(self, display_set: DisplaySet) -> Volume:
        return self._loop.run(self._study.volume(display_set))

    def window(self) -> VOIWindow | None:
        return self._window

    def measurements(self) -> Sequence[Measurement]:
        return self._loop.run(self._study.measurements())

    def activate(self, display_set: DisplaySet, index: int, window: VOIWindow | None) -> None:
        if window is None and display_set is not self._active[0]:
            self._window = None  # a series shown anew has its own window, as in a viewport
        elif window is not None:
            self._window = window
        self._active = (display_set, index)


class OpenedStudy:
    """A study opened for a script or notebook (see the module's docstring): ``viewer``,
    ``show``, ``overlay``, ``namespace()``; ``close()`` (or ``with``)."""

    def __init__(self, study: AsyncStudy, loop: _Loop) -> None:
        self.async_study = study
        """The same study on the loop's side (its coroutines run with ``run``)."""
        self._loop = loop
        self.viewer = Viewer(_StudySource(study, loop))
        self.console = Console(self.viewer, present_image=picture_of_image,
                               present_overlay=picture_of_overlay(self.viewer))
        self.show = self.console.show
        self.overlay = self.console.overlay
        self._closed = weakref.finalize(self, _Loop.stop, loop.loop, loop.thread)

    @property
    def summary(self) -> Study:
        """The study as the study list shows it (patient, date, description)."""
        return self.async_study.summary

    @property
    def display_sets(self) -> list[DisplaySet]:
        return list(self.async_study.display_sets)

    def namespace(self) -> dict[str, Any]:
        """A console cell's globals: ``exec(cell, study.namespace())``."""
        return self.console.namespace()

    def close(self) -> None:
        """Close the study's connections and its loop."""
        if self._closed.alive:
            try:
                self._loop.run(self.async_study.aclose())
            finally:
                self._closed()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.summary
        return (f"<study {s.study_instance_uid} {s.patient_name!r} {s.study_date}: "
                f"{', '.join(describe(d) for d in self.async_study.images)}>")


def open_study(source: SourceSpec, study_instance_uid: str | None = None, *,
               data_source: str = "", series: Any = None, index: int | None = None,
               window: Any = None, cache_mb: int | None = None) -> OpenedStudy:
    """Open a study for a script or notebook.

    ``source`` is a DICOMweb root URL (``http(s)://``), a folder of DICOM files, an app
    config JSON file's path, an :class:`~ohifpy.config.AppConfig` (``data_source`` names
    its source, the default one otherwise) or one source's config
    (:class:`~ohifpy.config.DicomWebSource`, ...). Without ``study_instance_uid`` the
    source's only study opens. ``series``, ``index`` and ``window`` choose the current
    image as :meth:`Viewer.select` does; ``cache_mb`` bounds the decoded frames kept.
    """
    loop = _Loop()
    try:
        study = loop.run(AsyncStudy.open(source, study_instance_uid, data_source=data_source,
                                         cache_mb=cache_mb))
    except BaseException:
        _Loop.stop(loop.loop, loop.thread)
        raise
    opened = OpenedStudy(study, loop)
    if series is not None or index is not None or window is not None:
        try:
            opened.viewer.select(series, index, window)
        except BaseException:
            opened.close()
            raise
    return opened
