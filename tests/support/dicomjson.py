"""Write OHIF dicomjson files for DICOM files served over HTTP (tests and the demo).

The output is what OHIF's ``.scripts/dicom-json-generator.js`` writes: study, series and
instance levels, each instance's naturalized ``metadata`` (the generator's selection of
attributes) and its ``url`` as ``dicomweb:<base URL><path under root>``; a multi-frame
instance is listed once per frame with ``?frame=N`` (1-based).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom import DataElement, Dataset, dcmread

__all__ = ["dicomjson_document", "write_dicomjson"]

_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW"})

STUDY_KEYWORDS = (
    "StudyInstanceUID", "StudyDescription", "StudyDate", "StudyTime", "PatientName",
    "PatientID", "AccessionNumber", "PatientAge", "PatientSex", "PatientWeight",
)
SERIES_KEYWORDS = (
    "SeriesInstanceUID", "SeriesDescription", "SeriesNumber", "SeriesTime", "Modality",
    "SliceThickness",
)
INSTANCE_KEYWORDS = (
    "Columns", "Rows", "InstanceNumber", "SOPClassUID", "AcquisitionNumber",
    "PhotometricInterpretation", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "SamplesPerPixel", "PixelSpacing", "HighBit", "ImageOrientationPatient",
    "ImagePositionPatient", "FrameOfReferenceUID", "ImageType", "Modality", "SOPInstanceUID",
    "SeriesInstanceUID", "StudyInstanceUID", "WindowCenter", "WindowWidth",
    "RescaleIntercept", "RescaleSlope",
    # the generator's conditional ones, when present
    "SeriesDate", "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
    "AcquisitionDate", "AcquisitionTime", "NumberOfFrames", "FrameTime",
)


def dicomjson_document(files: Sequence[Path], root: Path, base_url: str) -> dict[str, Any]:
    """The dicomjson of ``files``, each served at ``base_url`` + its path under ``root``."""
    studies: dict[str, dict[str, Any]] = {}
    for path in files:
        ds = dcmread(path, stop_before_pixels=True)
        study = studies.get(ds.StudyInstanceUID)
        if study is None:
            study = studies[ds.StudyInstanceUID] = {**_natural(ds, STUDY_KEYWORDS), "series": []}
        series = next((s for s in study["series"]
                       if s["SeriesInstanceUID"] == ds.SeriesInstanceUID), None)
        if series is None:
            series = {**_natural(ds, SERIES_KEYWORDS), "instances": []}
            study["series"].append(series)
        url = f"dicomweb:{base_url}{path.relative_to(root).as_posix()}"
        metadata = _natural(ds, INSTANCE_KEYWORDS)
        frames = int(ds.get("NumberOfFrames") or 1)
        if frames > 1:
            series["instances"] += [{"metadata": metadata, "url": f"{url}?frame={n}"}
                                    for n in range(1, frames + 1)]
        else:
            series["instances"].append({"metadata": metadata, "url": url})
    for study in studies.values():
        study["NumInstances"] = sum(len(s["instances"]) for s in study["series"])
        study["Modalities"] = "/".join(dict.fromkeys(s.get("Modality", "")
                                                     for s in study["series"]))
    return {"studies": list(studies.values())}


def write_dicomjson(out: Path, files: Sequence[Path], root: Path, base_url: str) -> dict[str, Any]:
    """Write :func:`dicomjson_document` to ``out``; returns the document."""
    document = dicomjson_document(files, root, base_url)
    out.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    return document


def _natural(ds: Dataset, keywords: Sequence[str]) -> dict[str, Any]:
    """The ``keywords`` ``ds`` has a value for, naturalized as dcmjs does (bulk data left
    out: the generator's JSON has none)."""
    return {keyword: _value(ds[keyword]) for keyword in keywords
            if keyword in ds and _kept(ds[keyword])}


def _kept(element: DataElement) -> bool:
    return bool(element.keyword) and not element.is_empty and element.VR not in _BINARY_VRS


def _value(element: DataElement) -> Any:
    if element.VR == "SQ":
        return [{e.keyword: _value(e) for e in item if _kept(e)} for item in element.value]
    values = [_scalar(element.VR, v) for v in
              (element.value if element.VM > 1 else [element.value])]
    return values if element.VM > 1 else values[0]


def _scalar(vr: str, value: Any) -> Any:
    if vr == "DS":
        return float(value)
    if vr == "IS":
        return int(value)
    if isinstance(value, (int, float)):
        return value
    return str(value)
