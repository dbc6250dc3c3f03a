"""scripts/build_static.py: one real build (npm packages, Pyodide under Node) checked file by file.

The build is slow (Pyodide compiles the stdlib on a cold cache), so it runs once per
session (conftest's ``dist``, with ``--base-path /ohifpy/``) and every test reads that
dist. Node and npm are required: without them the build cannot run, and that is a
failure, not a skip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from xml.etree import ElementTree

import pytest
from conftest import DIST_BASE_PATH as BASE
from conftest import ROOT, build_static_site

sys.path.insert(0, str(ROOT / "scripts"))

import build_static

pytestmark = pytest.mark.cpython_only  # npm, Node and subprocesses


@pytest.fixture(scope="session")
def lock(dist: Path) -> dict[str, Any]:
    return json.loads((dist / "pyodide" / "pyodide-lock.json").read_text())


@pytest.fixture(scope="session")
def npm_lock(dist: Path) -> dict[str, Any]:
    # Read after the build, which runs npm ci when node_modules is missing.
    return json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sw_build(dist: Path) -> dict[str, Any]:
    text = (dist / "service_worker.js").read_text()
    match = re.search(r"^const BUILD = (.*);$", text, re.MULTILINE)
    assert match, "service_worker.js has no BUILD line"
    return json.loads(match.group(1))


# ---------------------------------------------------------------- Pyodide and the lock


def test_every_lock_entry_matches_its_file(dist: Path, lock: dict[str, Any]) -> None:
    assert set(lock["packages"]) == {"numpy", "numpy-extras", "pillow", "pydicom",
                                     "pydicom-sr", "ohifpy", "ohifpy-cpython"}
    for key, entry in lock["packages"].items():
        path = dist / "pyodide" / entry["file_name"]
        assert path.is_file(), f"{key}: {path} missing"
        assert _sha256(path) == entry["sha256"], key
    assert lock["info"]["version"] == "0.27.7"


def test_official_wheels_are_the_npm_locks_files(
    lock: dict[str, Any], npm_lock: dict[str, Any]
) -> None:
    assert lock["packages"]["pillow"] == npm_lock["packages"]["pillow"]
    # numpy is verified, then precompiled: npm's entry but for the rewritten file's sha256.
    numpy = {**lock["packages"]["numpy"], "sha256": npm_lock["packages"]["numpy"]["sha256"]}
    assert numpy == npm_lock["packages"]["numpy"]
    assert lock["packages"]["numpy"]["version"] == "2.0.2"
    assert lock["packages"]["pillow"]["version"] == "10.2.0"


def test_our_packages_are_loadable_from_the_lock(lock: dict[str, Any]) -> None:
    ohifpy = lock["packages"]["ohifpy"]
    assert ohifpy["depends"] == ["numpy", "pydicom"]
    assert ohifpy["imports"] == ["ohifpy"] and ohifpy["install_dir"] == "site"
    assert lock["packages"]["pydicom"]["version"] == "3.0.2"
    assert lock["packages"]["pydicom"]["depends"] == []


def test_pydicom_sr_is_a_package_of_its_own(dist: Path, lock: dict[str, Any]) -> None:
    """Its code dictionaries are not unpacked at every start; pydicom's wheel lacks them."""
    extra = lock["packages"]["pydicom-sr"]
    assert extra["depends"] == ["pydicom"] and extra["version"] == "3.0.2"
    with zipfile.ZipFile(dist / "pyodide" / extra["file_name"]) as whl:
        moved = [n for n in whl.namelist() if ".dist-info/" not in n]
    assert "pydicom/sr/_concepts_dict.pyc" in moved
    assert all(n.startswith("pydicom/sr/") for n in moved)
    with zipfile.ZipFile(dist / "pyodide" / lock["packages"]["pydicom"]["file_name"]) as whl:
        assert not [n for n in whl.namelist() if n.startswith("pydicom/sr/")]


