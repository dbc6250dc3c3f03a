"""ohifpy.serve: a real server process on 127.0.0.1 in front of a real upstream HTTP server.

The upstream is a tiny http.server that records the raw request line, headers and body
it received, so the test sees exactly what the proxy put on the wire, and what never
reached it. Malformed requests go out on raw sockets (HTTP clients refuse to send them),
each to aiohttp's C parser and to its pure-Python one (what runs where no wheel with the
C extension exists). The last test runs the proxy in front of the real Orthanc.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import LoadedOrthanc

from ohifpy.serve import add_serve_arguments, run_serve

pytestmark = pytest.mark.cpython_only  # a server process, sockets, ssl

QUERY = "/dicom-web/studies?PatientName=A*^B&includefield=00081030,00080061"
BIG = 32 << 20  # more than the socket buffers between a client and the server hold


@dataclass
class Upstream:
    port: int
    requests: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self, path_part: str = "") -> int:
        return sum(path_part in r["line"] for r in self.requests)


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Records each request as soon as its head arrives; ``body`` once all of it has."""

    protocol_version = "HTTP/1.1"
    upstream: Upstream

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            data += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return data

    def _answer(self) -> None:
        record = {"line": self.requestline, "headers": dict(self.headers.items()), "body": None}
        self.upstream.requests.append(record)
        try:
            body = self._read_body()
        except ValueError:  # the connection ended inside a chunked body
            return
        if len(body) < int(self.headers.get("Content-Length") or 0):
            return  # the proxy gave up on this request: the upstream saw no whole body
        record["body"] = body
        if self.path.endswith("/hang"):
            self.upstream.release.wait(30)
        if self.path.endswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'[{"a":', b"1}", b"]"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.endswith("/big"):
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            for _ in range(BIG >> 20):
                self.wfile.write(b"\0" * (1 << 20))
            return
        status = 409 if self.command == "POST" else 200
        payload = json.dumps({"method": self.command, "status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("X-Upstream", "orthanc-ish")
        self.send_header("Connection", "keep-alive, X-Hop")
        self.send_header("X-Hop", "for the proxy only")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_TRACE = _answer

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, *args: object) -> None:
        pass  # a connection the proxy cut: what the tests provoke


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    record = Upstream(port=0)
    handler = type("Handler", (_RecordingHandler,), {"upstream": record})
    server = _QuietServer(("127.0.0.1", 0), handler)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    record.release.set()
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


def _start(
    *args: str, env: dict[str, str] | None = None, stderr: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ohifpy.serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ohifpy: serving "), line
    return proc, line.split(" at ", 1)[1].strip()


@pytest.fixture(scope="module")
def serving(dist: Path, upstream: Upstream) -> Iterator[Callable[..., str]]:
    """Starts ``ohifpy serve`` with /dicom-web proxied to the recording upstream and
    ``args``; host:port. Stopped at the end of the module."""
    procs = []

    def start(*args: str, env: dict[str, str] | None = None) -> str:
        proc, url = _start(
            "--dist", str(dist),
            "--proxy", f"/dicom-web=http://127.0.0.1:{upstream.port}/dicom-web",
            "--proxy", "/down=http://127.0.0.1:9/dicom-web",
            *args,
            env=env,
        )  # fmt: skip
        procs.append(proc)
        return url.removeprefix("http://").rstrip("/")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(serving: Callable[..., str]) -> str:
    return serving("--allowed-host", "viewer.test")


@pytest.fixture(scope="module", params=["C parser", "Python parser"])
def any_parser(request: pytest.FixtureRequest, server: str, serving: Callable[..., str]) -> str:
    """The server once with each of aiohttp's HTTP parsers."""
    if request.param == "C parser":
        return server
    return serving(env={"AIOHTTP_NO_EXTENSIONS": "1"})


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


def _connect(hostport: str) -> socket.socket:
    host, port = hostport.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=30)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _read_head(sock: socket.socket) -> bytes:
    """A response's status line and headers (a refused body may keep the connection open
    a while: the server reads and drops it so that the client sees the answer)."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(1)):
        data += chunk
    return data


def _raw(hostport: str, message: bytes) -> bytes:
    """What the server answers ``message`` (bytes as given) with, up to its close."""
    with _connect(hostport) as sock:
        sock.sendall(message)
        return _read_all(sock)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


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
    assert headers["X-Content-Type-Options"] == "nosniff"


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
    ("path", "expected"),
    [
        ("/missing.js", 404),  # has an extension: a real 404
        ("/demo/dicom-web/studies/9.9/metadata", 404),  # data, not a page: JSON readers get 404
        ("/../../etc/passwd", 400),  # dot segments are refused before any file is looked at
        ("/%2e%2e/%2e%2e/etc/passwd", 400),
    ],
)
def test_not_found(server: str, path: str, expected: int) -> None:
    status, _, body = _request(server, "GET", path)
    assert status == expected and b"root:" not in body


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
    assert "X-Hop" not in response_headers  # named by the upstream's Connection header
    seen = upstream.requests[-1]
    assert seen["line"] == f"GET {QUERY} HTTP/1.1"
    assert seen["headers"]["Accept"] == "application/dicom+json"
    assert seen["headers"]["Authorization"] == "Bearer t0ken"
    assert seen["headers"]["Host"] == f"127.0.0.1:{upstream.port}"
    assert seen["headers"]["X-Forwarded-Host"] == server
    assert seen["headers"]["Forwarded"] == f"host={server};proto=http"
    assert seen["headers"]["Accept-Encoding"] == "identity"  # http.client's, not aiohttp's
    assert "User-Agent" not in seen["headers"]


def test_proxy_replaces_forwarding_headers_a_client_sent(server: str, upstream: Upstream) -> None:
    spoofed = {"Forwarded": "host=evil.example", "X-Forwarded-Host": "evil.example",
               "Connection": "X-Secret", "X-Secret": "hop only"}
    assert _request(server, "GET", "/dicom-web/studies", headers=spoofed)[0] == 200
    seen = upstream.requests[-1]["headers"]
    assert seen["Forwarded"] == f"host={server};proto=http"
    assert seen["X-Forwarded-Host"] == server
    assert "X-Secret" not in seen


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


def test_proxy_streams_chunked_request_bodies(server: str, upstream: Upstream) -> None:
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    answer = _raw(server, b"POST /dicom-web/studies HTTP/1.1\r\nHost: " + server.encode()
                  + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert _status(answer) == 409
    assert upstream.requests[-1]["body"] == b"hello world"


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


def test_trace_is_not_proxied(server: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    status, _, _ = _request(server, "TRACE", "/dicom-web/studies")
    assert status == 405 and len(upstream.requests) == count


# ---------------------------------------------------------------- Host: DNS rebinding


@pytest.mark.parametrize("target", ["/dicom-web/studies", "/"])
@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "localhost"])
def test_other_hosts_are_refused(server: str, upstream: Upstream, target: str, host: str) -> None:
    """A page whose name was rebound to 127.0.0.1 reads nothing, and writes nothing."""
    port = server.rsplit(":", 1)[1]
    count = len(upstream.requests)
    for method in ("GET", "POST"):
        status, headers, body = _request(server, method, target, body=b"x",
                                         headers={"Host": host.format(port=port)})
        assert status == 421
        assert headers["Content-Type"].startswith("text/plain")
        assert f"127.0.0.1:{port}" in body.decode() and "--allowed-host" in body.decode()
    assert len(upstream.requests) == count


def test_a_request_without_host_is_refused(server: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    answer = _raw(server, b"GET /dicom-web/studies HTTP/1.0\r\n\r\n")
    assert _status(answer) == 421 and len(upstream.requests) == count


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LocalHost", "[::1]", "viewer.test"])
def test_this_machines_names_and_allowed_hosts_are_served(server: str, host: str) -> None:
    port = server.rsplit(":", 1)[1]
    status, _, body = _request(server, "GET", "/dicom-web/studies",
                               headers={"Host": f"{host}:{port}"})
    assert status == 200 and json.loads(body)["method"] == "GET"


# ---------------------------------------------------------------- paths outside a prefix


@pytest.mark.parametrize(
    "target",
    [
        "/dicom-web/../x",
        "/dicom-web/studies/../../x",
        "/dicom-web/./studies",
        "/dicom-web/%2e%2e/x",
        "/dicom-web/%2E%2e/x",
        "/dicom-web/.%2e/x",
        "/dicom-web/%252e%252e/x",  # for an upstream that decodes twice
        "/dicom-web//x",
        "/dicom-web/studies//",
        "/dicom-web/..%2f..%2fx",
        "/dicom-web/%2F../x",
        "/dicom-web/..\\x",
        "/dicom-web/%5c..%5cx",
        "/dicom-web/studies%00.json",
    ],
)
def test_paths_that_could_leave_the_prefix_are_refused(
    server: str, upstream: Upstream, target: str
) -> None:
    count = len(upstream.requests)
    status, _, body = _request(server, "GET", target)
    assert status == 400 and b"segment" in body
    assert len(upstream.requests) == count


def test_encoded_dots_in_the_query_are_fine(server: str, upstream: Upstream) -> None:
    target = "/dicom-web/studies?StudyDescription=%2e%2e/x&PatientName=a%2Fb"
    assert _request(server, "GET", target)[0] == 200
    assert upstream.requests[-1]["line"] == f"GET {target} HTTP/1.1"


@pytest.mark.parametrize(
    "target",
    [b"http://127.0.0.1:9/dicom-web/studies", b"127.0.0.1:9", b"*", b"/dicom-web/studies#x"],
)
def test_only_origin_form_targets(server: str, upstream: Upstream, target: bytes) -> None:
    count = len(upstream.requests)
    answer = _raw(server, b"OPTIONS %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % (target, server.encode()))
    assert _status(answer) == 400 and len(upstream.requests) == count


# ---------------------------------------------------------------- malformed messages

HEAD = b"Host: {host}\r\nConnection: close\r\n"
MALFORMED = {
    "bare LF in the target": b"GET /dicom-web/studies\nX-Injected: 1 HTTP/1.1\r\n{head}\r\n",
    "bare LF in the query": b"GET /dicom-web/studies?a=1\nX-Injected: 1 HTTP/1.1\r\n{head}\r\n",
    "bare CR in the target": b"GET /dicom-web/studies\rX-Injected: 1 HTTP/1.1\r\n{head}\r\n",
    "bare LF in a header value": b"GET /dicom-web/studies HTTP/1.1\r\n{head}X: a\nX-Injected: 1\r\n\r\n",
    "bare CR in a header value": b"GET /dicom-web/studies HTTP/1.1\r\n{head}X: a\rX-Injected: 1\r\n\r\n",
    "bare LF line ends": b"GET /dicom-web/studies HTTP/1.1\nHost: {host}\nConnection: close\n\n",
    "obsolete line folding": b"GET /dicom-web/studies HTTP/1.1\r\n{head}X: a\r\n X-Injected: 1\r\n\r\n",
    "NUL in a header value": b"GET /dicom-web/studies HTTP/1.1\r\n{head}X: a\0b\r\n\r\n",
    "space before the colon": b"GET /dicom-web/studies HTTP/1.1\r\n{head}X-Injected : 1\r\n\r\n",
    "Content-Length and Transfer-Encoding": b"POST /dicom-web/studies HTTP/1.1\r\n{head}"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two Content-Lengths": b"POST /dicom-web/studies HTTP/1.1\r\n{head}"
    b"Content-Length: 2\r\nContent-Length: 5\r\n\r\nabcde",
    "superscript two as Content-Length (UTF-8)": b"POST /dicom-web/studies HTTP/1.1\r\n{head}"
    + "Content-Length: \u00b2\r\n\r\nab".encode(),
    "superscript two as Content-Length (Latin-1)": b"POST /dicom-web/studies HTTP/1.1\r\n{head}"
    + "Content-Length: \u00b2\r\n\r\nab".encode("latin-1"),
    "signed Content-Length": b"POST /dicom-web/studies HTTP/1.1\r\n{head}Content-Length: +2\r\n\r\nab",
    "bad chunk size": b"POST /dicom-web/studies HTTP/1.1\r\n{head}"
    b"Transfer-Encoding: chunked\r\n\r\nz\r\nab\r\n0\r\n\r\n",
    "two Hosts": b"GET /dicom-web/studies HTTP/1.1\r\n{head}Host: evil.example\r\n\r\n",
    "non-ASCII target": "GET /dicom-web/\u00e9tudes HTTP/1.1\r\n".encode() + b"{head}\r\n",
    "HTTP/0.9": b"GET /dicom-web/studies\r\n\r\n",
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_messages_are_refused(any_parser: str, upstream: Upstream, message: bytes) -> None:
    count = len(upstream.requests)
    head = HEAD.replace(b"{host}", any_parser.encode())
    answer = _raw(any_parser, message.replace(b"{head}", head).replace(b"{host}",
                                                                        any_parser.encode()))
    assert _status(answer) == 400, answer[:300]
    assert len(upstream.requests) == count


def test_a_malformed_request_is_one_line_on_stderr(dist: Path) -> None:
    proc, url = _start("--dist", str(dist), stderr=subprocess.PIPE)
    hostport = url.removeprefix("http://").rstrip("/")
    try:
        answer = _raw(hostport, b"GET / HTTP/1.1\r\nHost: %s\r\nX: a\nb\r\n\r\n"
                      % hostport.encode())
        assert _status(answer) == 400
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    (line,) = err.splitlines()
    assert line.startswith("ohifpy serve: Error handling request from 127.0.0.1: ")


def test_unknown_transfer_codings_are_refused(any_parser: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    answer = _raw(any_parser, b"POST /dicom-web/studies HTTP/1.1\r\nHost: %s\r\n"
                  b"Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
                  % any_parser.encode())
    assert _status(answer) == 501 and len(upstream.requests) == count


# ---------------------------------------------------------------- Expect: 100-continue


def _post_head(hostport: str, length: int, extra: bytes = b"Expect: 100-continue\r\n") -> bytes:
    """The head of a POST to the proxy announcing a ``length``-byte body."""
    return (b"POST /dicom-web/studies HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s"
            b"Connection: close\r\n\r\n" % (hostport.encode(), length, extra))


def test_expect_100_continue_then_the_body_goes_upstream(server: str, upstream: Upstream) -> None:
    with _connect(server) as sock:
        sock.sendall(_post_head(server, 5))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = _read_all(sock)
    assert _status(answer) == 409
    assert upstream.requests[-1]["body"] == b"hello"


def test_expect_100_continue_is_not_sent_for_a_refusal(server: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    port = server.rsplit(":", 1)[1]
    refused = _post_head(server, 5).replace(server.encode(), f"evil.example:{port}".encode())
    unknown = _post_head(server, 5, b"Expect: something-else\r\n")
    for head, status in ((refused, b"421"), (unknown, b"417")):
        with _connect(server) as sock:
            sock.sendall(head)
            assert _read_head(sock).startswith(b"HTTP/1.1 %s " % status)
    assert len(upstream.requests) == count


# ---------------------------------------------------------------- limits


@pytest.fixture(scope="module")
def limited(serving: Callable[..., str]) -> str:
    return serving("--max-body", "1k", "--upstream-timeout", "1")


@pytest.fixture(scope="module")
def impatient(serving: Callable[..., str]) -> str:
    return serving("--idle-timeout", "1")


def test_a_body_beyond_the_limit_is_413_before_the_upstream(
    limited: str, upstream: Upstream
) -> None:
    count = len(upstream.requests)
    status, _, body = _request(limited, "POST", "/dicom-web/studies", body=b"x" * 1025)
    assert status == 413 and b"1024 bytes" in body
    with _connect(limited) as sock:  # refused before the client sends it
        sock.sendall(_post_head(limited, 1025))
        assert _read_head(sock).startswith(b"HTTP/1.1 413 ")
    assert len(upstream.requests) == count
    assert _request(limited, "POST", "/dicom-web/studies", body=b"x" * 1024)[0] == 409


def test_a_chunked_body_beyond_the_limit_is_413(limited: str, upstream: Upstream) -> None:
    count = len(upstream.requests)
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    with _connect(limited) as sock:
        sock.sendall(b"POST /dicom-web/studies HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: "
                     b"chunked\r\nConnection: close\r\n\r\n%s" % (limited.encode(), chunk))
        time.sleep(0.5)  # the first KiB on its way upstream before the one too many
        sock.sendall(chunk + b"0\r\n\r\n")
        answer = _read_all(sock)
    assert _status(answer) == 413
    assert all(r["body"] is None for r in upstream.requests[count:])  # none got all of it


def test_a_silent_upstream_is_504(limited: str) -> None:
    status, _, body = _request(limited, "GET", "/dicom-web/hang")
    assert status == 504 and b"sent no answer in 1 s" in body


def test_a_client_that_never_finishes_its_head_is_dropped(impatient: str) -> None:
    with _connect(impatient) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: " + impatient.encode() + b"\r\n")
        assert _read_all(sock) == b""


def test_a_client_that_stops_sending_its_body_gets_408(
    impatient: str, upstream: Upstream
) -> None:
    with _connect(impatient) as sock:
        sock.sendall(_post_head(impatient, 100, b"") + b"only part of it")
        assert _status(_read_head(sock)) == 408
    assert upstream.requests[-1]["body"] is None


def test_a_client_that_stops_reading_is_dropped(impatient: str) -> None:
    """The answer is cut short, so the client cannot take it for the whole one."""
    host, port = impatient.rsplit(":", 1)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(30)
        sock.connect((host, int(port)))
        sock.sendall(b"GET /dicom-web/big HTTP/1.1\r\nHost: %s\r\n\r\n" % impatient.encode())
        head = sock.recv(65536)
        assert _status(head) == 200 and b"Content-Length: %d" % BIG in head
        time.sleep(3)  # the idle limit is 1 s
        received = len(head) + len(_read_all(sock))
    assert received < BIG


@pytest.fixture(scope="module")
def capped(serving: Callable[..., str]) -> str:
    return serving("--max-connections", "2")


def test_connections_beyond_the_cap_are_closed(capped: str, upstream: Upstream) -> None:
    get = b"GET /dicom-web/studies HTTP/1.1\r\nHost: %s\r\n\r\n" % capped.encode()
    holders = [_connect(capped) for _ in range(2)]
    try:
        for sock in holders:  # both served, both kept open
            sock.sendall(get)
            assert _status(sock.recv(65536)) == 200
        count = len(upstream.requests)
        with _connect(capped) as third:
            try:
                third.sendall(get)
                assert _read_all(third) == b""
            except ConnectionResetError:
                pass
        assert len(upstream.requests) == count
    finally:
        for sock in holders:
            sock.close()
    for _ in range(50):  # the server notices the close as soon as it runs again
        try:
            if _request(capped, "GET", "/dicom-web/studies")[0] == 200:
                break
        except ConnectionError:
            time.sleep(0.1)
    else:
        pytest.fail("a connection after the others closed was not served")


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


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(["--port", "0", *argv])


def test_run_serve_rejects_a_dir_that_is_not_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_serve(_args("--dist", str(tmp_path))) == 1
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
    assert run_serve(_args("--dist", str(dist), "--proxy", proxy)) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("name", ["viewer.test:8000", "http://viewer.test", "*", ""])
def test_run_serve_rejects_bad_allowed_hosts(
    dist: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_serve(_args("--dist", str(dist), "--allowed-host", name)) == 1
    assert "without a port" in capsys.readouterr().err


def test_listening_beyond_this_machine_is_warned_about(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails after the warning
    assert run_serve(_args("--dist", str(dist), "--host", "192.0.2.1")) == 1
    err = capsys.readouterr().err
    assert "warning: listening on 192.0.2.1, not on this machine only" in err


@pytest.mark.parametrize(("size", "expected"), [("1g", 1 << 30), ("500M", 500 << 20), ("7", 7)])
def test_max_body_sizes(size: str, expected: int) -> None:
    assert _args("--max-body", size).max_body == expected


# ---------------------------------------------------------------- in front of Orthanc


def test_orthanc_urls_point_back_at_the_proxy(dist: Path, orthanc: LoadedOrthanc) -> None:
    """Orthanc writes RetrieveURLs and BulkDataURIs from Forwarded: they name this origin
    and prefix (Orthanc's own path, as in the README), whichever of this machine's names
    the browser used."""
    assert orthanc.dicomweb_root.endswith("/dicom-web")
    proc, url = _start("--dist", str(dist), "--proxy", f"/dicom-web={orthanc.dicomweb_root}")
    try:
        hostport = url.removeprefix("http://").rstrip("/")
        port = hostport.rsplit(":", 1)[1]
        study = orthanc.manifest.study("mr")
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            headers = {"Host": host, "Accept": "application/dicom+json"}
            status, _, body = _request(
                hostport, "GET", f"/dicom-web/studies?PatientID={study.patient_id}", headers=headers
            )
            assert status == 200
            (found,) = [s for s in json.loads(body) if s["0020000D"]["Value"][0] == study.study_uid]
            retrieve = f"http://{host}/dicom-web/studies/{study.study_uid}"
            assert found["00081190"]["Value"] == [retrieve]
            status, _, body = _request(
                hostport, "GET", f"/dicom-web/studies/{study.study_uid}/metadata", headers=headers
            )
            assert status == 200
            uris = [v["BulkDataURI"] for ds in json.loads(body) for v in ds.values()
                    if "BulkDataURI" in v]
            assert uris and all(u.startswith(retrieve + "/") for u in uris)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
