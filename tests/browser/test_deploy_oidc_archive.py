"""deploy/oidc-archive in a real nginx: Orthanc's DICOMweb behind auth_request, with the
tests' OpenID provider and token validator (tests/support/oidc) as the admin's, and the
viewer on a static host of its own (deploy/cdn-cors/static-host.conf).

What the recipe adds to the validator (whose own checks tests/test_oidc_gate.py covers):
a signed-in token reaches Orthanc through nginx and Orthanc's URLs lead back through
nginx; no token or a bad one gets the validator's 401 and its WWW-Authenticate, readable
by the viewer's origin; a revoked token is refused as soon as the validator says so
(nginx keeps no answer); preflights need no token; the validator down shuts the archive;
nothing of Orthanc but DICOMweb is reachable. Then Chromium signs in on the provider's
form (the code exchanged for tokens from the page: connect-src) and uses the archive
under the CSP, through a silent renewal in an iframe (frame-src), with no violation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import ROOT, LoadedOrthanc
from support.csp import (
    LISTENER,
    ReportRecorder,
    assert_no_violations,
    assert_violations_are_caught,
    show_study,
)
from support.nginx import (
    DEPLOY,
    SNIPPETS,
    Nginx,
    dicomweb_urls,
    free_port,
    run_recipe,
    with_config,
)
from support.oidc import (
    NO_REFRESH_CLIENT,
    PASSWORD,
    SCOPE,
    USER,
    Lifetimes,
    Provider,
    start_gate,
    start_provider,
)

from ohifpy.config import DicomWebSource

from .conftest import App, cpython_render

pytestmark = pytest.mark.cpython_only  # nginx, Node servers, a browser

ARCHIVE = (DEPLOY / "oidc-archive" / "oidc-archive.conf", SNIPPETS / "dicomweb-proxy.conf")
STATIC_HOST = (DEPLOY / "cdn-cors" / "static-host.conf", SNIPPETS / "ohifpy-app.conf")
ACCESS_TOKEN_SECONDS = 10
RENEW_BEFORE_SECONDS = 6  # the page renews 4 s after signing in


@dataclass(frozen=True)
class Archive:
    """The protected archive and the viewer's static host, in one nginx."""

    nginx: Nginx
    root: str  # the protected DICOMweb root, the tokens' audience
    app: str  # the viewer's origin
    provider: Provider

    @property
    def url(self) -> str:  # what App navigates from
        return self.app + "/"

    def studies(self, token: str | None = None, query: str = "", **headers: str
                ) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(f"{self.root}/studies?{query}", headers=headers, timeout=60)


def archive_values(port: int, app: str, validator: str, orthanc: LoadedOrthanc
                   ) -> dict[str, str]:
    return {"archive_listen": f"127.0.0.1:{port}", "archive_server_name": "127.0.0.1",
            "app_origin": app, "token_validator": validator,
            "dicomweb_upstream": orthanc.base_url}


def viewer_config(root: str, provider: Provider) -> dict[str, Any]:
    """The Orthanc config with its source at the archive and sign-in at the provider; the
    client has no refresh grant, so renewing takes the silent iframe (frame-src)."""
    config = json.loads((ROOT / "config" / "local-orthanc.json").read_text())
    for source in config["dataSources"]:
        source["configuration"].update(qidoRoot=root, wadoRoot=root, stowRoot=root,
                                       friendlyName="Orthanc behind the OIDC archive")
    config["oidc"] = [{"authority": provider.issuer, "client_id": NO_REFRESH_CLIENT,
                       "scope": SCOPE,
                       "accessTokenExpiringNotificationTimeInSeconds": RENEW_BEFORE_SECONDS}]
    return config


