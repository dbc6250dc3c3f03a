"""Bearer tokens go to the configured DICOMweb origins only; a 401 is renewed once, shared.

Two real HTTP servers on 127.0.0.1: the "archive" (a configured root) that accepts only
the token it is told is current, and "elsewhere" (another port: a BulkDataURI's or a
DICOM JSON file's host). Both record the headers they were sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from support.static_trees import serve_directory

from ohifpy.config import AppConfig
from ohifpy.datasources import server_roots
from ohifpy.dicomweb.bearer import BearerTokenTransport, origin_of
from ohifpy.dicomweb.httpx_transport import HttpxTransport

pytestmark = pytest.mark.cpython_only  # servers in threads; the browser tests run it in Pyodide

class Server:
    """A recording server; ``valid`` is the one token it accepts (None: any request)."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.valid: str | None = None
        self.url = ""

    def handler(self) -> type[SimpleHTTPRequestHandler]:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                sent = {k.lower(): v for k, v in self.headers.items()}
                server.headers.append(sent)
                ok = server.valid is None or sent.get("authorization") == f"Bearer {server.valid}"
                body = json.dumps([]).encode()
                self.send_response(200 if ok else 401)
                if not ok:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Type", "application/dicom+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    archive, elsewhere = Server(), Server()
    with serve_directory(tmp_path, handler=archive.handler()) as a, \
            serve_directory(tmp_path, handler=elsewhere.handler()) as b:
        archive.url, elsewhere.url = a, b
        yield archive, elsewhere


def test_origin_of_drops_default_ports_and_case() -> None:
    assert origin_of("HTTPS://PACS.example.org:443/dicom-web") == "https://pacs.example.org"
    assert origin_of("http://127.0.0.1:8042/x?y") == "http://127.0.0.1:8042"
    assert origin_of("http://[::1]:80/") == "http://[::1]"
    assert origin_of("http://host:notaport/") == ""


def test_server_roots_are_the_dicomweb_roots_resolved_against_the_page() -> None:
    config = AppConfig.from_json({"dataSources": [
        {"sourceName": "pacs", "configuration": {
            "name": "pacs", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web",
            "stowRoot": "https://stow.example.org/dicom-web"}},
        {"namespace": "@ohif/extension-default.dataSourcesModule.dicomjson",
         "sourceName": "json", "configuration": {"name": "json"}},
    ]})
    roots = server_roots(config, "https://viewer.example.org/sub/")
    assert sorted(set(roots)) == ["https://stow.example.org/dicom-web",
                                  "https://viewer.example.org/dicom-web"]


async def test_token_goes_to_configured_origins_only(servers: tuple[Server, Server]) -> None:
    archive, elsewhere = servers
    transport = BearerTokenTransport(HttpxTransport(), [archive.url + "dicom-web"],
                                     lambda: "secret-token")
    try:
        await transport.request("GET", archive.url + "dicom-web/studies")
        # A caller's own Authorization never reaches another origin either.
        await transport.request("GET", elsewhere.url + "bulk/1",
                                headers={"Authorization": "Bearer smuggled"})
    finally:
        await transport.aclose()
    assert archive.headers[0]["authorization"] == "Bearer secret-token"
    assert "authorization" not in elsewhere.headers[0]


async def test_a_401_is_renewed_once_for_all_requests_and_retried(
        servers: tuple[Server, Server]) -> None:
    archive, _ = servers
    current = {"token": "stale"}
    asked: list[str | None] = []
    archive.valid = "fresh"

    async def renew(rejected: str | None) -> str | None:
        asked.append(rejected)
        await asyncio.sleep(0.05)  # the page's silent renewal takes a moment
        current["token"] = "fresh"
        return "fresh"

    transport = BearerTokenTransport(HttpxTransport(), [archive.url], lambda: current["token"],
                                     renew)
    try:
        answers = await asyncio.gather(*(transport.request("GET", archive.url + f"frames/{i}")
                                         for i in range(8)))
    finally:
        await transport.aclose()
    assert [a.status for a in answers] == [200] * 8
    assert asked == ["stale"]
    sent = [h.get("authorization") for h in archive.headers]
    assert sent.count("Bearer stale") == 8 and sent.count("Bearer fresh") == 8


async def test_a_401_that_renewal_cannot_mend_is_answered(servers: tuple[Server, Server]) -> None:
    archive, _ = servers
    archive.valid = "never-issued"
    renewals: list[str | None] = []

    async def renew(rejected: str | None) -> str | None:
        renewals.append(rejected)
        return None  # signed out: no token to retry with

    transport = BearerTokenTransport(HttpxTransport(), [archive.url], lambda: "revoked", renew)
    try:
        answer = await transport.request("GET", archive.url + "studies")
    finally:
        await transport.aclose()
    assert answer.status == 401 and renewals == ["revoked"]
    assert len(archive.headers) == 1  # no retry without a new token
