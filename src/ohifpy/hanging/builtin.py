"""The hanging protocols that ship, by OHIF's ids, as OHIF JSON.

- ``default``: generated for what is opened (OHIF allows protocol generators): one study
  fills the saved layout (1x1 without one), the URL's ``initialSeriesInstanceUID`` first,
  then image stacks in panel order, then what is not a stack; several studies open side by
  side, one viewport per study (up to three in a row, then a near-square grid), so they can
  be compared — our default since before protocols, kept because it beats OHIF's, which
  shows only the first study.
- ``@ohif/hpCompare``: OHIF's, current and prior side by side: a 2x2 stage (two display
  sets of each) when four viewports fill, else 2x1; scrolling is synchronised.
- ``@ohif/hpMammo``: right and left, CC and MLO, in a 2x2 by ViewPosition and
  ImageLaterality (OHIF's matches SeriesDescription and view codes; the two attributes
  every mammography image carries are steadier), chosen for MG studies by itself.
- ``mpr`` and ``primaryAxial``: the MPR layouts of :mod:`ohifpy.viewer.mpr`, on the URL's
  series when it is a volume, else the study's first volume.
"""

from __future__ import annotations

import math
from typing import Any

from .grid import MAX_COLUMNS, MAX_ROWS, Layout

__all__ = ["AUTO_MATCHED", "BUILTIN_PROTOCOLS", "DEFAULT_ID", "default_protocol"]

DEFAULT_ID = "default"

AUTO_MATCHED = ("@ohif/hpMammo",)
"""Built-ins chosen by their matching rules when the URL names no protocol (with every
protocol of the site's config). The others apply when the URL names them, as in OHIF's
default mode, where only the mode's protocols are matched."""

_IMAGES_FIRST: list[dict[str, Any]] = [
    {"attribute": "numImageFrames", "constraint": {"greaterThan": {"value": 1}}, "weight": 1},
    {"attribute": "isDisplaySetFromUrl", "constraint": {"equals": True}, "weight": 20},
]
"""Series rules that put the URL's series first, then image stacks: OHIF's default selector,
but with 1 where OHIF has 0, because OHIF's ``greaterThan`` is inclusive and a document (no
image frames) must rank below a stack."""


def _study(index: int) -> list[dict[str, Any]]:
    """Study rules picking the URL's ``index``-th study (0 current, 1 the prior)."""
    return [{"attribute": "studyInstanceUIDsIndex", "from": "options", "required": True,
             "constraint": {"equals": {"value": index}}}]


def _grid(rows: int, columns: int, viewports: list[dict[str, Any]], name: str,
          **stage: Any) -> dict[str, Any]:
    return {"id": name, "name": name, "viewportStructure": {
        "layoutType": "grid", "properties": {"rows": rows, "columns": columns}},
        "viewports": viewports, **stage}


def _side_by_side(count: int) -> Layout:
    """One viewport per study: in one row up to three, then a near-square grid (2x2 for
    four, 2x3 for six, 3x4 at most), so no viewport gets too narrow to read."""
    if count <= 3:
        return Layout(1, count)
    columns = min(math.ceil(math.sqrt(count)), MAX_COLUMNS)
    return Layout(min(math.ceil(count / columns), MAX_ROWS), columns)


def default_protocol(study_count: int, preferred: Layout | None = None) -> dict[str, Any]:
    """The ``default`` protocol for ``study_count`` opened studies; ``preferred`` (the saved
    layout) applies to one study only."""
    base = {"id": DEFAULT_ID, "name": "Default", "numberOfPriorsReferenced": -1,
            "protocolMatchingRules": []}
    if study_count <= 1:
        layout = preferred or Layout()
        fill = {"displaySets": [{"id": "defaultDisplaySetId", "matchedDisplaySetsIndex": -1}]}
        return {**base, "displaySetSelectors": {
                    "defaultDisplaySetId": {"seriesMatchingRules": _IMAGES_FIRST}},
                "defaultViewport": fill,
                "stages": [_grid(layout.rows, layout.columns,
                                 [{"displaySets": [{"id": "defaultDisplaySetId"}]}],
                                 str(layout))]}
    layout = _side_by_side(study_count)
    shown = min(study_count, layout.size)
    return {**base, "numberOfPriorsReferenced": shown - 1,
            "displaySetSelectors": {f"study{i}": {"studyMatchingRules": _study(i),
                                                  "seriesMatchingRules": _IMAGES_FIRST}
                                    for i in range(shown)},
            "stages": [_grid(layout.rows, layout.columns,
                             [{"displaySets": [{"id": f"study{i}"}]} for i in range(shown)],
                             str(layout))]}


