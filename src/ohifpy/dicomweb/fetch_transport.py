"""The browser transport: :class:`Transport` over JavaScript's ``fetch`` (Pyodide only).

Imported only inside Pyodide (``js`` and ``pyodide.ffi`` exist nowhere else). Each
request's signal aborts it when the data source's timeout passes (raising
:class:`DICOMwebTimeout`, body included) or when the asyncio task awaiting it is
cancelled, so a viewer that closes a study stops its downloads instead of letting them
finish in the background. ``fetch`` rejecting without an abort is a network
failure (:class:`DICOMwebConnectionError`): the browser tells no more than that.

Responses are never written to the HTTP cache (``cache: "no-store"``): they are
patient data, and the viewer keeps none on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from js import AbortController, AbortSignal, Object, fetch
from pyodide.ffi import JsException, to_js

from .errors import DICOMwebConnectionError, DICOMwebTimeout
from .transport import Response

__all__ = ["FetchTransport"]


class FetchTransport:
    """Sends requests with ``fetch``; HTTP errors are responses, as for every transport."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
    ) -> Response:
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
        try:
            response = await fetch(url, to_js(init, dict_converter=Object.fromEntries))
            buffer = await response.arrayBuffer()
        except asyncio.CancelledError:
            controller.abort()
            raise
        except JsException as exc:
            if deadline.aborted:
                raise DICOMwebTimeout(f"{method} timed out after {timeout:g} s", url) from None
            raise DICOMwebConnectionError(
                f"{method} failed: cannot reach the server ({exc})", url
            ) from None
        return Response(
            status=int(response.status),
            url=str(response.url) or url,
            body=buffer.to_bytes(),
            headers={str(k).lower(): str(v) for k, v in response.headers.entries()},
            reason=str(response.statusText),
        )

    async def aclose(self) -> None:
        """Nothing to close: the browser owns the connections."""
