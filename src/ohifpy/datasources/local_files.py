"""The user's own files as a data source: folders, ZIPs and DICOMDIRs, in the browser and here.

Files are reached through *handles* (:class:`FileHandle`: a name, a size and a synchronous
``read(offset, length)``): a path on disk (CPython, or Pyodide's mounted file system in
Node), a browser ``File`` read with ``FileReaderSync`` in the worker, or a ZIP member.
Adding files reads only their headers (up to the pixel data) and where the pixel data
lies; the catalog keeps those headers, and frames are read from the handle when the
viewer shows them, so a 2,000-file folder costs its headers, not its bytes.

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
import io
import os
import posixpath
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from pydicom import Dataset
from pydicom.encaps import get_frame
from pydicom.filereader import read_partial
from pydicom.pixels.utils import get_expected_length, get_nr_frames, pack_bits, unpack_bits
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from ..dicomweb.client import Frame
from ..dicomweb.dicom_json import PIXEL_DATA_TAGS
from ..dicomweb.media_types import frame_content_type
from ..dicomweb.part10 import read_instance, split_frames, stored_transfer_syntax
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
_HEAD = 132  # preamble and "DICM"
_HEADER_BUFFER = 64 * 1024  # one read holds most headers
_FRAME_BUFFER = 256  # serves the 8-byte item headers; a frame is read past it, whole
_MAX_ZIP_DEPTH = 3  # a ZIP in a ZIP in a ZIP; deeper is more likely a ZIP bomb than a study
_YIELD_EVERY = 50  # files between returns to the event loop, so the worker stays responsive
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
        import js  # exists only in Pyodide

        end = min(offset + length, self.size)
        if end <= offset:
            return b""
        buffer = js.FileReaderSync.new().readAsArrayBuffer(self.blob.slice(offset, end))
        return buffer.to_bytes()


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


def _at_pixel_data(tag: int, vr: str | None, length: int) -> bool:
    return tag in PIXEL_DATA_TAGS


def _read_header(handle: FileHandle, force: bool) -> tuple[Dataset, _Location | None]:
    """The file's dataset up to its pixel data, and where the pixel data lies."""
    stream = open_handle(handle)
    try:
        read = read_partial(stream, _at_pixel_data, force=force)
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
        location = _pixel_location(handle, stream.tell(), syntax, header)
    if location is None and "Rows" in header:
        raise LocalFileError(handle.name, "an image without pixel data: the file is truncated")
    return header, location


def _check_complete(handle: FileHandle, header: Dataset) -> None:
    """pydicom stops quietly at the end of a file: a value cut short means a truncated file."""
    last = None
    for last in header.elements():
        pass
    if last is None:
        raise LocalFileError(handle.name, "an empty dataset")
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
    handle: FileHandle, position: int, syntax: UID, header: Dataset
) -> _StoredPixels | None:
    """Where the pixel data element at ``position`` (if it is one) has its value.

    Its size is checked against the file and the image's attributes now, so a truncated
    file fails when added, not when its last frame is shown.
    """
    element = handle.read(position, 12)
    if len(element) < 8:
        return None
    endian = "<" if syntax.is_little_endian else ">"
    group, number = struct.unpack(f"{endian}HH", element[:4])
    if (group << 16 | number) not in PIXEL_DATA_TAGS:
        return None
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
        _check_fragments(handle, offset, get_nr_frames(header, warn=False))
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


def _check_fragments(handle: FileHandle, offset: int, frames: int) -> None:
    """Walk the item headers of encapsulated pixel data: every fragment must be in the file."""
    fragments = -1  # the first item is the Basic Offset Table
    while True:
        item = handle.read(offset, 8)
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


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


_Found = dict[str, tuple[FileHandle, bytes]]  # name key -> handle and its first bytes


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

        ``progress(read, total)`` is told how far the reading is, every few dozen files.
        """
        report = LocalFilesReport()
        files = list(self._expand(handles, report, depth=0))
        found: _Found = {_name_key(handle.name): (handle, head) for handle, head in files}
        done: set[int] = set()
        for index, (handle, head) in enumerate(files):
            self._add_file(handle, head, found, done, report)
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                if progress is not None:
                    progress(index + 1, len(files))
                await asyncio.sleep(0)
        if progress is not None:
            progress(len(files), len(files))
        for archive in self._archives:
            archive.close_member()
        return report

    def _expand(
        self, handles: Iterable[FileHandle], report: LocalFilesReport, depth: int
    ) -> Iterator[tuple[FileHandle, bytes]]:
        """Each handle with its first bytes, ZIPs replaced by their members."""
        for handle in handles:
            try:
                head = handle.read(0, _HEAD)
                if not head.startswith(_ZIP_MAGIC):
                    yield handle, head
                    continue
                if depth >= _MAX_ZIP_DEPTH:
                    raise LocalFileError(handle.name, f"a ZIP nested over {_MAX_ZIP_DEPTH} deep")
                archive = _ZipArchive(handle)
            except LocalFileError as exc:
                report.failed.append((exc.name, exc.reason))
                continue
            except Exception as exc:  # noqa: BLE001 - a browser read error, a corrupt ZIP
                report.failed.append((handle.name, f"cannot be read ({_describe(exc)})"))
                continue
            self._archives.append(archive)
            yield from self._expand(archive.members(), report, depth + 1)

    def _add_file(
        self, handle: FileHandle, head: bytes, found: _Found, done: set[int],
        report: LocalFilesReport,
    ) -> None:
        """Add one file (a DICOMDIR: the files it references), reporting what went wrong."""
        if id(handle) in done:  # every handle stays referenced by ``found`` or the file list
            return
        done.add(id(handle))
        if not _looks_like_dicom(head):
            report.skipped.append(handle.name)
            return
        try:
            header, location = _read_header(handle, force=head[128:132] != b"DICM")
            if "DirectoryRecordSequence" in header:
                self._add_referenced(handle, header, found, done, report)
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

    def _add_referenced(
        self, dicomdir: FileHandle, header: Dataset, found: _Found, done: set[int],
        report: LocalFilesReport,
    ) -> None:
        """The files a DICOMDIR references, among the given ones or next to it on disk."""
        folder = posixpath.dirname(dicomdir.name)
        for components in _referenced_paths(header):
            name = posixpath.join(folder, *components)
            key = _name_key(name)
            if key not in found and isinstance(dicomdir, PathHandle):
                path = _find_on_disk(dicomdir.path.parent, components)
                if path is not None:
                    handle = PathHandle.of(path, name)
                    found[key] = (handle, handle.read(0, _HEAD))
            if key not in found:
                report.failed.append((name, f"referenced by {dicomdir.name} but not given"))
                continue
            self._add_file(*found[key], found, done, report)

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


