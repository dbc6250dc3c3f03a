"""``ohifpy serve``: a built dist/ on 127.0.0.1, with an optional same-origin DICOMweb proxy.

The viewer is static files, so any web server will do in production; this one exists
for development and tests, and for the case static hosts cannot cover: a DICOMweb
server without CORS, reached through the page's own origin (``--proxy
/dicom-web=http://127.0.0.1:8042/dicom-web``). It is a small HTTP/1.1 server on
asyncio streams (no threads, no dependency) because the proxy must pass the query
string byte for byte: Orthanc 1.10 does not percent-decode queries, so a client or
server library that re-encodes ``*``, ``^`` or ``,`` would silently break searches.

CPython only (it is never imported by the browser build).
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["DistServer", "ServeError", "add_serve_arguments", "run_serve", "serve", "start_server"]

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
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
KEEP_ALIVE_SECONDS = 75.0
UPSTREAM_CONNECT_SECONDS = 10.0
UPSTREAM_READ_SECONDS = 300.0  # a large QIDO or a WADO study retrieve can take minutes


class ServeError(ValueError):
    """Bad serve arguments: a dist that is not a build, a malformed --proxy or base path."""


class _HTTPError(Exception):
    """A request this server answers with an error status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str  # exactly as received: path and query, not decoded
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


