"""The core's own tests under Pyodide in Node, from a built dist: CPython-only assumptions fail here.

``scripts/pyodide_node.mjs pytest`` loads the dist's Pyodide and its ``ohifpy`` package
(numpy and pydicom from the dist's lock, as the browser worker does), installs pytest and
hypothesis from PyPI wheels of the versions this run uses, and runs this directory
without what is marked ``cpython_only``. A module marked ``cpython_only`` as a whole is not
even imported there (see conftest.py).

Pyodide opens no sockets, so this test serves what the data-source contract's sources
over HTTP read (the session's Orthanc with the known studies stored, the static sites:
support/contract.py) before Node starts, and passes their URLs in the environment; the
sources read them with ``fetch``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pydicom.data
import pytest
from conftest import ROOT
from support.contract import SITES_ENV, ServedSites

sys.path.insert(0, str(ROOT / "scripts"))

from build_static import NODE_SCRIPT, pip_download

pytestmark = pytest.mark.cpython_only  # Node in a subprocess

TEST_WHEELS = (
    "pytest", "pluggy", "iniconfig", "packaging", "pygments", "hypothesis", "sortedcontainers"
)
"""pytest and hypothesis with their dependencies on Python 3.12: all pure Python."""
SELECTION = ["tests", "-m", "not cpython_only", "--ignore=tests/browser"]
"""The core's tests that run in both: all but the CPython-only ones and the Chromium suite."""
PYODIDE_ONLY = {"tests/test_transports.py::test_a_hung_early_answer_counts_against_the_timeout"}
"""Tests of the browser's own transport, which CPython does not collect."""
NUMPY_EXTRAS = ("random", "fft", "ma", "testing", "polynomial", "f2py", "ctypeslib", "matlib",
                "char", "rec", "strings")
"""numpy's modules in the dist's on-request package (build_static.NUMPY_ON_DEMAND)."""


def expected_tests() -> set[str]:
    """The test ids CPython collects for the same selection: the Pyodide run must pass each."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *SELECTION], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    ids = {line for line in proc.stdout.splitlines() if "::" in line}
    assert proc.returncode == 0 and ids, proc.stdout[-3000:] + proc.stderr[-2000:]
    return ids


@pytest.mark.orthanc  # asked for through contract_sites
def test_core_tests_pass_under_pyodide(dist: Path, contract_sites: ServedSites) -> None:
    wheels = [pip_download(f"{name}=={version(name)}") for name in TEST_WHEELS]
    sites = contract_sites.urls()
    started = time.perf_counter()
    proc = subprocess.run(
        [
            "node",
            "--experimental-wasm-stack-switching",  # JSPI: a test may block on fetch
            str(NODE_SCRIPT),
            "pytest",
            str(dist / "pyodide"),
            ",".join(map(str, wheels)),
            str(Path(pydicom.data.__file__).parent),
            *SELECTION,  # Orthanc's tests included: served from here
            "-q", "-rA",  # one PASSED line per test
        ],
        cwd=ROOT,
        env={**os.environ, SITES_ENV: json.dumps(sites)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = f"{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    summaries = re.findall(r"^=* ?((?:\d+ \w+, )*\d+ \w+) in [\d.]+s", proc.stdout, re.MULTILINE)
    assert summaries, f"no pytest summary (exit {proc.returncode}):\n{output}"
    print(f"Pyodide: {summaries[-1]} ({seconds:.1f} s in Node)")
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summaries[-1])}
    assert proc.returncode == 0 and not counts.get("failed"), output
    assert "ohifpy modules import without numpy-extras" in proc.stdout, output
    passed = set(re.findall(r"^PASSED (.+?)\s*$", proc.stdout, re.MULTILINE))
    missing = (expected_tests() | PYODIDE_ONLY) - passed
    assert not missing, f"{len(missing)} tests did not pass under Pyodide: {sorted(missing)[:20]}"


def test_the_viewer_code_names_no_numpy_extras_module() -> None:
    """A lazy ``np.random`` inside a function would need numpy-extras only when it runs: none
    in the code the viewer ships (the CPython side, the build's OHIFPY_CPYTHON_ONLY, may)."""
    from build_static import OHIFPY_CPYTHON_ONLY

    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        if path.relative_to(ROOT / "src").as_posix() in OHIFPY_CPYTHON_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            named = (node.attr if isinstance(node, ast.Attribute)
                     and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")
                     else node.module.split(".")[1] if isinstance(node, ast.ImportFrom)
                     and (node.module or "").startswith("numpy.") else None)
            if named in NUMPY_EXTRAS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} numpy.{named}")
    assert not found, found
