"""Browser benchmark: the viewer signed in to a token-checking archive (OpenID Connect).

The provider (oidc-provider) and the gate (a jose token check plus introspection in front
of Orthanc) are the tests' (``tests/support/oidc``). Prints:

- time from opening a viewer link to its first image on the canvas, in a new tab whose
  provider session is warm (signed in before: the provider answers without its form),
  beside the same link on an open site (no sign-in, same server behind ``ohifpy serve``);
- stack-scroll images/s through the 200-slice CT with a 16 MiB frame cache (so the scroll
  downloads its images) without a renewal, and with one inside it (the worker's token is
  replaced by an expired one as the scroll starts: a 401, one renewal with the refresh
  token, the retry), and on the open site (the gate's own cost).

Nothing is asserted. Run: ``.venv/bin/python benchmarks/bench_oidc.py`` (or ``make bench``).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

import make_test_data
from bench_browser import SCROLL, build_dist, chromium, serve_in_thread
from orthanc import start_orthanc
from playwright.sync_api import Page
from support.oidc import PASSWORD, PUBLIC_CLIENT, SCOPE, USER, Lifetimes, protected_archive

REPEAT = 3


def site_config(root: str, oidc: dict | None) -> dict:
    source = {"sourceName": "orthanc", "configuration": {
        "name": "orthanc", "qidoRoot": root, "wadoRoot": root, "qidoSupportsIncludeField": True,
        "supportsFuzzyMatching": False, "requestTransferSyntaxUID": "*"}}
    config = {"dataSources": [source], "cacheSizeMB": 16}
    if oidc:
        config["oidc"] = [oidc]
    return config


def first_image_seconds(page: Page, url: str) -> float:
    """Wall clock from the link to image 0 on the canvas (redirects to the provider included)."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached",
                           timeout=180_000)
    return time.perf_counter() - started


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    page.fill("input[name='login']", USER)
    page.fill("input[name='password']", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached",
                           timeout=180_000)


def scroll_rate(page: Page, expired_token: str | None) -> float:
    page.reload()
    page.wait_for_selector(".viewport canvas[data-image-index='0']", state="attached",
                           timeout=180_000)
    page.wait_for_timeout(500)
    if expired_token:
        page.evaluate("t => self.ohifpyWorker.postMessage({accessToken: t})", expired_token)
    return page.evaluate(SCROLL, 200)


def bench(browser, protected_url: str, open_url: str, study: str, expired: str) -> None:
    link = f"viewer/?StudyInstanceUIDs={study}"
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    sign_in(page, protected_url + link)  # the provider session every later tab reuses
    warm = []
    for _ in range(REPEAT):
        tab = context.new_page()
        warm.append(first_image_seconds(tab, protected_url + link))
        tab.close()
    plain_context = browser.new_context(viewport={"width": 1200, "height": 800})
    plain_page = plain_context.new_page()
    first_image_seconds(plain_page, open_url + link)  # the same warm-up: HTTP cache, service worker
    plain = []
    for _ in range(REPEAT):
        tab = plain_context.new_page()
        plain.append(first_image_seconds(tab, open_url + link))
        tab.close()
    print(f"first image, new tab, warm provider session: {statistics.median(warm) * 1000:.0f} ms"
          f" (runs {', '.join(f'{s * 1000:.0f}' for s in warm)})")
    print(f"first image, new tab, open site (no sign-in): {statistics.median(plain) * 1000:.0f} ms"
          f" (runs {', '.join(f'{s * 1000:.0f}' for s in plain)})")
    direct = [scroll_rate(plain_page, None) for _ in range(REPEAT)]
    without = [scroll_rate(page, None) for _ in range(REPEAT)]
    renewed = [scroll_rate(page, expired) for _ in range(REPEAT)]
    print(f"scroll, 200 images downloaded on the way: {statistics.median(without):.0f} images/s "
          f"without a renewal, {statistics.median(renewed):.0f} images/s with a 401 and a "
          f"renewal inside; {statistics.median(direct):.0f} images/s on the open site")
    context.close()
    plain_context.close()


def main() -> int:
    manifest = make_test_data.ensure()
    ct = manifest.study("ct")
    with tempfile.TemporaryDirectory() as work:
        dist = build_dist(work)
        open_dist = Path(work) / "open"
        shutil.copytree(dist, open_dist)
        server = start_orthanc(Path(work) / "orthanc")
        try:
            server.upload([manifest.root / i.path for i in ct.instances])
            protected_url = serve_in_thread(dist, {})
            open_url = serve_in_thread(open_dist, {"/dicom-web": server.dicomweb_root})
            (open_dist / "config" / "app-config.json").write_text(
                json.dumps(site_config("/dicom-web", None)))
            redirects = [protected_url + "callback", protected_url + "silent-refresh.html"]
            with protected_archive(Path(work) / "idp", server.dicomweb_root,
                                   redirect_uris=redirects, lifetimes=Lifetimes()) as (idp, gate):
                (dist / "config" / "app-config.json").write_text(json.dumps(site_config(
                    gate.dicomweb_root,
                    {"authority": idp.issuer, "client_id": PUBLIC_CLIENT, "scope": SCOPE})))
                expired = idp.mint_token({"exp": int(time.time()) - 60})
                with chromium() as browser:
                    bench(browser, protected_url, open_url, ct.study_uid, expired)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
