"""OHIF's ``dicomjson`` data source: studies listed in a JSON file, instances as file URLs.

The file (OHIF's ``/viewer/dicomjson?url=`` and ``.scripts/dicom-json-generator.js``)::

    {"studies": [{"StudyInstanceUID": ..., "PatientName": ..., "StudyDate": ...,
                  "series": [{"SeriesInstanceUID": ..., "Modality": ..., "SeriesNumber": ...,
                              "instances": [{"metadata": {"SOPInstanceUID": ..., "Rows": ...},
                                             "url": "dicomweb:https://host/file.dcm"}]}]}]}

``metadata`` holds naturalized attributes (keywords as keys, plain JSON values). The
``url`` of an instance names a DICOM Part 10 file behind a cornerstone scheme prefix
(``dicomweb:``, ``wadouri:``, ``dicomfile:``); a multi-frame instance is listed once
per frame with ``?frame=N`` (1-based). Here those entries become one instance with its
NumberOfFrames, and, as in OHIF, the study's and series' attributes override each
instance's, so every instance header carries the study's patient and dates and the
catalog's study rows come out right.

Frames are cut from the whole file (fetched once however many frames are asked for,
kept in a small LRU by size); searches are answered by the in-memory
:class:`~ohifpy.datasources.catalog.Catalog`.

Security: only ``http`` and ``https`` URLs are fetched, without user info. Neither the
JSON nor any instance file is sent an ``Authorization`` header or any other credential
(the transport call adds no headers): the access token goes only to the configured
DICOMweb origins, and a JSON file may point anywhere.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from ..dicomweb import Frame, HTTPStatusError, Response, Transport
from ..dicomweb.dicom_json import PIXEL_DATA_TAGS
from ..dicomweb.limits import PixelDataSize
from ..dicomweb.media_types import frame_content_type
from ..dicomweb.part10 import read_instance, split_frames, stored_transfer_syntax
from ..dicomweb.retry import request_with_retries
from ..lru import SizedLRU
from .catalog import CatalogSource
from .dicomweb import fill_in_from_file
from .protocol import Capabilities, DataSourceError

__all__ = ["DicomJsonDataSource"]

TIMEOUT = 30.0
"""Seconds per request, as a DICOMweb source's default ``timeout``."""
MAX_RETRIES = 3
"""Retries of a busy (429/503/504) answer, as a DICOMweb source's default ``maxRetries``."""
CACHE_BYTES = 64 * 2**20
"""Parsed files kept by size: a multi-frame instance is asked for frame by frame."""
MAX_SEQUENCE_DEPTH = 8
"""Nested sequence items kept from the JSON; deeper ones are hostile or useless."""

_URL_PREFIXES = ("dicomweb:", "wadouri:", "dicomfile:")
_FETCHED_SCHEMES = frozenset({"http", "https"})
_FRAME = re.compile(r"[?&]frame=([^&#]*)$")
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_MAX_UID_CHARS = 64  # PS3.5 9.1
_NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "IS", "DS"})
# Bulk data: JSON metadata carries none (dcmjs writes binary values as {}).
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_STUDY_CHILDREN = "series"
_SERIES_CHILDREN = "instances"


@dataclass
class _Entry:
    """One SOP instance of the JSON, gathered from its one entry or its per-frame entries."""

    url: str
    attributes: dict[str, Any]
    frames: int = 0


@dataclass
class _File:
    """A fetched Part 10 file: its header (pixel data removed) and its frames as stored."""

    header: Dataset
    frames: list[bytes]
    transfer_syntax_uid: str
    content_type: str
    size: int


