"""A fault-injecting HTTP proxy between the viewer and a real DICOMweb server.

The viewer's config points at this proxy (another origin: it answers CORS itself, as
``deploy/cdn-cors`` does for Orthanc), and the proxy passes every request on to the
server, unless a test told it otherwise for requests whose path and query match a
pattern: answer a status (503 with or without Retry-After), hold the request (a stall),
cut the connection after some bytes of the server's answer (a reset in the middle of a
multipart body), answer an HTML error page where JSON is expected, relabel the answer
with another Content-Type, or close the connection without an answer. ``down()`` stops
listening and closes every connection; ``up()`` listens again on the same port.

These are real failures on real sockets (aiohttp server and client), not mocks: the
browser's network stack and the viewer's retries, timeouts and parsers meet them as
they would a failing server. The proxy runs on an asyncio loop of its own in a thread,
so a test's blocking code never stalls it, and listens on 127.0.0.1 only. Every request
but the CORS preflights is logged (``requests(pattern)``), so a test can count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, DummyCookieJar, web

__all__ = ["Fault", "FaultProxy", "Rule"]

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade"})
NOT_SENT_UP = HOP_BY_HOP | {"host", "content-length"}  # aiohttp's client writes its own
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "*"}
PREFLIGHT = {**CORS, "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
             "Access-Control-Allow-Headers": "*", "Access-Control-Max-Age": "600"}
PAGE = ("<!DOCTYPE html>\n<html><head><title>{title}</title>\n<style>body {{ margin: 2em; }}"
        "</style></head>\n<body><h1>{title}</h1><p>The archive is not available.</p>"
        "<hr><address>nginx</address></body></html>\n")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """What the proxy does with a request a rule catches; made by the class methods."""

    kind: str
    status: int = 200
    seconds: float = 0.0
    after_bytes: int = 0
    content_type: str = ""
    retry_after: str | None = None
    title: str = ""

    @classmethod
    def answer(cls, status: int, retry_after: float | None = None) -> Fault:
        """Answer ``status`` (a short text body) without asking the server."""
        return cls("answer", status,
                   retry_after=None if retry_after is None else f"{retry_after:g}")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Hold the request ``seconds`` (or until :meth:`FaultProxy.release`), then pass it."""
        return cls("stall", seconds=seconds)

    @classmethod
    def reset(cls, after_bytes: int) -> Fault:
        """Send the server's head and ``after_bytes`` of its body, then close the connection
        (a shorter body goes whole)."""
        return cls("reset", after_bytes=after_bytes)

    @classmethod
    def html(cls, status: int = 200, title: str = "") -> Fault:
        """Answer an HTML page with ``status``: a proxy's error page, titled with the status
        by default, or a portal's (``title="Sign in"``)."""
        return cls("html", status, title=title or f"{status} {_reason(status)}")

    @classmethod
    def relabel(cls, content_type: str) -> Fault:
        """Pass the server's answer with this Content-Type instead of its own."""
        return cls("relabel", content_type=content_type)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without any answer (a server that went away). A browser
        sends a request dropped on a kept-alive connection again on a new one (Chromium
        up to twice), so the proxy sees more of them than the page made."""
        return cls("drop")


@dataclass
class Rule:
    """``fault`` for requests whose path and query match ``pattern``: the first ``skip``
    matches pass, then ``times`` of them (None: all) get it. ``seen`` counts matches,
    ``hits`` the faults given."""

    pattern: re.Pattern[str]
    fault: Fault
    skip: int = 0
    times: int | None = None
    seen: int = 0
    hits: int = 0

    def applies(self) -> bool:
        """Count one more match; whether it gets the fault."""
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


@dataclass
class FaultProxy:
    """The proxy in front of ``upstream`` (an origin: ``http://127.0.0.1:8042``).

    Use as a context manager; :attr:`url` is its origin, the same paths as upstream's.
    """

    upstream: str
    port: int = 0
    rules: list[Rule] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)  # set in its loop only
    _site: web.TCPSite | None = None
    _runner: web.AppRunner | None = None
    _session: ClientSession | None = None
    _down: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ what tests call

    def inject(self, pattern: str, fault: Fault, *, skip: int = 0,
               times: int | None = None) -> Rule:
        """Add a rule (tried in the order added, the first that matches wins)."""
        rule = Rule(re.compile(pattern), fault, skip, times)
        if fault.kind == "stall":
            self._call(self._released.clear)
        self.rules = [*self.rules, rule]
        return rule

    def clear(self) -> None:
        """Every request passes again; stalled ones go on."""
        self.rules = []
        self.release()

    def release(self) -> None:
        """Stalled requests go on now, and later ones at once until a stall is injected."""
        self._call(self._released.set)

    def requests(self, pattern: str = "") -> list[str]:
        """Path and query of every request seen (preflights aside) matching ``pattern``."""
        found = re.compile(pattern)
        return [target for target in list(self.log) if found.search(target)]

    def down(self) -> None:
        """Stop listening (connections refused) and close every connection on its next
        request, as a server that stopped."""
        self._down = True
        self._run(self._stop_listening())

    def up(self) -> None:
        """Listen again on the same port."""
        self._down = False
        self._run(self._listen())

    # ------------------------------------------------------------ life

    def __enter__(self) -> Self:
        started = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._stop())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="fault proxy")
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is None or self._thread is None:
            return
        self.release()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    async def _start(self) -> None:
        self._session = ClientSession(
            cookie_jar=DummyCookieJar(), auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            timeout=ClientTimeout(total=None, sock_connect=10))
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        if self._site is not None:
            return
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        self.port = self._runner.addresses[-1][1]

    async def _stop_listening(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _call(self, function: Callable[[], object]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function)

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    # ------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return _dropped(request)
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=PREFLIGHT)
        target = request.raw_path
        self.log.append(target)
        fault = next((rule.fault for rule in self.rules
                      if rule.pattern.search(target) and rule.applies()), None)
        if fault is None or fault.kind in ("stall", "reset", "relabel"):
            if fault is not None and fault.kind == "stall":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), fault.seconds)
            return await self._forward(request, fault)
        if fault.kind == "drop":
            return _dropped(request)
        if fault.kind == "html":
            return web.Response(status=fault.status, content_type="text/html", headers=CORS,
                                text=PAGE.format(title=fault.title))
        headers = {**CORS, **({"Retry-After": fault.retry_after} if fault.retry_after else {})}
        return web.Response(status=fault.status, text=_reason(fault.status), headers=headers)

    async def _forward(self, request: web.Request, fault: Fault | None) -> web.StreamResponse:
        """The server's answer, streamed; cut or relabelled as ``fault`` says."""
        assert self._session is not None
        host = f"127.0.0.1:{self.port}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_SENT_UP}
        headers |= {"Forwarded": f"host={host};proto=http", "X-Forwarded-Host": host,
                    "X-Forwarded-Proto": "http"}
        body = await request.read() if request.body_exists else None
        try:
            async with self._session.request(request.method, self.upstream + request.raw_path,
                                             headers=headers, data=body,
                                             allow_redirects=False) as answer:
                out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                if fault is not None and fault.kind == "relabel":
                    out["Content-Type"] = fault.content_type
                response = web.StreamResponse(status=answer.status, reason=answer.reason,
                                              headers={**out, **CORS})
                await response.prepare(request)
                cut = fault.after_bytes if fault is not None and fault.kind == "reset" else None
                sent = 0
                async for chunk in answer.content.iter_chunked(CHUNK):
                    if cut is not None and sent + len(chunk) >= cut:
                        await response.write(chunk[:cut - sent])
                        if request.transport is not None:
                            request.transport.close()  # what was written goes, then FIN
                        return response
                    sent += len(chunk)
                    await response.write(chunk)
                return response
        except (ClientError, ConnectionError) as exc:
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the client left (a stall it gave up on)
            return web.Response(status=502, text=f"upstream failed: {exc}", headers=CORS)


def _dropped(request: web.Request) -> web.StreamResponse:
    """Close the connection now, unanswered (the response returned is never sent)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
