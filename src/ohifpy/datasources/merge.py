"""Several data sources as one: OHIF's ``merge`` data source (``seriesMerge``).

A study may be spread over several places (a PACS and a research archive, a static tree
of derived series). The merge asks every source and joins their answers:

* studies are joined by StudyInstanceUID, series by SeriesInstanceUID; where two sources
  have the same one, the first source in the config's order wins (its row, its counts,
  its instances), so a series is never shown twice;
* a series belongs to the source that won it: its frames, bulk data and metadata come
  from there, and :meth:`MergedDataSource.source_of_series` names it (the study list
  and series panel show it);
* storing goes to the ``default`` source, whose capabilities (store, rendered, list
  options) the merge reports;
* a source that fails (unreachable, HTTP error, no such study) while another answers
  leaves its part out, and :attr:`MergedDataSource.failures` says why; only when every
  source fails does the call raise (the first source's error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from pydicom import Dataset

from ..dicomweb import Frame, StudyQuery
from ..dicomweb.limits import PixelDataSize
from ..errors import OhifpyError
from .protocol import Capabilities, DataSource, DataSourceError

if TYPE_CHECKING:
    from ..model import Instance

__all__ = ["MergedDataSource"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Answer(Generic[T]):
    """What one source answered."""

    source: DataSource
    value: T


class MergedDataSource:
    """The union of ``sources`` by series; ``default`` (a source's name) stores.

    The sources are the app's own entries too: they are closed where they were made,
    not by :meth:`aclose`.
    """

    def __init__(self, name: str, friendly_name: str, sources: Sequence[DataSource],
                 default: str) -> None:
        if not sources:
            raise DataSourceError(f"merge data source {name!r} has no sources")
        by_name = {source.name: source for source in sources}
        if default not in by_name:
            raise DataSourceError(f"merge data source {name!r}: its default {default!r} is not "
                                  f"one of its sources ({', '.join(by_name)})")
        self.name = name
        self.friendly_name = friendly_name
        self.sources = tuple(sources)
        self.default = by_name[default]
        own = self.default.capabilities
        self.capabilities = Capabilities(
            store=own.store,
            rendered=own.rendered,
            query_options=all(s.capabilities.query_options for s in self.sources),
            thumbnail_rendering=own.thumbnail_rendering,
            query_limit=own.query_limit,
            supports_wildcard=own.supports_wildcard,
            download_reports=own.download_reports,
            frames_per_request=min(s.capabilities.frames_per_request for s in self.sources),
        )
        self.failures: dict[str, OhifpyError] = {}
        """Why a source's part was left out of the last answer, by source name."""
        self._owners: dict[str, DataSource] = {}  # SeriesInstanceUID -> the source that won it

    def source_of_series(self, series_instance_uid: str) -> str:
        """The name of the source a series comes from (once a search or retrieval saw it)."""
        owner = self._owners.get(series_instance_uid)
        if owner is None:
            raise DataSourceError(f"series {series_instance_uid} has not been seen in "
                                  f"{self.friendly_name} yet")
        return owner.name

    # searches

    async def search_for_studies(
        self, query: StudyQuery | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Dataset]:
        """Every source's studies, one row per StudyInstanceUID (the first source's row)."""
        limit = self.capabilities.query_limit if limit is None else limit
        answers = await self._ask(
            lambda s: s.search_for_studies(query, limit=offset + limit, offset=0))
        rows = _union((a.value for a in answers), "StudyInstanceUID")
        return rows[offset:offset + limit]

    async def search_for_series(self, study_instance_uid: str) -> list[Dataset]:
        """The study's series in every source; a series two sources have is the first's."""
        answers = await self._ask(lambda s: s.search_for_series(study_instance_uid))
        self._win(answers, _series_of)
        return _union((answer.value for answer in answers), "SeriesInstanceUID")

    async def search_for_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[Dataset]:
        """Instances of the series from its source, or of every series from its own source."""
        if series_instance_uid:
            owner = await self._owner(study_instance_uid, series_instance_uid)
            return await owner.search_for_instances(study_instance_uid, series_instance_uid)
        answers = await self._ask(lambda s: s.search_for_instances(study_instance_uid))
        return _of_winners(answers, self._win(answers, _series_of), _series_of)

    # metadata

    async def retrieve_study_metadata(self, study_instance_uid: str) -> list[Dataset]:
        """Every instance's metadata, each series from the source that won it."""
        answers = await self._ask(lambda s: s.retrieve_study_metadata(study_instance_uid))
        return _of_winners(answers, self._win(answers, _series_of), _series_of)

    async def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str
    ) -> list[Dataset]:
        owner = await self._owner(study_instance_uid, series_instance_uid)
        return await owner.retrieve_series_metadata(study_instance_uid, series_instance_uid)

    async def retrieve_study_instances(
        self, study_instance_uid: str, series_instance_uids: Sequence[str] = ()
    ) -> list[Instance]:
        """Every source's instances of the study, each series from the first source having it."""
        answers = await self._ask(
            lambda s: s.retrieve_study_instances(study_instance_uid, series_instance_uids))
        return _of_winners(answers, self._win(answers, _instance_series), _instance_series)

    # pixels and bulk data: from the series' own source

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
        owner = await self._owner(study_instance_uid, series_instance_uid)
        return await owner.retrieve_instance_frames(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_numbers,
            transfer_syntax_uid=transfer_syntax_uid, pixel_size=pixel_size)

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        owner = await self._owner(str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID))
        return await owner.load_bulkdata(dataset)

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
        """Rendered by the series' source, or a study by the default source."""
        source = (await self._owner(study_instance_uid, series_instance_uid)
                  if series_instance_uid else self.default)
        return await source.retrieve_rendered(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_number,
            media_type=media_type, window=window, viewport=viewport)

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
        source = (await self._owner(study_instance_uid, series_instance_uid)
                  if series_instance_uid else self.default)
        return await source.retrieve_thumbnail(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_number,
            media_type=media_type, viewport=viewport)

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Stored in the default source (OHIF's ``defaultDataSourceName``)."""
        return await self.default.store_instances(datasets, study_instance_uid)

    async def aclose(self) -> None:
        """Nothing of its own to release: the merged sources are closed by their owner."""

    # plumbing

    async def _ask(self, call: Callable[[DataSource], Awaitable[T]]) -> list[_Answer[T]]:
        """Every source's answer, in source order, without those that failed; all failed:
        the first source's error."""
        results = await asyncio.gather(*(call(s) for s in self.sources), return_exceptions=True)
        answers, self.failures = [], {}
        for source, result in zip(self.sources, results, strict=True):
            if isinstance(result, OhifpyError):
                self.failures[source.name] = result
            elif isinstance(result, BaseException):
                raise result  # a bug, not an unavailable source
            else:
                answers.append(_Answer(source, result))
        if not answers:
            raise self.failures[self.sources[0].name]
        return answers

    def _win(self, answers: Sequence[_Answer[list[T]]],
             series_of: Callable[[T], str]) -> dict[str, DataSource]:
        """Which source wins each series in these answers (the first having it), noted."""
        won: dict[str, DataSource] = {}
        for answer in answers:
            for item in answer.value:
                won.setdefault(series_of(item), answer.source)
        self._owners.update(won)
        return won

    async def _owner(self, study_instance_uid: str, series_instance_uid: str) -> DataSource:
        """The source a series comes from, asking the sources for the study's series once."""
        if series_instance_uid not in self._owners:
            await self.search_for_series(study_instance_uid)
        try:
            return self._owners[series_instance_uid]
        except KeyError:
            raise DataSourceError(f"series {series_instance_uid} of study {study_instance_uid} "
                                  f"is in none of {self.friendly_name}'s sources") from None


def _union(lists: Iterable[list[Dataset]], keyword: str) -> list[Dataset]:
    """Datasets of ``lists`` (in order), one per value of ``keyword``: the first seen."""
    seen: dict[str, Dataset] = {}
    for datasets in lists:
        for ds in datasets:
            seen.setdefault(str(ds.get(keyword, "")), ds)
    return list(seen.values())


def _of_winners(answers: Sequence[_Answer[list[T]]], won: dict[str, DataSource],
                series_of: Callable[[T], str]) -> list[T]:
    """The items of each answer whose series its source won."""
    return [item for answer in answers for item in answer.value
            if won[series_of(item)] is answer.source]


def _series_of(ds: Dataset) -> str:
    return str(ds.get("SeriesInstanceUID", ""))


def _instance_series(instance: Instance) -> str:
    return instance.series_instance_uid
