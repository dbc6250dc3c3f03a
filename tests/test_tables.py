"""ohifpy.viewer.tables: what the page builds its controls from is Python's own definitions,
sent with ``init``'s answer (runs under Pyodide too: no event loop, no network)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pydicom import Dataset
from support.coroutines import complete

from ohifpy.dicomweb.transport import Response
from ohifpy.hanging import MAX_COLUMNS, MAX_ROWS, Layout
from ohifpy.measure import QUANTITY_LABELS, TOOLS, ImageGeometry, measure
from ohifpy.model import Series, Study
from ohifpy.study_list import (
    COLUMNS,
    LIST_PARAMS,
    MODALITY_CHOICES,
    SERIES_COLUMNS,
    SORT_DIRECTIONS,
    SORT_KEYS,
    StudyListState,
    series_row,
    study_row,
)
from ohifpy.viewer.tables import tables
from ohifpy.worker_api import WorkerAPI

GEOMETRY = ImageGeometry(rows=32, columns=32, spacing=(0.5, 0.5), spacing_source="PixelSpacing",
                         position=(0.0, 0.0, 0.0), orientation=(1, 0, 0, 0, 1, 0))


class NoNetwork:
    """A transport for a test that must not make requests."""

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        raise AssertionError(f"no request expected: {method} {url}")

    async def aclose(self) -> None:
        pass


def test_init_answers_the_tables_once_as_json() -> None:
    worker = WorkerAPI(NoNetwork())
    config = {"dataSources": [{"sourceName": "pacs", "configuration": {
        "name": "pacs", "qidoRoot": "/dicom-web", "wadoRoot": "/dicom-web"}}]}
    answer = complete(worker.handle("init", {"config": config, "baseUrl": "http://x/"}))
    assert answer["result"]["tables"] == tables()
    assert json.loads(json.dumps(tables())) == tables()  # crosses to the page as it is


def test_tools_are_measures_tools_in_order_with_labels_and_gestures() -> None:
    tools = tables()["tools"]
    assert [t["name"] for t in tools] == list(TOOLS)
    assert [t["label"] for t in tools] == [
        "Length", "Bidirectional", "Angle", "Cobb angle", "Rectangle", "Ellipse", "Circle",
        "Freehand", "Probe", "Arrow"]
    for tool in tools:
        spec = TOOLS[tool["name"]]
        if tool["gestures"] == "path":
            continue
        placed = sum(tool["gestures"])
        # The page adds the short axis across a Bidirectional's long axis.
        placed += 2 if spec.name == "Bidirectional" else 0
        assert spec.fewest_points <= placed <= spec.most_points, spec


@pytest.mark.parametrize("name", list(TOOLS))
def test_every_value_a_tool_measures_has_a_label_but_the_pixel_count(name: str) -> None:
    points = {"Angle": [(4, 4), (10, 4), (10, 10)], "Probe": [(5, 5)],
              "PlanarFreehandROI": [(4, 4), (12, 4), (12, 12)],
              "Bidirectional": [(4, 8), (20, 8), (12, 6), (12, 10)],
              "CobbAngle": [(4, 4), (12, 4), (4, 10), (12, 14)]}.get(name, [(4, 4), (12, 10)])
    values = np.arange(32 * 32, dtype=float).reshape(32, 32)
    result = measure(name, points, GEOMETRY, values, "HU", "text")
    shown = tables()["quantities"]
    assert shown == dict(QUANTITY_LABELS)
    assert {q.name for q in result.values} - set(shown) <= {"pixelCount"}


def test_layout_limits_are_the_hanging_layouts() -> None:
    layout = tables()["layout"]
    assert layout == {"maxRows": MAX_ROWS, "maxColumns": MAX_COLUMNS}
    assert str(Layout(layout["maxRows"], layout["maxColumns"])) == "3x4"  # the largest
    for rows, columns in ((layout["maxRows"] + 1, 1), (1, layout["maxColumns"] + 1)):
        with pytest.raises(ValueError, match="a layout has 1 to 3 rows and 1 to 4 columns"):
            Layout(rows, columns)


def test_study_list_columns_sort_keys_and_parameters() -> None:
    study_list = tables()["studyList"]
    columns = study_list["columns"]
    assert [c["name"] for c in columns] == [c.name for c in COLUMNS] == list(SORT_KEYS)
    assert [c["title"] for c in columns] == [
        "Patient name", "MRN", "Study date", "Description", "Modality", "Accession", "Instances"]
    assert study_list["params"] == list(LIST_PARAMS)
    assert study_list["modalities"] == list(MODALITY_CHOICES)
    assert study_list["sortDirections"] == list(SORT_DIRECTIONS)
    # Each field shown is in a row; each filter's parameters are the list's and reach the query.
    row = study_row(Study.from_dataset(_study()))
    assert {c["field"] for c in columns} <= set(row)
    assert [c["filter"] for c in columns] == [
        "text", "text", "dateRange", "text", "modalities", "text", ""]
    every = {"patientName": "A", "mrn": "B", "description": "C", "accession": "D",
             "startDate": "20200101", "endDate": "20201231", "modalities": "CT,MR",
             "sortBy": "mrn", "sortDirection": "descending", "pageNumber": "2",
             "datasources": "pacs"}
    assert {p for c in columns for p in c["params"]} <= set(LIST_PARAMS)
    assert list(StudyListState.from_params(every).to_params()) == list(LIST_PARAMS)
    series = series_row(Series.from_dataset(_study()))
    assert [c["field"] for c in study_list["seriesColumns"]] == [f for _, f in SERIES_COLUMNS]
    assert {c["field"] for c in study_list["seriesColumns"]} <= set(series)


def _study() -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID = ds.SeriesInstanceUID = "1.2.3"
    ds.PatientName, ds.StudyDate, ds.Modality = "Doe^J", "20240105", "CT"
    return ds
