"""The user's own files as a data source: folders, ZIPs and DICOMDIRs, in the browser and here.

Files are reached through *handles* (:class:`FileHandle`: a name, a size and a synchronous
``read(offset, length)``): a path on disk (CPython, or Pyodide's mounted file system in
Node), a browser ``File`` read with ``FileReaderSync`` in the worker, or a ZIP member.
Adding files reads only their headers (up to the pixel data) and where the pixel data
lies; the catalog keeps those headers, and frames are read from the handle when the
viewer shows them, so a 2,000-file folder costs its headers, not its bytes. Each file is
read once while added: its first 16 KiB, which hold a CT's header whole (after a longer
header, which is read on from the file, the next files are read further). A browser read
costs the thread that asks most of a millisecond whatever its size, so in the browser a
reader worker of the Python worker's own (``web/local_reader.js``) reads the next batch
of files while this one is parsed.

What each file is, is told by its bytes, never its name: ``PK\\x03\\x04`` is a ZIP whose
members are added in turn (nested ZIPs too), ``DICM`` at 128 a DICOM file (a DICOMDIR
brings in the files it references), a dataset without preamble starting with group 0008
(or 0002) one too; anything else is skipped. A DICOM file that cannot be used is listed
with the reason in the :class:`LocalFilesReport` while the others load.

Frames are served as stored, with the file's transfer syntax: native frames are cut by
size (big endian ones stay big endian; the decoder swaps), encapsulated ones through the
offset tables or by walking the fragments (:func:`pydicom.encaps.get_frame` on a stream),
and deflated files are inflated whole, as they can only be read from their start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import io
import itertools
import os
import posixpath
import struct
import zipfile
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

import numpy as np
from pydicom import Dataset, FileDataset
from pydicom.encaps import get_frame
from pydicom.filereader import read_partial
from pydicom.pixels.utils import get_expected_length, get_nr_frames, pack_bits, unpack_bits
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MPEGTransferSyntaxes,
)

from ..dicomweb.client import Frame
from ..dicomweb.dicom_json import PIXEL_DATA_TAGS
from ..dicomweb.limits import PixelDataSize
from ..dicomweb.media_types import frame_content_type
from ..dicomweb.part10 import read_instance, split_frames, stored_transfer_syntax, write_instance
from .catalog import CatalogSource
from .protocol import Capabilities, DataSourceError

__all__ = [
    "BlobHandle",
    "FileHandle",
    "HandleIO",
    "LocalFileError",
    "LocalFilesDataSource",
    "LocalFilesReport",
    "PathHandle",
    "ZipMemberHandle",
    "file_handles",
    "open_handle",
    "path_handles",
]

_ZIP_MAGIC = b"PK\x03\x04"
_HEAD = 16 * 1024  # a file's one read while adding: preamble, "DICM", a CT's whole header
_MAX_HEAD = 1024 * 1024  # the most that grows to, after longer headers (an MR's private data)
_HEADER_BUFFER = 64 * 1024  # a header longer than the read is read again, in steps this long
_FRAME_BUFFER = 256  # serves the 8-byte item headers; a frame is read past it, whole
_MAX_ZIP_DEPTH = 3  # a ZIP in a ZIP in a ZIP; deeper is more likely a ZIP bomb than a study
_YIELD_EVERY = 50  # files between returns to the event loop, so the worker stays responsive
_BATCH = 32  # files whose first bytes are read together, while the batch before is parsed
_UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM, _SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_PIXEL_SIZE_KEYWORDS = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel",
                        "PhotometricInterpretation")


class LocalFileError(DataSourceError):
    """A file that cannot be used; ``name`` is the file as the user gave it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


# ---------------------------------------------------------------------------------------
# File handles


class FileHandle(Protocol):
    """A file of the user's: ``name`` as given (a relative path), its ``size`` in bytes."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer at the end of the file)."""
        ...


@dataclass(frozen=True)
class PathHandle:
    """A file on a file system; opened for each read, so thousands hold no descriptors."""

    path: Path
    name: str
    size: int

    @classmethod
    def of(cls, path: str | os.PathLike[str], name: str | None = None) -> PathHandle:
        path = Path(path)
        return cls(path, name or path.as_posix(), path.stat().st_size)

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as file:
            file.seek(offset)
            return file.read(length)


