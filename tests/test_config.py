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


@pytest.mark.parametrize(("change", "message"), [
    ({"defaultDataSourceName": "nope"}, "defaultDataSourceName 'nope' is not one of"),
    ({"dataSources": []}, "config has no dataSources"),
    ({"dataSources": {}}, "config.dataSources must be a list"),
    ({"oidc": {"authority": "x", "client_id": "y", "redirect_uri": "z", "typo": 1}},
     "config.oidc has unknown keys: typo"),
    ({"oidc": {"authority": "x", "client_id": "y", "redirect_uri": "z",
               "response_type": "id_token token"}}, "response_type must be 'code'"),
    ({"oidc": {"authority": "", "client_id": "y", "redirect_uri": "z"}}, "oidc.authority"),
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
])
def test_invalid_source_options(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DicomWebSource.from_url("http://127.0.0.1/dicom-web", **options)


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
