"""OHIF's hanging-protocol JSON, read into checked dataclasses.

The subset of OHIF's ``Types.HangingProtocol.Protocol`` that decides what hangs where:
``id``, ``name``, ``protocolMatchingRules``, ``displaySetSelectors`` (``seriesMatchingRules``
and ``studyMatchingRules``), ``stages`` (``viewportStructure`` with rows, columns and
custom ``layoutOptions``, ``viewports`` with ``viewportOptions`` and ``displaySets``,
``stageActivation``), ``defaultViewport`` and ``numberOfPriorsReferenced``. Keys OHIF has
that change nothing here (``description``, ``toolGroupIds``, ``imageLoadStrategy``, ...)
are accepted and ignored, so a protocol copied from OHIF loads; any other key is an error,
because a misspelt key that silently does nothing is the worst way for a site's protocol
to fail. Every error names the protocol and the key path (``protocol 'mr':
stages[0].viewports[1].displaySets[0].id 'T3' is not a displaySetSelectors key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError
from .constraints import OPERATORS
from .grid import MAX_COLUMNS, MAX_ROWS

__all__ = [
    "DisplaySetRef",
    "DisplaySetSelector",
    "LayoutBox",
    "Protocol",
    "ProtocolError",
    "Rule",
    "Stage",
    "StageActivation",
    "ViewportSpec",
]

RULE_SOURCES = ("metadataInstance", "current", "prior", "instance", "options")
"""Where a rule reads its attribute (OHIF's ``from``): the thing being matched (a study for
study rules and protocol rules, a display set for series rules), the current or the prior
study, the display set's first instance, or the match's options
(``studyInstanceUIDsIndex``: 0 for the current study, 1 for the prior, ...)."""

VIEWPORT_TYPES = ("stack", "volume")
ORIENTATIONS = ("axial", "sagittal", "coronal")
_IGNORED = {
    "protocol": {"description", "toolGroupIds", "imageLoadStrategy", "hasUpdatedPriorsInformation",
                 "locked", "createdDate", "modifiedDate", "availableTo", "editableBy",
                 "callbacks", "icon", "isPreset", "hpInitiationCriteria", "version"},
    "viewportOptions": {"toolGroupId", "viewportId", "allowUnmatchedView", "initialImageOptions",
                        "displayArea", "customViewportProps", "background", "needsRerendering",
                        "presentationIds"},
    "displaySet": {"reuseId", "segmentationsVisibility"},
    "rule": {"id"},
}
"""OHIF keys read without effect here (what they do belongs to cornerstone's viewports)."""


class ProtocolError(ConfigError):
    """A hanging protocol that cannot be used; the message names the protocol and key."""


class _Reader:
    """Walks one protocol's JSON, raising :class:`ProtocolError` with the key path."""

    def __init__(self, protocol_id: str) -> None:
        self.protocol_id = protocol_id

    def fail(self, path: str, message: str) -> ProtocolError:
        where = f"{path}: " if path else ""
        return ProtocolError(f"hanging protocol {self.protocol_id!r}: {where}{message}")

    def object(self, value: Any, path: str, known: set[str], ignored: set[str] = frozenset(),
               required: tuple[str, ...] = ()) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be an object, not {type(value).__name__}")
        unknown = sorted(set(value) - known - ignored)
        if unknown:
            raise self.fail(path, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        for key in required:
            if key not in value:
                raise self.fail(path, f"needs {key!r}")
        return value

    def list(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, not {type(value).__name__}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string, not {value!r}")
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"must be an integer from {low} to {high}, not {value!r}")
        return value

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"must be a number, not {value!r}")
        return float(value)


@dataclass(frozen=True)
class Rule:
    """One matching rule: ``attribute`` read ``from`` somewhere, tested by ``constraint``;
    passing adds ``weight`` to the score, failing a ``required`` one rules the candidate out."""

    attribute: str
    constraint: Mapping[str, Any]
    weight: int = 1
    required: bool = False
    source: str = "metadataInstance"

    @classmethod
    def read(cls, r: _Reader, value: Any, path: str) -> Rule:
        obj = r.object(value, path, {"attribute", "constraint", "weight", "required", "from"},
                       _IGNORED["rule"], required=("attribute", "constraint"))
        constraint = r.object(obj["constraint"], f"{path}.constraint", set(OPERATORS))
        if not constraint:
            raise r.fail(f"{path}.constraint", f"needs an operator ({', '.join(OPERATORS)})")
        weight = obj.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise r.fail(f"{path}.weight", f"must be a number, not {weight!r}")
        required = obj.get("required", False)
        if not isinstance(required, bool):
            raise r.fail(f"{path}.required", f"must be true or false, not {required!r}")
        source = obj.get("from", "metadataInstance")
        if source not in RULE_SOURCES:
            raise r.fail(f"{path}.from", f"must be one of {', '.join(RULE_SOURCES)}, "
                                         f"not {source!r}")
        return cls(r.text(obj["attribute"], f"{path}.attribute"), dict(constraint),
                   int(weight), required, source)


def _rules(r: _Reader, value: Any, path: str) -> tuple[Rule, ...]:
    return tuple(Rule.read(r, rule, f"{path}[{i}]") for i, rule in enumerate(r.list(value, path)))


@dataclass(frozen=True)
class DisplaySetSelector:
    """Which display sets may fill a slot: study rules pick the study, series rules the
    display set within it."""

    id: str
    series_rules: tuple[Rule, ...]
    study_rules: tuple[Rule, ...] = ()

    @classmethod
    def read(cls, r: _Reader, key: str, value: Any, path: str) -> DisplaySetSelector:
        obj = r.object(value, path, {"seriesMatchingRules", "studyMatchingRules"}, {"id"},
                       required=("seriesMatchingRules",))
        return cls(key, _rules(r, obj["seriesMatchingRules"], f"{path}.seriesMatchingRules"),
                   _rules(r, obj.get("studyMatchingRules", []), f"{path}.studyMatchingRules"))


@dataclass(frozen=True)
class DisplaySetRef:
    """A viewport's display set: the ``matchedDisplaySetsIndex``-th match of selector ``id``
    (-1: the best match no viewport shows yet), with its ``options`` (``voi``,
    ``voiInverted``)."""

    id: str
    matched_index: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, r: _Reader, value: Any, path: str, selectors: Mapping[str, Any]) -> DisplaySetRef:
        obj = r.object(value, path, {"id", "matchedDisplaySetsIndex", "options"},
                       _IGNORED["displaySet"], required=("id",))
        ref_id = r.text(obj["id"], f"{path}.id")
        if ref_id not in selectors:
            raise r.fail(f"{path}.id", f"{ref_id!r} is not a displaySetSelectors key "
                                       f"({', '.join(selectors) or 'none'})")
        index = r.integer(obj.get("matchedDisplaySetsIndex", 0),
                          f"{path}.matchedDisplaySetsIndex", -1, 99)
        options = r.object(obj.get("options", {}), f"{path}.options", {"voi", "voiInverted"})
        if "voi" in options:
            voi = r.object(options["voi"], f"{path}.options.voi",
                           {"windowCenter", "windowWidth"}, required=("windowCenter", "windowWidth"))
            r.number(voi["windowCenter"], f"{path}.options.voi.windowCenter")
            if r.number(voi["windowWidth"], f"{path}.options.voi.windowWidth") <= 0:
                raise r.fail(f"{path}.options.voi.windowWidth", "must be above 0")
        if not isinstance(options.get("voiInverted", False), bool):
            raise r.fail(f"{path}.options.voiInverted", "must be true or false")
        return cls(ref_id, index, dict(options))


