"""Fuzzing what servers, files and links hand the viewer: valid inputs, mutated and truncated.

Each target starts from real inputs (the generated test data, pydicom's files, the shipped
configs) and mutates them: bytes flipped, overwritten with extreme integers, inserted,
deleted and cut short; JSON values replaced, removed, wrapped and retyped. Properties:

- only the project's own errors come out (each target's documented type, all of them in
  :data:`ohifpy.errors.DATA_ERRORS`): anything else is a bug the worker would report
  with a traceback;
- no example hangs (each has a deadline);
- decoding a frame allocates within a bound of what its metadata says (tracemalloc peak).

Reproducible: examples are derived from the test's name (``derandomize``), no example
database is read or written, and the whole file runs in well under a minute. Run with
``--hypothesis-show-statistics`` to see how many examples each target ran.
"""

from __future__ import annotations

import copy
import json
import os
import struct
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pydicom
import pytest
from conftest import ROOT, make_test_data
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless
from reference import frames_of, metadata_of
from support.dicomjson import dicomjson_document

from ohifpy.config import AppConfig, ConfigError
from ohifpy.datasources.dicomjson import DicomJsonDataSource
from ohifpy.datasources.protocol import DataSourceError
from ohifpy.dicomweb import DicomJSONError, MultipartError
from ohifpy.dicomweb.dicom_json import dataset_from_json, datasets_from_json
from ohifpy.dicomweb.multipart import (
    build_multipart_related,
    parse_media_type,
    parse_multipart_related,
)
from ohifpy.dicomweb.part10 import read_instance, split_frames, stored_transfer_syntax
from ohifpy.errors import DATA_ERRORS
from ohifpy.imaging import FrameDecodeError, PixelModule, decode_frame
from ohifpy.imaging.codecs import _DECODERS, _pydicom_decoder, native_frame_length
from ohifpy.model import Instance, display_sets_from_instances

pytestmark = [
    pytest.mark.cpython_only,  # the test data's encoders, pylibjpeg; timed in CPython
    pytest.mark.filterwarnings("ignore"),  # pydicom warns about every odd value it meets
]

MiB = 1 << 20
URL = "https://pacs.example/dicom-web/studies/1/metadata"


SCALE = float(os.environ.get("OHIFPY_FUZZ_SCALE", "1"))
"""More examples for a deeper run by hand (``OHIFPY_FUZZ_SCALE=20``); 1 in CI."""


def fuzz(examples: int) -> settings:
    """A reproducible profile: no database, examples derived from the test, a deadline."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=timedelta(seconds=5),  # far above any example; a hang is far above it
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.large_base_example],
        print_blob=False,
    )


# --- seeds: real inputs, loaded once -------------------------------------------------------

PYDICOM_FILES = (
    "CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPGExtended.dcm",
    "image_dfl.dcm", "ExplVR_BigEnd.dcm", "rtdose.dcm", "examples_ybr_color.dcm",
    "liver_1frame.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_rle_16bit_2frame.dcm",
)
"""Small files of pydicom's covering native, big endian, deflated, 1-bit, multi-frame and
each codec; the generated test data adds the rest (HTJ2K, JPEG lossless, JPEG-LS near)."""


@cache
def manifest() -> make_test_data.Manifest:
    return make_test_data.ensure()


@cache
def part10_files() -> dict[str, bytes]:
    """Whole files by name: pydicom's, and one of each test-data study under 400 KB."""
    files = {name: Path(get_testdata_file(name)).read_bytes() for name in PYDICOM_FILES}
    for study in manifest().studies:
        path = manifest().root / study.instances[0].path
        if path.stat().st_size < 400_000:
            files[study.key] = path.read_bytes()
    return files


