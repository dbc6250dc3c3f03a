"""Synthetic studies for hanging protocols and prior studies (issue 15).

Why: a hanging protocol decides which series goes into which viewport, and a comparison
layout puts a prior next to the current study. Tests of both need studies whose choice
is visible: on screen each image must tell which study, series and slice it is, and the
headers must carry what protocols match on (dates, descriptions, views, laterality).
Made like :mod:`ohifpy.synthetic` (same seed, same UID hashing, ``_uid(key, ...)`` with
keys of their own, so nothing collides with the other test studies), pydicom and numpy
only, the same bytes every run; small images keep the suite fast.

* Priors: three axial chest CTs of one patient (:data:`PRIOR_PATIENT`), keys
  :data:`PRIOR_CURRENT_KEY`, :data:`PRIOR_RECENT_KEY` (six months before) and
  :data:`PRIOR_OLD_KEY` (three years before), each with its own StudyInstanceUID and
  FrameOfReferenceUID and the series of :data:`PRIOR_STUDIES`. The anatomy is a function
  of patient z, so the same z shows the same slice in every study; the soft tissue level
  (:data:`PRIOR_BODY_HU`) tells the studies apart and a bright square tells the series
  and slice index (see :func:`read_marker`).
* A head MR for a site protocol (:data:`MR_PROTOCOL_KEY`): axial T1 (fluid dark) and T2
  (fluid bright) of the same slice positions and a sagittal localizer
  (:data:`MR_SERIES`, levels in :data:`MR_LEVELS`).
* A screening mammogram (:data:`MAMMO_KEY`): four single-image series in the shuffled
  order of :data:`MAMMO_VIEWS`, so hanging by series number puts them in the wrong place;
  each view has its own tissue brightness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.uid import UID

from .synthetic import (
    CT_IMAGE,
    MR_IMAGE,
    SyntheticStudy,
    _Canvas,
    _ct_slice_header,
    _new_instance,
    _SeriesSpec,
    _set_pixels,
    _StudySpec,
    _uid,
)

__all__ = [
    "MAMMO_BACKGROUND",
    "MAMMO_COLUMNS",
    "MAMMO_KEY",
    "MAMMO_PATIENT",
    "MAMMO_VIEWS",
    "MAMMO_WINDOW",
    "MARKER_HU",
    "MARKER_SIZE",
    "MG_FOR_PRESENTATION",
    "MR_FLUID_PIXEL",
    "MR_LEVELS",
    "MR_PATIENT",
    "MR_PROTOCOL_KEY",
    "MR_SERIES",
    "MR_SLICE_FIRST_Z",
    "MR_SLICE_STEP",
    "MR_WINDOW",
    "PRIOR_BODY_HU",
    "PRIOR_CURRENT_KEY",
    "PRIOR_LEVEL_PIXEL",
    "PRIOR_OLD_KEY",
    "PRIOR_PATIENT",
    "PRIOR_RECENT_KEY",
    "PRIOR_STUDIES",
    "PRIOR_WINDOW",
    "VIEW_CODES",
    "MammoView",
    "MrSeries",
    "PriorSeries",
    "PriorStudy",
    "hanging_studies",
    "mammo_study",
    "mammo_tissue_pixel",
    "marker_column",
    "marker_row",
    "mr_protocol_study",
    "prior_studies",
    "read_marker",
]

# --- priors: one CT patient, three studies ------------------------------------------------

PRIOR_PATIENT = ("Prior^Compare^CT", "OHIFPY-PRIOR")
"""PatientName and PatientID of the three prior-comparison CTs."""
PRIOR_CURRENT_KEY = "prior-current"
PRIOR_RECENT_KEY = "prior-recent"
PRIOR_OLD_KEY = "prior-old"

PRIOR_ROWS = 128
PRIOR_SPACING = 3.0
PRIOR_ORIGIN = -(PRIOR_ROWS - 1) / 2 * PRIOR_SPACING
"""x and y (mm) of pixel (0, 0)'s centre in every prior CT slice: -190.5."""
PRIOR_WINDOW = (40, 400)
"""WindowCenter, WindowWidth of every prior CT image (soft tissue)."""