@dataclass(frozen=True)
class ViewportSpec:
    """One viewport of a stage: how it is shown and which display sets it holds (the first
    is what it shows; OHIF's fusion of several is not supported)."""

    options: Mapping[str, Any]
    display_sets: tuple[DisplaySetRef, ...]

    @classmethod
    def read(cls, r: _Reader, value: Any, path: str, selectors: Mapping[str, Any]) -> ViewportSpec:
        obj = r.object(value, path, {"viewportOptions", "displaySets"})
        options = r.object(obj.get("viewportOptions", {}), f"{path}.viewportOptions",
                           {"viewportType", "orientation", "flipHorizontal", "rotation",
                            "syncGroups"}, _IGNORED["viewportOptions"])
        where = f"{path}.viewportOptions"
        viewport_type = options.get("viewportType", "stack")
        if viewport_type not in VIEWPORT_TYPES:
            raise r.fail(f"{where}.viewportType",
                         f"must be one of {', '.join(VIEWPORT_TYPES)}, not {viewport_type!r}")
        orientation = options.get("orientation")
        if viewport_type == "volume" and orientation not in ORIENTATIONS:
            raise r.fail(f"{where}.orientation", f"a volume viewport needs one of "
                                                 f"{', '.join(ORIENTATIONS)}, not {orientation!r}")
        if options.get("rotation", 0) not in (0, 90, 180, 270):
            raise r.fail(f"{where}.rotation", "must be 0, 90, 180 or 270")
        if not isinstance(options.get("flipHorizontal", False), bool):
            raise r.fail(f"{where}.flipHorizontal", "must be true or false")
        for i, group in enumerate(r.list(options.get("syncGroups", []), f"{where}.syncGroups")):
            r.object(group, f"{where}.syncGroups[{i}]", {"type", "id", "source", "target"},
                     {"options"}, required=("type",))
        refs = r.list(obj.get("displaySets", []), f"{path}.displaySets")
        return cls(dict(options), tuple(DisplaySetRef.read(r, ref, f"{path}.displaySets[{i}]",
                                                           selectors)
                                        for i, ref in enumerate(refs)))

    @property
    def sync_scroll(self) -> bool:
        """In an image sync group (cornerstone's ``stackimage``): scrolls with the others."""
        return any(g.get("type") in ("stackimage", "imageSlice")
                   for g in self.options.get("syncGroups", ()))


