"""Derived objects of the synthetic CT: segmentations (SEG) and an RT Structure Set (RTSTRUCT).

The ``ct-seg`` study is the first :data:`CT_SEG_SLICES` slices of the synthetic CT (a copy
under new UIDs, :func:`ohifpy.synthetic.derive_study`) with three more series over it:

* a BINARY SEG (bit-packed) of the five :data:`STRUCTURES`, spheres, a box and a cylinder at
  known patient positions; segments 1-4 carry a Recommended Display CIELab Value, segment 5
  (labelled with markup, :data:`ohifpy.synthetic.XSS_IMG`) none;
* a FRACTIONAL SEG (RLE Lossless, Maximum Fractional Value 255) of the two
  :data:`FRACTIONAL_STRUCTURES`: a probability that falls off linearly from a sphere's
  centre, and the exact occupancy of each voxel by a box (so the sum of fractions times the
  voxel volume is the box's volume);
* an RTSTRUCT of the same five structures, one closed planar contour per structure per CT
  slice it crosses (circles of :data:`CONTOUR_POINTS` points, rectangles), with
  ROIDisplayColor (magenta for the one the SEG gives no colour); plus a POINT ROI and an
  OPEN_PLANAR ROI in the plane z = -80 mm, without ROIDisplayColor (the default table).

Every structure is a :class:`Structure` whose ``contains`` is evaluated at the CT's voxel
centres, so a test knows each segment's voxel count (and volume) exactly; the analytic
volumes are there to check against too. The SEGs are written with highdicom (CPython only,
at test-data time: it is not a runtime dependency, and it is imported only when a SEG is
built), the RTSTRUCT with pydicom. Everything is deterministic: UIDs are hashes of fixed
strings, and what highdicom would stamp with the clock or a random UID is set here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from .overlays import cielab
from .overlays.cielab import rgb_to_dicom_lab

if TYPE_CHECKING:
    from .synthetic import SyntheticStudy

__all__ = [
    "CONTOUR_POINTS",
    "CT_SEG_KEY",
    "CT_SEG_SLICES",
    "FRACTIONAL_STRUCTURES",
    "RTSTRUCT_STORAGE",
    "STRUCTURES",
    "Structure",
    "binary_seg",
    "builder_sources",
    "ct_seg_study",
    "fractional_seg",
    "fractional_values",
    "highdicom_version",
    "rtstruct",
    "voxel_centres",
]

CT_SEG_KEY = "ct-seg"
CT_SEG_SLICES = 40
CONTOUR_POINTS = 64
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
_DATE, _TIME = "20240105", "090000"
_XSS_IMG = "<img src=x onerror=alert(1)>"  # ohifpy.synthetic.XSS_IMG


@dataclass(frozen=True)
class Structure:
    """A solid at a known patient position (mm, LPS).

    ``kind`` is ``sphere`` (``size`` = radius), ``box`` (``size`` = half extents x, y, z) or
    ``cylinder`` along z (``size`` = radius, half height). ``rgb`` is its display colour
    (None: none is written, the viewer's default table applies).
    """

    number: int
    label: str
    kind: str
    centre: tuple[float, float, float]
    size: tuple[float, ...]
    rgb: tuple[int, int, int] | None

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether points (broadcast x, y, z arrays) lie inside, boundary included."""
        cx, cy, cz = self.centre
        if self.kind == "sphere":
            return (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= self.size[0] ** 2
        if self.kind == "box":
            hx, hy, hz = self.size
            return (np.abs(x - cx) <= hx) & (np.abs(y - cy) <= hy) & (np.abs(z - cz) <= hz)
        radius, half = self.size
        return ((x - cx) ** 2 + (y - cy) ** 2 <= radius**2) & (np.abs(z - cz) <= half)

    @property
    def volume_ml(self) -> float:
        """The solid's exact volume in mL."""
        if self.kind == "sphere":
            return 4 / 3 * math.pi * self.size[0] ** 3 / 1000
        if self.kind == "box":
            return 8 * math.prod(self.size) / 1000
        radius, half = self.size
        return math.pi * radius**2 * 2 * half / 1000

    @property
    def cielab(self) -> tuple[int, int, int] | None:
        return None if self.rgb is None else rgb_to_dicom_lab(self.rgb)

    def contour(self, z: float) -> np.ndarray | None:
        """The closed planar contour at height ``z`` ((n, 3) patient points), or None."""
        cx, cy, cz = self.centre
        if self.kind == "box":
            hx, hy, hz = self.size
            if abs(z - cz) > hz:
                return None
            return np.array([[cx - hx, cy - hy, z], [cx + hx, cy - hy, z],
                             [cx + hx, cy + hy, z], [cx - hx, cy + hy, z]])
        if self.kind == "sphere":
            squared = self.size[0] ** 2 - (z - cz) ** 2
            if squared <= 0:
                return None
            radius = math.sqrt(squared)
        else:
            radius, half = self.size
            if abs(z - cz) > half:
                return None
        angle = np.arange(CONTOUR_POINTS) * (2 * math.pi / CONTOUR_POINTS)
        return np.stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle),
                         np.full(CONTOUR_POINTS, z)], axis=1)


