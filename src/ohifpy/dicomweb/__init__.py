"""DICOMweb client (QIDO-RS, WADO-RS, STOW-RS) over a pluggable async transport."""

from .client import DICOMwebClient, Frame
from .errors import (
    DicomJSONError,
    DICOMwebConnectionError,
    DICOMwebError,
    DICOMwebTimeout,
    HTTPStatusError,
    MultipartError,
    ResponseTooLarge,
)
from .multipart import Part, parse_multipart_related
from .query import StudyQuery
from .transport import Response, Transport

__all__ = [
    "DICOMwebClient",
    "DICOMwebConnectionError",
    "DICOMwebError",
    "DICOMwebTimeout",
    "DicomJSONError",
    "Frame",
    "HTTPStatusError",
    "MultipartError",
    "Part",
    "Response",
    "ResponseTooLarge",
    "StudyQuery",
    "Transport",
    "parse_multipart_related",
]
