"""Bounded memory (issue 12 item 3): every size a server, a file or a codestream claims is
checked against what the metadata says before it is allocated, and only the frame or
series that lies fails, with a message naming the limit; the rest keeps working.

HTTP behaviour runs against a real local server (sockets, threads): what the client reads,
how often it asks, and when it hangs up are what the server sees.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from reference import frames_of, load, synthetic_instance
from support.static_trees import serving

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient, ResponseTooLarge
from ohifpy.dicomweb.limits import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_JSON_BODY_BYTES,
    PixelDataSize,
    check_content_length,
    check_received_length,
)
from ohifpy.dicomweb.part10 import read_instance
from ohifpy.imaging import (
    DecodedFrame,
    FrameDecodeError,
    PixelModule,
    PixelModuleError,
    decode_frame,
    register_decoder,
)
from ohifpy.imaging.codecs import _DECODERS
from ohifpy.imaging.pixel_module import MAX_FRAME_BYTES, MAX_FRAMES, MAX_PIXEL_DATA_BYTES
from ohifpy.model import Instance, display_sets_from_instances
from ohifpy.worker_api import WorkerAPI

MiB = 1 << 20
JSON = "application/dicom+json"

# --- a real server whose routes are functions of the request ------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


class Site(ThreadingHTTPServer):
    """Routes by path; counts the requests per path and the bytes each streamed route sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.streamed: dict[str, int] = {}  # path -> bytes an endless body got out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up on a body it refused: that is the point


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.hits[path] += 1
        route = self.server.routes.get(path)
        if route is None:
            send(self, 404, b"no such route")
        else:
            route(self)

    def log_message(self, *args: Any) -> None:
        pass


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
         content_type: str = "application/octet-stream") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def reply(status: int, body: bytes, content_type: str = "application/octet-stream") -> Route:
    return lambda handler: send(handler, status, body, content_type)


SAFETY_STOP = 256 * MiB
"""An endless body stops here: a client that read it all would still end the test."""


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A chunked body that never ends: only a client that stops reading ends it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"\0" * (64 * 1024)
    sent = 0
    try:
        while sent < SAFETY_STOP:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass  # the client hung up
    finally:
        handler.server.streamed[urlsplit(handler.path).path] = sent
        handler.close_connection = True


