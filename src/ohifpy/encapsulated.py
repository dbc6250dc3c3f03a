"""What the viewer needs to show an encapsulated PDF or a video: its bytes and media type.

OHIF shows both from a blob of their bulk data (``dicom-pdf``'s and ``dicom-video``'s
SOP class handlers): the page wraps :attr:`EncapsulatedContent.data` in a ``Blob`` of
:attr:`~EncapsulatedContent.media_type` and hands it to the browser's PDF viewer or a
``<video>`` element. Fetching it here, through the data source, sends the same
credentials as every other request.

Where the bytes come from:

* **PDF**: the Encapsulated Document (0042,0011) of the metadata: inline (a local file's
  header, DICOM JSON's InlineBinary), else its BulkDataURI through the source's
  ``load_bulkdata`` (Orthanc: ``.../instances/{uid}/bulk/00420011`` with ``Accept:
  multipart/related; type="application/octet-stream"``; ``application/pdf`` is refused
  with 400), else the whole instance. The declared MIME type is a claim, not an
  instruction (as in OHIF's ``displayableDocumentTypes``): only PDF is shown, the bytes
  must carry ``%PDF-`` in their first 1024 bytes, and the blob's type is always
  ``application/pdf``. The value is cut to Encapsulated Document Length (the pad byte).
* **video**: the pixel data's fragments joined (PS3.5 8.2.5-8.2.10: the stream in one or
  more fragments after an empty Basic Offset Table), from the whole instance as stored
  (``transfer-syntax=*``), the one WADO-RS retrieval every server serves for a video:
  Orthanc 1.10 with DICOMweb 1.7 puts no PixelData in the metadata of compressed
  instances, answers ``/frames/1`` of a video with 500 (any Accept) and
  ``video/mp4`` anywhere with 400. Local files read it from the file.

A source that can give a video has ``retrieve_instance`` (:class:`InstanceSource`: the
DICOMweb client's "Retrieve Instance", and local files); a merged source asks the source
the series came from.

The media type is the container's: an MP4 (``ftyp`` box) is ``video/mp4`` whatever the
codec; :attr:`~EncapsulatedContent.playable_type` adds the codec the transfer syntax
declares (``video/mp4; codecs="avc1.640029"``) for the page's ``canPlayType``, and
:attr:`~EncapsulatedContent.note` is what to tell the user when the browser cannot play
it: MPEG-2 (``video/mpeg``) and HEVC play in few browsers, an MPEG-2 transport stream or a
bare H.264 stream in none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.encaps import generate_frames
from pydicom.uid import UID

from .dicomweb.dicom_json import bulk_data_uris
from .dicomweb.limits import DEFAULT_MAX_BODY_BYTES, PixelDataSize
from .dicomweb.part10 import read_instance, stored_transfer_syntax
from .errors import OhifpyError
from .model import PDF, VIDEO, VIDEO_TRANSFER_SYNTAXES, Instance

if TYPE_CHECKING:
    from .datasources import DataSource

__all__ = [
    "PDF_MEDIA_TYPE",
    "EncapsulatedContent",
    "EncapsulatedError",
    "InstanceSource",
    "VideoFormat",
    "document_content",
    "retrieve_encapsulated",
    "video_content",
    "video_format",
    "video_stream",
]

PDF_MEDIA_TYPE = "application/pdf"
_PDF_SIGNATURE = b"%PDF-"
_PDF_SIGNATURE_WITHIN = 1024  # Adobe's readers accept "%PDF-" anywhere in the first 1 KiB
_PDF_ALIASES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat",
                          "text/pdf"})
_ENCAPSULATED_DOCUMENT = 0x00420011
_TS_PACKET = 188


class EncapsulatedError(OhifpyError, ValueError):
    """The instance holds no document or video the browser can be given, and why."""


@dataclass(frozen=True)
class VideoFormat:
    """What a video transfer syntax means for a browser.

    ``media_type`` is what its bulk data is asked for as (PS3.18 Table 8.7.3-5: video/mp4
    for H.264 and HEVC, video/mpeg for MPEG-2); ``codecs`` the RFC 6381 codec string of
    the profile and level it declares; ``note`` what to tell a user whose browser cannot
    play it.
    """

    transfer_syntax_uid: str
    name: str
    media_type: str
    codecs: str
    note: str


_H264_NOTE = "H.264 video: this browser cannot play it"
_HEVC_NOTE = ("HEVC/H.265 video plays only where the browser and the graphics hardware "
              "decode it, and this browser cannot")
_MPEG2_NOTE = ("MPEG-2 video: most browsers (Chrome, Edge, Firefox) cannot play it; "
               "download the instance and open it in a video player")


def _formats() -> dict[str, VideoFormat]:
    table: dict[str, VideoFormat] = {}
    h264 = {".102": "avc1.640029", ".103": "avc1.640029", ".104": "avc1.64002A",
            ".105": "avc1.64002A", ".106": "avc1.80002A"}
    for suffix, codecs in h264.items():
        for uid in (f"1.2.840.10008.1.2.4{suffix}", f"1.2.840.10008.1.2.4{suffix}.1"):
            table[uid] = VideoFormat(uid, "H.264", "video/mp4", codecs, _H264_NOTE)
    for suffix, codecs in {".107": "hvc1.1.6.L153.B0", ".108": "hvc1.2.4.L153.B0"}.items():
        uid = f"1.2.840.10008.1.2.4{suffix}"
        table[uid] = VideoFormat(uid, "HEVC/H.265", "video/mp4", codecs, _HEVC_NOTE)
    for uid in ("1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.100.1",
                "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.101.1"):
        table[uid] = VideoFormat(uid, "MPEG-2", "video/mpeg", "", _MPEG2_NOTE)
    assert set(table) == VIDEO_TRANSFER_SYNTAXES
    return table


VIDEO_FORMATS = _formats()


@dataclass(frozen=True)
class EncapsulatedContent:
    """A PDF or a video as the page gets it.

    ``data`` goes into a Blob of ``media_type``; ``playable_type`` is what to ask
    ``HTMLMediaElement.canPlayType`` (the media type with its codecs); ``note`` is the
    message to show when the browser cannot play it ('' for a PDF); ``transfer_syntax_uid``
    is the video's ('' for a PDF).
    """

    data: bytes
    media_type: str
    playable_type: str = ""
    note: str = ""
    transfer_syntax_uid: str = ""


@runtime_checkable
class InstanceSource(Protocol):
    """A source that gives whole instances as Part 10 files (WADO-RS Retrieve Instance)."""

    async def retrieve_instance(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str, *,
        transfer_syntax_uid: str = "*", pixel_size: PixelDataSize | None = None,
    ) -> bytes: ...


# --- from bytes -------------------------------------------------------------------------


def video_format(transfer_syntax_uid: str) -> VideoFormat:
    """The :class:`VideoFormat` of a video transfer syntax; :class:`EncapsulatedError`
    for any other (frames of it are images, decoded one by one)."""
    try:
        return VIDEO_FORMATS[transfer_syntax_uid]
    except KeyError:
        name = UID(transfer_syntax_uid).name if transfer_syntax_uid else "an unknown syntax"
        raise EncapsulatedError(
            f"the pixel data is stored as {name}, not as a video stream (MPEG-2, "
            "MPEG-4 AVC/H.264 or HEVC/H.265)") from None


def video_stream(pixel_data: bytes) -> bytes:
    """The video stream of encapsulated pixel data: every fragment after the Basic Offset
    Table, joined (a video is one frame to DICOM's encapsulation)."""
    try:
        return next(generate_frames(pixel_data, number_of_frames=1))
    except (StopIteration, ValueError, KeyError) as exc:
        raise EncapsulatedError(f"the video's pixel data is not encapsulated fragments "
                                f"({exc or 'no fragment'})") from None


def video_content(stream: bytes, transfer_syntax_uid: str) -> EncapsulatedContent:
    """A video stream for the page: its container decides the media type (an MP4 plays,
    an MPEG-2 transport stream or a bare H.264/HEVC stream does not), its syntax the
    codecs and the note."""
    video = video_format(transfer_syntax_uid)
    media_type, note = video.media_type, video.note
    if stream[4:8] == b"ftyp":
        stream = _without_padding(stream)
    elif video.media_type == "video/mp4":
        if stream[:1] == b"\x47" and stream[_TS_PACKET:_TS_PACKET + 1] in (b"", b"\x47"):
            media_type = "video/mp2t"
            note = (f"{video.name} video in an MPEG-2 transport stream, which browsers do not "
                    "play; download the instance and open it in a video player")
        elif stream[:4] == b"\0\0\0\x01" or stream[:3] == b"\0\0\x01":
            media_type = "video/h264" if video.name == "H.264" else "video/h265"
            note = (f"a bare {video.name} stream without a container (MP4), which browsers "
                    "do not play; download the instance and open it in a video player")
    playable = f'{media_type}; codecs="{video.codecs}"' if video.codecs and \
        media_type == "video/mp4" else media_type
    return EncapsulatedContent(stream, media_type, playable, note, transfer_syntax_uid)


def _without_padding(mp4: bytes) -> bytes:
    """An MP4 without the zero bytes after its last box (a fragment's even-length pad):
    the file as it was before it was encapsulated. Left as it is when its boxes do not
    add up."""
    position, end = 0, len(mp4)
    while position + 8 <= end:
        size = int.from_bytes(mp4[position:position + 4], "big")
        if size == 1 and position + 16 <= end:  # a 64-bit size follows the type
            size = int.from_bytes(mp4[position + 8:position + 16], "big")
        elif size == 0:  # the box runs to the end
            return mp4
        if size < 8 or position + size > end:
            return mp4
        position += size
    return mp4[:position] if position < end and not mp4[position:].strip(b"\0") else mp4


def document_content(ds: Dataset, data: bytes | None = None) -> EncapsulatedContent:
    """An Encapsulated PDF's document (``data``, else the dataset's Encapsulated Document)
    checked and cut to its Encapsulated Document Length.

    Raises :class:`EncapsulatedError` when it declares another type than PDF, is empty,
    or is not a PDF (no ``%PDF-`` in its first 1024 bytes).
    """
    declared = str(ds.get("MIMETypeOfEncapsulatedDocument", "") or "")
    media_type = declared.split(";")[0].strip().lower()
    if media_type and media_type not in _PDF_ALIASES:
        raise EncapsulatedError(f"the document declares type {declared!r}: only PDF "
                                "documents are shown")
    if data is None:
        value = ds.get("EncapsulatedDocument")
        data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else b""
    length = ds.get("EncapsulatedDocumentLength")
    if isinstance(length, int) and 0 < length <= len(data):
        data = data[:length]
    if not data:
        raise EncapsulatedError("the instance holds an empty document")
    if _PDF_SIGNATURE not in data[: _PDF_SIGNATURE_WITHIN + len(_PDF_SIGNATURE)]:
        raise EncapsulatedError("the document is not a PDF: its bytes do not start with %PDF-")
    return EncapsulatedContent(bytes(data), PDF_MEDIA_TYPE, PDF_MEDIA_TYPE)


# --- through a data source --------------------------------------------------------------


async def retrieve_encapsulated(source: DataSource, instance: Instance) -> EncapsulatedContent:
    """The PDF or video of ``instance`` (kind ``pdf`` or ``video``) from ``source``.

    Raises :class:`EncapsulatedError` for another kind, a source that cannot give it, or
    content the browser must not be given; the source's own errors pass through.
    """
    if instance.kind == PDF:
        return await _document(source, instance)
    if instance.kind == VIDEO:
        return await _video(source, instance)
    raise EncapsulatedError(f"SOP instance {instance.sop_instance_uid} is neither an "
                            "encapsulated PDF nor a video")


async def _document(source: DataSource, instance: Instance) -> EncapsulatedContent:
    ds = instance.metadata
    value = ds.get("EncapsulatedDocument")
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value):
        return document_content(ds)
    uri = bulk_data_uris(ds).get(_ENCAPSULATED_DOCUMENT)
    if uri:
        # A dataset of its own for the bulk data, so the shared metadata does not keep
        # the document once the page has it.
        holder = Dataset()
        holder.StudyInstanceUID = instance.study_instance_uid
        holder.SeriesInstanceUID = instance.series_instance_uid
        holder.SOPInstanceUID = instance.sop_instance_uid
        holder.add(DataElement(_ENCAPSULATED_DOCUMENT, "OB", b""))
        holder.bulk_data_uris = {_ENCAPSULATED_DOCUMENT: uri}
        await source.load_bulkdata(holder)
        return document_content(ds, bytes(holder.EncapsulatedDocument or b""))
    whole = await _whole_instance(source, instance, None, "document")
    return document_content(whole)