@dataclass(frozen=True)
class LayoutBox:
    """A custom layout's viewport: its box as fractions of the grid (OHIF's layoutOptions)."""

    x: float
    y: float
    width: float
    height: float

    def to_json(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class StageActivation:
    """When a stage may show: ``minViewportsMatched`` viewports filled and every selector of
    ``displaySetSelectorsMatched`` matched (OHIF's ``enabled`` / ``passive`` activations)."""

    min_viewports_matched: int | None = None
    selectors_matched: tuple[str, ...] = ()

    @classmethod
    def read(cls, r: _Reader, value: Any, path: str, selectors: Mapping[str, Any]) -> StageActivation:
        obj = r.object(value, path, {"minViewportsMatched", "displaySetSelectorsMatched"})
        minimum = obj.get("minViewportsMatched")
        if minimum is not None:
            r.integer(minimum, f"{path}.minViewportsMatched", 0, MAX_ROWS * MAX_COLUMNS)
        names = tuple(r.list(obj.get("displaySetSelectorsMatched", []),
                             f"{path}.displaySetSelectorsMatched"))
        for i, name in enumerate(names):
            if name not in selectors:
                raise r.fail(f"{path}.displaySetSelectorsMatched[{i}]",
                             f"{name!r} is not a displaySetSelectors key")
        return cls(minimum, names)


@dataclass(frozen=True)
class Stage:
    """One arrangement of a protocol: a grid (or custom boxes) and its viewports."""

    id: str
    name: str
    rows: int
    columns: int
    viewports: tuple[ViewportSpec, ...]
    layout_boxes: tuple[LayoutBox, ...] | None = None
    enabled: StageActivation = StageActivation()
    passive: StageActivation = StageActivation()

    @classmethod
    def read(cls, r: _Reader, value: Any, index: int, selectors: Mapping[str, Any]) -> Stage:
        path = f"stages[{index}]"
        obj = r.object(value, path, {"id", "name", "viewportStructure", "viewports",
                                     "stageActivation", "defaultViewport"},
                       {"description"}, required=("viewportStructure",))
        structure = r.object(obj["viewportStructure"], f"{path}.viewportStructure",
                             {"layoutType", "properties", "type"}, required=("properties",))
        props = r.object(structure["properties"], f"{path}.viewportStructure.properties",
                         {"rows", "columns", "layoutOptions"}, required=("rows", "columns"))
        where = f"{path}.viewportStructure.properties"
        rows = r.integer(props["rows"], f"{where}.rows", 1, MAX_ROWS)
        columns = r.integer(props["columns"], f"{where}.columns", 1, MAX_COLUMNS)
        viewports = tuple(ViewportSpec.read(r, v, f"{path}.viewports[{i}]", selectors)
                          for i, v in enumerate(r.list(obj.get("viewports", []),
                                                       f"{path}.viewports")))
        boxes = None
        if props.get("layoutOptions"):
            boxes = tuple(_box(r, box, f"{where}.layoutOptions[{i}]")
                          for i, box in enumerate(r.list(props["layoutOptions"],
                                                         f"{where}.layoutOptions")))
            if len(viewports) > len(boxes):
                raise r.fail(f"{where}.layoutOptions", f"has {len(boxes)} boxes for "
                                                       f"{len(viewports)} viewports")
        elif len(viewports) > rows * columns:
            raise r.fail(f"{path}.viewports", f"{len(viewports)} viewports do not fit "
                                              f"{rows}x{columns}")
        activation = r.object(obj.get("stageActivation", {}), f"{path}.stageActivation",
                              {"enabled", "passive"})
        name = obj.get("name") or obj.get("id") or f"{rows}x{columns}"
        stage_id = r.text(obj.get("id", name), f"{path}.id")
        return cls(stage_id, r.text(name, f"{path}.name"), rows, columns, viewports, boxes,
                   StageActivation.read(r, activation.get("enabled", {}),
                                        f"{path}.stageActivation.enabled", selectors),
                   StageActivation.read(r, activation.get("passive", {}),
                                        f"{path}.stageActivation.passive", selectors))

    @property
    def size(self) -> int:
        """How many viewports the stage shows."""
        return len(self.layout_boxes) if self.layout_boxes else self.rows * self.columns


def _box(r: _Reader, value: Any, path: str) -> LayoutBox:
    obj = r.object(value, path, {"x", "y", "width", "height"},
                   required=("x", "y", "width", "height"))
    x, y, width, height = (r.number(obj[k], f"{path}.{k}") for k in ("x", "y", "width", "height"))
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < width <= 1 - x + 1e-9
            and 0 < height <= 1 - y + 1e-9):
        raise r.fail(path, "must lie within the grid: 0 <= x, y < 1 and 0 < x + width, "
                           "y + height <= 1")
    return LayoutBox(x, y, width, height)