# ---------------------------------------------------------------- HTTP/1.1 wire format


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]] | None:
    """The start line and headers of one message; None at a clean end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _HTTPError(400, "connection closed inside the request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _HTTPError(431, f"request head larger than {MAX_HEAD} bytes") from None
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _HTTPError(400, f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    return lines[0], headers


async def _iter_chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The data of a chunked body (RFC 9112 section 7.1), trailers discarded."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _HTTPError(400, f"bad chunk size {size_line[:40]!r}") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    value = next((v for k, v in headers if k.lower() == "content-length"), None)
    if value is None:
        return None
    if not value.isdigit():
        raise _HTTPError(400, f"bad Content-Length {value!r}")
    return int(value)


def _is_chunked(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await _read_head(reader)
    if head is None:
        return None
    start, headers = head
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise _HTTPError(400, f"malformed request line {start[:200]!r}")
    if _is_chunked(headers):
        body = b"".join([chunk async for chunk in _iter_chunked(reader)])
    else:
        body = await reader.readexactly(_content_length(headers) or 0)
    return Request(parts[0], parts[1], parts[2], headers, body)


def _head_bytes(version: str, status: int, headers: list[tuple[str, str]]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # a status code an upstream made up
        reason = ""
    lines = [f"{version} {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    head_only: bool = False,
) -> None:
    headers = [*headers, ("Content-Length", str(len(body)))]
    writer.write(_head_bytes("HTTP/1.1", status, headers) + (b"" if head_only else body))
    await writer.drain()


async def _send_error(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    body = f"{status} {HTTPStatus(status).phrase}: {message}\n".encode()
    await _send(writer, status, [("Content-Type", "text/plain; charset=utf-8")], body)


# ---------------------------------------------------------------- the server


@dataclass(frozen=True)
class _Upstream:
    prefix: str  # "/dicom-web"
    scheme: str
    host: str
    port: int
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
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(
            prefix.rstrip("/"), parts.scheme, parts.hostname, port, parts.path.rstrip("/"), url
        )

    def target_for(self, request_target: str) -> str | None:
        """The upstream request target, or None if the request is not under the prefix."""
        rest = request_target[len(self.prefix) :]
        if not request_target.startswith(self.prefix) or rest[:1] not in ("", "/", "?"):
            return None
        target = self.path + rest
        return target if target.startswith("/") else "/" + target


class DistServer:
    """Answers requests for one built dist/ under ``base_path``, proxying some prefixes."""

    def __init__(
        self, dist: Path, base_path: str = "/", proxy: dict[str, str] | None = None
    ) -> None:
        self.dist = Path(dist).resolve()
        if not (self.dist / "index.html").is_file():
            raise ServeError(
                f"{dist} is not a built dist (no index.html): run scripts/build_static.py"
            )
        if not base_path.startswith("/"):
            raise ServeError(f"base path {base_path!r} must start with /")
        self.base_path = base_path.rstrip("/") + "/"
        self.upstreams = [_Upstream.parse(p, u) for p, u in (proxy or {}).items()]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests until it closes or goes idle (keep-alive)."""
        try:
            while True:
                try:
                    request = await asyncio.wait_for(_read_request(reader), KEEP_ALIVE_SECONDS)
                except _HTTPError as exc:
                    await _send_error(writer, exc.status, str(exc))
                    return
                if request is None:
                    return
                keep_alive = await self._respond(request, writer)
                if not (keep_alive and request.keep_alive):
                    return
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _respond(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Answer ``request``; False when the connection cannot carry another one."""
        for upstream in self.upstreams:
            target = upstream.target_for(request.target)
            if target is not None:
                return await self._proxy(request, writer, upstream, target)
        try:
            await self._static(request, writer)
        except _HTTPError as exc:
            await _send_error(writer, exc.status, str(exc))
        return True

    # ------------------------------------------------------------ static files

    def _resolve(self, request: Request) -> tuple[Path | None, str | None]:
        """The file to send, or the URL to redirect to."""
        path = unquote(request.path)
        query = request.target[len(request.path) :]
        if path + "/" == self.base_path:
            return None, self.base_path + query
        if not path.startswith(self.base_path) or "\0" in path:
            raise _HTTPError(404, f"{path} is outside {self.base_path}")
        candidate = (self.dist / path[len(self.base_path) :]).resolve()
        if candidate != self.dist and self.dist not in candidate.parents:
            raise _HTTPError(404, f"{path} is outside the dist directory")
        if candidate.is_dir():
            if not path.endswith("/"):
                return None, request.path + "/" + query
            candidate = candidate / "index.html"
        if candidate.is_file():
            return candidate, None
        last = path.rstrip("/").rsplit("/", 1)[-1]
        # A route of the single-page app (/viewer?..., /local) asked for by a browser
        # navigation; data files (demo metadata, frames) stay 404 instead of turning
        # into HTML that a JSON parser would choke on.
        if "." not in last and "text/html" in (request.header("Accept") or ""):
            return self.dist / "index.html", None
        raise _HTTPError(404, f"{path} not found")

    async def _static(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method not in ("GET", "HEAD"):
            raise _HTTPError(405, f"{request.method} is not allowed on static files")
        path, location = self._resolve(request)
        if location is not None:
            await _send(writer, 301, [("Location", location)], b"")
            return
        assert path is not None
        content_type = MIME_TYPES.get(path.suffix.lower()) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(path.stat().st_size)),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if path.name in NO_CACHE or path.suffix == ".html":
            headers.append(("Cache-Control", "no-cache"))
        writer.write(_head_bytes("HTTP/1.1", 200, headers))
        if request.method == "GET":
            with path.open("rb") as fh:
                while data := fh.read(CHUNK):
                    writer.write(data)
                    await writer.drain()
        await writer.drain()

    # ------------------------------------------------------------ reverse proxy

    def _upstream_request(self, request: Request, upstream: _Upstream, target: str) -> bytes:
        host = request.header("Host") or ""
        default_port = 443 if upstream.scheme == "https" else 80
        netloc = (
            upstream.host if upstream.port == default_port else f"{upstream.host}:{upstream.port}"
        )
        headers = [
            (k, v)
            for k, v in request.headers
            if k.lower() not in HOP_BY_HOP | {"host", "content-length"}
        ]
        headers += [
            ("Host", netloc),
            ("Connection", "close"),
            # Servers that write absolute URLs (Orthanc's RetrieveURL, BulkDataURI) use
            # these to point them back at this origin.
            ("Forwarded", f"host={host};proto=http"),
            ("X-Forwarded-Host", host),
            ("X-Forwarded-Proto", "http"),
        ]
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(request.body))))
        start = f"{request.method} {target} HTTP/1.1\r\n"
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers)
        return (start + lines + "\r\n").encode("latin-1") + request.body

    async def _proxy(
        self, request: Request, writer: asyncio.StreamWriter, upstream: _Upstream, target: str
    ) -> bool:
        where = f"upstream {upstream.url} (for {request.method} {request.path})"
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(
                    upstream.host,
                    upstream.port,
                    ssl=ssl.create_default_context() if upstream.scheme == "https" else None,
                    limit=MAX_HEAD,
                ),
                UPSTREAM_CONNECT_SECONDS,
            )
        except (TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            await _send_error(writer, 502, f"{where} is unreachable: {reason}")
            return True
        try:
            up_writer.write(self._upstream_request(request, upstream, target))
            await up_writer.drain()
            try:
                head = await asyncio.wait_for(_read_head(up_reader), UPSTREAM_READ_SECONDS)
            except TimeoutError:
                await _send_error(
                    writer, 504, f"{where} sent no answer in {UPSTREAM_READ_SECONDS:g} s"
                )
                return True
            except (_HTTPError, ConnectionError) as exc:
                await _send_error(writer, 502, f"{where} sent a malformed answer: {exc}")
                return True
            if head is None:
                await _send_error(writer, 502, f"{where} closed the connection without answering")
                return True
            return await self._relay(request, writer, up_reader, head)
        finally:
            up_writer.close()

    async def _relay(
        self,
        request: Request,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        head: tuple[str, list[tuple[str, str]]],
    ) -> bool:
        """Send the upstream answer on, streaming its body; False if the connection must close."""
        start, up_headers = head
        try:
            status = int(start.split(" ")[1])
        except (IndexError, ValueError):
            await _send_error(writer, 502, f"upstream sent a malformed status line {start[:100]!r}")
            return True
        length = _content_length(up_headers)
        chunked_in = _is_chunked(up_headers)
        headers = [
            (k, v) for k, v in up_headers if k.lower() not in HOP_BY_HOP | {"content-length"}
        ]
        no_body = request.method == "HEAD" or status in (204, 304) or 100 <= status < 200
        if no_body or length is not None:
            if length is not None:
                headers.append(("Content-Length", str(length)))
            writer.write(_head_bytes("HTTP/1.1", status, headers))
            remaining = 0 if no_body else length or 0
            while remaining:
                data = await asyncio.wait_for(
                    up_reader.read(min(CHUNK, remaining)), UPSTREAM_READ_SECONDS
                )
                if not data:
                    return False  # upstream cut the body short: the client sees a short read
                writer.write(data)
                remaining -= len(data)
                await writer.drain()
            await writer.drain()
            return True
        # Unknown length: re-chunk for HTTP/1.1 clients, close-delimited for HTTP/1.0.
        chunked_out = request.version == "HTTP/1.1"
        if chunked_out:
            headers.append(("Transfer-Encoding", "chunked"))
        writer.write(_head_bytes("HTTP/1.1", status, headers))
        source = _iter_chunked(up_reader) if chunked_in else _iter_until_eof(up_reader)
        try:
            async for data in source:
                writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked_out else data)
                await writer.drain()
        except (TimeoutError, _HTTPError, asyncio.IncompleteReadError, ConnectionError):
            return False  # the answer is already on its way: cutting it short is all we can do
        if chunked_out:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return chunked_out


async def _iter_until_eof(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while data := await asyncio.wait_for(reader.read(CHUNK), UPSTREAM_READ_SECONDS):
        yield data


# ---------------------------------------------------------------- entry points


async def start_server(
    dist: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    proxy: dict[str, str] | None = None,
    base_path: str = "/",
) -> asyncio.Server:
    """Start serving (``port=0`` picks a free port: read it from ``server.sockets``)."""
    app = DistServer(dist, base_path, proxy)
    return await asyncio.start_server(app.handle, host, port, limit=MAX_HEAD)


def serve(
    dist: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    proxy: dict[str, str] | None = None,
    base_path: str = "/",
) -> None:
    """Serve until interrupted, printing the URL first."""

    async def main() -> None:
        server = await start_server(dist, host, port, proxy, base_path)
        bound = server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        base = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        print(f"ohifpy: serving {dist} at http://{shown}:{bound[1]}{base}", flush=True)
        for prefix, url in (proxy or {}).items():
            print(f"ohifpy: proxying {prefix} -> {url}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ohifpy serve``."""
    parser.add_argument("--dist", default="dist", help="built site to serve (default: dist)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
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


def run_serve(args: argparse.Namespace) -> int:
    """``ohifpy serve``: 0 after Ctrl-C, 1 with one line on stderr for bad arguments."""
    try:
        proxy = {}
        for item in args.proxy:
            prefix, sep, url = item.partition("=")
            if not sep:
                raise ServeError(f"--proxy {item!r} must be PREFIX=URL")
            proxy[prefix] = url
        serve(Path(args.dist), args.host, args.port, proxy, args.base_path)
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