def _compare() -> dict[str, Any]:
    sync = {"syncGroups": [{"type": "stackimage", "id": "compare", "source": True,
                            "target": True}]}

    def viewport(selector: str, index: int) -> dict[str, Any]:
        return {"viewportOptions": sync,
                "displaySets": [{"id": selector, "matchedDisplaySetsIndex": index}]}

    return {
        "id": "@ohif/hpCompare", "name": "Compare Two Studies", "numberOfPriorsReferenced": 1,
        "protocolMatchingRules": [{"attribute": "StudyInstanceUID", "from": "prior",
                                   "required": True, "weight": 1000,
                                   "constraint": {"notNull": True}}],
        "displaySetSelectors": {
            "defaultDisplaySetId": {"studyMatchingRules": _study(0),
                                    "seriesMatchingRules": _IMAGES_FIRST},
            "priorDisplaySetId": {"studyMatchingRules": _study(1),
                                  "seriesMatchingRules": _IMAGES_FIRST},
        },
        "defaultViewport": {"displaySets": [{"id": "defaultDisplaySetId",
                                             "matchedDisplaySetsIndex": -1}]},
        "stages": [
            _grid(2, 2, [viewport("defaultDisplaySetId", 0), viewport("priorDisplaySetId", 0),
                         viewport("defaultDisplaySetId", 1), viewport("priorDisplaySetId", 1)],
                  "2x2", stageActivation={"enabled": {"minViewportsMatched": 4}}),
            _grid(1, 2, [viewport("defaultDisplaySetId", 0), viewport("priorDisplaySetId", 0)],
                  "2x1", stageActivation={"enabled": {"minViewportsMatched": 2}}),
        ],
    }


def _mammo() -> dict[str, Any]:
    def view(laterality: str, position: str) -> dict[str, Any]:
        return {"studyMatchingRules": _study(0), "seriesMatchingRules": [
            {"attribute": "ImageLaterality", "required": True,
             "constraint": {"equals": {"value": laterality}}},
            {"attribute": "ViewPosition", "required": True,
             "constraint": {"equals": {"value": position}}},
        ]}

    views = ("RCC", "LCC", "RMLO", "LMLO")
    return {
        "id": "@ohif/hpMammo", "name": "Mammography Breast Screening",
        "protocolMatchingRules": [
            {"attribute": "ModalitiesInStudy", "required": True, "weight": 150,
             "constraint": {"contains": "MG"}},
            {"attribute": "numberOfDisplaySetsWithImages", "required": True,
             "constraint": {"greaterThan": 2}},
        ],
        "displaySetSelectors": {name: view(name[0], name[1:]) for name in views},
        "stages": [_grid(2, 2, [{"displaySets": [{"id": name}]} for name in views], "CC/MLO")],
    }


def _mpr(protocol_id: str, name: str, structure: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": protocol_id, "name": name, "numberOfPriorsReferenced": -1,
        "protocolMatchingRules": [],
        "displaySetSelectors": {"activeDisplaySet": {"seriesMatchingRules": [
            {"attribute": "isReconstructable", "required": True,
             "constraint": {"equals": {"value": True}}},
            {"attribute": "isDisplaySetFromUrl", "weight": 20, "constraint": {"equals": True}},
        ]}},
        "stages": [{"id": protocol_id, "name": name, "viewportStructure": structure,
                    "viewports": [{"viewportOptions": {"viewportType": "volume",
                                                       "orientation": orientation},
                                   "displaySets": [{"id": "activeDisplaySet"}]}
                                  for orientation in ("axial", "sagittal", "coronal")]}],
    }


BUILTIN_PROTOCOLS: tuple[dict[str, Any], ...] = (
    _compare(),
    _mammo(),
    _mpr("mpr", "MPR", {"layoutType": "grid", "properties": {"rows": 1, "columns": 3}}),
    _mpr("primaryAxial", "Axial primary", {"layoutType": "grid", "properties": {
        "rows": 2, "columns": 2, "layoutOptions": [
            {"x": 0, "y": 0, "width": 0.5, "height": 1},
            {"x": 0.5, "y": 0, "width": 0.5, "height": 0.5},
            {"x": 0.5, "y": 0.5, "width": 0.5, "height": 0.5}]}}),
)
"""Every built-in but ``default`` (made per opening by :func:`default_protocol`)."""
