"""App config: OHIF-shaped JSON in, validated objects out, clear errors naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ohifpy.config import AppConfig, ConfigError, DicomWebSource, load_config

OHIF_STYLE = {
    "defaultDataSourceName": "orthanc",
    "dataSources": [
        {"namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
         "sourceName": "orthanc",
         "configuration": {"friendlyName": "Orthanc", "name": "orthanc",
                           "qidoRoot": "/dicom-web/", "wadoRoot": "/dicom-web",
                           "qidoSupportsIncludeField": False, "supportsFuzzyMatching": False,
                           "imageRendering": "wadors", "singlepart": "bulkdata,video",
                           "acceptHeader": ["multipart/related; type=application/octet-stream"]}},
        {"sourceName": "static", "configuration": {"name": "static", "qidoRoot": "demo/dicom-web",
                                                   "wadoRoot": "demo/dicom-web",
                                                   "staticWado": True}},
    ],
    "oidc": [{"authority": "http://127.0.0.1:9000", "client_id": "ohifpy",
              "redirect_uri": "/callback", "scope": "openid profile"}],
}


def test_ohif_config_loads_with_defaults_and_ignores_unused_ohif_keys() -> None:
    config = AppConfig.from_json(OHIF_STYLE)
    source = config.default_source
    assert source.name == "orthanc" and source.qidoRoot == "/dicom-web"
    assert source.stowRoot == "/dicom-web"  # defaults to wadoRoot, as OHIF does
    assert source.acceptHeader == ("multipart/related; type=application/octet-stream",)
    assert source.queryEncoding == "minimal" and source.queryLimit == 101
    assert config.source("static").staticWado
    assert config.oidc is not None and config.oidc.response_type == "code"
    # OHIF's defaults for what the config leaves out; a token in a link is off.
    assert (config.oidc.silent_redirect_uri, config.oidc.post_logout_redirect_uri) == (
        "/silent-refresh.html", "/")
    assert config.oidc.automaticSilentRenew and config.oidc.revokeAccessTokenOnSignout
    assert config.allowTokenInUrl is False


@pytest.mark.parametrize(("change", "message"), [
    ({"defaultDataSourceName": "nope"}, "defaultDataSourceName 'nope' is not one of"),
    ({"dataSources": []}, "config has no dataSources"),
    ({"dataSources": {}}, "config.dataSources must be a list"),
    ({"oidc": {"authority": "x", "client_id": "y", "redirect_uri": "z", "typo": 1}},
     "config.oidc has unknown keys: typo"),
    ({"oidc": {"authority": "x", "client_id": "y", "redirect_uri": "z",
               "response_type": "id_token token"}}, "response_type must be 'code'"),
    ({"oidc": {"authority": "", "client_id": "y", "redirect_uri": "z"}}, "oidc.authority"),
    ({"oidc": {"authority": "javascript:alert(1)", "client_id": "y"}},
     "oidc.authority must be an http"),
    ({"oidc": {"authority": "https://idp", "client_id": "y", "automaticSilentRenew": "false"}},
     "oidc.automaticSilentRenew must be true or false"),
    ({"oidc": {"authority": "https://idp", "client_id": "y", "extraQueryParams": {"a": 1}}},
     "oidc.extraQueryParams must map names to strings"),
    ({"oidc": {"authority": "https://idp", "client_id": "y",
               "accessTokenExpiringNotificationTimeInSeconds": 0}},
     "accessTokenExpiringNotificationTimeInSeconds must be an integer from 1"),
    ({"allowTokenInUrl": "yes"}, "allowTokenInUrl must be true or false"),
    ({"allowConfigUrl": "false"}, "allowConfigUrl must be true or false, not 'false'"),
    ({"allowConfigUrl": 1}, "allowConfigUrl must be true or false"),
])
def test_invalid_configs_say_what_is_wrong(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AppConfig.from_json({**OHIF_STYLE, **change})


@pytest.mark.parametrize(("options", "message"), [
    ({"queryLimit": "100"}, "queryLimit must be int"),
    ({"queryLimit": 0}, "queryLimit must be at least 1"),
    ({"supportsWildcard": "yes"}, "supportsWildcard must be bool"),
    ({"queryEncoding": "loose"}, "queryEncoding must be 'minimal' or 'strict'"),
    ({"timeout": True}, "timeout must be float"),
    ({"timeout": 0}, "timeout must be from 0.1 to 600, not 0"),
    ({"timeout": 1e9}, "timeout must be from 0.1 to 600"),
    ({"maxRetries": 1000}, "maxRetries must be from 0 to 10, not 1000"),
    ({"maxRetries": -1}, "maxRetries must be from 0 to 10"),
    ({"imageRendering": "wadouri"}, "imageRendering must be one of wadors, not 'wadouri'"),
    ({"thumbnailRendering": "png"}, "thumbnailRendering must be one of wadors, rendered"),
    ({"supportsRendered": False, "thumbnailRendering": "rendered"},
     "thumbnailRendering 'rendered' needs supportsRendered"),
    ({"supportsRendered": "no"}, "supportsRendered must be bool"),
    ({"stowRoot": "javascript:alert(1)"}, "stowRoot must be an http\\(s\\) URL or a path"),
    ({"wadoUriRoot": "data:text/plain,x"}, "wadoUriRoot must be an http\\(s\\) URL"),
])
def test_invalid_source_options(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DicomWebSource.from_url("http://127.0.0.1/dicom-web", **options)


@pytest.mark.parametrize("root", ["file:///etc", "data:application/json,[]", "JavaScript:x"])
def test_roots_are_http_or_paths(root: str) -> None:
    """A config from a link cannot point the viewer at a local file or a script."""
    with pytest.raises(ConfigError, match="qidoRoot must be an http"):
        DicomWebSource(name="x", qidoRoot=root, wadoRoot="/dicom-web")
    for fine in ("https://pacs.example/dicom-web", "/dicom-web", "demo/dicom-web"):
        assert DicomWebSource(name="x", qidoRoot=fine, wadoRoot=fine).qidoRoot == fine


def test_allow_config_url_is_on_only_when_true() -> None:
    assert AppConfig.from_json({**OHIF_STYLE, "allowConfigUrl": True}).allowConfigUrl
    assert not AppConfig.from_json(OHIF_STYLE).allowConfigUrl


def test_duplicate_source_names_are_refused() -> None:
    sources = [OHIF_STYLE["dataSources"][0]] * 2
    with pytest.raises(ConfigError, match="unique"):
        AppConfig.from_json({"dataSources": sources})


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app-config.json"
    path.write_text(json.dumps({**OHIF_STYLE, "defaultDataSourceName": "x"}))
    with pytest.raises(ConfigError, match=f"{path}: defaultDataSourceName"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.json")
