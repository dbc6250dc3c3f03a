"""ohifpy.serve: a real server process on 127.0.0.1 in front of a real upstream HTTP server.

The upstream is a tiny http.server that records the raw request line, headers and body
it received, so the test sees exactly what the proxy put on the wire.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ohifpy.serve import run_serve

pytestmark = pytest.mark.cpython_only  # a server process, sockets, ssl

QUERY = "/dicom-web/studies?PatientName=A*^B&includefield=00081030,00080061"


@dataclass
class Upstream:
    port: int
    requests: list[dict] = field(default_factory=list)


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: Upstream

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.upstream.requests.append(
            {"line": self.requestline, "headers": dict(self.headers.items()), "body": body}
        )
        if self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'[{"a":', b"1}", b"]"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 409 if self.command == "POST" else 200
        payload = json.dumps({"method": self.command, "status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("X-Upstream", "orthanc-ish")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    record = Upstream(port=0)
    handler = type("Handler", (_RecordingHandler,), {"upstream": record})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    files = {
        "index.html": "<!doctype html><title>ohifpy</title>",
        "viewer/index.html": "<!doctype html><title>ohifpy viewer</title>",
        "app.js": "export {};",
        "worker.mjs": "export {};",
        "style.css": "body{}",
        "service_worker.js": "const BUILD = {};",
        "manifest.webmanifest": "{}",
        "pyodide/pyodide.asm.wasm": "\0asm",
        "pyodide/pyodide-lock.json": "{}",
        "pyodide/x-1.0-py3-none-any.whl": "PK",
        "demo/dicom-web/studies/index.json": "[]",
        "demo/dicom-web/studies/1.2/metadata": "[]",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ohifpy.serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ohifpy: serving "), line
    return proc, line.split(" at ", 1)[1].strip()


@pytest.fixture(scope="module")
def server(dist: Path, upstream: Upstream) -> Iterator[str]:
    """host:port of ``ohifpy serve`` with /dicom-web proxied to the recording upstream."""
    proc, url = _start(
        "--dist",
        str(dist),
        "--proxy",
        f"/dicom-web=http://127.0.0.1:{upstream.port}/dicom-web",
        "--proxy",
        "/down=http://127.0.0.1:9/dicom-web",
    )
    yield url.removeprefix("http://").rstrip("/")
    proc.terminate()
    proc.wait(timeout=10)


def _request(
    hostport: str,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client, which sends ``target`` exactly as given."""
    conn = http.client.HTTPConnection(hostport, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- static files


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/worker.mjs", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/pyodide/pyodide.asm.wasm", "application/wasm"),
        ("/pyodide/pyodide-lock.json", "application/json"),
        ("/pyodide/x-1.0-py3-none-any.whl", "application/zip"),
        ("/demo/dicom-web/studies/1.2/metadata", "application/octet-stream"),
    ],
)
def test_mime_types(server: str, path: str, content_type: str) -> None:
    status, headers, _ = _request(server, "GET", path)
    assert status == 200
    assert headers["Content-Type"] == content_type


def test_file_content_and_head(server: str, dist: Path) -> None:
    status, headers, body = _request(server, "GET", "/app.js")
    assert body == (dist / "app.js").read_bytes()
    status, headers, body = _request(server, "HEAD", "/app.js")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len("export {};"))


def test_service_worker_is_never_cached(server: str) -> None:
    _, headers, _ = _request(server, "GET", "/service_worker.js")
    assert headers["Cache-Control"] == "no-cache"
    _, headers, _ = _request(server, "GET", "/app.js")
    assert "Cache-Control" not in headers


def test_spa_fallback_for_routes(server: str) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    status, _, body = _request(server, "GET", "/local?x=1", headers=html)
    assert status == 200 and body == b"<!doctype html><title>ohifpy</title>"
    status, _, body = _request(server, "GET", "/viewer/?StudyInstanceUIDs=1.2.3", headers=html)
    assert status == 200 and b"ohifpy viewer" in body


def test_directory_redirects_keep_the_query(server: str) -> None:
    status, headers, _ = _request(server, "GET", "/viewer?StudyInstanceUIDs=1.2")
    assert status == 301 and headers["Location"] == "/viewer/?StudyInstanceUIDs=1.2"