MARKER_SIZE = 4
"""Side (pixels) of the bright square that identifies a prior CT image."""
MARKER_LEFT = 4
MARKER_STEP = 4
MARKER_TOP = 4
MARKER_ROW_STEP = 8
MARKER_HU = 2000
"""The square's value: white in any window, above everything else in the image."""


@dataclass(frozen=True)
class PriorSeries:
    """One axial stack: image ``i`` (InstanceNumber ``i + 1``) lies at z ``first_z + i * step``
    and is as thick as the step."""

    number: int
    description: str
    count: int
    first_z: float
    step: float

    def z(self, index: int) -> float:
        return round(self.first_z + index * self.step, 3)


@dataclass(frozen=True)
class PriorStudy:
    """One CT of the prior-comparison patient: its key, StudyDate and stacks."""

    key: str
    date: str
    description: str
    accession: str
    series: tuple[PriorSeries, ...]


PRIOR_STUDIES = (
    PriorStudy(PRIOR_CURRENT_KEY, "20240310", "CT Chest current", "OHIF0301", (
        PriorSeries(1, "Axial 5mm", 24, 0.0, -5.0),
        PriorSeries(2, "Axial 2.5mm", 12, -31.25, -2.5),
    )),
    PriorStudy(PRIOR_RECENT_KEY, "20230915", "CT Chest prior", "OHIF0302", (
        PriorSeries(1, "Axial 5mm", 30, 20.0, -5.0),
        PriorSeries(2, "Axial 2.5mm", 12, -28.75, -2.5),
    )),
    PriorStudy(PRIOR_OLD_KEY, "20210505", "CT Chest 2021", "OHIF0303", (
        PriorSeries(1, "Axial 5mm", 20, -2.0, -5.0),
    )),
)
"""The three CTs, newest first. Slice positions differ between studies and series (the
2.5 mm stacks fall between the 5 mm ones; the 2021 stack is 2 mm off), so matching a
prior's slice to the current one must go by position, not by index."""

PRIOR_BODY_HU = {PRIOR_CURRENT_KEY: 40, PRIOR_RECENT_KEY: 100, PRIOR_OLD_KEY: 160}
"""Soft tissue HU per study: in :data:`PRIOR_WINDOW` 128, 166 and 205 of 255 on
screen, so current and priors are told apart at :data:`PRIOR_LEVEL_PIXEL`."""
PRIOR_LEVEL_PIXEL = (40, 64)
"""(row, column) in the soft tissue in front of the heart, on every slice of every prior CT."""


def marker_column(index: int) -> int:
    """Left column of the marker square on image ``index`` (0-based) of a prior CT stack."""
    return MARKER_LEFT + MARKER_STEP * index


def marker_row(series_number: int) -> int:
    """Top row of the marker square on every image of series ``series_number``."""
    return MARKER_TOP + MARKER_ROW_STEP * (series_number - 1)


def read_marker(image: np.ndarray) -> tuple[int, int]:
    """(SeriesNumber, 0-based image index) of a prior CT image, from its pixels.

    The marker is the only bright square in the air above the body: a
    :data:`MARKER_SIZE`-pixel square whose top-left is (:func:`marker_row` (series),
    :func:`marker_column` (index)). Works on stored values, HU, or the rendered image
    (grey or RGB(A) canvas at the image's own size), since it only needs the square to be
    brighter than the air around it.
    """
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=-1)
    band = grey[:marker_row(3), :]
    low, high = float(band.min()), float(band.max())
    if high - low < 1e-6:
        raise ValueError("no marker: the band above the body is uniform")
    rows, cols = np.nonzero(band > (low + high) / 2)
    series = round((rows.min() - MARKER_TOP) / MARKER_ROW_STEP) + 1
    return series, round((cols.min() - MARKER_LEFT) / MARKER_STEP)


