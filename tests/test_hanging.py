"""Hanging protocols (ohifpy.hanging): OHIF's rule operators, scoring, protocol and stage
choice, filling viewports, the built-ins, a site's protocols from the config, and the study
browser's tabs. Pure Python: runs in CPython and under Pyodide.

Display sets are made from small datasets, both through pydicom datasets and through DICOM
JSON (as openViewer reads them), since the matcher reads attributes from either.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydicom import Dataset, uid

from ohifpy.config import AppConfig, ConfigError
from ohifpy.hanging import HangingProtocols, Layout, ProtocolError, StageView, study_tabs
from ohifpy.hanging.constraints import OPERATORS, check
from ohifpy.model import DisplaySet, Instance, Study, display_sets_from_instances
from ohifpy.reference_lines import relative_index

URL = "http://127.0.0.1/dicom-web"
BUILD = {"build": "from_dataset"}


@pytest.fixture(params=["from_dataset", "from_json"])
def construction(request: pytest.FixtureRequest) -> None:
    BUILD["build"] = request.param


def image(study: str, series: str, number: int, *, modality: str = "CT", description: str = "",
          z: float | None = 0.0, sop_class: str = uid.CTImageStorage, **tags: Any) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = f"{series}.{number}.{0 if z is None else int(z)}"
    ds.SOPClassUID = sop_class
    ds.Modality, ds.SeriesDescription, ds.SeriesNumber = modality, description, number
    ds.PatientID, ds.PatientName, ds.StudyDate = "P1", "Doe^Jane", tags.pop("date", "20240101")
    ds.Rows = ds.Columns = 4
    ds.InstanceNumber = 1
    if z is not None:
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, z], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def stack(study: str, series: str, number: int, slices: int = 3, **kw: Any) -> list[Dataset]:
    return [image(study, series, number, z=float(z), **kw) for z in range(slices)]


def opened(*studies: list[Dataset]) -> list[tuple[Study, list[DisplaySet]]]:
    out = []
    for datasets in studies:
        if BUILD["build"] == "from_json":
            instances = [Instance.from_json(ds.to_json_dict(), URL, i)
                         for i, ds in enumerate(datasets)]
        else:
            instances = [Instance.from_dataset(ds) for ds in datasets]
        display_sets = display_sets_from_instances(instances)
        out.append((Study.from_dataset(datasets[0]), display_sets))
    return out


def series_of(view: StageView) -> list[str | None]:
    return [None if d is None else d.series_instance_uid for d in view.viewports]


CT = [*stack("1", "1.1", 1, description="Axial 5mm"), *stack("1", "1.2", 2, 1,
                                                             description="Scout"),
      *stack("1", "1.3", 3, description="Axial 1mm")]
PRIOR = [*stack("2", "2.1", 1, 5, description="Axial 5mm", date="20230601"),
         *stack("2", "2.2", 2, description="Axial 1mm", date="20230601")]


# ------------------------------------------------------------------ operators (OHIF's examples)

@pytest.mark.parametrize(("operator", "value", "test", "passes"), [
    ("equals", ["abc", "def", "GHI"], ["abc", "def", "GHI"], True),
    ("equals", ["abc", "def", "GHI"], ["abc", "GHI", "def"], False),
    ("equals", ["abc", "def", "GHI"], "abc", True),  # a single test value: the first value
    ("equals", "Attenuation Corrected", "Attenuation", False),
    ("equals", "MR", {"value": "MR"}, True),
    ("doesNotEqual", ["abc", "def", "GHI"], ["abc", "def", "GHI"], False),
    ("doesNotEqual", ["abc", "def", "GHI"], ["abc", "def"], True),
    ("doesNotEqual", "CT", "MR", True),
    ("includes", ["abc", "def", "GHI"], ["att", "abc"], True),
    ("includes", ["abc", "def", "GHI"], ["cat", "dog"], False),
    ("includes", ["abc", "def", "GHI"], "abc", False),  # OHIF: the test value must be a list
    ("doesNotInclude", ["abc", "def", "GHI"], ["Corr"], True),
    ("doesNotInclude", ["abc", "def", "GHI"], ["abc", "dog"], False),
    ("contains", "Attenuation Corrected", "Corr", True),
    ("contains", "Attenuation Corrected", "corr", False),
    ("contains", "Attenuation Corrected", ["cat", "Att"], True),
    ("contains", ["abc", "def", "GHI"], "de", True),
    ("contains", None, "x", False),
    ("containsI", "Attenuation Corrected", "corr", True),
    ("containsI", ["abc", "def", "GHI"], ["cat", "gh"], True),
    ("containsI", "AX T2 FSE", ["t1"], False),
    ("doesNotContain", "Attenuation Corrected", "Corr", False),
    ("doesNotContain", "Attenuation Corrected", ["cat", "dog"], True),
    ("doesNotContainI", "Attenuation Corrected", "corr", False),
    ("startsWith", "Attenuation Corrected", ["cat", "Att"], True),
    ("startsWith", ["abc", "def", "GHI"], "GH", True),
    ("startsWith", "Attenuation Corrected", "ted", False),
    ("endsWith", "Attenuation Corrected", "ted", True),
    ("endsWith", ["abc", "def", "GHI"], ["cat", "hi"], False),
    ("greaterThan", 30, 20, True),
    ("greaterThan", 20, 20, True),  # OHIF's is inclusive
    ("greaterThan", 10, 20, False),
    ("greaterThan", "30", 20, False),  # strings are not numbers
    ("lessThan", 30, 40, True),
    ("lessThan", 30, [20], False),
    ("range", 50, [60, 10], True),
    ("range", 50, [0, 10], False),
    ("range", 50, 45, False),
    ("notNull", "x", True, True),
    ("notNull", None, True, False),
    ("notNull", "", True, False),
])
def test_every_operator_as_ohif(operator: str, value: Any, test: Any, passes: bool) -> None:
    assert (check("Attr", value, {operator: test}) is None) == passes


def test_the_operators_are_ohifs() -> None:
    assert set(OPERATORS) >= {"equals", "doesNotEqual", "includes", "doesNotInclude", "contains",
                              "containsI", "startsWith", "endsWith", "greaterThan", "lessThan",
                              "range", "notNull"}
    # Every operator of a constraint must pass, and the reason names what failed.
    assert check("Modality", "MR", {"equals": "MR", "notNull": True}) is None
    assert check("Modality", "MR", {"notNull": True, "equals": "CT"}) == (
        "Modality 'MR' fails equals 'CT'")


# ------------------------------------------------------------------ scoring and choosing

def protocol(pid: str, rules: list[dict[str, Any]], selectors: dict[str, Any],
             stages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": pid, "protocolMatchingRules": rules, "displaySetSelectors": selectors,
            "stages": stages, **extra}


def grid(rows: int, columns: int, *selector_ids: str | tuple[str, int], **stage: Any) -> dict:
    viewports = []
    for ref in selector_ids:
        ref_id, index = (ref, 0) if isinstance(ref, str) else ref
        viewports.append({"displaySets": [{"id": ref_id, "matchedDisplaySetsIndex": index}]})
    return {"name": stage.get("id", f"{rows}x{columns}"), "viewportStructure": {
        "properties": {"rows": rows, "columns": columns}}, "viewports": viewports, **stage}


def rule(attribute: str, constraint: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"attribute": attribute, "constraint": constraint, **kw}


ANY_SERIES = {"seriesMatchingRules": []}


@pytest.mark.usefixtures("construction")
def test_weights_score_and_a_failed_required_rule_rules_out() -> None:
    by_description = {"seriesMatchingRules": [
        rule("SeriesDescription", {"contains": "1mm"}, weight=10),
        rule("Modality", {"equals": "CT"}, weight=2),
        rule("SeriesDescription", {"doesNotEqual": "Scout"}, required=True),
    ]}
    p = protocol("thin-first", [rule("Modality", {"equals": "CT"})], {"s": by_description},
                 [grid(1, 3, ("s", 0), ("s", 1), ("s", 2))])
    view = HangingProtocols([p]).hang(opened(CT), protocol_id="thin-first")
    # 1mm (12) before 5mm (2); the scout fails a required rule: never hung.
    assert series_of(view) == ["1.3", "1.1", None]


@pytest.mark.usefixtures("construction")
def test_the_best_scoring_protocol_is_chosen_and_a_tie_goes_to_the_later() -> None:
    one = protocol("one", [rule("Modality", {"equals": "CT"}, weight=5)], {"s": ANY_SERIES},
                   [grid(1, 1, "s")])
    two = protocol("two", [rule("PatientID", {"equals": "P1"}, weight=5)], {"s": ANY_SERIES},
                   [grid(1, 2, "s", ("s", 1))])
    three = protocol("three", [rule("StudyDescription", {"notNull": True}, weight=50,
                                    required=True)], {"s": ANY_SERIES}, [grid(2, 2, "s")])
    assert HangingProtocols([one, two, three]).hang(opened(CT)).protocol.id == "two"
    assert HangingProtocols([two, one]).hang(opened(CT)).protocol.id == "one"
    # No protocol matches an MR study: the default.
    mr = stack("9", "9.1", 1, modality="MR")
    for ds in mr:
        ds.PatientID = "P2"
    assert HangingProtocols([one, two]).hang(opened(mr)).protocol.id == "default"


@pytest.mark.usefixtures("construction")
def test_rules_read_from_prior_current_options_and_instance() -> None:
    selectors = {"current": {"seriesMatchingRules": [], "studyMatchingRules": [
        rule("studyInstanceUIDsIndex", {"equals": 0}, **{"from": "options"})]}}
    older = protocol("with-prior", [rule("StudyDate", {"equals": "20230601"},
                                         **{"from": "prior", "required": True})],
                     selectors, [grid(1, 1, "current")])
    protocols = HangingProtocols([older])
    assert protocols.hang(opened(CT, PRIOR)).protocol.id == "with-prior"
    assert protocols.hang(opened(CT)).protocol.id == "default"  # no prior
    current = protocol("current", [rule("StudyDate", {"equals": "20240101"},
                                        **{"from": "current"})],
                       {"s": {"seriesMatchingRules": [rule("SliceThickness", {"notNull": True},
                                                           **{"from": "instance",
                                                              "required": True})]}},
                       [grid(1, 1, "s")])
    assert HangingProtocols([current]).hang(opened(CT)).protocol.id == "current"
    # The instance has no SliceThickness: the required rule leaves the viewport empty.
    assert HangingProtocols([current]).hang(opened(CT)).viewports == (None,)


@pytest.mark.usefixtures("construction")
def test_custom_attributes() -> None:
    mpr_like = {"seriesMatchingRules": [
        rule("isReconstructable", {"equals": True}, required=True),
        rule("numImageFrames", {"greaterThan": 4}, weight=10)]}
    modalities = [rule("ModalitiesInStudy", {"contains": "CT"}, required=True),
                  rule("numberOfDisplaySetsWithImages", {"equals": 3}, required=True)]
    p = protocol("volumes", modalities, {"v": mpr_like}, [grid(1, 2, "v", ("v", 1))])
    view = HangingProtocols([p]).hang(opened(CT))
    assert view.protocol.id == "volumes"
    # Three-slice stacks are volumes; the one-image scout is not; none has 5 images.
    assert series_of(view) == ["1.1", "1.3"]
    longer_second = opened([*stack("4", "4.1", 1, 3), *stack("4", "4.2", 2, 5)])
    view = HangingProtocols([p]).hang(longer_second, protocol_id="volumes")
    assert series_of(view) == ["4.2", "4.1"]  # 5 images: +10


# ------------------------------------------------------------------ stages

@pytest.mark.usefixtures("construction")
def test_stage_activation_and_choice() -> None:
    p = protocol("staged", [rule("Modality", {"equals": "CT"})], {"s": ANY_SERIES, "never": {
        "seriesMatchingRules": [rule("Modality", {"equals": "PT"}, required=True)]}}, [
        grid(2, 2, "s", ("s", 1), ("s", 2), ("s", 3), id="four",
             stageActivation={"enabled": {"minViewportsMatched": 4}}),
        grid(1, 3, "s", ("s", 1), ("s", 2), id="three",
             stageActivation={"enabled": {"minViewportsMatched": 3}}),
        grid(1, 1, "never", id="pet",
             stageActivation={"passive": {"displaySetSelectorsMatched": ["never"]}}),
        grid(1, 1, "s", id="one"),
    ])
    protocols = HangingProtocols([p])
    view = protocols.hang(opened(CT))
    assert view.statuses == ("passive", "enabled", "disabled", "enabled")
    assert view.protocol.stages[view.stage_index].id == "three"  # the first enabled
    assert view.step(1) == 3 and view.step(-1) == 0  # the disabled one is skipped
    assert protocols.hang(opened(CT), stage_id="four").stage_index == 0  # passive: may show
    assert series_of(protocols.hang(opened(CT), stage_id="four")) == ["1.1", "1.2", "1.3", None]
    refused = protocols.hang(opened(CT), stage_id="pet")
    assert refused.stage_index == 1 and "'pet' of staged cannot be shown" in refused.notice
    unknown = protocols.hang(opened(CT), stage_id="nine")
    assert unknown.stage_index == 1 and "no stage 'nine'" in unknown.notice
    assert protocols.hang(opened(CT), stage_index=3).stage_index == 3
    only_pet = protocol("pet-only", [rule("Modality", {"equals": "CT"})], p[
        "displaySetSelectors"], [p["stages"][2]])
    fallback = HangingProtocols([only_pet]).hang(opened(CT))
    assert fallback.protocol.id == "default"
    assert "pet-only cannot be shown with these studies" in fallback.notice


@pytest.mark.usefixtures("construction")
def test_default_viewport_and_layout_options() -> None:
    p = protocol("custom", [rule("Modality", {"equals": "CT"})], {"s": ANY_SERIES}, [{
        "name": "big-left", "viewportStructure": {"properties": {
            "rows": 2, "columns": 2, "layoutOptions": [
                {"x": 0, "y": 0, "width": 0.5, "height": 1},
                {"x": 0.5, "y": 0, "width": 0.5, "height": 0.5},
                {"x": 0.5, "y": 0.5, "width": 0.5, "height": 0.5}]}},
        "viewports": [{"displaySets": [{"id": "s", "options": {
            "voi": {"windowCenter": 40, "windowWidth": 400}, "voiInverted": True}}],
            "viewportOptions": {"flipHorizontal": True, "rotation": 90,
                                "toolGroupId": "ignored"}}]}],
        defaultViewport={"displaySets": [{"id": "s", "matchedDisplaySetsIndex": -1}]})
    view = HangingProtocols([p]).hang(opened(CT))
    answer = view.to_json()
    assert answer["layout"]["layoutOptions"][0] == {"x": 0, "y": 0, "width": 0.5, "height": 1}
    assert series_of(view) == ["1.1", "1.2", "1.3"]  # the rest: the best not shown yet
    assert answer["viewportOptions"][0] == {"flipHorizontal": True, "rotation": 90, "voi": {
        "windowCenter": 40, "windowWidth": 400}, "voiInverted": True}
    assert answer["viewportOptions"][1] == {}


# ------------------------------------------------------------------ built-ins

@pytest.mark.usefixtures("construction")
def test_default_fills_the_saved_layout_initial_first_images_first() -> None:
    protocols = HangingProtocols()
    view = protocols.hang(opened(CT))
    assert (view.protocol.id, series_of(view), str(view.layout)) == ("default", ["1.1"], "1x1")
    view = protocols.hang(opened(CT), preferred=Layout(2, 2))
    assert series_of(view) == ["1.1", "1.2", "1.3", None]  # panel order
    view = protocols.hang(opened(CT), initial_series_instance_uid="1.3", preferred=Layout(1, 2))
    assert series_of(view) == ["1.3", "1.1"] and view.active == 0
    assert series_of(protocols.hang(opened(CT), initial_series_instance_uid="x")) == ["1.1"]


def test_default_hangs_image_stacks_before_documents_and_overlays() -> None:
    sr = image("5", "5.1", 1, z=None, modality="SR", sop_class=uid.BasicTextSRStorage)
    del sr.Rows, sr.Columns
    pdf = image("5", "5.2", 2, z=None, modality="DOC", sop_class=uid.EncapsulatedPDFStorage)
    del pdf.Rows, pdf.Columns
    seg = image("5", "5.3", 3, sop_class=uid.SegmentationStorage, NumberOfFrames=2)
    studies = opened([sr, pdf, seg, *stack("5", "5.4", 4)])
    assert [d.kind for d in studies[0][1]] == ["sr", "pdf", "seg", "image"]
    protocols = HangingProtocols()
    assert series_of(protocols.hang(studies, preferred=Layout(2, 2))) == [
        "5.4", "5.1", "5.2", "5.3"]
    # The initial series hangs first whatever its kind; with no images a document opens.
    assert series_of(protocols.hang(studies, initial_series_instance_uid="5.2")) == ["5.2"]
    assert series_of(protocols.hang([(studies[0][0], studies[0][1][:2])])) == ["5.1"]


@pytest.mark.usefixtures("construction")
def test_default_opens_several_studies_side_by_side() -> None:
    protocols = HangingProtocols()
    view = protocols.hang(opened(CT, PRIOR), preferred=Layout(3, 3))
    assert (str(view.layout), series_of(view)) == ("1x2", ["1.1", "2.1"])
    view = protocols.hang(opened(CT, PRIOR, stack("3", "3.1", 1)),
                          initial_series_instance_uid="2.2")
    assert (str(view.layout), series_of(view), view.active) == ("1x3", ["1.1", "2.2", "3.1"], 1)

    def studies(count: int) -> StageView:
        return protocols.hang(opened(*(stack(str(n), f"{n}.1", 1, 1) for n in range(count))))

    assert [str(studies(n).layout) for n in (1, 2, 3, 4, 5, 7, 10, 14)] == [
        "1x1", "1x2", "1x3", "2x2", "2x3", "3x3", "3x4", "3x4"]
    assert series_of(studies(5))[4:] == ["4.1", None]
    assert len(studies(14).viewports) == 12
    with pytest.raises(ValueError, match="no display sets"):
        protocols.hang([])


@pytest.mark.usefixtures("construction")
def test_compare_shows_current_and_prior_with_sync_by_stage() -> None:
    protocols = HangingProtocols()
    view = protocols.hang(opened(CT, PRIOR), protocol_id="@ohif/hpCompare")
    assert view.protocol.name == "Compare Two Studies"
    assert [s["id"] for s in view.to_json()["protocol"]["stages"]] == ["2x2", "2x1"]
    assert view.statuses == ("enabled", "enabled") and str(view.layout) == "2x2"
    # Current left, prior right; the second row the next display sets of each.
    assert series_of(view) == ["1.1", "2.1", "1.2", "2.2"] and view.sync_scroll
    assert series_of(protocols.hang(opened(CT, PRIOR), protocol_id="@ohif/hpCompare",
                                    stage_id="2x1")) == ["1.1", "2.1"]
    # A prior with one series: two viewports fill, so the 2x2 stage is only passive.
    one = protocols.hang(opened(CT, PRIOR[:5]), protocol_id="@ohif/hpCompare")
    assert one.statuses == ("passive", "enabled") and series_of(one) == ["1.1", "2.1"]
    # Never chosen by itself (as in OHIF's default mode): two studies open side by side.
    assert protocols.hang(opened(CT, PRIOR)).protocol.id == "default"


def mammo_view(laterality: str, position: str, number: int) -> Dataset:
    return image("7", f"7.{number}", number, z=None, modality="MG",
                 sop_class=uid.DigitalMammographyXRayImageStorageForPresentation,
                 ImageLaterality=laterality, ViewPosition=position,
                 description=f"{laterality} {position}")


@pytest.mark.usefixtures("construction")
def test_mammography_by_view_position_and_laterality() -> None:
    views = [mammo_view("L", "MLO", 1), mammo_view("R", "CC", 2), mammo_view("L", "CC", 3),
             mammo_view("R", "MLO", 4)]
    view = HangingProtocols().hang(opened(views))
    assert view.protocol.id == "@ohif/hpMammo" and str(view.layout) == "2x2"
    assert series_of(view) == ["7.2", "7.3", "7.4", "7.1"]  # R CC, L CC, R MLO, L MLO
    # A CT study is not mammography; two views are too few for the protocol.
    assert HangingProtocols().hang(opened(CT)).protocol.id == "default"
    assert HangingProtocols().hang(opened(views[:2])).protocol.id == "@ohif/hpMammo"
    assert HangingProtocols().hang(opened(views[:1])).protocol.id == "default"


@pytest.mark.usefixtures("construction")
def test_mpr_hangs_the_volume_or_says_why_not() -> None:
    protocols = HangingProtocols()
    view = protocols.hang(opened(CT), protocol_id="mpr")
    assert view.mpr == "mpr" and series_of(view) == ["1.1"]  # the first volume
    view = protocols.hang(opened(CT), protocol_id="primaryAxial",
                          initial_series_instance_uid="1.3", preferred=Layout(1, 2))
    assert view.mpr == "primaryAxial" and series_of(view) == ["1.3", "1.1"]
    scout_only = opened([image("1", "1.2", 2)])
    view = protocols.hang(scout_only, protocol_id="mpr")
    assert view.mpr is None and view.protocol.id == "default"
    reason = scout_only[0][1][0].reconstruction.note
    assert view.notice == f"MPR cannot be shown: this series: {reason}."
    unknown = protocols.hang(opened(CT), protocol_id="@site/none")
    assert unknown.protocol.id == "default"
    assert unknown.notice == "No hanging protocol named '@site/none': the default layout is shown."


MR_T2_T1 = protocol(
    "@site/mr-t2-t1", [rule("ModalitiesInStudy", {"contains": "MR"}, required=True, weight=10)],
    {"T2": {"seriesMatchingRules": [rule("SeriesDescription", {"containsI": "t2"},
                                         required=True)]},
     "T1": {"seriesMatchingRules": [rule("SeriesDescription", {"containsI": "t1"},
                                         required=True)]}},
    [grid(1, 2, "T2", "T1")])


@pytest.mark.usefixtures("construction")
def test_a_site_protocol_from_the_config_arranges_an_mr() -> None:
    config = AppConfig.from_json({"dataSources": [{
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb", "sourceName": "s",
        "configuration": {"name": "s", "qidoRoot": "/q", "wadoRoot": "/w"}}],
        "hangingProtocols": [MR_T2_T1]})
    protocols = HangingProtocols(config.hangingProtocols)
    mr = [*stack("8", "8.1", 1, modality="MR", description="AX T1 SE"),
          *stack("8", "8.2", 2, modality="MR", description="AX T2 FSE")]
    view = protocols.hang(opened(mr))
    assert view.protocol.id == "@site/mr-t2-t1" and series_of(view) == ["8.2", "8.1"]
    assert protocols.hang(opened(CT)).protocol.id == "default"


# ------------------------------------------------------------------ invalid protocols

def broken(path: list[Any], value: Any) -> dict[str, Any]:
    p = copy.deepcopy(MR_T2_T1)
    node = p
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return p


@pytest.mark.parametrize(("path", "value", "message"), [
    (["id"], "", "needs an id"),
    (["stages"], [], "stages: needs at least one stage"),
    (["displaySetSelectors"], KeyError, "needs 'displaySetSelectors'"),
    (["stagez"], 1, "unknown key 'stagez'"),
    (["protocolMatchingRules", 0, "constraint"], {"equal": "MR"}, "unknown key 'equal'"),
    (["protocolMatchingRules", 0, "constraint"], {}, "constraint: needs an operator"),
    (["protocolMatchingRules", 0, "weight"], "ten", "protocolMatchingRules[0].weight"),
    (["protocolMatchingRules", 0, "from"], "past", "from: must be one of"),
    (["protocolMatchingRules", 0, "attribute"], KeyError, "needs 'attribute'"),
    (["displaySetSelectors", "T2", "seriesMatchingRules"], KeyError,
     "displaySetSelectors.T2: needs 'seriesMatchingRules'"),
    (["stages", 0, "viewports", 0, "displaySets", 0, "id"], "T3",
     "stages[0].viewports[0].displaySets[0].id: 'T3' is not a displaySetSelectors key"),
    (["stages", 0, "viewportStructure", "properties", "rows"], 9,
     "properties.rows: must be an integer from 1 to 3"),
    (["stages", 0, "viewportStructure", "properties", "columns"], 1,
     "2 viewports do not fit 1x1"),
    (["stages", 0, "viewports", 0, "viewportOptions"], {"viewportType": "volume"},
     "a volume viewport needs one of axial"),
    (["stages", 0, "viewports", 0, "viewportOptions"], {"rotation": 45},
     "rotation: must be 0, 90, 180 or 270"),
    (["stages", 0, "viewports", 0, "displaySets", 0, "options"], {"voi": {"windowCenter": 1}},
     "options.voi: needs 'windowWidth'"),
    (["stages", 0, "stageActivation"], {"enabled": {"minViewportsMatched": -1}},
     "minViewportsMatched: must be an integer"),
    (["stages", 0, "viewportStructure", "properties", "layoutOptions"],
     [{"x": 0.5, "y": 0, "width": 0.8, "height": 1}, {"x": 0, "y": 0, "width": 1, "height": 1}],
     "layoutOptions[0]: must lie within the grid"),
])
def test_invalid_protocols_are_refused_naming_the_key(path: list[Any], value: Any,
                                                      message: str) -> None:
    with pytest.raises(ProtocolError, match="hanging protocol") as error:
        HangingProtocols([broken(path, value)])
    assert message in str(error.value)


def test_the_config_refuses_a_bad_protocol_at_start_up() -> None:
    source = {"namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
              "sourceName": "s", "configuration": {"name": "s", "qidoRoot": "/q",
                                                   "wadoRoot": "/w"}}
    with pytest.raises(ConfigError, match=r"'@site/mr-t2-t1': stages\[0\].viewports\[0\]"):
        AppConfig.from_json({"dataSources": [source], "hangingProtocols": [
            broken(["stages", 0, "viewports", 0, "displaySets", 0, "id"], "T3")]})
    with pytest.raises(ConfigError, match="hangingProtocols must be a list"):
        AppConfig.from_json({"dataSources": [source], "hangingProtocols": {"id": "x"}})
    volume = broken(["stages", 0, "viewports", 0, "viewportOptions"],
                    {"viewportType": "volume", "orientation": "axial"})
    with pytest.raises(ConfigError, match="volume viewports are shown by the mpr"):
        AppConfig.from_json({"dataSources": [source], "hangingProtocols": [volume]})
    # A site protocol may replace a built-in of the same id.
    mammo = {**MR_T2_T1, "id": "@ohif/hpMammo"}
    assert HangingProtocols([mammo]).protocols["@ohif/hpMammo"].name == "@ohif/hpMammo"


# ------------------------------------------------------------------ priors

def study(uid_: str, date: str, description: str = "") -> Study:
    return Study(uid_, "Doe^Jane", "P1", date, "080000", description)


def test_study_tabs_primary_recent_all_newest_first() -> None:
    current, prior, old, undated = (study("1", "20240310"), study("2", "20230915"),
                                    study("3", "20210505"), study("4", ""))
    later = study("5", "20250101")
    tabs = study_tabs(["1"], [old, undated, prior, current, later], opened=["1"])
    assert [t["label"] for t in tabs] == ["Primary", "Recent", "All"]
    uids = {t["name"]: [s["studyInstanceUID"] for s in t["studies"]] for t in tabs}
    assert uids == {"primary": ["1"], "recent": ["5", "1", "2"], "all": ["5", "1", "2", "3", "4"]}
    assert [s["opened"] for s in tabs[2]["studies"]] == [False, True, False, False, False]
    assert tabs[2]["studies"][1]["displayDate"] == "2024-03-10 08:00"
    # Within 365 days of the oldest primary study, both studies primary.
    tabs = study_tabs(["1", "2"], [current, prior, study("6", "20220915"),
                                   study("7", "20220914")])
    assert [s["studyInstanceUID"] for s in tabs[1]["studies"]] == ["1", "2", "6"]


def test_relative_position_maps_first_to_first_and_last_to_last() -> None:
    assert [relative_index(i, 24, 30) for i in (0, 10, 23)] == [0, 13, 29]
    assert relative_index(5, 1, 10) == 0 and relative_index(5, 10, 1) == 0