STRUCTURES = (
    Structure(1, "Sphere", "sphere", (-60.0, 10.0, -80.0), (12.0,), (220, 50, 50)),
    Structure(2, "Box", "box", (40.0, -30.0, -85.0), (15.0, 10.0, 8.0), (50, 160, 230)),
    Structure(3, "Small sphere", "sphere", (20.0, 60.0, -72.0), (5.0,), (250, 200, 40)),
    Structure(4, "Cylinder", "cylinder", (-30.0, -60.0, -83.0), (8.0, 17.0), (60, 200, 90)),
    Structure(5, _XSS_IMG, "sphere", (80.0, 40.0, -95.0), (7.0,), None),
)
"""The binary SEG's segments and the RTSTRUCT's first five ROIs (all inside the 40 slices,
z -60 to -108.75 mm)."""

FRACTIONAL_STRUCTURES = (
    Structure(1, "Soft sphere", "sphere", (0.0, 0.0, -84.0), (15.0,), (230, 120, 20)),
    Structure(2, "Partial box", "box", (-35.2, 32.85, -85.2), (15.1, 12.65, 9.9), None),
)
"""The fractional SEG's segments: a PROBABILITY of 1 - distance / radius inside the sphere
(its sum over space is pi r^3 / 3), and each voxel's exact occupancy by the box."""

RTSTRUCT_FALLBACK_RGB = (255, 0, 255)
"""ROIDisplayColor of a structure without a colour of its own (the SEG writes none)."""
POINT_ROI = (6, "Reference point", (0.0, 0.0, -80.0))
LINE_ROI = (7, "Open line", ((-20.0, -20.0, -80.0), (0.0, -10.0, -80.0), (20.0, -20.0, -80.0)))


def builder_sources() -> tuple[Path, ...]:
    """The source files whose content decides what is written here (for a content cache)."""
    return (Path(__file__), Path(cielab.__file__))


def highdicom_version() -> str:
    """The installed highdicom's version ("" without it): the SEGs' bytes depend on it."""
    try:
        return metadata.version("highdicom")
    except metadata.PackageNotFoundError:
        return ""


def _uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=["ohifpy.synthetic_objects", *map(str, parts)])


