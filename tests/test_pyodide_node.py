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
MIN_PASSED = 460
"""Of 488 when this was written (the data-source contract over every kind of source and
local files among them): a much smaller count means tests went missing."""


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
            "tests",
            "-m", "not cpython_only",  # Orthanc included: served from here
            "--ignore=tests/browser",  # the Chromium suite
            "-q",
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
    assert counts["passed"] >= MIN_PASSED, output
