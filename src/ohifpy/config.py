"""App configuration: DICOMweb data sources with OHIF's keys, validated with clear errors.

The JSON shape follows OHIF's ``dataSources[].configuration`` so an OHIF config can be
reused: a list of data sources, one of them the default, plus optional ``oidc``.
Validation happens in the constructors (highdicom's habit): an invalid config never
becomes an object, and the error names the key and the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .errors import OhifpyError

if TYPE_CHECKING:
    from .viewer.overlay_items import ViewportOverlay

__all__ = [
    "DATA_SOURCE_KINDS",
    "DATE_FORMATS",
    "DEFAULT_CACHE_SIZE_MB",
    "MAX_CACHE_SIZE_MB",
    "AppConfig",
    "ConfigError",
    "DicomJsonSource",
    "DicomWebSource",
    "LocalSource",
    "MergeSource",
    "OidcConfig",
    "SourceConfig",
    "load_config",
    "source_from_json",
]

DEFAULT_CACHE_SIZE_MB = 1024
"""Decoded-frame cache: 2048 CT slices of 512x512 int16 (512 KiB each)."""
MIN_CACHE_SIZE_MB = 16
MAX_CACHE_SIZE_MB = 3072
"""Pyodide's 32-bit WebAssembly heap stops at 4 GiB (measured: a MemoryError after 4032
MiB of bytearrays under Node); 1 GiB stays free for the interpreter, codecs and renders."""
THUMBNAIL_RENDERINGS = ("wadors", "rendered", "thumbnail")
IMAGE_RENDERINGS = ("wadors",)
"""OHIF's other value, ``wadouri``, is not supported: images come from WADO-RS frames."""
TIMEOUT_RANGE = (0.1, 600.0)
"""Seconds per request: a shorter one fails healthy servers, a longer one hangs the viewer."""
MAX_RETRIES_RANGE = (0, 10)
FRAMES_PER_REQUEST_RANGE = (1, 256)
"""Frames of one instance a WADO-RS request may ask for: 1 is one a request; 256 keeps the
URL short (a few bytes a frame number) and a failed request's loss bounded."""
ROOT_KEYS = ("qidoRoot", "wadoRoot", "stowRoot", "wadoUriRoot")
DateFormat = Literal["ohif", "locale"]
DATE_FORMATS: tuple[DateFormat, ...] = ("ohif", "locale")
"""How the page shows dates and times: OHIF's ``DD-MMM-YYYY`` and ``HH:mm``, or the
browser's locale (from the ISO forms the worker sends beside each text)."""


class ConfigError(OhifpyError, ValueError):
    """The app config is missing a key, has a wrong type, or is not JSON."""


QueryEncoding = Literal["minimal", "strict"]


