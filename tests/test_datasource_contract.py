"""The DataSource contract: one suite that every kind of source passes.

Each kind is one entry of ``SOURCES``: a factory that makes a source holding the known
studies (:class:`support.contract.Holding`: a CT in two transfer syntaxes, an MR, a
30-frame XA cine). What a user relies on is checked the same way for all: the study list
and its filters and paging, series and instance counts, opening a study (whole or by
series), a clear error for a study that is not there, frames pixel-equal to pydicom's
decoding of the files, and metadata without pixel data.

Every kind runs in CPython and under Pyodide in Node. The kinds over HTTP read sites
(Orthanc, static trees, a dicomjson file; see support/contract.py) with httpx in CPython,
where this session serves them, and with ``fetch`` under Pyodide, where the outer CPython
test (tests/test_pyodide_node.py) serves them and passes their URLs in. The tests are plain
functions that hand each of the source's coroutines to ``run``, an event loop's
``run_until_complete``: under Pyodide it blocks on ``fetch`` through JavaScript Promise
integration, which scripts/pyodide_node.mjs runs Node with.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import numpy as np
import pytest
from conftest import orthanc_source
from pydicom.multival import MultiValue
from support.contract import ORTHANC, Holding, ServedSites, given_site_url
from support.static_trees import static_source

from ohifpy.datasources import Capabilities, DataSource
from ohifpy.dicomweb import StudyQuery
from ohifpy.dicomweb.transport import Transport
from ohifpy.errors import OhifpyError
from ohifpy.image_loader import load_image_frame
from ohifpy.model import ImageRef

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]

CONTRACT = StudyQuery(patient_name="Contract")
"""Finds exactly the known studies, also in the session's Orthanc that holds other data."""

SourceFactory = Callable[[pytest.FixtureRequest, Holding],
                         AbstractAsyncContextManager[DataSource]]
SOURCES: dict[str, tuple[SourceFactory, tuple[pytest.MarkDecorator, ...]]] = {}


def source_kind(name: str, *marks: pytest.MarkDecorator) -> Callable[[SourceFactory],
                                                                   SourceFactory]:
    """Register a factory of sources holding the known studies; adding a kind is this."""
    def register(factory: SourceFactory) -> SourceFactory:
        SOURCES[name] = (factory, marks)
        return factory
    return register


def _site(request: pytest.FixtureRequest, name: str) -> str:
    """The URL of site ``name``: served by this session in CPython (only once a factory asks
    for it), by the outer CPython test under Pyodide (which opens no sockets)."""
    if sys.platform == "emscripten":
        return given_site_url(name)
    sites: ServedSites = request.getfixturevalue("contract_sites")
    return sites.url(name)


@asynccontextmanager
async def _transport() -> AsyncIterator[Transport]:
    """``fetch`` under Pyodide, as in the browser; httpx in CPython."""
    transport: Transport
    if sys.platform == "emscripten":
        from ohifpy.dicomweb.fetch_transport import FetchTransport

        transport = FetchTransport()
    else:
        from ohifpy.dicomweb.httpx_transport import HttpxTransport

        transport = HttpxTransport()
    try:
        yield transport
    finally:
        await transport.aclose()


@source_kind("dicomweb", pytest.mark.orthanc)
@asynccontextmanager
async def _dicomweb(request: pytest.FixtureRequest, holding: Holding) -> AsyncIterator[DataSource]:
    from ohifpy.datasources.dicomweb import DICOMwebDataSource

    async with _transport() as transport:
        yield DICOMwebDataSource(orthanc_source(_site(request, ORTHANC)), transport)


@source_kind("static-mkdicomweb")
@source_kind("static-ohifpy")
@asynccontextmanager
async def _static_tree(request: pytest.FixtureRequest,
                       holding: Holding) -> AsyncIterator[DataSource]:
    """Our static tree or mkdicomweb's: the site named as the kind."""
    async with _static(_site(request, request.param)) as source:
        yield source


@asynccontextmanager
async def _static(url: str, name: str = "static") -> AsyncIterator[DataSource]:
    from ohifpy.datasources.static_wado import StaticWadoDataSource

    async with _transport() as transport:
        yield StaticWadoDataSource(static_source(url, name), transport)


@source_kind("merge")
@asynccontextmanager
async def _merge(request: pytest.FixtureRequest, holding: Holding) -> AsyncIterator[DataSource]:
    """Two mkdicomweb trees: the CT and MR in one, the MR and XA in the other."""
    from ohifpy.datasources.merge import MergedDataSource

    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(_static(_site(request, "merge-a"), "a"))
        b = await stack.enter_async_context(_static(_site(request, "merge-b"), "b"))
        yield MergedDataSource("merged", "Merged", [a, b], default="a")


@source_kind("local-files")
@asynccontextmanager
async def _local_files(request: pytest.FixtureRequest,
                       holding: Holding) -> AsyncIterator[DataSource]:
    from ohifpy.datasources.local_files import LocalFilesDataSource

    source, report = await LocalFilesDataSource.from_paths(holding.files)
    assert report.added == len(holding.files) and not report.failed, report
    yield source
    await source.aclose()