def test_the_browser_wheel_leaves_out_what_runs_only_in_cpython(
        dist: Path, lock: dict[str, Any]) -> None:
    """The command line, its server, httpx and the test-data writers are not unpacked in the
    browser; the core's tests under Pyodide load them from a package of their own."""
    with zipfile.ZipFile(dist / "pyodide" / lock["packages"]["ohifpy"]["file_name"]) as whl:
        shipped = set(whl.namelist())
    for module in ("cli", "serve", "synthetic", "synthetic_objects", "synthetic_documents",
                   "synthetic_hanging", "static_wado", "dicomweb/httpx_transport"):
        assert f"ohifpy/{module}.pyc" not in shipped
    assert {"ohifpy/worker_api.pyc", "ohifpy/datasources/protocol.pyc"} <= shipped
    extra = lock["packages"]["ohifpy-cpython"]
    assert extra["depends"] == ["ohifpy"]
    with zipfile.ZipFile(dist / "pyodide" / extra["file_name"]) as whl:
        moved = {n for n in whl.namelist() if ".dist-info/" not in n}
    assert moved == {"ohifpy/cli.pyc", "ohifpy/serve.pyc", "ohifpy/synthetic.pyc",
                     "ohifpy/synthetic_objects.pyc", "ohifpy/synthetic_documents.pyc",
                     "ohifpy/synthetic_hanging.pyc", "ohifpy/static_wado.pyc",
                     "ohifpy/dicomweb/httpx_transport.pyc"}


def test_numpy_modules_the_viewer_never_imports_are_a_package_of_their_own(
        dist: Path, lock: dict[str, Any]) -> None:
    """Their WebAssembly is not compiled at every start; numpy's own wheel lacks them."""
    extra = lock["packages"]["numpy-extras"]
    assert extra["depends"] == ["numpy"] and extra["version"] == "2.0.2"
    with zipfile.ZipFile(dist / "pyodide" / extra["file_name"]) as whl:
        moved = [n for n in whl.namelist() if ".dist-info/" not in n]
    assert any(n.startswith("numpy/random/") and n.endswith(".so") for n in moved)
    assert any(n.startswith("numpy/fft/") for n in moved)
    moved_modules = {n.split(".")[0] for n in moved if n.endswith(".so")
                     and not n.startswith(("numpy/random/", "numpy/fft/"))}
    assert moved_modules == {"numpy/linalg/lapack_lite", "numpy/_core/_simd",
                             "numpy/_core/_rational_tests", "numpy/_core/_umath_tests",
                             "numpy/_core/_operand_flag_tests", "numpy/_core/_struct_ufunc_tests"}
    with zipfile.ZipFile(dist / "pyodide" / lock["packages"]["numpy"]["file_name"]) as whl:
        kept = whl.namelist()
    assert not [n for n in kept if n.startswith(("numpy/random/", "numpy/fft/"))]
    on_request = ("numpy/ma/", "numpy/f2py/", "numpy/core/", "numpy/testing/", "numpy/polynomial/")
    assert not [n for n in kept if n.startswith(on_request)]  # imported only on request
    assert {p for p in on_request if f"{p}__init__.pyc" in moved} == set(on_request)
    assert not [n for n in kept if n.split(".")[0] in moved_modules]
    assert "numpy/linalg/__init__.pyc" in kept
    assert [n for n in kept if n.startswith("numpy/_core/_multiarray_tests.")]  # numpy imports it


def test_pyodide_core_copied_from_npm(dist: Path) -> None:
    for name in ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm"):
        assert _sha256(dist / "pyodide" / name) == _sha256(ROOT / "node_modules" / "pyodide" / name)


@pytest.mark.parametrize("key", ["pydicom", "ohifpy", "numpy"])
def test_wheels_hold_bytecode_only(dist: Path, lock: dict[str, Any], key: str) -> None:
    entry = lock["packages"][key]
    if key != "numpy":
        assert entry["file_name"].endswith("-cp312-none-any.whl")
    with zipfile.ZipFile(dist / "pyodide" / entry["file_name"]) as whl:
        names = whl.namelist()
        assert not [n for n in names if n.endswith((".py", ".pyi", ".h"))]
        assert f"{key}/__init__.pyc" in names
        # The .pyc are Python 3.12's (magic number 3.12 = 0x0dcb).
        assert whl.read(f"{key}/__init__.pyc")[:2] == (3531).to_bytes(2, "little")
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        record = {}
        for line in whl.read(record_name).decode().splitlines():
            path, digest, size = line.rsplit(",", 2)
            record[path] = (digest, size)
        for name in names:
            if name == record_name or name.endswith("/"):
                continue
            data = whl.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert record[name] == ("sha256=" + digest.decode(), str(len(data))), name
        wheel_file = whl.read(next(n for n in names if n.endswith(".dist-info/WHEEL")))
        assert (b"Tag: cp312-cp312-pyodide" if key == "numpy" else b"Tag: cp312-none-any") \
            in wheel_file
    if key == "pydicom":
        assert not [n for n in names if n.startswith("pydicom/data/test_files/")]
        assert any(n.startswith("pydicom/data/palettes/") for n in names)


