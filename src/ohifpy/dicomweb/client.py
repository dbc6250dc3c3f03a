"""The DICOMweb client: QIDO-RS, WADO-RS and STOW-RS transactions of PS3.18.

Method names follow dicomweb-client (``search_for_studies``,
``retrieve_instance_frames``, ...). All I/O goes through a :class:`Transport`, so
the same client runs over httpx in CPython and over ``fetch`` in Pyodide; nothing
here imports httpx at module level. Every failure surfaces as a
:class:`~ohifpy.dicomweb.errors.DICOMwebError` that names the URL, and the client
stays usable after one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urljoin

from pydicom.dataset import Dataset

from ..config import DicomWebSource
from ..lru import SizedLRU
from .dicom_json import (
    PIXEL_DATA_TAGS,
    dataset_from_json,
    datasets_from_json,
    iter_bulk_data,
    json_objects,
    set_bulk_data,
)
from .errors import DicomJSONError, DICOMwebError, HTTPStatusError, MultipartError
from .limits import DEFAULT_MAX_BODY_BYTES, MAX_JSON_BODY_BYTES, PixelDataSize
from .media_types import (
    OCTET_STREAM,
    frame_content_type,
    frames_accept_header,
    multipart_accept_header,
    transfer_syntax_of_part,
)
from .multipart import (
    MultipartReader,
    build_multipart_related,
    parse_media_type,
    parse_multipart_related,
)
from .part10 import read_instance, split_frames, stored_transfer_syntax, write_instance
from .query import (
    SERIES_LIST_FIELDS,
    STUDY_LIST_FIELDS,
    StudyQuery,
    qido_params,
    with_query,
)
from .retry import request_with_retries
from .transport import Response, Transport

__all__ = ["DICOMwebClient", "Frame", "resource_url"]

DICOM_JSON = "application/dicom+json"
# Frame errors that the whole instance would not cure: auth, missing, throttled.
_NO_FALLBACK_STATUSES = frozenset({401, 403, 404, 429})
# How a server that takes one frame a request may answer a list of frames (or with the
# wrong number of parts, a MultipartError).
_LIST_REFUSALS = frozenset({400, 404, 406, 500})
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
_DETAIL_CHARS = 200
_HTML_CHARS = 64 * 1024  # an HTML error page's title is in its first bytes
STORED_INSTANCES_BYTES = 256 << 20
"""Frames of whole instances downloaded because the frames endpoint failed, kept so that
one download serves every frame of a multi-frame instance (the two newest stay whatever
their size: two viewports may be scrolling two such instances)."""

# Failure Reason (0008,1197) values of STOW-RS (PS3.18 Table I.2-1 / PS3.4 Annex B).
_FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0122: "SOP class not supported",
    0x0124: "not authorized",
    0xC122: "transfer syntax not supported",
}
_FAILURE_REASON_RANGES = {0xA700: "out of resources", 0xA900: "does not match its SOP class"}


@dataclass(frozen=True)
class _StoredFrames:
    """The frames of one whole instance, as stored (deflated ones inflated)."""

    frames: list[bytes]
    transfer_syntax_uid: str

    @property
    def size(self) -> int:
        return sum(map(len, self.frames))


@dataclass(frozen=True)
class Frame:
    """One frame of a WADO-RS frames response, still encoded.

    ``transfer_syntax_uid`` comes from the part's ``transfer-syntax`` parameter or,
    without one, is the syntax its media type implies (native Explicit VR Little
    Endian for ``application/octet-stream``).
    """

    frame_number: int
    data: bytes
    transfer_syntax_uid: str
    content_type: str


class DICOMwebClient:
    """Client of one DICOMweb server described by a :class:`DicomWebSource`.

    Parameters
    ----------
    source : DicomWebSource
        Roots and OHIF options of the server.
    transport : Transport, optional
        How requests are sent; CPython's httpx transport by default.
    headers : Mapping[str, str], optional
        Sent with every request, e.g. ``Authorization``. Kept in the mutable
        ``headers`` attribute so a refreshed token can replace the old one.
    """

    def __init__(
        self,
        source: DicomWebSource,
        transport: Transport | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if transport is None:
            from .httpx_transport import HttpxTransport  # CPython only; Pyodide passes fetch's

            transport = HttpxTransport()
        self.source = source
        self.transport = transport
        self.headers: dict[str, str] = dict(headers or {})
        self._stored: SizedLRU[str, _StoredFrames] = SizedLRU(
            STORED_INSTANCES_BYTES, lambda stored: stored.size, keep=2)
        self._storing: dict[str, asyncio.Task[_StoredFrames]] = {}
        self.frame_lists = True
        """Whether the server answers several frames in one request (learnt otherwise by
        :meth:`retrieve_instance_frames`)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport's connections and drop the instances kept for their frames."""
        for task in self._storing.values():
            task.cancel()
        self._storing.clear()
        self._stored.clear()
        await self.transport.aclose()

    # QIDO-RS

    async def search_for_studies(
        self,
        query: StudyQuery | None = None,
        *,
        fields: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Dataset]:
        """Studies matching OHIF's study-list filters, ``limit`` defaulting to ``queryLimit``.

        Asks for the study list's columns with ``includefield`` where supported.
        """
        return await self._search(
            f"{self.source.qidoRoot}/studies",
            (query or StudyQuery()).to_params(self.source),
            fields=[*STUDY_LIST_FIELDS, *fields],
            limit=self.source.queryLimit if limit is None else limit,
            offset=offset,
        )

    async def search_for_series(
        self,
        study_instance_uid: str | None = None,
        *,
        search_filters: Mapping[str, str] | None = None,
        fields: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Dataset]:
        """Series of one study, or of all studies; ``search_filters`` are matching keys."""
        url = resource_url(self.source.qidoRoot, study_instance_uid)
        filters = (search_filters or {}).items()
        fields = [*SERIES_LIST_FIELDS, *fields]
        return await self._search(
            f"{url}/series", filters, fields=fields, limit=limit, offset=offset
        )

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
        """Instances of one series, one study, or all studies."""
        url = resource_url(self.source.qidoRoot, study_instance_uid, series_instance_uid)
        filters = (search_filters or {}).items()
        return await self._search(
            f"{url}/instances", filters, fields=fields, limit=limit, offset=offset
        )

    # WADO-RS metadata and bulk data

    async def retrieve_study_metadata(self, study_instance_uid: str) -> list[Dataset]:
        """Metadata of every instance of a study."""
        url = resource_url(self.source.wadoRoot, study_instance_uid)
        return await self._get_datasets(f"{url}/metadata")

    async def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str
    ) -> list[Dataset]:
        """Metadata of every instance of a series."""
        url = resource_url(self.source.wadoRoot, study_instance_uid, series_instance_uid)
        return await self._get_datasets(f"{url}/metadata")

    async def retrieve_metadata_json(
        self, study_instance_uid: str, series_instance_uid: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """Metadata of a study (or one of its series) as DICOM JSON objects, unconverted.

        Returns the objects and the URL they came from (bulk data URIs are relative to
        it): a viewer converts only the instances it shows (see ``Instance.from_json``).
        """
        url = resource_url(self.source.wadoRoot, study_instance_uid, series_instance_uid or None)
        return await self._get_json(f"{url}/metadata")

    async def retrieve_instance_metadata(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
    ) -> Dataset:
        """Metadata of one instance."""
        url = resource_url(
            self.source.wadoRoot, study_instance_uid, series_instance_uid, sop_instance_uid
        )
        datasets = await self._get_datasets(f"{url}/metadata")
        if not datasets:
            raise DicomJSONError("instance metadata response holds no dataset", f"{url}/metadata")
        return datasets[0]

    async def retrieve_bulkdata(self, uri: str) -> bytes:
        """The value of one bulk data element; a relative ``uri`` is taken from ``wadoRoot``."""
        url = urljoin(f"{self.source.wadoRoot}/", uri)
        response = await self._request(
            "GET", url, multipart_accept_header(OCTET_STREAM, self.source)
        )
        return _single_part_content(response)

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        """Fetch every bulk data value of ``dataset`` but pixel data, filling it in place.

        Covers sequence items too (VOI/modality LUT data, overlays, ...); pixel data
        comes frame by frame from :meth:`retrieve_instance_frames` instead.
        """
        for item, tag, uri in list(iter_bulk_data(dataset)):
            set_bulk_data(item, tag, await self.retrieve_bulkdata(uri))
        return dataset

    # WADO-RS pixel data

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
        """Frames (1-based numbers) as stored, or in ``transfer_syntax_uid`` if given.

        Without an explicit syntax the source's ``acceptHeader`` /
        ``requestTransferSyntaxUID`` apply, else ``transfer-syntax=*``. ``pixel_size``
        (what the instance's metadata says its pixels take) bounds the response; without
        it the default limit applies (:mod:`ohifpy.dicomweb.limits`).

        Several frames are asked for in one request (``/frames/1,2,3``). A server that
        answers such a list with an error or the wrong number of parts, and the first of
        them alone with that frame, takes one frame a request: it is asked so from then on
        (:attr:`frame_lists` turns False), one after another.
        """
        numbers = list(frame_numbers)
        if not numbers or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in numbers
        ):
            raise ValueError(f"frame numbers must be integers from 1, not {numbers!r}")
        uids = (study_instance_uid, series_instance_uid, sop_instance_uid)
        instance_url = resource_url(self.source.wadoRoot, *uids)
        url = f"{instance_url}/frames/{','.join(map(str, numbers))}"
        accept = frames_accept_header(self.source, transfer_syntax_uid)
        as_stored = accept.endswith("transfer-syntax=*")
        stored = self._stored.get(instance_url) if as_stored else None
        if stored is not None:  # the frames endpoint failed for it before
            return _cut_frames(stored, numbers, url)
        if len(numbers) > 1 and not self.frame_lists:
            return [frame for number in numbers for frame in await self.retrieve_instance_frames(
                *uids, [number], transfer_syntax_uid=transfer_syntax_uid, pixel_size=pixel_size)]
        try:
            return await self._frames(url, numbers, accept, pixel_size)
        except (HTTPStatusError, MultipartError) as exc:
            refused = isinstance(exc, MultipartError) or exc.status in _LIST_REFUSALS
            if len(numbers) > 1 and refused:
                try:
                    first = await self._frames(f"{instance_url}/frames/{numbers[0]}",
                                               numbers[:1], accept, pixel_size)
                except DICOMwebError:
                    pass  # not the list's fault: the frames themselves fail
                else:
                    self._refuse_frame_lists()
                    return [*first, *await self.retrieve_instance_frames(
                        *uids, numbers[1:], transfer_syntax_uid=transfer_syntax_uid,
                        pixel_size=pixel_size)]
            if (not isinstance(exc, HTTPStatusError) or exc.status in _NO_FALLBACK_STATUSES
                    or not as_stored):
                raise
            # Some servers fail on frames of certain stored syntaxes (Orthanc 1.10: 500 for
            # big endian, deflated and HTJ2K, 400 for odd-length big-endian frames) yet
            # serve the instance as stored: cut the frames from it, downloaded once for all.
            stored = await self._instance_frames(uids, pixel_size, exc)
            return _cut_frames(stored, numbers, url)

    def _refuse_frame_lists(self) -> None:
        """Ask this server for one frame a request from now on."""
        self.frame_lists = False

    async def _frames(self, url: str, numbers: list[int], accept: str,
                      pixel_size: PixelDataSize | None) -> list[Frame]:
        """One frames request: a part a frame, each labelled with its transfer syntax."""
        limit = pixel_size.frames_limit(len(numbers)) if pixel_size else None
        response = await self._request("GET", url, accept, max_bytes=limit)
        _check_multipart_label(response, url)
        parts = parse_multipart_related(response.body, response.content_type, response.url)
        if len(parts) != len(numbers):
            raise MultipartError(
                f"asked for {len(numbers)} frame(s), the response has {len(parts)} part(s)", url
            )
        frames = []
        for number, part in zip(numbers, parts, strict=True):
            content_type = part.content_type or OCTET_STREAM
            syntax = transfer_syntax_of_part(content_type)
            if not syntax:
                raise DICOMwebError(
                    f"frame {number} has Content-Type {content_type!r}, which names no "
                    "transfer syntax",
                    url,
                )
            frames.append(Frame(number, part.content, syntax, content_type))
        return frames

    async def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        *,
        transfer_syntax_uid: str = "*",
        pixel_size: PixelDataSize | None = None,
    ) -> bytes:
        """The instance as a DICOM Part 10 file, by default in its stored syntax; no larger
        than ``pixel_size`` allows (else the default limit)."""
        url = resource_url(
            self.source.wadoRoot, study_instance_uid, series_instance_uid, sop_instance_uid
        )
        accept = multipart_accept_header("application/dicom", self.source, transfer_syntax_uid)
        limit = pixel_size.instance_limit() if pixel_size else None
        return _single_part_content(await self._request("GET", url, accept, max_bytes=limit))

    async def _instance_frames(
        self,
        uids: tuple[str, str, str],
        pixel_size: PixelDataSize | None,
        frames_error: HTTPStatusError,
    ) -> _StoredFrames:
        """The stored frames of a whole instance, after its frames endpoint failed.

        Requests for several of its frames share one download (each frame of a scrolled
        multi-frame instance fails the same way), and the result is kept for the next ones.
        A failed download is tried again by the next request.
        """
        key = resource_url(self.source.wadoRoot, *uids)
        task = self._storing.get(key)
        if task is None:
            task = asyncio.ensure_future(self._download_instance_frames(key, uids, pixel_size))
            self._storing[key] = task

            def settled(done: asyncio.Task[_StoredFrames]) -> None:
                if self._storing.get(key) is done:
                    del self._storing[key]
                if not done.cancelled():
                    done.exception()  # its awaiters, if all gave up, are not told

            task.add_done_callback(settled)
        try:
            return await asyncio.shield(task)  # a caller giving up leaves it to the others
        except HTTPStatusError:
            raise frames_error from None
        except DICOMwebError as exc:
            raise DICOMwebError(f"the frames: {frames_error.text}; the whole instance instead: "
                                f"{exc.text}", exc.url) from None
        except ValueError as exc:
            raise DICOMwebError(f"the frames: {frames_error.text}; the whole instance instead: "
                                f"{exc}", key) from None

    async def _download_instance_frames(
        self, key: str, uids: tuple[str, str, str], pixel_size: PixelDataSize | None
    ) -> _StoredFrames:
        data = await self.retrieve_instance(*uids, pixel_size=pixel_size)
        limit = pixel_size.instance_limit() if pixel_size else DEFAULT_MAX_BODY_BYTES
        _, stored = _stored_frames(data, limit)
        self._stored.put(key, stored)
        return stored

    async def retrieve_series_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        pixel_sizes: Mapping[str, PixelDataSize],
    ) -> AsyncIterator[tuple[Dataset, list[Frame]]]:
        """Every instance of a series in one response (WADO-RS Retrieve Series, as stored),
        each cut into its frames as soon as it has arrived: (the instance without its
        pixel data, its frames).

        One request instead of one a frame: a browser spends milliseconds on each request
        (a 512² CT's 200 frames take it 1-1.5 s one by one, 0.2-0.3 s in one response),
        and only the instance being received is held. ``pixel_sizes`` (SOP Instance UID ->
        what its metadata says) bounds each instance by the largest of them. An instance
        that cannot be read is left out (its frames, asked for alone, will say why); a
        failed response raises, as every request does.
        """
        url = resource_url(self.source.wadoRoot, study_instance_uid, series_instance_uid)
        accept = multipart_accept_header("application/dicom", self.source, "*")
        largest = max((size.instance_limit() for size in pixel_sizes.values()),
                      default=DEFAULT_MAX_BODY_BYTES)
        response = await self.transport.stream(
            "GET", url, headers={**self.headers, "Accept": accept}, timeout=self.source.timeout
        )
        try:
            if response.status >= 400:
                body = await response.read(_HTML_CHARS)
                answer = Response(response.status, response.url, body, response.headers,
                                  response.reason)
                raise HTTPStatusError(response.status, response.reason, url,
                                      _error_detail(answer))
            reader = MultipartReader(response.content_type, response.url, largest)
            async for chunk in response.chunks:
                for part in reader.feed(chunk):
                    try:
                        ds, stored = _stored_frames(part.content, largest)
                    except ValueError:
                        continue
                    del part
                    yield ds, _cut_frames(
                        stored, list(range(1, len(stored.frames) + 1)), url)
            reader.close()
        finally:
            await response.aclose()

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
        """A server-rendered image; ``window`` is (center, width, function), e.g. ``linear``."""
        params = []
        if window is not None:
            center, width, function = window
            params.append(("window", f"{_number(center)},{_number(width)},{function}"))
        return await self._rendered(
            "rendered",
            (study_instance_uid, series_instance_uid, sop_instance_uid, frame_number),
            media_type,
            params,
            viewport,
        )

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
        """A server-made thumbnail (Orthanc 1.10 answers 404: fall back to rendering)."""
        return await self._rendered(
            "thumbnail",
            (study_instance_uid, series_instance_uid, sop_instance_uid, frame_number),
            media_type,
            [],
            viewport,
        )

    # STOW-RS

    async def store_instances(
        self, datasets: Sequence[Dataset | bytes], study_instance_uid: str | None = None
    ) -> Dataset:
        """Store instances (datasets or DICOM file bytes); returns the server's response dataset.

        A 202 with a FailedSOPSequence is returned (partial success, the caller
        looks); a 4xx/409 raises :class:`HTTPStatusError` naming the failed SOP instances.
        """
        if not datasets:
            raise ValueError("store_instances needs at least one instance")
        contents = [_dicom_file(d, i) for i, d in enumerate(datasets)]
        body, content_type = build_multipart_related(
            contents,
            "application/dicom",
            quote_type=not self.source.omitQuotationForMultipartRequest,
        )
        if study_instance_uid:
            url = resource_url(self.source.stowRoot, study_instance_uid)
        else:
            url = f"{self.source.stowRoot}/studies"
        response = await self._request(
            "POST", url, DICOM_JSON, body=body, content_type=content_type,
            max_bytes=MAX_JSON_BODY_BYTES,
        )
        results = datasets_from_json(response.body, response.url)
        return results[0] if results else Dataset()

    # plumbing

    async def _request(
        self,
        method: str,
        url: str,
        accept: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        max_bytes: int | None = None,
    ) -> Response:
        """Send with retries; a 4xx/5xx status becomes :class:`HTTPStatusError`. The body
        may hold ``max_bytes`` (None: the default limit)."""
        headers = {**self.headers, "Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        response = await request_with_retries(
            self.transport,
            method,
            url,
            headers=headers,
            body=body,
            timeout=self.source.timeout,
            max_retries=self.source.maxRetries,
            max_bytes=max_bytes,
        )
        if response.status >= 400:
            raise HTTPStatusError(response.status, response.reason, url, _error_detail(response))
        return response

    async def _get_json(self, url: str) -> tuple[list[dict[str, Any]], str]:
        response = await self._request("GET", url, DICOM_JSON, max_bytes=MAX_JSON_BODY_BYTES)
        try:
            return json_objects(response.body, response.url), response.url
        except DicomJSONError as exc:
            instead = _not_dicom_json(response)
            if instead is None:
                raise
            raise instead from exc

    async def _get_datasets(self, url: str) -> list[Dataset]:
        objects, base = await self._get_json(url)
        return [dataset_from_json(obj, base, index) for index, obj in enumerate(objects)]

    async def _search(
        self,
        url: str,
        filters: Iterable[tuple[str, str]],
        *,
        fields: Sequence[str],
        limit: int | None,
        offset: int,
    ) -> list[Dataset]:
        """One QIDO-RS search; a source that cannot query (a static tree) overrides this."""
        params = qido_params(self.source, filters, fields=fields, limit=limit, offset=offset)
        return await self._get_datasets(with_query(url, params, self.source.queryEncoding))

    async def _rendered(
        self,
        resource: str,
        uids: tuple[str, str | None, str | None, int | None],
        media_type: str,
        params: list[tuple[str, str]],
        viewport: tuple[int, int] | None,
    ) -> bytes:
        study, series, instance, frame_number = uids
        url = resource_url(self.source.wadoRoot, study, series, instance)
        if frame_number is not None:
            if not instance:
                raise ValueError("a frame number needs a SOP Instance UID")
            url = f"{url}/frames/{int(frame_number)}"
        if viewport is not None:
            params = [*params, ("viewport", f"{int(viewport[0])},{int(viewport[1])}")]
        url = with_query(f"{url}/{resource}", params, self.source.queryEncoding)
        return _single_part_content(await self._request("GET", url, media_type))