@dataclass(frozen=True)
class DicomWebSource:
    """One DICOMweb server, described with OHIF's data-source keys.

    ``queryEncoding`` is ours: ``"minimal"`` sends ``, * ^`` literally in query strings
    (legal there, and what Orthanc 1.10's DICOMweb plugin needs because it does not
    percent-decode), ``"strict"`` percent-encodes everything but unreserved characters.
    ``supportsRendered`` is ours too, in OHIF's ``supports*`` style: False for a server
    without WADO-RS ``/rendered``; the page then shows no server-rendered preview while
    Python starts (``web/preview.js``), and thumbnails cannot be ``rendered``.
    ``retrieveWholeSeries`` is ours: whether a stack may load from one WADO-RS Retrieve
    Series response (:mod:`ohifpy.viewer.series_retrieve`).
    """

    name: str
    qidoRoot: str
    wadoRoot: str
    friendlyName: str = ""
    wadoUriRoot: str = ""
    stowRoot: str = ""
    qidoSupportsIncludeField: bool = False
    supportsFuzzyMatching: bool = False
    supportsWildcard: bool = True
    imageRendering: str = "wadors"
    thumbnailRendering: str = "wadors"
    supportsRendered: bool = True
    retrieveWholeSeries: bool = True
    enableStudyLazyLoad: bool = True
    staticWado: bool = False
    acceptHeader: tuple[str, ...] = ()
    requestTransferSyntaxUID: str = ""
    omitQuotationForMultipartRequest: bool = False
    queryLimit: int = 101
    queryEncoding: QueryEncoding = "minimal"
    timeout: float = 30.0
    maxRetries: int = 3
    framesPerRequest: int = 16

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "acceptHeader":
                if isinstance(value, str):
                    object.__setattr__(self, "acceptHeader", (value,))
                elif isinstance(value, list):
                    object.__setattr__(self, "acceptHeader", tuple(value))
                continue
            expected = {"bool": bool, "int": int, "float": (int, float), "str": str}.get(
                str(f.type), str
            )
            if str(f.type) == "QueryEncoding":
                if value not in ("minimal", "strict"):
                    raise ConfigError(
                        f"data source {self.name!r}: queryEncoding must be 'minimal' or "
                        f"'strict', not {value!r}"
                    )
                continue
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                raise ConfigError(
                    f"data source {self.name!r}: {f.name} must be {f.type!s}, "
                    f"not {type(value).__name__} {value!r}"
                )
        if not self.qidoRoot or not self.wadoRoot:
            raise ConfigError(f"data source {self.name!r}: qidoRoot and wadoRoot are required")
        for key, allowed in (("thumbnailRendering", THUMBNAIL_RENDERINGS),
                             ("imageRendering", IMAGE_RENDERINGS)):
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"data source {self.name!r}: {key} must be one of {', '.join(allowed)}, "
                    f"not {getattr(self, key)!r}"
                )
        if not self.supportsRendered and self.thumbnailRendering != "wadors":
            raise ConfigError(f"data source {self.name!r}: thumbnailRendering "
                              f"{self.thumbnailRendering!r} needs supportsRendered")
        if self.queryLimit < 1:
            raise ConfigError(f"data source {self.name!r}: queryLimit must be at least 1")
        for key, (low, high) in (("timeout", TIMEOUT_RANGE), ("maxRetries", MAX_RETRIES_RANGE),
                                 ("framesPerRequest", FRAMES_PER_REQUEST_RANGE)):
            if not low <= getattr(self, key) <= high:
                raise ConfigError(f"data source {self.name!r}: {key} must be from {low:g} to "
                                  f"{high:g}, not {getattr(self, key)!r}")
        for key in ROOT_KEYS:
            root = getattr(self, key)
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", root)
            if scheme and scheme.group(1).lower() not in ("http", "https"):
                # A config from a link must not point the viewer (and its token) at a
                # data:, javascript: or file: URL; relative roots are the page's own origin.
                raise ConfigError(f"data source {self.name!r}: {key} must be an http(s) URL "
                                  f"or a path, not {root[:60]!r}")
            object.__setattr__(self, key, root.rstrip("/"))
        if not self.stowRoot:
            object.__setattr__(self, "stowRoot", self.wadoRoot)

    @property
    def kind(self) -> str:
        """``staticWado`` for a static tree (OHIF's flag on a dicomweb source), else ``dicomweb``."""
        return "staticWado" if self.staticWado else "dicomweb"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DicomWebSource:
        """A source whose QIDO, WADO and STOW roots are all ``url`` (the common case)."""
        return cls(name=options.pop("name", "dicomweb"), qidoRoot=url, wadoRoot=url, **options)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DicomWebSource:
        """Build from an OHIF data-source entry (``{"configuration": {...}}``) or a flat dict."""
        conf = obj.get("configuration", obj)
        if not isinstance(conf, dict):
            raise ConfigError(f"data source {obj.get('sourceName')!r}: configuration must be "
                              "an object")
        conf = dict(conf)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(conf) - known)
        name = conf.get("name") or obj.get("sourceName") or "dicomweb"
        if unknown:
            # OHIF configs carry keys we do not use (e.g. singlepart, bulkDataURI); keep going.
            conf = {k: v for k, v in conf.items() if k in known}
        conf["name"] = name
        try:
            return cls(**conf)
        except TypeError as exc:
            raise ConfigError(f"data source {name!r}: {exc}") from None


@dataclass(frozen=True)
class DicomJsonSource:
    """OHIF's ``dicomjson`` source: studies described by a JSON file given in the URL."""

    name: str
    friendlyName: str = ""
    kind: ClassVar[str] = "dicomjson"


@dataclass(frozen=True)
class LocalSource:
    """OHIF's ``dicomlocal`` source: files the user opens or drops, read in the browser."""

    name: str
    friendlyName: str = ""
    kind: ClassVar[str] = "dicomlocal"


