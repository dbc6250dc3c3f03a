"""The CPython transport: one ``httpx.AsyncClient`` (keep-alive) behind :class:`Transport`.

The only module that imports httpx, which does not exist in Pyodide (the browser
has its ``fetch`` transport). It sends the URL's query exactly as the client
encoded it: httpx only percent-encodes what the WHATWG query set requires (space,
``"``, ``#``, ``<``, ``>``), which the client never leaves unencoded, and keeps
existing ``%XX`` escapes and ``, * ^`` as they are. Status retries are the
client's, the same over every transport; the one retry here is the browser's own:
an idempotent request that met a keep-alive connection the server had just closed
("Server disconnected without sending a response") goes once more on a fresh one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from .errors import DICOMwebConnectionError, DICOMwebError, DICOMwebTimeout
from .limits import body_limit, check_content_length, check_received_length
from .transport import Response, StreamedResponse

__all__ = ["IDEMPOTENT_METHODS", "HttpxTransport"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HttpxTransport:
    """Sends requests over a pooled ``httpx.AsyncClient``; HTTP errors are responses.

    Bodies are streamed, so one larger than the request's limit is never held whole: it is
    refused by its Content-Length before reading, or as soon as it passes the limit (the
    connection is then dropped).
    """

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=True)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> Response:
        limit = body_limit(max_bytes)
        try:
            return await self._send(method, url, headers, body, timeout, limit)
        except _FAILURES as exc:
            raise _mapped(exc, method, url, timeout) from None

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None,
        timeout: float, limit: int,
    ) -> Response:
        """One request; an idempotent one again once if the server hung up on it."""
        try:
            return await self._read(method, url, headers, body, timeout, limit)
        except httpx.RemoteProtocolError:
            if method.upper() not in IDEMPOTENT_METHODS:
                raise
        return await self._read(method, url, headers, body, timeout, limit)

    async def _read(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None,
        timeout: float, limit: int,
    ) -> Response:
        """Send, then read the body chunk by chunk up to ``limit`` bytes."""
        request = self._client.build_request(method, url, headers=headers, content=body,
                                             timeout=httpx.Timeout(timeout))
        response = await self._client.send(request, stream=True)
        try:
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            check_content_length(response_headers, limit, method, url)
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                check_received_length(received, limit, method, url)
                chunks.append(chunk)
        finally:
            await response.aclose()  # an unread rest closes the connection
        return Response(
            status=response.status_code,
            url=str(response.url),
            body=b"".join(chunks),
            headers=response_headers,
            reason=response.reason_phrase,
        )

    async def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                     timeout: float = 30.0) -> StreamedResponse:
        try:
            request = self._client.build_request(method, url, headers=headers,
                                                 timeout=httpx.Timeout(timeout))
            response = await self._client.send(request, stream=True)
        except _FAILURES as exc:
            raise _mapped(exc, method, url, timeout) from None

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            except _FAILURES as exc:
                raise _mapped(exc, method, url, timeout) from None

        return StreamedResponse(
            status=response.status_code,
            url=str(response.url),
            chunks=chunks(),
            aclose=response.aclose,
            headers={k.lower(): v for k, v in response.headers.items()},
            reason=response.reason_phrase,
        )

    async def aclose(self) -> None:
        await self._client.aclose()


_FAILURES = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


def _mapped(exc: Exception, method: str, url: str, timeout: float) -> DICOMwebError:
    """An httpx failure as the DICOMweb error every transport raises for it."""
    if isinstance(exc, httpx.TimeoutException):
        return DICOMwebTimeout(f"{method} timed out after {timeout:g} s ({type(exc).__name__})",
                               url)
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)):
        return DICOMwebConnectionError(
            f"{method} failed: cannot reach the server ({type(exc).__name__}: {exc})", url
        )
    return DICOMwebError(f"{method} failed: {type(exc).__name__}: {exc}", url)