async def _video(source: DataSource, instance: Instance) -> EncapsulatedContent:
    # What the frames would take uncompressed bounds the download of a short clip; a long
    # one (whose uncompressed size says nothing of its stream's) gets the default limit.
    sample_bytes = max(instance.bits_allocated // 8, 1)
    size = PixelDataSize(
        instance.rows * instance.columns * instance.samples_per_pixel * sample_bytes,
        instance.number_of_frames)
    bound = size if size.instance_limit() <= DEFAULT_MAX_BODY_BYTES else None
    ds = await _whole_instance(source, instance, bound, "video")
    try:
        syntax = str(stored_transfer_syntax(ds))
    except ValueError as exc:
        raise EncapsulatedError(f"the video instance {exc}") from None
    video_format(syntax)
    pixel_data = ds.get("PixelData")
    if not isinstance(pixel_data, (bytes, bytearray)) or not pixel_data:
        raise EncapsulatedError("the video instance has no pixel data")
    return video_content(video_stream(bytes(pixel_data)), syntax)


def _instance_source(source: DataSource, series_instance_uid: str) -> InstanceSource | None:
    """The source that gives the series' whole instances: ``source`` itself, or for a
    merged source the one the series came from; None when it cannot."""
    from .datasources.merge import MergedDataSource

    if isinstance(source, MergedDataSource):
        name = source.source_of_series(series_instance_uid)
        source = next(s for s in source.sources if s.name == name)
    return source if isinstance(source, InstanceSource) else None


async def _whole_instance(source: DataSource, instance: Instance,
                          size: PixelDataSize | None, what: str) -> Dataset:
    holder = _instance_source(source, instance.series_instance_uid)
    if holder is None:
        raise EncapsulatedError(f"{source.friendly_name} cannot give whole instances: the "
                                f"{what} of SOP instance {instance.sop_instance_uid} cannot "
                                "be shown from it")
    data = await holder.retrieve_instance(
        instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid,
        pixel_size=size)
    try:
        return read_instance(data, size.instance_limit() if size else DEFAULT_MAX_BODY_BYTES)
    except ValueError as exc:
        raise EncapsulatedError(f"SOP instance {instance.sop_instance_uid}: {exc}") from None