@dataclass(frozen=True)
class MergeSource:
    """OHIF's ``merge`` source: the series of several sources as one (first answer wins).

    ``dataSourceNames`` are the merged sources, ``defaultDataSourceName`` the one asked
    first and the one that stores (OHIF's ``seriesMerge``).
    """

    name: str
    dataSourceNames: tuple[str, ...]
    defaultDataSourceName: str = ""
    friendlyName: str = ""
    kind: ClassVar[str] = "merge"

    def __post_init__(self) -> None:
        names = self.dataSourceNames
        if (not isinstance(names, (list, tuple)) or not names
                or not all(isinstance(n, str) and n for n in names)):
            raise ConfigError(f"data source {self.name!r}: seriesMerge.dataSourceNames must be "
                              f"a non-empty list of data source names, not {names!r}")
        object.__setattr__(self, "dataSourceNames", tuple(names))
        if not self.defaultDataSourceName:
            object.__setattr__(self, "defaultDataSourceName", self.dataSourceNames[0])
        elif self.defaultDataSourceName not in self.dataSourceNames:
            raise ConfigError(f"data source {self.name!r}: seriesMerge.defaultDataSourceName "
                              f"{self.defaultDataSourceName!r} is not one of "
                              f"{list(self.dataSourceNames)}")


SourceConfig = DicomWebSource | DicomJsonSource | LocalSource | MergeSource

DATA_SOURCE_KINDS = ("dicomweb", "dicomjson", "dicomlocal", "merge")
"""The last part of an OHIF data source's ``namespace``
(``@ohif/extension-default.dataSourcesModule.dicomweb``); dicomweb when absent."""


def source_from_json(obj: Any) -> SourceConfig:
    """One ``dataSources`` entry, of the kind its ``namespace`` names."""
    if not isinstance(obj, dict):
        raise ConfigError(f"a data source must be an object, not {obj!r}")
    namespace = obj.get("namespace", "")
    kind = namespace.rsplit(".", 1)[-1] if isinstance(namespace, str) and namespace else "dicomweb"
    if kind not in DATA_SOURCE_KINDS:
        raise ConfigError(f"data source namespace {namespace!r}: its kind must be one of "
                          f"{', '.join(DATA_SOURCE_KINDS)}")
    if kind == "dicomweb":
        return DicomWebSource.from_json(obj)
    conf = obj.get("configuration", {})
    if not isinstance(conf, dict):
        raise ConfigError(f"data source {obj.get('sourceName')!r}: configuration must be an object")
    name = conf.get("name") or obj.get("sourceName") or kind
    friendly = conf.get("friendlyName", "")
    if not isinstance(name, str) or not isinstance(friendly, str):
        raise ConfigError(f"data source {name!r}: name and friendlyName must be strings")
    if kind == "merge":
        merge = conf.get("seriesMerge")
        if not isinstance(merge, dict):
            raise ConfigError(f"data source {name!r}: a merge source needs "
                              "seriesMerge: {dataSourceNames, defaultDataSourceName}")
        return MergeSource(name, merge.get("dataSourceNames"),  # type: ignore[arg-type]
                           merge.get("defaultDataSourceName", ""), friendly)
    return (DicomJsonSource if kind == "dicomjson" else LocalSource)(name, friendly)


