"""Sign-in in Chromium against a real OpenID provider and a token-checking gate in front of
Orthanc (``support.oidc``): the provider's login form, renewal mid-scroll, a 401 mended
by renewal, a revoked session mended by signing in again with the viewer kept, sign-out
across tabs, no token for other origins, a subpath build, and ``?token=``.

The sites are copies of the session's builds (root and subpath) with their config
rewritten to the gate and the provider: the config is read at run time, so no new build.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LoadedOrthanc
from support.dicomjson import write_dicomjson
from support.oidc import (
    NO_REFRESH_CLIENT,
    PASSWORD,
    PUBLIC_CLIENT,
    SCOPE,
    USER,
    USER_NAME,
    Gate,
    Lifetimes,
    Provider,
    protected_archive,
)
from support.static_trees import serve_directory

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb.bearer import origin_of

from .conftest import (
    SUBPATH,
    App,
    RecordedContext,
    ServedSite,
    _close_context,
    _open_context,
    cpython_display_sets,
    cpython_render,
)
from .test_measurements_ui import choose, drag, rows, screen

# Short-lived access tokens, renewed 10 s before they expire: renewals happen within a test.
# (oidc-client-ts checks its expiry timers every 5 s: renewal comes up to 5 s after its time.)
ACCESS_TOKEN_SECONDS = 20
RENEW_BEFORE_SECONDS = 10


@dataclass
class Protected:
    """The sites, the provider and the gate of this module."""

    root: ServedSite
    subpath: ServedSite
    no_refresh: ServedSite
    token_site: ServedSite
    provider: Provider
    gate: Gate


def _config(gate: Gate, oidc: dict[str, Any] | None, **top: Any) -> dict[str, Any]:
    source = {"sourceName": "protected", "configuration": {
        "name": "protected", "friendlyName": "Orthanc behind the token gate",
        "qidoRoot": gate.dicomweb_root, "wadoRoot": gate.dicomweb_root,
        "qidoSupportsIncludeField": True, "supportsFuzzyMatching": False,
        "supportsWildcard": True, "requestTransferSyntaxUID": "*"}}
    # A small frame cache: images scrolled past are asked for again, with the token of then.
    config = {"dataSources": [source], "defaultDataSourceName": "protected",
              "cacheSizeMB": 16, **top}
    if oidc:
        config["oidc"] = [oidc]
    return config


def _site(dist: Path, copy: Path, base_path: str = "/") -> ServedSite:
    shutil.copytree(dist, copy, symlinks=True)
    return ServedSite(copy, base_path=base_path).start()


@pytest.fixture(scope="module")
def protected(orthanc_dist: Path, demo_dist: Path, orthanc: LoadedOrthanc,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Protected]:
    work = tmp_path_factory.mktemp("oidc")
    root = _site(orthanc_dist, work / "root")
    subpath = _site(demo_dist, work / "subpath", SUBPATH)
    no_refresh = _site(orthanc_dist, work / "no-refresh")
    token_site = _site(orthanc_dist, work / "token")
    sites = (root, subpath, no_refresh)
    redirects = [site.url + page for site in sites for page in ("callback", "silent-refresh.html")]
    try:
        with protected_archive(work / "idp", orthanc.dicomweb_root, redirect_uris=redirects,
                               post_logout_redirect_uris=[site.url for site in sites],
                               allowed_origins=[origin_of(s.url)
                                                for s in (*sites, token_site)],
                               lifetimes=Lifetimes(access_token=ACCESS_TOKEN_SECONDS)
                               ) as (provider, gate):
            oidc = {"authority": provider.issuer, "client_id": PUBLIC_CLIENT, "scope": SCOPE,
                    "accessTokenExpiringNotificationTimeInSeconds": RENEW_BEFORE_SECONDS}
            for site in sites:
                client = NO_REFRESH_CLIENT if site is no_refresh else PUBLIC_CLIENT
                (site.dist / "config" / "app-config.json").write_text(
                    json.dumps(_config(gate, {**oidc, "client_id": client})))
            (token_site.dist / "config" / "app-config.json").write_text(
                json.dumps(_config(gate, None, allowTokenInUrl=True)))
            yield Protected(root, subpath, no_refresh, token_site, provider, gate)
    finally:
        for site in (*sites, token_site):
            site.stop()


# ---------------------------------------------------------------- driving the sign-in


@dataclass
class Traffic:
    """What the gate was asked and answered, as the browser saw it."""

    gate: str
    statuses: list[tuple[str, int]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def listen(self, context: Any) -> None:
        def request(req: Any) -> None:
            if req.url.startswith(self.gate) and req.method != "OPTIONS":
                self.tokens.append(req.headers.get("authorization", ""))

        def response(res: Any) -> None:
            if res.url.startswith(self.gate) and res.request.method != "OPTIONS":
                self.statuses.append((res.url, res.status))

        context.on("request", request)
        context.on("response", response)

    def refused(self) -> list[str]:
        return [url for url, status in self.statuses if status == 401]


async def fill_login_form(page: Any) -> None:
    await page.wait_for_selector("input[name='login']", timeout=60_000)
    await page.fill("input[name='login']", USER)
    await page.fill("input[name='password']", PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def stored_user(page: Any, provider: Provider, client: str = PUBLIC_CLIENT
                      ) -> dict[str, Any]:
    """The user oidc-client-ts keeps in this tab's sessionStorage."""
    key = f"oidc.user:{provider.issuer}:{client}"
    return json.loads(await page.evaluate("k => sessionStorage.getItem(k)", key) or "null") or {}


