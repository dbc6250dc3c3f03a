"""The open session: the config's data sources, the user's own files, the open display sets.

One session per page (the worker lives from the study list to the viewer, so files the
user dropped stay open until the tab closes, and nowhere else). Display sets are known by
UID together with the source they came from, so frames, measurements and reports go back
to the right source whatever the page asks next. They are those of the studies the viewer
opened last: opening others lets them go (with their instances' metadata), so a session
that browses study after study holds one study set's, not all it ever saw.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import AppConfig, ConfigError, LocalSource
from ..datasources import DataSource, create_data_sources
from ..dicomweb import Transport
from ..errors import DATA_ERRORS, BadRequest, OhifpyError
from ..hanging import HangingProtocols
from ..model import DisplaySet, ImageRef, Instance, ModelError, Study, display_sets_from_instances

if TYPE_CHECKING:
    from ..datasources.dicomjson import DicomJsonDataSource
    from ..datasources.local_files import LocalFilesDataSource

__all__ = ["LOCAL_SOURCE_NAME", "OpenedStudies", "ViewerSession", "fetch_config", "uid_list"]

LOCAL_SOURCE_NAME = "local"
"""The user's files' source when the config has no ``dicomlocal`` one (OHIF's name)."""
DICOMJSON_SOURCE_NAME = "dicomjson"
"""The source ``/viewer/dicomjson?url=`` loads into when the config has no dicomjson one."""


@dataclass(frozen=True)
class OpenedStudies:
    """What opening a viewer URL's studies gave: per study its display sets, the studies
    that could not be opened with the reason, and every instance (reports among them)."""

    studies: list[tuple[Study, list[DisplaySet]]]
    missing: list[dict[str, str]]
    instances: list[Instance]
    closed: list[str] = field(default_factory=list)
    """Display sets of the studies opened before, let go now (their loads should stop)."""


class ViewerSession:
    """Data sources by name and the display sets opened from them."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.config: AppConfig | None = None
        self.base_url = ""
        self.sources: dict[str, DataSource] = {}
        self.local_source_name = LOCAL_SOURCE_NAME
        self.display_sets: dict[str, tuple[DisplaySet, DataSource]] = {}
        self.protocols = HangingProtocols()
        # The studies the viewer shows, the URL's first (current, then priors) then those
        # opened from the series panel; and the source they come from.
        self.studies: list[tuple[Study, list[DisplaySet]]] = []
        self.studies_source: DataSource | None = None
        self._opens = 0  # opens started; the newest one's display sets are the page's

    def configure(self, config: AppConfig, base_url: str,
                  transport: Transport | None = None) -> None:
        """Create the config's sources; roots relative to the page resolve against ``base_url``.

        ``transport``, when given, replaces the session's for these sources (the one that
        adds the signed-in user's token).

        The user's own files always have a source: the config's ``dicomlocal`` one, else
        one named ``local`` (made on the first drop).
        """
        self.config = config
        self.base_url = base_url
        if transport is not None:
            self.transport = transport
        self.sources = create_data_sources(config, self.transport, base_url)
        self.protocols = HangingProtocols(config.hangingProtocols)
        local = [s.name for s in config.dataSources if isinstance(s, LocalSource)]
        names = {s.name for s in config.dataSources}
        self.local_source_name = local[0] if local else next(
            name for name in (LOCAL_SOURCE_NAME, f"{LOCAL_SOURCE_NAME}-files") if name not in names
        )

    def source(self, name: str = "") -> DataSource:
        """The named source (the URL's ``datasources``), else the config's default."""
        if self.config is None:
            raise ConfigError("the worker has no config yet: call init first")
        name = name or self.config.defaultDataSourceName
        if name == self.local_source_name:
            return self.local_source()
        if name not in self.sources:
            raise ConfigError(f"no data source named {name!r}; one of {sorted(self.sources)}")
        return self.sources[name]

    def local_source(self) -> LocalFilesDataSource:
        """The user's files' source, made on first use when the config names none."""
        from ..datasources.local_files import LocalFilesDataSource

        source = self.sources.get(self.local_source_name)
        if source is None:
            source = LocalFilesDataSource(self.local_source_name, "Local files")
            self.sources[source.name] = source
        if not isinstance(source, LocalFilesDataSource):
            raise ConfigError(f"data source {self.local_source_name!r} is not for local files")
        return source

    def dicomjson_source(self) -> DicomJsonDataSource:
        """The config's dicomjson source, else one of the session's own."""
        from ..datasources.dicomjson import DicomJsonDataSource

        for source in self.sources.values():
            if isinstance(source, DicomJsonDataSource):
                return source
        source = DicomJsonDataSource(DICOMJSON_SOURCE_NAME, "DICOM JSON", self.transport,
                                     base_url=self.base_url)
        self.sources[source.name] = source
        return source

    async def open_studies(
        self, source: DataSource, studies: Sequence[str], series: Sequence[str]
    ) -> OpenedStudies:
        """Each study fetched on its own: one that cannot be opened (unknown UID, no images
        among the asked series) is listed in ``missing`` while the others open; only when
        none opens is it an error.

        The display sets opened replace those of the studies opened before (listed in
        ``closed``), unless a newer open was started meanwhile (the page moved on while this
        one's metadata came): then they are only added beside that one's, which stay. An
        open that fails lets nothing go.
        """
        self._opens += 1
        generation = self._opens
        answers = await asyncio.gather(
            *(source.retrieve_study_instances(study, series) for study in studies),
            return_exceptions=True,
        )
        opened: list[tuple[Study, list[DisplaySet]]] = []
        missing: list[dict[str, str]] = []
        instances: list[Instance] = []
        shown: dict[str, tuple[DisplaySet, DataSource]] = {}
        for study_uid, answer in zip(studies, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, DATA_ERRORS):
                    raise answer
                missing.append({"studyInstanceUID": study_uid, "message": str(answer)})
                continue
            display_sets = display_sets_from_instances(answer)
            if not display_sets:
                missing.append({"studyInstanceUID": study_uid, "message": "no series with images"
                                + (f" among {', '.join(series)}" if series else "")})
                continue
            instances += answer
            opened.append((Study.from_dataset(display_sets[0].instance.metadata),
                           display_sets))
            for display_set in display_sets:
                shown[display_set.display_set_uid] = (display_set, source)
        if not opened:
            raise ModelError("; ".join(f"{m['studyInstanceUID']}: {m['message']}"
                                       for m in missing))
        if generation != self._opens:  # a newer open owns the page: keep its display sets
            self.display_sets = {**shown, **self.display_sets}
            return OpenedStudies(opened, missing, instances)
        closed = [uid for uid in self.display_sets if uid not in shown]
        self.display_sets = shown
        self.studies = list(opened)
        self.studies_source = source
        return OpenedStudies(opened, missing, instances, closed)

    async def add_study(self, study_instance_uid: str) -> tuple[Study, list[DisplaySet]]:
        """Open one more study of the shown studies' source beside them (a prior picked in
        the series panel); one already open is answered as it is."""
        source = self.studies_source
        if source is None:
            raise BadRequest("no study is open: open the viewer first")
        for study, display_sets in self.studies:
            if study.study_instance_uid == study_instance_uid:
                return study, display_sets
        generation = self._opens
        instances = await source.retrieve_study_instances(study_instance_uid, [])
        display_sets = display_sets_from_instances(instances)
        if not display_sets:
            raise ModelError(f"study {study_instance_uid} has no series with images")
        if generation != self._opens:  # the page opened other studies meanwhile
            raise BadRequest("the viewer opened other studies meanwhile")
        study = Study.from_dataset(display_sets[0].instance.metadata)
        for display_set in display_sets:
            self.display_sets[display_set.display_set_uid] = (display_set, source)
        self.studies.append((study, display_sets))
        return study, display_sets

    def add_display_set(self, display_set: DisplaySet, source: DataSource) -> None:
        """One more display set of the open studies' (a Python console cell's image)."""
        self.display_sets[display_set.display_set_uid] = (display_set, source)
        for study, display_sets in self.studies:
            if study.study_instance_uid == display_set.study_instance_uid:
                display_sets.append(display_set)

    def origin_of_series(self, source: DataSource, series_instance_uid: str) -> str:
        """The friendly name of the source a series of a merge source comes from; "" for
        other sources (they are their series' only origin)."""
        from ..datasources.merge import MergedDataSource

        if not isinstance(source, MergedDataSource):
            return ""
        return self.sources[source.source_of_series(series_instance_uid)].friendly_name

    def display_set(self, display_set_uid: str) -> tuple[DisplaySet, DataSource]:
        try:
            return self.display_sets[display_set_uid]
        except KeyError:
            raise ModelError(
                f"display set {display_set_uid!r} is not open: call openViewer first"
            ) from None

    def image(self, display_set_uid: str, image_index: int) -> tuple[ImageRef, DataSource]:
        """An image of an open display set, its index checked (it comes from the page)."""
        display_set, source = self.display_set(display_set_uid)
        if isinstance(image_index, bool) or not isinstance(image_index, int):
            raise BadRequest(f"image index must be an integer, not {image_index!r}")
        if not 0 <= image_index < len(display_set.images):
            raise BadRequest(
                f"image index {image_index} is out of range 0..{len(display_set.images) - 1} "
                f"of display set {display_set.display_set_uid}"
            )
        return display_set.images[image_index], source

    def locate(self, sop_instance_uid: str, frame_number: int) -> tuple[str, int]:
        """The open display set and image index showing a frame of an instance."""
        for uid, (display_set, _) in self.display_sets.items():
            for index, image in enumerate(display_set.images):
                if (image.instance.sop_instance_uid == sop_instance_uid
                        and image.frame_number == frame_number):
                    return uid, index
        raise ModelError(f"image {sop_instance_uid} frame {frame_number} is in no open "
                         "display set: open its study first")


async def fetch_config(transport: Transport, url: str) -> AppConfig:
    """The app config at ``url`` (a link's configUrl, already allowed), validated; fetched
    without credentials, as any other page would."""
    try:
        response = await transport.request("GET", url, headers={"Accept": "application/json"},
                                           timeout=30.0)
    except OhifpyError as exc:
        raise ConfigError(f"configUrl {url}: {exc}") from None
    if response.status != 200:
        raise ConfigError(f"configUrl {url}: HTTP {response.status} {response.reason}".rstrip())
    try:
        obj = json.loads(response.body)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"configUrl {url}: not JSON ({exc})") from None
    try:
        return AppConfig.from_json(obj)
    except ConfigError as exc:
        raise ConfigError(f"configUrl {url}: {exc}") from None


def uid_list(value: Sequence[str] | str, what: str, *, required: bool = True) -> list[str]:
    """UIDs from a list or a comma-separated string (as the viewer's URL carries them)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    uids = [str(item).strip() for item in items if str(item).strip()]
    if required and not uids:
        raise BadRequest(f"{what} is empty: give at least one UID")
    return uids