def claims_length(length: int) -> Route:
    """Announces ``length`` bytes and sends a few: reading it would wait for the rest."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(b"\0" * 1024)
        handler.close_connection = True

    return route


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serving(Site()) as server:
        yield server


_prefix = iter(range(10**6))


@pytest.fixture
def root(site: Site) -> str:
    """A fresh path prefix per test, so routes never leak between tests."""
    return f"/t{next(_prefix)}"


# --- item 1: response bodies are capped -----------------------------------------------------


@pytest.mark.cpython_only
async def test_httpx_stops_reading_an_endless_body_past_its_limit(site: Site, root: str) -> None:
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    site.routes[f"{root}/endless"] = endless
    transport = HttpxTransport()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            await transport.request("GET", f"{site.url}{root}/endless", max_bytes=MiB)
    finally:
        await transport.aclose()
    message = str(caught.value)
    assert f"{root}/endless" in message and "1 MiB" in message and "1048576 bytes" in message
    assert caught.value.limit == MiB
    for _ in range(200):  # the server thread notices the hang-up at its next write
        if f"{root}/endless" in site.streamed:
            break
        await asyncio.sleep(0.05)
    assert site.streamed[f"{root}/endless"] < SAFETY_STOP // 4  # it stopped reading


@pytest.mark.cpython_only
async def test_httpx_refuses_by_content_length_before_reading(site: Site, root: str) -> None:
    """A body announced as 10 GiB is refused at once, not waited for (it never comes)."""
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    site.routes[f"{root}/huge"] = claims_length(10 << 30)
    transport = HttpxTransport()
    try:
        with pytest.raises(ResponseTooLarge, match="Content-Length"):
            await transport.request("GET", f"{site.url}{root}/huge", max_bytes=MiB, timeout=30)
        site.routes[f"{root}/small"] = reply(200, b"x" * 1000)
        response = await transport.request("GET", f"{site.url}{root}/small", max_bytes=1000)
        assert response.body == b"x" * 1000  # exactly the limit is fine
    finally:
        await transport.aclose()


def test_the_size_checks_fetch_uses_too() -> None:
    """FetchTransport (Pyodide only) refuses with these before and after reading."""
    check_content_length({"content-length": "1000"}, 1000, "GET", "http://h/x")
    check_content_length({}, 10, "GET", "http://h/x")  # unknown: read, then checked
    check_content_length({"content-length": "bogus"}, 10, "GET", "http://h/x")
    with pytest.raises(ResponseTooLarge, match=r"Content-Length of 1001 bytes.*http://h/x"):
        check_content_length({"content-length": "1001"}, 1000, "GET", "http://h/x")
    check_received_length(1000, 1000, "GET", "http://h/x")
    with pytest.raises(ResponseTooLarge, match=r"1000 bytes"):
        check_received_length(1001, 1000, "GET", "http://h/x")


def test_limits_follow_the_metadata() -> None:
    size = PixelDataSize(frame_bytes=512 * 512 * 2, number_of_frames=100)
    assert size.frames_limit(1) == 2 * 512 * 512 * 2 + MiB
    assert size.frames_limit(3) == 3 * 2 * 512 * 512 * 2 + MiB
    assert size.instance_limit() > size.frames_limit(100)
    assert MAX_JSON_BODY_BYTES <= DEFAULT_MAX_BODY_BYTES


def source(site: Site, root: str, **options: Any) -> DicomWebSource:
    return DicomWebSource.from_url(f"{site.url}{root}/dw", timeout=10.0, **options)


@pytest.mark.cpython_only
async def test_a_frame_bigger_than_its_metadata_allows_is_refused(site: Site, root: str) -> None:
    frames = f"{root}/dw/studies/1/series/2/instances/3/frames/1"
    site.routes[frames] = reply(200, b"\0" * (2 * MiB))
    async with DICOMwebClient(source(site, root)) as client:
        size = PixelDataSize(frame_bytes=64 * 64, number_of_frames=1)
        with pytest.raises(ResponseTooLarge) as caught:
            await client.retrieve_instance_frames("1", "2", "3", [1], pixel_size=size)
        assert frames in str(caught.value) and caught.value.limit == size.frames_limit(1)
        (frame,) = await client.retrieve_instance_frames("1", "2", "3", [1])  # no metadata
        assert len(frame.data) == 2 * MiB


@pytest.mark.cpython_only
async def test_metadata_bodies_have_their_own_cap(site: Site, root: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ohifpy.dicomweb.client.MAX_JSON_BODY_BYTES", 4096)
    site.routes[f"{root}/dw/studies/1/metadata"] = reply(200, b"[" + b" " * 5000 + b"]", JSON)
    async with DICOMwebClient(source(site, root)) as client:
        with pytest.raises(ResponseTooLarge, match="4096 bytes"):
            await client.retrieve_study_metadata("1")


# --- item 2: one instance download serves every frame after a failing frames endpoint ------


def multiframe(count: int, **attributes: Any) -> Dataset:
    """A small native multi-frame instance: frame n holds the value n everywhere."""
    stored = np.stack([np.full((4, 6), n, np.uint8) for n in range(1, count + 1)])
    ds = synthetic_instance(stored[0], NumberOfFrames=count, **attributes)
    ds.PixelData = stored.tobytes()
    return ds


def part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_reply(data: bytes) -> Route:
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data
            + f"\r\n--{boundary}--\r\n".encode())
    return reply(200, body, f'multipart/related; type="application/dicom"; boundary={boundary}')


@pytest.mark.cpython_only
async def test_frames_5xx_fallback_downloads_the_instance_once(site: Site, root: str) -> None:
    ds = multiframe(6)
    instance = f"{root}/dw/studies/1/series/2/instances/3"
    for n in range(1, 7):
        site.routes[f"{instance}/frames/{n}"] = reply(500, b"cannot transcode")
    site.routes[instance] = dicom_reply(part10(ds))
    size = PixelDataSize(frame_bytes=24, number_of_frames=6)
    async with DICOMwebClient(source(site, root)) as client:
        together = await asyncio.gather(*(
            client.retrieve_instance_frames("1", "2", "3", [n], pixel_size=size)
            for n in (1, 2, 3)))
        one_by_one = [await client.retrieve_instance_frames("1", "2", "3", [n], pixel_size=size)
                      for n in (4, 5, 6)]
    for n, (frame,) in enumerate([*together, *one_by_one], start=1):
        assert frame.frame_number == n and frame.data == bytes([n]) * 24
        assert frame.transfer_syntax_uid == ExplicitVRLittleEndian
    assert site.hits[instance] == 1
    assert sum(site.hits[f"{instance}/frames/{n}"] for n in range(1, 7)) <= 3


@pytest.mark.cpython_only
async def test_a_failed_fallback_is_tried_again(site: Site, root: str) -> None:
    instance = f"{root}/dw/studies/1/series/2/instances/3"
    site.routes[f"{instance}/frames/1"] = reply(500, b"no")
    site.routes[instance] = reply(502, b"bad gateway")
    async with DICOMwebClient(source(site, root)) as client:
        with pytest.raises(Exception, match="HTTP 500"):
            await client.retrieve_instance_frames("1", "2", "3", [1])
        site.routes[instance] = dicom_reply(part10(multiframe(1)))
        (frame,) = await client.retrieve_instance_frames("1", "2", "3", [1])
    assert frame.data == b"\1" * 24
    assert site.hits[instance] == 2


def test_instances_kept_for_their_frames_are_bounded_by_bytes() -> None:
    """The client keeps fallback instances by size; the two newest stay (two viewports may
    scroll two of them), older ones go once over budget."""
    from ohifpy.lru import SizedLRU

    cache: SizedLRU[str, bytes] = SizedLRU(100, len, keep=2)
    cache.put("a", b"x" * 60)
    cache.put("b", b"x" * 60)
    assert len(cache) == 2 and cache.bytes == 120  # over budget, but only the newest two
    assert cache.get("a") is not None  # now the most recently used
    cache.put("c", b"x" * 10)
    assert "b" not in cache and set(map(cache.get, "ac")) == {b"x" * 60, b"x" * 10}
    cache.resize(0)
    assert len(cache) == 0 and cache.bytes == 0


# --- item 3: deflated instances inflate within a limit -------------------------------------


def deflated_bomb(inflated_bytes: int) -> bytes:
    """A deflated Part 10 file whose dataset inflates to ``inflated_bytes`` and more."""
    ds = multiframe(1)
    ds.add_new(0x00091010, "LO", "bomb")  # private creator
    ds.add_new(0x00091011, "OB", b"\0" * inflated_bytes)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return part10(ds)


def test_a_deflated_instance_inflates_within_its_limit() -> None:
    bomb = deflated_bomb(8 * MiB)
    assert len(bomb) < 64 * 1024
    with pytest.raises(ValueError, match=r"inflates to more than 1048576 bytes \(1 MiB\)"):
        read_instance(bomb, max_inflated_bytes=MiB)
    ds = read_instance(bomb)  # within the default limit
    assert ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert len(ds[0x00091011].value) == 8 * MiB and ds.NumberOfFrames == 1


def test_a_corrupt_deflated_stream_is_a_value_error() -> None:
    data = bytearray(deflated_bomb(1024))
    with pytest.raises(ValueError, match="deflate"):
        read_instance(bytes(data[: len(data) - 40]))  # truncated stream
    cut = len(data) - 60
    data[cut:] = bytes(len(data) - cut)
    data[400:420] = b"\xff" * 20  # garbage in the stream
    with pytest.raises(ValueError):
        read_instance(bytes(data))


def test_pydicoms_deflated_test_file_reads_as_before() -> None:
    ds = read_instance(Path(pydicom.data.get_testdata_file("image_dfl.dcm")).read_bytes())
    assert ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert ds.pixel_array.shape == (512, 512)


@pytest.mark.cpython_only
async def test_the_fallback_instance_inflates_within_the_metadata_limit(
        site: Site, root: str) -> None:
    instance = f"{root}/dw/studies/1/series/2/instances/3"
    site.routes[f"{instance}/frames/1"] = reply(500, b"no")
    site.routes[instance] = dicom_reply(deflated_bomb(64 * MiB))
    size = PixelDataSize(frame_bytes=24, number_of_frames=1)
    async with DICOMwebClient(source(site, root)) as client:
        with pytest.raises(Exception, match="inflates to more than") as caught:
            await client.retrieve_instance_frames("1", "2", "3", [1], pixel_size=size)
    assert str(size.instance_limit()) in str(caught.value)


@pytest.mark.cpython_only
async def test_a_gzipped_static_file_inflates_within_its_limit(
        site: Site, root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A static tree's ``metadata.gz`` served as plain bytes is gunzipped here: a few KB
    claiming gigabytes stop at the limit."""
    import gzip

    from ohifpy.datasources.static_wado import StaticWadoDataSource

    monkeypatch.setattr("ohifpy.datasources.static_wado.MAX_JSON_BODY_BYTES", MiB)
    metadata = f"{root}/dw/studies/1/series/2/metadata"
    site.routes[metadata] = reply(200, gzip.compress(b"[" + b" " * (4 * MiB) + b"]"))
    site.routes[f"{root}/dw/studies/1/series/3/metadata"] = reply(200, gzip.compress(b"[]"))
    async with StaticWadoDataSource(source(site, root, staticWado=True)) as static:
        with pytest.raises(ResponseTooLarge, match=r"gzipped body inflates to more than "
                                                   r"1048576 bytes") as caught:
            await static.retrieve_metadata_json("1", "2")
        assert metadata in str(caught.value)
        objects, _ = await static.retrieve_metadata_json("1", "3")  # the next one still reads
        assert objects == []


