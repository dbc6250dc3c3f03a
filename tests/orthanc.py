"""A real Orthanc with its DICOMweb plugin for the tests: start, load, stop.

Orthanc 1.10 has no bind-address option, so the config keeps it to loopback with
``RemoteAccessAllowed: false``, disables the DICOM port, and puts the database in a
temporary folder. Files are loaded through Orthanc's own REST API (``POST /instances``),
independent of the client under test. Threads are fine here: this is test tooling, not
the ``ohifpy`` package.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORTHANC = Path("/usr/sbin/Orthanc")
PLUGIN_DIR = Path("/usr/share/orthanc/plugins")
PLUGINS = ("libOrthancDicomWeb.so", "libOrthancGdcm.so")
GDCM_SYNTAXES = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
                 "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93")
"""JPEG 2000, which only GDCM decodes; everything else is left to Orthanc's DCMTK."""
SETUP_HINT = "install it with scripts/setup.sh (Debian packages orthanc orthanc-dicomweb " \
             "orthanc-gdcm)"


class OrthancError(RuntimeError):
    """Orthanc is missing, did not start, or refused a request; the message says which."""


def free_port() -> int:
    """A TCP port nobody listens on right now (Orthanc takes its port from the config)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orthanc_config(workdir: Path, port: int) -> dict[str, Any]:
    """Our Orthanc config: loopback HTTP only, no DICOM port, no auth, state in ``workdir``.

    HTTP compression is off because clients send ``Accept-Encoding: gzip`` and Orthanc
    would then gzip every frame. ``DefaultEncoding`` is UTF-8: with the default (Latin1)
    QIDO answers drop every Greek, Japanese or emoji character of names and descriptions. The GDCM plugin is kept to JPEG 2000 (DCMTK decodes the
    rest): left to transcode everything it crashes Orthanc (SIGSEGV) within a few
    sequential frame requests on big-endian files; it still crashes on signed JPEG 2000,
    so never ask Orthanc to decompress those (``transfer-syntax=*`` does not).
    """
    missing = [p for p in PLUGINS if not (PLUGIN_DIR / p).is_file()]
    if missing:
        raise OrthancError(f"Orthanc plugins missing in {PLUGIN_DIR}: {', '.join(missing)}; "
                           + SETUP_HINT)
    return {
        "Name": "ohifpy-test",
        "HttpPort": port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "HttpCompressionEnabled": False,
        "DefaultEncoding": "Utf8",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "StorageCompression": False,
        "SaveJobs": False,
        "ConcurrentJobs": 2,
        "StableAge": 1,
        "LimitFindResults": 0,
        "LimitFindInstances": 0,
        "Plugins": [str(PLUGIN_DIR / p) for p in PLUGINS],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "WadoRoot": "/wado",
            "Ssl": False,
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
        },
        "Gdcm": {"Enable": True, "Throttling": 1,
                 "RestrictTransferSyntaxes": list(GDCM_SYNTAXES)},
    }


@dataclass
class OrthancServer:
    """A running Orthanc we started; ``stop()`` ends it by its PID."""

    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_root(self) -> str:
        return self.base_url + "/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None,
                connection: http.client.HTTPConnection | None = None,
                ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to Orthanc; returns (status, lower-cased headers, body)."""
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            if connection is None:
                conn.close()

    def get_json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        if status != 200:
            raise OrthancError(f"GET {self.base_url}{path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def upload(self, files: Sequence[Path], concurrency: int = 4) -> None:
        """POST every file to /instances, a few at a time, one kept-alive connection each."""
        local = threading.local()

        def post(path: Path) -> None:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            status, _, body = self.request("POST", "/instances", path.read_bytes(),
                                           {"Content-Type": "application/dicom"}, local.conn)
            answer = json.loads(body) if status == 200 else {}
            if answer.get("Status") not in ("Success", "AlreadyStored"):
                raise OrthancError(f"Orthanc refused {path.name} ({status}): "
                                   f"{body[:400].decode(errors='replace')}")

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, files))

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate our process (SIGTERM lets Orthanc close its database), kill if stuck."""
        stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a process we started, by its PID; kill it if it does not end in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def start_orthanc(workdir: Path, startup_timeout: float = 60.0) -> OrthancServer:
    """Start Orthanc with :func:`orthanc_config` and wait until ``/system`` answers."""
    if not os.access(ORTHANC, os.X_OK):
        raise OrthancError(f"Orthanc is not installed ({ORTHANC} not found); " + SETUP_HINT)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "orthanc.json"
    config.write_text(json.dumps(orthanc_config(workdir, port), indent=2))
    with open(workdir / "orthanc.log", "wb") as log:
        process = subprocess.Popen([str(ORTHANC), str(config)], cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = OrthancServer(process, port, workdir)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OrthancError(f"Orthanc exited with {process.returncode} while starting; "
                               f"log:\n{server.log()}")
        try:
            if server.request("GET", "/system")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise OrthancError(f"Orthanc did not answer on {server.base_url} within "
                       f"{startup_timeout:.0f}s; log:\n{server.log()}")
