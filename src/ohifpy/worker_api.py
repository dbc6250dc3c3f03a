"""The one surface the browser worker calls: a request in, a JSON-able answer out.

``web/worker.js`` hands every message of the page, ``{id, method, args}``, to
:meth:`WorkerAPI.handle` and posts back what it returns: ``{"result": ...}`` or
``{"error": {"type", "message"}}``. Everything the page shows is computed here, in
the same Python that ``ohifpy render`` runs in CPython: the study list rows, the
display sets of a study, and each image as RGBA bytes with its overlay text. The page
only paints, transforms the canvas and routes input.

Decoded frames are kept in a byte-bounded LRU cache, so a window/level drag
re-renders from the cached :class:`~ohifpy.imaging.ImageFrame` (one table lookup per
pixel) instead of fetching and decoding again. ``loadSeries`` fills that cache for a
whole stack, nearest images first, and reports progress through the ``emit`` callback
(the worker posts ``{event, data}``).

Strings from DICOM (names, descriptions) are returned as data; the page renders
them as text, never as markup. No threads, no JS here: the transport is injected
(``fetch`` in the browser, httpx in CPython tests) and the browser-only pieces are
imported by :func:`create_for_browser` alone.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid

from .cine import cine_frame_rate
from .config import AppConfig, ConfigError, LocalSource, SourceConfig
from .datasources import DataSource, create_data_sources
from .dicomweb import Transport
from .dicomweb.part10 import write_instance
from .errors import OhifpyError
from .hanging import Layout, hang
from .image_loader import load_image_frame
from .imaging import (
    ImageFrame,
    VOIWindow,
    render_rgba,
)
from .measure import (
    ROI_TOOLS,
    ImageGeometry,
    ImageReference,
    Measurement,
    measure,
    modality_unit,
)
from .measurement_csv import measurements_csv
from .model import (
    DisplaySet,
    ImageRef,
    Instance,
    ModelError,
    Series,
    Study,
    display_sets_from_instances,
)
from .overlay_geometry import overlay_geometry
from .sr import latest_reports, read_measurement_report, write_measurement_report
from .study_list import StudyListState, series_row, sort_study_rows, study_row
from .tag_tree import filter_tree, tag_tree
from .thumbnail import THUMBNAIL_SIZE, downsample_rgba, thumbnail_index
from .window_presets import window_presets

if TYPE_CHECKING:
    from .datasources.local_files import LocalFilesDataSource

__all__ = ["DEFAULT_CACHE_BYTES", "WorkerAPI", "create_for_browser"]

LOCAL_SOURCE_NAME = "local"
"""The user's files' source when the config has no ``dicomlocal`` one (OHIF's name)."""
DICOMJSON_SOURCE_NAME = "dicomjson"
"""The source ``/viewer/dicomjson?url=`` loads into when the config has no dicomjson one."""

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
"""Decoded frames kept for re-rendering before ``init`` (which applies the config's
``cacheSizeMB``): a 200-slice 512x512 CT takes 100 MB."""
LOAD_CONCURRENCY = 6
"""Frame requests in flight while loading a series (what browsers allow per host)."""

# Failures that belong to the data (or its server), told to the page without a traceback.
# ValueError stays until page-input checks and pydicom's own value errors have classes of
# their own.
EXPECTED_ERRORS = (OhifpyError, ValueError)

Emit = Callable[[str, dict[str, Any]], None]


class FrameCache:
    """Decoded frames by key, least recently used dropped first beyond ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._frames: OrderedDict[tuple[str, int], ImageFrame] = OrderedDict()

    def get(self, key: tuple[str, int]) -> ImageFrame | None:
        frame = self._frames.get(key)
        if frame is not None:
            self._frames.move_to_end(key)
        return frame

    def put(self, key: tuple[str, int], frame: ImageFrame) -> None:
        if key in self._frames:
            self.bytes -= self._frames.pop(key).stored.nbytes
        self._frames[key] = frame
        self.bytes += frame.stored.nbytes
        self._evict(keep=1)

    def resize(self, max_bytes: int) -> None:
        """A new budget (the app config's ``cacheSizeMB``); the oldest frames go first."""
        self.max_bytes = max_bytes
        self._evict(keep=0)

    def _evict(self, keep: int) -> None:
        """Drop least recently used frames while over budget, down to ``keep`` frames."""
        while self.bytes > self.max_bytes and len(self._frames) > keep:
            self.bytes -= self._frames.popitem(last=False)[1].stored.nbytes

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._frames

    def __len__(self) -> int:
        return len(self._frames)


class WorkerAPI:
    """The viewer's state in the worker: data sources, open display sets, decoded frames.

    Parameters
    ----------
    transport : Transport
        Shared by the DICOMweb clients of every data source.
    emit : callable, optional
        ``emit(event, data)`` sends an event to the page (series loading progress).
    cache_bytes : int
        Budget of the decoded-frame cache.
    """

    def __init__(
        self,
        transport: Transport,
        emit: Emit | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.transport = transport
        self.emit: Emit = emit or (lambda event, data: None)
        self.frames = FrameCache(cache_bytes)
        self.config: AppConfig | None = None
        self.sources: dict[str, DataSource] = {}
        self.local_source_name = LOCAL_SOURCE_NAME
        self.display_sets: dict[str, tuple[DisplaySet, DataSource]] = {}
        self._pending: dict[tuple[str, int], asyncio.Task[ImageFrame]] = {}
        self._loads: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._viewport_loads: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._methods: dict[str, Callable[..., Awaitable[Any]]] = {
            "init": self.init,
            "searchStudies": self.search_studies,
            "searchSeries": self.search_series,
            "renderImage": self.render_image,
            "loadSeries": self.load_series,
            "cancelLoad": self.cancel_load,
            "openViewer": self.open_viewer,
            "renderThumbnail": self.render_thumbnail,
            "loadViewports": self.load_viewports,
            "memory": self.memory,
            "measure": self.measure,
            "tags": self.tags,
            "exportMeasurementsCsv": self.export_measurements_csv,
            "saveReport": self.save_report,
            "loadReports": self.load_reports,
            "addLocalFiles": self.add_local_files,
            "openDicomJson": self.open_dicom_json,
        }
        # Checked on every request (a render is a few milliseconds): computed once.
        self._signatures = {name: inspect.signature(m) for name, m in self._methods.items()}

    # ------------------------------------------------------------ the protocol

    async def handle(self, method: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one request; its answer is ``{"result": ...}`` or ``{"error": {...}}``.

        ``args`` keys are the page's camelCase names (``displaySetUID``); an error
        never escapes, so one failing viewport does not take the worker down.
        """
        handler = self._methods.get(method)
        if handler is None:
            return _error(
                "UnknownMethod", f"no worker method {method!r}; one of {sorted(self._methods)}"
            )
        kwargs = {_snake_case(key): value for key, value in (args or {}).items()}
        try:
            self._signatures[method].bind(**kwargs)
        except TypeError as exc:
            return _error("BadRequest", f"{method}: {exc}")
        try:
            return {"result": await handler(**kwargs)}
        except EXPECTED_ERRORS as exc:
            return _error(type(exc).__name__, str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the page, with the trace in the console
            traceback.print_exc(file=sys.stderr)
            return _error(type(exc).__name__, str(exc))

    # ------------------------------------------------------------ methods

    async def init(self, config: Mapping[str, Any], base_url: str) -> dict[str, Any]:
        """Validate the app config and create its data sources (see :mod:`ohifpy.datasources`).

        Roots may be relative to the page (``demo/dicom-web``, ``/dicom-web``): they are
        resolved against ``base_url`` (the page's ``<base href>``), so the same config
        works at any origin and subpath. The user's own files always have a source: the
        config's ``dicomlocal`` one, else one named ``local`` made on the first drop.
        """
        app_config = AppConfig.from_json(dict(config))
        self.config = app_config  # the sources share the transport: nothing to close
        self.frames.resize(app_config.cacheSizeMB * 1024 * 1024)
        self.sources = create_data_sources(app_config, self.transport, base_url)
        self.base_url = base_url
        local = [s.name for s in app_config.dataSources if isinstance(s, LocalSource)]
        names = {s.name for s in app_config.dataSources}
        self.local_source_name = local[0] if local else next(
            name for name in (LOCAL_SOURCE_NAME, f"{LOCAL_SOURCE_NAME}-files") if name not in names
        )
        return {
            "dataSources": [_source_info(s, source)
                            for s, source in zip(app_config.dataSources,
                                                 self.sources.values(), strict=True)],
            "defaultDataSourceName": app_config.defaultDataSourceName,
            "localDataSourceName": self.local_source_name,
        }

    async def add_local_files(self, files: Sequence[Any]) -> dict[str, Any]:
        """Add the user's files (``[{file, path}]``: browser ``File`` objects, or paths in
        CPython) to the local source: ZIPs and DICOMDIRs opened, non-DICOM files counted,
        unreadable ones named with the reason. Nothing is read but headers."""
        from .datasources.local_files import file_handles

        source = self._local_source()
        report = await source.add_files(file_handles(files))
        return {
            "dataSource": source.name,
            "studyInstanceUIDs": list(report.study_instance_uids),
            "added": report.added,
            "skipped": list(report.skipped),
            "failed": [{"name": name, "reason": reason} for name, reason in report.failed],
        }

    async def open_dicom_json(self, url: str) -> dict[str, Any]:
        """Load an OHIF dicomjson file (``/viewer/dicomjson?url=``) into the config's
        dicomjson source, or one of its own: ``{dataSource, studyInstanceUIDs}``."""
        from .datasources.dicomjson import DicomJsonDataSource

        source = next((s for s in self.sources.values() if isinstance(s, DicomJsonDataSource)),
                      None)
        if source is None:
            source = DicomJsonDataSource(DICOMJSON_SOURCE_NAME, "DICOM JSON", self.transport,
                                         base_url=self.base_url)
            self.sources[source.name] = source
        return {"dataSource": source.name, "studyInstanceUIDs": await source.load(str(url))}

    async def search_studies(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One page of the study list for the URL's parameters (see :mod:`ohifpy.study_list`).

        The answer carries the canonical parameters back, so the page's URL and
        form show what was searched.
        """
        state = StudyListState.from_params(params or {})
        source = self._source(state.data_source)
        offset, limit, size = state.page_window(source.capabilities.query_limit)
        datasets = await source.search_for_studies(state.query, limit=limit, offset=offset)
        rows = [study_row(Study.from_dataset(ds)) for ds in datasets[:size]]
        has_more = len(datasets) >= limit
        sortable = state.page_number == 1 and not has_more
        return {
            "studies": sort_study_rows(rows, state.sort_by, state.sort_direction)
            if sortable else rows,
            "params": state.to_params(),
            "pageNumber": state.page_number,
            "pageSize": size,
            "offset": offset,
            "hasMore": has_more,
            "sortable": sortable,
        }

    async def search_series(
        self, study_instance_uid: str, data_source: str = ""
    ) -> dict[str, Any]:
        """The series of one study (an expanded study-list row), by series number."""
        datasets = await self._source(data_source).search_for_series(study_instance_uid)
        series = sorted((Series.from_dataset(ds) for ds in datasets),
                        key=lambda s: (s.series_number is None, s.series_number or 0))
        return {"series": [series_row(s) for s in series]}

    async def render_image(
        self,
        display_set_uid: str,
        image_index: int = 0,
        window: Mapping[str, float] | None = None,
        invert: bool = False,
        details: bool = True,
    ) -> dict[str, Any]:
        """One image of a display set as RGBA bytes, with the window used and its overlay.

        Without ``window`` the image's default (the header's first, else min-max) is
        used; the answer says which, so a drag can start from it. ``presets`` are the
        windows the preset menu and keys 1-5 offer (none for colour images),
        ``frameRate`` the header's cine rate (None: the page's default). Without
        ``details`` (the page draws the same image again, as during a window/level
        drag) ``overlay``, ``presets`` and ``frameRate`` are left out: a drag's every
        frame then costs the pixels alone.
        """
        display_set, _ = self._display_set(display_set_uid)
        image = _image(display_set, image_index)
        frame = await self._frame(display_set_uid, image_index)
        chosen = _window(window) if window else frame.default_window()
        rgba = render_rgba(frame, chosen, invert=bool(invert))
        answer = {
            "rgba": rgba,  # (rows, columns, 4) uint8: the worker copies it out once
            "width": int(rgba.shape[1]),
            "height": int(rgba.shape[0]),
            "imageIndex": image_index,
            "window": None if chosen is None else {"center": chosen.center, "width": chosen.width},
        }
        if not details:
            return answer
        return {
            **answer,
            "overlay": _overlay(display_set, image, image_index, chosen),
            "presets": [] if frame.is_color else
            [p.to_json() for p in window_presets(display_set.modality, frame.windows)],
            "frameRate": cine_frame_rate(image.instance.metadata),
        }

    async def load_series(
        self, display_set_uid: str, start_index: int = 0, concurrency: int = LOAD_CONCURRENCY
    ) -> dict[str, Any]:
        """Fetch and decode every image of a display set into the cache, nearest first.

        Progress goes out as ``progress`` events; a frame that fails is counted and
        skipped (its viewport shows the error when it is displayed). A new load of the
        same display set, or :meth:`cancel_load`, stops this one: the answer then has
        ``cancelled: true``.
        """
        display_set, _ = self._display_set(display_set_uid)
        total = len(display_set.images)
        start = min(max(int(start_index), 0), total - 1)
        order = sorted(range(total), key=lambda i: (abs(i - start), i))
        state = {"loaded": 0, "failed": 0}
        queue = iter(order)

        async def worker() -> None:
            for index in queue:
                try:
                    await self._frame(display_set_uid, index)
                    state["loaded"] += 1
                except EXPECTED_ERRORS:
                    state["failed"] += 1
                self.emit("progress", {"displaySetUID": display_set_uid, "total": total, **state})

        async def run() -> dict[str, Any]:
            await asyncio.gather(*(worker() for _ in range(max(1, int(concurrency)))))
            return {"displaySetUID": display_set_uid, "total": total, "cancelled": False, **state}

        await self.cancel_load(display_set_uid)
        task = asyncio.ensure_future(run())
        self._loads[display_set_uid] = task
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this request itself was cancelled, not the load
            return {"displaySetUID": display_set_uid, "total": total, "cancelled": True, **state}
        finally:
            if self._loads.get(display_set_uid) is task:
                del self._loads[display_set_uid]

    async def cancel_load(self, display_set_uid: str) -> dict[str, Any]:
        """Stop loading a display set; frames already requested still land in the cache."""
        task = self._loads.pop(display_set_uid, None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.sleep(0)  # let it unwind before the caller goes on
            return {"cancelled": True}
        return {"cancelled": False}

    # ------------------------------------------------------------ the viewer page

    async def open_viewer(
        self,
        study_instance_uids: Sequence[str] | str,
        series_instance_uids: Sequence[str] | str = (),
        initial_series_instance_uid: str = "",
        layout: str = "",
        data_source: str = "",
    ) -> dict[str, Any]:
        """Open the viewer URL's studies: display sets grouped by study, and the hanging.

        Each study is fetched on its own, so one that cannot be opened (unknown UID, no
        images among the asked series) is listed in ``missing`` with the reason while
        the others open; only when none opens is it an error. ``layout`` is the saved
        ``rowsxcolumns`` preference (ignored if invalid). The answer: ``studies``
        (header texts and their ``displaySetUIDs``), ``displaySets``, ``missing``,
        ``layout`` ``{rows, columns}``, ``viewports`` (a display set UID or None
        each), ``activeViewport``, ``measurements`` (the newest measurement report's, see ``loadReports``).
        """
        source = self._source(data_source)
        studies = list(dict.fromkeys(_uid_list(study_instance_uids, "StudyInstanceUIDs")))
        series = _uid_list(series_instance_uids, "SeriesInstanceUIDs", required=False)
        answers = await asyncio.gather(
            *(source.retrieve_study_instances(study, series) for study in studies),
            return_exceptions=True,
        )
        opened: list[tuple[Study, list[DisplaySet]]] = []
        missing: list[dict[str, str]] = []
        every_instance: list[Instance] = []
        for study_uid, answer in zip(studies, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, EXPECTED_ERRORS):
                    raise answer
                missing.append({"studyInstanceUID": study_uid, "message": str(answer)})
                continue
            display_sets = display_sets_from_instances(answer)
            if not display_sets:
                missing.append({"studyInstanceUID": study_uid, "message": "no series with images"
                                + (f" among {', '.join(series)}" if series else "")})
                continue
            every_instance += answer
            opened.append((Study.from_dataset(display_sets[0].images[0].instance.metadata),
                           display_sets))
            for display_set in display_sets:
                self.display_sets[display_set.display_set_uid] = (display_set, source)
        if not opened:
            raise ModelError("; ".join(f"{m['studyInstanceUID']}: {m['message']}"
                                       for m in missing))
        hanging = hang([d for _, d in opened], initial_series_instance_uid, _layout(layout))
        return {
            "studies": [_study_header(study, d) for study, d in opened],
            "displaySets": [_display_set_info(d) for _, group in opened for d in group],
            "missing": missing,
            "layout": {"rows": hanging.layout.rows, "columns": hanging.layout.columns},
            "viewports": list(hanging.viewports),
            "activeViewport": hanging.active,
            "measurements": await self._report_measurements(source, every_instance),
        }

    async def render_thumbnail(
        self, display_set_uid: str, size: int = THUMBNAIL_SIZE
    ) -> dict[str, Any]:
        """A display set's thumbnail, as its data source's ``thumbnailRendering`` says.

        ``wadors``: the middle image through the viewport's pipeline (cached like any
        frame), reduced to ``size`` here: ``rgba``, ``width``, ``height``. ``rendered``
        / ``thumbnail``: the server's JPEG of that image (``/rendered`` or
        ``/thumbnail`` of the instance, of the frame for multi-frame): ``encoded``
        bytes and ``mediaType``, for the page to decode.
        """
        display_set, source = self._display_set(display_set_uid)
        index = thumbnail_index(display_set)
        image = display_set.images[index]
        rendering = source.capabilities.thumbnail_rendering
        if rendering == "wadors":
            frame = await self._frame(display_set_uid, index)
            rgba = downsample_rgba(render_rgba(frame, frame.default_window()), int(size))
            return {"rgba": np.ascontiguousarray(rgba), "width": int(rgba.shape[1]),
                    "height": int(rgba.shape[0]), "imageIndex": index}
        instance = image.instance
        retrieve = source.retrieve_rendered if rendering == "rendered" else source.retrieve_thumbnail
        encoded = await retrieve(
            instance.study_instance_uid, instance.series_instance_uid,
            instance.sop_instance_uid,
            image.frame_number if instance.number_of_frames > 1 else None,
            media_type="image/jpeg", viewport=(int(size), int(size)),
        )
        return {"encoded": np.frombuffer(encoded, np.uint8), "mediaType": "image/jpeg",
                "imageIndex": index}

    async def load_viewports(
        self, viewports: Sequence[Mapping[str, Any]], start: bool = True
    ) -> dict[str, Any]:
        """Load the stacks the viewports show, each nearest its image first; stop the rest.

        ``viewports`` is ``[{displaySetUID, imageIndex}]`` for every viewport showing
        something. A display set no longer shown stops loading (the user moved on);
        one already loading is left alone, one wholly cached only reported. With ``start`` false only
        the stopping happens: the page asks so while a viewport still waits for its
        first image, which must not queue behind whole stacks. The loads share
        :data:`LOAD_CONCURRENCY` requests and report ``progress`` events as
        ``loadSeries`` does; the answer comes at once with the display sets now loading.
        """
        wanted: dict[str, int] = {}
        for viewport in viewports:
            uid = str(viewport["displaySetUID"])
            self._display_set(uid)  # an unknown display set is the page's error
            wanted.setdefault(uid, int(viewport.get("imageIndex", 0)))
        for uid in [uid for uid in self._viewport_loads if uid not in wanted]:
            self._viewport_loads.pop(uid).cancel()
            await self.cancel_load(uid)
        concurrency = max(2, LOAD_CONCURRENCY // max(1, len(wanted)))
        for uid, index in wanted.items() if start else ():
            running = self._viewport_loads.get(uid)
            if running is not None and not running.done():
                continue
            display_set, _ = self._display_set(uid)
            total = len(display_set.images)
            if all((i.instance.sop_instance_uid, i.frame_number) in self.frames
                   for i in display_set.images):  # no load, but the page learns it is done
                self.emit("progress", {"displaySetUID": uid, "total": total, "loaded": total,
                                       "failed": 0})
                continue
            task = asyncio.ensure_future(self.load_series(uid, index, concurrency))
            task.add_done_callback(_report_failure)
            self._viewport_loads[uid] = task
        return {"loading": sorted(u for u, t in self._viewport_loads.items() if not t.done())}

    async def memory(self) -> dict[str, Any]:
        """What the decoded frames take, and the WebAssembly heap (None in CPython)."""
        return {"cacheBytes": self.frames.bytes, "cacheMaxBytes": self.frames.max_bytes,
                "cachedFrames": len(self.frames), "heapBytes": _wasm_heap_bytes()}

    # ------------------------------------------------------------ measurements

    async def measure(
        self,
        display_set_uid: str,
        image_index: int,
        tool: str,
        points: Sequence[Sequence[float]],
        text: str = "",
        label: str = "",
        uid: str = "",
    ) -> dict[str, Any]:
        """Measure with ``tool`` at image ``points`` ([column, row], pixel centres at integers).

        The answer is the measurement as the panel lists it and ``saveReport`` takes it
        back: ``uid`` (new unless given), ``label``, the image's UIDs and frame,
        ``displaySetUID``/``imageIndex``, ``tool``, ``points``, ``values`` ([{name,
        value, unit}]), ``notes``, ``text``, ``patientPosition``. ROI tools and the probe
        read the decoded frame (fetched if not cached).
        """
        measurement = await self._measurement(display_set_uid, image_index, tool, points, text,
                                              label, uid)
        return {**measurement.to_json(), "displaySetUID": display_set_uid,
                "imageIndex": image_index}

    async def _measurement(
        self, display_set_uid: str, image_index: int, tool: str,
        points: Sequence[Sequence[float]], text: str, label: str, uid: str,
    ) -> Measurement:
        display_set, _ = self._display_set(display_set_uid)
        image = _image(display_set, image_index)
        ds = image.instance.metadata
        values = None
        if tool in ROI_TOOLS or tool == "Probe":
            frame = await self._frame(display_set_uid, image_index)
            values = None if frame.is_color else frame.values
        result = measure(tool, points, ImageGeometry.from_image(image), values,
                         modality_unit(ds), text)
        return Measurement(uid or generate_uid(), label, _image_reference(image), result,
                           _patient(ds))

    async def tags(
        self, display_set_uid: str, image_index: int = 0, search: str = ""
    ) -> dict[str, Any]:
        """Every element of an image's instance metadata as a tree, filtered by ``search``.

        Nodes are ``{tag, vr, keyword, name, value, children}`` (values are text, for
        ``textContent``); ``total`` counts the instance's top-level elements.
        """
        display_set, _ = self._display_set(display_set_uid)
        image = _image(display_set, image_index)
        tree = tag_tree(image.instance.metadata)
        return {
            "sopInstanceUID": image.instance.sop_instance_uid,
            "instanceNumber": image.instance.instance_number,
            "frameNumber": image.frame_number,
            "numberOfFrames": image.instance.number_of_frames,
            "imageIndex": image_index,
            "total": len(tree),
            "elements": filter_tree(tree, str(search or "")),
        }

    async def export_measurements_csv(
        self, measurements: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The measurements (as ``measure`` answered them) as CSV text."""
        return {"csv": measurements_csv([Measurement.from_json(m) for m in measurements])}

    async def save_report(self, measurements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Store the measurements as DICOM SR (TID 1500), one report per study, with STOW-RS.

        Each measurement is measured again here on its image (open display sets), so the
        report holds values computed by this code whatever the page sent. The answer
        lists the reports stored: ``{studyInstanceUID, seriesInstanceUID,
        sopInstanceUID, numMeasurements}``, and ``downloads`` (``{fileName, data}``, the
        Part 10 file) for sources whose reports are downloaded (the user's own files):
        those are kept in the session too, so the study shows them when opened again.
        """
        by_study: dict[str, tuple[DataSource, ImageRef, list[Measurement]]] = {}
        for obj in measurements:
            sent = Measurement.from_json(obj)
            display_set_uid, index = self._locate(sent.image.sop_instance_uid,
                                                  sent.image.frame_number)
            again = await self._measurement(display_set_uid, index, sent.result.tool,
                                            sent.result.points, sent.result.text, sent.label,
                                            sent.uid)
            display_set, client = self._display_set(display_set_uid)
            entry = by_study.setdefault(again.image.study_instance_uid,
                                        (client, display_set.images[index], []))
            entry[2].append(again)
        stored, downloads = [], []
        for study_uid, (source, image, group) in by_study.items():
            report = write_measurement_report(group, image.instance.metadata)
            await source.store_instances([report], study_uid)
            if source.capabilities.download_reports:
                downloads.append({"fileName": f"measurements-{report.SOPInstanceUID}.dcm",
                                  "data": write_instance(report)})
            stored.append({"studyInstanceUID": study_uid,
                           "seriesInstanceUID": str(report.SeriesInstanceUID),
                           "sopInstanceUID": str(report.SOPInstanceUID),
                           "numMeasurements": len(group)})
        return {"reports": stored, "downloads": downloads}

    async def load_reports(
        self, study_instance_uids: Sequence[str] | str, data_source: str = ""
    ) -> dict[str, Any]:
        """The measurements of the newest measurement report of each study (as openViewer)."""
        source = self._source(data_source)
        studies = _uid_list(study_instance_uids, "StudyInstanceUIDs")
        answers = await asyncio.gather(*(source.retrieve_study_instances(s) for s in studies))
        instances = [instance for answer in answers for instance in answer]
        return {"measurements": await self._report_measurements(source, instances)}

    async def _report_measurements(
        self, source: DataSource, instances: Sequence[Instance]
    ) -> list[dict[str, Any]]:
        """Measurements of the newest measurement report of each study among ``instances``,
        each with the display set and image index it is on (None when that is not open).

        Only instances without pixels (SR among them) have their metadata converted.
        """
        found = []
        for report in latest_reports(i.metadata for i in instances if not i.has_pixels):
            await source.load_bulkdata(report)
            for m in read_measurement_report(report):
                try:
                    display_set_uid, index = self._locate(m.image.sop_instance_uid,
                                                          m.image.frame_number)
                except ModelError:
                    display_set_uid, index = None, None
                found.append({**m.to_json(), "displaySetUID": display_set_uid,
                              "imageIndex": index,
                              "reportSOPInstanceUID": str(report.SOPInstanceUID)})
        return found

    def _locate(self, sop_instance_uid: str, frame_number: int) -> tuple[str, int]:
        """The open display set and image index showing a frame of an instance."""
        for uid, (display_set, _) in self.display_sets.items():
            for index, image in enumerate(display_set.images):
                if (image.instance.sop_instance_uid == sop_instance_uid
                        and image.frame_number == frame_number):
                    return uid, index
        raise ModelError(f"image {sop_instance_uid} frame {frame_number} is in no open "
                         "display set: open its study first")

    # ------------------------------------------------------------ frames

    async def _frame(self, display_set_uid: str, image_index: int) -> ImageFrame:
        """The decoded frame of an image: from the cache, a fetch already running, or a new one.

        The fetch runs as a task of its own, so a cancelled load does not cancel the
        render waiting on the same frame.
        """
        display_set, source = self._display_set(display_set_uid)
        image = _image(display_set, image_index)
        key = (image.instance.sop_instance_uid, image.frame_number)
        frame = self.frames.get(key)
        if frame is not None:
            return frame
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch_frame(source, image))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def _settled(self, key: tuple[str, int], task: asyncio.Task[ImageFrame]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen: whoever awaited it got it (a cancelled load may not have)

    async def _fetch_frame(self, source: DataSource, image: ImageRef) -> ImageFrame:
        """Retrieve, decode and cache one frame (the pipeline ``ohifpy render`` uses too)."""
        frame = await load_image_frame(source, image)
        self.frames.put((image.instance.sop_instance_uid, image.frame_number), frame)
        return frame

    # ------------------------------------------------------------ lookups

    def _source(self, data_source: str) -> DataSource:
        """The named source (the URL's ``datasources``), else the config's default."""
        if self.config is None:
            raise ConfigError("the worker has no config yet: call init first")
        name = data_source or self.config.defaultDataSourceName
        if name == self.local_source_name and name not in self.sources:
            return self._local_source()
        if name not in self.sources:
            raise ConfigError(f"no data source named {name!r}; one of {sorted(self.sources)}")
        return self.sources[name]

    def _local_source(self) -> LocalFilesDataSource:
        """The user's files' source, made on first use when the config names none."""
        from .datasources.local_files import LocalFilesDataSource

        source = self.sources.get(self.local_source_name)
        if source is None:
            source = LocalFilesDataSource(self.local_source_name, "Local files")
            self.sources[source.name] = source
        if not isinstance(source, LocalFilesDataSource):
            raise ConfigError(f"data source {self.local_source_name!r} is not for local files")
        return source

    def _display_set(self, display_set_uid: str) -> tuple[DisplaySet, DataSource]:
        try:
            return self.display_sets[display_set_uid]
        except KeyError:
            raise ModelError(
                f"display set {display_set_uid!r} is not open: call openViewer first"
            ) from None


def create_for_browser(emit: Emit, load_codec: Any, prefetched: Any) -> WorkerAPI:
    """What ``web/worker.js`` calls once Pyodide is up.

    ``load_codec(name)`` loads a WebAssembly codec (on a frame's first need of it);
    ``prefetched`` holds the worker's early fetches (see :class:`FetchTransport`).
    """
    from js import Object
    from pyodide.ffi import to_js

    from .dicomweb.fetch_transport import FetchTransport
    from .imaging import wasm_codecs

    def emit_js(event: str, data: dict[str, Any]) -> None:
        emit(event, to_js(data, dict_converter=Object.fromEntries))

    wasm_codecs.install(load_codec)
    return WorkerAPI(FetchTransport(prefetched), emit_js)


# ---------------------------------------------------------------- helpers


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _snake_case(name: str) -> str:
    """``displaySetUID`` -> ``display_set_uid``, ``baseUrl`` -> ``base_url``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z]+)", lambda m: "_" + m.group(1), name).lower()


def _uid_list(value: Sequence[str] | str, what: str, *, required: bool = True) -> list[str]:
    """UIDs from a list or a comma-separated string (as the viewer's URL carries them)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    uids = [str(item).strip() for item in items if str(item).strip()]
    if required and not uids:
        raise ValueError(f"{what} is empty: give at least one UID")
    return uids


def _image(display_set: DisplaySet, image_index: int) -> ImageRef:
    if isinstance(image_index, bool) or not isinstance(image_index, int):
        raise ValueError(f"image index must be an integer, not {image_index!r}")  # noqa: TRY004 - page input
    if not 0 <= image_index < len(display_set.images):
        raise ValueError(
            f"image index {image_index} is out of range 0..{len(display_set.images) - 1} "
            f"of display set {display_set.display_set_uid}"
        )
    return display_set.images[image_index]


def _window(window: Mapping[str, Any]) -> VOIWindow:
    """A window from the page (``{center, width}``), its width clamped to LINEAR's minimum."""
    try:
        return VOIWindow(float(window["center"]), max(float(window["width"]), 1.0))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"window must be {{center, width}} numbers, not {window!r}") from exc


def _source_info(entry: SourceConfig, source: DataSource) -> dict[str, Any]:
    """A data source as the page's selector and buttons need it."""
    return {"name": source.name, "friendlyName": source.friendly_name, "kind": entry.kind,
            "canStore": source.capabilities.store,
            "downloadReports": source.capabilities.download_reports}


def _image_reference(image: ImageRef) -> ImageReference:
    instance = image.instance
    return ImageReference(instance.study_instance_uid, instance.series_instance_uid,
                          instance.sop_instance_uid, instance.sop_class_uid, image.frame_number,
                          instance.number_of_frames)


def _patient(ds: Dataset) -> dict[str, str]:
    return {"PatientName": str(ds.get("PatientName", "") or ""),
            "PatientID": str(ds.get("PatientID", "") or "")}

def _layout(text: str) -> Layout | None:
    """The saved layout preference, or None when absent or not a valid layout."""
    try:
        return Layout.parse(text) if text else None
    except ValueError:
        return None


def _study_header(study: Study, display_sets: Sequence[DisplaySet]) -> dict[str, Any]:
    """A study's header in the series panel (texts for textContent) and its display sets."""
    return {
        "studyInstanceUID": study.study_instance_uid,
        "patientName": study.patient_name,
        "patientId": study.patient_id,
        "studyDate": study.study_date,
        "studyDescription": study.study_description,
        "displaySetUIDs": [d.display_set_uid for d in display_sets],
    }


def _report_failure(task: asyncio.Task[Any]) -> None:
    """A background load's unexpected failure, printed (nobody awaits the task)."""
    if not task.cancelled() and task.exception() is not None:
        traceback.print_exception(task.exception(), file=sys.stderr)


def _wasm_heap_bytes() -> int | None:
    """The size of Pyodide's WebAssembly memory; None outside the browser."""
    try:
        import pyodide_js  # type: ignore[import-not-found]  # only under Pyodide
    except ImportError:
        return None
    return int(pyodide_js._module.HEAPU8.length)


def _display_set_info(display_set: DisplaySet) -> dict[str, Any]:
    first = display_set.images[0].instance
    return {
        "displaySetUID": display_set.display_set_uid,
        "studyInstanceUID": display_set.study_instance_uid,
        "seriesInstanceUID": display_set.series_instance_uid,
        "modality": display_set.modality,
        "seriesDescription": display_set.series_description,
        "seriesNumber": display_set.series_number,
        "numImages": len(display_set.images),
        "rows": first.rows,
        "columns": first.columns,
        "isMultiframe": display_set.is_multiframe,
        # Which instance each image is, in display order (frames of one repeat its UID).
        "sopInstanceUIDs": [image.instance.sop_instance_uid for image in display_set.images],
    }


def _overlay(
    display_set: DisplaySet, image: ImageRef, image_index: int, window: VOIWindow | None
) -> dict[str, Any]:
    """The corner texts of a viewport, as plain strings and numbers, with its orientation
    markers and pixel size for the scale bar (see :mod:`ohifpy.overlay_geometry`)."""
    ds = image.instance.metadata
    return {
        "patientName": str(ds.get("PatientName", "") or ""),
        "patientId": str(ds.get("PatientID", "") or ""),
        "studyDate": str(ds.get("StudyDate", "") or ""),
        "studyDescription": str(ds.get("StudyDescription", "") or ""),
        "seriesDescription": display_set.series_description,
        "seriesNumber": display_set.series_number,
        "modality": display_set.modality,
        "instanceNumber": image.instance.instance_number,
        "sopInstanceUID": image.instance.sop_instance_uid,
        "frameNumber": image.frame_number,
        "imageIndex": image_index,
        "numImages": len(display_set.images),
        "windowCenter": None if window is None else window.center,
        "windowWidth": None if window is None else window.width,
        **overlay_geometry(image),
    }