def resource_url(
    root: str,
    study: str | None = None,
    series: str | None = None,
    instance: str | None = None,
) -> str:
    """``root/studies/{study}[/series/{series}[/instances/{instance}]]``, UIDs escaped."""
    if (series and not study) or (instance and not series):
        raise ValueError("a series needs its study UID and an instance its series UID")
    url = root
    for level, uid in (("studies", study), ("series", series), ("instances", instance)):
        if not uid:
            break
        if not uid.strip("."):
            raise ValueError(f"{uid!r} is not a UID")
        url += f"/{level}/{quote(uid, safe='')}"
    return url


def _number(value: float) -> str:
    """A window value as servers parse it: ``40`` rather than ``40.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _stored_frames(data: bytes, limit: int) -> tuple[Dataset, _StoredFrames]:
    """A Part 10 instance without its pixel data, and its stored frames (deflated ones
    inflated, to at most ``limit`` bytes); ValueError says why it cannot be read."""
    ds = read_instance(data, max_inflated_bytes=limit)
    del data
    syntax = str(stored_transfer_syntax(ds))
    frames = split_frames(ds)
    for tag in PIXEL_DATA_TAGS:
        ds.pop(tag, None)  # held once: as the frames
    ds.buffer = None  # pydicom keeps the file it read from: the pixels again
    if syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        syntax = EXPLICIT_VR_LITTLE_ENDIAN  # inflated while reading
    return ds, _StoredFrames(frames, syntax)


def _cut_frames(stored: _StoredFrames, numbers: list[int], url: str) -> list[Frame]:
    """The asked frames of a whole instance's, labelled with its stored syntax."""
    if max(numbers) > len(stored.frames):
        raise DICOMwebError(f"asked for frames {numbers}, the instance has {len(stored.frames)}",
                            url)
    syntax = stored.transfer_syntax_uid
    return [Frame(n, stored.frames[n - 1], syntax, frame_content_type(syntax)) for n in numbers]


