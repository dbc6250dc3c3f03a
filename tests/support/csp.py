"""Catch Content-Security-Policy violations two ways: in the page and at a report endpoint.

A page's ``securitypolicyviolation`` events only cover the page (and its frames): a
violation in a Web Worker fires in the worker, where no test script listens. The
policy's ``report-uri`` catches both: the browser POSTs the violations (a repeated one
once), the worker's included (a worker runs under the policy its own script was served
with), to :class:`ReportRecorder`, a small HTTP server on 127.0.0.1 that keeps what it
receives. ``report-uri`` rather than ``report-to``: Chromium sends those at once, where
the Reporting API delivers them later, in batches.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
import time
from typing import Any, Self

# Run before any script of every document (frames too): records the page's violations.
LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push({
  directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
  line: e.lineNumber, sample: e.sample,
}));
"""


class ReportRecorder:
    """An HTTP endpoint for ``report-uri`` that records every report POSTed to it."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    recorder.reports.append(json.loads(body))
                except ValueError:
                    recorder.reports.append(body.decode("utf-8", "replace"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="csp report recorder")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/csp-report"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def policy_in(conf: str) -> str:
    """The Content-Security-Policy an nginx config sends (its one add_header of it)."""
    (policy,) = re.findall(r'add_header Content-Security-Policy "([^"]+)" always;', conf)
    return policy


def directives(policy: str) -> dict[str, list[str]]:
    """A policy's directives and their sources, e.g. ``{"script-src": ["'self'"]}``."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


async def page_violations(page: Any) -> list[dict[str, Any]]:
    """What the page's own listener (:data:`LISTENER`) recorded in its main frame and frames."""
    found = []
    for frame in page.frames:
        found += await frame.evaluate("() => window.__cspViolations ?? []")
    return found


async def assert_no_violations(page: Any, recorder: ReportRecorder) -> None:
    """Neither the page's listener nor the report endpoint saw a violation."""
    await asyncio.sleep(0.5)  # a report is POSTed after the event, on its own
    in_page = await page_violations(page)
    assert not in_page and not recorder.reports, (
        f"CSP violations: in the page {in_page}, reported {recorder.reports}")


async def assert_violations_are_caught(page: Any, recorder: ReportRecorder,
                                       timeout: float = 10.0) -> None:
    """The control: a violation in the page and one in the Python worker both arrive.

    The page sets an inline style attribute (style-src); the worker fetches from an
    origin connect-src does not list. Without this, "no violation" could mean "no policy"
    or "no reports".
    """
    blocked = "http://127.0.0.1:9/csp-control"
    await page.evaluate("() => document.createElement('div').setAttribute('style', 'color: red')")
    (worker,) = [w for w in page.workers if w.url.endswith("/worker.js")]
    await worker.evaluate("url => fetch(url).catch(() => null)", blocked)
    deadline = time.monotonic() + timeout
    while True:
        reported = {(r["csp-report"]["effective-directive"], r["csp-report"]["document-uri"])
                    for r in recorder.reports}
        if any(d == "style-src-attr" for d, _ in reported) and (
                ("connect-src", worker.url) in reported):
            break
        assert time.monotonic() < deadline, f"the control violations did not arrive: {reported}"
        await asyncio.sleep(0.1)
    assert [v["directive"] for v in await page_violations(page)] == ["style-src-attr"]


async def show_study(app: Any, study: Any) -> dict[str, str]:
    """Open a test study (its manifest entry) in the viewer until the first series' first
    image is on the canvas; returns the canvas's data attributes."""
    await app.open_study(study.study_uid)
    canvas = (f".viewport:not(.failed) canvas[data-series-uid='{study.series[0].series_uid}']"
              "[data-image-index='0']")
    await app.page.wait_for_selector(canvas, state="attached", timeout=60_000)
    return dict(await app.page.eval_on_selector(canvas, "c => ({...c.dataset})"))
