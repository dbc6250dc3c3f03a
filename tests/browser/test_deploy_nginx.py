"""deploy/nginx in a real nginx, in front of the session's Orthanc, checked as an admin would.

Two deployments of the recipe: the Orthanc build at ``/`` (the browser tests' dist) and a
``--precompress`` build at the subpath ``/ohif/``. An admin's checks with httpx: pages and
the app's routes answer, every file revalidates, precompressed files go out as they are,
the security headers and the CSP are on every answer, ``/dicom-web`` reaches Orthanc and
its BulkDataURIs lead back through nginx. Then Chromium runs the viewer from the subpath
under exactly the recipe's CSP: the study list, a study in each WebAssembly codec, a
measurement captured as PNG, and the user's own files on ``/local``, with no violation in
the page nor at the policy's report endpoint.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import ROOT, LoadedOrthanc, build_static_site
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
    web_root,
)

from ohifpy.config import DicomWebSource

from .conftest import App, cpython_render

pytestmark = pytest.mark.cpython_only  # nginx, a browser, subprocess builds

RECIPE = (DEPLOY / "nginx" / "ohifpy.conf", SNIPPETS / "ohifpy-app.conf",
          SNIPPETS / "dicomweb-proxy.conf")
SUBPATH = "/ohif/"
ROUTES = ("", "viewer?StudyInstanceUIDs=1.2.3", "viewer/", "viewer/dicomjson?url=x", "local",
          "callback?code=c&state=s", "silent-refresh.html")
# One study per WebAssembly codec (the JPEG lossless one is an ES module): each is its own
# Emscripten module, so each must start under the policy.
CODEC_STUDIES = ("ct-j2k", "ct-jpeg-ls", "ct-htj2k", "ct-jpeg-baseline", "ct-jpeg-lossless")


@dataclass(frozen=True)
class Deployment:
    """The recipe running for one dist: where it answers and what it was rendered with."""

    nginx: Nginx
    origin: str
    base_path: str
    dist: Path

    @property
    def url(self) -> str:  # what App navigates from
        return self.origin + self.base_path

    @property
    def policy(self) -> str:
        return policy_in((self.nginx.prefix / "snippets" / "ohifpy-app.conf").read_text())


def get_raw(url: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """GET ``url`` and the body exactly as it came over the wire (not decompressed)."""
    with httpx.Client(timeout=30) as client, client.stream("GET", url, headers=headers) as r:
        return r, b"".join(r.iter_raw())


def deploy(folder: Path, dist: Path, base_path: str, orthanc: LoadedOrthanc,
           reports: ReportRecorder) -> Deployment:
    """The recipe with this deployment's values, in an nginx of its own."""
    port = free_port()
    values = {
        "listen": f"127.0.0.1:{port}",
        "server_name": "127.0.0.1",
        "web_root": str(web_root(dist, base_path, folder / "www")),
        "base_path": base_path,
        "dicomweb_upstream": orthanc.base_url,
        "csp_connect_src": "",  # DICOMweb on the same origin, no sign-in
        "csp_frame_src": "",
        "csp_report_uri": reports.url,
    }
    nginx = run_recipe(folder / "nginx", RECIPE, values, [port])
    return Deployment(nginx, f"http://127.0.0.1:{port}", base_path, dist)


