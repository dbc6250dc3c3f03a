"""Frames of a DICOM Part 10 instance, cut as WADO-RS RetrieveFrames would deliver them.

Used where frames come from whole instances instead of a frames endpoint: the static
DICOMweb tree the build writes, and the client's fallback for servers that fail on
``frames`` for some stored syntaxes (Orthanc 1.10: big endian, deflated, HTJ2K).
"""

from __future__ import annotations

import copy
import io

import pydicom
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.filewriter import write_file_meta_info
from pydicom.pixels.utils import get_expected_length, get_nr_frames
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from .dicom_json import PIXEL_DATA_TAGS
from .limits import DEFAULT_MAX_BODY_BYTES, inflate

__all__ = ["read_instance", "split_frames", "stored_transfer_syntax", "write_instance"]


def read_instance(data: bytes, max_inflated_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Dataset:
    """Parse a Part 10 file; ValueError says why it is not one.

    A deflated dataset is inflated here, at most ``max_inflated_bytes`` of it (what the
    metadata lets the instance hold, else the default): a few KB of deflate can claim
    gigabytes, and pydicom would inflate them whole before reading a tag.
    """
    try:
        if not _may_be_deflated(data):
            return pydicom.dcmread(io.BytesIO(data))
        buffer = io.BytesIO(data)
        preamble = read_preamble(buffer, False)
        file_meta = _read_file_meta_info(buffer)  # what dcmread reads first (pydicom pinned)
        if file_meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return pydicom.dcmread(io.BytesIO(data))
        try:
            inflated = inflate(data[buffer.tell():], max_inflated_bytes)
        except ValueError as exc:
            raise ValueError(f"the deflated dataset {exc}") from None
        return _read_inflated(inflated, preamble, file_meta)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"not a readable DICOM file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - see _malformed
        raise ValueError(f"not a readable DICOM file: {_malformed(exc)}") from None


def _may_be_deflated(data: bytes) -> bool:
    """Whether a Part 10 file's meta group may name the deflated syntax (or is not the
    usual group, for the careful path to say what is wrong): a cheap look that spares most
    files reading their meta twice (a third of the time a CT slice takes to read)."""
    if data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
        return True
    meta_end = 144 + int.from_bytes(data[140:144], "little")
    return DeflatedExplicitVRLittleEndian.encode() in data[132:meta_end]


def _read_inflated(inflated: bytes, preamble: bytes | None, file_meta: FileMetaDataset) -> Dataset:
    """A deflated file's dataset, inflated already, read with its real file meta.

    pydicom inflates with no limit, so it is handed the Explicit VR Little Endian file the
    deflated one inflates to.
    """
    plain_meta = copy.deepcopy(file_meta)  # a shallow copy would share the elements
    plain_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain = DicomBytesIO()
    plain.write((preamble or b"\0" * 128) + b"DICM")
    write_file_meta_info(plain, plain_meta, enforce_standard=False)
    plain.write(inflated)
    plain.seek(0)
    ds = pydicom.dcmread(plain)
    ds.file_meta = file_meta  # deflated, as stored (the encoding read is the same)
    ds.preamble = preamble
    return ds


def write_instance(ds: Dataset) -> bytes:
    """A dataset as a Part 10 file (file meta required: servers and disks store files);
    ValueError says why it cannot be one."""
    buffer = io.BytesIO()
    try:
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot be written as a DICOM file: {exc}") from None
    return buffer.getvalue()


def stored_transfer_syntax(ds: Dataset) -> UID:
    """The instance's transfer syntax from its file meta (frames cannot be cut without it)."""
    try:
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    except Exception as exc:  # noqa: BLE001 - see _malformed
        raise ValueError(f"file_meta.TransferSyntaxUID is unreadable: {_malformed(exc)}") from None
    if ts is None:
        raise ValueError("file_meta.TransferSyntaxUID is needed to split PixelData into frames")
    if not isinstance(ts, str) or not ts.strip():
        raise ValueError(f"file_meta.TransferSyntaxUID {ts!r} is not a UID")
    return UID(ts)


def _malformed(exc: Exception) -> str:
    """What pydicom said about malformed bytes, whatever it raised.

    pydicom reports them with whatever its failing step raises: EOFError, struct.error,
    NotImplementedError for an unknown VR, TypeError, IndexError (tests/test_fuzz.py found
    them), and converts most values only when they are first read. Reading a file and
    cutting its frames therefore turn anything pydicom raises into one ValueError naming
    it, so one bad file fails alone instead of surfacing as an unexpected exception.
    """
    return f"{type(exc).__name__}: {exc}"


def split_frames(ds: Dataset) -> list[bytes]:
    """The stored bytes of each frame of ``ds`` (none when it has no pixel data).

    Encapsulated data is split by fragments and offset tables; native data by the
    frame size, in the stored byte order (big endian stays big endian: the frame is
    labelled with the stored syntax and the decoder swaps). Deflated files are
    inflated by pydicom on reading, so their frames are native little endian.

    ValueError says why the frames cannot be cut (whatever pydicom raised about it).
    """
    try:
        return _split_frames(ds)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - see _malformed
        raise ValueError(f"cannot cut the pixel data into frames: {_malformed(exc)}") from None


def _split_frames(ds: Dataset) -> list[bytes]:
    tag = next((t for t in PIXEL_DATA_TAGS if t in ds), None)
    if tag is None:
        return []
    data = ds[tag].value
    nr_frames = get_nr_frames(ds, warn=False)
    if stored_transfer_syntax(ds).is_encapsulated:
        offsets = None
        if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
            offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
        try:
            frames = list(
                generate_frames(data, number_of_frames=nr_frames, extended_offsets=offsets)
            )
        except ValueError as exc:
            raise ValueError(f"cannot split encapsulated pixel data: {exc}") from None
        if len(frames) != nr_frames:
            raise ValueError(f"NumberOfFrames is {nr_frames} but the pixel data holds {len(frames)}")
        return frames
    try:
        expected = get_expected_length(ds, unit="bytes")
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"cannot size native pixel data: {exc}") from None
    if len(data) < expected:
        raise ValueError(f"pixel data has {len(data)} bytes, {nr_frames} frame(s) need {expected}")
    if expected % nr_frames:
        raise ValueError(
            f"{nr_frames} frames of {ds.get('BitsAllocated')}-bit pixels do not end on "
            "byte boundaries; WADO-RS frames cannot be cut from it"
        )
    size = expected // nr_frames
    if nr_frames == 1 and len(data) == size:
        return [data]  # a single frame's pixel data is the frame: not copied again
    return [bytes(data[i * size : (i + 1) * size]) for i in range(nr_frames)]