@cache
def coded_frames() -> list[tuple[str, str, bytes, PixelModule]]:
    """(name, transfer syntax, first frame as WADO-RS sends it, its pixel module) of every
    syntax the test data and pydicom's files hold."""
    seeds = []
    sources = [(name, Path(get_testdata_file(name))) for name in PYDICOM_FILES]
    sources += [(s.key, manifest().root / s.instances[0].path) for s in manifest().studies
                if s.group == "transfer-syntax"]
    for name, path in sources:
        ds = pydicom.dcmread(path)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        if syntax == DeflatedExplicitVRLittleEndian:
            syntax = ExplicitVRLittleEndian  # frames of a deflated file come inflated
        seeds.append((name, syntax, frames_of(ds)[0], PixelModule.from_dataset(ds)))
    return seeds


@cache
def metadata_objects() -> list[dict[str, Any]]:
    """DICOM JSON of instances as WADO-RS metadata gives them (no pixel data)."""
    names = ("ct", "mr", "rgb", "palette", "xa-cine", "modality-lut", "voi-lut", "utf8",
             "iso2022-jp")
    objects = []
    for key in names:
        ds = pydicom.dcmread(manifest().root / manifest().study(key).instances[0].path)
        objects.append(metadata_of(ds).to_json_dict(suppress_invalid_tags=True))
    for name in ("rtdose.dcm", "examples_ybr_color.dcm", "JPEG2000.dcm"):
        ds = pydicom.dcmread(get_testdata_file(name))
        objects.append(metadata_of(ds).to_json_dict(suppress_invalid_tags=True))
    return objects


@cache
def dicomjson_documents() -> list[dict[str, Any]]:
    """OHIF dicomjson documents of a few test-data studies (one multi-frame)."""
    root = manifest().root
    groups = (("ct",), ("mr", "xss"), ("xa-cine", "palette"))
    return [dicomjson_document([root / i.path for key in keys
                                for i in manifest().study(key).instances[:3]], root,
                               "https://files.example/data/")
            for keys in groups]


@cache
def configs() -> list[dict[str, Any]]:
    """The shipped app configs, and one with every kind of source and sign-in."""
    shipped = [json.loads(p.read_text()) for p in sorted((ROOT / "config").glob("*.json"))]
    every_kind = {
        "dataSources": [
            {"namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
             "sourceName": "pacs", "configuration": {
                 "name": "pacs", "qidoRoot": "https://pacs.example/dicom-web",
                 "wadoRoot": "https://pacs.example/dicom-web", "timeout": 10, "maxRetries": 2,
                 "queryLimit": 50, "acceptHeader": ["multipart/related"]}},
            {"namespace": "@ohif/extension-default.dataSourcesModule.dicomjson",
             "sourceName": "json", "configuration": {"name": "json"}},
            {"namespace": "@ohif/extension-default.dataSourcesModule.dicomlocal",
             "sourceName": "files", "configuration": {"name": "files"}},
        ],
        "defaultDataSourceName": "pacs",
        "cacheSizeMB": 256,
        "allowConfigUrl": True,
        "configUrlAllowList": ["https://configs.example/"],
        "oidc": [{"authority": "https://id.example", "client_id": "viewer",
                  "redirect_uri": "/callback", "scope": "openid profile"}],
    }
    return [*shipped, every_kind]


# --- mutations -----------------------------------------------------------------------------

_EXTREMES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
             0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)
_OPS = ("flip", "write", "int", "truncate", "insert", "delete")


def mutate_bytes(data: st.DataObject, blob: bytes, head: int = 1024) -> bytes:
    """``blob`` with one to four mutations, often in its first ``head`` bytes (headers)."""
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        size = len(out)
        pos = data.draw(st.integers(0, min(size, head)) | st.integers(0, size), label="at")
        op = data.draw(st.sampled_from(_OPS), label="op")
        if op == "flip" and pos < size:
            out[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "write":
            chunk = data.draw(st.binary(min_size=1, max_size=16))
            out[pos:pos + len(chunk)] = chunk
        elif op == "int":
            value = data.draw(st.sampled_from(_EXTREMES))
            fmt = data.draw(st.sampled_from(("<H", ">H", "<I", ">I")))
            out[pos:pos + struct.calcsize(fmt)] = struct.pack(fmt, value & (
                0xFFFF if fmt.endswith("H") else 0xFFFFFFFF))
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del out[pos:pos + data.draw(st.integers(1, 512))]
    return bytes(out)


JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
               | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=24))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
