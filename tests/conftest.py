"""Session fixtures: the generated test data, a real Orthanc loaded with it, a data source,
a static build, the data-source contract's studies and sites.

``testdata`` runs scripts/make_test_data.py's generator (cached by content under
.cache/testdata/); ``orthanc`` starts one Orthanc for the whole session and loads every
file of the manifest through Orthanc's REST API. A missing Orthanc is a failure, not a
skip: a skipped server test would pass silently. ``dist`` is one real
scripts/build_static.py build shared by every test that reads a dist. ``holding`` and
``contract_sites`` (see support/contract.py) are shared by the contract suite and the
Pyodide run, which serves the same sites to the suite under Node.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from orthanc import OrthancError, OrthancServer, start_orthanc
from support.contract import Holding, ServedSites, hold, served_sites

from ohifpy.config import DicomWebSource

ROOT = Path(__file__).resolve().parents[1]
DIST_BASE_PATH = "/ohifpy/"
"""The session dist is built for a subpath, the harder case for every URL in it."""


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


def _marked_cpython_only(module: Path) -> bool:
    """Whether a test module's top-level ``pytestmark`` includes ``cpython_only``."""
    for node in ast.parse(module.read_bytes(), str(module)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return any(
                isinstance(mark, ast.Attribute) and mark.attr == "cpython_only"
                for mark in ast.walk(node.value)
            )
    return False


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Under Pyodide, a module marked ``cpython_only`` as a whole is not even imported.

    Such modules may start servers or subprocesses, or import what Pyodide lacks, at
    import time: a collection error there would hide that the rest passes.
    """
    if (sys.platform == "emscripten" and collection_path.name.startswith("test_")
            and collection_path.suffix == ".py" and _marked_cpython_only(collection_path)):
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the server carries the ``orthanc`` marker, even if unmarked."""
    for item in items:
        if "orthanc" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.orthanc)


def build_static_site(*args: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/build_static.py with `args`; the caller checks the exit code."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_static.py"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="session")
def node_tools() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the static build needs Node.js 18+ with npm "
            "(Debian: apt-get install nodejs npm)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real build (npm packages, Pyodide under Node) for the session, slow when cold."""
    out = tmp_path_factory.mktemp("build") / "dist"
    proc = build_static_site("--out", str(out), "--base-path", DIST_BASE_PATH)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out


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


def orthanc_source(dicomweb_root: str) -> DicomWebSource:
    """The data-source config for the test Orthanc at ``dicomweb_root`` (see its quirks in
    DESIGN.md); a function too because the Pyodide run gets that root from outside."""
    return DicomWebSource.from_url(dicomweb_root, name="orthanc", queryEncoding="minimal",
                                   qidoSupportsIncludeField=False, supportsFuzzyMatching=False)


@pytest.fixture(scope="session")
def dicomweb_source(orthanc: LoadedOrthanc) -> DicomWebSource:
    return orthanc_source(orthanc.dicomweb_root)


@pytest.fixture(scope="session")
def holding(tmp_path_factory: pytest.TempPathFactory) -> Holding:
    """The data-source contract's known studies and their files, written once."""
    return hold(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="session")
def contract_sites(request: pytest.FixtureRequest, holding: Holding,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSites]:
    """Where the contract's HTTP kinds of source read the known studies, each site made on
    first use: Orthanc is started only if its site is asked for."""
    with served_sites(holding, tmp_path_factory.mktemp("sites"),
                      lambda: request.getfixturevalue("orthanc")) as sites:
        yield sites


@dataclass(frozen=True)
class StoredCopy:
    """A test study's first instances stored again under new UIDs (see :func:`store_copy`)."""

    study_uid: str
    series_uid: str
    files: tuple[Path, ...]
    sop_uids: tuple[str, ...]


def store_copy(orthanc: LoadedOrthanc, key: str, label: str, folder: Path, count: int = 3,
               edit: Callable[[int, Any], None] | None = None) -> StoredCopy:
    """The first ``count`` instances of test study ``key`` under new UIDs made from ``label``
    and patient ID ``OHIFPY-<LABEL>``, stored in Orthanc: what a test stores or breaks there
    touches no other test's study, nor what a search by the original's patient finds.

    ``edit(index, dataset)`` changes each copy (after its new UIDs) before it is saved.
    """
    import pydicom
    from pydicom.uid import generate_uid

    source = orthanc.manifest.study(key)
    study_uid = generate_uid(entropy_srcs=[label])
    series_uid = generate_uid(entropy_srcs=[label, "series"])
    files, sops = [], []
    for index, entry in enumerate(source.instances[:count]):
        ds = pydicom.dcmread(orthanc.manifest.root / entry.path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.PatientID = "OHIFPY-" + label.upper().replace(" ", "-")
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[label, str(index)])
        if edit is not None:
            edit(index, ds)
        files.append(folder / f"{index}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
        sops.append(str(ds.SOPInstanceUID))
    orthanc.server.upload(files)
    return StoredCopy(study_uid, series_uid, tuple(files), tuple(sops))


@dataclass(frozen=True)
class BadStudy:
    """A study stored in Orthanc with a corrupt frame, a good one, and one in MPEG-2."""

    study_uid: str
    series_uid: str
    corrupt_sop_uid: str
    good_sop_uid: str
    unsupported_sop_uid: str
    transfer_syntax_uid: str


@pytest.fixture(scope="session")
def corrupt_study(orthanc: LoadedOrthanc, tmp_path_factory: pytest.TempPathFactory) -> BadStudy:
    """JPEG-LS CT slices under new UIDs: the first one's codestream cut and garbled, the
    second intact, a third relabelled MPEG-2 video (no image codec decodes it).

    Orthanc stores it (it does not decode on store), so the damage is only seen by a
    client that decodes the frame: exactly the case the viewer must survive.
    """
    from pydicom.encaps import encapsulate, generate_frames

    def damage(index: int, ds: Any) -> None:
        ds.StudyDescription = "Corrupt JPEG-LS frame"
        if index == 0:
            (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
            ds.PixelData = encapsulate([frame[:64] + bytes(range(256)) * 4])
        if index == 2:
            ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 MP@ML

    copy = store_copy(orthanc, "ct-jpeg-ls", "corrupt", tmp_path_factory.mktemp("corrupt"),
                      edit=damage)
    return BadStudy(copy.study_uid, copy.series_uid, *copy.sop_uids,
                    orthanc.manifest.study("ct-jpeg-ls").transfer_syntax_uids[0])