def _chest_hu(z: float, body: float) -> np.ndarray:
    """HU of a simple chest at patient z (mm): body ellipse, lungs, heart, aorta, spine.

    Lungs run from their apex at z = +15 to their base at z = -125 and the heart sits
    between z = -20 and -90, so every slice of a stack differs, and slices of the same z
    in two studies look alike except for the soft tissue level ``body``.
    """
    cv = _Canvas(PRIOR_ROWS, PRIOR_ROWS, PRIOR_SPACING, -1000.0)
    cv.ellipse(0, 0, 150, 100, -100.0)  # subcutaneous fat
    cv.ellipse(0, 0, 138, 88, body)  # muscle and soft tissue
    depth = (15.0 - z) / 140.0
    if 0.0 < depth < 1.0:
        s = math.sin(math.pi * depth) ** 0.5
        for side in (-1, 1):
            cv.ellipse(side * 60, -5, 38 * s, 62 * s, -850.0, angle=side * 0.12)
    if -90.0 < z < -20.0:
        h = math.sin(math.pi * (-20.0 - z) / 70.0)
        cv.ellipse(12, -20, 40 * h, 32 * h, body + 20.0, angle=0.5)
    cv.ellipse(20, 45, 10, 10, body + 150.0)  # descending aorta
    cv.ring(0, 68, 16, 14, 3, 700.0, 200.0)  # vertebral body
    return cv.image


def _prior_pixels(z: float, body: float, series: int, index: int) -> np.ndarray:
    """Stored values (HU + 1024, 12 bits) of one slice with its marker square."""
    hu = _chest_hu(z, body)
    top, left = marker_row(series), marker_column(index)
    hu[top:top + MARKER_SIZE, left:left + MARKER_SIZE] = MARKER_HU
    return np.clip(np.rint(hu) + 1024, 0, 4095).astype(np.uint16)


def _prior_study(spec: PriorStudy) -> SyntheticStudy:
    study = _StudySpec(spec.key, *PRIOR_PATIENT, spec.description, spec.accession, spec.date,
                       sex="M", birth_date="19580214")
    frame_of_reference = _uid(spec.key, "frame-of-reference")
    datasets = []
    for stack in spec.series:
        series = _SeriesSpec(stack.number, "CT", stack.description, CT_IMAGE, "CHEST")
        for i in range(stack.count):
            ds = _new_instance(study, series, i)
            _ct_slice_header(ds, frame_of_reference, abs(stack.step),
                             (PRIOR_SPACING, PRIOR_SPACING), (1, 0, 0, 0, 1, 0),
                             (PRIOR_ORIGIN, PRIOR_ORIGIN, stack.z(i)))
            ds.AcquisitionNumber = 1
            ds.KVP = 120
            ds.SliceLocation = stack.z(i)
            ds.WindowCenter, ds.WindowWidth = PRIOR_WINDOW
            pixels = _prior_pixels(stack.z(i), PRIOR_BODY_HU[spec.key], stack.number, i)
            _set_pixels(ds, pixels, "MONOCHROME2", 12)
            datasets.append(ds)
    return SyntheticStudy(spec.key, spec.description, tuple(datasets),
                          f"prior comparison CT of {spec.date}: own frame of reference; a "
                          "marker square tells series and slice, the soft tissue the study")


def prior_studies() -> list[SyntheticStudy]:
    """The three CTs of :data:`PRIOR_STUDIES`, newest first."""
    return [_prior_study(spec) for spec in PRIOR_STUDIES]


# --- MR for a site protocol ---------------------------------------------------------------

MR_PATIENT = ("Protocol^Head^MR", "OHIFPY-MRHP")
MR_PROTOCOL_KEY = "mr-protocol"
MR_ROWS = 128
MR_SPACING = 1.875
MR_ORIGIN = -(MR_ROWS - 1) / 2 * MR_SPACING
MR_WINDOW = (1000, 2000)
"""WindowCenter, WindowWidth of every MR image: one window (0 to 2000) for T1 and T2, so
their stored levels compare directly on screen."""


