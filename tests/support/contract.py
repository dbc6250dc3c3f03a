"""The known studies of the data-source contract, and the sites its HTTP kinds read them from.

A :class:`Holding` is the known studies (:func:`~support.static_trees.contract_studies`)
and their files. :class:`ServedSites` puts those files where each HTTP kind of source
reads them, on 127.0.0.1 and on first use: stored in the session's Orthanc, and written
as static sites (ours, mkdicomweb's, a pair for the merge, a dicomjson file with its
instance files) under one static server, a folder each.

The contract suite asks :class:`ServedSites` in CPython. Under Pyodide, which opens no
sockets, the outer CPython test (tests/test_pyodide_node.py) serves every site before
Node starts and passes their URLs in ``OHIFPY_CONTRACT_SITES`` (JSON: site name -> URL);
:func:`given_site_url` reads them there.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.static_trees import (
    KnownStudy,
    contract_studies,
    mkdicomweb_tree,
    serve_directory,
    write_files,
)

if TYPE_CHECKING:
    from conftest import LoadedOrthanc

SITES_ENV = "OHIFPY_CONTRACT_SITES"
"""The environment variable (JSON, site name -> URL) that carries the sites into Pyodide."""
ORTHANC = "orthanc"
"""The site that is the session's Orthanc: its URL is the DICOMweb root."""
STALLED = "stalled"
"""A server that takes connections and never answers (transports must time out)."""
REFUSED = "refused"
"""A port nothing listens on (transports must say the server cannot be reached)."""


@dataclass(frozen=True)
class Holding:
    """What a source is made to hold: the known studies and their files under ``root``."""

    studies: tuple[KnownStudy, ...]
    root: Path
    files: tuple[Path, ...]

    def files_of(self, *keys: str) -> list[Path]:
        return [path for path in self.files if path.parent.name in keys]


def hold(folder: Path) -> Holding:
    """The known studies with their files written under ``folder``."""
    studies = contract_studies()
    return Holding(tuple(studies), folder, tuple(write_files(studies, folder)))


SiteWriter = Callable[[Holding, Path, str], None]
"""Writes a site of the holding into a folder (not there yet) that will be served at a URL."""


def _static_ohifpy(holding: Holding, folder: Path, url: str) -> None:
    from ohifpy.static_wado import write_static_dicomweb

    write_static_dicomweb((ds for study in holding.studies for ds in study.datasets), folder)


def _mkdicomweb(files: Callable[[Holding], Sequence[Path]]) -> SiteWriter:
    """A site that is mkdicomweb's tree of some of the files (cached, hence a link)."""
    def write(holding: Holding, folder: Path, url: str) -> None:
        folder.symlink_to(mkdicomweb_tree(files(holding)), target_is_directory=True)
    return write


def _dicomjson(holding: Holding, folder: Path, url: str) -> None:
    """OHIF's JSON file listing the files, served from beside it."""
    from support.dicomjson import write_dicomjson

    folder.mkdir()
    (folder / "files").symlink_to(holding.root, target_is_directory=True)
    write_dicomjson(folder / "studies.json", holding.files, holding.root, f"{url}files/")


SITES: dict[str, SiteWriter] = {
    "static-ohifpy": _static_ohifpy,
    "static-mkdicomweb": _mkdicomweb(lambda holding: holding.files),
    # two trees for the merge: the CT and MR in one, the MR and XA in the other
    "merge-a": _mkdicomweb(lambda holding: holding.files_of("ct", "mr")),
    "merge-b": _mkdicomweb(lambda holding: holding.files_of("mr", "xa")),
    "dicomjson": _dicomjson,
}
"""The static sites, served under one server at ``<base URL><name>/``."""


class ServedSites:
    """Every site of ``holding``: static ones in ``folder``, served at ``base_url``, and the
    session's Orthanc (asked for only when its site is: not every run starts it)."""

    def __init__(self, holding: Holding, folder: Path, base_url: str,
                 orthanc: Callable[[], LoadedOrthanc], faults: dict[str, str]) -> None:
        self.holding = holding
        self.folder = folder
        self.base_url = base_url
        self._orthanc = orthanc
        self._urls: dict[str, str] = dict(faults)

    def url(self, name: str) -> str:
        """Where site ``name`` holds the known studies; it is made the first time."""
        if name not in self._urls:
            self._urls[name] = self._make(name)
        return self._urls[name]

    def urls(self) -> dict[str, str]:
        """Every site's URL, each made now if it is not yet."""
        return {name: self.url(name) for name in (ORTHANC, *SITES, STALLED, REFUSED)}

    def _make(self, name: str) -> str:
        if name == ORTHANC:
            orthanc = self._orthanc()
            orthanc.server.upload(self.holding.files)  # UIDs of their own
            return orthanc.dicomweb_root
        url = f"{self.base_url}{name}/"
        SITES[name](self.holding, self.folder / name, url)
        return url


@contextmanager
def served_sites(holding: Holding, folder: Path,
                 orthanc: Callable[[], LoadedOrthanc]) -> Iterator[ServedSites]:
    """:class:`ServedSites` in ``folder`` with its static server running, for the block, and
    the two faulty servers (:data:`STALLED`, :data:`REFUSED`)."""
    with serve_directory(folder) as base_url, stalled_server() as stalled:
        faults = {STALLED: stalled, REFUSED: f"http://127.0.0.1:{closed_port()}/"}
        yield ServedSites(holding, folder, base_url, orthanc, faults)


@contextmanager
def stalled_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True, name="stalled server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join()
        for connection in (*held, listener):
            connection.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def given_site_url(name: str) -> str:
    """Where the outer CPython test served site ``name`` (under Pyodide, from ``SITES_ENV``).

    A run without it fails (an error, not a skip): the HTTP kinds would otherwise pass
    unchecked when someone runs the Node run by hand.
    """
    given = os.environ.get(SITES_ENV)
    if not given:
        pytest.fail(f"{SITES_ENV} is not set: under Pyodide the sources over HTTP read what "
                    "tests/test_pyodide_node.py serves; run that test", pytrace=False)
    return str(json.loads(given)[name])
