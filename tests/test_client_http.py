"""DICOMwebClient over httpx against a real local HTTP server with scripted answers."""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from urllib.parse import urlsplit

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from support.static_trees import serving

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import (
    DicomJSONError,
    DICOMwebClient,
    DICOMwebConnectionError,
    DICOMwebTimeout,
    Frame,
    HTTPStatusError,
    MultipartError,
    StudyQuery,
)
from ohifpy.dicomweb.dicom_json import bulk_data_uris
from ohifpy.dicomweb.retry import MAX_DELAY, retry_delay
from ohifpy.dicomweb.transport import Response

pytestmark = pytest.mark.cpython_only  # httpx and a threaded HTTP server on sockets

JSON = "application/dicom+json"
STUDY = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}]},
}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    declared_length: int | None = None  # lie about Content-Length to cut the body short
    hang_up: bool = False  # close the connection without a word, as a keep-alive timeout does


@dataclass
class Recorded:
    request_line: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float = field(default_factory=time.monotonic)  # when the server read it


class ScriptedServer(ThreadingHTTPServer):
    """Answers each path with its scripted replies in turn (the last one repeats)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Recorded] = []

    def handle_error(self, request, client_address) -> None:
        pass  # the client hung up on a slow reply, as the timeout test wants

    def script(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def seen(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append(Recorded(self.requestline, path, headers, body))
        script = self.server.routes.get(path) or [Reply(404, b"no such route")]
        reply = script.pop(0) if len(script) > 1 else script[0]
        if callable(reply):
            reply = reply(headers, body)
        time.sleep(reply.delay)
        if reply.hang_up:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        length = len(reply.body) if reply.declared_length is None else reply.declared_length
        self.send_header("Content-Length", str(length))
        if reply.declared_length is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    with serving(ScriptedServer()) as srv:
        yield srv


_counter = iter(range(10**6))


@pytest.fixture
def root(server) -> str:
    """A fresh path prefix per test, so scripts never leak between tests."""
    prefix = f"/t{next(_counter)}"
    server.script(
        f"{prefix}/studies", Reply(200, json.dumps([STUDY]).encode(), {"Content-Type": JSON})
    )
    return prefix


def make_source(server, root, **options) -> DicomWebSource:
    options.setdefault("timeout", 5.0)
    return DicomWebSource.from_url(f"http://127.0.0.1:{server.server_port}{root}", **options)


@pytest.fixture
async def client(server, root):
    async with DICOMwebClient(make_source(server, root, maxRetries=2)) as c:
        yield c


async def still_works(client: DICOMwebClient) -> None:
    """The next request after an error succeeds on the same client."""
    (study,) = await client.search_for_studies()
    assert study.StudyInstanceUID == "1.2.3"


def multipart(parts: list[tuple[str, bytes]], boundary: str = "frame-boundary") -> bytes:
    out = b""
    for content_type, content in parts:
        out += f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


# QIDO-RS


async def test_search_for_studies_parses_json_and_sends_accept(server, root, client):
    (study,) = await client.search_for_studies()
    assert str(study.PatientName) == "Doe^J"
    (request,) = server.seen(f"{root}/studies")
    assert request.headers["accept"] == JSON
    assert request.request_line == f"GET {root}/studies?limit=101 HTTP/1.1"


async def test_query_string_reaches_the_server_exactly_as_encoded(server, root):
    query = StudyQuery(
        patient_name="O'Brien^Jo é",
        modalities_in_study=("CT", "MR"),
        study_description="a&b=c#d+e%f",
        study_date_from="20200101",
    )
    source = make_source(server, root, qidoSupportsIncludeField=True, supportsFuzzyMatching=True)
    async with DICOMwebClient(source) as client:
        await client.search_for_studies(query, fields=["00100040"], limit=5, offset=10)
    (request,) = server.seen(f"{root}/studies")
    assert request.request_line == (
        f"GET {root}/studies?PatientName=*O%27Brien^Jo%20%C3%A9*"
        "&StudyDescription=*a%26b%3Dc%23d%2Be%25f*"
        "&ModalitiesInStudy=CT,MR&StudyDate=20200101-&fuzzymatching=true"
        "&includefield=00081030,00080061,00201206,00201208,00080090,00100030,00100040"
        "&limit=5&offset=10 HTTP/1.1"
    )


async def test_strict_query_encoding_on_the_wire(server, root):
    async with DICOMwebClient(make_source(server, root, queryEncoding="strict")) as client:
        await client.search_for_studies(
            StudyQuery(patient_name="Doe^J", modalities_in_study=("CT", "MR"))
        )
    (request,) = server.seen(f"{root}/studies")
    assert request.request_line == (
        f"GET {root}/studies?PatientName=%2ADoe%5EJ%2A&ModalitiesInStudy=CT%2CMR&limit=101 HTTP/1.1"
    )


async def test_series_and_instance_searches_build_paths_and_filters(server, root):
    for path in (
        f"{root}/studies/1.2.3/series",
        f"{root}/studies/1.2.3/series/4.5/instances",
        f"{root}/instances",
    ):
        server.script(path, Reply(200, b"[]", {"Content-Type": JSON}))
    source = make_source(server, root, qidoSupportsIncludeField=True)
    async with DICOMwebClient(source, headers={"Authorization": "Bearer t0k"}) as client:
        assert await client.search_for_series("1.2.3", search_filters={"Modality": "CT"}) == []
        assert await client.search_for_instances("1.2.3", "4.5", limit=3) == []
        assert (
            await client.search_for_instances(
                search_filters={"SOPClassUID": "1.2.840.10008.5.1.4.1.1.2"}
            )
            == []
        )
        with pytest.raises(ValueError, match="series needs its study"):
            await client.search_for_instances(None, "4.5")
    assert server.seen(f"{root}/studies/1.2.3/series")[0].request_line == (
        f"GET {root}/studies/1.2.3/series?Modality=CT&includefield=0008103E,00080021 HTTP/1.1"
    )
    (instances,) = server.seen(f"{root}/studies/1.2.3/series/4.5/instances")
    assert instances.request_line.endswith("/instances?limit=3 HTTP/1.1")
    assert instances.headers["authorization"] == "Bearer t0k"
    assert server.seen(f"{root}/instances")[0].request_line == (
        f"GET {root}/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.2 HTTP/1.1"
    )


@pytest.mark.parametrize(
    "reply",
    [Reply(204), Reply(200, b""), Reply(200, b"  \n", {"Content-Type": JSON})],
    ids=["204", "empty", "whitespace"],
)
async def test_no_content_is_no_results(server, root, client, reply):
    server.script(f"{root}/studies", reply)
    assert await client.search_for_studies() == []


async def test_single_object_where_array_expected(server, root, client):
    server.script(f"{root}/studies", Reply(200, json.dumps(STUDY).encode(), {"Content-Type": JSON}))
    (study,) = await client.search_for_studies()
    assert study.StudyInstanceUID == "1.2.3"


async def test_html_instead_of_json_is_a_dicom_json_error(server, root, client):
    server.script(
        f"{root}/studies", Reply(200, b"<html>login</html>", {"Content-Type": "text/html"})
    )
    with pytest.raises(DicomJSONError,
                       match='answered text/html, not DICOM JSON: an HTML page "login"') as info:
        await client.search_for_studies()
    assert info.value.url.endswith(f"{root}/studies?limit=101")
    server.script(f"{root}/studies", Reply(200, json.dumps([STUDY]).encode()))
    await still_works(client)


# HTTP errors, retries, timeouts


async def test_404_is_http_status_error_with_detail(server, root, client):
    with pytest.raises(HTTPStatusError) as info:
        await client.retrieve_study_metadata("9.9")
    error = info.value
    assert error.status == 404
    assert error.url.endswith(f"{root}/studies/9.9/metadata")
    assert "HTTP 404 Not Found: no such route" in str(error)
    await still_works(client)


async def test_500_detail_is_safely_decoded_and_short(server, root, client):
    body = b"\xff\xfe boom\x00\x1b[31m\r\n" + b"x" * 1000
    server.script(f"{root}/studies/1/metadata", Reply(500, body))
    with pytest.raises(HTTPStatusError) as info:
        await client.retrieve_study_metadata("1")
    message = str(info.value)
    assert info.value.status == 500
    assert "\ufffd\ufffd boom" in message and "\x00" not in message and "\x1b" not in message
    assert message.count("x") <= 200
    await still_works(client)


async def test_an_html_error_page_is_told_by_its_title_not_its_markup(server, root, client):
    page = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>h1 {}</style>"
            b"</head><body><h1>Bad Gateway</h1><hr>nginx</body></html>")
    server.script(f"{root}/studies/1/metadata", Reply(502, page, {"Content-Type": "text/html"}))
    with pytest.raises(HTTPStatusError, match='HTTP 502 Bad Gateway: an HTML page "502 Bad '
                                              'Gateway"') as info:
        await client.retrieve_study_metadata("1")
    assert "<" not in str(info.value)
    await still_works(client)


async def test_503_then_200_is_retried(server, root, client):
    server.script(
        f"{root}/studies",
        Reply(503, b"busy"),
        Reply(200, json.dumps([STUDY]).encode(), {"Content-Type": JSON}),
    )
    await still_works(client)
    assert len(server.seen(f"{root}/studies")) == 2


async def test_429_honours_retry_after(server, root, client):
    server.script(
        f"{root}/studies",
        Reply(429, b"slow down", {"Retry-After": "1"}),
        Reply(200, json.dumps([STUDY]).encode(), {"Content-Type": JSON}),
    )
    await still_works(client)
    first, second = server.seen(f"{root}/studies")
    assert second.arrived - first.arrived >= 0.95  # the retry waited as it was told


async def test_retries_are_bounded_then_the_status_error(server, root, client):
    server.script(f"{root}/studies", Reply(504, b"gateway timeout"))
    with pytest.raises(HTTPStatusError) as info:
        await client.search_for_studies()
    assert info.value.status == 504
    tries = server.seen(f"{root}/studies")
    assert len(tries) == 3  # maxRetries=2
    gaps = [b.arrived - a.arrived for a, b in pairwise(tries)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # backoff doubles (the waits: retry_delay)
    server.script(f"{root}/studies", Reply(200, json.dumps([STUDY]).encode()))
    await still_works(client)


def test_retry_delay_is_capped_and_ignores_dates():
    def delay(header: str, attempt: int = 0) -> float:
        return retry_delay(
            Response(503, "u", headers={"retry-after": header} if header else {}), attempt
        )

    assert delay("3600") == MAX_DELAY
    assert delay("2.5") == 2.5
    assert delay("") == 0.1 and delay("", 3) == pytest.approx(0.8)
    assert delay("Wed, 21 Oct 2015 07:28:00 GMT", 1) == pytest.approx(0.2)
    assert delay("-5") == 0.1 and delay("nan") == 0.1
    assert delay("", 20) == MAX_DELAY


async def test_timeout_then_next_request_works(server, root):
    server.script(f"{root}/studies/1/metadata", Reply(200, b"[]", delay=1.5))
    async with DICOMwebClient(make_source(server, root, timeout=0.3)) as client:
        with pytest.raises(DICOMwebTimeout, match="timed out after 0.3 s") as info:
            await client.retrieve_study_metadata("1")
        assert info.value.url.endswith("/studies/1/metadata")
        await still_works(client)


async def test_refused_connection():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with DICOMwebClient(DicomWebSource.from_url(f"http://127.0.0.1:{port}/dw")) as client:
        with pytest.raises(DICOMwebConnectionError) as info:
            await client.search_for_studies()
    assert info.value.url.startswith(f"http://127.0.0.1:{port}/dw/studies")


async def test_body_cut_short_by_the_server_is_a_connection_error(server, root, client):
    server.script(f"{root}/studies/1/metadata", Reply(200, b"[{", declared_length=1000))
    with pytest.raises(DICOMwebConnectionError):
        await client.retrieve_study_metadata("1")
    await still_works(client)


async def test_a_get_the_server_hung_up_on_is_sent_once_more(server, root, client):
    """A keep-alive connection closed just as the request went out: a browser resends."""
    path = f"{root}/studies/1/metadata"
    server.script(path, Reply(hang_up=True), Reply(200, b"[]", {"Content-Type": JSON}))
    assert await client.retrieve_study_metadata("1") == []
    assert len(server.seen(path)) == 2


async def test_a_get_hung_up_on_twice_is_a_connection_error(server, root, client):
    path = f"{root}/studies/1/metadata"
    server.script(path, Reply(hang_up=True))
    with pytest.raises(DICOMwebConnectionError, match="disconnected"):
        await client.retrieve_study_metadata("1")
    assert len(server.seen(path)) == 2
    await still_works(client)


async def test_a_store_the_server_hung_up_on_is_not_sent_again(server, root, client):
    """STOW-RS is not idempotent: the server may have stored it, so the user hears."""
    server.script(f"{root}/studies", Reply(hang_up=True))
    with pytest.raises(DICOMwebConnectionError, match="POST failed"):
        await client.store_instances([instance("1.2.3")])
    assert len([r for r in server.seen(f"{root}/studies") if r.request_line.startswith("POST")]) == 1


# WADO-RS frames

FRAMES_PATH = "/studies/1.2/series/3.4/instances/5.6/frames/1,2,3"


async def test_frames_with_and_without_transfer_syntax_params(server, root, client):
    body = multipart(
        [
            ("image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70", b"\xff\xd8lossless"),
            ("image/jpeg", b"\xff\xd8baseline"),
            ("application/octet-stream", b"\x00\x01\x02\x03"),
        ]
    )
    server.script(
        root + FRAMES_PATH,
        Reply(
            200,
            body,
            {"Content-Type": 'multipart/related; type="image/jpeg"; boundary="frame-boundary"'},
        ),
    )
    frames = await client.retrieve_instance_frames("1.2", "3.4", "5.6", [1, 2, 3])
    assert frames == [
        Frame(
            1,
            b"\xff\xd8lossless",
            "1.2.840.10008.1.2.4.70",
            "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70",
        ),
        Frame(2, b"\xff\xd8baseline", "1.2.840.10008.1.2.4.50", "image/jpeg"),
        Frame(3, b"\x00\x01\x02\x03", "1.2.840.10008.1.2.1", "application/octet-stream"),
    ]
    (request,) = server.seen(root + FRAMES_PATH)
    assert (
        request.headers["accept"]
        == 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    )


@pytest.mark.parametrize(
    ("options", "syntax", "accept"),
    [
        (
            {},
            "1.2.840.10008.1.2.4.80",
            'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80',
        ),
        (
            {},
            "1.2.840.10008.1.2.1",
            ('multipart/related; type="application/octet-stream"; '
            "transfer-syntax=1.2.840.10008.1.2.1"),
        ),
        (
            {"requestTransferSyntaxUID": "1.2.840.10008.1.2.4.90"},
            None,
            'multipart/related; type="image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.90',
        ),
        (
            {"requestTransferSyntaxUID": "1.2.840.10008.1.2.4.201"},
            None,
            'multipart/related; type="image/jphc"; transfer-syntax=1.2.840.10008.1.2.4.201',
        ),
        (
            {"omitQuotationForMultipartRequest": True},
            "1.2.840.10008.1.2.5",
            "multipart/related; type=image/x-dicom-rle; transfer-syntax=1.2.840.10008.1.2.5",
        ),
        (
            {"omitQuotationForMultipartRequest": True},
            None,
            "multipart/related; type=application/octet-stream; transfer-syntax=*",
        ),
        (
            {
                "acceptHeader": [
                    "multipart/related; type=image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"
                ]
            },
            None,
            "multipart/related; type=image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50",
        ),
        (
            {"acceptHeader": ["a/b"], "requestTransferSyntaxUID": "1.2.840.10008.1.2.4.50"},
            "1.2.840.10008.1.2.4.57",
            'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.57',
        ),
    ],
)
async def test_frames_accept_header(server, root, options, syntax, accept):
    path = f"{root}/studies/1/series/2/instances/3/frames/1"
    server.script(path, Reply(200, b"\x00\x00", {"Content-Type": "application/octet-stream"}))
    async with DICOMwebClient(make_source(server, root, **options)) as client:
        (frame,) = await client.retrieve_instance_frames(
            "1", "2", "3", [1], transfer_syntax_uid=syntax
        )
    assert server.seen(path)[0].headers["accept"] == accept
    assert (frame.transfer_syntax_uid, frame.data) == ("1.2.840.10008.1.2.1", b"\x00\x00")


async def test_bad_frame_arguments(client):
    with pytest.raises(ValueError, match="frame numbers"):
        await client.retrieve_instance_frames("1", "2", "3", [0])
    with pytest.raises(ValueError, match="frame numbers"):
        await client.retrieve_instance_frames("1", "2", "3", [])
    with pytest.raises(ValueError, match="not a transfer syntax"):
        await client.retrieve_instance_frames("1", "2", "3", [1], transfer_syntax_uid="1.2.3.4")
    with pytest.raises(ValueError, match="not a UID"):
        await client.retrieve_instance_frames("1", "..", "3", [1])


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"--frame-boundary\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01",
            "multipart/related; boundary=frame-boundary",
            "truncated",
        ),
        (
            multipart([("application/octet-stream", b"\x00")], "actual"),
            "multipart/related; boundary=announced",
            "not found",
        ),
        (
            multipart([("application/octet-stream", b"\x00")] * 2),
            "multipart/related; boundary=frame-boundary",
            "asked for 3 frame",
        ),
        (
            multipart([("application/octet-stream", b"\x00")] * 3),
            "application/octet-stream",
            "multipart/related answer as Content-Type 'application/octet-stream'",
        ),
    ],
    ids=["truncated", "wrong-boundary", "too-few-parts", "mislabelled"],
)
async def test_malformed_frames_responses(server, root, client, body, content_type, message):
    server.script(root + FRAMES_PATH, Reply(200, body, {"Content-Type": content_type}))
    with pytest.raises(MultipartError, match=message) as info:
        await client.retrieve_instance_frames("1.2", "3.4", "5.6", [1, 2, 3])
    assert info.value.url.endswith(FRAMES_PATH)
    await still_works(client)


async def test_single_part_frame_and_part_without_syntax(server, root, client):
    path = f"{root}/studies/1/series/2/instances/3/frames/7"
    server.script(path, Reply(200, b"\xff\x4f\xff\x51", {"Content-Type": "image/jphc"}))
    (frame,) = await client.retrieve_instance_frames("1", "2", "3", [7])
    assert frame == Frame(7, b"\xff\x4f\xff\x51", "1.2.840.10008.1.2.4.201", "image/jphc")
    server.script(path, Reply(200, b"<html/>", {"Content-Type": "text/html"}))
    with pytest.raises(Exception, match="names no transfer syntax"):
        await client.retrieve_instance_frames("1", "2", "3", [7])


# WADO-RS metadata and bulk data


async def test_relative_bulk_data_uris_and_load_bulkdata(server, root, client):
    instance = f"{root}/studies/1.2/series/3.4/instances/5.6"
    metadata = {
        "00080018": {"vr": "UI", "Value": ["5.6"]},
        "7FE00010": {"vr": "OW", "BulkDataURI": "bulk/7fe00010"},
        "00283010": {
            "vr": "SQ",
            "Value": [
                {
                    "00283002": {"vr": "US", "Value": [3, 0, 16]},
                    "00283006": {"vr": "US", "BulkDataURI": "bulk/lut"},
                }
            ],
        },
        "60003000": {
            "vr": "OW",
            "BulkDataURI": f"http://127.0.0.1:{server.server_port}{root}/abs/overlay",
        },
    }
    server.script(
        f"{instance}/metadata", Reply(200, json.dumps([metadata]).encode(), {"Content-Type": JSON})
    )
    lut = np.array([0, 32768, 65535], "<u2").tobytes()
    server.script(
        f"{instance}/bulk/lut",
        Reply(
            200,
            multipart([("application/octet-stream", lut)], "bb"),
            {"Content-Type": 'multipart/related; type="application/octet-stream"; boundary=bb'},
        ),
    )
    server.script(
        f"{root}/abs/overlay", Reply(200, b"\x0f\xf0", {"Content-Type": "application/octet-stream"})
    )

    ds = await client.retrieve_instance_metadata("1.2", "3.4", "5.6")
    assert bulk_data_uris(ds.VOILUTSequence[0]) == {
        0x00283006: f"http://127.0.0.1:{server.server_port}{instance}/bulk/lut"
    }
    assert await client.load_bulkdata(ds) is ds
    assert list(ds.VOILUTSequence[0].LUTData) == [0, 32768, 65535]
    assert ds[0x60003000].value == b"\x0f\xf0"
    assert server.seen(f"{instance}/bulk/7fe00010") == []  # pixel data comes as frames
    assert 0x7FE00010 in bulk_data_uris(ds)
    accept = server.seen(f"{instance}/bulk/lut")[0].headers["accept"]
    assert accept == 'multipart/related; type="application/octet-stream"'
    assert await client.retrieve_bulkdata("abs/overlay") == b"\x0f\xf0"  # relative to wadoRoot


async def test_metadata_levels(server, root, client):
    server.script(f"{root}/studies/1/metadata", Reply(200, json.dumps([STUDY, STUDY]).encode()))
    server.script(f"{root}/studies/1/series/2/metadata", Reply(200, json.dumps(STUDY).encode()))
    server.script(f"{root}/studies/1/series/2/instances/3/metadata", Reply(200, b"[]"))
    assert len(await client.retrieve_study_metadata("1")) == 2
    assert len(await client.retrieve_series_metadata("1", "2")) == 1
    with pytest.raises(DicomJSONError, match="holds no dataset"):
        await client.retrieve_instance_metadata("1", "2", "3")


# rendered and thumbnails


async def test_rendered_with_window_and_viewport(server, root, client):
    path = f"{root}/studies/1/series/2/instances/3/frames/4/rendered"
    server.script(path, Reply(200, b"\x89PNG", {"Content-Type": "image/png"}))
    png = await client.retrieve_rendered(
        "1", "2", "3", 4, window=(40.0, 400.5, "linear"), viewport=(128, 96)
    )
    assert png == b"\x89PNG"
    (request,) = server.seen(path)
    assert request.request_line == f"GET {path}?window=40,400.5,linear&viewport=128,96 HTTP/1.1"
    assert request.headers["accept"] == "image/png"
    with pytest.raises(ValueError, match="frame number needs"):
        await client.retrieve_rendered("1", "2", None, 4)


async def test_thumbnail_404_then_study_thumbnail(server, root, client):
    with pytest.raises(HTTPStatusError, match="404"):
        await client.retrieve_thumbnail("1", "2")
    server.script(
        f"{root}/studies/1/thumbnail", Reply(200, b"\xff\xd8", {"Content-Type": "image/jpeg"})
    )
    assert (
        await client.retrieve_thumbnail("1", media_type="image/jpeg", viewport=(64, 64))
        == b"\xff\xd8"
    )
    assert server.seen(f"{root}/studies/1/thumbnail")[0].request_line.endswith(
        "/thumbnail?viewport=64,64 HTTP/1.1"
    )


# STOW-RS


def instance(study_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.PatientName = "Stow^Test"
    return ds


def stow_server_reply(headers: dict[str, str], body: bytes) -> Reply:
    """Parse the STOW body with the standard library's MIME parser, not ours."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + body
    )
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/dicom"
    items = []
    for part in message.iter_parts():
        assert part.get_content_type() == "application/dicom"
        ds = pydicom.dcmread(io.BytesIO(part.get_payload(decode=True)))
        items.append(
            {
                "00081150": {"vr": "UI", "Value": [ds.SOPClassUID]},
                "00081155": {"vr": "UI", "Value": [ds.SOPInstanceUID]},
            }
        )
    answer = {"00081199": {"vr": "SQ", "Value": items}}
    return Reply(200, json.dumps(answer).encode(), {"Content-Type": JSON})


