#!/usr/bin/env python3
"""Write the project's test data: synthetic studies, one CT per transfer syntax, pydicom files.

Usage: python scripts/make_test_data.py [--out DIR] [--syntax-slices N] [--ct-slices N]

What it writes (and lists in ``manifest.json``):

* every study of :func:`ohifpy.synthetic.all_studies`, uncompressed (Explicit VR LE);
  the CT keeps all its slices (200) there;
* the same CT once per transfer syntax as a study of its own (new UIDs, the syntax in
  StudyDescription). Compressing goes through one subprocess per file, which is slow on
  two cores, so these copies hold only the first ``--syntax-slices`` slices (16);
* the RGB pattern as JPEG baseline (YBR_FULL_422) and RLE, the XA cine as JPEG lossless;
* a curated list of pydicom's own test files, with their own UIDs;
* one study of real-world style files, written here with pydicom as scanners and toolkits
  write them (pydicom-data's, which pydicom downloads, are not shipped): PALETTE COLOR in
  implicit VR little endian, explicit little and big endian, 8- and 16-bit LUT data, US
  and SS descriptors, segmented LUTs; RGB of 16 and 32 bits allocated; enhanced
  multi-frame with functional groups; a Modality LUT Sequence in implicit VR; dates and
  times in pre-DICOM 3 style, which pydicom warns about;
* one study of documents (:mod:`ohifpy.synthetic_documents`, group ``documents``, which
  tests of frames leave out): a Basic Text and a Comprehensive SR referring to CT slices,
  an encapsulated PDF, and an H.264 MP4 clip made with Debian's ffmpeg as a video;
* the studies of :func:`ohifpy.synthetic_hanging.hanging_studies` (group ``hanging``,
  images like the synthetic ones): three CTs of one patient for prior comparison, a head
  MR for a site protocol (T1, T2, localizer) and a four-view mammogram in shuffled series
  order;
* one study of overlays, ``ct-seg`` (:mod:`ohifpy.synthetic_objects`, group ``overlays``,
  which tests of frames leave out too): the first 40 CT slices with a binary SEG (5 segments)
  and a fractional SEG (2) written with highdicom, and an RTSTRUCT, of known structures.

Encoders: Debian's dcmtk (dcmconv, dcmcrle, dcmcjpeg, dcmcjpls), libgdcm-tools
(gdcmconv: JPEG 2000 and near-lossless JPEG-LS, which dcmcjpls refuses for signed
pixels) and openjph-tools (ojph_compress: HTJ2K codestreams, wrapped here with pydicom).
JPEG baseline needs 8-bit samples: dcmcjpeg's default min-max pixel scaling maps the
16-bit CT into 8 bits and rewrites RescaleSlope/Intercept so HU survive approximately
(about 32 HU a step); extended JPEG does the same into 12 bits. gdcmconv gives lossy
output fresh random UIDs, so ours are put back to keep the output deterministic.

The default ``--out`` is ``.cache/testdata/<key>/`` in the repository, where ``<key>`` hashes
this script, ``synthetic.py``, ``synthetic_hanging.py``, ``synthetic_documents.py``,
``synthetic_objects.py`` (with highdicom's version), the parameters and the encoder
versions: if that folder has a manifest, nothing is done. Every file written is read back
with pydicom; where a CPython codec exists its pixels are decoded and lossless ones
compared with the source.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.config import disable_value_validation
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, get_decoder
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MPEGTransferSyntaxes,
    generate_uid,
)

from ohifpy import synthetic, synthetic_documents, synthetic_hanging, synthetic_objects

REPO = Path(__file__).resolve().parents[1]
DEBIAN_PACKAGES = ("dcmtk", "libgdcm-tools", "openjph-tools", "ffmpeg")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

PYDICOM_FILES = (
    "CT_small.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_small_odd.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "examples_palette.dcm",
    "examples_ybr_color.dcm",
    "examples_rgb_color.dcm",
    "examples_jpeg2k.dcm",
    "examples_overlay.dcm",
    "rtdose.dcm",
    "image_dfl.dcm",
    "ExplVR_BigEnd.dcm",
    "693_J2KI.dcm",
)
"""pydicom's shipped images that Orthanc stores. Left out: the other MR_small and
rtdose variants (same SOP Instance UIDs as the ones kept, Orthanc would keep only the
first), JPEG-lossy/JPGExtended (libjpeg rejects their scan header), files without a
StudyInstanceUID, and non-images (SEG, RT plans, SR, waveforms)."""


LOSSY_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
     "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"})
"""Transfer syntaxes that may be lossy; the rest are lossless by definition."""

NON_IMAGE_GROUPS = frozenset({"documents", "overlays"})
"""Manifest groups whose instances are not image stacks (SR, PDF, video: see
:mod:`ohifpy.synthetic_documents`) or hold overlays beside their images (SEG, RTSTRUCT: see
:mod:`ohifpy.synthetic_objects`): tests of frames and renders leave them out."""


class TestDataError(RuntimeError):
    """An encoder is missing, failed, or wrote something other than what was asked."""


# --- manifest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceEntry:
    sop_uid: str
    sop_class_uid: str
    path: str
    """Relative to the manifest's folder."""
    transfer_syntax_uid: str
    number_of_frames: int
    rows: int
    columns: int