@pytest.fixture(scope="module")
def precompressed_dist(node_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deploy-nginx-dist") / "dist"
    proc = build_static_site("--out", str(out), "--base-path", SUBPATH, "--no-demo",
                             "--config", str(ROOT / "config" / "local-orthanc.json"),
                             "--precompress")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out


@pytest.fixture(scope="module")
def at_root(orthanc_dist: Path, orthanc: LoadedOrthanc, reports: ReportRecorder,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    site = deploy(tmp_path_factory.mktemp("deploy-nginx-root"), orthanc_dist, "/", orthanc,
                  reports)
    yield site
    site.nginx.stop()


@pytest.fixture(scope="module")
def at_subpath(precompressed_dist: Path, orthanc: LoadedOrthanc, reports: ReportRecorder,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    site = deploy(tmp_path_factory.mktemp("deploy-nginx-sub"), precompressed_dist, SUBPATH,
                  orthanc, reports)
    yield site
    site.nginx.stop()


@pytest.fixture(params=["root", "subpath"])
def site(request: pytest.FixtureRequest) -> Deployment:
    return request.getfixturevalue("at_" + request.param)


# ---------------------------------------------------------------- what an admin checks


def test_pages_and_routes_answer_with_the_page(site: Deployment) -> None:
    for route in ROUTES:
        response = httpx.get(site.url + route, timeout=30)
        assert response.status_code == 200, route
        assert response.headers["content-type"] == "text/html; charset=utf-8", route
        assert f'<base href="{site.base_path}">' in response.text, route
    # A file that is not there stays a 404 (no page in place of a missing wheel or frame).
    assert httpx.get(site.url + "pyodide/missing.whl", timeout=30).status_code == 404
    assert httpx.get(site.url + "pyodide/", timeout=30).status_code == 404  # no listing
    if site.base_path != "/":
        bare = httpx.get(site.origin + site.base_path.rstrip("/"), timeout=30)
        assert (bare.status_code, bare.headers["location"]) == (301, site.base_path)
        assert httpx.get(site.origin + "/index.html", timeout=30).status_code == 404


def test_every_file_revalidates(site: Deployment) -> None:
    """No file name in dist/ is content-addressed, so each is ``no-cache`` with an ETag:
    a browser asks again each time and gets a 304 while the file is unchanged."""
    wheel = next((site.dist / "pyodide").glob("*.whl")).name
    for relative in ("", "service_worker.js", "config/app-config.json", "manifest.webmanifest",
                     "app.js", "pyodide/pyodide.asm.wasm", "pyodide/pyodide-lock.json",
                     f"pyodide/{wheel}", "codecs/openjpegwasm_decode.wasm"):
        response = httpx.get(site.url + relative, timeout=30)
        assert response.status_code == 200, relative
        assert response.headers["cache-control"] == "no-cache", relative
        again = httpx.get(site.url + relative, timeout=30,
                          headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304, relative


def test_precompressed_files_go_out_as_built(at_subpath: Deployment) -> None:
    site, dist = at_subpath, at_subpath.dist
    for relative, content_type in (("app.js", "application/javascript; charset=utf-8"),
                                   ("pyodide/pyodide.asm.wasm", "application/wasm"),
                                   ("pyodide/pyodide.mjs", "text/javascript; charset=utf-8"),
                                   ("manifest.webmanifest",
                                    "application/manifest+json; charset=utf-8")):
        response, body = get_raw(site.url + relative, **{"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip", relative
        assert response.headers["content-type"] == content_type, relative
        assert "Accept-Encoding" in response.headers["vary"], relative
        assert body == (dist / (relative + ".gz")).read_bytes(), f"{relative}: not the .gz file"
        response, body = get_raw(site.url + relative, **{"Accept-Encoding": "identity"})
        assert "content-encoding" not in response.headers, relative
        assert body == (dist / relative).read_bytes(), relative

    # What the build wrote: each .gz is its file, none is in the service worker's list,
    # and nothing already compressed or edited in place (the config) has one.
    compressed = sorted(dist.rglob("*.gz"))
    assert len(compressed) > 40
    for path in compressed:
        assert gzip.decompress(path.read_bytes()) == path.with_suffix("").read_bytes(), path
    build = re.search(r"^const BUILD = (.*);$", (dist / "service_worker.js").read_text(),
                      re.MULTILINE)
    assert build is not None
    precache = json.loads(build.group(1))["files"]
    assert "pyodide/pyodide.asm.wasm" in precache
    assert not [name for name in precache if name.endswith(".gz")]
    names = {path.relative_to(dist).as_posix() for path in compressed}
    assert "config/app-config.json.gz" not in names
    assert not [name for name in names if name.endswith((".whl.gz", ".zip.gz", ".png.gz"))]


def test_security_headers_on_every_answer(site: Deployment, reports: ReportRecorder) -> None:
    policy = site.policy
    rules = directives(policy)
    assert rules["default-src"] == rules["object-src"] == ["'none'"]
    assert rules["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # no unsafe-eval/-inline
    assert rules["style-src"] == rules["worker-src"] == rules["connect-src"] == ["'self'"]
    assert rules["frame-ancestors"] == rules["base-uri"] == ["'self'"]
    assert rules["frame-src"] == ["'self'", "blob:"]  # blob: an encapsulated PDF's frame
    assert rules["media-src"] == ["blob:"]  # a video's Blob
    assert rules["form-action"] == rules["manifest-src"] == ["'self'"]
    assert rules["img-src"] == ["'self'", "blob:"]
    assert rules["report-uri"] == [reports.url]
    for relative in ("", "viewer?StudyInstanceUIDs=1.2.3", "app.js", "worker.js",
                     "config/app-config.json", "missing.js"):
        headers = httpx.get(site.url + relative, timeout=30).headers
        assert headers["content-security-policy"] == policy, relative
        assert headers["x-content-type-options"] == "nosniff", relative
        assert headers["referrer-policy"] == "no-referrer", relative
        assert headers["x-frame-options"] == "SAMEORIGIN", relative
        assert "camera=()" in headers["permissions-policy"], relative
        assert headers["server"] == "nginx", relative  # no version


def test_dicomweb_is_proxied_with_urls_back_through_nginx(site: Deployment,
                                                         orthanc: LoadedOrthanc) -> None:
    study = orthanc.manifest.study("mr")
    through = httpx.get(f"{site.origin}/dicom-web/studies", timeout=60)
    assert through.status_code == 200
    assert through.headers["cache-control"] == "no-store"
    assert through.headers["x-content-type-options"] == "nosniff"
    direct = httpx.get(f"{orthanc.dicomweb_root}/studies", timeout=60).json()
    uid = "0020000D"
    assert {s[uid]["Value"][0] for s in through.json()} == {s[uid]["Value"][0] for s in direct}
    # The query string reaches Orthanc as sent: a wildcard search finds the study.
    name = study.patient_name.split("^")[0]
    found = httpx.get(f"{site.origin}/dicom-web/studies?PatientName={name[:3]}*", timeout=60)
    assert study.study_uid in {s[uid]["Value"][0] for s in found.json()}

    metadata = httpx.get(f"{site.origin}/dicom-web/studies/{study.study_uid}/metadata",
                         timeout=60)
    uris = dicomweb_urls(metadata.json())
    assert len(uris) >= study.num_instances
    back = f"{site.origin}/dicom-web/studies/{study.study_uid}/"
    assert [uri for uri in uris if not uri.startswith(back)] == []
    # ...where Orthanc asked directly names itself, so the headers did it.
    own = dicomweb_urls(httpx.get(f"{orthanc.dicomweb_root}/studies/{study.study_uid}/metadata",
                          timeout=60).json())
    assert own[0].startswith(orthanc.dicomweb_root)
    pixels = httpx.get(uris[0], timeout=60, headers={"Accept": "multipart/related; "
                                                     'type="application/octet-stream"'})
    assert pixels.status_code == 200 and len(pixels.content) > 64 * 64


# ---------------------------------------------------------------- the viewer under the CSP


async def test_viewer_runs_under_the_recipes_csp(
        new_context: Any, at_subpath: Deployment, reports: ReportRecorder,
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    recorded = await new_context()
    await recorded.context.add_init_script(LISTENER)
    app = App(await recorded.context.new_page(), at_subpath)
    await app.page.goto(at_subpath.url)
    await app.wait_for_mark("ohifpy:runtime-ready")
    await app.page.wait_for_selector("tr.study", timeout=60_000)
    listed = await app.page.eval_on_selector_all(
        "tr.study", "rows => rows.map(tr => tr.dataset.studyInstanceUid)")
    assert {orthanc.manifest.study(key).study_uid for key in CODEC_STUDIES} <= set(listed)

    for key in CODEC_STUDIES:
        study = orthanc.manifest.study(key)
        shown = await show_study(app, study)
        if key == "ct-j2k":  # lossless: the canvas is exactly ohifpy render
            expected = await cpython_render(dicomweb_source, study.study_uid,
                                            sop=shown["sopInstanceUid"])
            assert np.array_equal(await app.pixels(), expected)

    # A measurement, and the viewport captured with it (the annotations drawn as an image).
    await (await app.toolbar_control(".measure-tool[data-tool='Length']")).click()
    box = await app.page.locator(".viewport").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await app.page.mouse.move(x - 60, y)
    await app.page.mouse.down()
    await app.page.mouse.move(x + 60, y, steps=4)
    await app.page.mouse.up()
    await app.page.wait_for_selector(".measurement-row")
    async with app.page.expect_download() as download:
        await (await app.toolbar_control("button[aria-label='Capture the viewport as PNG']")).click()
    assert (await download.value).suggested_filename == "viewport.png"

    # The user's own files: read by the worker and its reader worker.
    mr = orthanc.manifest.study("mr")
    await app.navigate("local")
    await app.page.wait_for_selector(".local-page .drop-zone")
    await app.page.set_input_files("input.open-files-input",
                                   [orthanc.manifest.root / i.path for i in mr.instances[:3]])
    await app.page.wait_for_url(re.compile(r"datasources=local$"), timeout=60_000)
    await app.wait_for_image(0)

    await assert_no_violations(app.page, reports)
    await assert_violations_are_caught(app.page, reports)