@dataclass(frozen=True)
class OidcConfig:
    """OpenID Connect sign-in for protected DICOMweb servers, with OHIF's keys.

    Authorization code with PKCE only (``web/auth.js`` hands these to oidc-client-ts).
    The URIs default as OHIF's and may be relative: they resolve against the site's base
    path, so a subpath deploy needs no change. ``revoke_uri`` is accepted for OHIF
    configs and not used: the provider's discovery document names its revocation endpoint.
    ``accessTokenExpiringNotificationTimeInSeconds`` (oidc-client-ts): how long before
    expiry the token is renewed.
    """

    authority: str
    client_id: str
    redirect_uri: str = "/callback"
    silent_redirect_uri: str = "/silent-refresh.html"
    post_logout_redirect_uri: str = "/"
    scope: str = "openid"
    response_type: str = "code"
    automaticSilentRenew: bool = True
    revokeAccessTokenOnSignout: bool = True
    extraQueryParams: Mapping[str, str] = field(default_factory=dict)
    accessTokenExpiringNotificationTimeInSeconds: int = 60
    revoke_uri: str = ""

    def __post_init__(self) -> None:
        if self.response_type != "code":
            raise ConfigError("oidc.response_type must be 'code' (authorization code with PKCE)")
        for key in ("authority", "client_id", "redirect_uri", "silent_redirect_uri",
                    "post_logout_redirect_uri", "scope", "revoke_uri"):
            value = getattr(self, key)
            if not isinstance(value, str) or (not value and key != "revoke_uri"):
                raise ConfigError(f"oidc.{key} must be a non-empty string, not {value!r}")
        if not re.match(r"https?://[^/?#]+", self.authority, re.IGNORECASE):
            raise ConfigError(f"oidc.authority must be an http(s) URL, not {self.authority!r}")
        for key in ("automaticSilentRenew", "revokeAccessTokenOnSignout"):
            _strict_bool(getattr(self, key), f"oidc.{key}")
        params = self.extraQueryParams
        if not isinstance(params, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
            raise ConfigError("oidc.extraQueryParams must map names to strings")
        seconds = self.accessTokenExpiringNotificationTimeInSeconds
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 3600:
            raise ConfigError("oidc.accessTokenExpiringNotificationTimeInSeconds must be an "
                              f"integer from 1 to 3600, not {seconds!r}")


@dataclass(frozen=True)
class AppConfig:
    """The whole app config: data sources, which one is the default, optional OIDC.

    ``cacheSizeMB`` (ours) bounds the viewer's decoded-frame cache, in MiB.
    ``allowConfigUrl`` and ``configUrlAllowList`` (OHIF's ``dangerouslyUseDynamicConfig``):
    a link's ``?configUrl=`` is honoured only when the first is ``true`` and the URL starts
    with one of the second's prefixes (absolute http(s) URLs). ``allowTokenInUrl`` (ours,
    off by default): a link's ``?token=`` is used as the bearer token (OHIF always takes
    it; a token in a URL lands in histories and logs, so a site opts in).
    ``hangingProtocols``: the site's hanging protocols (OHIF's JSON, see
    :mod:`ohifpy.hanging`), checked here so a bad one stops the app at start-up with the
    protocol and key named, not when a study happens to match it.
    ``dateFormat`` (ours): ``"ohif"`` (the default) or ``"locale"``, see :data:`DATE_FORMATS`.
    ``customizationService``: OHIF's list of customizations, of which the viewport
    overlay's corners (``viewportOverlay.topLeft`` ...) are read, checked here too, into
    ``viewportOverlay`` (see :mod:`ohifpy.viewer.overlay_items`).
    """

    dataSources: tuple[SourceConfig, ...]
    defaultDataSourceName: str = ""
    oidc: OidcConfig | None = None
    allowConfigUrl: bool = False
    configUrlAllowList: tuple[str, ...] = ()
    allowTokenInUrl: bool = False
    cacheSizeMB: int = DEFAULT_CACHE_SIZE_MB
    hangingProtocols: tuple[Any, ...] = ()
    dateFormat: DateFormat = "ohif"
    customizationService: Any = ()
    extra: dict[str, Any] = field(default_factory=dict)
    viewportOverlay: ViewportOverlay = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = self.cacheSizeMB
        if isinstance(size, bool) or not isinstance(size, int):
            raise ConfigError(f"config.cacheSizeMB must be an integer (MiB), not {size!r}")
        if not MIN_CACHE_SIZE_MB <= size <= MAX_CACHE_SIZE_MB:
            raise ConfigError(
                f"config.cacheSizeMB must be from {MIN_CACHE_SIZE_MB} to {MAX_CACHE_SIZE_MB} "
                f"(the browser's WebAssembly memory ends at 4096), not {size}"
            )
        if not self.dataSources:
            raise ConfigError("config has no dataSources")
        names = [s.name for s in self.dataSources]
        if len(set(names)) != len(names):
            raise ConfigError(f"data source names must be unique: {names}")
        if not self.defaultDataSourceName:
            object.__setattr__(self, "defaultDataSourceName", names[0])
        elif self.defaultDataSourceName not in names:
            raise ConfigError(
                f"defaultDataSourceName {self.defaultDataSourceName!r} is not one of {names}"
            )
        allow = self.configUrlAllowList
        if not isinstance(allow, (list, tuple)) or not all(
                isinstance(p, str) and re.match(r"https?://[^/?#]+/", p) for p in allow):
            raise ConfigError("config.configUrlAllowList must be a list of http(s) URL prefixes "
                              f"ending in a path (https://host/configs/), not {allow!r}")
        object.__setattr__(self, "configUrlAllowList", tuple(allow))
        from .hanging import HangingProtocols  # it reads rules against the model

        object.__setattr__(self, "hangingProtocols",
                           tuple(HangingProtocols.from_config(self.hangingProtocols).site))
        if self.dateFormat not in DATE_FORMATS:
            raise ConfigError("config.dateFormat must be 'ohif' (DD-MMM-YYYY) or 'locale' "
                              f"(the browser's), not {self.dateFormat!r}")
        from .viewer.overlay_items import ViewportOverlay  # it formats with pydicom

        object.__setattr__(self, "viewportOverlay",
                           ViewportOverlay.from_config(self.customizationService))
        for source in self.dataSources:
            if isinstance(source, MergeSource):
                for merged in source.dataSourceNames:
                    if merged not in names or merged == source.name:
                        raise ConfigError(f"merge source {source.name!r}: {merged!r} is not "
                                          f"another data source of this config ({names})")

    @property
    def default_source(self) -> SourceConfig:
        return self.source(self.defaultDataSourceName)

    def source(self, name: str) -> SourceConfig:
        for s in self.dataSources:
            if s.name == name:
                return s
        raise ConfigError(f"no data source named {name!r}")

    def allowed_config_url(self, url: str) -> str:
        """``url`` (absolute) if this config lets a link load it as the app config; else a
        ConfigError saying why, before anything is fetched from it."""
        if not self.allowConfigUrl:
            raise ConfigError("this site does not take a config from the link (configUrl): "
                              "its config does not set allowConfigUrl to true")
        if not re.match(r"https?://", url, re.IGNORECASE) or not any(
                url.startswith(prefix) for prefix in self.configUrlAllowList):
            raise ConfigError(f"configUrl {url[:200]!r} is not in this site's "
                              "configUrlAllowList")
        return url

    @classmethod
    def from_json(cls, obj: Any) -> AppConfig:
        if not isinstance(obj, dict):
            raise ConfigError("config must be a JSON object")
        sources = obj.get("dataSources")
        if not isinstance(sources, list):
            raise ConfigError("config.dataSources must be a list")
        oidc = obj.get("oidc")
        if isinstance(oidc, list):  # OHIF writes oidc as a list of one
            oidc = oidc[0] if oidc else None
        known = {"dataSources", "defaultDataSourceName", "oidc", "allowConfigUrl",
                 "configUrlAllowList", "allowTokenInUrl", "cacheSizeMB", "hangingProtocols",
                 "dateFormat", "customizationService"}
        if oidc is not None and not isinstance(oidc, dict):
            raise ConfigError("config.oidc must be an object")
        if isinstance(oidc, dict):
            unknown = sorted(set(oidc) - {f.name for f in fields(OidcConfig)})
            if unknown:
                raise ConfigError(f"config.oidc has unknown keys: {', '.join(unknown)}")
            missing = [f.name for f in fields(OidcConfig) if f.name not in oidc
                       and f.default is MISSING and f.default_factory is MISSING]
            if missing:
                raise ConfigError(f"config.oidc needs {', '.join(missing)}")
        return cls(
            dataSources=tuple(source_from_json(s) for s in sources),
            defaultDataSourceName=obj.get("defaultDataSourceName", ""),
            oidc=OidcConfig(**oidc) if isinstance(oidc, dict) else None,
            allowConfigUrl=_strict_bool(obj.get("allowConfigUrl", False), "allowConfigUrl"),
            configUrlAllowList=obj.get("configUrlAllowList", ()),
            allowTokenInUrl=_strict_bool(obj.get("allowTokenInUrl", False), "allowTokenInUrl"),
            cacheSizeMB=obj.get("cacheSizeMB", DEFAULT_CACHE_SIZE_MB),
            hangingProtocols=obj.get("hangingProtocols", ()),
            dateFormat=obj.get("dateFormat", "ohif"),
            customizationService=obj.get("customizationService", ()),
            extra={k: v for k, v in obj.items() if k not in known},
        )


def _strict_bool(value: Any, key: str) -> bool:
    """A JSON true or false, nothing else: ``"false"`` must not turn a switch on."""
    if not isinstance(value, bool):
        where = key if key.startswith("oidc.") else f"config.{key}"
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def load_config(path: str | Path) -> AppConfig:
    """Read and validate a config file; errors name the file."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: not valid JSON: {exc}") from None
    try:
        return AppConfig.from_json(obj)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
