"""Synthetic DICOM studies: realistic-looking, deterministic, made with pydicom and numpy only.

Why synthetic: the tests, the benchmarks and the static demo need images that exercise every
branch of the pixel pipeline (signed CT with a rescale, multi-valued windows, sagittal MR,
cine, colour in every layout, palette, MONOCHROME1, LUT sequences, sigmoid VOI) and every
hostile header a real archive can hold, without shipping patient data or downloading
anything. Everything is derived from fixed seeds and from UIDs hashed from fixed strings,
so two runs write identical bytes and a cache keyed by this file's content stays valid.

Each builder returns a :class:`SyntheticStudy` whose datasets are complete DICOM files
(with file meta, Explicit VR Little Endian) ready for ``save_as``. :func:`all_studies`
returns the whole collection; :func:`derive_study` copies part of a study under new UIDs,
which is how the same CT is stored once per compressed transfer syntax.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.config import disable_value_validation
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    generate_uid,
)

__all__ = [
    "PLANES_SERIES",
    "PlanesSeries",
    "SyntheticStudy",
    "all_studies",
    "charset_studies",
    "color_studies",
    "color_test_pattern",
    "ct_study",
    "derive_study",
    "hostile_string_studies",
    "lut_studies",
    "monochrome1_study",
    "mr_study",
    "no_modality_study",
    "palette_color_study",
    "planes_hu",
    "planes_study",
    "xa_cine_study",
]

SEED = 20240611
"""Root of every random stream and UID here; change it and every byte changes."""

CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2")
MR_IMAGE = UID("1.2.840.10008.5.1.4.1.1.4")
XA_IMAGE = UID("1.2.840.10008.5.1.4.1.1.12.1")
CR_IMAGE = UID("1.2.840.10008.5.1.4.1.1.1")
DX_IMAGE = UID("1.2.840.10008.5.1.4.1.1.1.1")
SC_IMAGE = UID("1.2.840.10008.5.1.4.1.1.7")

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = '"><script>alert(1)</script>'


@dataclass(frozen=True)
class SyntheticStudy:
    """One generated study: a stable ``key`` to find it by, and its instances in file order.

    ``note`` says what the study is there to exercise, so a failing test can say why it
    matters; it also goes into the test-data manifest.
    """

    key: str
    description: str
    datasets: tuple[FileDataset, ...]
    note: str = ""

    @property
    def study_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)


@dataclass(frozen=True)
class _StudySpec:
    key: str
    patient_name: str
    patient_id: str
    description: str
    accession: str
    date: str
    charset: str | tuple[str, ...] = "ISO_IR 100"
    sex: str = "O"
    birth_date: str = "19700101"


@dataclass(frozen=True)
class _SeriesSpec:
    number: int
    modality: str | None
    description: str
    sop_class: UID
    body_part: str = ""


def _uid(*parts: object) -> UID:
    """A UID that is a hash of ``parts``: the same inputs always give the same UID."""
    return generate_uid(entropy_srcs=["ohifpy.synthetic", str(SEED), *map(str, parts)])


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *parts])


def _new_instance(study: _StudySpec, series: _SeriesSpec, index: int) -> FileDataset:
    """An instance with the patient, study, series and SOP common modules filled in.

    Everything QIDO-RS matches on is set here (names, IDs, date, accession, description,
    modality), so every generated study can be found by any of them.
    """
    sop_uid = _uid(study.key, series.number, index)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = series.sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "OHIFPY_SYNTH"
    ds = FileDataset(f"{study.key}-{series.number}-{index}.dcm", {}, file_meta=meta,
                     preamble=b"\0" * 128)
    ds.SpecificCharacterSet = list(study.charset) if isinstance(study.charset, tuple) \
        else study.charset
    ds.SOPClassUID = series.sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.date
    ds.StudyTime = "083000"
    ds.SeriesTime = f"0831{series.number % 60:02d}"
    ds.ContentTime = f"0832{index % 60:02d}"
    ds.AccessionNumber = study.accession
    ds.ReferringPhysicianName = "Referrer^Synthetic"
    ds.InstitutionName = "ohifpy synthetic"
    ds.Manufacturer = "ohifpy"
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.birth_date
    ds.PatientSex = study.sex
    ds.StudyInstanceUID = _uid(study.key, "study")
    ds.SeriesInstanceUID = _uid(study.key, "series", series.number)
    ds.StudyID = study.accession[-4:]
    ds.SeriesNumber = series.number
    ds.InstanceNumber = index + 1
    if series.modality is not None:
        ds.Modality = series.modality
    if series.body_part:
        ds.BodyPartExamined = series.body_part
    return ds


def _set_pixels(ds: Dataset, arr: np.ndarray, photometric: str, bits_stored: int) -> None:
    ds.set_pixel_data(arr, photometric, bits_stored, generate_instance_uid=False)


class _Canvas:
    """A float image on a millimetre grid, painted with ellipses like a phantom.

    Shapes are painted only inside their bounding box, so hundreds of small vessels per
    slice stay cheap; ``within`` restricts painting to pixels whose current value lies in
    a range (vessels only inside lung, contrast only inside a vessel).
    """

    def __init__(self, rows: int, cols: int, spacing: float, fill: float) -> None:
        self.spacing = spacing
        self.image = np.full((rows, cols), fill, dtype=np.float32)
        self.u0 = -(cols - 1) / 2 * spacing  # mm coordinate of column 0
        self.v0 = -(rows - 1) / 2 * spacing  # mm coordinate of row 0

    def ellipse(self, cu: float, cv: float, a: float, b: float, value: float,
                within: tuple[float, float] | None = None, angle: float = 0.0) -> None:
        if a <= 0 or b <= 0:
            return
        reach = max(a, b)
        rows, cols = self.image.shape
        c0 = max(int((cu - reach - self.u0) / self.spacing), 0)
        c1 = min(int((cu + reach - self.u0) / self.spacing) + 2, cols)
        r0 = max(int((cv - reach - self.v0) / self.spacing), 0)
        r1 = min(int((cv + reach - self.v0) / self.spacing) + 2, rows)
        if c0 >= c1 or r0 >= r1:
            return
        u = self.u0 + np.arange(c0, c1, dtype=np.float32) * self.spacing - cu
        v = self.v0 + np.arange(r0, r1, dtype=np.float32)[:, None] * self.spacing - cv
        cos, sin = math.cos(angle), math.sin(angle)
        inside = ((u * cos + v * sin) / a) ** 2 + ((v * cos - u * sin) / b) ** 2 <= 1.0
        window = self.image[r0:r1, c0:c1]
        if within is not None:
            inside &= (window >= within[0]) & (window <= within[1])
        window[inside] = value

    def ring(self, cu: float, cv: float, a: float, b: float, thickness: float,
             rim: float, core: float) -> None:
        """A filled ellipse with a rim of another value (cortical bone around marrow)."""
        self.ellipse(cu, cv, a, b, rim)
        self.ellipse(cu, cv, a - thickness, b - thickness, core)

    def curve(self, points: np.ndarray, radius: float, value: float,
              within: tuple[float, float] | None = None) -> None:
        """A tube along a polyline of (u, v) points, drawn as overlapping disks."""
        for cu, cv in points:
            self.ellipse(float(cu), float(cv), radius, radius, value, within)


# --- CT -------------------------------------------------------------------------------

CT_ROWS = 512
CT_SPACING = 0.7
CT_SLICE_MM = 1.25
CT_TOP_Z = -60.0
CT_PADDING = -2000
"""Stored value outside the circular reconstruction field (GE's habit): -3024 HU."""


def _lung_vessels(count: int) -> np.ndarray:
    """Vessel tubes as (u, v, du, dv, radius) rows: start point and drift per unit depth."""
    rng = _rng(1, 0)
    side = rng.choice([-1.0, 1.0], count)
    u = side * rng.uniform(35, 110, count)
    v = rng.uniform(-70, 50, count)
    du = rng.normal(0, 25, count)
    dv = rng.normal(0, 25, count)
    radius = rng.uniform(0.6, 2.6, count)
    return np.stack([u, v, du, dv, radius], axis=1)


def _ct_hu(t: float, z: float, vessels: np.ndarray) -> np.ndarray:
    """Hounsfield units of one axial slice of a chest-to-upper-abdomen phantom.

    ``t`` runs 0 (lung apex) to 1 (kidneys); structures appear, grow and vanish with it
    so that every slice differs and the volume looks like a torso in MPR.
    """
    cv = _Canvas(CT_ROWS, CT_ROWS, CT_SPACING, -1000.0)
    a, b = 160.0 - 8 * t, 108.0 + 14 * t
    cv.ellipse(0, 0, a, b, -100.0)  # subcutaneous fat
    cv.ellipse(0, 0, a - 14, b - 13, 40.0)  # muscle and soft tissue
    if t > 0.45:  # liver dome rising under the right lung
        grow = min(1.0, (t - 0.45) / 0.25)
        cv.ellipse(-55, -5, 85 * grow, 72 * grow, 60.0, angle=-0.3)
    if t < 0.72:  # lungs, dome-shaped at both ends
        s = math.sin(math.pi * (t + 0.08) / 0.8) ** 0.6
        for side in (-1, 1):
            cv.ellipse(side * 72, -8, 50 * s, 82 * s, -850.0, angle=side * 0.12)
        for u, v, du, dv, r in vessels:
            cv.ellipse(u + du * t, v + dv * t, r, r, 40.0, within=(-1000, -500))
    if 0.15 < t < 0.65:  # heart between the lungs, pushing them aside
        h = math.sin(math.pi * (t - 0.15) / 0.5)
        cv.ellipse(14, -24, 52 * h, 42 * h, 40.0, angle=0.5)
    if t > 0.72:  # stomach with an air bubble, then kidneys
        cv.ellipse(65, -25, 38, 28, 30.0)
        cv.ellipse(72, -40, 20, 9, -1000.0)
    if t > 0.85:
        for side in (-1, 1):
            cv.ring(side * 62, 62, 28, 20, 5, 180.0, 35.0)
    cv.ellipse(22, 48, 12, 12, 250.0)  # descending aorta with contrast
    if 0.1 < t < 0.35:
        cv.ellipse(-8, -28, 15, 15, 250.0)  # ascending aorta
    disc = (z % 28.0) < 6.0
    cv.ring(0, 72, 19, 16, 2.5, 1300.0, 90.0 if disc else 700.0)  # vertebral body
    cv.ring(0, 98, 15, 13, 5, 1000.0, 15.0)  # posterior arch around the canal
    cv.ellipse(0, 118, 4, 11, 1000.0)  # spinous process
    if t < 0.8:  # ribs slanting through the slices
        for j in range(14):
            theta = math.radians(200 + j * 10.0 + (z % 40.0) * 0.4)
            if (z + 7 * j) % 24.0 < 11.0:
                ru, rv = (a - 20) * math.cos(theta), (b - 16) * math.sin(theta)
                cv.ring(ru, -abs(rv) if j % 2 else abs(rv), 6, 4, 1.5, 1400.0, 600.0)
    if t < 0.5:
        cv.ring(0, -b + 19, 13, 5, 1.5, 1200.0, 500.0)  # sternum
    return cv.image


def _ct_slice(index: int, count: int, vessels: np.ndarray) -> np.ndarray:
    t = index / max(count - 1, 1) if count > 1 else 0.5
    z = CT_TOP_Z - index * CT_SLICE_MM
    hu = _ct_hu(t, z, vessels)
    hu += _rng(2, index).normal(0.0, 9.0, hu.shape).astype(np.float32)
    stored = np.clip(np.rint(hu) + 1024, -1024, 3071)
    centre = (CT_ROWS - 1) / 2
    yy, xx = np.ogrid[:CT_ROWS, :CT_ROWS]
    stored[(yy - centre) ** 2 + (xx - centre) ** 2 > (CT_ROWS / 2) ** 2] = CT_PADDING
    return stored.astype(np.int16)


def _position_order_swaps(count: int) -> dict[int, int]:
    """A few InstanceNumbers swapped so that sorting by number and by position differ."""
    swaps: dict[int, int] = {}
    for i, j in ((2, 3), (count // 2, count // 2 + 5), (count - 2, count - 1)):
        if 0 <= i < j < count and i not in swaps and j not in swaps:
            swaps[i], swaps[j] = j, i
    return swaps


def ct_study(num_slices: int = 200) -> SyntheticStudy:
    """Axial chest CT, 512x512 signed int16 with RescaleIntercept -1024, head to feet.

    Stored like GE scanners do: signed pixels, HU = stored - 1024, and -2000 outside the
    circular reconstruction field, so sign handling, the rescale and out-of-field padding
    all matter. Two windows (soft tissue, lung) with explanations; ImagePositionPatient z
    decreases from the first file to the last while a few InstanceNumbers are swapped.
    """
    study = _StudySpec("ct", "Phantom^Chest CT", "OHIFPY-CT", "CT Chest with contrast",
                       "OHIF0001", "20240105", sex="F", birth_date="19610312")
    series = _SeriesSpec(2, "CT", "Axial 1.25mm", CT_IMAGE, "CHEST")
    vessels = _lung_vessels(90)
    swaps = _position_order_swaps(num_slices)
    frame_of_reference = _uid(study.key, "frame-of-reference")
    origin = -(CT_ROWS - 1) / 2 * CT_SPACING
    datasets = []
    for i in range(num_slices):
        ds = _new_instance(study, series, i)
        ds.InstanceNumber = swaps.get(i, i) + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.PatientPosition = "HFS"
        ds.AcquisitionNumber = 1
        ds.KVP = 120
        ds.SliceThickness = CT_SLICE_MM
        ds.SpacingBetweenSlices = CT_SLICE_MM
        ds.PixelSpacing = [CT_SPACING, CT_SPACING]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        z = CT_TOP_Z - i * CT_SLICE_MM
        ds.ImagePositionPatient = [round(origin, 2), round(origin, 2), round(z, 3)]
        ds.SliceLocation = round(z, 3)
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = [40, -600]
        ds.WindowWidth = [400, 1500]
        ds.WindowCenterWidthExplanation = ["SOFT TISSUE", "LUNG"]
        _set_pixels(ds, _ct_slice(i, num_slices, vessels), "MONOCHROME2", 16)
        datasets.append(ds)
    return SyntheticStudy(study.key, study.description, tuple(datasets),
                          "stack sorting by position, signed pixels, rescale, two windows")


# --- MR -------------------------------------------------------------------------------


def _mr_slice(x: float, index: int) -> np.ndarray:
    """T2-like sagittal head slice at patient x (mm): bright CSF, grey/white matter."""
    cv = _Canvas(256, 256, 0.9375, 0.0)
    s = math.sqrt(max(0.0, 1 - (x / 78) ** 2))
    cv.ellipse(0, -10, 96 * s, 84 * s, 420.0)  # scalp
    cv.ellipse(0, -10, 90 * s, 78 * s, 40.0)  # skull (dark)
    cv.ellipse(0, -8, 84 * s, 72 * s, 1150.0)  # CSF
    cv.ellipse(0, -8, 80 * s, 68 * s, 760.0)  # grey matter
    cv.ellipse(4, -4, 64 * s, 52 * s, 560.0)  # white matter
    if abs(x) < 22:
        cv.ellipse(8, -6, 26, 9, 1150.0, angle=0.25)  # lateral ventricle
    cv.ellipse(38, 58, 36 * s, 24 * s, 700.0)  # cerebellum (posterior, inferior)
    cv.ellipse(-4, 62, 10, 26, 600.0, angle=0.2)  # brain stem
    image = cv.image + _rng(3, index).normal(0, 18, cv.image.shape).astype(np.float32)
    return np.clip(np.abs(image), 0, 4095).astype(np.uint16)


def mr_study(num_slices: int = 24) -> SyntheticStudy:
    """Sagittal T2 head MR, 256x256 uint16 (12 bits stored), no window tags.

    Rows run anterior to posterior and columns superior to inferior
    (ImageOrientationPatient [0,1,0, 0,0,-1]); the viewer must derive a window itself.
    """
    study = _StudySpec("mr", "Phantom^Head MR", "OHIFPY-MR", "MR Brain sagittal T2",
                       "OHIF0002", "20240212", sex="M", birth_date="19780922")
    series = _SeriesSpec(3, "MR", "SAG T2 TSE", MR_IMAGE, "HEAD")
    spacing, gap = 0.9375, 4.0
    frame_of_reference = _uid(study.key, "frame-of-reference")
    datasets = []
    for i in range(num_slices):
        x = (i - (num_slices - 1) / 2) * gap
        ds = _new_instance(study, series, i)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PatientPosition = "HFS"
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "SK"
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime = 4000
        ds.EchoTime = 95
        ds.MagneticFieldStrength = 1.5
        ds.SliceThickness = 3.5
        ds.SpacingBetweenSlices = gap
        ds.PixelSpacing = [spacing, spacing]
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        half = (256 - 1) / 2 * spacing
        ds.ImagePositionPatient = [round(x, 3), -half, half]
        ds.SliceLocation = round(x, 3)
        _set_pixels(ds, _mr_slice(x, i), "MONOCHROME2", 12)
        datasets.append(ds)
    return SyntheticStudy(study.key, study.description, tuple(datasets),
                          "sagittal geometry, unsigned 12-bit, no window in the header")


# --- XA cine --------------------------------------------------------------------------


def _xa_frames(count: int) -> np.ndarray:
    """Angiography cine: contrast flows down a beating vessel tree over a bright field."""
    rng = _rng(4, 0)
    frames = np.empty((count, 256, 256), dtype=np.uint16)
    branches = [(0.0, 1.0, 14.0), (-0.9, 0.55, 8.0), (0.8, 0.7, 7.0)]
    s = np.linspace(0.0, 1.0, 90)
    for f in range(count):
        cv = _Canvas(256, 256, 1.0, 760.0)
        beat = 6 * math.sin(2 * math.pi * f / 12)
        filled = min(1.0, 1.4 * f / max(count - 1, 1))
        for bend, length, radius in branches:
            u = bend * 70 * s**1.5 + 10 * np.sin(6 * s) + beat * s
            v = -110 + 220 * length * s
            pts = np.stack([u, v], axis=1)[s <= filled]
            cv.curve(pts[::2], radius / 2, 330.0)
        noise = rng.normal(0, 12, cv.image.shape).astype(np.float32)
        frames[f] = np.clip(cv.image + noise, 0, 1023).astype(np.uint16)
    return frames


def xa_cine_study(num_frames: int = 30) -> SyntheticStudy:
    """One multi-frame XA instance (256x256, 10 of 16 bits) with FrameTime for cine at 15 fps."""
    study = _StudySpec("xa-cine", "Phantom^Angio XA", "OHIFPY-XA", "XA Coronary cine",
                       "OHIF0003", "20240220", sex="M", birth_date="19550101")
    series = _SeriesSpec(1, "XA", "LAO 30 cine", XA_IMAGE, "HEART")
    ds = _new_instance(study, series, 0)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.FrameTime = 66.67
    ds.CineRate = 15
    ds.RecommendedDisplayFrameRate = 15
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.PositionerPrimaryAngle = 30
    ds.PositionerSecondaryAngle = 0
    ds.WindowCenter = 512
    ds.WindowWidth = 1024
    _set_pixels(ds, _xa_frames(num_frames), "MONOCHROME2", 10)
    return SyntheticStudy(study.key, study.description, (ds,),
                          "multi-frame instance, cine timing, frame numbers in WADO-RS")


# --- colour ---------------------------------------------------------------------------

COLOR_BLOCKS = {
    "red": ((10, 10), (255, 0, 0)),
    "green": ((10, 60), (0, 255, 0)),
    "blue": ((10, 110), (0, 0, 255)),
    "white": ((10, 160), (255, 255, 255)),
    "yellow": ((10, 210), (255, 255, 0)),
}
"""Solid 40x40 blocks of the colour test pattern: name -> ((top row, left column), RGB)."""


def color_test_pattern(rows: int = 240, cols: int = 320) -> np.ndarray:
    """RGB uint8 image: colour gradients plus solid blocks at :data:`COLOR_BLOCKS`.

    Not square on purpose (a row/column swap shows), and the solid blocks let tests assert
    exact colours at known pixels after any photometric conversion.
    """
    y, x = np.mgrid[:rows, :cols]
    image = np.stack([x * 255 // (cols - 1), y * 255 // (rows - 1),
                      255 - (x + y) * 255 // (rows + cols - 2)], axis=-1).astype(np.uint8)
    for (top, left), rgb in COLOR_BLOCKS.values():
        image[top:top + 40, left:left + 40] = rgb
    return image


def _color_instance(key: str, description: str, number: int) -> FileDataset:
    study = _StudySpec(key, f"Phantom^Colour {number}", f"OHIFPY-COL{number}", description,
                       f"OHIF01{number:02d}", "20240301")
    return _new_instance(study, _SeriesSpec(1, "OT", description, SC_IMAGE), 0)


def color_studies() -> list[SyntheticStudy]:
    """The colour test pattern as RGB planar 0, RGB planar 1 and native YBR_FULL."""
    rgb = color_test_pattern()
    planar0 = _color_instance("rgb", "Colour RGB interleaved", 1)
    _set_pixels(planar0, rgb, "RGB", 8)
    planar1 = _color_instance("rgb-planar", "Colour RGB planar", 2)
    _set_pixels(planar1, rgb, "RGB", 8)
    planar1.PlanarConfiguration = 1
    planar1.PixelData = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
    ybr = _color_instance("ybr-full", "Colour YBR_FULL native", 3)
    _set_pixels(ybr, convert_color_space(rgb, "RGB", "YBR_FULL"), "YBR_FULL", 8)
    return [
        SyntheticStudy("rgb", planar0.StudyDescription, (planar0,), "RGB, PlanarConfiguration 0"),
        SyntheticStudy("rgb-planar", planar1.StudyDescription, (planar1,),
                       "RGB, PlanarConfiguration 1 (colour-by-plane)"),
        SyntheticStudy("ybr-full", ybr.StudyDescription, (ybr,),
                       "uncompressed YBR_FULL must be converted to RGB"),
    ]


def _hot_iron_lut() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 256-entry 16-bit 'hot iron' palette: black, red, yellow, white."""
    i = np.arange(256, dtype=np.float64)
    red = np.clip(i * 3, 0, 255)
    green = np.clip(i * 3 - 255, 0, 255)
    blue = np.clip(i * 3 - 510, 0, 255)
    return tuple((c * 257).astype(np.uint16) for c in (red, green, blue))  # type: ignore[return-value]


def palette_color_study() -> SyntheticStudy:
    """PALETTE COLOR: 8-bit indices into 16-bit red/green/blue lookup tables."""
    study = _StudySpec("palette", "Phantom^Palette", "OHIFPY-PAL", "Palette colour image",
                       "OHIF0004", "20240305")
    ds = _new_instance(study, _SeriesSpec(1, "OT", "Hot iron palette", SC_IMAGE), 0)
    y, x = np.mgrid[:240, :320]
    index = (x * 255 // 319).astype(np.uint8)
    index[(y - 160) ** 2 + (x - 160) ** 2 < 50**2] = 255
    index[:40, :40] = 0
    _set_pixels(ds, index, "PALETTE COLOR", 8)
    for colour, lut in zip(("Red", "Green", "Blue"), _hot_iron_lut()):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", lut.astype("<u2").tobytes())
    return SyntheticStudy(study.key, study.description, (ds,),
                          "palette LUT descriptors and data (InlineBinary or BulkDataURI)")


# --- projection radiography and LUTs ---------------------------------------------------


def _chest_radiograph() -> np.ndarray:
    """Display brightness 0..1 of a PA chest radiograph (bones bright, lungs dark)."""
    cv = _Canvas(500, 400, 0.8, 0.05)
    cv.ellipse(0, 40, 150, 200, 0.45)  # torso
    for side in (-1, 1):
        cv.ellipse(side * 60, -10, 52, 120, 0.16, angle=side * 0.08)  # lungs
        clavicle = (side * 70, -150, 65, 7, 0.8)
        cv.ellipse(*clavicle, within=(0.3, 1.0), angle=side * -0.25)
        for k in range(8):  # ribs as thin arcs over the lungs
            v = -110 + k * 28
            cv.ellipse(side * 60, v, 70, 5, 0.42, within=(0.1, 0.2), angle=side * 0.3)
    cv.ellipse(15, 20, 45, 60, 0.55, angle=0.4)  # heart
    cv.ellipse(0, 0, 11, 230, 0.75)  # spine
    return cv.image


def _gray_test_pattern(rows: int, cols: int, bits: int) -> np.ndarray:
    """A horizontal ramp over the full stored range with three discs of known value."""
    top = 2**bits - 1
    y, x = np.mgrid[:rows, :cols]
    image = (x * top // (cols - 1)).astype(np.uint16)
    for k, value in enumerate((0, top // 2, top)):
        cx = cols * (k + 1) // 4
        image[(y - rows // 2) ** 2 + (x - cx) ** 2 < (min(rows, cols) // 8) ** 2] = value
    return image


def monochrome1_study() -> SyntheticStudy:
    """MONOCHROME1 CR chest (500 rows x 400 columns): low stored values display white."""
    study = _StudySpec("cr-mono1", "Phantom^Chest CR", "OHIFPY-CR", "CR Chest PA",
                       "OHIF0005", "20240310", sex="F")
    ds = _new_instance(study, _SeriesSpec(1, "CR", "PA", CR_IMAGE, "CHEST"), 0)
    brightness = _chest_radiograph()
    noise = _rng(5, 0).normal(0, 25, brightness.shape)
    stored = np.clip((1 - brightness) * 3800 + 150 + noise, 0, 4095).astype(np.uint16)
    ds.ViewPosition = "PA"
    ds.PixelSpacing = ds.ImagerPixelSpacing = [0.8, 0.8]
    ds.WindowCenter = 2100
    ds.WindowWidth = 3600
    _set_pixels(ds, stored, "MONOCHROME1", 12)
    return SyntheticStudy(study.key, study.description, (ds,), "MONOCHROME1 inversion")


def _lut_item(first: int, bits: int, data: np.ndarray, explanation: str) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data), first, bits]
    item.LUTExplanation = explanation
    item.LUTData = [int(v) for v in data]
    item["LUTData"].VR = "US"
    return item


def lut_studies() -> list[SyntheticStudy]:
    """Three DX images of the grey ramp: Modality LUT Sequence, VOI LUT Sequence, SIGMOID.

    Both LUTs are non-linear, so a viewer that approximates them with a linear window
    shows visibly wrong grey levels.
    """
    ramp = _gray_test_pattern(256, 512, 12)
    studies = []
    specs = [
        ("modality-lut", "Modality LUT Sequence", "log curve to 16-bit output values"),
        ("voi-lut", "VOI LUT Sequence", "gamma 0.5 VOI LUT, no window"),
        ("voi-sigmoid", "VOILUTFunction SIGMOID", "sigmoid window function"),
    ]
    levels = np.arange(4096, dtype=np.float64)
    for n, (key, description, note) in enumerate(specs, start=1):
        study = _StudySpec(key, f"Phantom^LUT {n}", f"OHIFPY-LUT{n}", description,
                           f"OHIF02{n:02d}", "20240315")
        ds = _new_instance(study, _SeriesSpec(1, "DX", description, DX_IMAGE, "CHEST"), 0)
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelSpacing = [0.5, 0.5]
        _set_pixels(ds, ramp, "MONOCHROME2", 12)
        if key == "modality-lut":
            out = np.rint(65535 * np.log1p(levels) / math.log1p(4095))
            item = _lut_item(0, 16, out, "LOG")
            item.ModalityLUTType = "US"
            ds.ModalityLUTSequence = [item]
            ds.WindowCenter, ds.WindowWidth = 49152, 32768
        elif key == "voi-lut":
            ds.VOILUTSequence = [_lut_item(0, 12, np.rint(4095 * (levels / 4095) ** 0.5),
                                           "GAMMA 0.5")]
        else:
            ds.WindowCenter, ds.WindowWidth = 2048, 1200
            ds.VOILUTFunction = "SIGMOID"
        studies.append(SyntheticStudy(key, description, (ds,), note))
    return studies


# --- headers that break viewers ----------------------------------------------------------


def _small_image(study: _StudySpec, series: _SeriesSpec, index: int = 0) -> FileDataset:
    ds = _new_instance(study, series, index)
    _set_pixels(ds, _gray_test_pattern(64, 64, 8).astype(np.uint8), "MONOCHROME2", 8)
    return ds


def hostile_string_studies() -> list[SyntheticStudy]:
    """HTML/script injection in names and descriptions, and a 1000-character description.

    ``XSS_IMG`` as a PatientName also contains '=', the PN group separator, so it arrives
    split into Alphabetic/Ideographic/Phonetic groups: every part must be escaped.
    """
    xss = _StudySpec("xss", XSS_IMG, "OHIFPY-XSS", XSS_SCRIPT, "OHIF0006", "20240401")
    long_text = ("Very long description " + "lorem ipsum dolor sit amet " * 40)[:999] + "."
    long = _StudySpec("long-strings", "Longname^" + "Averyverylongpatientname" * 2,
                      "OHIFPY-LONG", long_text, "OHIF0007", "20240402")
    with disable_value_validation():  # LO allows 64 characters: that is the point
        studies = [
            SyntheticStudy("xss", XSS_SCRIPT, (
                _small_image(xss, _SeriesSpec(1, "OT", XSS_IMG, SC_IMAGE)),
                _small_image(xss, _SeriesSpec(2, "OT", XSS_SCRIPT, SC_IMAGE)),
            ), "markup in PatientName, StudyDescription and SeriesDescription"),
            SyntheticStudy("long-strings", long_text, (
                _small_image(long, _SeriesSpec(1, "OT", long_text, SC_IMAGE)),
            ), "1000-character study and series descriptions (LO is limited to 64)"),
        ]
    return studies


def charset_studies() -> list[SyntheticStudy]:
    """UTF-8 (ISO_IR 192) Greek, Japanese and emoji; ISO 2022 IR 87 Japanese with PN groups."""
    utf8 = _StudySpec("utf8", "Παπαδόπουλος^Γιάννης=山田^太郎", "OHIFPY-UTF8",
                      "Θώρακας 胸部 🫁 CT", "OHIF0008", "20240410", charset="ISO_IR 192")
    jis = _StudySpec("iso2022-jp", "Yamada^Tarou=山田^太郎=やまだ^たろう", "OHIFPY-JIS",
                     "胸部 CT", "OHIF0009", "20240411", charset=("", "ISO 2022 IR 87"))
    return [
        SyntheticStudy("utf8", utf8.description, (
            _small_image(utf8, _SeriesSpec(1, "OT", "Σειρά 🧠 シリーズ", SC_IMAGE)),
        ), "UTF-8 names and descriptions beyond the BMP"),
        SyntheticStudy("iso2022-jp", jis.description, (
            _small_image(jis, _SeriesSpec(1, "OT", "頭部", SC_IMAGE)),
        ), "ISO 2022 escape sequences; Alphabetic=Ideographic=Phonetic name groups"),
    ]


# --- planes: stacks of one frame of reference --------------------------------------------

PLANES_SPHERE_CENTRE = (20.0, -10.0, 7.0)
"""Patient position (mm) of the planes phantom's bright sphere."""
PLANES_SPHERE_RADIUS = 15.0
PLANES_SPHERE_HU = 1000
PLANES_BODY_RADIUS = 80.0
"""A 40 HU cylinder along z, centred on the z axis, in air."""
PLANES_BODY_HU = 40
PLANES_ROD = (-40.0, 30.0, 6.0)
"""x, y and radius (mm) of a 400 HU rod along z: left-right and front-back tell apart."""
PLANES_ROD_HU = 400


@dataclass(frozen=True)
class PlanesSeries:
    """One stack of the planes study: image ``i`` (in the order the viewer sorts it, which
    is also InstanceNumber order) has pixel (0, 0)'s centre at ``first + i * step``."""

    number: int
    description: str
    rows: int
    columns: int
    spacing: tuple[float, float]  # (row spacing, column spacing) as PixelSpacing
    orientation: tuple[float, ...]  # ImageOrientationPatient: row, then column cosines
    first: tuple[float, float, float]
    step: tuple[float, float, float]
    count: int
    own_frame: bool = False  # another FrameOfReferenceUID (the patient was moved)

    def position(self, index: int) -> tuple[float, float, float]:
        return tuple(round(f + index * s, 3) for f, s in zip(self.first, self.step))  # type: ignore[return-value]


PLANES_SERIES = (
    PlanesSeries(1, "Axial 2mm", 128, 128, (1.5, 1.5), (1, 0, 0, 0, 1, 0),
                 (-95.25, -95.25, 39.0), (0, 0, -2.0), 40),
    PlanesSeries(2, "Coronal 4mm", 128, 128, (1.0, 1.5), (1, 0, 0, 0, 0, -1),
                 (-95.25, -58.0, 63.0), (0, 4.0, 0), 30),
    PlanesSeries(3, "Axial 5mm", 96, 96, (2.0, 2.0), (1, 0, 0, 0, 1, 0),
                 (-95.0, -95.0, 37.5), (0, 0, -5.0), 16),
    PlanesSeries(4, "Sagittal other frame", 128, 128, (1.5, 1.5), (0, 1, 0, 0, 0, -1),
                 (-22.0, -95.25, 95.25), (4.0, 0, 0), 12, own_frame=True),
)
"""The planes study's stacks: thin and thick axial and a coronal of one frame of
reference (anisotropic pixels on the coronal), and a sagittal of another."""


def planes_hu(points: np.ndarray) -> np.ndarray:
    """Hounsfield units of the planes phantom at patient points (..., 3), exactly."""
    x, y = points[..., 0], points[..., 1]
    hu = np.full(points.shape[:-1], -1000, dtype=np.int16)
    hu[x**2 + y**2 <= PLANES_BODY_RADIUS**2] = PLANES_BODY_HU
    rod_x, rod_y, rod_r = PLANES_ROD
    hu[(x - rod_x) ** 2 + (y - rod_y) ** 2 <= rod_r**2] = PLANES_ROD_HU
    distance = np.linalg.norm(points - np.asarray(PLANES_SPHERE_CENTRE), axis=-1)
    hu[distance <= PLANES_SPHERE_RADIUS] = PLANES_SPHERE_HU
    return hu


def _ct_slice_header(ds: Dataset, frame_of_reference: str, thickness: float,
                     spacing: Sequence[float], orientation: Sequence[float],
                     position: Sequence[float]) -> None:
    """The frame of reference, plane and HU rescale of a CT slice (slices as thick as their
    spacing), as the phantom CTs of this package and of :mod:`ohifpy.synthetic_hanging`
    write them."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.FrameOfReferenceUID = frame_of_reference
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.SliceThickness = ds.SpacingBetweenSlices = thickness
    ds.PixelSpacing = list(spacing)
    ds.ImageOrientationPatient = list(orientation)
    ds.ImagePositionPatient = list(position)
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"


def planes_study() -> SyntheticStudy:
    """A small CT of a phantom (a cylinder, a rod and a bright sphere at known positions)
    in four stacks: axial 2 mm, coronal 4 mm and axial 5 mm share one frame of reference;
    a sagittal has its own. Pixels are the phantom sampled exactly at each pixel centre,
    so reference lines, scroll sync and MPR can be checked against :func:`planes_hu`."""
    study = _StudySpec("planes", "Phantom^Planes", "OHIFPY-PLANES", "CT planes phantom",
                       "OHIF0011", "20240115", sex="F", birth_date="19800101")
    datasets = []
    for spec in PLANES_SERIES:
        series = _SeriesSpec(spec.number, "CT", spec.description, CT_IMAGE, "PHANTOM")
        frame = _uid(study.key, "frame-of-reference", spec.number if spec.own_frame else 0)
        cosines = np.asarray(spec.orientation, dtype=float)
        columns = np.arange(spec.columns)[None, :, None] * spec.spacing[1] * cosines[:3]
        rows = np.arange(spec.rows)[:, None, None] * spec.spacing[0] * cosines[3:]
        for i in range(spec.count):
            ds = _new_instance(study, series, i)
            position = spec.position(i)
            _ct_slice_header(ds, frame, float(np.linalg.norm(spec.step)), spec.spacing,
                             spec.orientation, position)
            ds.WindowCenter = 40
            ds.WindowWidth = 400
            hu = planes_hu(np.asarray(position) + columns + rows)
            _set_pixels(ds, (hu + 1024).astype(np.int16), "MONOCHROME2", 16)
            datasets.append(ds)
    return SyntheticStudy(study.key, study.description, tuple(datasets),
                          "stacks of one frame of reference in three orientations: "
                          "reference lines, scroll sync, MPR")


def no_modality_study() -> SyntheticStudy:
    """A secondary capture with no Modality: the study's ModalitiesInStudy comes back empty.

    OHIF's study list fails as a whole on such a row; ours must show it.
    """
    study = _StudySpec("no-modality", "Phantom^No Modality", "OHIFPY-NOMOD",
                       "Study without modality", "OHIF0010", "20240420")
    ds = _small_image(study, _SeriesSpec(1, None, "No modality", SC_IMAGE))
    return SyntheticStudy(study.key, study.description, (ds,),
                          "empty ModalitiesInStudy breaks OHIF's study list")


def all_studies(ct_slices: int = 200) -> list[SyntheticStudy]:
    """Every synthetic study, in a fixed order, each with its own StudyInstanceUID."""
    return [
        ct_study(ct_slices),
        mr_study(),
        xa_cine_study(),
        *color_studies(),
        palette_color_study(),
        monochrome1_study(),
        *lut_studies(),
        *hostile_string_studies(),
        *charset_studies(),
        no_modality_study(),
        planes_study(),
    ]


def derive_study(source: SyntheticStudy, key: str, description: str, *,
                 count: int | None = None, patient: tuple[str, str] | None = None,
                 note: str = "") -> SyntheticStudy:
    """Copy the first ``count`` instances of ``source`` into a new study with new UIDs.

    Study, series, SOP instance and frame-of-reference UIDs are re-hashed from ``key``,
    so the copy can live in the same archive as the source (used to store the same CT
    once per transfer syntax). ``patient`` is an optional (PatientName, PatientID).
    """
    picked: Sequence[FileDataset] = source.datasets[:count]
    datasets = []
    for old in picked:
        ds = copy.deepcopy(old)
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                     "FrameOfReferenceUID"):
            if name in ds:
                setattr(ds, name, _uid(key, name, ds[name].value))
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyDescription = description
        if patient is not None:
            ds.PatientName, ds.PatientID = patient
        datasets.append(ds)
    return SyntheticStudy(key, description, tuple(datasets), note)