class BlobHandle:
    """A browser ``File`` or ``Blob``, read synchronously in the dedicated worker.

    Only the slice asked for crosses into Python, so a 1 GB file costs its frames. ``js``
    is imported here only: CPython never loads this class's dependencies.
    """

    def __init__(self, blob: Any, name: str | None = None) -> None:
        self.blob = blob
        self.name = name or str(getattr(blob, "webkitRelativePath", "") or blob.name)
        self.size = int(blob.size)

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if end <= offset:
            return b""
        return _file_reader().readAsArrayBuffer(self.blob.slice(offset, end)).to_bytes()


@functools.cache
def _file_reader() -> Any:
    """The worker's one ``FileReaderSync``: it keeps no state between reads, and a new one
    per read is two more calls into JavaScript."""
    import js  # exists only in Pyodide

    return js.FileReaderSync.new()


class HandleIO(io.RawIOBase):
    """A handle as a seekable binary stream, for pydicom and ``zipfile``."""

    def __init__(self, handle: FileHandle) -> None:
        super().__init__()
        self.handle = handle
        self.name = handle.name  # pydicom takes a BufferedReader for a file and asks its name
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.handle.size}
        position = base[whence] + offset
        if position < 0:
            raise ValueError(f"{self.handle.name}: seek to {position}, before the start")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.handle.size - self._position)
        if wanted <= 0:
            return 0
        data = self.handle.read(self._position, wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class _SizedReader(io.BufferedReader):
    """Reads no more than the file holds: a corrupt element length (pydicom reads
    ``length`` bytes) must not allocate gigabytes before finding the file shorter."""

    def __init__(self, handle: FileHandle, buffer_size: int) -> None:
        super().__init__(HandleIO(handle), buffer_size)
        self._size = handle.size

    def read(self, size: int | None = -1) -> bytes:
        remaining = max(self._size - self.tell(), 0)
        return super().read(remaining if size is None or size < 0 else min(size, remaining))


def open_handle(handle: FileHandle, buffer_size: int = _HEADER_BUFFER) -> io.BufferedReader:
    """A buffered stream over ``handle``: pydicom reads element by element."""
    return _SizedReader(handle, buffer_size)


class _ZipArchive:
    """A ZIP's directory, and the one member stream kept open (reads of a member are
    mostly forward: a deflated member is decompressed from its start when reopened)."""

    def __init__(self, handle: FileHandle) -> None:
        self.name = handle.name
        self._zip = zipfile.ZipFile(open_handle(handle))
        self._open: tuple[zipfile.ZipInfo, IO[bytes]] | None = None

    def members(self) -> list[ZipMemberHandle]:
        return [ZipMemberHandle(self, info) for info in self._zip.infolist() if not info.is_dir()]

    def read(self, info: zipfile.ZipInfo, offset: int, length: int) -> bytes:
        if self._open is None or self._open[0] is not info:
            self.close_member()
            self._open = (info, self._zip.open(info))
        stream = self._open[1]
        stream.seek(offset)
        return stream.read(length)

    def close_member(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None

    def close(self) -> None:
        self.close_member()
        self._zip.close()


class ZipMemberHandle:
    """A file inside a ZIP, named ``<zip name>/<member path>``."""

    def __init__(self, archive: _ZipArchive, info: zipfile.ZipInfo) -> None:
        self._archive = archive
        self._info = info
        self.name = f"{archive.name}/{info.filename}"
        self.size = info.file_size

    def read(self, offset: int, length: int) -> bytes:
        return self._archive.read(self._info, offset, length)


def file_handles(
    entries: Iterable[Mapping[str, Any] | str | os.PathLike[str]],
) -> list[FileHandle]:
    """Handles for what the page or the command line gives.

    An entry is a path (a folder is walked), or ``{"file": ..., "path": ...}``: the page's
    browser ``File`` (or, in CPython, a file's path) with the name it had in the user's
    folder, which DICOMDIR references are resolved against.
    """
    handles: list[FileHandle] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            handles.extend(path_handles([entry]))
        elif isinstance(entry["file"], str | os.PathLike):
            handles.append(PathHandle.of(entry["file"], entry.get("path") or None))
        else:
            handles.append(BlobHandle(entry["file"], entry.get("path") or None))
    return handles


def path_handles(paths: Iterable[str | os.PathLike[str]]) -> list[PathHandle]:
    """Handles of the files at ``paths``, folders walked recursively in name order."""
    handles: list[PathHandle] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, folders, files in os.walk(path):
                folders.sort()
                handles.extend(PathHandle.of(Path(root, name)) for name in sorted(files))
        elif path.is_file():
            handles.append(PathHandle.of(path))
        else:
            raise DataSourceError(f"{path}: no such file or folder")
    return handles


# ---------------------------------------------------------------------------------------
# Where an instance's frames are


@dataclass(frozen=True)
class _StoredPixels:
    """The pixel data element of a file: frames are read from it when asked for."""

    handle: FileHandle
    transfer_syntax_uid: UID
    offset: int  # of the element's value
    length: int | None  # None: encapsulated (undefined length)

    def frames(self, header: Dataset, numbers: Sequence[int]) -> list[bytes]:
        if self.length is None:
            return self._encapsulated_frames(header, numbers)
        count = get_nr_frames(header, warn=False)
        total = get_expected_length(header, unit="bytes")
        samples = header.Rows * header.Columns * header.SamplesPerPixel
        if header.BitsAllocated == 1 and samples % 8:  # frames not ending on a byte
            bits = np.asarray(unpack_bits(self.handle.read(self.offset, total)))
            return [pack_bits(bits[(n - 1) * samples : n * samples]) for n in numbers]
        size = total // count
        return [self.handle.read(self.offset + (n - 1) * size, size) for n in numbers]

    def _encapsulated_frames(self, header: Dataset, numbers: Sequence[int]) -> list[bytes]:
        extended = None
        if "ExtendedOffsetTable" in header and "ExtendedOffsetTableLengths" in header:
            extended = (header.ExtendedOffsetTable, header.ExtendedOffsetTableLengths)
        count = get_nr_frames(header, warn=False)
        stream = open_handle(self.handle, _FRAME_BUFFER)
        frames = []
        for number in numbers:
            stream.seek(self.offset)
            try:
                frames.append(get_frame(stream, number - 1, extended_offsets=extended,
                                        number_of_frames=count))
            except (ValueError, struct.error) as exc:
                raise LocalFileError(self.handle.name, f"frame {number}: {exc}") from None
        return frames


@dataclass(frozen=True)
class _WholeDataset:
    """Pixel data only reachable by reading the whole instance: a deflated file (inflated
    from its start) or an instance stored in this session."""

    name: str
    load: Callable[[], Dataset]
    transfer_syntax_uid: UID

    def split(self) -> list[bytes]:
        try:
            return split_frames(self.load())
        except ValueError as exc:
            raise LocalFileError(self.name, str(exc)) from None


_Location = _StoredPixels | _WholeDataset


# ---------------------------------------------------------------------------------------
# Reading a file's header


def _looks_like_dicom(head: bytes) -> bool:
    """Part 10 (``DICM`` after the preamble), or a bare dataset starting with group 0002 or
    0008 in either byte order (older or hand-made files without File Meta)."""
    return head[128:132] == b"DICM" or (
        len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x08"))


def _read_at(handle: FileHandle, head: bytes, offset: int, length: int) -> bytes:
    """``handle.read``, served from ``head`` (the file's first bytes) when it holds the range."""
    if offset + length <= len(head) or len(head) >= handle.size:
        return head[offset : offset + length]
    return handle.read(offset, length)


def _parse(stream: BinaryIO, force: bool) -> tuple[FileDataset, int | None]:
    """pydicom's reading up to the pixel data, and where that element starts (None: not met)."""
    at_pixels = False

    def stop(tag: int, vr: str | None, length: int) -> bool:
        nonlocal at_pixels
        at_pixels = tag in PIXEL_DATA_TAGS
        return at_pixels

    read = read_partial(stream, stop, force=force)
    return read, stream.tell() if at_pixels else None


def _parse_header(handle: FileHandle, head: bytes) -> tuple[FileDataset, int | None]:
    """:func:`_parse` of ``head`` when it holds the header up to the pixel data (or the whole
    file): no read, no Python-level stream. A longer header is read from the file."""
    force = head[128:132] != b"DICM"
    if len(head) >= handle.size:
        return _parse(io.BytesIO(head), force)
    try:
        read, position = _parse(io.BytesIO(head), force)
    except Exception:  # noqa: BLE001 - cut off inside the header: read on from the file
        position = None
    if position is None:
        return _parse(open_handle(handle), force)
    return read, position


def _read_header(handle: FileHandle, head: bytes) -> tuple[Dataset, _Location | None]:
    """The file's dataset up to its pixel data, and where the pixel data lies."""
    try:
        read, position = _parse_header(handle, head)
    except Exception as exc:  # noqa: BLE001 - pydicom raises anything on garbage
        raise LocalFileError(handle.name, f"not a readable DICOM file ({_describe(exc)})") from None
    header = Dataset(read)  # drops the FileDataset, which would keep the stream
    is_implicit, is_little = (bool(flag) for flag in read.original_encoding)
    header.set_original_encoding(is_implicit, is_little, read.original_character_set)
    header.file_meta = read.file_meta
    _check_complete(handle, header)
    if "DirectoryRecordSequence" in header:
        return header, None
    syntax = read.file_meta.get("TransferSyntaxUID")
    if syntax == DeflatedExplicitVRLittleEndian:
        location: _Location | None = _WholeDataset(
            handle.name, lambda: read_instance(handle.read(0, handle.size)),
            _served_syntax(syntax))
    else:
        syntax = UID(syntax) if syntax else _syntax_of_encoding(is_implicit, is_little)
        location = _pixel_location(handle, head, position, syntax, header)
    if location is None and "Rows" in header:
        raise LocalFileError(handle.name, "an image without pixel data: the file is truncated")
    return header, location


def _check_complete(handle: FileHandle, header: Dataset) -> None:
    """pydicom stops quietly at the end of a file: a value cut short means a truncated file."""
    if not header:
        raise LocalFileError(handle.name, "an empty dataset")
    last = header.get_item(max(header.keys(), key=int))  # what elements() would end with
    value = last.value
    length = getattr(last, "length", _UNDEFINED_LENGTH)
    if isinstance(value, bytes) and length != _UNDEFINED_LENGTH and len(value) < length:
        raise LocalFileError(
            handle.name, f"truncated: element {last.tag} has {len(value)} of its {length} bytes")


def _syntax_of_encoding(is_implicit: bool, is_little: bool) -> UID:
    """The transfer syntax of a file without File Meta, from how pydicom found it encoded."""
    if is_implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if is_little else ExplicitVRBigEndian


def _pixel_location(
    handle: FileHandle, head: bytes, position: int | None, syntax: UID, header: Dataset
) -> _StoredPixels | None:
    """Where the pixel data element at ``position`` (None: there is none) has its value.

    Its size is checked against the file and the image's attributes now, so a truncated
    file fails when added, not when its last frame is shown.
    """
    if position is None:
        return None
    element = _read_at(handle, head, position, 12)
    endian = "<" if syntax.is_little_endian else ">"
    if syntax.is_implicit_VR:
        (length,), offset = struct.unpack(f"{endian}L", element[4:8]), position + 8
    elif len(element) == 12 and element[4:6] in (b"OB", b"OW", b"OF", b"OD", b"UN"):
        (length,), offset = struct.unpack(f"{endian}L", element[8:12]), position + 12
    else:
        raise LocalFileError(handle.name, f"pixel data with VR {element[4:6]!r}")
    if length == _UNDEFINED_LENGTH:
        if not syntax.is_encapsulated:
            raise LocalFileError(
                handle.name, f"encapsulated pixel data in native transfer syntax {syntax.name}")
        # A video's stream is one frame to the encapsulation, however many it shows.
        frames = 1 if syntax in MPEGTransferSyntaxes else get_nr_frames(header, warn=False)
        _check_fragments(handle, head, offset, frames)
        return _StoredPixels(handle, syntax, offset, None)
    if syntax.is_encapsulated:
        raise LocalFileError(
            handle.name, f"native pixel data in encapsulated transfer syntax {syntax.name}")
    missing = [keyword for keyword in _PIXEL_SIZE_KEYWORDS if header.get(keyword) is None]
    if missing:
        raise LocalFileError(handle.name, f"pixel data without {', '.join(missing)}")
    try:
        expected = get_expected_length(header, unit="bytes")
    except (ValueError, TypeError) as exc:
        raise LocalFileError(handle.name, f"cannot size the pixel data ({exc})") from None
    if min(length, handle.size - offset) < expected:
        raise LocalFileError(
            handle.name,
            f"truncated: {get_nr_frames(header, warn=False)} frame(s) need {expected} bytes "
            f"of pixel data, the file holds {max(min(length, handle.size - offset), 0)}",
        )
    return _StoredPixels(handle, syntax, offset, length)


def _check_fragments(handle: FileHandle, head: bytes, offset: int, frames: int) -> None:
    """Walk the item headers of encapsulated pixel data: every fragment must be in the file."""
    fragments = -1  # the first item is the Basic Offset Table
    while True:
        item = _read_at(handle, head, offset, 8)
        if len(item) < 8:
            raise LocalFileError(handle.name, "truncated: the pixel data fragments end early")
        group, number, length = struct.unpack("<HHL", item)
        tag = group << 16 | number
        if tag == _SEQUENCE_DELIMITER:
            break
        if tag != _ITEM or length == _UNDEFINED_LENGTH or offset + 8 + length > handle.size:
            raise LocalFileError(
                handle.name, f"truncated or corrupt pixel data: bad fragment at byte {offset}")
        fragments += 1
        offset += 8 + length
    if fragments < frames:
        raise LocalFileError(
            handle.name, f"{frames} frames but only {max(fragments, 0)} pixel data fragment(s)")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while headers are added: reading them makes no cycles
    (reference counting frees it all), while each full collection would rescan every
    header kept so far, a tenth of the time of a large folder in Pyodide."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------
# Many files' first bytes


class _ReaderThread:
    """``local_reader.js``: a worker of the Python worker's own that reads browser files'
    first bytes while Python parses the ones before (a read costs the thread that asks most
    of a millisecond, so reading in this thread could not overlap the parsing)."""

    def __init__(self) -> None:
        import js  # exists only in Pyodide
        from pyodide.ffi import create_proxy

        self._worker = js.Worker.new(js.URL.new("local_reader.js", js.location.href).href)
        self._waiting: dict[int, asyncio.Future[list[bytes | str]]] = {}
        self._ids = itertools.count()
        self.failed = False
        # Proxies kept for the worker's life: they are called whenever it answers.
        self._worker.onmessage = create_proxy(self._answered)
        self._worker.onerror = create_proxy(self._broken)

    def read(self, blobs: Sequence[Any], length: int) -> asyncio.Future[list[bytes | str]]:
        """Each blob's first ``length`` bytes, or why it could not be read."""
        import js
        from pyodide.ffi import to_js

        request = next(self._ids)
        self._waiting[request] = asyncio.get_running_loop().create_future()
        self._worker.postMessage(to_js({"id": request, "files": list(blobs), "length": length},
                                       dict_converter=js.Object.fromEntries))
        return self._waiting[request]

    def _answered(self, event: Any) -> None:
        future = self._waiting.pop(event.data.id, None)
        if future is not None and not future.done():
            future.set_result([head if isinstance(head, str) else head.to_bytes()
                               for head in event.data.heads])

    def _broken(self, event: Any) -> None:
        """The script did not load (a dist without it): this session reads in its own thread."""
        event.preventDefault()
        self.failed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(OSError("local_reader.js did not start"))
        self._waiting.clear()


@functools.cache
def _reader_thread() -> _ReaderThread:
    return _ReaderThread()


def _first_bytes(handle: FileHandle, length: int) -> bytes | str:
    """The file's first ``length`` bytes, or why they cannot be read."""
    try:
        return handle.read(0, length)
    except Exception as exc:  # noqa: BLE001 - a browser read error (a file moved meanwhile)
        return _describe(exc)


async def _read_here(handles: Sequence[FileHandle], length: int) -> list[bytes | str]:
    """:func:`_first_bytes` of each file, read in this thread when awaited."""
    return [_first_bytes(handle, length) for handle in handles]


def _read_batch(handles: Sequence[FileHandle], length: int) -> Awaitable[list[bytes | str]]:
    """Browser files go to the reader thread at once; other files are read when awaited."""
    blobs = [handle.blob for handle in handles if isinstance(handle, BlobHandle)]
    if len(blobs) == len(handles):
        reader = _reader_thread()
        if not reader.failed:
            return reader.read(blobs, length)
    return _read_here(handles, length)


async def _heads(
    handles: Sequence[FileHandle], adding: _Adding
) -> AsyncIterator[tuple[FileHandle, bytes]]:
    """Each file with its first ``adding.head`` bytes, the next :data:`_BATCH` files read
    meanwhile; a file that cannot be read is reported (and done) instead."""
    batches = [handles[start : start + _BATCH] for start in range(0, len(handles), _BATCH)]
    reading = [_read_batch(batch, adding.head) for batch in batches[:1]]
    for index, batch in enumerate(batches):
        if index + 1 < len(batches):  # read while this batch is parsed
            reading.append(_read_batch(batches[index + 1], adding.head))
        try:
            heads = await reading.pop(0)
        except OSError:  # the reader thread is gone
            heads = await _read_here(batch, adding.head)
        for handle, head in zip(batch, heads):
            if isinstance(head, str):
                _unreadable(handle, adding, head)
            else:
                yield handle, head


def _unreadable(handle: FileHandle, adding: _Adding, why: str) -> None:
    adding.done[id(handle)] = handle
    adding.report.failed.append((handle.name, f"cannot be read ({why})"))


# ---------------------------------------------------------------------------------------
# DICOMDIR


def _referenced_paths(dicomdir: Dataset) -> list[list[str]]:
    """The Referenced File IDs of a DICOMDIR's records, as path components."""
    paths = []
    for record in dicomdir.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if file_id:
            paths.append([str(file_id)] if isinstance(file_id, str) else [str(c) for c in file_id])
    return paths


def _find_on_disk(folder: Path, components: Sequence[str]) -> Path | None:
    """``folder/components`` regardless of case: a CD's DICOMDIR says ``IMAGES/IM1``, Linux
    mounts it as ``images/im1``."""
    path = folder
    for component in components:
        if (path / component).exists():
            path = path / component
            continue
        wanted = component.casefold()
        matches = [entry for entry in path.iterdir() if entry.name.casefold() == wanted] \
            if path.is_dir() else []
        if not matches:
            return None
        path = matches[0]
    return path if path.is_file() else None


def _name_key(name: str) -> str:
    """A file name as DICOMDIR references are compared with it (separators, case)."""
    return posixpath.normpath(name.replace("\\", "/")).casefold()


# ---------------------------------------------------------------------------------------
# The data source


@dataclass
class LocalFilesReport:
    """What one :meth:`LocalFilesDataSource.add_files` found.

    ``added`` counts instances new to the source, ``instances`` every instance this call
    read (a folder opened again adds none but still holds them); ``skipped`` names files
    that are not DICOM; ``failed`` pairs DICOM files that cannot be used with why;
    ``study_instance_uids`` lists the studies of this call's files in the order first seen
    (also when they were already loaded, so the page can open them).
    """

    added: int = 0
    instances: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    study_instance_uids: list[str] = field(default_factory=list)


@dataclass
class _Adding:
    """One :meth:`LocalFilesDataSource.add_files`: its report, every file by name (DICOMDIR
    references are resolved against them), the files done (kept, so their ids stay theirs),
    the DICOMDIRs waiting until every name is known, and how many files there are so far."""

    report: LocalFilesReport
    found: dict[str, FileHandle]
    total: int
    done: dict[int, FileHandle] = field(default_factory=dict)
    dicomdirs: list[tuple[FileHandle, Dataset]] = field(default_factory=list)
    head: int = _HEAD  # how much of each file is read first

    def fit(self, header_length: int) -> None:
        """Read enough of the next files for a header this long (files come in series)."""
        self.head = min(_MAX_HEAD, max(self.head, 1 << (header_length + 8).bit_length()))


class LocalFilesDataSource(CatalogSource):
    """The user's own files: added with :meth:`add_files`, searched in memory, read lazily.

    Instances stored in the session (a measurement report) join the loaded ones, so they
    show up as a server's would; reports are offered as downloads too, since nothing
    outlives the session.
    """

    def __init__(self, name: str = "local", friendly_name: str = "Local files") -> None:
        super().__init__(name, friendly_name, Capabilities(
            store=True, rendered=False, query_options=False, download_reports=True))
        self._archives: list[_ZipArchive] = []
        # The last whole-read instance's frames: a deflated multi-frame file is inflated
        # once while its frames are shown, not once per frame.
        self._split: tuple[_WholeDataset, list[bytes]] | None = None

    @classmethod
    async def from_paths(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        name: str = "local",
        friendly_name: str = "Local files",
    ) -> tuple[LocalFilesDataSource, LocalFilesReport]:
        """A source holding the files at ``paths`` (folders walked), and what was found."""
        source = cls(name, friendly_name)
        return source, await source.add_files(path_handles(paths))

    async def add_files(
        self, handles: Iterable[FileHandle], progress: Callable[[int, int], None] | None = None
    ) -> LocalFilesReport:
        """Add files, ZIPs and DICOMDIRs; a file that cannot be used is reported, not raised.

        One pass, one read per file (its first bytes, as many as the headers so far needed;
        in the browser the next batch is read meanwhile, by a thread of its own), two
        batches of them held at most. DICOMDIRs come last, once every name is known: the
        files they reference that were given are added by then.
        ``progress(read, total)`` is told how far the reading is, every few dozen files.
        """
        given = list(handles)
        adding = _Adding(LocalFilesReport(), {_name_key(h.name): h for h in given}, len(given))
        read = 0
        with _collector_paused():
            async for handle, head in self._files(given, adding, depth=0):
                self._add_file(handle, head, adding)
                read += 1
                if read % _YIELD_EVERY == 0:
                    if progress is not None:
                        progress(read, adding.total)
                    await asyncio.sleep(0)
            while adding.dicomdirs:
                self._add_referenced(*adding.dicomdirs.pop(0), adding)
        if progress is not None:
            progress(read, read)
        for archive in self._archives:
            archive.close_member()
        return adding.report

    async def _files(
        self, handles: Sequence[FileHandle], adding: _Adding, depth: int
    ) -> AsyncIterator[tuple[FileHandle, bytes]]:
        """Each file with its first bytes, a ZIP's members in its place (named from then on)."""
        async for handle, head in _heads(handles, adding):
            if not head.startswith(_ZIP_MAGIC):
                yield handle, head
                continue
            try:
                if depth >= _MAX_ZIP_DEPTH:
                    raise LocalFileError(handle.name, f"a ZIP nested over {_MAX_ZIP_DEPTH} deep")
                archive = _ZipArchive(handle)
            except LocalFileError as exc:
                adding.report.failed.append((exc.name, exc.reason))
                continue
            except Exception as exc:  # noqa: BLE001 - a browser read error, a corrupt ZIP
                adding.report.failed.append((handle.name, f"cannot be read ({_describe(exc)})"))
                continue
            self._archives.append(archive)
            members = archive.members()
            if adding.found.get(_name_key(handle.name)) is handle:  # a ZIP is no DICOMDIR's file
                del adding.found[_name_key(handle.name)]
            adding.found.update((_name_key(member.name), member) for member in members)
            adding.total += len(members) - 1
            async for item in self._files(members, adding, depth + 1):
                yield item

    def _add_file(self, handle: FileHandle, head: bytes, adding: _Adding) -> None:
        """Add one file (a DICOMDIR waits for the end), reporting what went wrong."""
        if id(handle) in adding.done:
            return
        adding.done[id(handle)] = handle
        report = adding.report
        if not _looks_like_dicom(head):
            report.skipped.append(handle.name)
            return
        try:
            header, location = _read_header(handle, head)
            if isinstance(location, _StoredPixels) and location.offset > len(head):
                adding.fit(location.offset)
            if "DirectoryRecordSequence" in header:
                adding.dicomdirs.append((handle, header))
                return
            new = str(header.get("SOPInstanceUID", "")) not in self._catalog
            self._catalog.add(header, location)
        except LocalFileError as exc:
            report.failed.append((exc.name, exc.reason))
            return
        except DataSourceError as exc:
            report.failed.append((handle.name, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a browser read error, a damaged value
            report.failed.append((handle.name, f"cannot be read ({_describe(exc)})"))
            return
        report.added += new
        report.instances += 1
        study = str(header.StudyInstanceUID)
        if study not in report.study_instance_uids:
            report.study_instance_uids.append(study)

    def _add_referenced(self, dicomdir: FileHandle, header: Dataset, adding: _Adding) -> None:
        """The files a DICOMDIR references, among the given ones or next to it on disk."""
        folder = posixpath.dirname(dicomdir.name)
        for components in _referenced_paths(header):
            name = posixpath.join(folder, *components)
            key = _name_key(name)
            if key not in adding.found and isinstance(dicomdir, PathHandle):
                path = _find_on_disk(dicomdir.path.parent, components)
                if path is not None:
                    adding.found[key] = PathHandle.of(path, name)
            handle = adding.found.get(key)
            if handle is None:
                adding.report.failed.append((name, f"referenced by {dicomdir.name} but not given"))
            elif id(handle) not in adding.done:
                head = _first_bytes(handle, adding.head)
                if isinstance(head, str):
                    _unreadable(handle, adding, head)
                else:
                    self._add_file(handle, head, adding)

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        """Nothing is left out of a header but the pixel data: LUTs and palettes are in it."""
        return dataset

    # frames

    async def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int],
        *,
        transfer_syntax_uid: str | None = None,
        pixel_size: PixelDataSize | None = None,
    ) -> list[Frame]:
        """Frames read from the file as stored; there is no server here to transcode them."""
        header, location = self._catalog.locate(sop_instance_uid)
        if (str(header.StudyInstanceUID), str(header.SeriesInstanceUID)) != (
            study_instance_uid, series_instance_uid
        ):
            raise DataSourceError(f"SOP instance {sop_instance_uid} is not in series "
                                  f"{series_instance_uid} of study {study_instance_uid}")
        if not isinstance(location, _StoredPixels | _WholeDataset):
            raise DataSourceError(f"SOP instance {sop_instance_uid} has no pixel data")
        syntax = str(location.transfer_syntax_uid)
        if transfer_syntax_uid not in (None, "*", syntax):
            raise DataSourceError(
                f"local files are read as stored: SOP instance {sop_instance_uid} is in "
                f"{location.transfer_syntax_uid.name}, not {transfer_syntax_uid}")
        count = get_nr_frames(header, warn=False)
        wrong = [n for n in frame_numbers if not 1 <= n <= count]
        if wrong:
            raise DataSourceError(f"SOP instance {sop_instance_uid} has {count} frame(s), "
                                  f"not frame {wrong[0]}")
        if isinstance(location, _StoredPixels):
            data = location.frames(header, frame_numbers)
        else:
            if self._split is None or self._split[0] is not location:
                self._split = (location, location.split())
            data = [self._split[1][n - 1] for n in frame_numbers]
        content_type = frame_content_type(syntax)
        return [Frame(n, frame, syntax, content_type) for n, frame in zip(frame_numbers, data)]

    async def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        *,
        transfer_syntax_uid: str = "*",
        pixel_size: PixelDataSize | None = None,
    ) -> bytes:
        """The instance as a Part 10 file, as stored: its file's bytes (an instance stored
        in this session, or one without pixel data, written from its dataset)."""
        header, location = self._catalog.locate(sop_instance_uid)
        if (str(header.StudyInstanceUID), str(header.SeriesInstanceUID)) != (
            study_instance_uid, series_instance_uid
        ):
            raise DataSourceError(f"SOP instance {sop_instance_uid} is not in series "
                                  f"{series_instance_uid} of study {study_instance_uid}")
        if transfer_syntax_uid not in ("*", str(header.file_meta.get("TransferSyntaxUID", ""))):
            raise DataSourceError(f"local files are read as stored: SOP instance "
                                  f"{sop_instance_uid} is not in {transfer_syntax_uid}")
        if isinstance(location, _StoredPixels):
            return location.handle.read(0, location.handle.size)
        try:
            return write_instance(location.load() if isinstance(location, _WholeDataset)
                                  else header)
        except ValueError as exc:
            raise DataSourceError(f"SOP instance {sop_instance_uid}: {exc}") from None

    # storage

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Keep the instances in this session (a report shows up among the loaded ones)."""
        prepared = []
        for index, item in enumerate(datasets):
            try:
                ds = read_instance(item) if isinstance(item, bytes) else item
            except ValueError as exc:
                raise DataSourceError(f"instance {index} cannot be stored: {exc}") from None
            if study_instance_uid and str(ds.get("StudyInstanceUID", "")) != study_instance_uid:
                raise DataSourceError(
                    f"instance {index} is not of study {study_instance_uid}: cannot store it there")
            prepared.append(_stored(ds, f"stored instance {index}"))
        for header, location in prepared:
            self._catalog.add(header, location)
        return Dataset()

    async def retrieve_rendered(self, *args: object, **kwargs: object) -> bytes:
        raise DataSourceError("local files have no server to render images")

    async def retrieve_thumbnail(self, *args: object, **kwargs: object) -> bytes:
        raise DataSourceError("local files have no server to make thumbnails")

    async def aclose(self) -> None:
        """Close the ZIPs' streams; their members cannot be read afterwards."""
        for archive in self._archives:
            archive.close()
        self._archives.clear()
        self._split = None


def _stored(ds: Dataset, name: str) -> tuple[Dataset, _WholeDataset | None]:
    """The header of an instance stored in the session, and where its frames are."""
    header = Dataset()
    for element in ds:
        if element.tag not in PIXEL_DATA_TAGS:
            header.add(element)
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None:
        header.file_meta = file_meta
    if not any(tag in ds for tag in PIXEL_DATA_TAGS):
        return header, None
    try:
        syntax = stored_transfer_syntax(ds)
    except ValueError as exc:
        raise DataSourceError(f"{name} cannot be stored: {exc}") from None
    return header, _WholeDataset(name, lambda: ds, _served_syntax(syntax))


def _served_syntax(syntax: UID) -> UID:
    """pydicom inflates a deflated dataset while reading: its frames are explicit VR LE."""
    return ExplicitVRLittleEndian if syntax == DeflatedExplicitVRLittleEndian else syntax