@dataclass
class SignedIn:
    app: App
    recorded: RecordedContext
    traffic: Traffic


async def sign_in_at(browser: Any, site: ServedSite, gate: Gate, relative: str) -> SignedIn:
    """A fresh context opens ``relative``, signs in on the provider's form, and is back."""
    recorded = await _open_context(browser)
    traffic = Traffic(gate.url)
    traffic.listen(recorded.context)
    page = await recorded.context.new_page()
    app = App(page, site)
    await page.goto(site.url + relative)
    await fill_login_form(page)
    await page.wait_for_url(site.url + relative, timeout=60_000)
    await app.wait_for_mark("ohifpy:runtime-ready")
    return SignedIn(app, recorded, traffic)


@pytest.fixture(scope="module")
async def signed_in(browser: Any, protected: Protected, orthanc: LoadedOrthanc
                    ) -> AsyncIterator[SignedIn]:
    """One signed-in viewer on the CT, shared by the tests that go on from there in order."""
    ct = orthanc.manifest.study("ct").study_uid
    session = await sign_in_at(browser, protected.root, protected.gate,
                               f"viewer/?StudyInstanceUIDs={ct}")
    yield session
    await _close_context(session.recorded)


async def no_notice(app: App) -> None:
    assert not await app.page.locator(".auth-notice:not([hidden])").count()
    assert not await app.page.locator(".viewport.failed").count()


# ---------------------------------------------------------------- tests, in order


