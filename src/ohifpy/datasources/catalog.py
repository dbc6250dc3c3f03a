"""An in-memory index of instance headers that answers QIDO-RS searches.

Sources without a server (the user's own files, an OHIF dicomjson list) hold instance
headers and must answer the study list's searches, the series panel and a study's
metadata the way a DICOMweb server would. The catalog keeps each header with a
*locator* (where the source finds the instance's bytes: a file handle and offsets, a
URL) and computes the study- and series-level answers from the headers, so counts and
ModalitiesInStudy always agree with what is held. Matching is
:func:`~ohifpy.dicomweb.query.match_static`'s, the same a static DICOMweb tree gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom import Dataset

from ..dicomweb.query import StudyQuery, match_static
from ..model import Instance
from .protocol import Capabilities, DataSourceError

__all__ = ["INSTANCE_KEYWORDS", "SERIES_KEYWORDS", "STUDY_KEYWORDS", "Catalog", "CatalogSource"]

# What a QIDO-RS server returns at each level (PS3.18 Table 10.6.3-3..5) and the study
# list shows; the counts and ModalitiesInStudy are computed.
STUDY_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyID",
    "StudyDescription",
    "StudyInstanceUID",
)
SERIES_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "SeriesTime",
)
INSTANCE_KEYWORDS: tuple[str, ...] = (
    "SpecificCharacterSet",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
)
_REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


@dataclass(frozen=True)
class _MatchingOptions:
    """What :meth:`StudyQuery.to_params` asks of a source: here the catalog matches itself."""

    supportsWildcard: bool  # the config's (OHIF's) name
    supportsFuzzyMatching: bool = False


class Catalog:
    """Instance headers with their locators, grouped by study and series in insertion order."""

    def __init__(self) -> None:
        self._instances: dict[str, tuple[Dataset, object]] = {}
        # study UID -> series UID -> SOP instance UIDs
        self._studies: dict[str, dict[str, list[str]]] = {}

    def add(self, header: Dataset, locator: object) -> None:
        """Index ``header`` (no pixel data); a SOP Instance UID already held keeps the first.

        Raises :class:`DataSourceError` when a UID the index needs is missing.
        """
        uids = [str(header.get(keyword) or "").strip() for keyword in _REQUIRED_UIDS]
        missing = [keyword for keyword, uid in zip(_REQUIRED_UIDS, uids) if not uid]
        if missing:
            raise DataSourceError(f"the instance has no {' or '.join(missing)}")
        study, series, sop = uids
        if sop in self._instances:
            return
        self._instances[sop] = (header, locator)
        self._studies.setdefault(study, {}).setdefault(series, []).append(sop)

    def __len__(self) -> int:
        return len(self._instances)

    def __contains__(self, sop_instance_uid: object) -> bool:
        return sop_instance_uid in self._instances

    def search_for_studies(
        self,
        query: StudyQuery | None,
        *,
        limit: int | None,
        offset: int,
        supports_wildcard: bool = True,
    ) -> list[Dataset]:
        """The study-level QIDO-RS answer for the study list's filters."""
        filters = query.to_params(_MatchingOptions(supports_wildcard)) if query else []
        studies = [self._study_attributes(uid) for uid in self._studies]
        return match_static(studies, filters, limit=limit, offset=offset)

    def search_for_series(self, study_instance_uid: str) -> list[Dataset]:
        """The series-level QIDO-RS answer (empty for an unknown study, as a server's)."""
        series_map = self._studies.get(study_instance_uid, {})
        return [
            _attributes(self._header(sops[0]), SERIES_KEYWORDS,
                        NumberOfSeriesRelatedInstances=len(sops))
            for sops in series_map.values()
        ]

    def search_for_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[Dataset]:
        """The instance-level QIDO-RS answer, of one series when given."""
        series_map = self._studies.get(study_instance_uid, {})
        return [
            _attributes(self._header(sop), INSTANCE_KEYWORDS)
            for series_uid, sops in series_map.items()
            if series_instance_uid in (None, series_uid)
            for sop in sops
        ]

    def headers(
        self, study_instance_uid: str, series_instance_uids: Sequence[str] = ()
    ) -> list[tuple[Dataset, object]]:
        """Every instance's header and locator of a study (only of these series, if any)."""
        series_map = self._studies.get(study_instance_uid)
        if series_map is None:
            raise DataSourceError(f"study {study_instance_uid} is not among the loaded ones")
        unknown = [uid for uid in series_instance_uids if uid not in series_map]
        if unknown:
            raise DataSourceError(
                f"study {study_instance_uid} has no series {', '.join(unknown)}"
            )
        wanted = series_instance_uids or list(series_map)
        return [self._instances[sop] for uid in wanted for sop in series_map[uid]]

    def locate(self, sop_instance_uid: str) -> tuple[Dataset, object]:
        """An instance's header and locator."""
        try:
            return self._instances[sop_instance_uid]
        except KeyError:
            raise DataSourceError(
                f"SOP instance {sop_instance_uid} is not among the loaded ones"
            ) from None

    def _header(self, sop_instance_uid: str) -> Dataset:
        return self._instances[sop_instance_uid][0]

    def _study_attributes(self, study_instance_uid: str) -> Dataset:
        series_map = self._studies[study_instance_uid]
        first_of_series = [self._header(sops[0]) for sops in series_map.values()]
        modalities = {str(ds.Modality) for ds in first_of_series if ds.get("Modality")}
        return _attributes(
            first_of_series[0],
            STUDY_KEYWORDS,
            ModalitiesInStudy=sorted(modalities),
            NumberOfStudyRelatedSeries=len(series_map),
            NumberOfStudyRelatedInstances=sum(len(sops) for sops in series_map.values()),
        )