def voxel_centres(datasets: Sequence[Dataset]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient x (1, 1, columns), y (1, rows, 1) and z (slices, 1, 1) of the voxel centres of
    an axial stack (ImageOrientationPatient 1/0/0/0/1/0), in the datasets' order."""
    first = datasets[0]
    x0, y0 = float(first.ImagePositionPatient[0]), float(first.ImagePositionPatient[1])
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    x = x0 + np.arange(int(first.Columns)) * column_spacing
    y = y0 + np.arange(int(first.Rows)) * row_spacing
    z = np.array([float(ds.ImagePositionPatient[2]) for ds in datasets])
    return x[None, None, :], y[None, :, None], z[:, None, None]


def fractional_values(structure: Structure, datasets: Sequence[Dataset]) -> np.ndarray:
    """(slices, rows, columns) fractions of a fractional structure, already multiples of 1/255
    (what the SEG stores, exactly): a probability for the sphere, an occupancy for the box."""
    x, y, z = voxel_centres(datasets)
    if structure.kind == "sphere":
        cx, cy, cz = structure.centre
        distance = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
        fraction = np.clip(1.0 - distance / structure.size[0], 0.0, 1.0)
    else:
        first = datasets[0]
        row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
        thickness = float(first.SliceThickness)
        fraction = np.ones(np.broadcast_shapes(x.shape, y.shape, z.shape))
        for axis, width, centre, half in ((x, column_spacing, structure.centre[0],
                                           structure.size[0]),
                                          (y, row_spacing, structure.centre[1], structure.size[1]),
                                          (z, thickness, structure.centre[2], structure.size[2])):
            low = np.maximum(axis - width / 2, centre - half)
            high = np.minimum(axis + width / 2, centre + half)
            fraction = fraction * (np.clip(high - low, 0.0, None) / width)
    return np.rint(fraction * 255) / 255


def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError as exc:  # a runtime install has no highdicom: only the tests need it
        raise RuntimeError("building a SEG needs highdicom (pip install 'ohifpy[test]')") \
            from exc
    return highdicom


def _segment_description(hd: Any, structure: Structure, automatic: bool) -> Any:
    color = None if structure.cielab is None \
        else hd.color.CIELabColor.from_dicom_value(list(structure.cielab))
    algorithm = hd.AlgorithmIdentificationSequence(
        name="ohifpy synthetic", version="1",
        family=hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence")) \
        if automatic else None
    return hd.seg.SegmentDescription(
        segment_number=structure.number,
        segment_label=structure.label,
        segmented_property_category=hd.sr.CodedConcept("49755003", "SCT",
                                                       "Morphologically Altered Structure"),
        segmented_property_type=hd.sr.CodedConcept("4147007", "SCT", "Mass"),
        algorithm_type="AUTOMATIC" if automatic else "MANUAL",
        algorithm_identification=algorithm,
        tracking_uid=_uid("tracking", structure.label, structure.number),
        tracking_id=f"{structure.label[:40]} #{structure.number}",
        display_color=color,
    )


def _settle(ds: Dataset, key: str) -> FileDataset:
    """highdicom's dataset made deterministic (clock and random UIDs) and written-ready."""
    for keyword in ("InstanceCreationDate", "ContentDate", "SeriesDate"):
        if keyword in ds:
            setattr(ds, keyword, _DATE)
    for keyword in ("InstanceCreationTime", "ContentTime", "SeriesTime"):
        if keyword in ds:
            setattr(ds, keyword, _TIME)
    for item in ds.get("ContributingEquipmentSequence") or ():
        if "ContributionDateTime" in item:
            item.ContributionDateTime = _DATE + _TIME
    dimension_uid = _uid(key, "dimension-organization")
    for item in ds.get("DimensionOrganizationSequence") or ():
        item.DimensionOrganizationUID = dimension_uid
    for item in ds.get("DimensionIndexSequence") or ():
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dimension_uid
    if isinstance(ds, FileDataset):
        return ds
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ds.file_meta.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "OHIFPY_SYNTH"
    out = FileDataset(f"{key}.dcm", ds, file_meta=meta, preamble=b"\0" * 128)
    return out


def binary_seg(ct: Sequence[FileDataset], key: str = CT_SEG_KEY,
               structures: Sequence[Structure] = STRUCTURES, *, series_number: int = 300,
               omit_empty_frames: bool = True) -> FileDataset:
    """A BINARY SEG of ``structures`` over the axial CT ``ct`` (datasets), with highdicom."""
    hd = _highdicom()
    ordered = sorted(ct, key=lambda ds: -float(ds.ImagePositionPatient[2]))
    x, y, z = voxel_centres(ordered)
    masks = np.stack([s.contains(x, y, z) for s in structures], axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=masks,
        segmentation_type="BINARY",
        segment_descriptions=[_segment_description(hd, s, automatic=False) for s in structures],
        **_seg_identity(key, series_number),
        content_label="STRUCTURES",
        content_description="Spheres, a box and a cylinder at known positions",
        series_description="SEG binary, 5 segments",
        omit_empty_frames=omit_empty_frames,
    )
    return _settle(seg, f"{key}-{series_number}")


def _seg_identity(key: str, series_number: int) -> dict[str, object]:
    """The UIDs, numbers and device a generated SEG's constructor needs."""
    return {"series_instance_uid": _uid(key, "series", series_number),
            "series_number": series_number,
            "sop_instance_uid": _uid(key, "instance", series_number), "instance_number": 1,
            "manufacturer": "ohifpy", "manufacturer_model_name": "synthetic_objects",
            "software_versions": "1", "device_serial_number": "1"}


def fractional_seg(ct: Sequence[FileDataset], key: str = CT_SEG_KEY,
                   structures: Sequence[Structure] = FRACTIONAL_STRUCTURES, *,
                   series_number: int = 301) -> FileDataset:
    """A FRACTIONAL (PROBABILITY) SEG of ``structures``, RLE Lossless, with highdicom."""
    hd = _highdicom()
    ordered = sorted(ct, key=lambda ds: -float(ds.ImagePositionPatient[2]))
    fractions = np.stack([fractional_values(s, ordered) for s in structures], axis=-1)
    seg = hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=fractions.astype(np.float32),
        segmentation_type="FRACTIONAL",
        fractional_type="PROBABILITY",
        max_fractional_value=255,
        segment_descriptions=[_segment_description(hd, s, automatic=True) for s in structures],
        **_seg_identity(key, series_number),
        content_label="FRACTIONS",
        content_description="A soft sphere and a box's partial volumes",
        series_description="SEG fractional, 2 segments",
        transfer_syntax_uid=RLELossless,
    )
    return _settle(seg, f"{key}-{series_number}")


def rtstruct(ct: Sequence[FileDataset], key: str = CT_SEG_KEY,
             structures: Sequence[Structure] = STRUCTURES, *,
             series_number: int = 400) -> FileDataset:
    """An RT Structure Set of ``structures`` over the axial CT ``ct``, with pydicom: a closed
    planar contour per structure and slice, a POINT ROI and an OPEN_PLANAR ROI."""
    first = ct[0]
    sop_uid = _uid(key, "rtstruct", series_number)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(RTSTRUCT_STORAGE)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "OHIFPY_SYNTH"
    ds = FileDataset(f"{key}-rtstruct.dcm", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_STORAGE, sop_uid
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
                    "ReferringPhysicianName", "StudyID", "StudyDescription"):
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = _uid(key, "series", series_number)
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "RTSTRUCT of the structures"
    ds.SeriesDate, ds.SeriesTime = _DATE, _TIME
    ds.InstanceNumber = 1
    ds.Manufacturer = "ohifpy"
    ds.OperatorsName = ""
    ds.StructureSetLabel = "STRUCTURES"
    ds.StructureSetName = "Synthetic structures"
    ds.StructureSetDate, ds.StructureSetTime = _DATE, _TIME
    frame_uid = str(first.FrameOfReferenceUID)
    ordered = sorted(ct, key=lambda d: -float(d.ImagePositionPatient[2]))
    by_z = {round(float(d.ImagePositionPatient[2]), 3): d for d in ordered}

    def image_ref(image: Dataset) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = image.SOPClassUID
        item.ReferencedSOPInstanceUID = image.SOPInstanceUID
        return item

    series_ref = Dataset()
    series_ref.SeriesInstanceUID = first.SeriesInstanceUID
    series_ref.ContourImageSequence = [image_ref(d) for d in ordered]
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study_ref.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = [series_ref]
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = frame_uid
    frame_ref.RTReferencedStudySequence = [study_ref]
    ds.ReferencedFrameOfReferenceSequence = [frame_ref]

    rois, contours, observations = [], [], []

    def add_roi(number: int, name: str, rgb: tuple[int, int, int] | None, interpreted: str,
                items: list[Dataset]) -> None:
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame_uid
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        rois.append(roi)
        contour = Dataset()
        if rgb is not None:
            contour.ROIDisplayColor = list(rgb)
        contour.ContourSequence = items
        contour.ReferencedROINumber = number
        contours.append(contour)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = interpreted
        observation.ROIInterpreter = ""
        observations.append(observation)

    def contour_item(points: np.ndarray, kind: str, number: int) -> Dataset:
        item = Dataset()
        image = by_z.get(round(float(points[0, 2]), 3))
        if image is not None:
            item.ContourImageSequence = [image_ref(image)]
        item.ContourGeometricType = kind
        item.NumberOfContourPoints = len(points)
        item.ContourNumber = number
        item.ContourData = [_ds(v) for v in points.ravel()]
        return item

    for structure in structures:
        items: list[Dataset] = []
        for image in ordered:
            points = structure.contour(float(image.ImagePositionPatient[2]))
            if points is not None:
                items.append(contour_item(points, "CLOSED_PLANAR", len(items) + 1))
        add_roi(structure.number, structure.label, structure.rgb or RTSTRUCT_FALLBACK_RGB,
                "ORGAN" if structure.kind != "sphere" else "GTV", items)
    number, name, point = POINT_ROI
    add_roi(number, name, None, "MARKER",
            [contour_item(np.array([point]), "POINT", 1)])
    number, name, line = LINE_ROI
    add_roi(number, name, None, "CONTROL", [contour_item(np.array(line), "OPEN_PLANAR", 1)])
    ds.StructureSetROISequence = rois
    ds.ROIContourSequence = contours
    ds.RTROIObservationsSequence = observations
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def _ds(value: float) -> str:
    """A DS value of at most 16 characters (PS3.5: DS is 16 bytes at most)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text[:16]


def ct_seg_study(ct: SyntheticStudy | None = None, slices: int = CT_SEG_SLICES) -> SyntheticStudy:
    """The ``ct-seg`` study: the first ``slices`` slices of the synthetic CT (``ct``, or a
    fresh 200-slice one) under new UIDs, with the binary SEG, fractional SEG and RTSTRUCT."""
    from . import synthetic

    source = synthetic.ct_study() if ct is None else ct
    copy = synthetic.derive_study(
        source, CT_SEG_KEY, "CT with SEG and RTSTRUCT", count=slices,
        patient=("Phantom^CT Segmentations", "OHIFPY-SEG"),
        note="the first CT slices with a binary and a fractional SEG and an RTSTRUCT of "
             "known structures")
    for ds in copy.datasets:
        ds.AccessionNumber = "OHIF0012"
        ds.StudyID = "0012"
    objects = [binary_seg(copy.datasets), fractional_seg(copy.datasets), rtstruct(copy.datasets)]
    for ds in objects[:2]:
        ds.StudyDescription = copy.description
        ds.AccessionNumber = "OHIF0012"
        ds.StudyID = "0012"
    return synthetic.SyntheticStudy(copy.key, copy.description,
                                    (*copy.datasets, *objects), copy.note)