def _single_part_content(response: Response) -> bytes:
    """The content of a response that carries one item, multipart-wrapped or not."""
    parts = parse_multipart_related(response.body, response.content_type, response.url)
    if len(parts) != 1:
        raise MultipartError(f"expected one part, the response has {len(parts)}", response.url)
    return parts[0].content


def _dicom_file(instance: Dataset | bytes, index: int) -> bytes:
    """The Part 10 file of a dataset for STOW-RS (file meta required: servers store files)."""
    if isinstance(instance, (bytes, bytearray, memoryview)):
        return bytes(instance)
    try:
        return write_instance(instance)
    except ValueError as exc:
        uid = instance.get("SOPInstanceUID", "without SOP Instance UID")
        raise ValueError(f"instance {index + 1} ({uid}) {exc}") from None


def _error_detail(response: Response) -> str:
    """What the server said went wrong: failed SOP instances, else the body's start."""
    return _failed_sop_instances(response) or _body_text(response)


def _body_text(response: Response) -> str:
    """The start of a body as one line a person can read: an HTML page (a proxy's error
    page, a portal's sign-in) by its title, or its text without one, never its markup."""
    if not _is_html(response):
        text = response.body[: _DETAIL_CHARS * 4].decode("utf-8", "replace")
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text[:_DETAIL_CHARS]
    from .page_text import PageText  # on first use: html.parser is ~15% of the core's import

    page = PageText()
    page.feed(response.body[:_HTML_CHARS].decode("utf-8", "replace"))
    title, text = (" ".join("".join(parts).split()) for parts in (page.title, page.text))
    named = title or text[:_DETAIL_CHARS]
    return f'an HTML page "{named}"' if named else "an empty HTML page"


