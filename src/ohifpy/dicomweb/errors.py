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
    "ResponseTooLarge",
]


class DICOMwebError(OhifpyError):
    """Base of every error the DICOMweb client raises; ``url`` is the request's URL,
    ``text`` the message without it."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url
        self.text = message


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


class ResponseTooLarge(DICOMwebError):
    """A response body larger than the request's limit (what the metadata lets it be, else
    a default): refused before it is read whole, or as soon as it passes the limit.

    ``limit`` is that limit in bytes.
    """

    def __init__(self, message: str, url: str, limit: int) -> None:
        super().__init__(message, url)
        self.limit = limit
