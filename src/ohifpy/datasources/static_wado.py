"""A static DICOMweb tree as a data source: QIDO-RS and WADO-RS answers as plain files.

OHIF's ``staticWado`` sources are trees of files that any static web host serves: no
query string is understood, so searches read the whole list and match here
(:func:`~ohifpy.dicomweb.query.match_static`), and nothing can be stored, rendered or
transcoded. Three shapes of tree are read, each by the names it really has.

Ours (:func:`ohifpy.static_wado.write_static_dicomweb`)
    ``studies/index.json`` (and ``.../series/index.json``, ``.../instances/index.json``)
    for the QIDO lists, ``.../metadata`` for study and series metadata, and
    ``.../frames/N``: one frame's raw bytes, whose syntax only the metadata's (0002,0010)
    tells.
OHIF's ``mkdicomweb create`` (npm ``@radicalimaging/static-wado-creator``)
    The same names gzipped: ``studies/index.json.gz``, ``.../series/{R}/metadata.gz``,
    no study metadata (a study is read series by series). ``.../frames/N.mht``, gzipped
    as ``N.mht.gz`` for native pixels: a one-part multipart body whose Content-Type names
    the frame's syntax; with ``-e`` compressed frames are raw ``N.jls``, ``N.jhc``, ...,
    the extension telling the syntax. Other bulk data are single-part multipart files
    under ``studies/{S}/bulkdata/`` (``.gz`` above 1 KB), their URIs relative to the
    study. Its metadata has no (0002,0010), and its (0008,3002) names the syntax it was
    asked to transcode to, not the one its frames have: only the frame files are trusted.
Deployed by OHIF's ``deploydicomweb``
    Every file under its PS3.18 URL (``studies``, ``.../metadata``, ``.../frames/N``)
    with ``Content-Encoding: gzip``.

A resource is asked for by each of its possible names in turn; the name that answered is
asked for first next time, so a tree costs one request per resource once its shape is
known. Bodies that are gzip without a Content-Encoding (a plain server sending
``metadata.gz`` as bytes) are inflated here.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from pydicom import Dataset
from pydicom import uid as uids

from ..config import DicomWebSource
from ..dicomweb import Frame, HTTPStatusError, Transport, parse_multipart_related
from ..dicomweb.client import DICOM_JSON, resource_url
from ..dicomweb.dicom_json import dataset_from_json, json_objects
from ..dicomweb.errors import ResponseTooLarge
from ..dicomweb.limits import (
    MAX_JSON_BODY_BYTES,
    InflatedTooLarge,
    PixelDataSize,
    body_limit,
    inflate,
)
from ..dicomweb.media_types import (
    OCTET_STREAM,
    frame_content_type,
    multipart_accept_header,
    transfer_syntax_of_part,
)
from ..dicomweb.multipart import parse_media_type
from ..dicomweb.query import match_static
from .dicomweb import DICOMwebDataSource
from .protocol import DataSourceError

__all__ = ["StaticWadoDataSource"]

# Raw frames mkdicomweb writes with -e / --single-part-image, by the syntax its file
# extension stands for (static-wado-util's uids table).
_RAW_FRAME_SYNTAXES: dict[str, str] = {
    ".jls": uids.JPEGLSLossless,
    ".jhc": uids.HTJ2KLosslessRPCL,
    ".jp2": uids.JPEG2000Lossless,
    ".jll": uids.JPEGLosslessSV1,
    ".jpeg": uids.JPEGBaseline8Bit,
    ".jxl": "1.2.840.10008.1.2.4.140",  # JPEG XL Lossless
}

# The names each kind of resource may have, relative to its PS3.18 URL.
_NAMES: dict[str, tuple[str, ...]] = {
    "list": ("/index.json", "/index.json.gz", ""),
    "file": ("", ".gz"),
    "frame": ("", ".mht", ".mht.gz", *_RAW_FRAME_SYNTAXES),
}
_MISSING = frozenset({403, 404})  # S3 and CloudFront answer 403 for a key they do not hold
_GZIP_MAGIC = b"\x1f\x8b\x08"
_STUDY_URL = re.compile(r"^.*?/studies/[^/]+/")
_DEDUP_CREATOR, _DEDUP_BLOCK = "00090010", "000910"


class StaticWadoDataSource(DICOMwebDataSource):
    """A static DICOMweb tree (``staticWado: true``): ours, mkdicomweb's, or deployed.

    Raises :class:`DataSourceError` for what the tree does not hold (an unknown study,
    a missing frame) and for what a file tree cannot do (store, transcode).
    """

    def __init__(self, source: DicomWebSource, transport: Transport | None = None,
                 **kwargs: object) -> None:
        super().__init__(source, transport, **kwargs)
        self.capabilities = replace(
            self.capabilities, store=False, rendered=False, query_options=False,
            thumbnail_rendering="wadors", series_retrieve=False, frames_per_request=1,
        )
        self._names = dict(_NAMES)
        # SOP Instance UID -> (0002,0010) of its metadata: the syntax of our raw frames.
        self._stored_syntaxes: dict[str, str] = {}

    async def search_for_instances(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        *,
        search_filters: Mapping[str, str] | None = None,
        fields: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Dataset]:
        """Instances of one series, or of every series of a study (the tree lists them per series)."""
        if series_instance_uid or not study_instance_uid:
            return await super().search_for_instances(
                study_instance_uid, series_instance_uid, search_filters=search_filters,
                fields=fields, limit=limit, offset=offset,
            )
        lists = await asyncio.gather(*(
            super(StaticWadoDataSource, self).search_for_instances(
                study_instance_uid, str(series.SeriesInstanceUID))
            for series in await self.search_for_series(study_instance_uid)
        ))
        instances = [ds for datasets in lists for ds in datasets]
        return match_static(instances, (search_filters or {}).items(), limit=limit, offset=offset)

    async def retrieve_metadata_json(
        self, study_instance_uid: str, series_instance_uid: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """A series' metadata, or a study's as the union of its series' (mkdicomweb writes
        no study metadata). Relative BulkDataURIs come back absolute."""
        if series_instance_uid:
            url = resource_url(self.source.wadoRoot, study_instance_uid, series_instance_uid)
            return await self._get_json(f"{url}/metadata")
        series = await self.search_for_series(study_instance_uid)
        answers = await asyncio.gather(*(
            self.retrieve_metadata_json(study_instance_uid, str(s.SeriesInstanceUID))
            for s in series
        ))
        objects = [obj for series_objects, _ in answers for obj in series_objects]
        return objects, resource_url(self.source.wadoRoot, study_instance_uid)

    async def retrieve_study_metadata(self, study_instance_uid: str) -> list[Dataset]:
        """Metadata of every instance of a study, series by series."""
        return _datasets(*await self.retrieve_metadata_json(study_instance_uid))

    async def retrieve_instance_metadata(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
    ) -> Dataset:
        """One instance's metadata, taken from its series' (mkdicomweb has no instance file)."""
        objects, url = await self.retrieve_metadata_json(study_instance_uid, series_instance_uid)
        for index, obj in enumerate(objects):
            if obj.get("00080018", {}).get("Value") == [sop_instance_uid]:
                return dataset_from_json(obj, url, index)
        raise DataSourceError(f"instance {sop_instance_uid} is not in the metadata of series "
                              f"{series_instance_uid} ({url})")

    async def retrieve_bulkdata(self, uri: str) -> bytes:
        """A bulk data value: mkdicomweb's are single-part multipart files, gzipped above 1 KB."""
        url = urljoin(f"{self.source.wadoRoot}/", uri)
        body, found, content_type = await self._get(
            url, "file", multipart_accept_header(OCTET_STREAM, self.source))
        multipart = _multipart_type(body, content_type)
        return parse_multipart_related(body, multipart, found)[0].content if multipart else body

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
        """Frames as stored, each with the syntax its file says (multipart header, file
        extension) or, for raw files, the one its metadata's (0002,0010) says."""
        if transfer_syntax_uid and transfer_syntax_uid != "*":
            raise DataSourceError(
                f"a static DICOMweb tree ({self.source.wadoRoot}) serves frames only as stored "
                f"and cannot transcode them to {transfer_syntax_uid}")
        instance = (study_instance_uid, series_instance_uid, sop_instance_uid)
        limit = pixel_size.frames_limit(1) if pixel_size else None
        return list(await asyncio.gather(*(self._frame(instance, n, limit)
                                           for n in frame_numbers)))

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Refused: a static tree is written by its own tools, not over HTTP."""
        raise DataSourceError(f"{self.friendly_name} is a static DICOMweb tree: it cannot store")

    # plumbing

    async def _search(
        self,
        url: str,
        filters: Iterable[tuple[str, str]],
        *,
        fields: Sequence[str],
        limit: int | None,
        offset: int,
    ) -> list[Dataset]:
        """The tree's whole list at ``url``, matched here as the server would have."""
        body, found, _ = await self._get(url, "list", DICOM_JSON, MAX_JSON_BODY_BYTES)
        objects = [_without_bookkeeping(obj) for obj in json_objects(body, found)]
        return match_static(_datasets(objects, found), filters, limit=limit, offset=offset)

    async def _get_json(self, url: str) -> tuple[list[dict[str, Any]], str]:
        """A metadata file's objects, BulkDataURIs made absolute, stored syntaxes noted."""
        body, found, _ = await self._get(url, "file", DICOM_JSON, MAX_JSON_BODY_BYTES)
        objects = [_without_bookkeeping(obj) for obj in json_objects(body, found)]
        study_url = _STUDY_URL.match(found)
        for obj in objects:
            _absolute_bulk_data_uris(obj, found, study_url.group(0) if study_url else found)
            syntax = obj.get("00020010", {}).get("Value")
            sop = obj.get("00080018", {}).get("Value")
            if syntax and sop:
                self._stored_syntaxes[str(sop[0])] = str(syntax[0])
        return objects, found

    async def _frame(self, instance: tuple[str, str, str], number: int,
                     max_bytes: int | None) -> Frame:
        url = f"{resource_url(self.source.wadoRoot, *instance)}/frames/{number}"
        body, found, content_type = await self._get(url, "frame", "*/*", max_bytes)
        multipart = _multipart_type(body, content_type)
        if multipart:
            part = parse_multipart_related(body, multipart, found)[0]
            content_type = part.content_type or OCTET_STREAM
            data, syntax = part.content, transfer_syntax_of_part(content_type)
        else:  # raw: the file's extension or the metadata tells the syntax
            extension = next((e for e in _RAW_FRAME_SYNTAXES if found.endswith(e)), "")
            data, content_type = body, ""
            syntax = _RAW_FRAME_SYNTAXES.get(extension) or await self._stored_syntax(instance)
        if not syntax:
            raise DataSourceError(f"frame {number} of instance {instance[2]} names no transfer "
                                  f"syntax, nor does its metadata's (0002,0010) ({found})")
        if syntax == uids.DeflatedExplicitVRLittleEndian:  # frames are stored inflated
            syntax = uids.ExplicitVRLittleEndian
        return Frame(number, data, syntax, content_type or frame_content_type(syntax))

    async def _stored_syntax(self, instance: tuple[str, str, str]) -> str:
        """(0002,0010) of an instance's metadata, read with its series' if not seen yet."""
        if instance[2] not in self._stored_syntaxes:
            await self.retrieve_metadata_json(*instance[:2])
        return self._stored_syntaxes.get(instance[2], "")

    async def _get(self, url: str, kind: str, accept: str,
                   max_bytes: int | None = None) -> tuple[bytes, str, str]:
        """(body inflated, URL found, Content-Type) of the first of the kind's names the tree
        has; that name goes first next time. The body, inflated too, may hold ``max_bytes``
        (None: the default limit)."""
        names = self._names[kind]
        for name in names:
            try:
                response = await self._request("GET", url + name, accept, max_bytes=max_bytes)
            except HTTPStatusError as exc:
                if exc.status in _MISSING:
                    continue
                raise
            if name != names[0]:
                self._names[kind] = (name, *(n for n in names if n != name))
            body = _inflated(response.body, body_limit(max_bytes), response.url)
            return body, response.url, response.content_type
        tried = ", ".join(f"{urlsplit(url).path.rsplit('/', 1)[-1]}{n}" for n in names)
        raise DataSourceError(f"not in the static DICOMweb tree: {url} (tried {tried})")


