"""A DICOMweb server as a data source: the PS3.18 client with the app's view of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from pydicom import Dataset

from ..config import DicomWebSource
from ..dicomweb import DICOMwebClient, DICOMwebError, Transport
from ..dicomweb.dicom_json import PIXEL_DATA_TAGS
from ..dicomweb.part10 import read_instance
from ..imaging.lut import is_little_endian, little_endian_words
from ..imaging.render import missing_display_attributes
from ..model import Instance
from .protocol import Capabilities, DataSourceError

__all__ = ["DICOMwebDataSource", "fill_in_from_file"]


class DICOMwebDataSource(DICOMwebClient):
    """One configured DICOMweb server (QIDO-RS, WADO-RS, STOW-RS)."""

    def __init__(self, source: DicomWebSource, transport: Transport | None = None,
                 **kwargs: object) -> None:
        super().__init__(source, transport, **kwargs)  # type: ignore[arg-type]
        self.name = source.name
        self.friendly_name = source.friendlyName or source.name
        self.capabilities = Capabilities(
            store=bool(source.stowRoot),
            rendered=source.supportsRendered,
            query_options=True,
            thumbnail_rendering=source.thumbnailRendering,
            query_limit=source.queryLimit,
            supports_wildcard=source.supportsWildcard,
            series_retrieve=source.retrieveWholeSeries,
            frames_per_request=source.framesPerRequest,
        )
        self._filled_in: set[str] = set()

    def _refuse_frame_lists(self) -> None:
        """One frame a request from now on: loads stop asking for several at once too."""
        super()._refuse_frame_lists()
        self.capabilities = replace(self.capabilities, frames_per_request=1)

    async def retrieve_study_instances(
        self, study_instance_uid: str, series_instance_uids: Sequence[str] = ()
    ) -> list[Instance]:
        """A study's (or its series') WADO-RS metadata, fetched together, converted lazily."""
        responses = await asyncio.gather(
            *(self.retrieve_metadata_json(study_instance_uid, series)
              for series in series_instance_uids or [""])
        )
        return [
            Instance.from_json(obj, url, index)
            for objects, url in responses
            for index, obj in enumerate(objects)
        ]

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        """The bulk data values, then what display needs that the metadata left out.

        Orthanc's metadata of implicit VR files lacks every element whose VR is US or
        SS (palette and LUT descriptors, LUT Data), which pydicom reads from the file:
        the instance itself is then retrieved, once, and they are taken from it.
        """
        await super().load_bulkdata(dataset)
        sop_instance_uid = str(dataset.get("SOPInstanceUID", ""))
        missing = missing_display_attributes(dataset)
        if sop_instance_uid in self._filled_in or not missing:
            return dataset
        try:
            instance = read_instance(await self.retrieve_instance(
                str(dataset.get("StudyInstanceUID", "")),
                str(dataset.get("SeriesInstanceUID", "")), sop_instance_uid))
        except (DICOMwebError, ValueError) as exc:
            raise DataSourceError(
                f"the metadata of instance {sop_instance_uid} lacks {', '.join(missing)}, "
                f"and the instance itself could not be read for them: {exc}") from None
        fill_in_from_file(dataset, instance)
        self._filled_in.add(sop_instance_uid)
        return dataset


def fill_in_from_file(metadata: Dataset, file: Dataset, little_endian: bool | None = None) -> None:
    """Add to `metadata` the elements of the instance `file` that it lacks, but pixel data.

    Sequence items present in both are filled in item by item. Binary values become
    little endian, the byte order of the metadata's own (DICOM JSON); `little_endian`
    is the file's (read from `file` when not given).
    """
    if little_endian is None:
        little_endian = is_little_endian(file)
    for element in file:
        if element.tag in PIXEL_DATA_TAGS:
            continue
        if element.tag in metadata:
            if element.VR == "SQ" and metadata[element.tag].VR == "SQ":
                for ours, theirs in zip(metadata[element.tag].value, element.value):
                    fill_in_from_file(ours, theirs, little_endian)
        elif element.VR == "SQ":
            items = [Dataset() for _ in element.value]
            for ours, theirs in zip(items, element.value):
                fill_in_from_file(ours, theirs, little_endian)
            metadata.add_new(element.tag, "SQ", items)
        else:
            value = element.value
            if isinstance(value, bytes):
                value = little_endian_words(value, element.VR, little_endian)
            metadata.add_new(element.tag, element.VR, value)
