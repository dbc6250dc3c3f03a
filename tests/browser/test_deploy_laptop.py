"""deploy/laptop: the ``ohifpy serve`` command line of its README, as a user runs it.

The command is read from the README (so the documented line is the tested one), with
only what is machine-specific replaced: the dist (the browser tests' Orthanc build, which
the README's build command makes), the port and Orthanc's address. Then what a user of
a laptop relies on: it listens on 127.0.0.1 and nowhere else, serves the app, and a
study search reaches Orthanc. (tests/test_serve.py covers the server's behaviour.)
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import ROOT, LoadedOrthanc
from support.nginx import DEPLOY, free_port

pytestmark = pytest.mark.cpython_only  # a server process

README = DEPLOY / "laptop" / "README.md"


def documented_command() -> list[str]:
    """The README's ``ohifpy serve`` line, split as a shell would."""
    (line,) = [line for line in README.read_text().splitlines()
               if re.match(r"^(\S*/)?ohifpy serve ", line)]
    return shlex.split(line)


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on ``port`` (what ``ss -ltn`` reads)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # /proc prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(".".join(map(str, words)) if len(words) == 4 else words.hex())
    return found


@pytest.fixture(scope="module")
def served(orthanc_dist: Path, orthanc: LoadedOrthanc) -> Iterator[str]:
    """The documented command running; yields the URL it prints."""
    command = documented_command()
    orthanc_netloc = urlsplit(orthanc.base_url).netloc
    replace = {"--dist": str(orthanc_dist), "--port": str(free_port())}
    for i, arg in enumerate(command):
        if command[i - 1] in replace:
            command[i] = replace[command[i - 1]]
        elif command[i - 1] == "--proxy":
            command[i] = arg.replace("127.0.0.1:8042", orthanc_netloc)
    assert command[0].endswith("ohifpy") and command[1] == "serve", command
    command[0] = str(ROOT / ".venv" / "bin" / "ohifpy")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ohifpy: serving "), line
        yield line.rsplit(" at ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def test_listens_on_loopback_only(served: str) -> None:
    port = urlsplit(served).port
    assert port is not None and urlsplit(served).hostname == "127.0.0.1"
    assert listening_addresses(port) == {"127.0.0.1"}


def test_serves_the_app_and_searches_orthanc(served: str, orthanc: LoadedOrthanc) -> None:
    page = httpx.get(served, timeout=30)
    assert page.status_code == 200 and '<script src="boot.js">' in page.text
    route = httpx.get(served + "viewer?StudyInstanceUIDs=1.2.3", timeout=30, follow_redirects=True,
                      headers={"Accept": "text/html"})
    assert route.status_code == 200 and route.text == page.text
    study = orthanc.manifest.study("mr")
    found = httpx.get(f"{served}dicom-web/studies?PatientID={study.patient_id}", timeout=60)
    assert found.status_code == 200
    assert study.study_uid in {s["0020000D"]["Value"][0] for s in found.json()}
