"""Frames of a DICOM Part 10 instance, cut as WADO-RS RetrieveFrames would deliver them.

Used where frames come from whole instances instead of a frames endpoint: the static
DICOMweb tree the build writes, and the client's fallback for servers that fail on
``frames`` for some stored syntaxes (Orthanc 1.10: big endian, deflated, HTJ2K).
"""

from __future__ import annotations

import io

import pydicom
from pydicom import Dataset
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.pixels.utils import get_expected_length, get_nr_frames
from pydicom.uid import UID

from .dicom_json import PIXEL_DATA_TAGS

__all__ = ["read_instance", "split_frames", "stored_transfer_syntax", "write_instance"]


def read_instance(data: bytes) -> Dataset:
    """Parse a Part 10 file; ValueError says why it is not one."""
    try:
        return pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"not a readable DICOM file: {exc}") from None


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
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None:
        raise ValueError("file_meta.TransferSyntaxUID is needed to split PixelData into frames")
    return UID(ts)


def split_frames(ds: Dataset) -> list[bytes]:
    """The stored bytes of each frame of ``ds`` (none when it has no pixel data).

    Encapsulated data is split by fragments and offset tables; native data by the
    frame size, in the stored byte order (big endian stays big endian: the frame is
    labelled with the stored syntax and the decoder swaps). Deflated files are
    inflated by pydicom on reading, so their frames are native little endian.
    """
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
    return [bytes(data[i * size : (i + 1) * size]) for i in range(nr_frames)]