VRS = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
       "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN",
       "UR", "US", "UT", "UV", "XX", "")


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value inside ``value``, nested ones included."""
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, child in items:
        yield value, key
        yield from _slots(child)


def mutate_json(data: st.DataObject, value: Any) -> Any:
    """A deep copy of ``value`` with one to four values replaced, removed, wrapped in a
    list, turned into text, or (for DICOM JSON) given another VR."""
    value = copy.deepcopy(value)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        slots = list(_slots(value))
        if not slots:
            return data.draw(JSON_VALUES)
        parent, key = data.draw(st.sampled_from(slots), label="slot")
        op = data.draw(st.sampled_from(("replace", "remove", "wrap", "text", "vr")), label="op")
        if op == "replace":
            parent[key] = data.draw(JSON_VALUES)
        elif op == "remove":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif op == "text":
            parent[key] = json.dumps(parent[key])[:40]
        elif isinstance(parent[key], dict) and "vr" in parent[key]:
            parent[key]["vr"] = data.draw(st.sampled_from(VRS))
    return value


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# --- targets -------------------------------------------------------------------------------


@fuzz(600)
@given(st.data())
def test_dicom_json_to_datasets_and_display_sets(data: st.DataObject) -> None:
    """WADO-RS metadata → dataset → instance → display sets → Image Pixel Module."""
    obj = mutate_json(data, data.draw(st.sampled_from(metadata_objects()), label="seed"))
    try:
        dataset_from_json(obj, URL)
        instance = Instance.from_json(obj, URL)
        for display_set in display_sets_from_instances([instance]):
            PixelModule.from_dataset(display_set.images[0].instance.metadata)
    except DATA_ERRORS:
        pass


@fuzz(300)
@given(st.data())
def test_dicom_json_bodies(data: st.DataObject) -> None:
    """A metadata or QIDO body as bytes: DicomJSONError is the only failure."""
    seeds = metadata_objects()
    body = json_bytes(data.draw(st.lists(st.sampled_from(seeds), min_size=1, max_size=2)))
    try:
        datasets_from_json(mutate_bytes(data, body), URL)
    except DicomJSONError:
        pass


@contextmanager
def traced_peak(bound: int, what: str) -> Iterator[None]:
    """Fail when Python's allocations (numpy's included) peak above ``bound`` bytes."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= bound, f"{what}: allocations peaked at {peak} bytes, bound {bound}"


@fuzz(500)
@given(st.data())
def test_part10_reader_and_frame_splitter(data: st.DataObject) -> None:
    """A Part 10 file (native, deflated, encapsulated, multi-frame) → dataset → frames."""
    files = part10_files()
    name = data.draw(st.sampled_from(sorted(files)), label="seed")
    blob = mutate_bytes(data, files[name], head=data.draw(st.sampled_from((512, 4096))))
    with traced_peak(16 * len(blob) + 64 * MiB, name):
        try:
            ds = read_instance(blob, max_inflated_bytes=8 * MiB)
        except ValueError:
            event("not read")
            return
        try:
            stored_transfer_syntax(ds)
            split_frames(ds)
            event("read and cut into frames")
        except ValueError:
            event("read, frames refused")


@contextmanager
def decoding_with(syntax: str, plugin: str) -> Iterator[None]:
    """Frames of ``syntax`` decoded by pydicom's ``plugin`` only (Pyodide's RLE is pydicom's)."""
    saved = _DECODERS.get(syntax)
    decoder = _pydicom_decoder(syntax, plugin)
    assert decoder is not None
    _DECODERS[syntax] = decoder
    try:
        yield
    finally:
        if saved is None:
            _DECODERS.pop(syntax, None)
        else:
            _DECODERS[syntax] = saved