@dataclass(frozen=True)
class SeriesEntry:
    series_uid: str
    modality: str
    description: str
    instances: tuple[InstanceEntry, ...]


@dataclass(frozen=True)
class StudyEntry:
    key: str
    group: str
    """``synthetic``, ``hanging`` (:mod:`ohifpy.synthetic_hanging`), ``transfer-syntax`` (a
    compressed copy), ``pydicom``, ``real-world``, ``documents`` or ``overlays``."""
    description: str
    note: str
    study_uid: str
    patient_name: str
    patient_id: str
    modality: str
    """Modality of the first series; empty for the study that has none."""
    lossless: bool
    transfer_syntax_uids: tuple[str, ...]
    series: tuple[SeriesEntry, ...]

    @property
    def instances(self) -> list[InstanceEntry]:
        return [i for s in self.series for i in s.instances]

    @property
    def num_instances(self) -> int:
        return len(self.instances)


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` describes: every study written, with files relative to root."""

    root: Path
    cache_key: str
    ct_slices: int
    syntax_slices: int
    studies: tuple[StudyEntry, ...] = field(default=())

    def study(self, key: str) -> StudyEntry:
        for s in self.studies:
            if s.key == key:
                return s
        raise KeyError(f"no study {key!r} in test data manifest {self.root / MANIFEST}; "
                       f"known: {', '.join(s.key for s in self.studies)}")

    def files(self) -> list[Path]:
        return [self.root / i.path for s in self.studies for i in s.instances]

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("root")
        return {"version": MANIFEST_VERSION, **d}

    @classmethod
    def load(cls, root: Path) -> Manifest:
        obj = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        if obj.get("version") != MANIFEST_VERSION:
            raise TestDataError(f"{root / MANIFEST}: manifest version {obj.get('version')}, "
                                f"expected {MANIFEST_VERSION}; delete the folder to rebuild")
        studies = tuple(
            StudyEntry(**{**s, "transfer_syntax_uids": tuple(s["transfer_syntax_uids"]),
                          "series": tuple(SeriesEntry(**{**r, "instances": tuple(
                              InstanceEntry(**i) for i in r["instances"])})
                              for r in s["series"])})
            for s in obj["studies"])
        return cls(root, obj["cache_key"], obj["ct_slices"], obj["syntax_slices"], studies)


def _study_entry(key: str, group: str, note: str, lossless: bool,
                 files: list[tuple[str, FileDataset]]) -> StudyEntry:
    """Describe a study from its written (relative path, dataset header) pairs."""
    series: dict[str, list[tuple[str, FileDataset]]] = {}
    for path, ds in files:
        series.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    first = files[0][1]
    return StudyEntry(
        key=key, group=group, note=note,
        description=str(first.get("StudyDescription", "")),
        study_uid=str(first.StudyInstanceUID),
        patient_name=str(first.get("PatientName", "")),
        patient_id=str(first.get("PatientID", "")),
        modality=str(first.get("Modality", "")),
        lossless=lossless,
        transfer_syntax_uids=tuple(sorted({str(ds.file_meta.TransferSyntaxUID)
                                           for _, ds in files})),
        series=tuple(SeriesEntry(
            series_uid=uid, modality=str(items[0][1].get("Modality", "")),
            description=str(items[0][1].get("SeriesDescription", "")),
            instances=tuple(InstanceEntry(
                sop_uid=str(ds.SOPInstanceUID), sop_class_uid=str(ds.SOPClassUID), path=path,
                transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
                number_of_frames=int(ds.get("NumberOfFrames", 1) or 1),
                rows=int(ds.get("Rows", 0) or 0), columns=int(ds.get("Columns", 0) or 0))
                for path, ds in items))
            for uid, items in series.items()),
    )


# --- encoders ---------------------------------------------------------------------------

Encoder = Callable[[Path, Path], None]
"""Turns one uncompressed DICOM file into the same instance in another transfer syntax."""


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TestDataError(f"{' '.join(argv)} failed ({proc.returncode}): "
                            f"{(proc.stderr or proc.stdout).strip()[-800:]}")


def _tool(*args: str) -> Encoder:
    """An encoder that runs ``args + [src, dst]`` (dcmtk's calling convention)."""
    return lambda src, dst: _run([*args, str(src), str(dst)])


def _gdcm(*args: str) -> Encoder:
    """gdcmconv, then the source's SOP Instance UID put back (gdcm invents a random one).

    Short options only: gdcmconv 3.0.21 aborts on some long ones (``--rate``).
    """

    def encode(src: Path, dst: Path) -> None:
        _run(["gdcmconv", "--quiet", *args, str(src), str(dst)])
        ds = pydicom.dcmread(dst)
        uid = pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        if "SourceImageSequence" in ds:  # would now reference the instance itself
            del ds.SourceImageSequence
        ds.save_as(dst)

    return encode


def _htj2k(reversible: bool, progression: str, qstep: float = 0.0) -> Encoder:
    """ojph_compress per frame on raw samples, the codestreams encapsulated with pydicom.

    Signed pixels are first made unsigned (stored + 2**(BitsStored-1), RescaleIntercept
    lowered to match, so modality values are unchanged): Debian's OpenJPH 0.9 encodes
    negative samples in a way other decoders do not read back (OpenJPEG clamps them;
    OpenJPH issue #102).
    """
    syntax = {(True, "LRCP"): "1.2.840.10008.1.2.4.201", (True, "RPCL"): "1.2.840.10008.1.2.4.202",
              (False, "RPCL"): "1.2.840.10008.1.2.4.203"}[(reversible, progression)]

    def encode(src: Path, dst: Path) -> None:
        ds = pydicom.dcmread(src)
        frames = ds.pixel_array.reshape(int(ds.get("NumberOfFrames", 1) or 1), ds.Rows,
                                        ds.Columns).astype(np.int32)
        if ds.PixelRepresentation:
            shift = 2 ** (int(ds.BitsStored) - 1)
            frames += shift
            slope = float(ds.get("RescaleSlope", 1))
            ds.RescaleIntercept = float(ds.get("RescaleIntercept", 0)) - shift * slope
            ds.RescaleSlope = slope
            ds.PixelRepresentation = 0
        quality = ["-reversible", "true"] if reversible else ["-qstep", str(qstep)]
        codestreams = []
        with tempfile.TemporaryDirectory(prefix="ohifpy-htj2k-") as tmp:
            raw, j2c = Path(tmp, "frame.yuv"), Path(tmp, "frame.j2c")
            for frame in frames:
                frame.astype("<u2" if ds.BitsAllocated == 16 else "u1").tofile(raw)
                _run(["ojph_compress", "-i", str(raw), "-o", str(j2c),
                      "-dims", f"{{{ds.Columns},{ds.Rows}}}", "-num_comps", "1",
                      "-signed", "false", "-bit_depth", str(ds.BitsStored),
                      "-downsamp", "{1,1}", "-prog_order", progression, *quality])
                codestreams.append(j2c.read_bytes())
        ds.PixelData = encapsulate(codestreams)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = UID(syntax)
        if not reversible:
            ds.LossyImageCompression = "01"
            ds.LossyImageCompressionMethod = "ISO_15444_15"
        ds.save_as(dst)

    return encode


@dataclass(frozen=True)
class Variant:
    """A compressed copy of a synthetic study, stored as a study of its own."""

    key: str
    source: str
    transfer_syntax_uid: str
    label: str
    lossless: bool
    encode: Encoder


VARIANTS = (
    Variant("ct-implicit-le", "ct", "1.2.840.10008.1.2", "Implicit VR LE", True,
            _tool("dcmconv", "+ti")),
    Variant("ct-explicit-be", "ct", "1.2.840.10008.1.2.2", "Explicit VR BE", True,
            _tool("dcmconv", "+tb")),
    Variant("ct-deflated", "ct", "1.2.840.10008.1.2.1.99", "Deflated", True,
            _tool("dcmconv", "+td")),
    Variant("ct-rle", "ct", "1.2.840.10008.1.2.5", "RLE", True, _tool("dcmcrle")),
    Variant("ct-jpeg-baseline", "ct", "1.2.840.10008.1.2.4.50", "JPEG baseline 8-bit", False,
            _tool("dcmcjpeg", "+eb", "+un")),
    Variant("ct-jpeg-extended", "ct", "1.2.840.10008.1.2.4.51", "JPEG extended 12-bit", False,
            _tool("dcmcjpeg", "+ee", "+un")),
    Variant("ct-jpeg-lossless", "ct", "1.2.840.10008.1.2.4.57", "JPEG lossless P14 SV6", True,
            _tool("dcmcjpeg", "+el", "+un")),
    Variant("ct-jpeg-lossless-sv1", "ct", "1.2.840.10008.1.2.4.70", "JPEG lossless SV1", True,
            _tool("dcmcjpeg", "+e1", "+un")),
    Variant("ct-jpeg-ls", "ct", "1.2.840.10008.1.2.4.80", "JPEG-LS lossless", True,
            _tool("dcmcjpls", "+el", "+un")),
    Variant("ct-jpeg-ls-near", "ct", "1.2.840.10008.1.2.4.81", "JPEG-LS near-lossless", False,
            _gdcm("-Y", "-L", "-e", "2")),
    Variant("ct-j2k", "ct", "1.2.840.10008.1.2.4.90", "JPEG 2000 lossless", True,
            _gdcm("-K")),
    Variant("ct-j2k-lossy", "ct", "1.2.840.10008.1.2.4.91", "JPEG 2000 lossy", False,
            _gdcm("-Y", "-K", "--irreversible", "-r", "10")),
    Variant("ct-htj2k", "ct", "1.2.840.10008.1.2.4.201", "HTJ2K lossless", True,
            _htj2k(True, "LRCP")),
    Variant("ct-htj2k-rpcl", "ct", "1.2.840.10008.1.2.4.202", "HTJ2K lossless RPCL", True,
            _htj2k(True, "RPCL")),
    Variant("ct-htj2k-lossy", "ct", "1.2.840.10008.1.2.4.203", "HTJ2K lossy", False,
            _htj2k(False, "RPCL", 0.0005)),
    Variant("rgb-jpeg-baseline", "rgb", "1.2.840.10008.1.2.4.50", "RGB JPEG YBR_FULL_422",
            False, _tool("dcmcjpeg", "+eb", "+un")),
    Variant("rgb-rle", "rgb", "1.2.840.10008.1.2.5", "RGB RLE", True, _tool("dcmcrle")),
    Variant("xa-cine-jpeg-lossless", "xa-cine", "1.2.840.10008.1.2.4.70",
            "XA cine JPEG lossless SV1", True, _tool("dcmcjpeg", "+e1", "+un")),
)


# --- building ---------------------------------------------------------------------------


def tool_versions() -> dict[str, str]:
    """Versions of the Debian encoders; a clear error when one is not installed."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n",
                           *DEBIAN_PACKAGES], capture_output=True, text=True, check=False)
    versions = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    missing = [p for p in DEBIAN_PACKAGES if not versions.get(p)]
    if missing or not all(shutil.which(t) for t in ("dcmcjpeg", "gdcmconv", "ojph_compress",
                                                     "ffmpeg")):
        raise TestDataError(f"test data encoders missing (Debian packages {', '.join(missing)}"
                            "): run scripts/setup.sh as root")
    versions.update(pydicom=pydicom.__version__, numpy=np.__version__)
    return versions


def cache_key(ct_slices: int, syntax_slices: int) -> str:
    digest = hashlib.sha256()
    for source in (Path(synthetic.__file__), Path(synthetic_hanging.__file__),
                   Path(synthetic_documents.__file__),
                   *synthetic_objects.builder_sources(), Path(__file__)):
        digest.update(source.read_bytes())
    params = {"ct": ct_slices, "syntax": syntax_slices, "tools": tool_versions(),
              "highdicom": synthetic_objects.highdicom_version()}
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _write(files: Iterable[tuple[Path, FileDataset]]) -> None:
    for path, ds in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)


def _rel_paths(key: str, count: int) -> list[str]:
    return [f"{key}/{i:04d}.dcm" for i in range(count)]


def _variant_studies(sources: dict[str, synthetic.SyntheticStudy],
                     syntax_slices: int) -> list[tuple[Variant, synthetic.SyntheticStudy]]:
    derived = []
    for v in VARIANTS:
        src = sources[v.source]
        description = f"{v.label} {v.transfer_syntax_uid}"
        count = syntax_slices if v.source == "ct" else None
        patient = (f"Syntax^{v.label}", f"OHIFPY-TS-{v.key.upper()}")
        note = f"{src.key} in {v.label}" + (f", first {count} slices" if count else "")
        derived.append((v, synthetic.derive_study(src, v.key, description, count=count,
                                                  patient=patient, note=note)))
    return derived


def _modality_values(ds: FileDataset) -> np.ndarray:
    """Pixels in modality units (HU for CT): what must survive any lossless re-encoding."""
    pixels = ds.pixel_array
    if ds.get("SamplesPerPixel", 1) == 1:
        pixels = apply_modality_lut(pixels, ds)
    return np.asarray(pixels, np.float64)


def _verify(root: Path, entry: StudyEntry, sources: tuple[FileDataset, ...] | None) -> str:
    """Read back every file of a study; decode it where a CPython codec exists.

    Returns a short report; raises when a file has the wrong transfer syntax, does not
    decode, differs from its source though lossless, or is implausibly far from it.
    """
    worst, decoded = 0.0, 0
    for n, inst in enumerate(entry.instances):
        ds = pydicom.dcmread(root / inst.path)
        if ds.file_meta.TransferSyntaxUID != inst.transfer_syntax_uid:
            raise TestDataError(f"{inst.path}: transfer syntax {ds.file_meta.TransferSyntaxUID}"
                                f", expected {inst.transfer_syntax_uid}")
        if "PixelData" not in ds or ds.file_meta.TransferSyntaxUID in MPEGTransferSyntaxes:
            continue  # a document, or a video: nothing pydicom decodes
        if not get_decoder(ds.file_meta.TransferSyntaxUID).is_available:
            continue
        try:
            _ = ds.pixel_array
        except Exception as exc:  # any codec failure is a broken test file
            raise TestDataError(f"{inst.path}: pixel data does not decode: {exc}") from exc
        decoded += 1
        if sources is None:
            continue
        want, got = _modality_values(sources[n]), _modality_values(ds)
        if entry.lossless and not np.array_equal(want, got):
            raise TestDataError(f"{inst.path}: lossless {inst.transfer_syntax_uid} differs "
                                "from its source pixels")
        worst = max(worst, float(np.abs(want - got).mean() / max(np.ptp(want), 1.0)))
    if worst > 0.02:
        raise TestDataError(f"{entry.key}: lossy copy deviates {worst:.1%} of the range")
    return f"{decoded}/{entry.num_instances} decoded" + (
        f", max mean error {worst:.2%} of range" if worst else "")


def build(out: Path, ct_slices: int = 200, syntax_slices: int = 16,
          workers: int | None = None) -> Manifest:
    """Write everything into the empty folder ``out`` and return its manifest."""
    workers = workers or os.cpu_count() or 2
    key = cache_key(ct_slices, syntax_slices)
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name], clock = now - clock, now

    studies = synthetic.all_studies(ct_slices)
    by_key = {s.key: s for s in studies}
    variants = _variant_studies(by_key, syntax_slices)
    groups = [("synthetic", s) for s in studies]
    groups += [("hanging", s) for s in synthetic_hanging.hanging_studies()]
    lap("synthesize")

    entries: list[StudyEntry] = []
    write_jobs: list[tuple[Path, FileDataset]] = []
    for group, s in groups:
        paths = _rel_paths(s.key, len(s.datasets))
        write_jobs += [(out / p, ds) for p, ds in zip(paths, s.datasets)]
        entries.append(_study_entry(s.key, group, s.note, True, list(zip(paths, s.datasets))))
    work = out / ".work"
    encode_jobs: list[tuple[Encoder, Path, Path]] = []
    for v, s in variants:
        paths = _rel_paths(v.key, len(s.datasets))
        write_jobs += [(work / p, ds) for p, ds in zip(paths, s.datasets)]
        encode_jobs += [(v.encode, work / p, out / p) for p in paths]
        (out / v.key).mkdir(parents=True)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(_write, [write_jobs[i::workers] for i in range(workers)]))
        lap("write uncompressed")
        for future in [pool.submit(encode, src, dst) for encode, src, dst in encode_jobs]:
            future.result()
        lap(f"encode {len(encode_jobs)} files")
    shutil.rmtree(work)
    for v, s in variants:
        paths = _rel_paths(v.key, len(s.datasets))
        headers = [pydicom.dcmread(out / p, stop_before_pixels=True) for p in paths]
        entries.append(_study_entry(v.key, "transfer-syntax", s.note, v.lossless,
                                    list(zip(paths, headers))))
    entries += _copy_pydicom_files(out)
    entries.append(_write_real_world_files(out))
    entries.append(_write_documents(out, by_key["ct"]))
    entries.append(_write_overlays(out, by_key["ct"]))
    lap("copy pydicom files, write real-world files")

    sources: dict[str, tuple[FileDataset, ...]] = {v.key: s.datasets for v, s in variants}
    with ThreadPoolExecutor(workers) as pool:
        reports = list(pool.map(lambda e: _verify(out, e, sources.get(e.key)), entries))
    lap("verify")
    manifest = Manifest(out, key, ct_slices, syntax_slices, tuple(entries))
    (out / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1, ensure_ascii=False),
                                encoding="utf-8")
    for e, report in zip(entries, reports):
        print(f"  {e.key:34} {e.num_instances:4} x {','.join(e.transfer_syntax_uids):26} {report}")
    print("  " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    return manifest


def _copy_pydicom_files(out: Path) -> list[StudyEntry]:
    """Copy the curated pydicom test files; one manifest study per StudyInstanceUID."""
    by_study: dict[str, list[tuple[str, FileDataset]]] = {}
    (out / "pydicom").mkdir()
    for name in PYDICOM_FILES:
        src = get_testdata_file(name, download=False)
        if src is None:
            raise TestDataError(f"pydicom {pydicom.__version__} does not ship {name}")
        rel = f"pydicom/{name}"
        shutil.copyfile(src, out / rel)
        ds = pydicom.dcmread(out / rel, stop_before_pixels=True)
        by_study.setdefault(str(ds.StudyInstanceUID), []).append((rel, ds))
    entries = []
    for files in by_study.values():
        names = [Path(rel).stem for rel, _ in files]
        lossless = all(ds.get("LossyImageCompression") != "01"
                       and ds.file_meta.TransferSyntaxUID not in LOSSY_SYNTAXES
                       for _, ds in files)
        entries.append(_study_entry(f"pydicom-{names[0]}", "pydicom",
                                    "pydicom test files: " + ", ".join(names), lossless, files))
    return entries


# --- real-world style files -------------------------------------------------------------

REAL_WORLD_SYNTAXES = {"explicit-le": ExplicitVRLittleEndian, "implicit-le": ImplicitVRLittleEndian,
                       "explicit-be": ExplicitVRBigEndian}


def _real_world_uid(*parts: object) -> UID:
    return generate_uid(entropy_srcs=["ohifpy real-world", *map(str, parts)])


def _stored(values: np.ndarray, dtype: str, syntax: str) -> bytes:
    """Values as a file in ``syntax`` stores them, padded to even length: pydicom writes
    OB/OW values as given, so big endian words are swapped here."""
    order = ">" if syntax == "explicit-be" else "<"
    data = np.ascontiguousarray(values).astype(np.dtype(dtype).newbyteorder(order)).tobytes()
    return data + b"\0" * (len(data) % 2)


def _packed_8_bit(values: np.ndarray, syntax: str) -> bytes:
    """8-bit LUT entries two per OW word (PS3.3 C.7.6.3.1.5): big endian swaps each pair."""
    data = values.astype(np.uint8).tobytes() + b"\0" * (values.size % 2)
    return _stored(np.frombuffer(data, "<u2"), "u2", syntax)


def _real_world_image(name: str, syntax: str, sop_class: str, modality: str, description: str,
                      pixels: np.ndarray, photometric: str, bits: int) -> FileDataset:
    """One instance of the real-world study: its own series, ``pixels`` stored in ``bits``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = _real_world_uid(name, "instance")
    meta.TransferSyntaxUID = REAL_WORLD_SYNTAXES[syntax]
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(name, Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _real_world_uid(), _real_world_uid(name)
    ds.PatientName, ds.PatientID = "RealWorld^Files", "OHIFPY-REAL-WORLD"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20030501", "123000", "RW1", "1"
    with disable_value_validation():  # an old scanner's: pydicom warns on reading them
        ds.SeriesDate = ds.ContentDate = "2003.05.01"
        ds.ContentTime = "12:30:00"
    ds.StudyDescription, ds.SeriesDescription = "Real-world style files", description
    ds.Modality, ds.InstanceNumber = modality, 1
    color = photometric == "RGB"
    if pixels.ndim == (4 if color else 3):
        ds.NumberOfFrames = len(pixels)
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if color else pixels.shape[-2:]
    ds.SamplesPerPixel = 3 if color else 1
    if color:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    ds.PixelData = _stored(pixels, f"{pixels.dtype.kind}{bits // 8}", syntax)
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    return ds


def _real_world_palette(entries: int) -> np.ndarray:
    """Red, green, blue 16-bit entries whose two bytes differ, so a byte swap shows."""
    t = np.linspace(0.0, 1.0, entries)
    ramps = (3 * t, 3 * t - 1, np.sin(np.pi * t) ** 2)
    return np.rint(65535 * np.clip(ramps, 0.0, 1.0)).astype(np.uint16)


def _segmented(entries: np.ndarray) -> np.ndarray:
    """A segmented LUT (PS3.3 C.7.9.2) approximating ``entries``: one discrete entry, then
    linear segments of 32."""
    data = [0, 1, int(entries[0])]
    for start in range(0, len(entries) - 1, 32):
        end = min(start + 32, len(entries) - 1)
        data += [1, end - start, int(entries[end])]
    return np.array(data, dtype=np.uint16)


def _set_palette(ds: FileDataset, syntax: str, first_mapped: int, bits: int,
                 form: str = "plain") -> None:
    """Palette Color LUTs with an entry per 8-bit value (4096 for 16-bit pixels); ``form``:
    plain, packed (8-bit entries two per word), padded (one per word) or segmented."""
    entries = 256 if ds.BitsAllocated == 8 else 4096
    vr = "SS" if first_mapped < 0 else "US"
    for channel, values in zip(("Red", "Green", "Blue"), _real_world_palette(entries)):
        ds.add_new(f"{channel}PaletteColorLookupTableDescriptor", vr, [entries, first_mapped, bits])
        keyword = f"{channel}PaletteColorLookupTableData"
        if form == "segmented":
            keyword, data = f"Segmented{keyword}", _stored(_segmented(values), "u2", syntax)
        elif form == "packed":
            data = _packed_8_bit(values >> 8, syntax)
        else:
            data = _stored(values >> 8 if form == "padded" else values, "u2", syntax)
        ds.add_new(keyword, "OW", data)


def real_world_files() -> list[tuple[str, FileDataset]]:
    """The real-world study's files by name, in series order (the viewer opens the first)."""
    rows, cols = 48, 64
    ramp8 = (np.arange(rows * cols) % 256).astype(np.uint8).reshape(rows, cols)
    signed = np.linspace(-2600, 2600, rows * cols).astype(np.int16).reshape(rows, cols)
    unsigned = np.linspace(0, 4400, rows * cols).astype(np.uint16).reshape(rows, cols)
    files: list[tuple[str, FileDataset]] = []

    def add(name: str, syntax: str, sop_class: str, modality: str, description: str,
            pixels: np.ndarray, photometric: str, bits: int) -> FileDataset:
        name = f"{name}-{syntax}"
        ds = _real_world_image(name, syntax, sop_class, modality, f"{description}, {syntax}",
                               pixels, photometric, bits)
        ds.SeriesNumber = len(files) + 1
        files.append((name, ds))
        return ds

    sc, us = synthetic.SC_IMAGE, "1.2.840.10008.5.1.4.1.1.6.1"
    for bits, form in ((16, "plain"), (8, "packed")):
        for syntax in REAL_WORLD_SYNTAXES:
            ds = add(f"palette-lut{bits}", syntax, sc, "OT",
                     f"Palette, {bits}-bit LUT data", ramp8, "PALETTE COLOR", 8)
            _set_palette(ds, syntax, 0, bits, form)
    ds = add("palette-lut8-in-words", "implicit-le", sc, "OT",
             "Palette, 8-bit entries one per word", ramp8, "PALETTE COLOR", 8)
    _set_palette(ds, "implicit-le", 0, 8, "padded")
    for syntax in REAL_WORLD_SYNTAXES:
        ds = add("palette-signed-ss", syntax, sc, "OT", "Palette, signed, SS descriptor",
                 signed, "PALETTE COLOR", 16)
        _set_palette(ds, syntax, -2048, 16)
    for syntax in REAL_WORLD_SYNTAXES:
        ds = add("palette-segmented", syntax, us, "US", "US palette, segmented LUT",
                 unsigned, "PALETTE COLOR", 16)
        _set_palette(ds, syntax, 0, 16, "segmented")
    for bits in (16, 32):
        rgb = np.random.default_rng(bits).integers(0, 2**bits, (30, 40, 3), dtype=np.uint64)
        for syntax in ("explicit-le", "explicit-be"):
            add(f"rgb-{bits}", syntax, sc, "OT", f"RGB, {bits} bits allocated",
                rgb.astype(f"u{bits // 8}"), "RGB", bits)
    y, x = np.mgrid[0:32, 0:32]
    for sop_class, modality, syntax in (("1.2.840.10008.5.1.4.1.1.2.1", "CT", "explicit-le"),
                                        ("1.2.840.10008.5.1.4.1.1.4.1", "MR", "explicit-be")):
        frames = np.stack([x * 40 + y * 25 + k * 300 for k in range(4)])
        frames = (frames - 1000).astype(np.int16) if modality == "CT" else frames.astype(np.uint16)
        ds = add(f"enhanced-{modality.lower()}", syntax, sop_class, modality,
                 f"Enhanced {modality}, functional groups", frames, "MONOCHROME2", 16)
        _set_functional_groups(ds, modality)
    stored = (np.arange(64 * 64) % 4096).astype(np.uint16).reshape(64, 64)
    ds = add("modality-lut", "implicit-le", synthetic.CR_IMAGE, "CR", "Modality LUT Sequence",
             stored, "MONOCHROME2", 16)
    ds.BitsStored, ds.HighBit = 12, 11
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "OD"
    item.add_new("LUTData", "OW", _stored(np.rint(np.linspace(0, 1, 4096) ** 0.5 * 65535),
                                          "u2", "implicit-le"))
    ds.ModalityLUTSequence = [item]
    return files


def _set_functional_groups(ds: FileDataset, modality: str) -> None:
    """Shared Pixel Value Transformation and Pixel Measures, per-frame Frame VOI LUT (two
    windows each) and Plane Position, as enhanced CT and MR scanners write them."""
    shared, transformation, measures = Dataset(), Dataset(), Dataset()
    transformation.RescaleSlope = 1
    transformation.RescaleIntercept = -1024 if modality == "CT" else 0
    transformation.RescaleType = "HU" if modality == "CT" else "US"
    measures.PixelSpacing, measures.SliceThickness = [0.5, 0.5], 1
    shared.PixelValueTransformationSequence = [transformation]
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for k in range(int(ds.NumberOfFrames)):
        item, voi, position = Dataset(), Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = [400 + 100 * k, 40], [1500 + 200 * k, 400]
        voi.WindowCenterWidthExplanation = ["WIDE", "NARROW"]
        position.ImagePositionPatient = [0, 0, k]
        item.FrameVOILUTSequence, item.PlanePositionSequence = [voi], [position]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame


def _write_real_world_files(out: Path) -> StudyEntry:
    """Write :func:`real_world_files` under ``real-world/`` as one manifest study."""
    (out / "real-world").mkdir()
    files = []
    for name, ds in real_world_files():
        rel = f"real-world/{name}.dcm"
        syntax = ds.file_meta.TransferSyntaxUID
        pydicom.dcmwrite(out / rel, ds, implicit_vr=syntax.is_implicit_VR,
                         little_endian=syntax.is_little_endian, enforce_file_format=True)
        files.append((rel, ds))
    return _study_entry("real-world", "real-world", "real-world style files: "
                        + ", ".join(Path(rel).stem for rel, _ in files), True, files)


def _write_documents(out: Path, ct: synthetic.SyntheticStudy) -> StudyEntry:
    """Write :func:`ohifpy.synthetic_documents.documents_study` (SRs referring to ``ct``, a
    PDF, an H.264 video made with ffmpeg) under ``documents/`` as one manifest study."""
    try:
        study = synthetic_documents.documents_study(ct)
    except synthetic_documents.DocumentToolError as exc:
        raise TestDataError(str(exc)) from None
    files = list(zip(_rel_paths(study.key, len(study.datasets)), study.datasets))
    _write((out / path, ds) for path, ds in files)
    return _study_entry(study.key, "documents", study.note, False, files)


def _write_overlays(out: Path, ct: synthetic.SyntheticStudy) -> StudyEntry:
    """Write :func:`ohifpy.synthetic_objects.ct_seg_study` (a copy of the first CT slices with
    SEGs and an RTSTRUCT over them) under ``ct-seg/`` as one manifest study."""
    try:
        study = synthetic_objects.ct_seg_study(ct)
    except RuntimeError as exc:  # highdicom missing
        raise TestDataError(str(exc)) from None
    files = list(zip(_rel_paths(study.key, len(study.datasets)), study.datasets))
    _write((out / path, ds) for path, ds in files)
    return _study_entry(study.key, "overlays", study.note, True, files)


def ensure(out: Path | None = None, ct_slices: int = 200, syntax_slices: int = 16) -> Manifest:
    """The manifest of up-to-date test data, building it first unless it is cached.

    Builds into a temporary sibling folder and renames it into place, so an interrupted
    run never leaves a folder that looks complete.
    """
    key = cache_key(ct_slices, syntax_slices)
    default = out is None
    out = (REPO / ".cache" / "testdata" / key) if out is None else out.resolve()
    if (out / MANIFEST).is_file():
        manifest = Manifest.load(out)
        if manifest.cache_key == key:
            print(f"test data up to date in {out}")
            return manifest
    elif out.exists() and any(out.iterdir()):
        raise TestDataError(f"{out} exists and holds no test-data manifest; not overwriting it")
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        build(tmp, ct_slices, syntax_slices)
        if out.exists():  # a stale build of ours (checked above)
            shutil.rmtree(out)
        try:
            tmp.rename(out)
        except OSError:  # a concurrent run finished first: use its identical output
            if not (out / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if default:  # older caches are stale by construction
        for old in out.parent.iterdir():
            if old != out and (old / MANIFEST).is_file():
                shutil.rmtree(old)
    manifest = Manifest.load(out)
    print(f"test data: {len(manifest.files())} files in {len(manifest.studies)} studies, "
          f"written to {out} in {time.perf_counter() - start:.1f}s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a content-keyed "
                        "folder under .cache/testdata/)")
    parser.add_argument("--syntax-slices", type=int, default=16,
                        help="CT slices in each compressed copy (default 16)")
    parser.add_argument("--ct-slices", type=int, default=200,
                        help="slices of the uncompressed CT (default 200)")
    args = parser.parse_args(argv)
    if args.syntax_slices < 1 or args.ct_slices < args.syntax_slices:
        parser.error("need 1 <= --syntax-slices <= --ct-slices")
    try:
        ensure(args.out, args.ct_slices, args.syntax_slices)
    except TestDataError as exc:
        print(f"make_test_data: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
