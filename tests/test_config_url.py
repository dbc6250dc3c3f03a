"""A link's ``?configUrl=``: honoured only as the shipped config allows, validated before use.

Through the worker's ``init`` as the page calls it, against a real static server on
127.0.0.1 that logs what it was asked: a refused configUrl is never fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.static_trees import serve_directory

from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.worker_api import WorkerAPI

pytestmark = pytest.mark.cpython_only  # an HTTP server on a socket, httpx

SHIPPED_SOURCE = {"sourceName": "shipped", "configuration": {
    "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web"}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Any]]]:
    root = tmp_path_factory.mktemp("configs")
    (root / "configs").mkdir()
    (root / "configs" / "research.json").write_text(json.dumps({"dataSources": [
        {"sourceName": "research", "configuration": {
            "qidoRoot": "https://research.example/dicom-web",
            "wadoRoot": "https://research.example/dicom-web"}}]}))
    (root / "configs" / "hostile.json").write_text(json.dumps({"dataSources": [
        {"sourceName": "x", "configuration": {"qidoRoot": "javascript:alert(1)",
                                              "wadoRoot": "/dicom-web"}}]}))
    (root / "elsewhere.json").write_text((root / "configs" / "research.json").read_text())
    log: list[Any] = []
    with serve_directory(Path(root), log) as url:
        yield url, log


async def init(shipped: dict[str, Any], config_url: str, base_url: str) -> dict[str, Any]:
    worker = WorkerAPI(HttpxTransport())
    try:
        return await worker.handle("init", {"config": shipped, "baseUrl": base_url,
                                            "configUrl": config_url})
    finally:
        await worker.transport.aclose()


def shipped(site_url: str, allow: Any = True) -> dict[str, Any]:
    return {"dataSources": [SHIPPED_SOURCE], "allowConfigUrl": allow,
            "configUrlAllowList": [f"{site_url}configs/"]}


async def test_an_allowed_config_url_replaces_the_shipped_config(site) -> None:
    url, log = site
    answer = await init(shipped(url), "configs/research.json", url)  # relative to the page
    assert [s["name"] for s in answer["result"]["dataSources"]] == ["research"]
    assert [path for path, _ in log][-1] == "/configs/research.json"


@pytest.mark.parametrize(("allow", "config_url", "said"), [
    (False, "configs/research.json", "does not set allowConfigUrl to true"),
    (True, "elsewhere.json", "is not in this site's configUrlAllowList"),
    (True, "data:application/json,{}", "is not in this site's configUrlAllowList"),
    (True, "https://attacker.example/configs/research.json", "configUrlAllowList"),
])
async def test_a_refused_config_url_is_said_and_never_fetched(
        site, allow: bool, config_url: str, said: str) -> None:
    url, log = site
    before = len(log)
    answer = await init(shipped(url, allow), config_url, url)
    assert answer["error"]["type"] == "ConfigError" and said in answer["error"]["message"]
    assert len(log) == before


@pytest.mark.parametrize(("config_url", "said"), [
    ("configs/missing.json", "HTTP 404"),
    ("configs/hostile.json", "qidoRoot must be an http(s) URL or a path"),
])
async def test_a_bad_config_from_the_link_is_refused_with_the_reason(
        site, config_url: str, said: str) -> None:
    url, _ = site
    answer = await init(shipped(url), config_url, url)
    assert answer["error"]["type"] == "ConfigError"
    assert said in answer["error"]["message"] and config_url in answer["error"]["message"]


def test_the_allow_list_holds_http_prefixes_only() -> None:
    from ohifpy.config import AppConfig, ConfigError

    for bad in (["data:"], ["https://host"], "https://host/", [3]):
        with pytest.raises(ConfigError, match="configUrlAllowList must be a list"):
            AppConfig.from_json({"dataSources": [SHIPPED_SOURCE], "configUrlAllowList": bad})
