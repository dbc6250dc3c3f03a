"""A DICOMweb server as a data source: the PS3.18 client with the app's view of it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..config import DicomWebSource
from ..dicomweb import DICOMwebClient, Transport
from ..model import Instance
from .protocol import Capabilities

__all__ = ["DICOMwebDataSource"]


class DICOMwebDataSource(DICOMwebClient):
    """One configured DICOMweb server (QIDO-RS, WADO-RS, STOW-RS)."""

    def __init__(self, source: DicomWebSource, transport: Transport | None = None,
                 **kwargs: object) -> None:
        super().__init__(source, transport, **kwargs)  # type: ignore[arg-type]
        self.name = source.name
        self.friendly_name = source.friendlyName or source.name
        self.capabilities = Capabilities(
            store=bool(source.stowRoot),
            rendered=True,
            query_options=True,
            thumbnail_rendering=source.thumbnailRendering,
            query_limit=source.queryLimit,
            supports_wildcard=source.supportsWildcard,
        )

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
