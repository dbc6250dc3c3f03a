"""``ohifpy serve``: a built dist/ on 127.0.0.1, with an optional same-origin DICOMweb proxy.

The viewer is static files, so any web server will do in production; this one exists
for development and tests, and for the case static hosts cannot cover: a DICOMweb
server without CORS, reached through the page's own origin (``--proxy
/dicom-web=http://127.0.0.1:8042/dicom-web``). HTTP on both sides is aiohttp's (its
parser refuses malformed and ambiguous messages); what is ours is the policy in front
of it: only this machine's names as Host (DNS rebinding), no request target that could
name something outside a proxied prefix once an upstream normalises it, limits on
bodies, connections and idle time. The query string goes upstream byte for byte in an
already-encoded URL: Orthanc 1.10 does not percent-decode queries, so re-encoding ``*``,
``^`` or ``,`` would silently break searches.

CPython only (it is never imported by the browser build).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import mimetypes
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientSession,
    ClientTimeout,
    ConnectionTimeoutError,
    DummyCookieJar,
    TCPConnector,
    web,
)
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

__all__ = [
    "Limits",
    "RunningServer",
    "ServeError",
    "add_serve_arguments",
    "run_serve",
    "serve",
    "start_server",
]

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
NO_CACHE = {"service_worker.js"}  # browsers must see a new worker on the next load
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# Set by this proxy alone: a client's own would pass for ours (Forwarded, X-Forwarded-*)
# or describe its hop to us, not ours to the upstream.
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
}
PROXIED_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}  # no TRACE, no CONNECT
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
CROSS_ORIGIN_ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin",
                          "Cross-Origin-Embedder-Policy": "require-corp"}
"""What makes a page cross-origin isolated (``crossOriginIsolated``): shared memory, which
the Python console's interrupt (Ctrl+C) needs."""
MAX_LINE = 64 * 1024  # a request line or one header: long QIDO queries, bearer tokens
CHUNK = 256 * 1024
UPSTREAM_CONNECT_SECONDS = 10.0
SHUTDOWN_SECONDS = 2.0  # requests in flight when the server stops get this long to finish
# origin-form only: printable ASCII without "#" (absolute and authority form are a proxy's)
ORIGIN_FORM = re.compile(r"/[\x21\x22\x24-\x7e]*")
SIZE = re.compile(r"(\d+)([kmg]?)", re.IGNORECASE)
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", re.IGNORECASE)


class ServeError(ValueError):
    """Bad serve arguments: a dist that is not a build, a malformed --proxy or base path."""


@dataclass(frozen=True)
class Limits:
    """What clients may take, sized for one user (the nginx recipe's numbers where it has
    them: deploy/nginx/snippets/dicomweb-proxy.conf, nginx's keep-alive timeout)."""

    max_body: int = 1 << 30  # STOW-RS of a study's files (client_max_body_size 1g)
    max_connections: int = 128  # a browser opens 6 per origin; a page flooding is cut off
    idle_seconds: float = 75.0  # silent this long (head, body, not reading): dropped
    upstream_seconds: float = 300.0  # a large QIDO or a study retrieve can take minutes