class DicomJsonDataSource(CatalogSource):
    """Studies of OHIF dicomjson files; :meth:`load` adds one file's studies.

    Parameters
    ----------
    name, friendly_name : str
        The config's ``name`` and ``friendlyName``.
    transport : Transport
        How files are fetched; shared with other sources, so :meth:`aclose` leaves it open.
    base_url : str, optional
        The page's URL, against which a relative JSON URL is resolved.
    cache_bytes : int, optional
        Size of the parsed-file cache.
    """

    def __init__(
        self,
        name: str,
        friendly_name: str,
        transport: Transport,
        *,
        base_url: str = "",
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        super().__init__(name, friendly_name,
                         Capabilities(store=False, rendered=False, query_options=False))
        self.transport = transport
        self.base_url = base_url
        self._loaded: dict[str, list[str]] = {}
        # Parsed files by URL, the least recently used dropped first beyond cache_bytes
        # (the newest always stays, however large).
        self._files: SizedLRU[str, _File] = SizedLRU(cache_bytes, lambda file: file.size)
        self._fetching: dict[str, asyncio.Task[_File]] = {}
        self._completed: set[str] = set()

    # loading

    async def load(self, url: str) -> list[str]:
        """Fetch a dicomjson file and add its studies; returns their StudyInstanceUIDs.

        A URL loaded before is not fetched again (as in OHIF). Nothing is added when
        the file is refused.

        Raises
        ------
        DataSourceError
            The URL is not ``http(s)``, or the file is not JSON of OHIF's shape
            (the message names the bad place, e.g. ``studies[0].series[2].instances[5]``).
        DICOMwebError
            The file could not be fetched (HTTP status, timeout, unreachable).
        """
        url = _fetchable_url(urljoin(self.base_url, url) if self.base_url else url, "dicomjson")
        if url in self._loaded:
            return list(self._loaded[url])
        response = await self._get(url)
        study_uids = self.add_json(response.body, response.url or url)
        self._loaded[url] = study_uids
        return list(study_uids)

    def add_json(self, body: bytes, url: str) -> list[str]:
        """Add the studies of a dicomjson body that came from ``url`` (relative instance
        URLs are resolved against it); returns their StudyInstanceUIDs."""
        try:
            document = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise DataSourceError(
                f"{url}: not a dicomjson file: not JSON ({exc}); it starts {body[:60]!r}"
            ) from None
        entries = _entries(document, url)
        headers = [(_header(entry), entry.url) for entry in entries]
        for header, file_url in headers:
            self._catalog.add(header, file_url)
        return list(dict.fromkeys(str(header.StudyInstanceUID) for header, _ in headers))

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        """Fill in, from the instance's own file, the attributes its JSON metadata left out.

        OHIF's files carry a few dozen attributes; what else decoding needs (palettes,
        LUT data, PlanarConfiguration, ...) is in the file, which the frames need
        anyway, so it is fetched once for both. Pixel data stays out. A dataset of no
        loaded instance is returned as it is.
        """
        sop_instance_uid = str(dataset.get("SOPInstanceUID", ""))
        if not sop_instance_uid or sop_instance_uid in self._completed:
            return dataset
        try:
            _, url = self._catalog.locate(sop_instance_uid)
        except DataSourceError:
            return dataset
        file = await self._file(str(url))
        fill_in_from_file(dataset, file.header)  # LUT data little endian, as JSON's is
        self._completed.add(sop_instance_uid)
        return dataset

    # pixel data

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
        """Frames (1-based) as stored in the instance's file.

        Raises
        ------
        DataSourceError
            The instance is unknown, a frame number is out of range, the file is not
            DICOM, or ``transfer_syntax_uid`` asks for another syntax than the stored
            one (files are not transcoded).
        DICOMwebError
            The file could not be fetched; the message names its URL.
        """
        numbers = list(frame_numbers)
        if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                              for n in numbers):
            raise ValueError(f"frame numbers must be integers from 1, not {numbers!r}")
        _, url = self._catalog.locate(sop_instance_uid)
        file = await self._file(str(url))
        if transfer_syntax_uid and transfer_syntax_uid != file.transfer_syntax_uid:
            raise DataSourceError(
                f"{url}: stored as {file.transfer_syntax_uid}; a dicomjson source cannot "
                f"transcode it to {transfer_syntax_uid}"
            )
        if max(numbers) > len(file.frames):
            raise DataSourceError(f"{url}: asked for frames {numbers}, the file has "
                                  f"{len(file.frames)}")
        return [Frame(n, file.frames[n - 1], file.transfer_syntax_uid, file.content_type)
                for n in numbers]

    # what a list of files cannot do

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Refused: a dicomjson file is read-only."""
        raise DataSourceError(f"data source {self.name!r} (dicomjson) cannot store instances")

    async def retrieve_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        frame_number: int | None = None,
        *,
        media_type: str = "image/png",
        window: tuple[float, float, str] | None = None,
        viewport: tuple[int, int] | None = None,
    ) -> bytes:
        """Refused: no server renders dicomjson instances."""
        raise DataSourceError(f"data source {self.name!r} (dicomjson) has no rendered images")

    async def retrieve_thumbnail(
        self,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        frame_number: int | None = None,
        *,
        media_type: str = "image/png",
        viewport: tuple[int, int] | None = None,
    ) -> bytes:
        """Refused: no server makes dicomjson thumbnails."""
        raise DataSourceError(f"data source {self.name!r} (dicomjson) has no thumbnails")

    async def aclose(self) -> None:
        """Drop the cached files; the transport is the caller's and stays open."""
        for task in self._fetching.values():
            task.cancel()
        self._fetching.clear()
        self._files.clear()

    # plumbing

    async def _get(self, url: str) -> Response:
        """GET with retries and no headers at all (no credentials leave for these URLs)."""
        response = await request_with_retries(
            self.transport, "GET", url, headers={}, timeout=TIMEOUT, max_retries=MAX_RETRIES
        )
        if response.status >= 400:
            raise HTTPStatusError(response.status, response.reason, url)
        return response

    async def _file(self, url: str) -> _File:
        """The parsed file at ``url``: from the cache, from a fetch already under way (a
        multi-frame instance's frames are asked for together), or fetched now."""
        file = self._files.get(url)
        if file is not None:
            return file
        task = self._fetching.get(url)
        if task is None:
            task = asyncio.ensure_future(self._fetch_file(url))
            self._fetching[url] = task
            task.add_done_callback(lambda done: self._fetched(url, done))
        # One caller giving up (a closed viewport) must not cancel the others' fetch.
        return await asyncio.shield(task)

    def _fetched(self, url: str, task: asyncio.Task[_File]) -> None:
        """Forget a finished fetch (a failed one is tried again at the next request)."""
        if self._fetching.get(url) is task:
            del self._fetching[url]
        if not task.cancelled():
            task.exception()  # retrieved: its awaiters, if all gave up, are not told

    async def _fetch_file(self, url: str) -> _File:
        response = await self._get(url)
        try:
            header = read_instance(response.body)
            syntax = str(stored_transfer_syntax(header))
            frames = split_frames(header)
        except ValueError as exc:
            raise DataSourceError(f"{url}: {exc}") from None
        for tag in PIXEL_DATA_TAGS:
            if tag in header:
                del header[tag]  # kept once, as frames
        if syntax == DeflatedExplicitVRLittleEndian:
            syntax = ExplicitVRLittleEndian  # pydicom inflated it while reading
        file = _File(header, frames, syntax, frame_content_type(syntax), len(response.body))
        self._files.put(url, file)
        return file


