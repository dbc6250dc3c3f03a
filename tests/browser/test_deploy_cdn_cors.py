"""deploy/cdn-cors in a real nginx: the viewer on one origin, Orthanc's DICOMweb on another.

Port A serves the dist as a static host (static-host.conf, a CDN's stand-in) with the
data source pointing at port B (the config edited in place, as a deployer does); port B
is Orthanc behind dicomweb-cors.conf. httpx checks what the browser needs of B: the
preflight (a request with Authorization, or with a quoted Accept as for frames) answered
for the app's origin only, and the CORS headers on every answer, errors included. Then
Chromium runs the viewer from A under the recipe's CSP (connect-src names B): the study
list and a study's images come from B, and nothing violates the policy.
"""

from __future__ import annotations

import json
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
    directives,
    policy_in,
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

from ohifpy.config import DicomWebSource

from .conftest import App, cpython_render

pytestmark = pytest.mark.cpython_only  # nginx, a browser, subprocess builds

RECIPE = (DEPLOY / "cdn-cors" / "static-host.conf", DEPLOY / "cdn-cors" / "dicomweb-cors.conf",
          SNIPPETS / "ohifpy-app.conf", SNIPPETS / "dicomweb-proxy.conf")
OTHER_ORIGIN = "http://127.0.0.1:1"
FRAMES_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


@dataclass(frozen=True)
class Cdn:
    """The two origins: the app's (A) and the DICOMweb server's (B)."""

    nginx: Nginx
    app: str
    dicomweb: str

    @property
    def url(self) -> str:  # what App navigates from
        return self.app + "/"

    @property
    def root(self) -> str:
        return self.dicomweb + "/dicom-web"

    def preflight(self, path: str, origin: str, method: str = "GET",
                  headers: str = "authorization,accept") -> httpx.Response:
        return httpx.options(self.root + path, timeout=30, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})


@pytest.fixture(scope="module")
def cdn(orthanc_dist: Path, orthanc: LoadedOrthanc, reports: ReportRecorder,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdn]:
    folder = tmp_path_factory.mktemp("deploy-cdn")
    a, b = free_port(), free_port()
    app, dicomweb = f"http://127.0.0.1:{a}", f"http://127.0.0.1:{b}"
    config = json.loads((ROOT / "config" / "local-orthanc.json").read_text())
    for source in config["dataSources"]:
        source["configuration"].update(qidoRoot=f"{dicomweb}/dicom-web",
                                       wadoRoot=f"{dicomweb}/dicom-web",
                                       stowRoot=f"{dicomweb}/dicom-web",
                                       friendlyName="Orthanc on another origin")
    values = {
        "listen": f"127.0.0.1:{a}", "server_name": "127.0.0.1",
        "web_root": str(with_config(orthanc_dist, config, folder / "www")), "base_path": "/",
        "csp_connect_src": dicomweb, "csp_frame_src": "", "csp_report_uri": reports.url,
        "dicomweb_listen": f"127.0.0.1:{b}", "dicomweb_server_name": "127.0.0.1",
        "app_origin": app, "dicomweb_upstream": orthanc.base_url,
    }
    site = Cdn(run_recipe(folder / "nginx", RECIPE, values, [a, b]), app, dicomweb)
    yield site
    site.nginx.stop()


def _names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",")}


def test_preflight_is_answered_for_the_app_only(cdn: Cdn) -> None:
    for method, headers in (("GET", "authorization,accept"),
                            ("POST", "authorization,content-type")):
        response = cdn.preflight("/studies", cdn.app, method, headers)
        assert response.status_code == 204, method
        assert response.headers["access-control-allow-origin"] == cdn.app
        assert _names(response.headers["access-control-allow-methods"]) == {"get", "post",
                                                                             "options"}
        assert _names(response.headers["access-control-allow-headers"]) >= {
            "authorization", "accept", "content-type"}
        assert response.headers["access-control-max-age"] == "7200"
        assert "Origin" in response.headers["vary"]
    refused = cdn.preflight("/studies", OTHER_ORIGIN)
    assert refused.status_code == 204
    assert "access-control-allow-origin" not in refused.headers


def test_answers_carry_cors_headers_errors_included(cdn: Cdn, orthanc: LoadedOrthanc) -> None:
    answer = httpx.get(cdn.root + "/studies", headers={"Origin": cdn.app}, timeout=60)
    assert answer.status_code == 200 and len(answer.json()) >= len(orthanc.manifest.studies)
    assert answer.headers["access-control-allow-origin"] == cdn.app
    assert _names(answer.headers["access-control-expose-headers"]) >= {"retry-after",
                                                                       "www-authenticate"}
    assert "Origin" in answer.headers.get_list("vary", split_commas=True)
    missing = httpx.get(cdn.root + "/studies/1.2.3/metadata", headers={"Origin": cdn.app},
                        timeout=30)
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == cdn.app
    for headers in ({"Origin": OTHER_ORIGIN}, {}):
        assert "access-control-allow-origin" not in httpx.get(
            cdn.root + "/studies", headers=headers, timeout=60).headers


def test_only_dicomweb_is_on_the_dicomweb_origin(cdn: Cdn, orthanc: LoadedOrthanc) -> None:
    for path in ("/system", "/instances", "/app/explorer.html", "/"):
        assert httpx.get(cdn.dicomweb + path, timeout=30).status_code == 404, path
    study = orthanc.manifest.study("mr")  # native pixels: Orthanc gives them a BulkDataURI
    metadata = httpx.get(f"{cdn.root}/studies/{study.study_uid}/metadata", timeout=60).json()
    urls = dicomweb_urls(metadata)
    assert urls and all(url.startswith(cdn.root + "/") for url in urls)


def test_static_host_lets_the_page_reach_the_dicomweb_origin(cdn: Cdn) -> None:
    page = httpx.get(cdn.url, timeout=30)
    assert directives(page.headers["content-security-policy"])["connect-src"] == [
        "'self'", cdn.dicomweb]
    assert page.headers["content-security-policy"] == policy_in(
        (cdn.nginx.prefix / "snippets" / "ohifpy-app.conf").read_text())
    assert "access-control-allow-origin" not in page.headers  # the app needs no CORS itself


async def test_viewer_on_the_static_host_shows_images_from_the_other_origin(
        new_context: Any, cdn: Cdn, reports: ReportRecorder, orthanc: LoadedOrthanc,
        dicomweb_source: DicomWebSource) -> None:
    recorded = await new_context()
    await recorded.context.add_init_script(LISTENER)
    app = App(await recorded.context.new_page(), cdn)
    await app.page.goto(cdn.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    study = orthanc.manifest.study("ct-jpeg-ls")  # frames: a quoted Accept, so preflighted
    shown = await show_study(app, study)
    expected = await cpython_render(dicomweb_source, study.study_uid, sop=shown["sopInstanceUid"])
    assert np.array_equal(await app.pixels(), expected)
    dicomweb = [url for url in recorded.requests if "/dicom-web/" in url]
    assert dicomweb and all(url.startswith(cdn.root + "/") for url in dicomweb)
    # Chromium asked B's leave before the frames: the preflight path was used for real.
    assert '"OPTIONS /dicom-web/' in (cdn.nginx.prefix / "access.log").read_text()
    await assert_no_violations(app.page, reports)
    await assert_violations_are_caught(app.page, reports)
