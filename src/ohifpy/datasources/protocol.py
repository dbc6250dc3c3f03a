"""The DataSource protocol: what the viewer, the CLI and the SR code ask of any source.

Shaped after dicomweb-client's ``DICOMClient`` protocol (method names from PS3.18
transactions), so a DICOMweb server, a static DICOMweb tree, an OHIF dicomjson file,
the user's own files and a merge of several sources are interchangeable. Nothing above
this layer (model, image loader, viewer session, measurements, SR, CLI) knows which
kind it talks to; what differs between kinds is told by :class:`Capabilities`.

Searches answer pydicom datasets, as QIDO-RS does. The viewer opens a study through
:meth:`DataSource.retrieve_study_instances`, which answers model instances whose full
dataset is made only when it is used (a 2,000-instance study must not convert 2,000
datasets to show one image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydicom import Dataset

from ..dicomweb.client import Frame
from ..dicomweb.limits import PixelDataSize
from ..dicomweb.query import StudyQuery

if TYPE_CHECKING:
    from ..model import Instance

from ..errors import OhifpyError

__all__ = ["Capabilities", "DataSource", "DataSourceError"]


class DataSourceError(OhifpyError):
    """A source cannot do what was asked (no such study, cannot store, unreadable file)."""


@dataclass(frozen=True)
class Capabilities:
    """What a source can do beyond the common searches and retrievals.

    Attributes
    ----------
    store : bool
        ``store_instances`` works (STOW-RS, or keeping the instance in the session).
    rendered : bool
        The server renders images (``retrieve_rendered`` / ``retrieve_thumbnail``).
    query_options : bool
        The server matches QIDO queries itself (wildcards, fuzzy matching, includefield);
        False: the source filters a full list here.
    thumbnail_rendering : str
        ``wadors`` (from frames, in the viewer), ``rendered`` or ``thumbnail``.
    query_limit : int
        How many studies one search asks for (OHIF's ``queryLimit``).
    supports_wildcard : bool
        Text filters become ``*value*``.
    download_reports : bool
        Measurement reports are offered as a file download rather than stored
        (the user's own files: nothing to store them on).
    frames_per_request : int
        How many frames of one instance a load asks for in one request (a DICOMweb
        server's ``/frames/1,2,3``, the config's ``framesPerRequest``); 1 where each frame
        costs a request of its own anyway (a static tree's files), is read here (files),
        or the server turned out to refuse a list.
    series_retrieve : bool
        ``retrieve_series_frames`` works: a stack loads from one WADO-RS Retrieve Series
        response (see :mod:`ohifpy.viewer.series_retrieve`).
    """

    store: bool = False
    rendered: bool = False
    query_options: bool = False
    thumbnail_rendering: str = "wadors"
    query_limit: int = 101
    supports_wildcard: bool = True
    download_reports: bool = False
    frames_per_request: int = 1
    series_retrieve: bool = False


@runtime_checkable
class DataSource(Protocol):
    """A source of studies: searches, metadata, frames, bulk data, and storage where it can."""

    name: str
    friendly_name: str
    capabilities: Capabilities

    async def search_for_studies(
        self, query: StudyQuery | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Dataset]:
        """Studies matching the study list's filters (``limit`` defaults to ``query_limit``)."""
        ...

    async def search_for_series(self, study_instance_uid: str) -> list[Dataset]:
        """The series of one study, as QIDO-RS series-level datasets."""
        ...

    async def search_for_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[Dataset]:
        """The instances of a study (of one series if given), as QIDO-RS instance datasets."""
        ...

    async def retrieve_study_metadata(self, study_instance_uid: str) -> list[Dataset]:
        """Every instance's metadata of a study (no pixel data)."""
        ...

    async def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str
    ) -> list[Dataset]:
        """Every instance's metadata of a series (no pixel data)."""
        ...

    async def retrieve_study_instances(
        self, study_instance_uid: str, series_instance_uids: Sequence[str] = ()
    ) -> list[Instance]:
        """The instances of a study (only of these series, if any) as lazy model instances.

        Raises :class:`DataSourceError` (or a DICOMweb error) when the study is unknown.
        """
        ...

    async def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        *,
        transfer_syntax_uid: str | None = None,
        pixel_size: PixelDataSize | None = None,
    ) -> list[Frame]:
        """Frames (1-based) as stored, each with its transfer syntax; ``transfer_syntax_uid``
        asks a server to transcode (sources that cannot raise :class:`DataSourceError`).
        ``pixel_size`` (what the metadata says the pixels take) bounds what is downloaded
        for them; sources that read local files need no bound."""
        ...

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        """Fill in the bulk data values the metadata left out (LUT data, palettes), but pixels."""
        ...

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Store instances (where ``capabilities.store``); answers the STOW-RS response."""
        ...

    async def retrieve_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        frame_number: int | None = None,
        *,
        media_type: str = "image/png",
        window: tuple[float, float, str] | None = None,
        viewport: tuple[int, int] | None = None,
    ) -> bytes:
        """A server-rendered image (where ``capabilities.rendered``)."""
        ...

    async def retrieve_thumbnail(
        self,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        frame_number: int | None = None,
        *,
        media_type: str = "image/png",
        viewport: tuple[int, int] | None = None,
    ) -> bytes:
        """A server-made thumbnail (where ``capabilities.rendered``)."""
        ...

    async def aclose(self) -> None:
        """Release connections and open files."""
        ...