class _HTTPError(Exception):
    """A request this server answers with an error status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error_response(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=f"{status} {HTTPStatus(status).phrase}: {message}\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _checked_target(raw: str) -> tuple[str, str]:
    """The raw path and ``?query`` (kept byte for byte) of a request target.

    Refused (400) when the path could name something else once decoded or normalised
    by us or an upstream: dot segments, empty segments (``//``), backslashes, encoded
    slashes or NULs, in any number of percent-encoding layers.
    """
    if not ORIGIN_FORM.fullmatch(raw):
        raise _HTTPError(400, f"request target {raw[:200]!r} is not a path on this server")
    path, sep, query = raw.partition("?")
    segments = path[1:].split("/")
    for i, segment in enumerate(segments):
        while (decoded := unquote(segment)) != segment:
            segment = decoded
        empty = not segment and i < len(segments) - 1
        if empty or segment in (".", "..") or any(c in segment for c in "/\\\0"):
            raise _HTTPError(400, f"path {path[:200]!r} has a dot, empty or encoded segment")
    return path, sep + query


def _authority(host: str, port: int) -> str:
    """``host:port`` as a Host header carries it (IPv6 in brackets, no port for 80)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host.lower() if port == 80 else f"{host}:{port}".lower()


# ---------------------------------------------------------------- the proxy's upstreams


@dataclass(frozen=True)
class _Upstream:
    prefix: str  # "/dicom-web"
    origin: str  # "http://127.0.0.1:8042"
    path: str  # "/dicom-web" on the upstream (may be "")
    url: str

    @classmethod
    def parse(cls, prefix: str, url: str) -> _Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServeError(f"--proxy {prefix}={url}: the target must be an http(s):// URL")
        if not prefix.startswith("/") or prefix.rstrip("/") == "":
            raise ServeError(f"--proxy {prefix}={url}: the prefix must be a path like /dicom-web")
        if parts.query or parts.fragment:
            raise ServeError(f"--proxy {prefix}={url}: the target cannot have a query")
        path = parts.path.rstrip("/")
        return cls(prefix.rstrip("/"), f"{parts.scheme}://{parts.netloc}", path, url)

    def url_for(self, path: str, query: str) -> URL | None:
        """The upstream URL for a checked path and ``?query``; None outside the prefix."""
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return None
        # encoded=True: yarl and aiohttp send it as it is, the query above all
        return URL(self.origin + (self.path + path[len(self.prefix) :] or "/") + query,
                   encoded=True)


class _Body:
    """A request body on its way upstream, cut off beyond the size limit or after the
    client's idle time; ``error`` then says what to answer instead of the upstream."""

    def __init__(self, request: web.BaseRequest, limits: Limits) -> None:
        self.request, self.limits = request, limits
        self.error: _HTTPError | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        request = self.request
        expect = request.headers.get("Expect", "").lower()
        if expect == "100-continue" and request.version == (1, 1):
            # Only now, with the upstream connected, is the body going somewhere.
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        received = 0
        while True:
            try:
                async with asyncio.timeout(self.limits.idle_seconds):
                    data = await request.content.readany()
            except TimeoutError:
                self.error = _HTTPError(408, f"no body data for {self.limits.idle_seconds:g} s")
                raise self.error from None
            if not data:
                return
            received += len(data)
            if received > self.limits.max_body:
                self.error = _HTTPError(413, f"body larger than {self.limits.max_body} bytes")
                raise self.error
            yield data


# ---------------------------------------------------------------- the server


class _Site:
    """Answers requests for one built dist/ under ``base_path``, proxying some prefixes."""

    def __init__(
        self,
        dist: Path,
        base_path: str,
        proxy: dict[str, str],
        allowed_hosts: tuple[str, ...],
        limits: Limits,
        cross_origin_isolated: bool = False,
    ) -> None:
        self.dist = Path(dist).resolve()
        self.cross_origin_isolated = cross_origin_isolated
        if not (self.dist / "index.html").is_file():
            raise ServeError(
                f"{dist} is not a built dist (no index.html): run scripts/build_static.py"
            )
        if not base_path.startswith("/"):
            raise ServeError(f"base path {base_path!r} must start with /")
        self.base_path = base_path.rstrip("/") + "/"
        self.upstreams = [_Upstream.parse(p, u) for p, u in proxy.items()]
        for name in allowed_hosts:
            if not (HOST_NAME.fullmatch(name) or _is_address(name.strip("[]"))):
                raise ServeError(f"--allowed-host {name!r}: give a host name or an address, "
                                 "without a port")
        self.allowed_hosts = allowed_hosts
        self.limits = limits
        self.session: ClientSession | None = None

    def open_session(self) -> None:
        """The upstream client: verbatim bodies both ways, no cookies kept between users,
        nothing added to what the browser sent, as many connections as clients may have."""
        self.session = ClientSession(
            connector=TCPConnector(limit=self.limits.max_connections),
            cookie_jar=DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            timeout=ClientTimeout(
                total=None,
                sock_connect=UPSTREAM_CONNECT_SECONDS,
                sock_read=self.limits.upstream_seconds,
            ),
        )

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            self._check_message(request)
            path, query = _checked_target(request.raw_path)
            for upstream in self.upstreams:
                url = upstream.url_for(path, query)
                if url is not None:
                    return await self._proxy(request, upstream, url)
            return await self._static(request, path, query)
        except _HTTPError as exc:
            response = _error_response(exc.status, str(exc))
        if request.body_exists and not request.content.is_eof():
            # Connection: close, so a client that announced a body need not send it (RFC
            # 9110 10.1.1); aiohttp drops what still comes for a while, for it to see this.
            response.force_close()
        return response

    def _check_message(self, request: web.BaseRequest) -> None:
        """What aiohttp's parser lets through and this server does not serve."""
        if request.version not in ((1, 0), (1, 1)):
            # llhttp reads a request line cut by a bare LF as HTTP/0.9
            raise _HTTPError(400, f"HTTP/{request.version[0]}.{request.version[1]} request line")
        host, allowed = request.headers.get("Host", ""), self._allowed(request)
        if host.lower() not in allowed:
            # DNS rebinding: a page of another site whose name now resolves to 127.0.0.1
            raise _HTTPError(
                421,
                f"this server answers for {', '.join(allowed)}, not for Host "
                f"{host[:200]!r} (start it with --allowed-host NAME to add a name)",
            )
        coding = request.headers.get("Transfer-Encoding")
        if coding is not None and coding.strip().lower() != "chunked":
            raise _HTTPError(501, f"Transfer-Encoding {coding[:100]!r} is not supported")
        expect = request.headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            raise _HTTPError(417, f"Expect {expect[:100]!r} is not supported")
        if (request.content_length or 0) > self.limits.max_body:
            raise _HTTPError(413, f"body larger than {self.limits.max_body} bytes")

    def _allowed(self, request: web.BaseRequest) -> list[str]:
        """The Host values served on this connection: this machine's names, the address
        the client connected to (an IP literal cannot be rebound), --allowed-host names."""
        address, port = request.get_extra_info("sockname", ("", 0))[:2]
        names = dict.fromkeys((*LOOPBACK_NAMES, address, *self.allowed_hosts))
        return [_authority(name, port) for name in names]

    # ------------------------------------------------------------ static files

    def _resolve(self, request: web.BaseRequest, raw_path: str, query: str) -> Path | str:
        """The file to send, or the URL to redirect to."""
        path = unquote(raw_path)
        if path + "/" == self.base_path:
            return self.base_path + query
        if not path.startswith(self.base_path):
            raise _HTTPError(404, f"{path} is outside {self.base_path}")
        candidate = (self.dist / path[len(self.base_path) :]).resolve()
        if candidate != self.dist and self.dist not in candidate.parents:
            raise _HTTPError(404, f"{path} is outside the dist directory")
        if candidate.is_dir():
            if not path.endswith("/"):
                return raw_path + "/" + query
            candidate = candidate / "index.html"
        if candidate.is_file():
            return candidate
        last = path.rstrip("/").rsplit("/", 1)[-1]
        # A route of the single-page app (/viewer?..., /local) asked for by a browser
        # navigation; data files (demo metadata, frames) stay 404 instead of turning
        # into HTML that a JSON parser would choke on.
        if "." not in last and "text/html" in request.headers.get("Accept", ""):
            return self.dist / "index.html"
        raise _HTTPError(404, f"{path} not found")

    async def _static(self, request: web.BaseRequest, path: str, query: str) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise _HTTPError(405, f"{request.method} is not allowed on static files")
        found = self._resolve(request, path, query)
        if isinstance(found, str):
            return web.Response(status=301, headers={"Location": found})
        content_type = MIME_TYPES.get(found.suffix.lower()) or (
            mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        )
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "X-Content-Type-Options": "nosniff"}
        )
        if found.name in NO_CACHE or found.suffix == ".html":
            response.headers["Cache-Control"] = "no-cache"
        if self.cross_origin_isolated:
            response.headers.update(CROSS_ORIGIN_ISOLATION)
        response.content_length = found.stat().st_size
        chunks = _file_chunks(found) if request.method == "GET" else None
        return await self._send(request, response, chunks)

    # ------------------------------------------------------------ reverse proxy

    def _upstream_headers(self, request: web.BaseRequest) -> list[tuple[str, str]]:
        """The client's end-to-end headers, and where it asked, for absolute URLs the
        upstream writes (Orthanc's RetrieveURL, BulkDataURI) to point back here."""
        host = request.headers["Host"]  # one of the allowed names: no injection through it
        headers = [
            *_end_to_end(request.headers.items(), NOT_FORWARDED),
            # Orthanc's DICOMweb 1.7 reads Forwarded with host unquoted (it keeps quotes).
            ("Forwarded", f"host={host};proto=http"),
            ("X-Forwarded-Host", host),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-For", request.remote or ""),
        ]
        if request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))
        return headers

    async def _proxy(
        self, request: web.BaseRequest, upstream: _Upstream, url: URL
    ) -> web.StreamResponse:
        if request.method not in PROXIED_METHODS:
            raise _HTTPError(405, f"{request.method} is not proxied")
        assert self.session is not None
        body = _Body(request, self.limits) if request.body_exists else None
        where = f"upstream {upstream.url} (for {request.method} {request.path})"
        try:
            async with self.session.request(
                request.method,
                url,
                headers=self._upstream_headers(request),
                data=None if body is None else body.chunks(),
                allow_redirects=False,
            ) as answer:
                response = web.StreamResponse(
                    status=answer.status,
                    reason=answer.reason,
                    headers=_end_to_end(answer.headers.items(), HOP_BY_HOP),
                )
                return await self._send(request, response, answer.content.iter_chunked(CHUNK))
        except (ClientError, TimeoutError) as exc:
            if body is not None and body.error is not None:
                raise body.error from None
            if isinstance(exc, ClientConnectorError):
                raise _HTTPError(502, f"{where} is unreachable: {exc.os_error}") from None
            if isinstance(exc, ConnectionTimeoutError):
                seconds = UPSTREAM_CONNECT_SECONDS
                raise _HTTPError(504, f"{where} did not connect in {seconds:g} s") from None
            if isinstance(exc, TimeoutError):
                seconds = self.limits.upstream_seconds
                raise _HTTPError(504, f"{where} sent no answer in {seconds:g} s") from None
            raise _HTTPError(502, f"{where} failed: {exc}") from None

    async def _send(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        chunks: AsyncIterator[bytes] | None,
    ) -> web.StreamResponse:
        """Send the head, then the body as it comes. A client that reads nothing for the
        idle time, or a source that fails, ends the connection: the client sees the answer
        cut short (a final chunk would pass it off as complete)."""
        await response.prepare(request)
        if chunks is None:
            return response
        try:
            async for data in chunks:
                async with asyncio.timeout(self.limits.idle_seconds):
                    await response.write(data)
        except (ClientError, OSError):  # TimeoutError and ConnectionError among them
            if request.transport is not None:
                request.transport.close()
        return response