@fuzz(800)
@given(st.data())
def test_frame_decoders(data: st.DataObject) -> None:
    """Every transfer syntax's frame, mutated or cut short, sometimes under metadata that
    does not fit it: FrameDecodeError only, and allocations bounded by the metadata."""
    name, syntax, frame, pixel = data.draw(st.sampled_from(coded_frames()), label="seed")
    # Often past the header and short of the end marker: into the decoder's own work.
    keep = data.draw(st.sampled_from(((0, 0), (0, 16), (64, 16), (512, 16))), label="keep")
    start, end = keep[0], len(frame) - keep[1]
    frame = frame[:start] + mutate_bytes(data, frame[start:end], head=1024) + frame[end:]
    if data.draw(st.booleans(), label="other metadata"):
        rows, columns = data.draw(st.sampled_from(((1, 1), (8, 8), (64, 48), (512, 512))))
        pixel = PixelModule(rows, columns, pixel.samples_per_pixel, pixel.bits_allocated,
                            pixel.bits_stored, pixel.high_bit, pixel.pixel_representation,
                            pixel.photometric_interpretation, pixel.planar_configuration)
    plugin = data.draw(st.sampled_from(("", "pydicom")), label="plugin") \
        if syntax == RLELossless else ""
    bound = 24 * native_frame_length(pixel) + 8 * MiB
    with traced_peak(bound, f"{name} ({syntax})"), \
            (decoding_with(syntax, plugin) if plugin else _nothing()):
        try:
            decode_frame(frame, syntax, pixel)
            event("decoded")
        except FrameDecodeError as exc:  # the statistics tell how deep the examples went
            event("the decoder failed" if exc.__cause__ else "refused before any decoder")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


_CONTENT_TYPES = st.sampled_from((
    'multipart/related; type="application/octet-stream"; boundary=BOUNDARY',
    ('multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"; '
     'boundary="BOUNDARY"'),
    "multipart/related; boundary=BOUNDARY; type=application/dicom",
    "application/octet-stream",
    "multipart/related",
))


@fuzz(600)
@given(st.data())
def test_multipart_parser(data: st.DataObject) -> None:
    """A WADO-RS multipart body and its Content-Type, both mutated: MultipartError only."""
    parts = data.draw(st.lists(st.binary(max_size=200), min_size=1, max_size=3), label="parts")
    body, built_type = build_multipart_related(parts, "application/octet-stream")
    boundary = parse_media_type(built_type)[1]["boundary"]
    if data.draw(st.booleans(), label="bare LF"):
        body = body.replace(b"\r\n", b"\n")
    content_type = data.draw(_CONTENT_TYPES).replace("BOUNDARY", boundary)
    if data.draw(st.booleans(), label="mutate type"):
        content_type = mutate_bytes(data, content_type.encode(), head=128).decode("latin-1")
    body = mutate_bytes(data, body, head=256)
    parse_media_type(content_type)  # never raises
    try:
        found = parse_multipart_related(body, content_type, URL)
    except MultipartError:
        return
    assert found and all(isinstance(part.content, bytes) for part in found)


@fuzz(400)
@given(st.data())
def test_dicomjson_manifests(data: st.DataObject) -> None:
    """An OHIF dicomjson file, its JSON or its bytes mutated: DataSourceError only."""
    document = data.draw(st.sampled_from(dicomjson_documents()), label="seed")
    if data.draw(st.booleans(), label="as bytes"):
        body = mutate_bytes(data, json_bytes(document), head=4096)
    else:
        body = json_bytes(mutate_json(data, document))
    source = DicomJsonDataSource("json", "JSON", transport=None)  # type: ignore[arg-type]
    try:
        source.add_json(body, "https://files.example/list.json")
    except DataSourceError:
        pass


