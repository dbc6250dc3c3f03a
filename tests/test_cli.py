"""The ``ohifpy`` command as a user runs it: tables, JSON, PNGs, and one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from conftest import BadStudy, LoadedOrthanc, store_copy
from PIL import Image
from reference import reference_render

from ohifpy.cli import main

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, Pillow, the CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_studies_table_lists_the_ct_and_filters(orthanc: LoadedOrthanc, capsys) -> None:
    ct = orthanc.manifest.study("ct")
    code, out, _ = run(capsys, "studies", "--dicomweb", orthanc.dicomweb_root,
                       "--patient-id", ct.patient_id)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["Patient", "MRN", "Date"]
    assert ct.study_uid in out and ct.patient_id in out and "200" in lines[1]
    assert ct.description in lines[1]  # Orthanc sends it only when asked (includefield)
    assert lines[-1] == "1 study"

    code, out, _ = run(capsys, "studies", "--dicomweb", orthanc.dicomweb_root,
                       "--patient-name", "Phantom", "--modality", "MR")
    assert code == 0 and orthanc.manifest.study("mr").study_uid in out
    assert ct.study_uid not in out


def test_studies_json_is_dicom_json(orthanc: LoadedOrthanc, capsys) -> None:
    code, out, _ = run(capsys, "studies", "--dicomweb", orthanc.dicomweb_root, "--json",
                       "--limit", "1000")
    assert code == 0
    rows = json.loads(out)
    # Other tests may add studies (corrupt_study): every generated one must be listed.
    assert {r["0020000D"]["Value"][0] for r in rows} >= {
        s.study_uid for s in orthanc.manifest.studies}


def test_hostile_strings_stay_on_one_row(orthanc: LoadedOrthanc, capsys) -> None:
    xss = orthanc.manifest.study("xss")
    code, out, _ = run(capsys, "studies", "--dicomweb", orthanc.dicomweb_root,
                       "--patient-id", xss.patient_id)
    assert code == 0
    assert len(out.splitlines()) == 3  # header, one row, count
    assert "<img src=x onerror=alert(1)>" in out or "<script>" in out


def test_render_frame_of_multiframe(orthanc: LoadedOrthanc, tmp_path: Path, capsys) -> None:
    cine = orthanc.manifest.study("xa-cine")
    out = tmp_path / "f3.png"
    code, _, err = run(capsys, "render", "--dicomweb", orthanc.dicomweb_root,
                       "--study", cine.study_uid, "--frame", "3", "-o", str(out))
    assert code == 0 and "frame 3" in err
    # The PNG is frame 3 as pydicom renders it from the file (and not frame 1).
    ds = pydicom.dcmread(orthanc.manifest.root / cine.instances[0].path)
    shown = np.asarray(Image.open(out).convert("L"))
    assert np.abs(shown.astype(int) - reference_render(ds, 2).astype(int)).max() <= 1
    assert not np.array_equal(reference_render(ds, 2), reference_render(ds, 0))
    code, _, err = run(capsys, "render", "--dicomweb", orthanc.dicomweb_root,
                       "--study", cine.study_uid, "--frame", "99", "-o", str(out))
    assert code == 1 and err.strip().endswith("the instance has 30 frame(s)")


def test_corrupt_frame_is_one_clear_line_then_the_next_render_works(
        orthanc: LoadedOrthanc, corrupt_study: BadStudy, tmp_path: Path, capsys) -> None:
    base = ["render", "--dicomweb", orthanc.dicomweb_root, "--study", corrupt_study.study_uid,
            "--series", corrupt_study.series_uid]
    code, out, err = run(capsys, *base, "--instance", corrupt_study.corrupt_sop_uid,
                         "-o", str(tmp_path / "bad.png"))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "JPEG-LS Lossless" in err and "Traceback" not in err
    assert not (tmp_path / "bad.png").exists()
    code, _, _ = run(capsys, *base, "--instance", corrupt_study.good_sop_uid,
                     "-o", str(tmp_path / "good.png"))
    assert code == 0 and (tmp_path / "good.png").exists()


def test_unsupported_transfer_syntax_names_it_and_the_failed_transcoding(
        orthanc: LoadedOrthanc, corrupt_study: BadStudy, tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "render", "--dicomweb", orthanc.dicomweb_root,
                       "--study", corrupt_study.study_uid, "--series", corrupt_study.series_uid,
                       "--instance", corrupt_study.unsupported_sop_uid,
                       "-o", str(tmp_path / "mpeg.png"))
    assert code == 1 and len(err.strip().splitlines()) == 1
    # The viewer's pipeline asked Orthanc to transcode it, which Orthanc cannot do.
    assert "1.2.840.10008.1.2.4.100" in err and "did not transcode" in err


def test_unknown_study_and_bad_arguments(orthanc: LoadedOrthanc, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x.png")
    code, _, err = run(capsys, "render", "--dicomweb", orthanc.dicomweb_root,
                       "--study", "1.2.3.999", "-o", out)
    assert code == 1 and "HTTP 404" in err and "1.2.3.999" in err
    code, _, err = run(capsys, "render", "--dicomweb", orthanc.dicomweb_root,
                       "--study", "1.2.3", "--window", "forty", "-o", out)
    assert code == 1 and "--window must be CENTER,WIDTH" in err
    code, _, err = run(capsys, "studies", "--dicomweb", orthanc.dicomweb_root,
                       "--date-from", "yesterday")
    assert code == 1 and "YYYYMMDD" in err


def test_unreachable_server_is_one_line(tmp_path: Path, capsys) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    code, out, err = run(capsys, "studies", "--dicomweb", f"http://127.0.0.1:{port}/dicom-web")
    assert code == 1 and out == ""
    assert f"127.0.0.1:{port}" in err and len(err.strip().splitlines()) == 1


def test_timeout_is_one_line(capsys) -> None:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(2)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
        code, _, err = run(capsys, "studies", "--dicomweb", url, "--timeout", "0.3")
        assert code == 1 and "timed out after 0.3 s" in err  # the command line's timeout
    finally:
        server.shutdown()
        server.server_close()


def test_config_file_selects_the_source(orthanc: LoadedOrthanc, tmp_path: Path, capsys) -> None:
    config = tmp_path / "app-config.json"
    config.write_text(json.dumps({
        "defaultDataSourceName": "nowhere",
        "dataSources": [
            {"sourceName": "nowhere", "configuration": {
                "name": "nowhere", "qidoRoot": "http://127.0.0.1:9/x", "wadoRoot": "http://127.0.0.1:9/x"}},
            {"sourceName": "orthanc", "configuration": {
                "name": "orthanc", "qidoRoot": orthanc.dicomweb_root,
                "wadoRoot": orthanc.dicomweb_root}},
        ]}))
    ct = orthanc.manifest.study("ct")
    code, out, _ = run(capsys, "studies", "--config", str(config), "--source", "orthanc",
                       "--patient-id", ct.patient_id)
    assert code == 0 and ct.study_uid in out
    config.write_text("{not json")
    code, _, err = run(capsys, "studies", "--config", str(config))
    assert code == 1 and "not valid JSON" in err and str(config) in err


def test_a_folder_lists_and_renders_as_the_server_does(
        orthanc: LoadedOrthanc, tmp_path: Path, capsys) -> None:
    """``--folder``: the researcher's files, through the same pipeline as the server's copy
    (the same PNG); what is not DICOM is counted, what cannot be read is named."""
    folder = tmp_path / "folder"
    (folder / "ct").mkdir(parents=True)
    manifest = orthanc.manifest
    for instance in manifest.study("ct-jpeg-ls").instances:
        (folder / "ct" / Path(instance.path).name).write_bytes(
            (manifest.root / instance.path).read_bytes())
    (folder / "notes.txt").write_text("not an image")
    first = manifest.study("mr").instances[0]
    (folder / "cut.dcm").write_bytes((manifest.root / first.path).read_bytes()[:600])

    code, out, err = run(capsys, "studies", "--folder", str(folder))
    assert code == 0 and out.strip().endswith("1 study")
    assert manifest.study("ct-jpeg-ls").patient_name in out
    assert "1 file(s) are not DICOM" in err and "cut.dcm" in err

    study = manifest.study("ct-jpeg-ls").study_uid
    from_folder, from_server = tmp_path / "folder.png", tmp_path / "server.png"
    assert run(capsys, "render", "--folder", str(folder), "--study", study,
               "-o", str(from_folder))[0] == 0
    assert run(capsys, "render", "--dicomweb", orthanc.dicomweb_root, "--study", study,
               "-o", str(from_server))[0] == 0
    assert from_folder.read_bytes() == from_server.read_bytes()

    code, _, err = run(capsys, "studies", "--folder", str(tmp_path / "nowhere"))
    assert code == 1 and "nowhere" in err and len(err.strip().splitlines()) == 1


def run_command(*argv: str) -> subprocess.CompletedProcess[str]:
    """``ohifpy`` in a process of its own, as a user runs it: warnings print as they would."""
    return subprocess.run([sys.executable, "-m", "ohifpy.cli", *argv], capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_real_world_file_renders_with_one_line_and_warnings_only_when_verbose(
        orthanc: LoadedOrthanc, tmp_path: Path) -> None:
    """An implicit VR palette whose dates pydicom finds invalid: the PNG, one line."""
    study = orthanc.manifest.study("real-world")
    (series,) = [s for s in study.series
                 if s.instances[0].path.endswith("palette-lut16-implicit-le.dcm")]
    argv = ["render", "--dicomweb", orthanc.dicomweb_root, "--study", study.study_uid,
            "--series", series.series_uid, "-o", str(tmp_path / "palette.png")]
    quiet = run_command(*argv)
    assert quiet.returncode == 0, quiet.stderr
    assert len(quiet.stderr.splitlines()) == 1 and "palette.png: 64x48" in quiet.stderr
    verbose = run_command(*argv, "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "UserWarning: Invalid value for VR DA: '2003.05.01'" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == quiet.stderr.splitlines()[0]


def test_an_unusable_palette_is_one_line(orthanc: LoadedOrthanc, tmp_path: Path) -> None:
    def truncate_red(index: int, ds: Any) -> None:
        ds.RedPaletteColorLookupTableData = ds.RedPaletteColorLookupTableData[:100]

    copy = store_copy(orthanc, "real-world", "truncated palette", tmp_path, count=1,
                      edit=truncate_red)
    out = tmp_path / "palette.png"
    done = run_command("render", "--dicomweb", orthanc.dicomweb_root, "--study", copy.study_uid,
                       "-o", str(out))
    assert done.returncode == 1 and done.stdout == "" and not out.exists()
    (line,) = done.stderr.splitlines()
    assert line.startswith("ohifpy render: ") and "(0028,1201) has 100 bytes" in line
    verbose = run_command("render", "--dicomweb", orthanc.dicomweb_root,
                          "--study", copy.study_uid, "-o", str(out), "-v")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == line
