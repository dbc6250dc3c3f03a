"""The browser transport: :class:`Transport` over JavaScript's ``fetch`` (Pyodide only).

Imported only inside Pyodide (``js`` and ``pyodide.ffi`` exist nowhere else). Each
request's signal aborts it when the data source's timeout passes (raising
:class:`DICOMwebTimeout`, body included) or when the asyncio task awaiting it is
cancelled, so a viewer that closes a study stops its downloads instead of letting them
finish in the background. ``fetch`` rejecting without an abort is a network
failure (:class:`DICOMwebConnectionError`): the browser tells no more than that.

Responses are never written to the HTTP cache (``cache: "no-store"``): they are
patient data, and the viewer keeps none on disk.

A body larger than the request's limit is refused by its Content-Length before it is read
(the fetch is aborted), else by its size once the browser has it: that is still before it
is copied into Python, so the WebAssembly heap (which never shrinks) does not pay for it.
Streaming it chunk by chunk through Python would cost a round trip per chunk on every
frame, and without a Content-Length (chunked, or compressed in transit) the browser's own
memory holds the body first either way.

While Python starts, the worker may already have fetched what the page knows the viewer
will ask for first (a study's metadata, see ``prefetch`` in ``web/worker.js``): a plain
GET of such a URL takes that answer, once, instead of asking again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from js import AbortController, AbortSignal, Object, fetch
from pyodide.ffi import JsException, to_js

from .errors import DICOMwebConnectionError, DICOMwebTimeout, ResponseTooLarge
from .limits import body_limit, check_content_length, check_received_length
from .transport import Response, StreamedResponse

__all__ = ["FetchTransport"]


class FetchTransport:
    """Sends requests with ``fetch``; HTTP errors are responses, as for every transport.

    Parameters
    ----------
    prefetched : JS Map, optional
        URL -> Promise of a ``Response`` (or null when that fetch failed) started by the
        worker before Python was ready; each is used at most once.
    """

    def __init__(self, prefetched: Any = None) -> None:
        self.prefetched = prefetched

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
        controller = AbortController.new()  # aborted when the awaiting task is cancelled
        deadline = AbortSignal.timeout(max(int(timeout * 1000), 1))
        init = {
            "method": method,
            "headers": dict(headers or {}),
            "signal": AbortSignal.any(to_js([controller.signal, deadline])),
            "cache": "no-store",
            "credentials": "same-origin",
        }
        if body is not None:
            init["body"] = to_js(body)
        status = None  # the answer's, once its head has come
        try:
            early = await self._take_prefetched(method, url, headers or {}, timeout, limit)
            if early is None:
                response = await fetch(url, to_js(init, dict_converter=Object.fromEntries))
                status = int(response.status)
                _check_announced(response, limit, method, url)
                buffer = await response.arrayBuffer()
            else:
                response, buffer = early
        except (asyncio.CancelledError, ResponseTooLarge):
            controller.abort()  # the body, if any, stops downloading
            raise
        except JsException as exc:
            if deadline.aborted:
                raise DICOMwebTimeout(f"{method} timed out after {timeout:g} s", url) from None
            if status is not None:  # the server answered, then the connection went
                raise DICOMwebConnectionError(
                    f"{method} failed: the answer (HTTP {status}) broke off before its end "
                    f"({exc})", url) from None
            raise DICOMwebConnectionError(
                f"{method} failed: cannot reach the server ({exc})", url
            ) from None
        check_received_length(int(buffer.byteLength), limit, method, url)
        body = buffer.to_bytes()
        _release(buffer)
        return Response(
            status=int(response.status),
            url=str(response.url) or url,
            body=body,
            headers=_headers(response),
            reason=str(response.statusText),
        )

    async def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                     timeout: float = 30.0) -> StreamedResponse:
        """The response once its head has come; its body is read from the ``fetch`` stream
        chunk by chunk (Chromium hands over up to 2 MB at a time), each copied into Python
        once. Closing it, a cancelled read or a timeout aborts the download."""
        controller = AbortController.new()
        init = {"method": method, "headers": dict(headers or {}), "signal": controller.signal,
                "cache": "no-store", "credentials": "same-origin"}

        async def within_timeout(promise: Any, what: str) -> Any:
            try:
                return await asyncio.wait_for(_settled(promise), timeout)
            except TimeoutError:
                controller.abort()
                raise DICOMwebTimeout(f"{method} timed out after {timeout:g} s {what}",
                                      url) from None
            except asyncio.CancelledError:
                controller.abort()
                raise
            except JsException as exc:
                failure = ("the answer broke off before its end" if what != "waiting for it"
                           else "cannot reach the server")
                raise DICOMwebConnectionError(f"{method} failed: {failure} ({exc})", url) from None

        response = await within_timeout(fetch(url, to_js(init, dict_converter=Object.fromEntries)),
                                        "waiting for it")
        reader = response.body.getReader() if response.body is not None else None

        async def chunks() -> AsyncIterator[bytes]:
            while reader is not None:
                result = await within_timeout(reader.read(), "waiting for the rest of it")
                if result.done:
                    return
                chunk = result.value.to_bytes()
                _release(result.value.buffer)
                yield chunk

        async def aclose() -> None:
            controller.abort()

        return StreamedResponse(
            status=int(response.status),
            url=str(response.url) or url,
            chunks=chunks(),
            aclose=aclose,
            headers=_headers(response),
            reason=str(response.statusText),
        )

    async def _take_prefetched(
        self, method: str, url: str, headers: Mapping[str, str], timeout: float, limit: int
    ) -> tuple[Any, Any] | None:
        """The worker's early answer for this request and its body, if it made one and it
        succeeded (else None: the request is sent as usual).

        Only a GET with no header but Accept and Authorization qualifies (the early fetch
        carried the page's token, if any; one made with an older token answered 401 and
        is not taken). Waiting
        for it counts against the request's own timeout: an early request that hangs is
        this request timing out, not a reason to wait a second time. Its body has the
        request's limit.
        """
        if (self.prefetched is None or method != "GET" or not self.prefetched.has(url)
                or {key.lower() for key in headers} - {"accept", "authorization"}):
            return None
        early = self.prefetched.get(url)
        self.prefetched.delete(url)

        async def answer() -> tuple[Any, Any] | None:
            response = await early
            if response is None or not response.ok:
                return None
            _check_announced(response, limit, method, url)
            return response, await response.arrayBuffer()

        try:
            return await asyncio.wait_for(answer(), timeout)
        except TimeoutError:
            raise DICOMwebTimeout(f"{method} timed out after {timeout:g} s", url) from None

    async def aclose(self) -> None:
        """Nothing to close: the browser owns the connections."""


def _release(buffer: Any) -> None:
    """Free a body's JS buffer now that Python has its copy: garbage otherwise until the
    worker's next collection, which a series of frames outruns by hundreds of MB.
    ``ArrayBuffer.transfer`` (Chromium 114, Firefox 122, Safari 17.4) detaches it."""
    if getattr(buffer, "transfer", None) is not None:
        buffer.transfer(0)


async def _settled(promise: Any) -> Any:
    """A JS promise as a coroutine (what ``asyncio.wait_for`` takes)."""
    return await promise


def _headers(response: Any) -> dict[str, str]:
    """A fetch ``Response``'s headers, names lower-case."""
    return {str(k).lower(): str(v) for k, v in response.headers.entries()}


def _check_announced(response: Any, limit: int, method: str, url: str) -> None:
    """Refuse a body announced larger than ``limit`` before reading it (the caller aborts)."""
    length = response.headers.get("content-length")
    check_content_length({} if length is None else {"content-length": str(length)}, limit,
                         method, url)
