"""Measurements as a DICOM SR Measurement Report (PS3.16 TID 1500), written and read back.

The document is a Comprehensive 3D SR (what highdicom and OHIF write for TID 1500):

* root CONTAINER (126000, DCM, "Imaging Measurement Report") with the language
  (TID 1204), a device observer (TID 1001/1004), the procedure reported, an Image
  Library (TID 1600) of every image measured, and Imaging Measurements;
* one Measurement Group per measurement, its label the Tracking Identifier, its
  ``uid`` the Tracking Unique Identifier:

  - lines and angles as TID 1501 groups: a NUM (Length, Long Axis, Short Axis,
    Angle, Cobb angle) INFERRED FROM the SCOORD it was measured on;
  - ROIs, probes and arrows as TID 1410 groups: the SCOORD Image Region (CIRCLE,
    ELLIPSE, closed POLYLINE, POINT, or an arrow's open POLYLINE from tip to tail)
    and NUMs for area, mean, standard deviation, minimum and maximum (a probe's value
    is the mean over its one pixel); an arrow's text is a Comment TEXT item.

Each SCOORD is SELECTED FROM the IMAGE (SOP instance, and frame of a multi-frame
one). SR graphic coordinates put the top-left corner of the image at (0, 0), half a
pixel from :mod:`ohifpy.measure`'s pixel-centre coordinates: the writer and the reader
convert. The reader finds the tool from the concepts and graphic types, not from
anything private, so groups shaped as OHIF (dcmjs) and highdicom write them (NUMs
INFERRED FROM SCOORDs, or an Image Region) read the same way; only reports written
here are tested. dcmjs writes cornerstone's pixel-centre coordinates, so its
marks come back half a pixel off, and an ellipse that is not axis-aligned comes
back as its bounding box.

Written on pydicom rather than highdicom (the library of choice for SR in Python)
because highdicom needs pillow-jpls, a C extension without a Pyodide build, and this
module has to run in the browser worker.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EnhancedSRStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from . import __version__
from .measure import (
    ImageReference,
    Measurement,
    MeasurementError,
    MeasurementResult,
    Quantity,
)

__all__ = [
    "SR_STORAGE_CLASSES",
    "is_measurement_report",
    "latest_reports",
    "read_measurement_report",
    "write_measurement_report",
]

SR_STORAGE_CLASSES = frozenset({Comprehensive3DSRStorage, ComprehensiveSRStorage,
                                EnhancedSRStorage})
DEVICE_OBSERVER_UID = generate_uid(entropy_srcs=["ohifpy measurement report device"])
"""The viewer as the report's observer: the same UID (under pydicom's root) in every report."""


@dataclass(frozen=True)
class Code:
    """A coded concept (value, scheme, meaning)."""

    value: str
    scheme: str
    meaning: str

    def dataset(self) -> Dataset:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = (
            self.value, self.scheme, self.meaning)
        return item

    def matches(self, item: Dataset | None) -> bool:
        return item is not None and (str(item.get("CodeValue", "")),
                                     str(item.get("CodingSchemeDesignator", ""))) == (
            self.value, self.scheme)


REPORT = Code("126000", "DCM", "Imaging Measurement Report")
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH = Code("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
DEVICE = Code("121007", "DCM", "Device")
DEVICE_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_NAME = Code("121013", "DCM", "Device Observer Name")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
IMAGING_PROCEDURE = Code("363679005", "SCT", "Imaging procedure")
IMAGE_LIBRARY = Code("111028", "DCM", "Image Library")
IMAGE_LIBRARY_GROUP = Code("126200", "DCM", "Image Library Group")
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
TRACKING_ID = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
IMAGE_REGION = Code("111030", "DCM", "Image Region")
COMMENT = Code("121106", "DCM", "Comment")

QUANTITY_CODES = {
    "length": Code("410668003", "SCT", "Length"),
    "longAxis": Code("103339001", "SCT", "Long Axis"),
    "shortAxis": Code("103340004", "SCT", "Short Axis"),
    "area": Code("42798000", "SCT", "Area"),
    "mean": Code("373098007", "SCT", "Mean"),
    "stdDev": Code("386136009", "SCT", "Standard Deviation"),
    "min": Code("255605001", "SCT", "Minimum"),
    "max": Code("56851009", "SCT", "Maximum"),
    "value": Code("373098007", "SCT", "Mean"),  # a probe: the mean of its one pixel
}
ANGLE = Code("1483009", "SCT", "Angle")
COBB_ANGLE = Code("285285000", "SCT", "Cobb angle")
UNIT_CODES = {
    "mm": Code("mm", "UCUM", "millimeter"),
    "mm²": Code("mm2", "UCUM", "square millimeter"),
    "px": Code("{pixel}", "UCUM", "pixel"),
    "px²": Code("{pixel2}", "UCUM", "square pixel"),
    "°": Code("deg", "UCUM", "degree"),
    "HU": Code("[hnsf'U]", "UCUM", "Hounsfield unit"),
    "modality units": Code("1", "UCUM", "no units"),
}
LINE_TOOLS = {
    "Length": (("length", QUANTITY_CODES["length"]),),
    "Bidirectional": (("longAxis", QUANTITY_CODES["longAxis"]),
                      ("shortAxis", QUANTITY_CODES["shortAxis"])),
    "Angle": (("angle", ANGLE),),
    "CobbAngle": (("angle", COBB_ANGLE),),
}
"""The NUMs of each line tool, each inferred from its own SCOORD."""
REGION_QUANTITIES = ("area", "mean", "stdDev", "min", "max")


def write_measurement_report(
    measurements: Sequence[Measurement],
    study: Dataset,
    *,
    series_number: int = 9001,
    instance_number: int = 1,
    now: datetime.datetime | None = None,
) -> Dataset:
    """A Comprehensive 3D SR holding ``measurements`` (all on images of one study).

    ``study`` is the metadata of one measured image: the patient and study modules are
    copied from it. The result has file meta, ready to store (STOW-RS) or save.
    Values that could not be computed (an ROI with no pixel inside) are left out.
    """
    if not measurements:
        raise MeasurementError("no measurements to save")
    study_uid = str(study.get("StudyInstanceUID", ""))
    other = {m.image.study_instance_uid for m in measurements} - {study_uid}
    if other:
        raise MeasurementError(f"measurements of other studies ({', '.join(sorted(other))}) "
                               f"cannot go into a report of study {study_uid}")
    now = now or datetime.datetime.now(datetime.UTC)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = Comprehensive3DSRStorage
    ds.SOPInstanceUID = generate_uid()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName",
                    "StudyID", "AccessionNumber"):
        setattr(ds, keyword, study.get(keyword, ""))
    ds.Modality = "SR"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "Measurements"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.Manufacturer = "ohifpy"
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = []
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(measurements)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [REPORT.dataset()]
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "1500"
    ds.ContentTemplateSequence = [template]
    images = list({m.image.sop_instance_uid: m.image for m in measurements}.values())
    ds.ContentSequence = [
        _code("HAS CONCEPT MOD", LANGUAGE, ENGLISH),
        _code("HAS OBS CONTEXT", OBSERVER_TYPE, DEVICE),
        _uidref("HAS OBS CONTEXT", DEVICE_UID, DEVICE_OBSERVER_UID),
        _text("HAS OBS CONTEXT", DEVICE_NAME, "ohifpy"),
        _code("HAS CONCEPT MOD", PROCEDURE_REPORTED, IMAGING_PROCEDURE),
        _container(IMAGE_LIBRARY, [_container(IMAGE_LIBRARY_GROUP, [
            _image("CONTAINS", image) for image in images])]),
        _container(IMAGING_MEASUREMENTS, [
            _measurement_group(index, m) for index, m in enumerate(measurements, 1)]),
    ]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
        ds.SOPClassUID, ds.SOPInstanceUID)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def _evidence(measurements: Sequence[Measurement]) -> list[Dataset]:
    """CurrentRequestedProcedureEvidenceSequence: study > series > the SOP instances measured."""
    by_series: dict[str, dict[str, ImageReference]] = {}
    for m in measurements:
        by_series.setdefault(m.image.series_instance_uid, {})[m.image.sop_instance_uid] = m.image
    study = Dataset()
    study.StudyInstanceUID = measurements[0].image.study_instance_uid
    study.ReferencedSeriesSequence = []
    for series_uid, images in by_series.items():
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.ReferencedSOPSequence = []
        for image in images.values():
            sop = Dataset()
            sop.ReferencedSOPClassUID = image.sop_class_uid
            sop.ReferencedSOPInstanceUID = image.sop_instance_uid
            series.ReferencedSOPSequence.append(sop)
        study.ReferencedSeriesSequence.append(series)
    return [study]


def _content_item(relationship: str, value_type: str, name: Code | None,
                  **value: object) -> Dataset:
    """A content item; ``value`` is its value attribute(s) by keyword (TextValue=...)."""
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    if name is not None:
        item.ConceptNameCodeSequence = [name.dataset()]
    for keyword, attribute in value.items():
        setattr(item, keyword, attribute)
    return item


def _code(relationship: str, name: Code, value: Code) -> Dataset:
    return _content_item(relationship, "CODE", name, ConceptCodeSequence=[value.dataset()])


def _text(relationship: str, name: Code, value: str) -> Dataset:
    return _content_item(relationship, "TEXT", name, TextValue=value)


def _uidref(relationship: str, name: Code, value: str) -> Dataset:
    return _content_item(relationship, "UIDREF", name, UID=value)


def _container(name: Code, children: list[Dataset]) -> Dataset:
    return _content_item("CONTAINS", "CONTAINER", name, ContinuityOfContent="SEPARATE",
                         ContentSequence=children)


def _image(relationship: str, image: ImageReference) -> Dataset:
    item = _content_item(relationship, "IMAGE", None)
    sop = Dataset()
    sop.ReferencedSOPClassUID = image.sop_class_uid
    sop.ReferencedSOPInstanceUID = image.sop_instance_uid
    if image.number_of_frames > 1:
        sop.ReferencedFrameNumber = image.frame_number
    item.ReferencedSOPSequence = [sop]
    return item


def _scoord(relationship: str, name: Code | None, graphic_type: str,
            points: Sequence[tuple[float, float]], image: ImageReference) -> Dataset:
    """A SCOORD on ``image``; points go from pixel-centre to SR (top-left corner) coordinates."""
    item = _content_item(relationship, "SCOORD", name)
    item.GraphicType = graphic_type
    item.GraphicData = [v + 0.5 for point in points for v in point]
    item.ContentSequence = [_image("SELECTED FROM", image)]
    return item


def _num(name: Code, quantity: Quantity) -> Dataset:
    item = _content_item("CONTAINS", "NUM", name)
    value = Dataset()
    value.NumericValue = _decimal_string(quantity.value or 0.0)
    value.FloatingPointValue = float(quantity.value or 0.0)
    unit = UNIT_CODES.get(quantity.unit) or Code(f"{{{quantity.unit}}}", "UCUM", quantity.unit)
    value.MeasurementUnitsCodeSequence = [unit.dataset()]
    item.MeasuredValueSequence = [value]
    return item


def _decimal_string(value: float) -> str:
    """The value in at most 16 characters (DS), as precisely as that allows."""
    for digits in range(15, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(f"{value!r} does not fit a decimal string")


def _region(result: MeasurementResult) -> tuple[str, list[tuple[float, float]]]:
    """The SCOORD graphic type and points of an ROI, probe or arrow."""
    pts = list(result.points)
    if result.tool == "CircleROI":
        return "CIRCLE", pts
    if result.tool == "EllipticalROI":
        (x0, y0), (x1, y1) = pts
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        horizontal = [(x0, cy), (x1, cy)]
        vertical = [(cx, y0), (cx, y1)]
        return "ELLIPSE", horizontal + vertical if x1 - x0 >= y1 - y0 else vertical + horizontal
    if result.tool == "RectangleROI":
        (x0, y0), (x1, y1) = pts
        return "POLYLINE", [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    if result.tool == "PlanarFreehandROI":
        return "POLYLINE", pts + pts[:1]
    return ("POINT", pts) if result.tool == "Probe" else ("POLYLINE", pts)


def _measurement_group(index: int, m: Measurement) -> Dataset:
    """TID 1501 (lines, angles) or TID 1410 (regions, probe, arrow) group of one measurement."""
    result = m.result
    children = [
        _text("HAS OBS CONTEXT", TRACKING_ID, m.label or f"{result.tool} {index}"),
        _uidref("HAS OBS CONTEXT", TRACKING_UID, m.uid or generate_uid()),
    ]
    if result.tool in LINE_TOOLS:
        point_sets = ([result.points[:2], result.points[2:]] if result.tool == "Bidirectional"
                      else [result.points])
        for (name, code), line in zip(LINE_TOOLS[result.tool], point_sets, strict=True):
            quantity = result.value(name)
            if quantity is None or quantity.value is None:
                continue
            num = _num(code, quantity)
            num.ContentSequence = [_scoord("INFERRED FROM", None, "POLYLINE", line, m.image)]
            children.append(num)
    else:
        graphic_type, points = _region(result)
        children.append(_scoord("CONTAINS", IMAGE_REGION, graphic_type, points, m.image))
        if result.text:
            children.append(_text("CONTAINS", COMMENT, result.text))
        for name in ("value", *REGION_QUANTITIES):
            quantity = result.value(name)
            if quantity is not None and quantity.value is not None:
                children.append(_num(QUANTITY_CODES[name], quantity))
    return _container(MEASUREMENT_GROUP, children)


# ---------------------------------------------------------------- reading


def is_measurement_report(ds: Dataset) -> bool:
    """Whether ``ds`` is an SR whose root is an Imaging Measurement Report (TID 1500)."""
    names = ds.get("ConceptNameCodeSequence") or []
    return str(ds.get("SOPClassUID", "")) in SR_STORAGE_CLASSES and bool(names) and \
        REPORT.matches(names[0])


def latest_reports(datasets: Iterable[Dataset]) -> list[Dataset]:
    """The newest measurement report of each study among ``datasets`` (a study's metadata).

    Every save stores all of a study's measurements, so the newest report (by content
    date and time, then instance number) is the current state; older ones are history.
    """
    newest: dict[str, Dataset] = {}
    for ds in datasets:
        if not is_measurement_report(ds):
            continue
        study = str(ds.get("StudyInstanceUID", ""))
        if study not in newest or _report_order(ds) > _report_order(newest[study]):
            newest[study] = ds
    return list(newest.values())


def _report_order(ds: Dataset) -> tuple[str, str, int]:
    number = ds.get("InstanceNumber")
    return (str(ds.get("ContentDate", "")), str(ds.get("ContentTime", "")),
            int(number) if number not in (None, "") else 0)


def read_measurement_report(ds: Dataset) -> list[Measurement]:
    """The measurements of a TID 1500 report, on the images they reference.

    Groups this reader cannot place on an image (no SCOORD, or a SCOORD3D) are skipped.
    """
    if not is_measurement_report(ds):
        raise MeasurementError("not a DICOM SR Imaging Measurement Report (TID 1500)")
    series_of = {
        str(sop.ReferencedSOPInstanceUID): (str(study.StudyInstanceUID),
                                            str(series.SeriesInstanceUID))
        for study in ds.get("CurrentRequestedProcedureEvidenceSequence") or []
        for series in study.get("ReferencedSeriesSequence") or []
        for sop in series.get("ReferencedSOPSequence") or []
    }
    patient = {"PatientName": str(ds.get("PatientName", "") or ""),
                "PatientID": str(ds.get("PatientID", "") or "")}
    found = []
    for group in _walk(ds):
        if not MEASUREMENT_GROUP.matches(_name(group)):
            continue
        measurement = _read_group(group, series_of, str(ds.get("StudyInstanceUID", "")), patient)
        if measurement is not None:
            found.append(measurement)
    return found


def _walk(item: Dataset) -> Iterator[Dataset]:
    for child in item.get("ContentSequence") or []:
        yield child
        yield from _walk(child)


def _name(item: Dataset) -> Dataset | None:
    names = item.get("ConceptNameCodeSequence") or []
    return names[0] if names else None


def _read_group(group: Dataset, series_of: dict[str, tuple[str, str]], study_uid: str,
                patient: dict[str, str]) -> Measurement | None:
    label, uid, text = "", "", ""
    quantities: list[Quantity] = []
    scoords: list[Dataset] = []
    line_concepts: list[str] = []
    for item in group.get("ContentSequence") or []:
        name, value_type = _name(item), str(item.get("ValueType", ""))
        if value_type == "TEXT" and TRACKING_ID.matches(name):
            label = str(item.get("TextValue", ""))
        elif value_type == "UIDREF" and TRACKING_UID.matches(name):
            uid = str(item.get("UID", ""))
        elif value_type == "TEXT" and COMMENT.matches(name):
            text = str(item.get("TextValue", ""))
        elif value_type == "SCOORD":
            scoords.append(item)
        elif value_type == "NUM":
            quantity, concept = _read_num(item)
            if quantity is not None:
                quantities.append(quantity)
                line_concepts.append(concept)
            scoords += [c for c in item.get("ContentSequence") or []
                        if str(c.get("ValueType", "")) == "SCOORD"]
    if not scoords:
        return None
    image = _selected_image(scoords[0], series_of, study_uid)
    if image is None:
        return None
    points = [_points(s) for s in scoords]
    tool, pts = _tool_of(line_concepts, scoords, points, bool(text))
    if tool == "Probe":
        quantities = [Quantity("value", q.value, q.unit) for q in quantities if q.name == "mean"]
    result = MeasurementResult(tool, tuple(pts), tuple(quantities), (), text)
    return Measurement(uid, label, image, result, patient)


def _read_num(item: Dataset) -> tuple[Quantity | None, str]:
    """A NUM's value as a Quantity named as :mod:`ohifpy.measure` names it, and its concept."""
    name, values = _name(item), item.get("MeasuredValueSequence") or []
    if name is None or not values:
        return None, ""
    value = values[0]
    number = value.get("FloatingPointValue")
    number = float(number) if number is not None else float(value.NumericValue)
    units = value.get("MeasurementUnitsCodeSequence") or []
    unit = next((display for display, code in UNIT_CODES.items() if units
                 and code.matches(units[0])), str(units[0].CodeMeaning) if units else "")
    if ANGLE.matches(name) or COBB_ANGLE.matches(name):
        return Quantity("angle", number, unit), str(name.CodeValue)
    key = next((k for k, code in QUANTITY_CODES.items() if k != "value" and code.matches(name)),
               None)
    return (None, "") if key is None else (Quantity(key, number, unit), key)


