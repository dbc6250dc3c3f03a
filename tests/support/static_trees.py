"""Test studies and static DICOMweb trees of them, served by a real static server on 127.0.0.1.

:func:`contract_studies` is the known set every data source is checked against (a CT in
two transfer syntaxes, an MR, a multi-frame XA), made in-process by ``ohifpy.synthetic`` so
the same set exists under Pyodide. :func:`mkdicomweb_tree` runs OHIF's own static-wado
creator over files (cached by content under ``.cache/mkdicomweb/``, like the test data);
:func:`serve_directory` serves a folder with Python's plain ``http.server``, which knows
nothing of DICOMweb: no Content-Encoding for ``.gz`` files, no index for a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydicom.dataset import FileDataset
from pydicom.uid import RLELossless

from ohifpy import synthetic
from ohifpy.config import DicomWebSource

if TYPE_CHECKING:
    from http.server import SimpleHTTPRequestHandler

ROOT = Path(__file__).resolve().parents[2]
CREATOR = ROOT / "node_modules" / "@radicalimaging" / "static-wado-creator"
MKDICOMWEB = ROOT / "tests" / "support" / "mkdicomweb" / "mkdicomweb.mjs"
MKDICOMWEB_ARGS = ("--no-thumb", "--recompress", "none")
"""Frames as stored, no thumbnails: the bundled creator's decoders look for their codec
files at the Windows paths it was bundled from and fail (noisily) without them, and its
``--no-recompress`` crashes (``options.recompress.includes is not a function``)."""


@dataclass(frozen=True)
class KnownStudy:
    """A study of the known set and what any source must say about it."""

    key: str
    patient_name: str
    modality: str
    datasets: tuple[FileDataset, ...]

    @property
    def study_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)

    @property
    def series_uids(self) -> list[str]:
        return list(dict.fromkeys(str(ds.SeriesInstanceUID) for ds in self.datasets))


def contract_studies() -> list[KnownStudy]:
    """CT (8 slices, half of them RLE), MR (6 slices), XA cine (one 30-frame instance).

    New UIDs and ``Contract^...`` patients keep them apart from the test data in the
    session's Orthanc. Every byte is the same in every run, in CPython and under Pyodide:
    the Pyodide run checks sources that a CPython process wrote, and the RLE copies keep
    their SOP Instance UIDs (pydicom would draw new, random ones).
    """
    made = [
        ("ct", "CT", synthetic.ct_study(8), None),
        ("mr", "MR", synthetic.mr_study(), 6),
        ("xa", "XA", synthetic.xa_cine_study(), None),
    ]
    studies = []
    for key, modality, source, count in made:
        name = f"Contract^{modality}"
        study = synthetic.derive_study(source, f"contract-{key}", f"Contract {modality}",
                                       count=count, patient=(name, f"OHIFPY-CONTRACT-{key}"))
        studies.append(KnownStudy(key, name, modality, study.datasets))
    for ds in studies[0].datasets[4:]:
        ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    return studies


def write_files(studies: Sequence[KnownStudy], folder: Path) -> list[Path]:
    """Each study's instances as DICOM files under ``folder/<key>/``."""
    paths = []
    for study in studies:
        for index, ds in enumerate(study.datasets):
            path = folder / study.key / f"{index:04d}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def mkdicomweb_tree(files: Sequence[Path], *args: str) -> Path:
    """``mkdicomweb create`` of ``files`` (with ``args``), cached by the files' content.

    The creator runs with an empty working directory and HOME: it would read a
    ``static-wado.json5`` from either.
    """
    version = json.loads((CREATOR / "package.json").read_text())["version"]
    digest = hashlib.sha256(json.dumps([version, *MKDICOMWEB_ARGS, *args]).encode())
    digest.update(MKDICOMWEB.read_bytes())
    for path in sorted(files):
        digest.update(path.read_bytes())
    out = ROOT / ".cache" / "mkdicomweb" / digest.hexdigest()[:16]
    if (out / "studies").is_dir():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".run-") as run:
        scratch, tree = Path(run), Path(run) / "tree"
        proc = subprocess.run(
            ["node", str(MKDICOMWEB), "create", *MKDICOMWEB_ARGS, *args, "-o", str(tree),
             *map(str, files)],
            cwd=scratch, env={**os.environ, "HOME": str(scratch)},
            capture_output=True, text=True, timeout=600, check=False,
        )
        if proc.returncode != 0 or not (tree / "studies").is_dir():
            raise RuntimeError(f"mkdicomweb failed ({proc.returncode}); is `npm ci` done?\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        shutil.rmtree(out, ignore_errors=True)  # a half-written one of an interrupted run
        tree.rename(out)
    return out


@contextmanager
def serve_directory(root: Path, log: list[tuple[str, int]] | None = None, *,
                    handler: type[SimpleHTTPRequestHandler] | None = None) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 as any static host would; yields its base URL.

    Each request's path and status are appended to ``log`` if given; ``handler`` serves
    otherwise than Python's plain static server.
    """
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(handler or SimpleHTTPRequestHandler):  # type: ignore[misc]
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if log is not None:
                log.append((self.path, int(code)))

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0),
                                     partial(Quiet, directory=str(root)))) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/"


S = TypeVar("S", bound=socketserver.BaseServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Run an http.server (or any socketserver) in a thread for the block, then close it."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def static_source(url: str, name: str = "static") -> DicomWebSource:
    """The config entry of a static tree at ``url`` (OHIF's ``staticWado: true``)."""
    return DicomWebSource.from_url(url.rstrip("/"), name=name, staticWado=True)