@dataclass(frozen=True)
class Protocol:
    """A hanging protocol: when it applies and what it hangs, stage by stage."""

    id: str
    name: str
    matching_rules: tuple[Rule, ...]
    selectors: Mapping[str, DisplaySetSelector]
    stages: tuple[Stage, ...]
    default_viewport: ViewportSpec | None = None
    number_of_priors_referenced: int = 0

    @classmethod
    def from_json(cls, value: Any) -> Protocol:
        """Read and check one protocol (OHIF's JSON shape)."""
        if not isinstance(value, Mapping):
            raise ProtocolError(f"a hanging protocol must be an object, not {type(value).__name__}")
        protocol_id = value.get("id") or value.get("name")
        if not isinstance(protocol_id, str) or not protocol_id.strip():
            raise ProtocolError(f"a hanging protocol needs an id (a non-empty string), "
                                f"not {protocol_id!r}")
        r = _Reader(protocol_id)
        obj = r.object(value, "", {"id", "name", "protocolMatchingRules", "displaySetSelectors",
                                   "stages", "defaultViewport", "numberOfPriorsReferenced"},
                       _IGNORED["protocol"], required=("displaySetSelectors", "stages"))
        raw_selectors = obj["displaySetSelectors"]
        if not isinstance(raw_selectors, Mapping):
            raise r.fail("displaySetSelectors", "must be an object of selectors by id")
        selectors = {key: DisplaySetSelector.read(r, key, selector, f"displaySetSelectors.{key}")
                     for key, selector in raw_selectors.items()}
        stages = tuple(Stage.read(r, stage, i, selectors)
                       for i, stage in enumerate(r.list(obj["stages"], "stages")))
        if not stages:
            raise r.fail("stages", "needs at least one stage")
        ids = [stage.id for stage in stages]
        if len(set(ids)) != len(ids):
            raise r.fail("stages", f"stage ids must be unique: {ids}")
        default = obj.get("defaultViewport")
        return cls(
            protocol_id, r.text(obj.get("name", protocol_id), "name"),
            _rules(r, obj.get("protocolMatchingRules", []), "protocolMatchingRules"),
            selectors, stages,
            ViewportSpec.read(r, default, "defaultViewport", selectors) if default else None,
            r.integer(obj.get("numberOfPriorsReferenced", 0), "numberOfPriorsReferenced", -1, 99),
        )

    def stage_index(self, stage_id: str) -> int | None:
        """The index of the stage named ``stage_id`` (its id, else its name), None if none."""
        for i, stage in enumerate(self.stages):
            if stage_id in (stage.id, stage.name):
                return i
        return None
