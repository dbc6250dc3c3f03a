"""The one surface the browser worker calls: a request in, a JSON-able answer out.

``web/worker.js`` hands every message of the page, ``{id, method, args}``, to
:meth:`WorkerAPI.handle` and posts back what it returns: ``{"result": ...}`` or
``{"error": {"type", "message"}}``. Everything the page shows is computed here, in
the same Python that ``ohifpy render`` runs in CPython: the study list rows, the
display sets of a study, and each image as RGBA bytes with its overlay text. The page
only paints, transforms the canvas and routes input.

This module is the bridge only: dispatch, argument checks, error mapping. The state
lives in :mod:`ohifpy.viewer` (the session's data sources and display sets, the
decoded frames and their loading) and every answer's shape in
:mod:`ohifpy.viewer.presenters`. Loading progress goes out through the ``emit``
callback (the worker posts ``{event, data}``).

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import numpy as np
from pydicom.uid import generate_uid

from .cine import cine_frame_rate
from .config import AppConfig, DicomJsonSource, LocalSource
from .datasources import DataSource, query_server, server_roots
from .dicomweb import StudyQuery, Transport
from .dicomweb.bearer import AccessToken, BearerTokenTransport, Renew
from .dicomweb.part10 import write_instance
from .errors import DATA_ERRORS, BadRequest
from .hanging import Layout, StageView, study_tabs
from .imaging import ImageFrame, VOIWindow, render_rgba
from .measure import (
    ROI_TOOLS,
    ImageGeometry,
    ImageReference,
    Measurement,
    measure,
    modality_unit,
)
from .measurement_csv import measurements_csv
from .model import DisplaySet, ImageRef, Instance, ModelError, Series, Study
from .sr import latest_reports, read_measurement_report, write_measurement_report
from .study_list import StudyListState, series_row, sort_study_rows, study_row
from .tag_tree import filter_tree, tag_tree
from .thumbnail import THUMBNAIL_SIZE, downsample_rgba, thumbnail_index
from .viewer import documents
from .viewer.frames import DEFAULT_CACHE_BYTES, LOAD_CONCURRENCY, FrameCache, Frames
from .viewer.mpr import MPR_PREFIX, VIEWS, MprViews
from .viewer.overlay_items import DEFAULT_OVERLAY, ViewportOverlay
from .viewer.presenters import (
    display_set_info,
    image_reference,
    local_files_summary,
    overlay,
    patient,
    plane_overlay,
    source_info,
    study_header,
)
from .viewer.session import ViewerSession, fetch_config, uid_list
from .viewer.tables import tables
from .window_presets import window_presets

if TYPE_CHECKING:
    from .viewer.console_images import ConsoleImages
    from .viewer.segmentations import Segmentations

__all__ = ["DEFAULT_CACHE_BYTES", "FrameCache", "WorkerAPI", "create_for_browser"]

# Failures that belong to the data (or its server) or to the request are told to the page
# without a traceback; anything else is a bug and is printed with its trace too.

Emit = Callable[[str, dict[str, Any]], None]


class WorkerAPI:
    """The methods the page calls, by name, over the viewer's session and frames.

    Parameters
    ----------
    transport : Transport
        Shared by every data source that makes requests.
    emit : callable, optional
        ``emit(event, data)`` sends an event to the page (series loading progress).
    cache_bytes : int
        Budget of the decoded-frame cache.
    access_token, renew_token : callables, optional
        The signed-in user's bearer token and its renewal after a 401 (the page's
        sign-in, ``web/auth.js``): see :class:`BearerTokenTransport`. The token goes to
        the config's DICOMweb servers only, never to a config fetched from a link.
    """

    def __init__(
        self,
        transport: Transport,
        emit: Emit | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        access_token: AccessToken | None = None,
        renew_token: Renew | None = None,
    ) -> None:
        self.transport = transport
        self.access_token = access_token
        self.renew_token = renew_token
        self.emit: Emit = emit or (lambda event, data: None)
        self.session = ViewerSession(transport)
        self.frames = Frames(cache_bytes, self.emit)
        self.mprs: dict[str, MprViews] = {}  # by the display set they reformat
        self._segmentations: Segmentations | None = None  # SEG, RTSTRUCT overlays, once asked
        self.console_images: ConsoleImages | None = None  # what the Python console showed
        self._planes: dict[str, tuple[tuple[Any, ...], ImageFrame]] = {}  # last plane per view
        # The hanging shown, and what made it (initial series, saved layout, URL's studies).
        self._hanging: StageView | None = None
        self._hang_context: dict[str, Any] = {}
        self._methods: dict[str, Callable[..., Awaitable[Any]]] = {
            "init": self.init,
            "searchStudies": self.search_studies,
            "searchSeries": self.search_series,
            "renderImage": self.render_image,
            "loadSeries": self.load_series,
            "cancelLoad": self.cancel_load,
            "openViewer": self.open_viewer,
            "applyStage": self.apply_stage,
            "priorStudies": self.prior_studies,
            "addStudy": self.add_study,
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
            "referenceLines": self.reference_lines,
            "srDocument": self.sr_document,
            "encapsulatedDocument": self.encapsulated_document,
            "openMpr": self.open_mpr,
            "updateMpr": self.update_mpr,
            "loadSegmentation": self.load_segmentation,
            "setSegmentation": self.set_segmentation,
            "removeSegmentation": self.remove_segmentation,
            "roiContours": self.roi_contours,
            "consoleSnapshot": self.console_snapshot,
            "consoleShow": self.console_show,
            "consoleOverlay": self.console_overlay,
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
        except DATA_ERRORS as exc:
            return _error(type(exc).__name__, str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the page, with the trace in the console
            print(without_queries(traceback.format_exc()), file=sys.stderr)
            return _error(type(exc).__name__, str(exc))

    # ------------------------------------------------------------ methods

    async def init(
        self, config: Mapping[str, Any], base_url: str, config_url: str = ""
    ) -> dict[str, Any]:
        """Validate the app config and create its data sources (see :mod:`ohifpy.datasources`).

        ``config_url`` (the link's ``?configUrl=``) replaces the shipped ``config`` only when
        that allows it (:meth:`AppConfig.allowed_config_url`, checked before the fetch); the
        fetched config is validated before anything is asked of its sources.

        Roots may be relative to the page (``demo/dicom-web``, ``/dicom-web``): they are
        resolved against ``base_url`` (the page's ``<base href>``), so the same config
        works at any origin and subpath. The user's own files always have a source: the
        config's ``dicomlocal`` one, else one named ``local`` made on the first drop.
        ``tables`` are what the page builds its controls from (:mod:`ohifpy.viewer.tables`).
        """
        app_config = AppConfig.from_json(dict(config))
        if config_url:
            url = app_config.allowed_config_url(urljoin(base_url, str(config_url)))
            app_config = await fetch_config(self.transport, url)
        self.frames.cache.resize(app_config.cacheSizeMB * 1024 * 1024)
        transport = self.transport
        if self.access_token is not None:
            transport = BearerTokenTransport(transport, server_roots(app_config, base_url),
                                             self.access_token, self.renew_token)
        self.session.configure(app_config, base_url, transport)  # sources share the transport
        return {
            "dataSources": [{**source_info(self.session.sources[entry.name], entry.kind),
                             "queryServer": query_server(app_config, entry.name, base_url)}
                            for entry in app_config.dataSources],
            "defaultDataSourceName": app_config.defaultDataSourceName,
            "localDataSourceName": self.session.local_source_name,
            "tables": tables(app_config.dateFormat),
        }

    async def add_local_files(
        self, files: Sequence[Any], problems: Sequence[Mapping[str, str]] = ()
    ) -> dict[str, Any]:
        """Add the user's files (``[{file, path}]``: browser ``File`` objects, or paths in
        CPython) to the local source: ZIPs and DICOMDIRs opened, non-DICOM files counted,
        unreadable ones named with the reason (with the page's own ``problems``: entries of
        a dropped folder it could not read). Nothing is read but headers; the reading's
        progress goes out as ``localFilesProgress`` events ``{read, total}``."""
        from .datasources.local_files import file_handles

        source = self.session.local_source()
        report = await source.add_files(
            file_handles(files),
            lambda read, total: self.emit("localFilesProgress", {"read": read, "total": total}),
        )
        failed = [*({"name": str(p["name"]), "reason": str(p["reason"])} for p in problems),
                  *({"name": name, "reason": reason} for name, reason in report.failed)]
        return {
            "dataSource": source.name,
            "source": source_info(source, LocalSource.kind),
            "studyInstanceUIDs": list(report.study_instance_uids),
            "added": report.added,
            "instances": report.instances,
            "skipped": list(report.skipped),
            "failed": failed,
            "summary": local_files_summary(len(report.study_instance_uids), report.instances,
                                           len(report.skipped), len(failed)),
        }

    async def open_dicom_json(self, url: str) -> dict[str, Any]:
        """Load an OHIF dicomjson file (``/viewer/dicomjson?url=``) into the config's
        dicomjson source, or one of its own: ``{dataSource, studyInstanceUIDs}``."""
        source = self.session.dicomjson_source()
        study_uids = await source.load(str(url))
        return {"dataSource": source.name, "source": source_info(source, DicomJsonSource.kind),
                "studyInstanceUIDs": study_uids}

    async def reference_lines(
        self, display_set_uid: str, image_index: int, targets: Sequence[Mapping[str, Any]],
        sync: bool = False, relative: bool = False,
    ) -> dict[str, Any]:
        """The source image's plane on other viewports' images (see
        :mod:`ohifpy.reference_lines`): ``{lines: [{displaySetUID, line, imageIndex}]}``,
        one per ``targets`` entry (``{displaySetUID, imageIndex}``, what each shows), in order.

        ``line`` is ``[[column, row], [column, row]]`` in the target image, or None (another
        or no FrameOfReferenceUID, parallel planes, a line outside the image); with
        ``sync``, ``imageIndex`` is the target's image nearest the source image when both
        face the same way, else None; with ``relative`` too, a target in another frame of
        reference that faces the same way follows by its place in the stack (comparing a
        prior). MPR views (``mpr:`` display sets) draw their own
        crosshairs: None for them, as source or target.
        """
        from .reference_lines import relate

        if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence) or not all(
                isinstance(t, Mapping) and "displaySetUID" in t for t in targets):
            raise BadRequest("targets must be a list of {displaySetUID, imageIndex}")
        mpr = str(display_set_uid).startswith(MPR_PREFIX)
        if not mpr:
            self.session.image(display_set_uid, image_index)  # checks the index
            source_set, _ = self.session.display_set(display_set_uid)
        lines = []
        for target in targets:
            uid = str(target["displaySetUID"])
            line, index = None, None
            if not mpr and not uid.startswith(MPR_PREFIX):
                target_index = target.get("imageIndex", 0)
                self.session.image(uid, target_index)
                target_set, _ = self.session.display_set(uid)
                line, index = relate(source_set, image_index, target_set, target_index,
                                     bool(sync), relative=bool(relative))
            lines.append({"displaySetUID": uid, "imageIndex": index,
                          "line": None if line is None else [list(line[0]), list(line[1])]})
        return {"lines": lines}

    async def search_studies(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One page of the study list for the URL's parameters (see :mod:`ohifpy.study_list`).

        The answer carries the canonical parameters back, so the page's URL and
        form show what was searched.
        """
        state = StudyListState.from_params(params or {})
        source = self.session.source(state.data_source)
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
        """The series of one study (an expanded study-list row), by series number; from a
        merge source each names the source it comes from."""
        source = self.session.source(data_source)
        datasets = await source.search_for_series(study_instance_uid)
        series = sorted((Series.from_dataset(ds) for ds in datasets),
                        key=lambda s: (s.series_number is None, s.series_number or 0))
        origin = self.session.origin_of_series
        return {"series": [series_row(s, origin(source, s.series_instance_uid)) for s in series]}

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
        if str(display_set_uid).startswith(MPR_PREFIX):
            return await self._render_plane(display_set_uid, image_index, window, invert, details)
        display_set, _ = self.session.display_set(display_set_uid)
        image, source = self.session.image(display_set_uid, image_index)
        frame = await self.frames.get(source, image)
        chosen = _window(window) if window else frame.default_window()
        rgba = render_rgba(frame, chosen, invert=bool(invert))
        if self._segmentations is not None:  # loaded SEGs
            rgba = self._segmentations.blend_image(display_set_uid, image, rgba)
        if self.console_images is not None:  # the Python console's masks
            rgba = self.console_images.blend(display_set_uid, image_index, rgba)
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
            "overlay": overlay(display_set, image, image_index, chosen, self._overlay_layout()),
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
        display_set, source = self.session.display_set(display_set_uid)
        return await self.frames.load(display_set, source, start_index, concurrency)

    async def cancel_load(self, display_set_uid: str) -> dict[str, Any]:
        """Stop loading a display set; frames already requested still land in the cache."""
        return {"cancelled": await self.frames.cancel(display_set_uid)}

    async def open_viewer(
        self,
        study_instance_uids: Sequence[str] | str,
        series_instance_uids: Sequence[str] | str = (),
        initial_series_instance_uid: str = "",
        layout: str = "",
        data_source: str = "",
        hanging_protocol_id: str = "",
        stage_id: str = "",
    ) -> dict[str, Any]:
        """Open the viewer URL's studies: display sets grouped by study, and the hanging.

        Each study is fetched on its own, so one that cannot be opened (unknown UID, no
        images among the asked series) is listed in ``missing`` with the reason while
        the others open; only when none opens is it an error. The first study opened is
        the current one, the next the prior (OHIF's ``StudyInstanceUIDs`` order).
        ``layout`` is the saved ``rowsxcolumns`` preference (ignored if invalid);
        ``hanging_protocol_id`` and ``stage_id`` are the URL's (see :mod:`ohifpy.hanging`).
        The answer: ``studies`` (header texts and their ``displaySetUIDs``),
        ``displaySets``, ``missing``, ``measurements`` (the newest measurement report's,
        see ``loadReports``) and the hanging (:meth:`ohifpy.hanging.StageView.to_json`:
        ``layout``, ``viewports``, ``viewportOptions``, ``activeViewport``, ``protocol``,
        ``mpr``, ``syncScroll``, ``notice``).
        """
        source = self.session.source(data_source)
        studies = list(dict.fromkeys(uid_list(study_instance_uids, "StudyInstanceUIDs")))
        series = uid_list(series_instance_uids, "SeriesInstanceUIDs", required=False)
        opened = await self.session.open_studies(source, studies, series)
        await self.frames.stop(opened.closed)  # their frames stay cached, by instance
        self.frames.forget(opened.closed)  # but not their volumes
        if self._segmentations is not None:  # a viewer opened anew shows no overlay until asked
            self._segmentations.clear()
        for uid in opened.closed:
            self.mprs.pop(uid, None)
        for display_set, display_source in self.session.display_sets.values():
            self.frames.track(display_set, display_source)
        self._hang_context = {"initial_series_instance_uid": str(initial_series_instance_uid),
                              "preferred": _layout(layout),
                              "primary": [study.study_instance_uid for study, _ in opened.studies]}
        self._hanging = self._hang(str(hanging_protocol_id), str(stage_id), None)
        return {
            "studies": [study_header(study, d) for study, d in opened.studies],
            "displaySets": [display_set_info(d) for _, group in opened.studies for d in group],
            "missing": opened.missing,
            **self._hanging.to_json(),
            "measurements": await self._report_measurements(source, opened.instances),
        }

    def _hang(self, protocol_id: str, stage_id: str, stage_index: int | None) -> StageView:
        context = self._hang_context
        return self.session.protocols.hang(
            self.session.studies, protocol_id=protocol_id, stage_id=stage_id,
            stage_index=stage_index, preferred=context["preferred"],
            initial_series_instance_uid=context["initial_series_instance_uid"])

    async def apply_stage(self, protocol_id: str = "", stage_id: str = "",
                          stage_index: int | None = None, step: int = 0) -> dict[str, Any]:
        """Hang the shown studies (with the priors opened since) anew: another protocol
        (``protocol_id``; "" the one shown), a stage by id or index, or the next (``step``
        1) or previous (-1) stage that is not disabled. The answer is the hanging part of
        ``openViewer``'s; at the last (first) stage, the same stage with a notice."""
        if self._hanging is None:
            raise BadRequest("no study is open: open the viewer first")
        if step not in (-1, 0, 1) or (stage_index is not None and not isinstance(stage_index, int)):
            raise BadRequest("step is -1, 0 or 1 and stageIndex a whole number")
        shown = self._hanging
        protocol_id = str(protocol_id) or shown.protocol.id
        if step:
            stage_index = shown.step(step)
            if stage_index is None:
                return {**shown.to_json(), "notice": "This is the last stage." if step > 0
                        else "This is the first stage."}
        self._hanging = self._hang(protocol_id, str(stage_id), stage_index)
        return self._hanging.to_json()

    async def prior_studies(self) -> dict[str, Any]:
        """The patient's studies on the shown studies' source, in the series panel's tabs
        (:func:`ohifpy.hanging.study_tabs`): QIDO-RS by the current study's PatientID, as
        OHIF's study browser asks. ``message`` says why the priors could not be listed
        (no PatientID, the server failed); the Primary tab is there all the same."""
        source = self.session.studies_source
        if source is None or not self.session.studies:
            raise BadRequest("no study is open: open the viewer first")
        shown = [study for study, _ in self.session.studies]
        patient_id = shown[0].patient_id
        found: list[Study] = []
        message = ""
        if not patient_id.strip():
            message = "The study has no Patient ID, so its priors cannot be looked up."
        else:
            try:
                datasets = await source.search_for_studies(StudyQuery(patient_id=patient_id))
            except DATA_ERRORS as exc:
                message = f"The patient's other studies could not be listed: {exc}"
            else:
                found = [study for study in map(Study.from_dataset, datasets)
                         if study.patient_id == patient_id]  # exact, whatever the matching
        primary = self._hang_context.get("primary", [])
        return {"tabs": study_tabs(primary, [*shown, *found],
                                   [s.study_instance_uid for s in shown]),
                "message": message}

    async def add_study(self, study_instance_uid: str) -> dict[str, Any]:
        """Open a study of the shown studies' source beside them (a prior picked in the
        series panel): ``{study, displaySets}`` as ``openViewer`` gives each study."""
        study, display_sets = await self.session.add_study(str(study_instance_uid))
        for display_set in display_sets:
            self.frames.track(display_set, self.session.studies_source)
        return {"study": study_header(study, display_sets),
                "displaySets": [display_set_info(d) for d in display_sets]}

    async def render_thumbnail(
        self, display_set_uid: str, size: int = THUMBNAIL_SIZE
    ) -> dict[str, Any]:
        """A display set's thumbnail, as its data source's ``thumbnailRendering`` says.

        ``wadors``: the middle image through the viewport's pipeline (cached like any
        frame), reduced to ``size`` here: ``rgba``, ``width``, ``height``. ``rendered``
        / ``thumbnail``: the server's JPEG of that image (``/rendered`` or
        ``/thumbnail`` of the instance, of the frame for multi-frame): ``encoded``
        bytes and ``mediaType``, for the page to decode. A display set that is no image
        stack (an SR, a PDF, a video, a SEG or an RTSTRUCT) has none: ``{kind}`` only,
        which the page shows as a label.
        """
        display_set, source = self.session.display_set(display_set_uid)
        if not display_set.is_image:
            return {"kind": display_set.kind}
        index = thumbnail_index(display_set)
        image = display_set.images[index]
        rendering = source.capabilities.thumbnail_rendering
        if rendering == "wadors":
            frame = await self.frames.get(source, image)
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
        wanted: dict[str, tuple[DisplaySet, DataSource, int]] = {}
        for viewport in viewports:
            uid = str(viewport["displaySetUID"])
            index = int(viewport.get("imageIndex", 0))
            if uid.startswith(MPR_PREFIX):  # an MPR view loads the volume's series
                uid = self._view(uid)[0].display_set_uid
                index = -1
            display_set, source = self.session.display_set(uid)  # unknown: the page's error
            if index < 0:
                index = len(display_set.images) // 2
            wanted.setdefault(uid, (display_set, source, index))
        return {"loading": await self.frames.load_viewports(wanted, bool(start))}

    async def memory(self) -> dict[str, Any]:
        """What the decoded frames take, and the WebAssembly heap (None in CPython)."""
        cache = self.frames.cache
        return {"cacheBytes": cache.bytes, "cacheMaxBytes": cache.max_bytes,
                "cachedFrames": len(cache), "heapBytes": _wasm_heap_bytes()}

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
        if str(display_set_uid).startswith(MPR_PREFIX):
            return await self._plane_measurement(display_set_uid, image_index, tool, points,
                                                 text, label, uid)
        image, source = self.session.image(display_set_uid, image_index)
        ds = image.instance.metadata
        values = None
        if tool in ROI_TOOLS or tool == "Probe":
            frame = await self.frames.get(source, image)
            values = None if frame.is_color else frame.values
        result = measure(tool, points, ImageGeometry.from_image(image), values,
                         modality_unit(ds), text)
        return Measurement(uid or generate_uid(), label, image_reference(image), result,
                           patient(ds))

    # ------------------------------------------------------------ documents

    async def sr_document(self, display_set_uid: str) -> dict[str, Any]:
        """An SR document's header and content tree, as text (see :mod:`ohifpy.sr_document`)."""
        display_set, source = self.session.display_set(display_set_uid)
        return await documents.sr_document(display_set, source)

    async def encapsulated_document(self, display_set_uid: str) -> dict[str, Any]:
        """An encapsulated PDF's or a video's bytes (``data``) and how to show them (see
        :func:`ohifpy.viewer.documents.encapsulated`); fetched with the source's
        credentials, for the page to show from a Blob."""
        display_set, source = self.session.display_set(display_set_uid)
        answer = await documents.encapsulated(display_set, source)
        return {**answer, "data": np.frombuffer(answer["data"], np.uint8)}

    # ------------------------------------------------------------ SEG and RTSTRUCT

    async def load_segmentation(self, display_set_uid: str) -> dict[str, Any]:
        """Open a SEG or RTSTRUCT display set over its source: its segments (ROIs) with
        colours, volumes, statistics and "go to" (see :meth:`Segmentations.load`); from
        then on ``renderImage`` of its source blends the SEG in."""
        return await self.segmentations.load(display_set_uid)

    async def set_segmentation(self, display_set_uid: str,
                               segments: Mapping[str, Any]) -> dict[str, Any]:
        """Segments' (ROIs') styles: ``{number: {visible, opacity, mode}}``."""
        return self.segmentations.set_styles(display_set_uid, segments)

    async def remove_segmentation(self, display_set_uid: str) -> dict[str, Any]:
        """Stop drawing a loaded SEG or RTSTRUCT."""
        return self.segmentations.remove(display_set_uid)

    async def console_snapshot(
        self, display_set_uid: str = "", image_index: int = 0,
        window: Mapping[str, float] | None = None, volume: bool = False,
        display_sets: Sequence[str] = (), volumes: Sequence[str] = (),
    ) -> dict[str, Any]:
        """What a Python console cell reads: see :meth:`ConsoleImages.snapshot`."""
        return await self._console().snapshot(
            self.session, self.frames, str(display_set_uid), int(image_index), window,
            bool(volume), set(display_sets), set(volumes))

    async def console_show(self, derived: Mapping[str, Any]) -> dict[str, Any]:
        """A console cell's ``show``: a display set of the derived image, in the study of
        the display set it was computed from (``{displaySet}``, for the series panel)."""
        display_set = self._console().show(derived, self.session, self.frames)
        return {"displaySet": display_set_info(display_set)}

    async def console_overlay(self, overlay: Mapping[str, Any]) -> dict[str, Any]:
        """A console cell's ``overlay``: the mask is blended into the display set's images
        from the next render on (``{displaySetUID}``)."""
        return {"displaySetUID": self._console().overlay(overlay, self.session)}

    @property
    def segmentations(self) -> Segmentations:
        """The SEG and RTSTRUCT overlays; their code (a tenth of ohifpy's import) is
        imported when a study first asks for one, not at every start of the viewer."""
        if self._segmentations is None:
            from .viewer.segmentations import Segmentations

            self._segmentations = Segmentations(self.session, self.frames)
        return self._segmentations

    def _console(self) -> ConsoleImages:
        """What the Python console showed; its code is imported on the console's first
        call, not at every start of the viewer."""
        if self.console_images is None:
            from .viewer.console_images import ConsoleImages

            self.console_images = ConsoleImages()
        return self.console_images

    async def roi_contours(self, display_set_uid: str, image_index: int,
                           rtstruct_uids: Sequence[str] | None = None) -> dict[str, Any]:
        """The loaded structure sets' visible contours on one image (a stack's, or an MPR
        view's plane): ``{rois: [...]}`` in image coordinates (see
        :meth:`Segmentations.contours`)."""
        if str(display_set_uid).startswith(MPR_PREFIX):
            mpr, name = self._view(display_set_uid)
            count = mpr.grid(name).count
            if isinstance(image_index, bool) or not isinstance(image_index, int) or not (
                    0 <= image_index < count):
                raise BadRequest(f"image index {image_index!r} is out of range 0..{count - 1} "
                                 f"of MPR view {display_set_uid}")
            display_set, _ = self.session.display_set(mpr.display_set_uid)
            geometry = mpr.geometry_of(name, image_index)
        else:
            image, _ = self.session.image(display_set_uid, image_index)
            display_set, _ = self.session.display_set(display_set_uid)
            geometry = ImageGeometry.from_image(image)
        if rtstruct_uids is not None and (isinstance(rtstruct_uids, (str, bytes)) or not all(
                isinstance(u, str) for u in rtstruct_uids)):
            raise BadRequest("rtstructUIDs must be a list of display set UIDs")
        return {"displaySetUID": display_set_uid, "imageIndex": image_index,
                "rois": self.segmentations.contours(display_set, geometry, rtstruct_uids)}

    # ------------------------------------------------------------ MPR

    async def open_mpr(self, display_set_uid: str) -> dict[str, Any]:
        """The MPR of a reconstructable display set (made on first call): its three views,
        each a display set of its own for ``renderImage`` and ``measure``, and the
        crosshairs (see :class:`ohifpy.viewer.mpr.MprViews`). Its series loads into the
        volume the views are cut from, so they fill in as it does."""
        display_set, source = self.session.display_set(display_set_uid)
        reason = self.frames.track(display_set, source)
        geometry = self.frames.geometry(display_set_uid)
        if geometry is None:
            raise BadRequest(f"{display_set.series_description or 'This series'} cannot be "
                             f"shown in MPR: {reason}")
        mpr = self.mprs.get(display_set_uid)
        if mpr is None:
            mpr = self.mprs[display_set_uid] = MprViews(
                display_set_uid, display_set.series_instance_uid, geometry)
        await self.frames.load_viewports(
            {display_set_uid: (display_set, source, len(display_set.images) // 2)}, True)
        return mpr.state()

    async def update_mpr(self, mpr_uid: str, action: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a crosshair, scroll or slab action to an MPR (see :meth:`MprViews.update`);
        the answer is its new state."""
        mpr = self.mprs.get(str(mpr_uid).removeprefix(MPR_PREFIX))
        if mpr is None or mpr.uid != mpr_uid:
            raise BadRequest(f"no open MPR {mpr_uid!r}: call openMpr first")
        if not isinstance(action, Mapping):
            raise BadRequest(f"action must be an object with a type, not {action!r}")
        mpr.update(action)
        return mpr.state()

    def _view(self, view_uid: str) -> tuple[MprViews, str]:
        """The MPR and view name of a view's display set UID (its current version only)."""
        try:
            source_uid, name, _ = view_uid.removeprefix(MPR_PREFIX).rsplit(":", 2)
        except ValueError:
            raise BadRequest(f"{view_uid!r} is not an MPR view") from None
        mpr = self.mprs.get(source_uid)
        if mpr is None or name not in mpr.views:
            raise ModelError(f"MPR view {view_uid!r} is not open: call openMpr first")
        if mpr.view_uid(name) != view_uid:
            raise BadRequest(f"MPR view {view_uid!r} has changed since: it is now "
                             f"{mpr.view_uid(name)!r}")
        return mpr, name

    async def _plane(self, view_uid: str, image_index: int) -> tuple[MprViews, str, ImageFrame]:
        """A view's plane as a frame to render and measure (the last one is kept: a
        window/level drag renders it again); planes fill in as the volume loads."""
        mpr, name = self._view(view_uid)
        grid = mpr.grid(name)
        if isinstance(image_index, bool) or not isinstance(image_index, int) or not (
                0 <= image_index < grid.count):
            raise BadRequest(f"image index {image_index!r} is out of range 0..{grid.count - 1} "
                             f"of MPR view {view_uid}")
        display_set, source = self.session.display_set(mpr.display_set_uid)
        volume = self.frames.volume(mpr.display_set_uid)
        if volume is None or volume.template() is None:
            await self.frames.get(source, display_set.images[len(display_set.images) // 2])
            volume = self.frames.volume(mpr.display_set_uid)
            if volume is None:
                raise BadRequest(f"{display_set.series_description or 'This series'} cannot be "
                                 "shown in MPR: its images are not greyscale volumes")
        key = (view_uid, image_index, volume.version, id(volume.stored))
        kept = self._planes.get(f"{mpr.uid}:{name}")
        if kept is not None and kept[0] == key:
            return mpr, name, kept[1]
        frame = volume.plane_frame(grid.plane(image_index), mpr.slab(name, image_index))
        self._planes[f"{mpr.uid}:{name}"] = (key, frame)
        return mpr, name, frame

    def _overlay_layout(self) -> ViewportOverlay:
        """The config's overlay corners (the default before ``init``)."""
        config = self.session.config
        return DEFAULT_OVERLAY if config is None else config.viewportOverlay

    async def _render_plane(self, view_uid: str, image_index: int,
                            window: Mapping[str, float] | None, invert: bool,
                            details: bool) -> dict[str, Any]:
        """:meth:`render_image` of an MPR view; ``aspect`` is its pixels' height over width."""
        mpr, name, frame = await self._plane(view_uid, image_index)
        chosen = _window(window) if window else frame.default_window()
        rgba = render_rgba(frame, chosen, invert=bool(invert))
        grid = mpr.grid(name)
        if self._segmentations is not None:
            rgba = self._segmentations.blend_plane(mpr.display_set_uid, grid.plane(image_index),
                                                   rgba)
        answer = {
            "rgba": rgba,
            "width": int(rgba.shape[1]),
            "height": int(rgba.shape[0]),
            "imageIndex": image_index,
            "window": None if chosen is None else {"center": chosen.center, "width": chosen.width},
            "aspect": grid.spacing[0] / grid.spacing[1],
        }
        if not details:
            return answer
        display_set, _ = self.session.display_set(mpr.display_set_uid)
        return {
            **answer,
            "overlay": plane_overlay(display_set, VIEWS[name][0], mpr.geometry_of(name, image_index),
                                     image_index, grid.count, chosen, self._overlay_layout()),
            "presets": [p.to_json() for p in window_presets(display_set.modality, frame.windows)],
            "frameRate": None,
        }

    async def _plane_measurement(
        self, view_uid: str, image_index: int, tool: str, points: Sequence[Sequence[float]],
        text: str, label: str, uid: str,
    ) -> Measurement:
        """A measurement on an MPR view: in mm on its plane, ROI values from its pixels."""
        mpr, name, frame = await self._plane(view_uid, image_index)
        display_set, _ = self.session.display_set(mpr.display_set_uid)
        first = display_set.images[0].instance
        ds = first.metadata
        values = frame.values if tool in ROI_TOOLS or tool == "Probe" else None
        result = measure(tool, points, mpr.geometry_of(name, image_index), values,
                         modality_unit(ds), text)
        reference = ImageReference(first.study_instance_uid, first.series_instance_uid, "")
        return Measurement(uid or generate_uid(), label, reference, result, patient(ds))

    async def tags(
        self, display_set_uid: str, image_index: int = 0, search: str = ""
    ) -> dict[str, Any]:
        """Every element of an image's instance metadata as a tree, filtered by ``search``.

        Nodes are ``{tag, vr, keyword, name, value, children}`` (values are text, for
        ``textContent``); ``total`` counts the instance's top-level elements.
        """
        if str(display_set_uid).startswith(MPR_PREFIX):  # an MPR view: its series' middle
            display_set_uid = self._view(display_set_uid)[0].display_set_uid
            image_index = len(self.session.display_set(display_set_uid)[0].images) // 2
        image, _ = self.session.image(display_set_uid, image_index)
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
        Measurements on MPR views are not stored (``skipped`` counts them): a reformatted
        plane is no image a report can reference.
        """
        by_study: dict[str, tuple[DataSource, ImageRef, list[Measurement]]] = {}
        on_planes = [m for m in measurements
                     if str(m.get("displaySetUID") or "").startswith(MPR_PREFIX)]
        for obj in measurements:
            if obj in on_planes:  # no acquired image to reference in TID 1500 (yet)
                continue
            sent = Measurement.from_json(obj)
            display_set_uid, index = self.session.locate(sent.image.sop_instance_uid,
                                                  sent.image.frame_number)
            again = await self._measurement(display_set_uid, index, sent.result.tool,
                                            sent.result.points, sent.result.text, sent.label,
                                            sent.uid)
            image, source = self.session.image(display_set_uid, index)
            entry = by_study.setdefault(again.image.study_instance_uid, (source, image, []))
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
        return {"reports": stored, "downloads": downloads, "skipped": len(on_planes)}

    async def load_reports(
        self, study_instance_uids: Sequence[str] | str, data_source: str = ""
    ) -> dict[str, Any]:
        """The measurements of the newest measurement report of each study (as openViewer)."""
        source = self.session.source(data_source)
        studies = uid_list(study_instance_uids, "StudyInstanceUIDs")
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
                    display_set_uid, index = self.session.locate(m.image.sop_instance_uid,
                                                          m.image.frame_number)
                except ModelError:
                    display_set_uid, index = None, None
                found.append({**m.to_json(), "displaySetUID": display_set_uid,
                              "imageIndex": index,
                              "reportSOPInstanceUID": str(report.SOPInstanceUID)})
        return found


def create_for_browser(emit: Emit, load_codec: Any, prefetched: Any, access_token: Any,
                       renew_token: Any, codec_pool: Any = None) -> WorkerAPI:
    """What ``web/worker.js`` calls once Pyodide is up.

    ``load_codec(name)`` loads a WebAssembly codec (on a frame's first need of it), and
    ``codec_pool`` (None without one) decodes frames in codec workers (see wasm_codecs);
    ``prefetched`` holds the worker's early fetches (see :class:`FetchTransport`);
    ``access_token()`` and ``renew_token(rejected)`` are the page's sign-in, as the
    worker relays it.
    """
    from js import Object
    from pyodide.ffi import to_js

    from .dicomweb.fetch_transport import FetchTransport
    from .imaging import wasm_codecs

    def emit_js(event: str, data: dict[str, Any]) -> None:
        emit(event, to_js(data, dict_converter=Object.fromEntries))

    wasm_codecs.install(load_codec, codec_pool)
    return WorkerAPI(FetchTransport(prefetched), emit_js, access_token=access_token,
                     renew_token=renew_token)


# ---------------------------------------------------------------- helpers

_QUERY = re.compile(r"(\bhttps?://[^\s?#'\"]*)\?[^\s#'\")]*")


def without_queries(text: str) -> str:
    """``text`` with the query strings of its URLs cut: a search's terms (patient names,
    IDs) must not reach the console, where logs are copied and shared."""
    return _QUERY.sub(r"\1?…", text)



def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _snake_case(name: str) -> str:
    """``displaySetUID`` -> ``display_set_uid``, ``baseUrl`` -> ``base_url``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z]+)", lambda m: "_" + m.group(1), name).lower()


def _window(window: Mapping[str, Any]) -> VOIWindow:
    """A window from the page (``{center, width}``), its width clamped to LINEAR's minimum."""
    try:
        return VOIWindow(float(window["center"]), max(float(window["width"]), 1.0))
    except (KeyError, TypeError) as exc:
        raise BadRequest(f"window must be {{center, width}} numbers, not {window!r}") from exc


def _layout(text: str) -> Layout | None:
    """The saved layout preference, or None when absent or not a valid layout."""
    try:
        return Layout.parse(text) if text else None
    except ValueError:
        return None


def _wasm_heap_bytes() -> int | None:
    """The size of Pyodide's WebAssembly memory; None outside the browser."""
    try:
        import pyodide_js  # type: ignore[import-not-found]  # only under Pyodide
    except ImportError:
        return None
    return int(pyodide_js._module.HEAPU8.length)