def _end_to_end(
    headers: Iterable[tuple[str, str]], dropped: set[str]
) -> list[tuple[str, str]]:
    """``headers`` less ``dropped`` and those a Connection header names (RFC 9110 7.6.1)."""
    headers = list(headers)
    named = {t.strip().lower() for k, v in headers if k.lower() == "connection"
             for t in v.split(",")}
    return [(k, v) for k, v in headers if k.lower() not in dropped | named]


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while data := fh.read(CHUNK):
            yield data


class _CappedServer(web.Server):
    """aiohttp's low-level server, closing at once a connection beyond ``max_connections``
    (idle keep-alive ones included, which a request-level limit would not count)."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        max_connections: int,
        **kwargs: Any,  # aiohttp's RequestHandler options
    ) -> None:
        super().__init__(handler, **kwargs)
        self.max_connections = max_connections

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        if len(self.connections) >= self.max_connections:
            transport.abort()
            return
        super().connection_made(handler, transport)


# ---------------------------------------------------------------- entry points


class _LogFormatter(logging.Formatter):
    """aiohttp's server log on stderr: a malformed request it refused in one line, with
    what was wrong; anything else (a bug of ours) with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = exc.message.partition("\n")[0].rstrip(":")
            return f"ohifpy serve: {record.getMessage()}: {reason}"
        return "ohifpy serve: " + super().format(record)