@source_kind("dicomjson")
@asynccontextmanager
async def _dicomjson(request: pytest.FixtureRequest, holding: Holding) -> AsyncIterator[DataSource]:
    """OHIF's JSON file listing the files, all served by one static server."""
    from ohifpy.datasources.dicomjson import DicomJsonDataSource

    async with _transport() as transport:
        source = DicomJsonDataSource("dicomjson", "DICOM JSON", transport)
        await source.load(f"{_site(request, 'dicomjson')}studies.json")
        yield source
        await source.aclose()


@pytest.fixture(scope="module")
def run() -> Iterator[Run[Any]]:
    """How the tests run a source's coroutines (one loop for the module: HTTP clients stay
    bound to the loop they were opened on)."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture(scope="module",
                params=[pytest.param(name, marks=marks) for name, (_, marks) in SOURCES.items()])
def source(request: pytest.FixtureRequest, holding: Holding,
           run: Run[Any]) -> Iterator[DataSource]:
    factory, _ = SOURCES[request.param]
    made = factory(request, holding)
    yield run(made.__aenter__())
    run(made.__aexit__(None, None, None))


def _values(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]


def test_is_a_data_source(source: DataSource) -> None:
    assert isinstance(source, DataSource)
    assert isinstance(source.capabilities, Capabilities)
    assert source.name and source.friendly_name


def test_study_list_shows_the_known_studies(source: DataSource, holding: Holding,
                                            run: Run[Any]) -> None:
    rows = {str(row.StudyInstanceUID): row for row in run(source.search_for_studies(CONTRACT))}
    assert sorted(rows) == sorted(study.study_uid for study in holding.studies)
    for study in holding.studies:
        row = rows[study.study_uid]
        assert str(row.PatientName) == study.patient_name
        assert _values(row.ModalitiesInStudy) == [study.modality]
        assert int(row.NumberOfStudyRelatedInstances) == len(study.datasets)


def test_filters_by_patient_name_and_modality(source: DataSource, holding: Holding,
                                                    run: Run[Any]) -> None:
    mr = next(study for study in holding.studies if study.modality == "MR")
    by_name = run(source.search_for_studies(StudyQuery(patient_name="Contract^MR")))
    assert [str(row.StudyInstanceUID) for row in by_name] == [mr.study_uid]
    by_modality = run(source.search_for_studies(
        StudyQuery(patient_name="Contract", modalities_in_study=("MR",))))
    assert [str(row.StudyInstanceUID) for row in by_modality] == [mr.study_uid]
    assert not run(source.search_for_studies(StudyQuery(patient_name="Nobody^Here")))


def test_limit_and_offset_page_through_the_list(source: DataSource, holding: Holding,
                                                      run: Run[Any]) -> None:
    first = run(source.search_for_studies(CONTRACT, limit=2))
    rest = run(source.search_for_studies(CONTRACT, limit=2, offset=2))
    assert (len(first), len(rest)) == (2, 1)
    pages = [str(row.StudyInstanceUID) for row in first + rest]
    assert sorted(pages) == sorted(study.study_uid for study in holding.studies)


def test_series_and_instance_counts(source: DataSource, holding: Holding,
                                    run: Run[Any]) -> None:
    for study in holding.studies:
        (series,) = run(source.search_for_series(study.study_uid))
        assert str(series.SeriesInstanceUID) == study.series_uids[0]
        assert str(series.Modality) == study.modality
        assert len(run(source.search_for_instances(study.study_uid))) == len(study.datasets)
        in_series = run(source.search_for_instances(study.study_uid, study.series_uids[0]))
        assert ({str(ds.SOPInstanceUID) for ds in in_series}
                == {str(ds.SOPInstanceUID) for ds in study.datasets})


def test_opening_a_study_whole_or_by_series(source: DataSource, holding: Holding,
                                            run: Run[Any]) -> None:
    for study in holding.studies:
        instances = run(source.retrieve_study_instances(study.study_uid))
        assert ({i.sop_instance_uid for i in instances}
                == {str(ds.SOPInstanceUID) for ds in study.datasets})
        by_series = run(source.retrieve_study_instances(study.study_uid, study.series_uids))
        assert len(by_series) == len(study.datasets)
        assert {i.series_instance_uid for i in by_series} == set(study.series_uids)


def test_an_unknown_study_is_a_clear_error(source: DataSource, run: Run[Any]) -> None:
    with pytest.raises(OhifpyError):
        run(source.retrieve_study_instances("1.2.826.0.1.3680043.8.498.404"))


def test_frames_decode_to_the_files_pixels(source: DataSource, holding: Holding,
                                           run: Run[Any]) -> None:
    for study in holding.studies:
        instances = {i.sop_instance_uid: i
                     for i in run(source.retrieve_study_instances(study.study_uid))}
        for ds in study.datasets:
            instance = instances[str(ds.SOPInstanceUID)]
            expected = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
            assert instance.number_of_frames == len(expected)
            for number, pixels in enumerate(expected, start=1):
                frame = run(load_image_frame(source, ImageRef(instance, number)))
                assert np.array_equal(frame.stored, pixels), (study.key, number)


def test_metadata_carries_no_pixel_data(source: DataSource, holding: Holding,
                                        run: Run[Any]) -> None:
    for study in holding.studies:
        metadata = run(source.retrieve_study_metadata(study.study_uid))
        assert len(metadata) == len(study.datasets)
        for ds in metadata:
            assert "PixelData" not in ds or ds["PixelData"].value in (None, b"")
            assert str(ds.StudyInstanceUID) == study.study_uid
