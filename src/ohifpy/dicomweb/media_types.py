"""Media types of WADO-RS pixel data and the transfer syntaxes they carry (PS3.18 8.7.3).

A frame request names the transfer syntax it wants through the media type of the
Accept header, and each answered part says what it holds through its Content-Type.
Both directions live here so the request and the parsing of the answer agree.
"""

from __future__ import annotations

from pydicom import uid

from ..config import DicomWebSource
from .multipart import parse_media_type

__all__ = [
    "OCTET_STREAM",
    "frame_content_type",
    "frames_accept_header",
    "media_type_for_transfer_syntax",
    "multipart_accept_header",
    "transfer_syntax_of_part",
]

OCTET_STREAM = "application/octet-stream"

# Uncompressed syntaxes travel as application/octet-stream, each frame's raw bytes.
_NATIVE = (
    uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,
    uid.DeflatedExplicitVRLittleEndian,
)

_MEDIA_TYPE_OF_SYNTAX: dict[str, str] = {
    **{ts: OCTET_STREAM for ts in _NATIVE},
    **{
        ts: "image/jpeg"
        for ts in (
            uid.JPEGBaseline8Bit,
            uid.JPEGExtended12Bit,
            uid.JPEGLossless,
            uid.JPEGLosslessSV1,
        )
    },
    uid.JPEGLSLossless: "image/jls",
    uid.JPEGLSNearLossless: "image/jls",
    uid.JPEG2000Lossless: "image/jp2",
    uid.JPEG2000: "image/jp2",
    uid.JPEG2000MCLossless: "image/jpx",
    uid.JPEG2000MC: "image/jpx",
    uid.HTJ2KLossless: "image/jphc",
    uid.HTJ2KLosslessRPCL: "image/jphc",
    uid.HTJ2K: "image/jphc",
    uid.RLELossless: "image/x-dicom-rle",
}

# The syntax a part holds when its Content-Type has no transfer-syntax parameter:
# the default syntax PS3.18 Table 8.7.3-2 gives each media type.
_DEFAULT_SYNTAX_OF_MEDIA_TYPE: dict[str, str] = {
    OCTET_STREAM: uid.ExplicitVRLittleEndian,
    "image/jpeg": uid.JPEGBaseline8Bit,
    "image/jls": uid.JPEGLSLossless,
    "image/jp2": uid.JPEG2000Lossless,
    "image/jpx": uid.JPEG2000MCLossless,
    "image/jphc": uid.HTJ2KLossless,
    "image/x-dicom-rle": uid.RLELossless,
    "image/dicom-rle": uid.RLELossless,
}


def media_type_for_transfer_syntax(transfer_syntax_uid: str) -> str:
    """The WADO-RS media type that carries frames in ``transfer_syntax_uid``.

    Raises
    ------
    ValueError
        For a UID that is not a transfer syntax WADO-RS can deliver frames in.
    """
    try:
        return _MEDIA_TYPE_OF_SYNTAX[transfer_syntax_uid]
    except KeyError:
        raise ValueError(
            f"{transfer_syntax_uid!r} is not a transfer syntax WADO-RS delivers frames in; "
            f"known: {', '.join(sorted(_MEDIA_TYPE_OF_SYNTAX))}"
        ) from None


def transfer_syntax_of_part(content_type: str) -> str:
    """The transfer syntax UID of a frame part from its Content-Type.

    An explicit ``transfer-syntax`` parameter wins; without one the media type's
    default applies, and a part without any Content-Type is taken as raw
    ``application/octet-stream``. Returns ``""`` for a media type that implies none.
    """
    media_type, params = parse_media_type(content_type or OCTET_STREAM)
    return params.get("transfer-syntax") or _DEFAULT_SYNTAX_OF_MEDIA_TYPE.get(media_type, "")


def frame_content_type(transfer_syntax_uid: str) -> str:
    """The Content-Type a WADO-RS frame part of this syntax carries: its media type with
    the syntax named (``application/octet-stream`` for syntaxes with no frame media type,
    e.g. video, which the decoder then names)."""
    try:
        media_type = media_type_for_transfer_syntax(transfer_syntax_uid)
    except ValueError:
        media_type = OCTET_STREAM
    return f"{media_type}; transfer-syntax={transfer_syntax_uid}"


def multipart_accept_header(
    media_type: str, source: DicomWebSource, transfer_syntax: str = ""
) -> str:
    """``multipart/related; type=...[; transfer-syntax=...]`` with OHIF's quoting option."""
    type_param = media_type if source.omitQuotationForMultipartRequest else f'"{media_type}"'
    header = f"multipart/related; type={type_param}"
    return f"{header}; transfer-syntax={transfer_syntax}" if transfer_syntax else header


def frames_accept_header(source: DicomWebSource, transfer_syntax_uid: str | None = None) -> str:
    """The Accept header of a frames request.

    Precedence: the call's ``transfer_syntax_uid``, then the source's
    ``acceptHeader``, then its ``requestTransferSyntaxUID``; by default
    ``transfer-syntax=*``, i.e. the stored syntax without any server-side
    transcoding (which crashes Orthanc 1.10 under load) and decoding in the client.
    """
    if not transfer_syntax_uid and source.acceptHeader:
        return ", ".join(source.acceptHeader)
    syntax = transfer_syntax_uid or source.requestTransferSyntaxUID
    if not syntax or syntax == "*":
        return multipart_accept_header(OCTET_STREAM, source, "*")
    return multipart_accept_header(media_type_for_transfer_syntax(syntax), source, syntax)