# the JSON


def _entries(document: Any, url: str) -> list[_Entry]:
    """The SOP instances of a dicomjson document, multi-frame entries gathered, checked
    for shape before anything is added."""
    if not isinstance(document, dict) or not isinstance(document.get("studies"), list):
        raise DataSourceError(f"{url}: not a dicomjson file: no \"studies\" list")
    entries: dict[str, _Entry] = {}
    for i, study in enumerate(document["studies"]):
        study_path = f"studies[{i}]"
        _uid(study, "StudyInstanceUID", study_path, url)
        for j, series in enumerate(_children(study, _STUDY_CHILDREN, study_path, url)):
            series_path = f"{study_path}.series[{j}]"
            _uid(series, "SeriesInstanceUID", series_path, url)
            for k, instance in enumerate(_children(series, _SERIES_CHILDREN, series_path, url)):
                path = f"{series_path}.instances[{k}]"
                _add_entry(entries, instance, study, series, path, url)
    return list(entries.values())


def _add_entry(entries: dict[str, _Entry], instance: Any, study: dict[str, Any],
               series: dict[str, Any], path: str, json_url: str) -> None:
    """Add one instance entry, or one more frame of an instance already met."""
    if not isinstance(instance, dict):
        _refuse(json_url, path, f"is a JSON {type(instance).__name__}, not an object")
    metadata = instance.get("metadata")
    if not isinstance(metadata, dict):
        _refuse(json_url, path, "no metadata object")
    sop_instance_uid = _uid(metadata, "SOPInstanceUID", f"{path}.metadata", json_url)
    image_id = instance.get("url")
    if not isinstance(image_id, str) or not image_id.strip():
        _refuse(json_url, path, "no url")
    file_url, frame = _split_frame(image_id.strip(), path, json_url)
    file_url = _fetchable_url(urljoin(json_url, file_url), f"{path}.url")
    entry = entries.get(sop_instance_uid)
    if entry is None:
        # As in OHIF, the series' and then the study's attributes override the instance's.
        attributes = {**metadata, **_own(series, _SERIES_CHILDREN), **_own(study, _STUDY_CHILDREN)}
        entry = entries[sop_instance_uid] = _Entry(file_url, attributes)
    if entry.url == file_url:  # else a duplicate SOP Instance UID: the first one stays
        entry.frames = max(entry.frames, frame)


