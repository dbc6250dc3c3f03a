"""The browser runtime's sitecustomize (scripts/pyodide_site/): CPython 3.13's lazy
zipimport cache invalidation on 3.12.

Pyodide invalidates the import caches after every loadPackage; 3.12 re-reads the stdlib
zip's directory there once per zipimporter. Run in a fresh interpreter (this one is 3.11,
so the backport applies), as the module patches zipimport for the whole process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SITECUSTOMIZE = Path(__file__).resolve().parents[1] / "scripts" / "pyodide_site" / "sitecustomize.py"

CHECK = r"""
import importlib, importlib.util, sys, zipfile, zipimport
spec = importlib.util.spec_from_file_location("sitecustomize", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))

archive = sys.argv[2]
def write(members):
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
write({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/a.py": "A = 1"})
sys.path.insert(0, archive)
import pkg.sub.a
importers = [f for p, f in sys.path_importer_cache.items() if p.startswith(archive)]
assert len(importers) == 3, importers  # the archive, pkg/, pkg/sub/

reads = []
read_directory = zipimport._read_directory
zipimport._read_directory = lambda path: reads.append(path) or read_directory(path)
write({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/a.py": "A = 1",
       "pkg/sub/b.py": "B = 2"})
importlib.invalidate_caches()
assert reads == [], reads  # 3.12 reads here, once per importer
import pkg.sub.b
assert pkg.sub.b.B == 2 and pkg.sub.a.A == 1
assert reads == [archive], reads  # once, at the next lookup
print("ok")
"""


@pytest.mark.cpython_only
def test_invalidating_reads_a_zip_directory_once_at_the_next_import(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, str(SITECUSTOMIZE), str(tmp_path / "modules.zip")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.cpython_only
def test_a_missing_archive_is_an_empty_directory(tmp_path: Path) -> None:
    """3.13: after invalidation a deleted archive imports nothing, and raises nothing."""
    check = r"""
import importlib, importlib.util, os, sys, zipfile
spec = importlib.util.spec_from_file_location("sitecustomize", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
archive = sys.argv[2]
with zipfile.ZipFile(archive, "w") as z:
    z.writestr("gone.py", "")
sys.path.insert(0, archive)
import gone
del sys.modules["gone"]
os.remove(archive)
importlib.invalidate_caches()
try:
    import gone
except ModuleNotFoundError:
    print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", check, str(SITECUSTOMIZE), str(tmp_path / "modules.zip")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
