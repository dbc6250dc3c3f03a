"""The one async I/O surface of the DICOMweb client.

The client calls :meth:`Transport.request`, and :meth:`Transport.stream` for a body too
large to hold whole (a series retrieved in one response); CPython uses
:class:`ohifpy.dicomweb.httpx_transport.HttpxTransport`, the browser a ``fetch``
transport. Keeping retries, parsing and error mapping out of transports means both
behave the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Response", "StreamedResponse", "Transport"]


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


@dataclass(frozen=True)
class StreamedResponse:
    """A response whose body is read as it arrives: ``chunks`` yields it piece by piece
    (each read waits at most the request's timeout), ``aclose`` drops what is left (the
    download stops). Whoever streams one closes it."""

    status: int
    url: str
    chunks: AsyncIterator[bytes]
    aclose: Callable[[], Awaitable[None]]
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    async def read(self, max_bytes: int) -> bytes:
        """The body up to ``max_bytes`` (an error answer's, to say what went wrong)."""
        body = bytearray()
        async for chunk in self.chunks:
            body += chunk
            if len(body) >= max_bytes:
                break
        return bytes(body[:max_bytes])


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

    async def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                     timeout: float = 30.0) -> StreamedResponse:
        """Send, and answer once the head has come: the body is the caller's to read (and
        to bound); ``timeout`` is the longest wait for the head and for each chunk."""
        ...

    async def aclose(self) -> None: ...
