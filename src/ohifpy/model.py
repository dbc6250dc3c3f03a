"""Studies, series, instances and display sets, built from DICOMweb metadata.

A *display set* is what a viewport shows and scrolls through: an ordered list of
images (instance + frame). As in OHIF, a series of single-frame images becomes one
display set sorted by geometry, each multi-frame instance its own display set (one
image per frame), and instances without pixel data (SR, presentation states) none.

Objects validate in their constructors and are built with ``from_dataset``
(highdicom's habit), so a half-formed model never exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pydicom import Dataset

from .dicomweb.dicom_json import dataset_from_json, json_values
from .errors import OhifpyError
from .imaging.functional_groups import frame_functional_group
from .imaging.pixel_module import pixel_data_problem
from .reconstructable import (
    IOP_TOLERANCE,
    NOT_RECONSTRUCTABLE,
    Reconstructability,
    reconstructability,
)

__all__ = [
    "DisplaySet",
    "ImageRef",
    "Instance",
    "ModelError",
    "Series",
    "Study",
    "display_sets_from_instances",
    "float_values",
    "sort_by_position",
]


class ModelError(OhifpyError, ValueError):
    """Metadata that cannot form a study/series/instance (a required UID is missing)."""


# Datasets, or the few attributes of one read from DICOM JSON (Instance.from_json).
Attributes = Dataset | Mapping[str, Any]


def _text(ds: Attributes, keyword: str) -> str:
    """A tag's value as a plain string ('' when absent or empty); PN gives its Alphabetic form."""
    value = ds.get(keyword)
    return "" if value is None else str(value)


def _int(ds: Attributes, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def float_values(ds: Attributes | None, keyword: str, count: int) -> np.ndarray | None:
    """A multi-valued DS tag as a float vector, or None when absent or malformed."""
    value = None if ds is None else ds.get(keyword)
    if value is None:
        return None
    try:
        floats = [float(v) for v in (value if isinstance(value, Sequence) else [value])]
    except (TypeError, ValueError):
        return None
    if len(floats) != count or not all(map(math.isfinite, floats)):
        return None
    return np.asarray(floats)


def _required_uid(ds: Attributes, keyword: str, what: str) -> str:
    uid = _text(ds, keyword)
    if not uid:
        raise ModelError(f"{what} metadata has no {keyword}")
    return uid


@dataclass(frozen=True)
class ImageRef:
    """One displayable image: a frame (1-based, as in WADO-RS) of an instance, with its plane."""

    instance: Instance
    frame_number: int
    image_position: np.ndarray | None = field(default=None, compare=False, repr=False)
    image_orientation: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.frame_number <= self.instance.number_of_frames:
            raise ModelError(
                f"frame {self.frame_number} out of range 1..{self.instance.number_of_frames} "
                f"for SOP instance {self.instance.sop_instance_uid}"
            )

    @property
    def frame_index(self) -> int:
        """0-based index, as the pixel pipeline counts frames."""
        return self.frame_number - 1

    @property
    def normal(self) -> np.ndarray | None:
        """Unit slice normal: row direction cosine × column direction cosine."""
        if self.image_orientation is None:
            return None
        n = np.cross(self.image_orientation[:3], self.image_orientation[3:])
        norm = float(np.linalg.norm(n))
        return n / norm if norm > 1e-6 else None


# Attributes an instance is ordered and grouped by, read before its dataset is converted.
_INSTANCE_KEYWORDS = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "InstanceNumber",
    "NumberOfFrames", "Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient",
    "SamplesPerPixel", "BitsAllocated",
)
_FUNCTIONAL_GROUPS = ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence")