@fuzz(600)
@given(st.data())
def test_app_config(data: st.DataObject) -> None:
    """The app config (a shipped one, or every kind of source) mutated: ConfigError only."""
    config = mutate_json(data, data.draw(st.sampled_from(configs()), label="seed"))
    try:
        AppConfig.from_json(config)
    except ConfigError:
        pass


def test_the_seeds_are_valid() -> None:
    """Unmutated, every seed goes through: the targets start from real, working inputs."""
    for obj in metadata_objects():
        Instance.from_json(obj, URL).metadata  # noqa: B018 - converts the dataset
    for blob in part10_files().values():
        split_frames(read_instance(blob))
    for _, syntax, frame, pixel in coded_frames():
        decode_frame(frame, syntax, pixel)
    for document in dicomjson_documents():
        DicomJsonDataSource("json", "JSON", transport=None).add_json(  # type: ignore[arg-type]
            json_bytes(document), "https://files.example/list.json")
    for config in configs():
        AppConfig.from_json(config)


# --- what the fuzzers found, kept as plain regressions --------------------------------------


def test_found_an_infinite_number_in_a_sequence_item() -> None:
    """pydicom's int() of inf (a LUT Descriptor in JSON) raised OverflowError."""
    obj = {"00283000": {"vr": "SQ", "Value": [
        {"00283002": {"vr": "US", "Value": [float("inf"), 0, 16]}}]}}
    with pytest.raises(DicomJSONError, match="dataset 1 is not DICOM JSON"):
        dataset_from_json(obj, URL)


def test_found_json_nested_too_deep() -> None:
    """json.loads and pydicom's sequence conversion raise RecursionError when nested deep."""
    with pytest.raises(DicomJSONError, match="not JSON"):
        datasets_from_json(b"[" * 100_000, URL)
    item: dict[str, Any] = {}
    for _ in range(2000):
        item = {"00400275": {"vr": "SQ", "Value": [item]}}
    with pytest.raises(DicomJSONError, match="not DICOM JSON"):
        dataset_from_json(item, URL)


def test_found_file_meta_with_an_unknown_vr_or_a_transfer_syntax_not_text() -> None:
    """An unknown VR in the file meta raised NotImplementedError; a Transfer Syntax UID
    read as numbers (its VR turned US) raised TypeError."""
    blob = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    at = blob.index(b"\x02\x00\x10\x00UI")  # (0002,0010) Transfer Syntax UID, explicit VR
    with pytest.raises(ValueError, match="NotImplementedError: Unknown Value Representation"):
        read_instance(blob[:at + 4] + b"TI" + blob[at + 6:])
    ds = read_instance(blob[:at + 4] + b"US" + blob[at + 6:])
    with pytest.raises(ValueError, match="is not a UID"):
        stored_transfer_syntax(ds)


def test_found_a_config_source_or_sign_in_missing_parts() -> None:
    """A data source whose configuration was not an object, and an oidc without its
    authority, raised TypeError."""
    with pytest.raises(ConfigError, match="configuration must be an object"):
        AppConfig.from_json({"dataSources": [{"sourceName": "a", "configuration": None}]})
    source = {"configuration": {"name": "a", "qidoRoot": "https://h/", "wadoRoot": "https://h/"}}
    with pytest.raises(ConfigError, match="config.oidc needs authority"):
        AppConfig.from_json({"dataSources": [source], "oidc": [{"client_id": "viewer"}]})


def test_found_a_corrupt_rle_frame_that_panics_pylibjpeg_rle() -> None:
    """pylibjpeg-rle (Rust) panics on it: pyo3's PanicException is a BaseException."""
    ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
    frame = bytearray(frames_of(ds)[0])
    frame[990] = 170
    with decoding_with(RLELossless, "pylibjpeg"), \
            pytest.raises(FrameDecodeError, match="panicked: index out of bounds"):
        decode_frame(bytes(frame), RLELossless, PixelModule.from_dataset(ds))