@dataclass(frozen=True)
class MrSeries:
    """One series of the MR protocol study: SeriesNumber, SeriesDescription, image count."""

    number: int
    description: str
    count: int


MR_SERIES = (
    MrSeries(1, "AX T1 SE", 8),
    MrSeries(2, "AX T2 FSE", 8),
    MrSeries(3, "LOCALIZER", 1),
)
"""The MR study's series. T1 and T2 share slice positions: z = -15 + 6 * index mm."""

MR_LEVELS = {
    "AX T1 SE": {"fluid": 150, "grey": 500, "white": 700, "fat": 1300, "bone": 60},
    "AX T2 FSE": {"fluid": 1900, "grey": 1200, "white": 950, "fat": 700, "bone": 60},
}
"""Stored values per tissue: fluid (CSF, ventricles) is dark on T1 and bright on T2, and
a whole T2 image's mean is more than 1.5 times its T1's."""
MR_FLUID_PIXEL = (61, 68)
"""(row, column) inside the right-hand (patient left) lateral ventricle on every axial slice."""
MR_SLICE_FIRST_Z = -15.0
MR_SLICE_STEP = 6.0


def _mr_axial(z: float, levels: dict[str, int]) -> np.ndarray:
    """An axial head slice at patient z: scalp fat, skull, CSF rim, grey and white matter,
    and lateral ventricles that are largest at z = +5."""
    cv = _Canvas(MR_ROWS, MR_ROWS, MR_SPACING, 0.0)
    s = math.sqrt(max(0.0, 1 - (z / 100) ** 2))
    a, b = 75 * s, 92 * s
    cv.ellipse(0, 0, a, b, levels["fat"])
    cv.ellipse(0, 0, a - 5, b - 5, levels["bone"])
    cv.ellipse(0, 0, a - 10, b - 10, levels["fluid"])
    cv.ellipse(0, 0, a - 14, b - 14, levels["grey"])
    cv.ellipse(0, 2, a - 26, b - 30, levels["white"])
    v = max(0.6, 1 - ((z - 5) / 30) ** 2)
    for side in (-1, 1):
        cv.ellipse(side * 9, -5, 10 * v, 28 * v, levels["fluid"], angle=side * 0.15)
    return cv.image


def _mr_localizer() -> np.ndarray:
    """A sagittal head and neck at x = 0 (rows run down, columns posterior), T1 levels."""
    levels = MR_LEVELS["AX T1 SE"]
    cv = _Canvas(MR_ROWS, MR_ROWS, MR_SPACING, 0.0)
    cv.ellipse(10, 100, 40, 45, 400.0)  # neck
    cv.ellipse(0, 0, 92, 100, levels["fat"])
    cv.ellipse(0, 0, 87, 95, levels["bone"])
    cv.ellipse(0, 0, 82, 90, levels["fluid"])
    cv.ellipse(0, 0, 78, 86, levels["grey"])
    cv.ellipse(0, 5, 55, 50, levels["white"])
    return cv.image


