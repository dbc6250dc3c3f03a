"""Session fixtures: the generated test data, a real Orthanc loaded with it, a data source.

``testdata`` runs scripts/make_test_data.py's generator (cached by content under
.cache/testdata/); ``orthanc`` starts one Orthanc for the whole session and loads every
file of the manifest through Orthanc's REST API. A missing Orthanc is a failure, not a
skip: a skipped server test would pass silently.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from orthanc import OrthancError, OrthancServer, start_orthanc

from ohifpy.config import DicomWebSource

ROOT = Path(__file__).resolve().parents[1]


def _import_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (scripts/ is not a package); registered for dataclasses."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_test_data = _import_script("make_test_data")


@dataclass(frozen=True)
class LoadedOrthanc:
    """What the ``orthanc`` fixture yields: the server and the manifest it was loaded with."""

    server: OrthancServer
    manifest: make_test_data.Manifest
    load_seconds: float

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def dicomweb_root(self) -> str:
        return self.server.dicomweb_root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the server carries the ``orthanc`` marker, even if unmarked."""
    for item in items:
        if "orthanc" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.orthanc)


@pytest.fixture(scope="session")
def testdata() -> make_test_data.Manifest:
    return make_test_data.ensure()


@pytest.fixture(scope="session")
def orthanc(testdata: make_test_data.Manifest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedOrthanc]:
    started = time.perf_counter()
    try:
        server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    except OrthancError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        files = testdata.files()
        server.upload(files)
        stats = server.get_json("/statistics")
        expected = len({i.sop_uid for s in testdata.studies for i in s.instances})
        if stats["CountInstances"] != expected:
            raise OrthancError(f"Orthanc holds {stats['CountInstances']} instances after "
                               f"loading {len(files)} files, expected {expected}")
        seconds = time.perf_counter() - started
        print(f"orthanc: {server.base_url} started and loaded {len(files)} files "
              f"({stats['TotalDiskSizeMB']} MB) in {seconds:.1f}s")
        yield LoadedOrthanc(server, testdata, seconds)
    except OrthancError as exc:
        pytest.fail(f"{exc}\nOrthanc log tail:\n{server.log()[-3000:]}", pytrace=False)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _orthanc_survives(request: pytest.FixtureRequest) -> Iterator[None]:
    """Name the test during which the shared Orthanc died, instead of failing all later ones."""
    yield
    if "orthanc" in request.fixturenames:
        server: OrthancServer = request.getfixturevalue("orthanc").server
        if server.process.poll() is not None:
            pytest.fail(f"Orthanc died (exit {server.process.returncode}) during this test; "
                        f"log tail:\n{server.log()[-2000:]}", pytrace=False)


@pytest.fixture(scope="session")
def dicomweb_source(orthanc: LoadedOrthanc) -> DicomWebSource:
    return DicomWebSource.from_url(orthanc.dicomweb_root, name="orthanc",
                                   queryEncoding="minimal", qidoSupportsIncludeField=False,
                                   supportsFuzzyMatching=False)