# --- item 4: a codestream's claimed size is checked before any decoder allocates it --------


def j2k_frame(rows: int = 64, columns: int = 64) -> bytes:
    stored = np.arange(rows * columns, dtype=np.uint16).reshape(rows, columns)
    ds = synthetic_instance(stored)
    ds.compress(JPEG2000Lossless)
    return frames_of(ds)[0]


def with_siz(codestream: bytes, width: int, height: int) -> bytes:
    """The codestream with its SIZ image and tile size replaced."""
    assert codestream[:4] == b"\xff\x4f\xff\x51"
    data = bytearray(codestream)
    struct.pack_into(">II", data, 8, width, height)  # Xsiz, Ysiz
    struct.pack_into(">II", data, 24, width, height)  # XTsiz, YTsiz
    return bytes(data)


class Spy:
    """A decoder that records being called (it must not be for a lying codestream)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes, pixel: PixelModule) -> DecodedFrame:
        self.calls += 1
        return DecodedFrame(np.zeros((pixel.rows, pixel.columns), np.uint16), "MONOCHROME2")


@pytest.fixture
def spy_decoder() -> Iterator[Callable[[str], Spy]]:
    saved = dict(_DECODERS)

    def install(syntax: str) -> Spy:
        spy = Spy()
        register_decoder(syntax, spy)
        return spy

    yield install
    _DECODERS.clear()
    _DECODERS.update(saved)


GRAY16 = PixelModule(64, 64, 1, 16, 16, 15, 0, "MONOCHROME2")


@pytest.mark.cpython_only  # the JPEG 2000 encoder (pylibjpeg-openjpeg)
def test_a_small_j2k_claiming_65535_squared_never_reaches_the_decoder(spy_decoder) -> None:
    bomb = with_siz(j2k_frame(), 65535, 65535)
    assert len(bomb) < 4096
    spy = spy_decoder(JPEG2000Lossless)
    with pytest.raises(FrameDecodeError, match=r"65535x65535 .* metadata says 64x64"):
        decode_frame(bomb, JPEG2000Lossless, GRAY16)
    assert spy.calls == 0
    decode_frame(j2k_frame(), JPEG2000Lossless, GRAY16)  # the truthful one goes through
    assert spy.calls == 1


@pytest.mark.cpython_only  # the JPEG 2000 encoder (pylibjpeg-openjpeg)
def test_a_j2k_claiming_wider_samples_than_allocated_is_refused(spy_decoder) -> None:
    data = bytearray(j2k_frame())
    assert data[42] & 0x7F == 15  # Ssiz of the one component: 16 bits
    spy = spy_decoder(JPEG2000Lossless)
    data[42] = 37  # 38-bit samples: four times the metadata's container
    with pytest.raises(FrameDecodeError, match="claims 38-bit samples.* allocates 16 bits"):
        decode_frame(bytes(data), JPEG2000Lossless, GRAY16)
    with pytest.raises(FrameDecodeError, match="length"):
        decode_frame(j2k_frame()[:41] + b"\xff\xd9", JPEG2000Lossless, GRAY16)
    assert spy.calls == 0


@pytest.mark.parametrize(
    ("name", "syntax"),
    [("SC_rgb_jpeg_dcmtk.dcm", JPEGBaseline8Bit), ("MR_small_jpeg_ls_lossless.dcm", JPEGLSLossless),
     ("MR_small_jp2klossless.dcm", JPEG2000Lossless), ("JPEG2000.dcm", JPEG2000Lossless),
     ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"), ("GDCMJ2K_TextGBR.dcm", JPEG2000Lossless)],
)
def test_real_codestreams_claim_their_metadata_size(spy_decoder, name: str, syntax: str) -> None:
    ds = load(name)
    spy = spy_decoder(syntax)
    pixel = PixelModule.from_dataset(ds)
    frame = frames_of(ds)[0]
    with pytest.raises(FrameDecodeError):  # the spy's answer does not fit: it was called
        decode_frame(frame, syntax, PixelModule(pixel.rows, pixel.columns, 3, 8, 8, 7, 0, "RGB")
                     if pixel.samples_per_pixel == 1 else GRAY16)
    assert spy.calls == 0  # a different metadata size is refused first
    try:
        decode_frame(frame, syntax, pixel)
    except FrameDecodeError as exc:  # the spy's grey frame may not fit a colour one
        assert "decoder returned" in str(exc)
    assert spy.calls == 1


@pytest.mark.parametrize("syntax", [JPEGBaseline8Bit, JPEGLSLossless, JPEG2000Lossless,
                                    "1.2.840.10008.1.2.4.201"])
def test_a_codestream_without_its_header_is_refused(spy_decoder, syntax: str) -> None:
    spy = spy_decoder(syntax)
    with pytest.raises(FrameDecodeError, match="no .* header|not a"):
        decode_frame(b"\0" * 64 + b"\xff\xd9", syntax, GRAY16)
    assert spy.calls == 0


def test_rle_segments_that_cannot_fit_the_metadata_are_refused(spy_decoder) -> None:
    spy = spy_decoder(RLELossless)
    header = struct.pack("<16I", 15, *range(64, 64 + 15 * 2, 2))  # a 16-bit sample has 2
    with pytest.raises(FrameDecodeError, match="lists 15 segments.* has 2"):
        decode_frame(header + b"\0" * 32, RLELossless, GRAY16)
    assert spy.calls == 0


# --- item 5: Rows x Columns x frames is capped as a product --------------------------------


def test_pixel_module_caps_the_frame_and_the_instance() -> None:
    with pytest.raises(PixelModuleError, match=r"65535x65535 .* more than"):
        PixelModule(65535, 65535, 1, 16, 16, 15, 0, "MONOCHROME2")
    with pytest.raises(PixelModuleError, match="NumberOfFrames"):
        PixelModule(512, 512, 1, 16, 16, 15, 0, "MONOCHROME2", number_of_frames=MAX_FRAMES + 1)
    frames = MAX_PIXEL_DATA_BYTES // (4096 * 4096 * 2) + 1
    with pytest.raises(PixelModuleError, match="pixel data"):
        PixelModule(4096, 4096, 1, 16, 16, 15, 0, "MONOCHROME2", number_of_frames=frames)
    PixelModule(8192, 8192, 1, 16, 16, 15, 0, "MONOCHROME2")  # a big mammogram is fine
    assert 8192 * 8192 * 2 <= MAX_FRAME_BYTES


def instance_json(study: str, series: str, rows: int, columns: int, frames: int,
                  **extra: Any) -> dict[str, Any]:
    """DICOM JSON metadata of a MONOCHROME2 16-bit instance."""
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return ds.to_json_dict()


def test_an_instance_claiming_too_many_frames_gives_one_failing_image() -> None:
    study = generate_uid()
    hostile = Instance.from_json(instance_json(study, "1.2.3", 65535, 65535, 2**31 - 1), "u")
    fine = Instance.from_json(instance_json(study, "1.2.4", 8, 8, 3), "u")
    by_series = {d.series_instance_uid: d for d in display_sets_from_instances([hostile, fine])}
    assert len(by_series["1.2.4"].images) == 3
    (image,) = by_series["1.2.3"].images
    with pytest.raises(PixelModuleError, match="NumberOfFrames 2147483647"):
        PixelModule.from_dataset(image.instance.metadata)
    assert "more than" in (hostile.pixel_problem or "") and fine.pixel_problem is None


# --- item 6 and all together: one hostile series fails alone --------------------------------

STUDY = "1.2.826.0.1.3680043.8.498.1"


def frame_route(data: bytes, syntax: str = ExplicitVRLittleEndian) -> Route:
    return reply(200, data, f"application/octet-stream; transfer-syntax={syntax}")


def hostile_study(site: Site, root: str, study: str = STUDY) -> dict[str, str]:
    """A study of six series, one instance each; only "fine" is what it says it is.
    Answers {name: SeriesInstanceUID}."""
    base = f"{root}/dw/studies/{study}"
    series = {name: f"{study}.{index}" for index, name in enumerate(
        ("fine", "bomb-j2k", "huge-claim", "endless", "fallback", "deflate-bomb"), start=1)}
    shape = {"huge-claim": (65535, 65535, 100_000), "fallback": (4, 6, 3)}
    metadata = []
    for name, series_uid in series.items():
        rows, columns, frames = shape.get(name, (8, 8, 1))
        obj = instance_json(study, series_uid, rows, columns, frames, SeriesNumber=len(metadata))
        if name == "fallback":
            obj = instance_json(study, series_uid, rows, columns, frames, SeriesNumber=4,
                                BitsAllocated=8, BitsStored=8, HighBit=7)
        metadata.append(obj)
        sop = obj["00080018"]["Value"][0]
        instance = f"{base}/series/{series_uid}/instances/{sop}"
        frame = f"{instance}/frames/1"
        if name == "fine":
            site.routes[frame] = frame_route(np.arange(64, dtype="<u2").tobytes())
        elif name == "bomb-j2k":
            site.routes[frame] = frame_route(with_siz(j2k_frame(), 65535, 65535),
                                             JPEG2000Lossless)
        elif name == "huge-claim":
            site.routes[frame] = frame_route(b"\0" * 16)  # never asked for
        elif name == "endless":
            site.routes[frame] = endless
        elif name == "fallback":
            ds = multiframe(3)
            ds.SOPInstanceUID = sop
            for n in (1, 2, 3):
                site.routes[f"{instance}/frames/{n}"] = reply(500, b"cannot")
            site.routes[instance] = dicom_reply(part10(ds))
        else:
            site.routes[frame] = reply(500, b"cannot")
            site.routes[instance] = dicom_reply(deflated_bomb(64 * MiB))
    site.routes[f"{base}/metadata"] = reply(200, json.dumps(metadata).encode(), JSON)
    return series


def viewer_config(site: Site, root: str) -> dict[str, Any]:
    return {"dataSources": [{"configuration": {
        "name": "hostile", "qidoRoot": f"{site.url}{root}/dw", "wadoRoot": f"{site.url}{root}/dw",
        "timeout": 10}}]}


@pytest.fixture
async def worker() -> Any:
    from ohifpy.dicomweb.httpx_transport import HttpxTransport

    api = WorkerAPI(HttpxTransport())
    yield api
    await api.transport.aclose()


async def call(api: WorkerAPI, method: str, **args: Any) -> dict[str, Any]:
    return await api.handle(method, args)


@pytest.mark.cpython_only  # a socket, and the JPEG 2000 encoder
async def test_one_hostile_series_fails_alone(site: Site, root: str, worker: WorkerAPI) -> None:
    series = hostile_study(site, root)
    assert "result" in await call(worker, "init", config=viewer_config(site, root),
                                  baseUrl=site.url + "/")
    opened = (await call(worker, "openViewer", studyInstanceUIDs=STUDY))["result"]
    uid_of = {d["seriesInstanceUID"]: d["displaySetUID"] for d in opened["displaySets"]}
    assert set(uid_of) == set(series.values())

    async def render(name: str, index: int = 0) -> dict[str, Any]:
        return await call(worker, "renderImage", displaySetUID=uid_of[series[name]],
                          imageIndex=index, details=False)

    assert "result" in await render("fine")
    errors = {name: (await render(name))["error"]["message"]
              for name in ("bomb-j2k", "huge-claim", "endless", "deflate-bomb")}
    assert "65535x65535" in errors["bomb-j2k"] and "8x8" in errors["bomb-j2k"]
    assert "more than" in errors["huge-claim"]
    assert "larger than" in errors["endless"] and "/frames/1" in errors["endless"]
    assert "inflates to more than" in errors["deflate-bomb"]
    huge = next(p for p in site.routes if series["huge-claim"] in p and "/frames/" in p)
    assert site.hits[huge] == 0  # refused from the metadata, before any request
    for index in range(3):
        assert "result" in await render("fallback", index)
    fallback = [p for p in site.routes if series["fallback"] in p and "/frames/" not in p]
    assert [site.hits[p] for p in fallback] == [1]
    assert "result" in await render("fine")  # and the rest still works


# --- item 6: display sets of studies no longer open are let go ------------------------------


def small_study(site: Site, root: str, study: str) -> str:
    """A study of one 8x8 series; answers its SeriesInstanceUID."""
    obj = instance_json(study, f"{study}.1", 8, 8, 1)
    site.routes[f"{root}/dw/studies/{study}/metadata"] = reply(200, json.dumps([obj]).encode(),
                                                               JSON)
    sop = obj["00080018"]["Value"][0]
    site.routes[f"{root}/dw/studies/{study}/series/{study}.1/instances/{sop}/frames/1"] = (
        frame_route(bytes(128)))
    return f"{study}.1"


@pytest.mark.cpython_only
async def test_opening_other_studies_lets_the_old_display_sets_go(
        site: Site, root: str, worker: WorkerAPI) -> None:
    first, second = (small_study(site, root, f"{STUDY}{n}") for n in (1, 2))
    await call(worker, "init", config=viewer_config(site, root), baseUrl=site.url + "/")
    await call(worker, "openViewer", studyInstanceUIDs=f"{STUDY}1")
    assert set(worker.session.display_sets) == {first}
    await call(worker, "openViewer", studyInstanceUIDs=[f"{STUDY}1", f"{STUDY}2"])
    assert set(worker.session.display_sets) == {first, second}
    await call(worker, "openViewer", studyInstanceUIDs=f"{STUDY}2")
    assert set(worker.session.display_sets) == {second}
    gone = await call(worker, "renderImage", displaySetUID=first)
    assert "is not open" in gone["error"]["message"]
    failed = await call(worker, "openViewer", studyInstanceUIDs="1.2.3.999")
    assert "error" in failed
    assert set(worker.session.display_sets) == {second}  # what the page showed stays


@pytest.mark.cpython_only
async def test_an_older_open_finishing_last_does_not_evict_the_newer(
        site: Site, root: str, worker: WorkerAPI) -> None:
    """The page moved on while the first study's metadata was still coming: the newer
    page's display sets stay, whatever order the answers arrive in."""
    first, second = (small_study(site, root, f"{STUDY}{n}") for n in (3, 4))
    slow = site.routes[f"{root}/dw/studies/{STUDY}3/metadata"]
    gate = threading.Event()

    def delayed(handler: BaseHTTPRequestHandler) -> None:
        gate.wait(10)
        slow(handler)

    site.routes[f"{root}/dw/studies/{STUDY}3/metadata"] = delayed
    await call(worker, "init", config=viewer_config(site, root), baseUrl=site.url + "/")
    older = asyncio.ensure_future(call(worker, "openViewer", studyInstanceUIDs=f"{STUDY}3"))
    await asyncio.sleep(0.1)
    assert "result" in await call(worker, "openViewer", studyInstanceUIDs=f"{STUDY}4")
    gate.set()
    await older
    assert second in worker.session.display_sets
    assert "result" in await call(worker, "renderImage", displaySetUID=second, details=False)
    await call(worker, "openViewer", studyInstanceUIDs=f"{STUDY}4")
    assert set(worker.session.display_sets) == {second}
    assert first not in worker.session.display_sets