async def test_store_instances_body_parsed_back_by_the_server(server, root, client):
    server.script(f"{root}/studies/1.9", stow_server_reply)
    datasets = [instance("1.9"), instance("1.9")]
    raw = io.BytesIO()
    pydicom.dcmwrite(raw, instance("1.9"), enforce_file_format=True)
    response = await client.store_instances([*datasets, raw.getvalue()], "1.9")
    stored = [item.ReferencedSOPInstanceUID for item in response.ReferencedSOPSequence]
    assert stored[:2] == [d.SOPInstanceUID for d in datasets] and len(stored) == 3
    (request,) = server.seen(f"{root}/studies/1.9")
    assert request.request_line.startswith("POST ")
    assert request.headers["accept"] == JSON


async def test_store_conflict_names_the_failed_sop(server, root, client):
    failed = {
        "00081198": {
            "vr": "SQ",
            "Value": [
                {
                    "00081155": {"vr": "UI", "Value": ["1.2.3.4"]},
                    "00081197": {"vr": "US", "Value": [0xA700]},
                },
                {
                    "00081155": {"vr": "UI", "Value": ["1.2.3.5"]},
                    "00081197": {"vr": "US", "Value": [0xC122]},
                },
            ],
        }
    }
    server.script(
        f"{root}/studies", Reply(409, json.dumps(failed).encode(), {"Content-Type": JSON})
    )
    with pytest.raises(HTTPStatusError) as info:
        await client.store_instances([instance("1.2")])
    assert info.value.status == 409
    assert "1.2.3.4: out of resources (0xA700)" in str(info.value)
    assert "1.2.3.5: transfer syntax not supported (0xC122)" in str(info.value)


async def test_store_unquoted_type_and_bad_input(server, root):
    path = f"{root}/studies"
    server.script(path, Reply(200, b"{}", {"Content-Type": JSON}))
    async with DICOMwebClient(
        make_source(server, root, omitQuotationForMultipartRequest=True)
    ) as client:
        assert len(await client.store_instances([b"DICM-bytes"])) == 0
        assert (
            server.seen(path)[-1]
            .headers["content-type"]
            .startswith("multipart/related; type=application/dicom; boundary=")
        )
        bare = Dataset()
        bare.SOPInstanceUID = "7.7"
        with pytest.raises(ValueError, match=r"instance 1 \(7.7\) cannot be written"):
            await client.store_instances([bare])
        with pytest.raises(ValueError, match="at least one"):
            await client.store_instances([])