@pytest.fixture(scope="module")
def archive(orthanc_dist: Path, orthanc: LoadedOrthanc, reports: ReportRecorder,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    folder = tmp_path_factory.mktemp("deploy-oidc")
    port, app_port = free_port(), free_port()
    root, app = f"http://127.0.0.1:{port}/dicom-web", f"http://127.0.0.1:{app_port}"
    with (start_provider(folder / "oidc", audience=root,
                         redirect_uris=[f"{app}/callback", f"{app}/silent-refresh.html"],
                         post_logout_redirect_uris=[f"{app}/"],
                         lifetimes=Lifetimes(access_token=ACCESS_TOKEN_SECONDS)) as provider,
          start_gate(folder / "oidc", provider, orthanc.dicomweb_root) as gate):
        values = {
            **archive_values(port, app, f"{gate.url}/auth", orthanc),
            "listen": f"127.0.0.1:{app_port}", "server_name": "127.0.0.1", "base_path": "/",
            "web_root": str(with_config(orthanc_dist, viewer_config(root, provider),
                                        folder / "www")),
            "csp_connect_src": f"http://127.0.0.1:{port} {provider.issuer}",
            "csp_frame_src": provider.issuer, "csp_report_uri": reports.url,
        }
        nginx = run_recipe(folder / "nginx", ARCHIVE + STATIC_HOST, values, [port, app_port])
        try:
            yield Archive(nginx, root, app, provider)
        finally:
            nginx.stop()


def test_signed_in_token_reaches_orthanc(archive: Archive, orthanc: LoadedOrthanc) -> None:
    token = archive.provider.login_with_password()["access_token"]
    answer = archive.studies(token, Origin=archive.app)
    assert answer.status_code == 200, answer.text
    direct = httpx.get(f"{orthanc.dicomweb_root}/studies", timeout=60).json()
    assert len(answer.json()) == len(direct)
    assert answer.headers["access-control-allow-origin"] == archive.app
    study = orthanc.manifest.study("mr")
    metadata = httpx.get(f"{archive.root}/studies/{study.study_uid}/metadata", timeout=60,
                         headers={"Authorization": f"Bearer {token}"})
    urls = dicomweb_urls(metadata.json())
    assert urls and all(url.startswith(f"{archive.root}/studies/") for url in urls)


def test_missing_or_bad_token_gets_the_validators_401(archive: Archive) -> None:
    bare = archive.studies(Origin=archive.app)
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="dicomweb"'
    assert bare.headers["access-control-allow-origin"] == archive.app  # the viewer can read it
    forged = archive.studies(archive.provider.mint_token(key="attacker"), Origin=archive.app)
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith(
        'Bearer realm="dicomweb", error="invalid_token"')
    assert "WWW-Authenticate" in forged.headers["access-control-expose-headers"]


def test_revoked_token_is_refused_as_soon_as_the_validator_knows(archive: Archive) -> None:
    tokens = archive.provider.login_with_password()
    assert archive.studies(tokens["access_token"]).status_code == 200
    archive.provider.revoke(tokens["access_token"], hint="access_token")
    deadline = time.monotonic() + 3  # the validator trusts an answer for 1 s
    while (status := archive.studies(tokens["access_token"]).status_code) == 200:
        assert time.monotonic() < deadline, "a revoked token still reads the archive"
        time.sleep(0.1)
    assert status == 401


def test_preflight_needs_no_token(archive: Archive) -> None:
    answer = httpx.options(f"{archive.root}/studies", timeout=30, headers={
        "Origin": archive.app, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization,accept"})
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == archive.app
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()


def test_only_dicomweb_is_served(archive: Archive) -> None:
    origin = archive.root.removesuffix("/dicom-web")
    for path in ("/system", "/instances", "/app/explorer.html", "/_token_check"):
        assert httpx.get(origin + path, timeout=30).status_code == 404, path


def test_validator_down_shuts_the_archive(archive: Archive, orthanc: LoadedOrthanc,
                                          tmp_path: Path) -> None:
    """The recipe with a validator nobody answers at: a valid token gets a 500, not data."""
    token = archive.provider.login_with_password()["access_token"]
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}/auth"
    with run_recipe(tmp_path / "nginx", ARCHIVE,
                    archive_values(port, archive.app, dead, orthanc), [port]):
        answer = httpx.get(f"http://127.0.0.1:{port}/dicom-web/studies", timeout=30,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500


# ---------------------------------------------------------------- the viewer signed in


async def test_viewer_signs_in_and_renews_under_the_csp(
        new_context: Any, archive: Archive, reports: ReportRecorder, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    recorded = await new_context()
    await recorded.context.add_init_script(LISTENER)
    app = App(await recorded.context.new_page(), archive)
    await app.page.goto(archive.url)  # no user: off to the provider's sign-in form
    await app.page.wait_for_selector("input[name='login']", timeout=60_000)
    await app.page.fill("input[name='login']", USER)
    await app.page.fill("input[name='password']", PASSWORD)
    await app.page.get_by_role("button", name="Sign in").click()
    await app.page.wait_for_url(archive.url, timeout=60_000)
    signed_in = time.monotonic()
    await app.wait_for_mark("ohifpy:runtime-ready")
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    key = f"oidc.user:{archive.provider.issuer}:{NO_REFRESH_CLIENT}"
    first = json.loads(await app.page.evaluate("k => sessionStorage.getItem(k)", key))

    # After the renewal (an iframe to the provider and back to silent-refresh.html), the
    # images still come with the new token.
    await app.page.wait_for_function(
        "([k, token]) => JSON.parse(sessionStorage.getItem(k) ?? '{}').access_token !== token",
        arg=[key, first["access_token"]], timeout=ACCESS_TOKEN_SECONDS * 2000)
    assert time.monotonic() - signed_in < ACCESS_TOKEN_SECONDS
    study = orthanc.manifest.study("mr")
    shown = await show_study(app, study)
    expected = await cpython_render(dicomweb_source, study.study_uid, sop=shown["sopInstanceUid"])
    assert np.array_equal(await app.pixels(), expected)
    await assert_no_violations(app.page, reports)
    await assert_violations_are_caught(app.page, reports)