@dataclass(frozen=True)
class Instance:
    """An SOP instance as described by its WADO-RS metadata.

    ``metadata`` (the whole pydicom dataset, for the pixel pipeline and overlays) is
    made on first use: opening a study reads a few attributes of every instance
    (:meth:`from_json`) and converts only the instances it shows.

    An instance whose metadata claims more pixel data than is ever loaded
    (:attr:`pixel_problem`) gives one image, not one per claimed frame: loading it fails
    with the reason, and the rest of its study is not held up.
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    instance_number: int | None
    number_of_frames: int
    rows: int
    columns: int
    load_metadata: Callable[[], Dataset] = field(compare=False, repr=False)
    image_position: np.ndarray | None = field(default=None, compare=False, repr=False)
    image_orientation: np.ndarray | None = field(default=None, compare=False, repr=False)
    has_functional_groups: bool = field(default=False, compare=False, repr=False)
    samples_per_pixel: int = field(default=1, compare=False, repr=False)
    bits_allocated: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.number_of_frames < 1:
            raise ModelError(f"SOP instance {self.sop_instance_uid}: NumberOfFrames < 1")

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Instance:
        return cls._from_attributes(
            {keyword: ds.get(keyword) for keyword in _INSTANCE_KEYWORDS},
            any(keyword in ds for keyword in _FUNCTIONAL_GROUPS),
            lambda: ds,
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any], url: str, index: int = 0) -> Instance:
        """An instance from a DICOM JSON object of a metadata response from ``url``."""
        attributes = {}
        for keyword in _INSTANCE_KEYWORDS:
            values = json_values(obj, keyword)
            attributes[keyword] = values if len(values) > 1 else (values[0] if values else None)
        has_groups = any(json_values(obj, keyword) for keyword in _FUNCTIONAL_GROUPS)
        return cls._from_attributes(attributes, has_groups,
                                    lambda: dataset_from_json(obj, url, index))

    @classmethod
    def _from_attributes(
        cls, values: dict[str, Any], has_groups: bool, load: Callable[[], Dataset]
    ) -> Instance:
        return cls(
            study_instance_uid=_required_uid(values, "StudyInstanceUID", "instance"),
            series_instance_uid=_required_uid(values, "SeriesInstanceUID", "instance"),
            sop_instance_uid=_required_uid(values, "SOPInstanceUID", "instance"),
            sop_class_uid=_text(values, "SOPClassUID"),
            instance_number=_int(values, "InstanceNumber"),
            number_of_frames=max(_int(values, "NumberOfFrames") or 1, 1),
            rows=_int(values, "Rows") or 0,
            columns=_int(values, "Columns") or 0,
            load_metadata=load,
            image_position=float_values(values, "ImagePositionPatient", 3),
            image_orientation=float_values(values, "ImageOrientationPatient", 6),
            has_functional_groups=has_groups,
            samples_per_pixel=max(_int(values, "SamplesPerPixel") or 1, 1),
            bits_allocated=max(_int(values, "BitsAllocated") or 1, 1),
        )

    @cached_property
    def metadata(self) -> Dataset:
        """The whole dataset (converted from DICOM JSON the first time it is asked for)."""
        return self.load_metadata()

    @property
    def has_pixels(self) -> bool:
        """Images have Rows/Columns; SR, KO and presentation states do not."""
        return self.rows > 0 and self.columns > 0

    @property
    def pixel_problem(self) -> str | None:
        """Why the pixel data the metadata claims is too large to load, or None.

        Missing Samples per Pixel and Bits Allocated count as their least (1), so only
        a claim that is too large whatever they are is caught here; the whole Image Pixel
        Module is checked again before a frame is fetched.
        """
        problem = pixel_data_problem(self.rows, self.columns, self.samples_per_pixel,
                                     self.bits_allocated, self.number_of_frames)
        return f"SOP instance {self.sop_instance_uid}: {problem}" if problem else None

    def frames(self) -> list[ImageRef]:
        """Every frame as an image, with its plane (per-frame functional groups when enhanced).

        An instance claiming too much pixel data gives its first frame only (see
        :attr:`pixel_problem`).
        """
        if self.pixel_problem:
            return [ImageRef(self, 1, self.image_position, self.image_orientation)]
        if not self.has_functional_groups:
            position = self.image_position if self.number_of_frames == 1 else None
            return [ImageRef(self, number, position, self.image_orientation)
                    for number in range(1, self.number_of_frames + 1)]
        ds = self.metadata
        refs = []
        for index in range(self.number_of_frames):
            position = float_values(frame_functional_group(ds, index, "PlanePositionSequence"),
                               "ImagePositionPatient", 3)
            orientation = float_values(frame_functional_group(ds, index, "PlaneOrientationSequence"),
                                  "ImageOrientationPatient", 6)
            if position is None and self.number_of_frames == 1:
                position = self.image_position
            if orientation is None:
                orientation = self.image_orientation
            refs.append(ImageRef(self, index + 1, position, orientation))
        return refs


def sort_by_position(images: Sequence[ImageRef]) -> list[ImageRef]:
    """Order images along the slice normal, falling back to InstanceNumber then frame.

    Position is ImagePositionPatient · normal (cornerstone3D's ordering, ascending).
    When InstanceNumbers run against that direction (the usual head-first CT, numbered
    from the top), the order is reversed so the stack opens where the acquisition began,
    as it does in OHIF's stack viewport. Images without geometry, or with differing
    orientations (any direction cosine more than :data:`~ohifpy.reconstructable.IOP_TOLERANCE`
    from the first image's, as OHIF compares them), are ordered by InstanceNumber alone.
    """

    def by_number(ref: ImageRef) -> tuple[int, int, str]:
        number = ref.instance.instance_number
        return (number if number is not None else 1 << 30, ref.frame_number,
                ref.instance.sop_instance_uid)

    images = list(images)
    normal = images[0].normal if images else None
    if normal is None or any(r.image_position is None or r.image_orientation is None
                             for r in images):
        return sorted(images, key=by_number)
    # One array operation per stack, not one per image: small numpy calls are what a
    # 200-slice series costs most in WebAssembly.
    orientations = np.asarray([r.image_orientation for r in images])
    if np.any(np.abs(orientations - orientations[0]) >= IOP_TOLERANCE):
        return sorted(images, key=by_number)
    distances = _distances_along(images, normal)
    order = sorted(range(len(images)), key=lambda i: (distances[i], by_number(images[i])))
    ordered = [images[i] for i in order]
    numbers = [r.instance.instance_number for r in ordered]
    if None not in numbers and len(ordered) > 1:
        steps = np.sign(np.diff(np.asarray(numbers, dtype=float)))
        if steps.sum() < 0:
            ordered.reverse()
    return ordered


@dataclass(frozen=True)
class DisplaySet:
    """An ordered stack of images a viewport scrolls through.

    ``reconstruction`` says whether MPR may use it and why not, by OHIF's rules (see
    :mod:`ohifpy.reconstructable`); ``is_reconstructable`` and ``spacing_between_slices``
    (the nominal distance between adjacent slices along the normal, None when not
    measured) read it. ``frame_of_reference_uid`` is the first instance's
    FrameOfReferenceUID ('' when absent).
    """

    display_set_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    series_description: str
    series_number: int | None
    images: tuple[ImageRef, ...]
    reconstruction: Reconstructability = NOT_RECONSTRUCTABLE
    frame_of_reference_uid: str = ""

    def __post_init__(self) -> None:
        if not self.images:
            raise ModelError(f"display set of series {self.series_instance_uid} has no images")

    @property
    def is_reconstructable(self) -> bool:
        return self.reconstruction.reconstructable

    @property
    def spacing_between_slices(self) -> float | None:
        return self.reconstruction.spacing

    @property
    def is_multiframe(self) -> bool:
        return len(self.images) > 1 and len({r.instance.sop_instance_uid for r in self.images}) == 1

    @property
    def pixel_spacing(self) -> np.ndarray | None:
        """(row spacing, column spacing) in mm of the first image, when known."""
        ds = self.images[0].instance.metadata
        measures = frame_functional_group(ds, self.images[0].frame_index, "PixelMeasuresSequence")
        return float_values(measures, "PixelSpacing", 2) if measures is not None else float_values(
            ds, "PixelSpacing", 2
        )


def _distances_along(images: Sequence[ImageRef], normal: np.ndarray) -> list[float]:
    """Each image's ImagePositionPatient · normal (every image has a position)."""
    positions = np.asarray([r.image_position for r in images], dtype=float)
    return (positions @ normal).tolist()


def display_sets_from_instances(instances: Iterable[Instance]) -> list[DisplaySet]:
    """Split a series' instances into display sets (OHIF's default SOP class handler).

    Single-frame images of one series share a display set, sorted by position; every
    multi-frame instance is its own (sorted by its per-frame positions when it has them);
    instances without pixels are left out.
    """
    groups: dict[tuple[str, str], list[Instance]] = {}
    for inst in instances:
        if not inst.has_pixels:
            continue
        key = (inst.series_instance_uid,
               inst.sop_instance_uid if inst.number_of_frames > 1 else "")
        groups.setdefault(key, []).append(inst)
    result = []
    for (series_uid, multiframe_uid), members in groups.items():
        first = members[0].metadata
        images = sort_by_position([ref for inst in members for ref in inst.frames()])
        result.append(
            DisplaySet(
                display_set_uid=f"{series_uid}/{multiframe_uid}" if multiframe_uid else series_uid,
                study_instance_uid=members[0].study_instance_uid,
                series_instance_uid=series_uid,
                modality=_text(first, "Modality"),
                series_description=_text(first, "SeriesDescription"),
                series_number=_int(first, "SeriesNumber"),
                images=tuple(images),
                reconstruction=reconstructability(images),
                frame_of_reference_uid=_text(first, "FrameOfReferenceUID"),
            )
        )
    result.sort(key=lambda d: (d.series_number if d.series_number is not None else 1 << 30,
                               d.display_set_uid))
    return result


@dataclass(frozen=True)
class Series:
    """A series row from QIDO (what the study list and series panel show)."""

    series_instance_uid: str
    modality: str = ""
    series_description: str = ""
    series_number: int | None = None
    number_of_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Series:
        return cls(
            series_instance_uid=_required_uid(ds, "SeriesInstanceUID", "series"),
            modality=_text(ds, "Modality"),
            series_description=_text(ds, "SeriesDescription"),
            series_number=_int(ds, "SeriesNumber"),
            number_of_instances=_int(ds, "NumberOfSeriesRelatedInstances"),
        )


@dataclass(frozen=True)
class Study:
    """A study row from QIDO. Missing attributes stay empty: a row is shown, never dropped."""

    study_instance_uid: str
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    modalities_in_study: tuple[str, ...] = ()
    number_of_instances: int | None = None
    number_of_series: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Study:
        modalities = ds.get("ModalitiesInStudy")
        if modalities is None or modalities == "":
            modalities_tuple: tuple[str, ...] = ()
        elif isinstance(modalities, str):
            modalities_tuple = tuple(m for m in modalities.split("\\") if m)
        else:
            modalities_tuple = tuple(str(m) for m in modalities if m)
        return cls(
            study_instance_uid=_required_uid(ds, "StudyInstanceUID", "study"),
            patient_name=_text(ds, "PatientName"),
            patient_id=_text(ds, "PatientID"),
            study_date=_text(ds, "StudyDate"),
            study_time=_text(ds, "StudyTime"),
            study_description=_text(ds, "StudyDescription"),
            accession_number=_text(ds, "AccessionNumber"),
            modalities_in_study=modalities_tuple,
            number_of_instances=_int(ds, "NumberOfStudyRelatedInstances"),
            number_of_series=_int(ds, "NumberOfStudyRelatedSeries"),
        )