def test_stdlib_zip_precompiled(dist: Path) -> None:
    with zipfile.ZipFile(dist / "pyodide" / "python_stdlib.zip") as z:
        names = z.namelist()
    assert "asyncio/__init__.pyc" in names and "json/decoder.pyc" in names
    assert "sitecustomize.pyc" in names  # scripts/pyodide_site/sitecustomize.py
    assert not [n for n in names if n.endswith(".py")]


def test_node_smoke_test_imports_the_core(dist: Path) -> None:
    proc = subprocess.run(
        [
            "node",
            str(ROOT / "scripts" / "pyodide_node.mjs"),
            "smoke",
            str(dist / "pyodide"),
            "ohifpy",
            "ohifpy,pydicom,numpy",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["modules"] == {"ohifpy": "0.1.0", "pydicom": "3.0.2", "numpy": "2.0.2"}
    assert result["sitecustomize"] is True  # the stdlib zip's, run by site at start-up
    assert result["columns"] is False  # compiled as with -X no_debug_ranges
    # dist/pyodide/dataclass-code.bin, installed as web/worker.js installs it, holds every
    # dataclass method importing the core compiles: none is compiled at start
    methods = result["dataclassMethods"]
    assert methods["installed"] > 100 and methods["compiled"] == []


# ---------------------------------------------------------------- shell, config, codecs


def test_every_page_has_the_base_path(dist: Path) -> None:
    pages = sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*.html"))
    assert {"index.html", "viewer/index.html", "viewer/dicomjson/index.html",
            "local/index.html", "callback/index.html", "silent-refresh.html"} <= set(pages)
    for page in pages:
        html = (dist / page).read_text()
        assert html.count("<base ") == 1 and f'<base href="{BASE}">' in html, page
    manifest = json.loads((dist / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == BASE and manifest["scope"] == BASE
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert (dist / icon["src"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_config_is_the_validated_demo_config(dist: Path) -> None:
    assert (dist / "config" / "app-config.json").read_bytes() == (
        ROOT / "config" / "demo.json"
    ).read_bytes()


def test_codecs_listed_and_copied(dist: Path) -> None:
    index = json.loads((dist / "codecs" / "codecs.json").read_text())
    assert set(index) == {"openjpeg", "charls", "libjpeg-turbo-8bit", "openjph", "jpeg-lossless"}
    for codec in index.values():
        script = dist / "codecs" / codec["script"]
        assert script.is_file()
        wasm = re.search(rb'"([\w-]+\.wasm)"', script.read_bytes())
        if codec["type"] == "classic":  # Emscripten loaders fetch their .wasm beside them
            assert wasm and (dist / "codecs" / wasm.group(1).decode()).is_file()


def test_icons_are_the_listed_ones_with_their_licence(dist: Path) -> None:
    """Only the icons the page shows, as their elements (the shapes lucide-static
    publishes), and its licence."""
    icons = dist / "vendor" / "icons"
    source = ROOT / "node_modules" / build_static.ICON_PACKAGE
    assert sorted(p.name for p in icons.iterdir()) == ["LICENSE", "icons.js"]
    module = (icons / "icons.js").read_text()
    shapes = json.loads(module[module.index("export default ") + 15:].rstrip().removesuffix(";"))
    assert sorted(shapes) == sorted(build_static.ICONS)
    for name, (tag, attributes, children) in shapes.items():
        published = ElementTree.parse(source / "icons" / f"{name}.svg").getroot()
        assert tag == "svg" and attributes["viewBox"] == "0 0 24 24", name
        assert attributes["stroke"] == "currentColor" and "width" not in attributes, name
        assert children == [[shape.tag.rpartition("}")[2], shape.attrib, []]
                            for shape in published], name
    assert (icons / "LICENSE").read_bytes() == (source / "LICENSE").read_bytes()
    assert "ISC License" in (icons / "LICENSE").read_text()


# ---------------------------------------------------------------- service worker


def test_precache_list_is_the_app_shell(dist: Path) -> None:
    build = _sw_build(dist)
    files = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    shell = {f for f in files if not f.startswith("demo/") and f != "service_worker.js"}
    assert set(build["files"]) == shell
    assert any(f.startswith("demo/") for f in files)
    for name, integrity in build["files"].items():
        if name in build["networkFirst"]:
            assert integrity == ""
            continue
        digest = base64.b64encode(hashlib.sha256((dist / name).read_bytes()).digest()).decode()
        assert integrity == "sha256-" + digest, name
    assert build["networkFirst"] == ["config/app-config.json"]
    assert re.fullmatch(r"[0-9a-f]{16}", build["version"])


def test_precache_version_follows_content(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("one")
    first = build_static.precache_manifest(tmp_path)
    assert build_static.precache_manifest(tmp_path) == first
    (tmp_path / "a.js").write_text("two")
    assert build_static.precache_manifest(tmp_path)["version"] != first["version"]


# ---------------------------------------------------------------- demo data


def test_demo_is_a_static_dicomweb_tree(dist: Path) -> None:
    root = dist / "demo" / "dicom-web"
    studies = json.loads((root / "studies" / "index.json").read_text())
    assert len(studies) >= 1
    study = studies[0]["0020000D"]["Value"][0]
    series = json.loads((root / "studies" / study / "series" / "index.json").read_text())
    series_uid = series[0]["0020000E"]["Value"][0]
    metadata_url = f"studies/{study}/series/{series_uid}/metadata"
    metadata = json.loads((root / metadata_url).read_text())
    frames = urljoin(metadata_url, metadata[0]["7FE00010"]["BulkDataURI"])
    assert (root / frames / "1").is_file()


# ---------------------------------------------------------------- failures


def test_bad_config_stops_the_build(node_tools: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataSources": [{"configuration": {"name": "x", "qidoRoot": "q"}}]}))
    out = tmp_path / "dist"
    proc = build_static_site("--out", str(out), "--config", str(bad), "--no-demo")
    assert proc.returncode == 1
    assert "invalid app config" in proc.stderr and "wadoRoot" in proc.stderr
    assert not out.exists()


def test_tampered_wheel_stops_the_build(
    dist: Path, lock: dict[str, Any], npm_lock: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "pyodide-dist"
    source.mkdir()
    for key in ("numpy", "pillow"):  # the official files, as the build fetched and verified them
        name = lock["packages"][key]["file_name"]
        shutil.copyfile(build_static.CACHE / f"pyodide-{build_static.PYODIDE_VERSION}" / name,
                        source / name)
    pillow = source / lock["packages"]["pillow"]["file_name"]
    pillow.write_bytes(pillow.read_bytes() + b"tampered")
    out = tmp_path / "dist"
    proc = build_static_site("--out", str(out), "--pyodide-dist", str(source), "--no-demo")
    assert proc.returncode == 1
    assert pillow.name in proc.stderr
    assert npm_lock["packages"]["pillow"]["sha256"] in proc.stderr
    assert _sha256(pillow) in proc.stderr
    assert not out.exists()


def test_rebuild_never_replaces_a_foreign_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "site"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    built = tmp_path / "built"
    built.mkdir()
    with pytest.raises(build_static.BuildError, match="not an ohifpy build"):
        build_static.replace_dir(built, foreign)
    assert (foreign / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/", "/"), ("", "/"), ("sub", "/sub/"), ("/a/b", "/a/b/"), ("/a/b/", "/a/b/")],
)
def test_base_path_normalized(given: str, expected: str) -> None:
    assert build_static.normalize_base_path(given) == expected


@pytest.mark.parametrize("bad", ["/a b/", '/"x"/', "/a//b/"])
def test_base_path_rejected(bad: str) -> None:
    with pytest.raises(build_static.BuildError):
        build_static.normalize_base_path(bad)


def test_set_base_replaces_an_existing_base() -> None:
    html = '<html><HEAD lang="x"><base href="/old/"><title>t</title></head></html>'
    out = build_static.set_base(html, "/new/", "page")
    assert out.count("<base") == 1 and '<base href="/new/">' in out
    with pytest.raises(build_static.BuildError, match="no <head>"):
        build_static.set_base("<p>hi</p>", "/", "page")
