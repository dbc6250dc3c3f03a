"""Data sources: every kind of place studies come from, behind one :class:`DataSource` protocol.

=============  =====================================================  ==========================
config kind    module                                                 what
=============  =====================================================  ==========================
dicomweb       :mod:`~ohifpy.datasources.dicomweb`                    a DICOMweb server
(staticWado)   :mod:`~ohifpy.datasources.static_wado`                 a static DICOMweb tree
dicomjson      :mod:`~ohifpy.datasources.dicomjson`                   OHIF's JSON study list
dicomlocal     :mod:`~ohifpy.datasources.local_files`                 the user's own files
merge          :mod:`~ohifpy.datasources.merge`                       series of several sources
=============  =====================================================  ==========================

The kinds' modules are imported when a config asks for them.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin

from ..config import (
    AppConfig,
    DicomJsonSource,
    DicomWebSource,
    LocalSource,
    MergeSource,
    SourceConfig,
)
from ..dicomweb import Transport
from .protocol import Capabilities, DataSource, DataSourceError

__all__ = ["Capabilities", "DataSource", "DataSourceError", "create_data_sources",
           "query_server", "resolve_roots", "server_roots"]


def create_data_sources(
    config: AppConfig, transport: Transport, base_url: str = ""
) -> dict[str, DataSource]:
    """One data source per config entry, by name; roots resolved against ``base_url``.

    Merge sources are made after the sources they merge, whatever the config's order.
    """
    sources: dict[str, DataSource] = {}
    for entry in config.dataSources:
        if not isinstance(entry, MergeSource):
            sources[entry.name] = _create(entry, transport, base_url)
    for entry in config.dataSources:
        if isinstance(entry, MergeSource):
            from .merge import MergedDataSource

            sources[entry.name] = MergedDataSource(
                entry.name, entry.friendlyName or entry.name,
                [sources[name] for name in entry.dataSourceNames],
                default=entry.defaultDataSourceName,
            )
    return {entry.name: sources[entry.name] for entry in config.dataSources}


def _create(entry: SourceConfig, transport: Transport, base_url: str) -> DataSource:
    if isinstance(entry, DicomWebSource):
        entry = resolve_roots(entry, base_url)
        if entry.staticWado:
            from .static_wado import StaticWadoDataSource

            return StaticWadoDataSource(entry, transport)
        from .dicomweb import DICOMwebDataSource

        return DICOMwebDataSource(entry, transport)
    if isinstance(entry, DicomJsonSource):
        from .dicomjson import DicomJsonDataSource

        return DicomJsonDataSource(entry.name, entry.friendlyName or entry.name, transport,
                                   base_url=base_url)
    if isinstance(entry, LocalSource):
        from .local_files import LocalFilesDataSource

        return LocalFilesDataSource(entry.name, entry.friendlyName or entry.name)
    raise DataSourceError(f"data source {entry.name!r}: no implementation for {type(entry)}")


ROOT_KEYS = ("qidoRoot", "wadoRoot", "stowRoot", "wadoUriRoot")


def server_roots(config: AppConfig, base_url: str = "") -> list[str]:
    """Every DICOMweb root of the config, absolute: where a signed-in user's token may go."""
    return [value for entry in config.dataSources if isinstance(entry, DicomWebSource)
            for key in ROOT_KEYS if (value := getattr(resolve_roots(entry, base_url), key))]


def query_server(config: AppConfig, name: str, base_url: str = "") -> str:
    """Where the named source sends study searches: its QIDO root, the merged sources' roots,
    or "" for sources whose searches stay in the browser (local files, a DICOM JSON file).

    The page keeps a typed query with this, and gives it back only to the same server.
    """
    entry = config.source(name)
    if isinstance(entry, DicomWebSource):
        return resolve_roots(entry, base_url).qidoRoot
    if isinstance(entry, MergeSource):
        return " ".join(query_server(config, merged, base_url) for merged in entry.dataSourceNames)
    return ""


def resolve_roots(source: DicomWebSource, base_url: str) -> DicomWebSource:
    """The source with its roots made absolute against the page's base URL.

    Roots may be relative to the page (``demo/dicom-web``, ``/dicom-web``), so the same
    config works at any origin and subpath.
    """
    if not base_url:
        return source
    return replace(
        source,
        **{key: urljoin(base_url, value) for key in ROOT_KEYS if (value := getattr(source, key))},
    )