def _selected_image(scoord: Dataset, series_of: dict[str, tuple[str, str]],
                    study_uid: str) -> ImageReference | None:
    for child in scoord.get("ContentSequence") or []:
        refs = child.get("ReferencedSOPSequence") or []
        if str(child.get("ValueType", "")) == "IMAGE" and refs:
            sop_uid = str(refs[0].ReferencedSOPInstanceUID)
            study, series = series_of.get(sop_uid, (study_uid, ""))
            frames = refs[0].get("ReferencedFrameNumber")
            frame = int(frames[0] if isinstance(frames, Sequence) and frames else frames or 1)
            # A frame is named only on a multi-frame image: how many it has is not said.
            return ImageReference(study, series, sop_uid,
                                  str(refs[0].get("ReferencedSOPClassUID", "")), frame,
                                  number_of_frames=max(frame, 2) if frames else 1)
    return None


def _points(scoord: Dataset) -> list[tuple[float, float]]:
    data = [float(v) - 0.5 for v in scoord.get("GraphicData") or []]
    return list(zip(data[0::2], data[1::2], strict=True))


def _tool_of(concepts: list[str], scoords: list[Dataset], points: list[list[tuple[float, float]]],
             has_text: bool) -> tuple[str, list[tuple[float, float]]]:
    """Which tool drew this group, and its points as :func:`ohifpy.measure.measure` takes them."""
    graphic_type = str(scoords[0].get("GraphicType", ""))
    first = points[0]
    if "longAxis" in concepts and len(points) >= 2:
        return "Bidirectional", points[0] + points[1]
    if COBB_ANGLE.value in concepts:
        return "CobbAngle", first
    if ANGLE.value in concepts:
        return "Angle", first
    if "length" in concepts:
        return "Length", first
    if graphic_type == "POINT":
        return "Probe", first
    if graphic_type == "CIRCLE":
        return "CircleROI", first
    xs, ys = [p[0] for p in first], [p[1] for p in first]
    if graphic_type == "ELLIPSE":
        return "EllipticalROI", [(min(xs), min(ys)), (max(xs), max(ys))]
    closed = len(first) > 2 and first[0] == first[-1]
    if not closed or has_text:
        return "ArrowAnnotate", first
    corners = first[:-1]
    if len(corners) == 4 and all(a[0] == b[0] or a[1] == b[1]
                                 for a, b in zip(corners, corners[1:] + corners[:1])):
        return "RectangleROI", [(min(xs), min(ys)), (max(xs), max(ys))]
    return "PlanarFreehandROI", corners
