"""Errors of the DICOMweb client: each says what failed, where (URL) and why."""

from __future__ import annotations

from ..errors import OhifpyError

__all__ = [
    "DICOMwebConnectionError",
    "DICOMwebError",
    "DICOMwebTimeout",
    "DicomJSONError",
    "HTTPStatusError",
    "MultipartError",
]


class DICOMwebError(OhifpyError):
    """Base of every error the DICOMweb client raises; ``url`` is the request's URL."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class HTTPStatusError(DICOMwebError):
    """The server answered with a 4xx/5xx status."""

    def __init__(self, status: int, reason: str, url: str, detail: str = "") -> None:
        text = f"HTTP {status} {reason}".rstrip()
        if detail:
            text += f": {detail}"
        super().__init__(text, url)
        self.status = status


class DICOMwebTimeout(DICOMwebError):
    """No (complete) answer within the data source's timeout."""


class DICOMwebConnectionError(DICOMwebError):
    """The server could not be reached (refused, DNS, TLS, connection reset)."""


class MultipartError(DICOMwebError):
    """A multipart/related body that cannot be parsed (bad boundary, truncated, no parts)."""


class DicomJSONError(DICOMwebError):
    """A QIDO/metadata body that is not DICOM JSON (PS3.18 F.2)."""