def _datasets(objects: list[dict[str, Any]], url: str) -> list[Dataset]:
    return [dataset_from_json(obj, url, index) for index, obj in enumerate(objects)]


def _without_bookkeeping(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without mkdicomweb's deduplication records (private creator ``dedupped``).

    They mean nothing outside the creator, and their creator element's VR (CS, in lower
    case) is invalid, which pydicom would warn about for every instance.
    """
    if obj.get(_DEDUP_CREATOR, {}).get("Value") != ["dedupped"]:
        return obj
    return {key: value for key, value in obj.items()
            if key != _DEDUP_CREATOR and not key.startswith(_DEDUP_BLOCK)}


def _inflated(body: bytes, limit: int, url: str) -> bytes:
    """``body`` gunzipped if it is gzip (a ``.gz`` file served without Content-Encoding),
    to at most ``limit`` bytes: a few KB of gzip can claim gigabytes.

    Raw pixels may start with the magic by chance: what does not inflate stays as it is.
    """
    if not body.startswith(_GZIP_MAGIC):
        return body
    try:
        return inflate(body, limit, 16 + zlib.MAX_WBITS)
    except InflatedTooLarge as exc:
        raise ResponseTooLarge(f"GET stopped: the gzipped body {exc}", url, exc.limit) from None
    except ValueError:
        return body


def _multipart_type(body: bytes, content_type: str) -> str:
    """A Content-Type to split ``body`` with, or "" for a raw body.

    A ``.mht`` file on a plain static server comes as ``message/rfc822`` or bytes, and
    static-wado's own server sends ``multipart/related`` without a boundary: its first line,
    the delimiter, names the boundary.
    """
    if body.startswith(b"--"):
        end = body.find(b"\r\n", 2, 200)
        if end > 2 and body[end + 2 : end + 10].lower() == b"content-":
            boundary = body[2:end].decode("latin-1")
            return f'multipart/related; boundary="{boundary}"'
    media_type, params = parse_media_type(content_type)
    return content_type if media_type == "multipart/related" and params.get("boundary") else ""


def _absolute_bulk_data_uris(obj: dict[str, Any], series_url: str, study_url: str) -> None:
    """Make relative BulkDataURIs absolute, as OHIF reads static trees
    (``bulkDataURI.relativeResolution: 'studies'``): ``instances/...`` and ``../...``
    against the metadata's URL, anything else (mkdicomweb's ``bulkdata/...``) against
    the study's."""
    for element in obj.values():
        if not isinstance(element, dict):
            continue
        uri = element.get("BulkDataURI")
        if isinstance(uri, str) and not urlsplit(uri).scheme and not uri.startswith("/"):
            series_relative = uri.startswith(("instances/", "../"))
            element["BulkDataURI"] = urljoin(series_url if series_relative else study_url, uri)
        if element.get("vr") == "SQ":
            for item in element.get("Value") or ():
                if isinstance(item, dict):
                    _absolute_bulk_data_uris(item, series_url, study_url)