class RunningServer:
    """A started server: its listening socket, and close()/wait_closed() as asyncio.Server."""

    def __init__(self, runner: web.ServerRunner, sock: socket.socket, site: _Site) -> None:
        self._runner, self._sock, self._site = runner, sock, site
        self._closing: asyncio.Task[None] | None = None

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)

    def close(self) -> None:
        """Stop listening and end the connections (in the background: see wait_closed)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._cleanup())

    async def wait_closed(self) -> None:
        self.close()
        assert self._closing is not None
        await self._closing

    async def _cleanup(self) -> None:
        await self._runner.cleanup()
        if self._site.session is not None:
            await self._site.session.close()


async def start_server(
    dist: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    proxy: dict[str, str] | None = None,
    base_path: str = "/",
    *,
    allowed_hosts: tuple[str, ...] = (),
    limits: Limits = Limits(),
    cross_origin_isolated: bool = False,
) -> RunningServer:
    """Start serving (``port=0`` picks a free port: read it from ``server.sockets``)."""
    site = _Site(dist, base_path, proxy or {}, allowed_hosts, limits, cross_origin_isolated)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    site.open_session()
    server = _CappedServer(
        site.handle,
        limits.max_connections,
        handler_cancellation=True,  # a client gone: its upstream request is dropped too
        access_log=None,
        keepalive_timeout=limits.idle_seconds,  # also ends a head that never completes
        max_line_size=MAX_LINE,
        max_field_size=MAX_LINE,
        auto_decompress=False,  # a gzipped STOW body goes upstream as sent
    )
    runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return RunningServer(runner, sock, site)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return host == "localhost" or (_is_address(host) and ipaddress.ip_address(host).is_loopback)


def serve(
    dist: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    proxy: dict[str, str] | None = None,
    base_path: str = "/",
    *,
    allowed_hosts: tuple[str, ...] = (),
    limits: Limits = Limits(),
    cross_origin_isolated: bool = False,
) -> None:
    """Serve until interrupted, printing the URL first."""
    if not _is_loopback(host):
        print(
            f"ohifpy serve: warning: listening on {host}, not on this machine only: anyone "
            "who can reach it reads the viewer and the proxied archive (no TLS, no sign-in)",
            file=sys.stderr,
            flush=True,
        )

    log = logging.StreamHandler()
    log.setFormatter(_LogFormatter())
    logging.getLogger("aiohttp").addHandler(log)

    async def main() -> None:
        server = await start_server(
            dist, host, port, proxy, base_path, allowed_hosts=allowed_hosts, limits=limits,
            cross_origin_isolated=cross_origin_isolated,
        )
        bound = server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        base = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        print(f"ohifpy: serving {dist} at http://{shown}:{bound[1]}{base}", flush=True)
        for prefix, url in (proxy or {}).items():
            print(f"ohifpy: proxying {prefix} -> {url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.wait_closed()

    asyncio.run(main())


def _size(text: str) -> int:
    """A byte count as nginx writes it: 1048576, 512k, 100m, 1g."""
    match = SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1g, 500m or 1048576")
    return int(match[1]) << {"": 0, "k": 10, "m": 20, "g": 30}[match[2].lower()]


Number = TypeVar("Number", int, float)


def _positive(kind: Callable[[str], Number]) -> Callable[[str], Number]:
    """An argparse type: ``kind`` above zero."""

    def parse(text: str) -> Number:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not a positive number")
        return value

    return parse


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ohifpy serve``."""
    defaults = Limits()
    parser.add_argument("--dist", default="dist", help="built site to serve (default: dist)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; any other is reachable from the "
        "network, with no TLS and no sign-in)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    parser.add_argument(
        "--base-path",
        default="/",
        help="URL path the dist was built for (--base-path of the build)",
    )
    parser.add_argument(
        "--proxy",
        action="append",
        default=[],
        metavar="PREFIX=URL",
        help="forward PREFIX/... to URL/... on the same origin, e.g. "
        "/dicom-web=http://127.0.0.1:8042/dicom-web (repeatable)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name besides 127.0.0.1, localhost and [::1] that browsers may use for this "
        "server (others get 421: DNS rebinding); repeatable",
    )
    parser.add_argument(
        "--cross-origin-isolated",
        action="store_true",
        help="send Cross-Origin-Opener-Policy and -Embedder-Policy with the app's files, so "
        "the Python console's Stop (Ctrl+C) can interrupt a cell; a sign-in provider on "
        "another origin must then allow being embedded (silent renew)",
    )
    parser.add_argument(
        "--max-body",
        type=_size,
        default=defaults.max_body,
        metavar="SIZE",
        help="largest request body, e.g. a STOW-RS upload (default 1g; larger: 413)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive(int),
        default=defaults.max_connections,
        metavar="N",
        help=f"open connections at most (default {defaults.max_connections})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive(float),
        default=defaults.idle_seconds,
        metavar="SECONDS",
        help="drop a client that sends or reads nothing for this long "
        f"(default {defaults.idle_seconds:g})",
    )
    parser.add_argument(
        "--upstream-timeout",
        type=_positive(float),
        default=defaults.upstream_seconds,
        metavar="SECONDS",
        help="answer 504 when a proxied server is silent this long "
        f"(default {defaults.upstream_seconds:g})",
    )


def run_serve(args: argparse.Namespace) -> int:
    """``ohifpy serve``: 0 after Ctrl-C, 1 with one line on stderr for bad arguments."""
    try:
        proxy = {}
        for item in args.proxy:
            prefix, sep, url = item.partition("=")
            if not sep:
                raise ServeError(f"--proxy {item!r} must be PREFIX=URL")
            proxy[prefix] = url
        limits = Limits(
            args.max_body, args.max_connections, args.idle_timeout, args.upstream_timeout
        )
        serve(
            Path(args.dist),
            args.host,
            args.port,
            proxy,
            args.base_path,
            allowed_hosts=tuple(args.allowed_host),
            limits=limits,
            cross_origin_isolated=args.cross_origin_isolated,
        )
    except (ServeError, OSError) as exc:
        print(f"ohifpy serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(
        prog="python -m ohifpy.serve", description=__doc__.split("\n\n")[0]
    )
    add_serve_arguments(_parser)
    sys.exit(run_serve(_parser.parse_args()))