def _attributes(header: Dataset, keywords: tuple[str, ...], **computed: object) -> Dataset:
    """A QIDO-RS result: the ``keywords`` ``header`` has, plus computed attributes."""
    result = Dataset()
    for keyword in keywords:
        if keyword in header:
            result[keyword] = header[keyword]
    for keyword, value in computed.items():
        setattr(result, keyword, value)
    return result


class CatalogSource:
    """The searches and metadata of a source whose instance headers sit in a :class:`Catalog`.

    The user's files and a dicomjson list differ in where an instance's bytes are (the
    catalog's locators) and how they are read; what a server would answer from the
    headers is the same for both, and is here.
    """

    def __init__(self, name: str, friendly_name: str, capabilities: Capabilities) -> None:
        self.name = name
        self.friendly_name = friendly_name
        self.capabilities = capabilities
        self._catalog = Catalog()

    async def search_for_studies(
        self, query: StudyQuery | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Dataset]:
        """The held studies matching the study list's filters, in the order added."""
        return self._catalog.search_for_studies(
            query,
            limit=self.capabilities.query_limit if limit is None else limit,
            offset=offset,
            supports_wildcard=self.capabilities.supports_wildcard,
        )

    async def search_for_series(self, study_instance_uid: str) -> list[Dataset]:
        return self._catalog.search_for_series(study_instance_uid)

    async def search_for_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[Dataset]:
        return self._catalog.search_for_instances(study_instance_uid, series_instance_uid)

    async def retrieve_study_metadata(self, study_instance_uid: str) -> list[Dataset]:
        return [header for header, _ in self._catalog.headers(study_instance_uid)]

    async def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str
    ) -> list[Dataset]:
        return [header for header, _ in
                self._catalog.headers(study_instance_uid, [series_instance_uid])]

    async def retrieve_study_instances(
        self, study_instance_uid: str, series_instance_uids: Sequence[str] = ()
    ) -> list[Instance]:
        """The study's instances; their metadata is the header held."""
        return [Instance.from_dataset(header) for header, _ in
                self._catalog.headers(study_instance_uid, series_instance_uids)]