@pytest.mark.parametrize(
    "path",
    [
        "/missing.js",  # has an extension: a real 404
        "/demo/dicom-web/studies/9.9/metadata",  # data, not a page: JSON readers get a 404
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_not_found(server: str, path: str) -> None:
    status, _, body = _request(server, "GET", path)
    assert status == 404 and b"root:" not in body


def test_only_get_and_head_on_files(server: str) -> None:
    status, _, body = _request(server, "POST", "/app.js", body=b"x")
    assert status == 405 and b"POST" in body


def test_keep_alive_serves_several_requests(server: str) -> None:
    conn = http.client.HTTPConnection(server, timeout=30)
    try:
        for path in ("/app.js", "/style.css", "/app.js"):
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200 and response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- proxy


def test_proxy_passes_query_verbatim_and_relays_answer(server: str, upstream: Upstream) -> None:
    headers = {"Accept": "application/dicom+json", "Authorization": "Bearer t0ken"}
    status, response_headers, body = _request(server, "GET", QUERY, headers=headers)
    assert status == 200
    assert json.loads(body) == {"method": "GET", "status": 200}
    assert response_headers["X-Upstream"] == "orthanc-ish"
    assert response_headers["Content-Type"] == "application/dicom+json"
    seen = upstream.requests[-1]
    assert seen["line"] == f"GET {QUERY} HTTP/1.1"
    assert seen["headers"]["Accept"] == "application/dicom+json"
    assert seen["headers"]["Authorization"] == "Bearer t0ken"
    assert seen["headers"]["Host"] == f"127.0.0.1:{upstream.port}"
    assert seen["headers"]["X-Forwarded-Host"] == server


def test_proxy_forwards_stow_body_and_error_status(server: str, upstream: Upstream) -> None:
    content_type = 'multipart/related; type="application/dicom"; boundary=xyz'
    payload = b"--xyz\r\nContent-Type: application/dicom\r\n\r\nDICM\x00\x01\r\n--xyz--\r\n"
    status, _, body = _request(
        server, "POST", "/dicom-web/studies", body=payload, headers={"Content-Type": content_type}
    )
    assert status == 409 and json.loads(body)["method"] == "POST"
    seen = upstream.requests[-1]
    assert seen["line"] == "POST /dicom-web/studies HTTP/1.1"
    assert seen["body"] == payload
    assert seen["headers"]["Content-Type"] == content_type


def test_proxy_relays_chunked_answers(server: str) -> None:
    status, headers, body = _request(server, "GET", "/dicom-web/chunked")
    assert status == 200 and json.loads(body) == [{"a": 1}]
    assert headers["Transfer-Encoding"] == "chunked"


def test_proxy_prefix_is_matched_on_segments(server: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    status, _, _ = _request(server, "GET", "/dicom-webby/x.js")
    assert status == 404 and len(upstream.requests) == count


def test_proxy_upstream_down_is_502(server: str) -> None:
    status, headers, body = _request(server, "GET", "/down/studies?limit=1")
    assert status == 502
    assert headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert "http://127.0.0.1:9/dicom-web" in text and "unreachable" in text


# ---------------------------------------------------------------- base path and arguments


def test_base_path(dist: Path) -> None:
    proc, url = _start("--dist", str(dist), "--base-path", "/sub/")
    try:
        assert url.endswith("/sub/")
        hostport = url.removeprefix("http://").split("/", 1)[0]
        assert _request(hostport, "GET", "/sub/app.js")[0] == 200
        status, headers, _ = _request(hostport, "GET", "/sub")
        assert status == 301 and headers["Location"] == "/sub/"
        assert _request(hostport, "GET", "/app.js")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _args(**overrides: object) -> argparse.Namespace:
    values = {"dist": "dist", "host": "127.0.0.1", "port": 0, "base_path": "/", "proxy": []}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_run_serve_rejects_a_dir_that_is_not_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_serve(_args(dist=str(tmp_path))) == 1
    assert "not a built dist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("/dicom-web", "must be PREFIX=URL"),
        ("/dicom-web=ftp://x/y", "http(s)://"),
        ("dicom-web=http://127.0.0.1:8042/", "prefix must be a path"),
    ],
)
def test_run_serve_rejects_bad_proxies(
    dist: Path, proxy: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_serve(_args(dist=str(dist), proxy=[proxy])) == 1
    assert message in capsys.readouterr().err