def _header(entry: _Entry) -> Dataset:
    """The instance's dataset; NumberOfFrames at least the highest ``?frame=`` listed."""
    header = _dataset(entry.attributes, 0)
    try:
        listed = int(header.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        listed = 1
    if entry.frames > listed:
        header.NumberOfFrames = entry.frames
    return header


def _own(level: dict[str, Any], children: str) -> dict[str, Any]:
    """A study's or series' attributes without its child list; absent (null) ones dropped."""
    return {key: value for key, value in level.items() if key != children and value is not None}


def _children(level: Any, key: str, path: str, json_url: str) -> list[Any]:
    if not isinstance(level, dict):
        _refuse(json_url, path, f"is a JSON {type(level).__name__}, not an object")
    children = level.get(key)
    if not isinstance(children, list):
        _refuse(json_url, path, f"no {key!r} list")
    return children


def _uid(obj: Any, keyword: str, path: str, json_url: str) -> str:
    if not isinstance(obj, dict):
        _refuse(json_url, path, f"is a JSON {type(obj).__name__}, not an object")
    value = obj.get(keyword)
    if value is None or value == "":
        _refuse(json_url, path, f"no {keyword}")
    if not isinstance(value, str) or len(value) > _MAX_UID_CHARS or not _UID.fullmatch(value):
        _refuse(json_url, path, f"{keyword} {str(value)[:80]!r} is not a UID")
    return value


def _split_frame(image_id: str, path: str, json_url: str) -> tuple[str, int]:
    """The file URL of an imageId without its scheme prefix, and its ``frame=`` (0: none)."""
    for prefix in _URL_PREFIXES:
        if image_id.startswith(prefix):
            image_id = image_id[len(prefix):]
            break
    match = _FRAME.search(image_id)
    if match is None:
        return image_id, 0
    if not match.group(1).isdigit() or int(match.group(1)) < 1:
        _refuse(json_url, f"{path}.url", f"frame={match.group(1)[:20]!r} is not a frame "
                                         "number from 1")
    return image_id[: match.start()], int(match.group(1))


def _fetchable_url(url: str, what: str) -> str:
    """``url`` if it is one this source may fetch: http(s), a host, no user info."""
    try:
        parts = urlsplit(url)
        has_user = parts.username is not None or parts.password is not None
    except ValueError as exc:
        raise DataSourceError(f"{what}: {url[:200]!r} is not a URL ({exc})") from None
    if parts.scheme.lower() not in _FETCHED_SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "a relative URL with no page to resolve it"
        raise DataSourceError(
            f"{what}: {url[:200]!r} is refused: {shown} is not fetched, only http and https"
        )
    if not parts.hostname:
        raise DataSourceError(f"{what}: {url[:200]!r} has no host")
    if has_user:
        raise DataSourceError(f"{what}: {url[:200]!r} is refused: it carries user credentials")
    return url


def _refuse(json_url: str, path: str, problem: str) -> NoReturn:
    raise DataSourceError(f"{json_url}: {path}: {problem}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


# naturalized attributes to pydicom


def _dataset(attributes: Mapping[str, Any], depth: int) -> Dataset:
    """A dataset of naturalized attributes (keyword: JSON value); what no DICOM keyword
    names, or has a value its VR cannot hold, is left out."""
    ds = Dataset()
    for keyword, value in attributes.items():
        spec = _element_spec(keyword) if isinstance(keyword, str) else None
        if spec is None or value is None:
            continue
        element = _element(*spec, value, depth)
        if element is not None:
            ds.add(element)
    return ds


@cache
def _element_spec(keyword: str) -> tuple[int, str] | None:
    """The tag and dictionary VR a keyword names, or None."""
    tag = tag_for_keyword(keyword)
    return None if tag is None else (tag, dictionary_VR(tag))


def _element(tag: int, vr: str, value: Any, depth: int) -> DataElement | None:
    """The element of a naturalized value, or None when the value does not fit its VR."""
    if vr == "SQ":
        items = value if isinstance(value, list) else [value]
        if depth >= MAX_SEQUENCE_DEPTH or not all(isinstance(i, dict) for i in items):
            return None
        return DataElement(tag, vr, DicomSequence([_dataset(i, depth + 1) for i in items]))
    values = value if isinstance(value, list) else [value]
    vr = _unambiguous_vr(vr, values)
    if vr in _BINARY_VRS:
        return None
    if vr == "PN":
        values = [_person_name(v) for v in values]
        if None in values:
            return None
    else:
        if vr not in _NUMBER_VRS:
            values = [_text(v) for v in values]
        if not all(_is_scalar(v) for v in values):
            return None
    try:
        return DataElement.from_json(Dataset, f"{tag:08X}", vr, values, "Value")
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError):
        return None


def _unambiguous_vr(vr: str, values: list[Any]) -> str:
    """One VR of the dictionary's ``US or SS``-like choices: SS for negative values,
    otherwise the first that is not bulk data."""
    if " or " not in vr:
        return vr
    choices = vr.split(" or ")
    if "SS" in choices and any(isinstance(v, (int, float)) and v < 0 for v in values):
        return "SS"
    return next((c for c in choices if c not in _BINARY_VRS), choices[0])


def _person_name(value: Any) -> dict[str, str] | None:
    """A PN value as DICOM JSON has it: dcmjs writes ``{"Alphabetic": ...}``, others a string."""
    if isinstance(value, str):
        return {"Alphabetic": value}
    if isinstance(value, dict) and all(isinstance(value.get(g, ""), str) for g in _PN_GROUPS):
        return {g: value[g] for g in _PN_GROUPS if g in value}
    return None


def _is_scalar(value: Any) -> bool:
    """A string or a finite number (JSON's true and false are not DICOM values)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _text(value: Any) -> Any:
    """A number given for a text VR (an AccessionNumber of digits) as its text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return str(value)
