"""Studies, series, instances and display sets, built from DICOMweb metadata.

A *display set* is what a viewport shows and scrolls through: an ordered list of
images (instance + frame). As in OHIF, a series of single-frame images becomes one
display set sorted by geometry, each multi-frame instance its own display set (one
image per frame), and instances without pixel data (presentation states, key objects)
none.

What is not an image stack gets a display set of its own *kind*, chosen by SOP class
(and, for video, transfer syntax) as OHIF's SOP class handlers choose: every
segmentation (``seg``, its frames kept as images for the overlay code), RT structure set
(``rtstruct``), SR document (``sr``), encapsulated PDF (``pdf``) and video (``video``)
instance is one display set. The viewer's own measurement reports (SR whose root is a
TID 1500 Imaging Measurement Report) get none: they are read into the measurements
(:func:`ohifpy.sr.latest_reports`), which is what OHIF does with them.

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
from pydicom import uid as _uids

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
    "DISPLAY_SET_KINDS",
    "DisplaySet",
    "ImageRef",
    "Instance",
    "ModelError",
    "Series",
    "Study",
    "describe",
    "display_sets_from_instances",
    "float_values",
    "frame_bytes",
    "instance_kind",
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


IMAGE, SEG, RTSTRUCT, SR, PDF, VIDEO = "image", "seg", "rtstruct", "sr", "pdf", "video"
DISPLAY_SET_KINDS = (IMAGE, SEG, RTSTRUCT, SR, PDF, VIDEO)
"""What a display set holds: an image stack, or one instance shown its own way."""
MEASUREMENT_REPORT = "measurement-report"
"""The kind of an SR that is a TID 1500 measurement report: read into the measurements,
never a display set of its own."""

_KIND_OF_SOP_CLASS: dict[str, str] = {
    _uids.SegmentationStorage: SEG,
    _uids.RTStructureSetStorage: RTSTRUCT,
    _uids.BasicTextSRStorage: SR,
    _uids.EnhancedSRStorage: SR,
    _uids.ComprehensiveSRStorage: SR,
    _uids.Comprehensive3DSRStorage: SR,
    _uids.EncapsulatedPDFStorage: PDF,
    _uids.VideoEndoscopicImageStorage: VIDEO,
    _uids.VideoMicroscopicImageStorage: VIDEO,
    _uids.VideoPhotographicImageStorage: VIDEO,
}
VIDEO_TRANSFER_SYNTAXES = frozenset(_uids.MPEGTransferSyntaxes)
"""MPEG-2, MPEG-4 AVC/H.264 and HEVC/H.265 (and their fragmentable variants): whatever the
SOP class, pixel data in one of these is a video stream, not frames to decode."""
_REPORT_CONCEPT = ("126000", "DCM")  # Imaging Measurement Report, the root of TID 1500


def instance_kind(sop_class_uid: str, transfer_syntax_uid: str = "", has_pixels: bool = False,
                  is_measurement_report: bool = False) -> str | None:
    """The display-set kind of an instance (None: it gets no display set).

    A video is told by its transfer syntax where the metadata has one (any SOP class, as
    OHIF's video handler takes secondary captures in a video syntax), else by its SOP
    class; a video SOP class stored as frames of another syntax (JPEG) is an image stack.
    An SR that is a measurement report (TID 1500) is :data:`MEASUREMENT_REPORT`.
    """
    if transfer_syntax_uid in VIDEO_TRANSFER_SYNTAXES:
        return VIDEO
    kind = _KIND_OF_SOP_CLASS.get(sop_class_uid)
    if kind == VIDEO and transfer_syntax_uid:
        return IMAGE if has_pixels else None
    if kind == SR and is_measurement_report and sop_class_uid != _uids.BasicTextSRStorage:
        return MEASUREMENT_REPORT  # the SOP classes ohifpy.sr reads reports from
    if kind is not None:
        return kind
    return IMAGE if has_pixels else None


def _transfer_syntax(ds: Dataset) -> str:
    """The syntax a dataset says it is stored in: AvailableTransferSyntaxUID (DICOMweb
    metadata), else TransferSyntaxUID (its file meta, or the metadata's own)."""
    value = ds.get("AvailableTransferSyntaxUID") or ds.get("TransferSyntaxUID")
    if not value:
        meta = getattr(ds, "file_meta", None)
        value = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(value or "").strip()


def _is_report_dataset(ds: Dataset) -> bool:
    names = ds.get("ConceptNameCodeSequence") or []
    return bool(names) and (str(names[0].get("CodeValue", "")),
                            str(names[0].get("CodingSchemeDesignator", ""))) == _REPORT_CONCEPT


def _is_report_json(obj: dict[str, Any]) -> bool:
    names = json_values(obj, "ConceptNameCodeSequence")
    if not names or not isinstance(names[0], dict):
        return False
    code = tuple(json_values(names[0], keyword)[:1] for keyword in
                 ("CodeValue", "CodingSchemeDesignator"))
    return code == tuple([part] for part in _REPORT_CONCEPT)


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


def frame_bytes(image: ImageRef) -> int:
    """What an image takes decoded (its stored values: 1, 2 or 4 bytes a sample)."""
    instance = image.instance
    sample = min(max(instance.bits_allocated // 8, 1), 4)
    return instance.rows * instance.columns * max(instance.samples_per_pixel, 1) * sample


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
    transfer_syntax_uid: str = field(default="", compare=False, repr=False)
    is_measurement_report: bool = field(default=False, compare=False, repr=False)
    json: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The DICOM JSON object it was read from (:meth:`from_json`), None otherwise: readers
    that are faster on it than on the converted dataset (a SEG's thousand functional
    groups, :meth:`ohifpy.overlays.seg.Segmentation.from_json`) take it instead."""

    def __post_init__(self) -> None:
        if self.number_of_frames < 1:
            raise ModelError(f"SOP instance {self.sop_instance_uid}: NumberOfFrames < 1")

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Instance:
        return cls._from_attributes(
            {keyword: ds.get(keyword) for keyword in _INSTANCE_KEYWORDS},
            any(keyword in ds for keyword in _FUNCTIONAL_GROUPS),
            lambda: ds,
            _transfer_syntax(ds),
            _is_report_dataset(ds),
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any], url: str, index: int = 0) -> Instance:
        """An instance from a DICOM JSON object of a metadata response from ``url``."""
        attributes = {}
        for keyword in _INSTANCE_KEYWORDS:
            values = json_values(obj, keyword)
            attributes[keyword] = values if len(values) > 1 else (values[0] if values else None)
        has_groups = any(json_values(obj, keyword) for keyword in _FUNCTIONAL_GROUPS)
        syntax = next((str(values[0]) for keyword in ("AvailableTransferSyntaxUID",
                                                      "TransferSyntaxUID")
                       if (values := json_values(obj, keyword))), "")
        return cls._from_attributes(attributes, has_groups,
                                    lambda: dataset_from_json(obj, url, index),
                                    syntax.strip(), _is_report_json(obj), obj)

    @classmethod
    def _from_attributes(
        cls, values: dict[str, Any], has_groups: bool, load: Callable[[], Dataset],
        transfer_syntax_uid: str = "", is_measurement_report: bool = False,
        json: dict[str, Any] | None = None,
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
            transfer_syntax_uid=transfer_syntax_uid,
            is_measurement_report=is_measurement_report,
            json=json,
        )

    @cached_property
    def metadata(self) -> Dataset:
        """The whole dataset (converted from DICOM JSON the first time it is asked for)."""
        return self.load_metadata()

    def adopt_metadata(self, ds: Dataset) -> bool:
        """Take ``ds``, the instance read from its file without its pixel data, as the
        metadata unless that is converted already (then False): reading a file's elements
        (converted as they are used) costs a fraction of converting the DICOM JSON object
        whole, and the file holds all that metadata may leave out (bulk data, Orthanc's
        US/SS elements), so there is no bulk data to load for it."""
        return self.__dict__.setdefault("metadata", ds) is ds

    def _attributes(self) -> Any:
        """The dataset if it is converted already, else a read-only view of the DICOM JSON
        (``get``/``in`` only): reading a thousand frames' functional groups from the JSON
        costs a fraction of converting them (see :mod:`ohifpy.overlays._json`)."""
        if self.json is None or "metadata" in self.__dict__:
            return self.metadata
        from .overlays._json import JsonAttributes

        return JsonAttributes(self.json)

    @property
    def has_pixels(self) -> bool:
        """Images have Rows/Columns; SR, KO and presentation states do not."""
        return self.rows > 0 and self.columns > 0

    @property
    def kind(self) -> str | None:
        """The kind of display set it makes (see :func:`instance_kind`), None for none."""
        return instance_kind(self.sop_class_uid, self.transfer_syntax_uid, self.has_pixels,
                             self.is_measurement_report)

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
        ds = self._attributes()
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
    """What one viewport shows: an ordered stack of images, or one non-image instance.

    ``kind`` is one of :data:`DISPLAY_SET_KINDS`: ``image`` (a stack; ``images`` never
    empty), ``seg`` (one segmentation instance, its frames in ``images`` for the overlay
    code, not a stack to show), or ``rtstruct``, ``sr``, ``pdf``, ``video`` (one instance,
    no ``images``: a video's frames are not decoded here but played by the browser).
    ``instances`` are the instances it holds (those of ``images``, in order, when not
    given); :attr:`instance` is the first.

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
    kind: str = IMAGE
    instances: tuple[Instance, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in DISPLAY_SET_KINDS:
            raise ModelError(f"display set of series {self.series_instance_uid}: unknown kind "
                             f"{self.kind!r}; known: {', '.join(DISPLAY_SET_KINDS)}")
        if self.kind == IMAGE and not self.images:
            raise ModelError(f"display set of series {self.series_instance_uid} has no images")
        if not self.instances:
            unique = {id(r.instance): r.instance for r in self.images}
            object.__setattr__(self, "instances", tuple(unique.values()))
        if not self.instances:
            raise ModelError(f"{self.kind} display set of series {self.series_instance_uid} "
                             "has no instance")

    @property
    def instance(self) -> Instance:
        """The first instance (the only one of a non-image display set)."""
        return self.instances[0]

    @property
    def is_image(self) -> bool:
        """An image stack a viewport scrolls (not an overlay, document or video)."""
        return self.kind == IMAGE

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
        if not self.images:
            return None
        ds = self.images[0].instance.metadata
        measures = frame_functional_group(ds, self.images[0].frame_index, "PixelMeasuresSequence")
        return float_values(measures, "PixelSpacing", 2) if measures is not None else float_values(
            ds, "PixelSpacing", 2
        )


def _distances_along(images: Sequence[ImageRef], normal: np.ndarray) -> list[float]:
    """Each image's ImagePositionPatient · normal (every image has a position)."""
    positions = np.asarray([r.image_position for r in images], dtype=float)
    return (positions @ normal).tolist()


def describe(display_set: DisplaySet) -> str:
    """A display set as a person names it: its description, else its series number."""
    if display_set.series_description.strip():
        return repr(display_set.series_description.strip())
    if display_set.series_number is not None:
        return f"series {display_set.series_number}"
    return f"series {display_set.series_instance_uid}"


def display_sets_from_instances(instances: Iterable[Instance]) -> list[DisplaySet]:
    """Split a series' instances into display sets (OHIF's SOP class handlers).

    Single-frame images of one series share a display set, sorted by position; every
    multi-frame image instance is its own (sorted by its per-frame positions when it has
    them); every SEG, RTSTRUCT, SR, PDF and video instance is one display set of its kind
    (see :func:`instance_kind`); measurement reports and other instances without pixels
    are left out. The display sets are in series order (SeriesNumber, then UID), as the
    series panel lists them.
    """
    groups: dict[tuple[str, str], list[Instance]] = {}
    kinds: dict[tuple[str, str], str] = {}
    for inst in instances:
        kind = inst.kind
        if kind is None or kind not in DISPLAY_SET_KINDS:
            continue
        own = kind != IMAGE or inst.number_of_frames > 1
        key = (inst.series_instance_uid, inst.sop_instance_uid if own else "")
        groups.setdefault(key, []).append(inst)
        kinds[key] = kind
    result = []
    for (series_uid, own_uid), members in groups.items():
        kind = kinds[(series_uid, own_uid)]
        first = members[0]._attributes()  # a few attributes: no dataset made for them
        if kind == IMAGE or (kind == SEG and members[0].has_pixels):
            images = sort_by_position([ref for inst in members for ref in inst.frames()])
        else:
            images = []
        result.append(
            DisplaySet(
                display_set_uid=f"{series_uid}/{own_uid}" if own_uid else series_uid,
                study_instance_uid=members[0].study_instance_uid,
                series_instance_uid=series_uid,
                modality=_text(first, "Modality"),
                series_description=_text(first, "SeriesDescription"),
                series_number=_int(first, "SeriesNumber"),
                images=tuple(images),
                reconstruction=reconstructability(images) if kind == IMAGE
                else NOT_RECONSTRUCTABLE,
                frame_of_reference_uid=_text(first, "FrameOfReferenceUID"),
                kind=kind,
                instances=() if kind == IMAGE else tuple(members),
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
