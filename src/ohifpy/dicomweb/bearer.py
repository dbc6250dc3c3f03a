"""Bearer tokens (RFC 6750) on the requests to the configured DICOMweb servers, and no other.

The token belongs to the page's sign-in (OpenID Connect, ``web/auth.js``): this module
only decides where it goes and what a 401 means. It goes to the origins of the configured
DICOMweb roots (QIDO, WADO, STOW) and nowhere else, so a BulkDataURI, a DICOM JSON
``url`` or a ``/rendered`` URL pointing at another origin never sees it, whatever the
server or the file put there.

A 401 from such an origin is answered by one renewal and one retry. Renewals are shared:
when a scroll's twenty frame requests all come back 401 at once, the page is asked once,
and every request retries with the one new token. A renewal may wait for the user to
sign in again (the page decides); the request waits with it instead of failing, so a
viewer whose session ended loses nothing but time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from .transport import Response, StreamedResponse, Transport

__all__ = ["BearerTokenTransport", "origin_of"]

AccessToken = Callable[[], str | None]
Renew = Callable[[str | None], Awaitable[str | None]]
Answer = TypeVar("Answer", Response, StreamedResponse)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-case, default ports dropped (RFC 6454)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


class BearerTokenTransport:
    """A :class:`Transport` adding ``Authorization: Bearer`` for the configured origins.

    Parameters
    ----------
    inner : Transport
        Sends the requests.
    origins : iterable of str
        Origins (or URLs, reduced to their origin) the token may be sent to.
    access_token : callable
        The current token, or None (signed out): read at every request, so a token the
        page renewed is used by the very next one.
    renew : async callable, optional
        ``renew(rejected_token)`` asks for a new token after a 401 and answers it (None
        when there is none). Without it a 401 is simply returned.
    """

    def __init__(
        self,
        inner: Transport,
        origins: Iterable[str],
        access_token: AccessToken,
        renew: Renew | None = None,
    ) -> None:
        self.inner = inner
        self.origins = frozenset(origin for origin in map(origin_of, origins) if origin)
        self.access_token = access_token
        self.renew = renew
        self._renewing: dict[str | None, asyncio.Future[str | None]] = {}

    def authorizes(self, url: str) -> bool:
        """Whether ``url`` may carry the token: its origin is a configured server's."""
        return origin_of(url) in self.origins

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
        async def send(sent: dict[str, str]) -> Response:
            return await self.inner.request(method, url, headers=sent, body=body,
                                            timeout=timeout, max_bytes=max_bytes)

        return await self._authorized(url, headers, send)

    async def stream(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                     timeout: float = 30.0) -> StreamedResponse:
        async def send(sent: dict[str, str]) -> StreamedResponse:
            return await self.inner.stream(method, url, headers=sent, timeout=timeout)

        return await self._authorized(url, headers, send)

    async def _authorized(
        self, url: str, headers: Mapping[str, str] | None,
        send: Callable[[dict[str, str]], Awaitable[Answer]],
    ) -> Answer:
        """``send`` with the token where ``url`` may have it; after a 401, once more with a
        renewed one (a streamed 401 is closed first)."""
        plain = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        if not self.authorizes(url):
            return await send(plain)
        token = self.access_token()
        answer = await send(_with_token(plain, token))
        if answer.status != 401 or self.renew is None:
            return answer
        renewed = await self._renewed(token)
        if not renewed or renewed == token:
            return answer
        if isinstance(answer, StreamedResponse):
            await answer.aclose()
        return await send(_with_token(plain, renewed))

    async def _renewed(self, rejected: str | None) -> str | None:
        """The token to retry with: one renewal per rejected token, shared by its requests.

        A request that was refused with a token the page has already replaced retries
        with the current one without asking again.
        """
        current = self.access_token()
        if current and current != rejected:
            return current
        waiting = self._renewing.get(rejected)
        if waiting is None:
            assert self.renew is not None
            waiting = asyncio.ensure_future(self.renew(rejected))
            self._renewing[rejected] = waiting
            waiting.add_done_callback(lambda _: self._renewing.pop(rejected, None))
        return await asyncio.shield(waiting)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _with_token(headers: dict[str, str], token: str | None) -> dict[str, str]:
    return {**headers, "Authorization": f"Bearer {token}"} if token else headers