def _mr_instance(study: _StudySpec, spec: MrSeries, index: int) -> FileDataset:
    ds = _new_instance(study, _SeriesSpec(spec.number, "MR", spec.description, MR_IMAGE,
                                          "HEAD"), index)
    ds.FrameOfReferenceUID = _uid(study.key, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.MRAcquisitionType = "2D"
    ds.ScanOptions = ""
    ds.MagneticFieldStrength = 1.5
    ds.PixelSpacing = [MR_SPACING, MR_SPACING]
    ds.WindowCenter, ds.WindowWidth = MR_WINDOW
    return ds


def mr_protocol_study() -> SyntheticStudy:
    """Head MR (128x128, 12 bits): axial T1 SE and T2 FSE of 8 slices and a sagittal localizer.

    Both axial series hold the same z positions in one frame of reference (a protocol
    hangs them side by side, scroll-synced); the localizer crosses every axial slice.
    """
    study = _StudySpec(MR_PROTOCOL_KEY, *MR_PATIENT, "MR Brain protocol", "OHIF0311",
                       "20240401", sex="F", birth_date="19720706")
    datasets = []
    for spec in MR_SERIES[:2]:
        t2 = "T2" in spec.description
        for i in range(spec.count):
            ds = _mr_instance(study, spec, i)
            ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
            ds.ScanningSequence = "SE"
            ds.SequenceVariant = "SK" if t2 else "NONE"
            ds.RepetitionTime, ds.EchoTime = (4000, 100) if t2 else (500, 12)
            ds.EchoTrainLength = 16 if t2 else 1
            ds.SliceThickness = 5
            ds.SpacingBetweenSlices = MR_SLICE_STEP
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            z = MR_SLICE_FIRST_Z + i * MR_SLICE_STEP
            ds.ImagePositionPatient = [MR_ORIGIN, MR_ORIGIN, z]
            ds.SliceLocation = z
            pixels = _mr_axial(z, MR_LEVELS[spec.description])
            _set_pixels(ds, pixels.astype(np.uint16), "MONOCHROME2", 12)
            datasets.append(ds)
    ds = _mr_instance(study, MR_SERIES[2], 0)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = "SP"
    ds.RepetitionTime, ds.EchoTime, ds.EchoTrainLength = 8, 3, 1
    ds.SliceThickness = 8
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.ImagePositionPatient = [0.0, MR_ORIGIN, -MR_ORIGIN]
    ds.SliceLocation = 0.0
    _set_pixels(ds, _mr_localizer().astype(np.uint16), "MONOCHROME2", 12)
    datasets.append(ds)
    return SyntheticStudy(study.key, study.description, tuple(datasets),
                          "site protocol: T1 (fluid dark) and T2 (fluid bright) side by side, "
                          "a sagittal localizer")


# --- screening mammography ------------------------------------------------------------------

MG_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.2")
"""Digital Mammography X-Ray Image Storage - For Presentation."""
MAMMO_PATIENT = ("Screening^Mammo", "OHIFPY-MG")
MAMMO_KEY = "mammo"
MAMMO_ROWS, MAMMO_COLUMNS = 160, 128
MAMMO_WINDOW = (2048, 4096)
"""WindowCenter, WindowWidth of every view: the whole 12-bit range, linear on screen."""
MAMMO_BACKGROUND = 80
MAMMO_PECTORAL = 500
"""How much brighter than the tissue the pectoral muscle (MLO views only) is."""
VIEW_CODES = {"CC": ("399162004", "cranio-caudal"),
              "MLO": ("399368009", "medio-lateral oblique")}
"""ViewCodeSequence (SCT) per ViewPosition; OHIF's mammography selectors read these."""


@dataclass(frozen=True)
class MammoView:
    """One view: its series (number, description), laterality, view and tissue level.

    PatientOrientation follows DICOM's mammography convention: the first value is the
    direction of the image's rows (left to right on screen), so a right breast ("P",
    toward posterior) has its chest wall at the image's right edge and its nipple to the
    left, a left breast ("A") the reverse; the second is the columns' direction (down),
    medial on CC views (L for the right breast, R for the left), foot-ward and medial on
    MLO views (FL, FR). OHIF's hpMammo aligns them the same way: right breast images by
    their right edge, left ones by their left edge, chest walls meeting in the middle.
    """

    series_number: int
    description: str
    laterality: str
    view: str
    orientation: tuple[str, str]
    level: int

    @property
    def chest_wall_column(self) -> int:
        return MAMMO_COLUMNS - 1 if self.laterality == "R" else 0


MAMMO_VIEWS = (
    MammoView(1, "L MLO", "L", "MLO", ("A", "FR"), 3100),
    MammoView(2, "R CC", "R", "CC", ("P", "L"), 1000),
    MammoView(3, "L CC", "L", "CC", ("A", "R"), 1700),
    MammoView(4, "R MLO", "R", "MLO", ("P", "FL"), 2400),
)
"""The four views in SeriesNumber order, which is not the reading order (R CC, L CC,
R MLO, L MLO): hanging by series order puts every view in the wrong viewport. ``level``
is the stored value of the breast tissue: with :data:`MAMMO_WINDOW` the views show about
62 (R CC), 106 (L CC), 150 (R MLO) and 193 (L MLO) of 255, background 5."""


def mammo_tissue_pixel(laterality: str) -> tuple[int, int]:
    """(row, column) of plain breast tissue (the view's ``level``) on any view of that side:
    row 100, 20 columns in from the chest wall."""
    return 100, (MAMMO_COLUMNS - 1 - 20) if laterality == "R" else 20


def _breast(view: MammoView) -> np.ndarray:
    """Stored values of one view: a half-ellipse breast against the chest wall edge, on MLO
    views lower and with the pectoral muscle as a triangle at the top of the chest wall."""
    rows, cols = np.mgrid[:MAMMO_ROWS, :MAMMO_COLUMNS]
    depth = np.abs(cols - view.chest_wall_column).astype(np.float64)
    image = np.full((MAMMO_ROWS, MAMMO_COLUMNS), MAMMO_BACKGROUND, dtype=np.uint16)
    centre, half_height = (80, 70) if view.view == "CC" else (90, 75)
    image[(depth / 95) ** 2 + ((rows - centre) / half_height) ** 2 <= 1] = view.level
    if view.view == "MLO":
        image[depth < 45 * (1 - rows / 60)] = view.level + MAMMO_PECTORAL
    return image


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def mammo_study() -> SyntheticStudy:
    """Screening mammogram: R/L CC and MLO, one MG For Presentation image per series.

    160x128 uint16 (12 bits) MONOCHROME2 with ViewPosition, ViewCodeSequence,
    ImageLaterality and PatientOrientation as :class:`MammoView` describes.
    """
    study = _StudySpec(MAMMO_KEY, *MAMMO_PATIENT, "MG Screening bilateral", "OHIF0321",
                       "20240502", sex="F", birth_date="19690923")
    datasets = []
    for view in MAMMO_VIEWS:
        series = _SeriesSpec(view.series_number, "MG", view.description, MG_FOR_PRESENTATION,
                             "BREAST")
        ds = _new_instance(study, series, 0)
        ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PositionerType = "MAMMOGRAPHIC"
        ds.ImageLaterality = view.laterality
        ds.ViewPosition = view.view
        ds.ViewCodeSequence = [_code(*VIEW_CODES[view.view])]
        ds.ViewCodeSequence[0].ViewModifierCodeSequence = []
        ds.AnatomicRegionSequence = [_code("76752008", "Breast")]
        ds.PatientOrientation = list(view.orientation)
        ds.AcquisitionContextSequence = []
        ds.OrganExposed = "BREAST"
        ds.DetectorType = "DIRECT"
        ds.LossyImageCompression = "00"
        ds.PartialView = "NO"
        ds.BreastImplantPresent = "NO"
        ds.BurnedInAnnotation = "NO"
        ds.ImagerPixelSpacing = [0.5, 0.5]
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.PresentationLUTShape = "IDENTITY"
        ds.WindowCenter, ds.WindowWidth = MAMMO_WINDOW
        _set_pixels(ds, _breast(view), "MONOCHROME2", 12)
        datasets.append(ds)
    return SyntheticStudy(study.key, study.description, tuple(datasets),
                          "mammography views in shuffled series order: hang by laterality "
                          "and view, not by series number")


def hanging_studies() -> list[SyntheticStudy]:
    """Every study of this module, in a fixed order, each with its own StudyInstanceUID."""
    return [*prior_studies(), mr_protocol_study(), mammo_study()]