async def test_sign_in_comes_back_to_the_same_viewer_url_with_the_image(
        signed_in: SignedIn, protected: Protected, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    app = signed_in.app
    ct = orthanc.manifest.study("ct")
    assert app.page.url == protected.root.url + f"viewer/?StudyInstanceUIDs={ct.study_uid}"
    (stack,) = await cpython_display_sets(dicomweb_source, ct.study_uid)
    sop = stack.images[0].instance.sop_instance_uid
    await app.wait_for_image(0, sop)
    await app.settle()
    expected = await cpython_render(dicomweb_source, ct.study_uid, sop=sop)
    assert np.array_equal(await app.pixels(), expected)
    assert await app.page.locator(".user-menu .user-name").text_content() == USER_NAME
    # Every request reached the gate with the token, the start-up metadata request included.
    metadata = [url for url, _ in signed_in.traffic.statuses if url.endswith("/metadata")]
    assert metadata and all(signed_in.traffic.tokens) and not signed_in.traffic.refused()
    # The service worker keeps the app shell only: nothing of the provider or the gate.
    cached = await app.page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys())
            for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
        return urls;
    }""")
    assert all(url.startswith(protected.root.url) for url in cached), cached[:5]


async def test_the_token_is_renewed_mid_scroll_without_a_missing_frame(
        signed_in: SignedIn, protected: Protected, orthanc: LoadedOrthanc) -> None:
    app, traffic = signed_in.app, signed_in.traffic
    ct, mr = orthanc.manifest.study("ct"), orthanc.manifest.study("mr")
    first = (await stored_user(app.page, protected.provider))["access_token"]
    await app.page.focus(".viewport")
    # Down and up the stack until the token was renewed and used a while; every image shows.
    position, step = 0, 1
    deadline = time.monotonic() + ACCESS_TOKEN_SECONDS * 2
    while time.monotonic() < deadline:
        if time.monotonic() + 3 < deadline and (
                await stored_user(app.page, protected.provider))["access_token"] != first:
            deadline = time.monotonic() + 3
        if not 0 <= position + step < ct.num_instances:
            step = -step
        await app.page.keyboard.press("ArrowDown" if step > 0 else "ArrowUp")
        position += step
        await app.wait_for_image(position)
        await app.page.wait_for_timeout(40)
    await app.open_study(mr.study_uid)  # images asked for after the renewals
    await app.wait_for_image(0)
    assert (await stored_user(app.page, protected.provider))["access_token"] != first
    assert len(set(traffic.tokens)) >= 2 and all(traffic.tokens)
    assert not traffic.refused(), protected.gate.server.log()
    await no_notice(app)


async def test_a_401_is_mended_by_one_renewal_and_a_retry(
        signed_in: SignedIn, protected: Protected, orthanc: LoadedOrthanc) -> None:
    app, traffic = signed_in.app, signed_in.traffic
    # The worker holds a token that expired (a laptop woke up after the renewal was due).
    expired = protected.provider.mint_token({"exp": int(time.time()) - 30})
    await app.page.evaluate("t => self.ohifpyWorker.postMessage({accessToken: t})", expired)
    refused = len(traffic.refused())
    xss = orthanc.manifest.study("xss")
    await app.open_study(xss.study_uid)
    await app.wait_for_image(0)
    assert len(traffic.refused()) > refused  # the expired token was refused, then mended
    assert traffic.tokens[-1] != f"Bearer {expired}"
    await no_notice(app)


async def test_a_revoked_session_asks_to_sign_in_again_and_keeps_the_measurements(
        signed_in: SignedIn, protected: Protected, orthanc: LoadedOrthanc) -> None:
    app = signed_in.app
    ct = orthanc.manifest.study("ct")
    await app.open_study(ct.study_uid)
    await app.wait_for_image(0)
    await app.settle()
    at = (await screen(app)).at
    await choose(app, "Length")
    await drag(app, at(200, 300), at(300, 300))
    await rows(app, 1)
    measured = await app.page.text_content(".measurement-row")

    # The grant is revoked at the provider: the token is refused and cannot be refreshed.
    user = await stored_user(app.page, protected.provider)
    protected.provider.revoke(user["refresh_token"])
    await app.page.wait_for_timeout(1100)  # the gate's introspection cache
    # Images the small frame cache no longer holds are asked for again.
    await app.page.focus(".viewport")
    far = ct.num_instances - 1
    for _ in range(far):
        await app.page.keyboard.press("ArrowDown")
    notice = app.page.locator(".auth-notice:not([hidden])")
    await notice.wait_for(timeout=30_000)
    assert "sign in again" in (await notice.text_content()).lower()

    async with app.page.context.expect_page() as opened:
        await notice.get_by_role("button", name="Sign in").click()
    popup = await opened.value
    # The provider session outlived the grant: the popup signs in without its form, and
    # closes itself once it has handed the answer to the viewer (it may be gone already).
    for _ in range(300):
        if popup.is_closed():
            break
        await asyncio.sleep(0.1)
    assert popup.is_closed()
    await app.wait_for_image(far)
    await app.page.wait_for_selector(".auth-notice[hidden]", state="attached")
    await rows(app, 1)
    assert await app.page.text_content(".measurement-row") == measured
    assert (await stored_user(app.page, protected.provider))["access_token"] != user["access_token"]
    await no_notice(app)


async def test_a_bulkdata_uri_on_another_origin_gets_no_token(
        signed_in: SignedIn, tmp_path: Path, testdata: Any) -> None:
    app = signed_in.app
    seen: list[tuple[str, dict[str, str]]] = []

    class Recording(SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            self.send_header("Access-Control-Allow-Origin", "*")
            super().end_headers()

    (tmp_path / "data").symlink_to(testdata.root, target_is_directory=True)
    mr = testdata.study("mr")
    with serve_directory(tmp_path, handler=Recording) as url:
        write_dicomjson(tmp_path / "mr.json", [testdata.root / i.path for i in mr.instances],
                        testdata.root, url + "data/")
        await app.navigate(f"viewer/dicomjson?url={url}mr.json")
        await app.wait_for_image(0)
    assert any(path.startswith("/data/") for path, _ in seen)
    assert not [path for path, headers in seen if "authorization" in headers]


async def test_sign_out_reaches_the_other_tab(browser: Any, protected: Protected,
                                              orthanc: LoadedOrthanc) -> None:
    site, provider = protected.root, protected.provider
    first = await sign_in_at(browser, site, protected.gate, "")
    try:
        # A second tab with study-list filters signs in on the provider's session: no form,
        # and back on the exact URL.
        filters = "?patientName=Syntax&modalities=CT&sortBy=patientName&sortDirection=descending"
        second = App(await first.recorded.context.new_page(), site)
        await second.page.goto(site.url + filters)
        await second.page.wait_for_url(site.url + filters, timeout=60_000)
        await second.wait_for_mark("ohifpy:runtime-ready")
        await second.page.wait_for_selector(".user-menu:not([hidden])")
        assert await second.page.input_value("input[name=patientName]") == "Syntax"
        token = (await stored_user(second.page, provider))["access_token"]
        await second.page.wait_for_function(
            "() => JSON.parse(localStorage.getItem('ohifpy:preferences') ?? '{}')"
            ".values?.lastQuery")

        await first.app.page.click(".sign-out")
        # Signed out at the provider, back on the site, which asks to sign in again.
        await first.app.page.wait_for_selector("input[name='login']", timeout=60_000)
        notice = second.page.locator(".auth-notice:not([hidden])")
        await notice.wait_for(timeout=30_000)
        assert "signed out in another tab" in (await notice.text_content()).lower()
        assert await second.page.locator(".user-menu").is_hidden()
        assert provider.introspect(token).get("active") is False
        remembered = await second.page.evaluate(
            "() => JSON.parse(localStorage.getItem('ohifpy:preferences') ?? '{}').values")
        assert "lastQuery" not in (remembered or {})
    finally:
        await _close_context(first.recorded)


async def test_sign_in_on_a_subpath_build(browser: Any, protected: Protected,
                                          orthanc: LoadedOrthanc) -> None:
    ct = orthanc.manifest.study("ct").study_uid
    session = await sign_in_at(browser, protected.subpath, protected.gate,
                               f"viewer/?StudyInstanceUIDs={ct}")
    try:
        await session.app.wait_for_image(0)
        assert session.app.page.url.startswith(protected.subpath.url + "viewer/?")
        assert not session.traffic.refused()
    finally:
        await _close_context(session.recorded)


async def test_without_a_refresh_token_the_page_renews_in_a_hidden_frame(
        browser: Any, protected: Protected, orthanc: LoadedOrthanc) -> None:
    ct, mr = orthanc.manifest.study("ct").study_uid, orthanc.manifest.study("mr").study_uid
    session = await sign_in_at(browser, protected.no_refresh, protected.gate,
                               f"viewer/?StudyInstanceUIDs={ct}")
    page = session.app.page
    try:
        first = await stored_user(page, protected.provider, NO_REFRESH_CLIENT)
        assert first["access_token"] and not first.get("refresh_token")
        # Renewed before it expires, through silent-refresh.html in an iframe (prompt=none).
        await page.wait_for_function(
            "([key, old]) => JSON.parse(sessionStorage.getItem(key) ?? '{}').access_token !== old",
            arg=[f"oidc.user:{protected.provider.issuer}:{NO_REFRESH_CLIENT}",
                 first["access_token"]], timeout=ACCESS_TOKEN_SECONDS * 1000)
        await session.app.open_study(mr)
        await session.app.wait_for_image(0)
        assert not session.traffic.refused() and len(set(session.traffic.tokens)) >= 2
    finally:
        await _close_context(session.recorded)


async def test_a_token_in_the_link_is_used_only_where_the_config_allows_it(
        browser: Any, protected: Protected, orthanc: LoadedOrthanc) -> None:
    tokens = protected.provider.login_with_password(redirect_uri=protected.root.url + "callback")
    ct = orthanc.manifest.study("ct").study_uid
    site = protected.token_site
    link = site.url + f"viewer/?StudyInstanceUIDs={ct}&token={tokens['access_token']}"
    config = site.dist / "config" / "app-config.json"
    recorded = await _open_context(browser)
    try:
        app = App(await recorded.context.new_page(), site)
        await app.page.goto(link)
        await app.wait_for_image(0)
        assert app.page.url == site.url + f"viewer/?StudyInstanceUIDs={ct}"

        # A site that does not allow it ignores the token (and still takes it out of sight).
        allowed = json.loads(config.read_text())
        config.write_text(json.dumps({**allowed, "allowTokenInUrl": False}))
        other = App(await recorded.context.new_page(), site)
        await other.page.goto(link)
        error = other.page.locator(".viewer .note.error")
        await error.wait_for(timeout=60_000)
        assert "401" in await error.text_content()
        assert "token=" not in other.page.url
    finally:
        config.write_text(json.dumps(allowed))
        await _close_context(recorded)
