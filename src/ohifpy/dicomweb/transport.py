"""The one async I/O surface of the DICOMweb client.

The client only ever calls :meth:`Transport.request`; CPython uses
:class:`ohifpy.dicomweb.httpx_transport.HttpxTransport`, the browser a ``fetch``
transport. Keeping retries, parsing and error mapping out of transports means both
behave the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Response", "Transport"]


@dataclass(frozen=True)
class Response:
    """A complete HTTP response. ``headers`` keys are lower-case."""

    status: int
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Transport(Protocol):
    """Sends one HTTP request and returns the whole response.

    Implementations raise :class:`~ohifpy.dicomweb.errors.DICOMwebTimeout` when
    ``timeout`` seconds pass and :class:`~ohifpy.dicomweb.errors.DICOMwebConnectionError`
    when the server cannot be reached; any HTTP status is a normal :class:`Response`.
    ``url`` is sent as given: the query string is already encoded by the caller.

    ``max_bytes`` bounds the body (None: :data:`~ohifpy.dicomweb.limits.DEFAULT_MAX_BODY_BYTES`):
    a larger one raises :class:`~ohifpy.dicomweb.errors.ResponseTooLarge` without being held
    whole, refused by its announced Content-Length where there is one (see
    :mod:`ohifpy.dicomweb.limits`).
    """

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> Response: ...

    async def aclose(self) -> None: ...