def _is_html(response: Response) -> bool:
    media_type, _ = parse_media_type(response.content_type)
    start = response.body[:64].lstrip().lower()
    return (media_type in ("text/html", "application/xhtml+xml")
            or start.startswith((b"<!doctype html", b"<html")))


def _not_dicom_json(response: Response) -> DicomJSONError | None:
    """The error for a body that is not DICOM JSON and not labelled JSON either (an HTML
    page, text): what the server answered instead, rather than a JSON parser's complaint.
    None for a body labelled JSON: its own parse error says more."""
    media_type, _ = parse_media_type(response.content_type)
    if media_type.endswith(("/json", "+json")) and not _is_html(response):
        return None
    return DicomJSONError(f"the server answered {media_type or 'without a Content-Type'}, "
                          f"not DICOM JSON: {_body_text(response)}", response.url)


def _check_multipart_label(response: Response, url: str) -> None:
    """A multipart body under another Content-Type (``application/octet-stream``) would be
    taken whole, wrapping and all, for one frame of the wrong size: name the label."""
    media_type, _ = parse_media_type(response.content_type)
    head = response.body[:1024]
    if (not media_type.startswith("multipart/") and head.startswith(b"--")
            and b"\r\n\r\n" in head and b"content-type:" in head.lower()):
        raise MultipartError(
            "the server sent a multipart/related answer as Content-Type "
            f"{response.content_type or '(none)'!r}", url)


def _failed_sop_instances(response: Response) -> str:
    """``"1.2.3: out of resources (0xA700); ..."`` from a STOW-RS FailedSOPSequence."""
    if not response.body.lstrip().startswith((b"{", b"[")):
        return ""
    try:
        datasets = datasets_from_json(response.body, response.url)
    except DicomJSONError:
        return ""
    items = datasets[0].get("FailedSOPSequence", []) if datasets else []
    failures = []
    for item in items:
        uid = item.get("ReferencedSOPInstanceUID", "") or "unknown SOP instance"
        reason = item.get("FailureReason")
        failures.append(f"{uid}: {_failure_reason(reason)}")
    return "; ".join(failures)


def _failure_reason(code: object) -> str:
    if not isinstance(code, int):
        return "failed" if code is None else f"failure reason {code}"
    meaning = _FAILURE_REASONS.get(code) or _FAILURE_REASON_RANGES.get(code & 0xFF00)
    if meaning is None and code & 0xF000 == 0xC000:
        meaning = "cannot understand"
    return f"{meaning} (0x{code:04X})" if meaning else f"failure reason 0x{code:04X}"
