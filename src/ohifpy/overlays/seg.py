"""DICOM Segmentation (PS3.3 A.51, C.8.20): segments, frames and the source images they cover.

A SEG is one multi-frame instance. Each frame is one segment's mask on one plane: the
per-frame functional groups say which segment (Segment Identification), which source image
it was derived from (Derivation Image -> Source Image: SOP Instance UID and frame) and where
it lies (Plane Position). This module reads those, holds the pixel data as it came (bit-packed
frames stay packed), and hands the viewer, for any image of the source series, the masks to
blend over it; and, per segment, its volume and the statistics of the image values under it.

Reading
    ``Segmentation.from_dataset(ds)`` takes the instance's metadata (a pydicom Dataset, as
    ``Instance.metadata`` gives it, or a file read by pydicom); ``Segmentation.from_json(obj)``
    reads the DICOM JSON of a WADO-RS metadata answer as it is, without the Dataset pydicom
    would make of it first (for 1,000 frames, 11 ms instead of 600 + 25 ms in CPython). Pixels
    come with it when the
    dataset holds Pixel Data, else later: the whole Pixel Data value at once
    (:meth:`Segmentation.load_pixel_data`, native or encapsulated), or frame by frame as
    WADO-RS returns them (:meth:`Segmentation.set_frame`; an encapsulated syntax goes through
    :mod:`ohifpy.imaging.codecs`, whose decoder the caller readies with ``load_decoder``).
    Minor deviations are tolerated with a note (a frame without Segment Identification in a
    SEG of one segment, a segment number missing from the Segment Sequence), as highdicom's
    readers do; what cannot be shown raises :class:`SegmentationError`.

Types
    BINARY: Bits Allocated 1, bit-packed with the first pixel in the least significant bit
    (PS3.5 8.1.1); frames follow each other without padding, so a frame whose pixel count is
    not a multiple of 8 starts inside a byte. FRACTIONAL: 8-bit values, 0..Maximum Fractional
    Value (a probability or an occupancy). LABELMAP (Label Map Segmentation Storage): each
    frame holds segment numbers, one plane, every segment at once.

Matching frames to images (:meth:`Segmentation.match`)
    Only images of the SEG's source series (Referenced Series Sequence) are candidates, when
    it names any and the images say their series. Then, as OHIF's SEG loader (cornerstone's
    adapters): first by reference (the frame's source SOP
    Instance UID and frame number; a missing frame number means frame 1 of a single-frame
    instance), then by position for frames that name no image the series has: parallel planes
    (orientation within :data:`~ohifpy.reconstructable.IOP_TOLERANCE`), the same pixel grid,
    and ImagePositionPatient within a tenth of the slice gap through the plane (at least
    :data:`POSITION_TOLERANCE_MM`) and a tenth of a pixel in it. The result,
    :class:`SegmentationOverlay`, says why nothing could be matched (``reason``) and what could
    not (``notes``).

Cost
    Nothing is unpacked at load: a frame is unpacked when it is asked for, and then only its
    bounding box (found on the packed bytes, eight pixels a byte), so a SEG of 1,000 frames of
    512x512 loads in the time it takes to read its functional groups. Measured in CPython on
    the test CT's 200 slices x 5 segments (1,000 frames, all kept): ``from_json`` 11 ms,
    ``match`` 3 ms, ``masks_for`` 0.1 ms an image, :func:`segment_statistics` 5 ms.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, ExplicitVRLittleEndian

from ..errors import OhifpyError
from ..imaging.codecs import decode_frame
from ..imaging.pixel_module import PixelModule, PixelModuleError
from ..numeric import median
from ..reconstructable import IOP_TOLERANCE
from ._json import JsonAttributes
from .cielab import default_color, dicom_lab_to_rgb

if TYPE_CHECKING:
    from ..model import ImageRef

__all__ = [
    "LABEL_MAP_SEGMENTATION_STORAGE",
    "POSITION_TOLERANCE_MM",
    "SEGMENTATION_SOP_CLASSES",
    "SEGMENTATION_STORAGE",
    "ImageKey",
    "Segment",
    "SegmentStatistics",
    "Segmentation",
    "SegmentationError",
    "SegmentationFrame",
    "SegmentationOverlay",
    "SourceImage",
    "image_key",
    "is_segmentation",
    "segment_statistics",
    "unpack_bits",
]

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEGMENTATION_SOP_CLASSES = frozenset({SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE})

POSITION_TOLERANCE_MM = 0.05
"""Least distance (mm) a frame's position may be off its image's when matched by position:
DS values are decimal strings, rounded by whoever wrote them."""

ImageKey = tuple[str, int]
"""An image of the source series: (SOP Instance UID, frame number from 1)."""


class SegmentationError(OhifpyError, ValueError):
    """A SEG that cannot be read or shown; the message says what is wrong with it."""


def is_segmentation(ds_or_sop_class: Dataset | str) -> bool:
    """Whether a dataset (or an SOP Class UID) is a Segmentation or Label Map Segmentation."""
    uid = ds_or_sop_class if isinstance(ds_or_sop_class, str) \
        else ds_or_sop_class.get("SOPClassUID", "")
    return str(uid).strip() in SEGMENTATION_SOP_CLASSES


@dataclass(frozen=True)
class Segment:
    """One segment of the Segment Sequence, with the colour to show it in.

    ``color`` is sRGB 0..255: from Recommended Display CIELab Value when the segment has
    one (``cielab`` holds it as stored), else :func:`~ohifpy.overlays.cielab.default_color`
    of its number.
    """

    number: int
    label: str
    description: str = ""
    algorithm_type: str = ""
    algorithm_name: str = ""
    category: str = ""
    property_type: str = ""
    color: tuple[int, int, int] = (0, 0, 0)
    cielab: tuple[int, int, int] | None = None
    tracking_id: str = ""
    tracking_uid: str = ""

    @property
    def color_source(self) -> str:
        """``"RecommendedDisplayCIELabValue"`` or ``"default"``."""
        return "RecommendedDisplayCIELabValue" if self.cielab is not None else "default"

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "label": self.label, "description": self.description,
            "algorithmType": self.algorithm_type, "algorithmName": self.algorithm_name,
            "category": self.category, "type": self.property_type, "color": list(self.color),
            "colorSource": self.color_source, "trackingId": self.tracking_id,
            "trackingUid": self.tracking_uid,
        }


@dataclass(frozen=True)
class SegmentationFrame:
    """What the functional groups say of one frame of the SEG.

    ``segment_number`` is 0 for a label map's frames (they hold every segment). ``sources``
    are the (SOP Instance UID, frame number) pairs it was derived from, frame number 0 when
    the reference gives none. ``position`` is its ImagePositionPatient, or None.
    """

    index: int
    segment_number: int
    sources: tuple[tuple[str, int], ...] = ()
    position: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class SourceImage:
    """An image a SEG may lie on: what matching needs of it (:meth:`from_image` for the model's)."""

    sop_instance_uid: str
    frame_number: int = 1
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    rows: int = 0
    columns: int = 0
    series_instance_uid: str = ""
    number_of_frames: int = 1

    @property
    def key(self) -> ImageKey:
        return (self.sop_instance_uid, self.frame_number)

    @classmethod
    def from_image(cls, image: ImageRef) -> SourceImage:
        """The matching view of a display set's image (``ohifpy.model.ImageRef``)."""
        instance = image.instance
        return cls(
            sop_instance_uid=instance.sop_instance_uid,
            frame_number=image.frame_number,
            position=_triple(image.image_position),
            orientation=None if image.image_orientation is None
            else tuple(float(v) for v in image.image_orientation),
            rows=instance.rows,
            columns=instance.columns,
            series_instance_uid=instance.series_instance_uid,
            number_of_frames=instance.number_of_frames,
        )


ImageLike = Union[SourceImage, "ImageRef", tuple[str, int]]


def image_key(image: ImageLike) -> ImageKey:
    """The key of an image given as a key, a :class:`SourceImage` or a model ``ImageRef``."""
    if isinstance(image, SourceImage):
        return image.key
    if isinstance(image, tuple) and len(image) == 2:
        return (str(image[0]), int(image[1]))
    instance = getattr(image, "instance", None)
    if instance is not None:
        return (instance.sop_instance_uid, int(image.frame_number))
    raise TypeError(f"not an image: {image!r}")


def _source_image(image: ImageLike) -> SourceImage:
    if isinstance(image, SourceImage):
        return image
    if isinstance(image, tuple):
        return SourceImage(str(image[0]), int(image[1]))
    return SourceImage.from_image(image)


@dataclass(frozen=True)
class _Crop:
    """A frame's stored values inside its bounding box: rows r0.., columns c0.."""

    r0: int
    c0: int
    values: np.ndarray

    def full(self, rows: int, columns: int, dtype: Any) -> np.ndarray:
        out = np.zeros((rows, columns), dtype=dtype)
        h, w = self.values.shape
        out[self.r0:self.r0 + h, self.c0:self.c0 + w] = self.values
        return out


def unpack_bits(data: bytes | np.ndarray, count: int, bit_offset: int = 0) -> np.ndarray:
    """``count`` 1-bit pixels from bit-packed data (PS3.5 8.1.1: first pixel in the least
    significant bit), starting ``bit_offset`` bits in; uint8 0/1."""
    packed = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray,
                                                                      memoryview)) else data
    first = bit_offset // 8
    shift = bit_offset % 8
    last = first + -(-(shift + count) // 8)
    if count < 0 or bit_offset < 0 or last > packed.size:
        raise SegmentationError(
            f"bit-packed pixel data of {packed.size} bytes holds no {count} pixels from bit "
            f"{bit_offset}")
    return np.unpackbits(packed[first:last], bitorder="little")[shift:shift + count]


class Segmentation:
    """A SEG instance: its segments, its frames, and (once loaded) their pixels.

    Build with :meth:`from_dataset`. Attributes are read-only in spirit; only the pixel
    store fills in as frames arrive.
    """

    def __init__(self, *, sop_instance_uid: str, series_instance_uid: str,
                 study_instance_uid: str, sop_class_uid: str, frame_of_reference_uid: str,
                 segmentation_type: str, fractional_type: str, max_fractional_value: int,
                 pixel: PixelModule, segments: Sequence[Segment],
                 frames: Sequence[SegmentationFrame], source_series_uids: Sequence[str],
                 orientation: tuple[float, ...] | None,
                 pixel_spacing: tuple[float, float] | None, slice_thickness: float | None,
                 spacing_between_slices: float | None, label: str = "",
                 description: str = "", series_description: str = "",
                 notes: Sequence[str] = ()) -> None:
        self.sop_instance_uid = sop_instance_uid
        self.series_instance_uid = series_instance_uid
        self.study_instance_uid = study_instance_uid
        self.sop_class_uid = sop_class_uid
        self.frame_of_reference_uid = frame_of_reference_uid
        self.segmentation_type = segmentation_type
        self.fractional_type = fractional_type
        self.max_fractional_value = max_fractional_value
        self.pixel = pixel
        self.segments = tuple(segments)
        self.frames = tuple(frames)
        self.source_series_uids = tuple(source_series_uids)
        self.orientation = orientation
        self.pixel_spacing = pixel_spacing
        self.slice_thickness = slice_thickness
        self.spacing_between_slices = spacing_between_slices
        self.label = label
        self.description = description
        self.series_description = series_description
        self.notes = tuple(notes)
        self._by_number = {s.number: s for s in self.segments}
        self._packed: np.ndarray | None = None
        self._native: np.ndarray | None = None
        self._decoded: dict[int, _Crop | None] = {}
        self._sums: np.ndarray | None = None

    # --- reading --------------------------------------------------------------------------

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Segmentation:
        """Read a SEG from its DICOM JSON metadata (one object of a WADO-RS metadata answer)
        without converting it to a Dataset first: several times faster for many frames."""
        return cls.from_dataset(JsonAttributes(obj))  # type: ignore[arg-type]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> Segmentation:
        """Read a SEG's metadata (and its pixels, when ``ds`` holds Pixel Data)."""
        sop_class = str(ds.get("SOPClassUID", "") or "").strip()
        if sop_class and sop_class not in SEGMENTATION_SOP_CLASSES:
            raise SegmentationError(f"SOP class {sop_class} is not a Segmentation")
        try:
            pixel = PixelModule.from_dataset(ds)
        except PixelModuleError as exc:
            raise SegmentationError(f"the segmentation's {exc}") from None
        notes: list[str] = []
        seg_type = _text(ds, "SegmentationType").upper()
        if sop_class == LABEL_MAP_SEGMENTATION_STORAGE and not seg_type:
            seg_type = "LABELMAP"
        if not seg_type:
            seg_type = "BINARY" if pixel.bits_allocated == 1 else "FRACTIONAL"
            notes.append(f"no SegmentationType: read as {seg_type} from BitsAllocated "
                         f"{pixel.bits_allocated}")
        if seg_type not in ("BINARY", "FRACTIONAL", "LABELMAP"):
            raise SegmentationError(f"SegmentationType {seg_type!r} is not BINARY, FRACTIONAL "
                                    "or LABELMAP")
        expected_bits = {"BINARY": (1,), "FRACTIONAL": (8,), "LABELMAP": (8, 16)}[seg_type]
        if pixel.bits_allocated not in expected_bits:
            raise SegmentationError(f"a {seg_type} segmentation with BitsAllocated "
                                    f"{pixel.bits_allocated} (expected "
                                    f"{' or '.join(map(str, expected_bits))})")
        max_fraction = 1
        fractional_type = ""
        if seg_type == "FRACTIONAL":
            fractional_type = _text(ds, "SegmentationFractionalType").upper()
            max_fraction = _int(ds.get("MaximumFractionalValue")) or 0
            if not 0 < max_fraction <= 255:
                raise SegmentationError(
                    f"a FRACTIONAL segmentation needs MaximumFractionalValue 1..255, not "
                    f"{ds.get('MaximumFractionalValue')!r}")
        segments = [_segment(item, notes) for item in ds.get("SegmentSequence") or ()]
        if not segments:
            raise SegmentationError("the segmentation has no SegmentSequence: no segments")
        numbers = [s.number for s in segments]
        if len(set(numbers)) != len(numbers):
            raise SegmentationError(f"segment numbers repeat in the SegmentSequence: {numbers}")
        frames = _frames(ds, pixel.number_of_frames, seg_type, segments, notes)
        known = set(numbers)
        for number in sorted({f.segment_number for f in frames} - known - {0}):
            notes.append(f"frames name segment {number}, which the SegmentSequence lacks: shown "
                         "in a default colour")
            segments.append(Segment(number, f"Segment {number}", color=default_color(number)))
        missing_color = [s for s in segments if s.cielab is None]
        if missing_color:
            notes.append("no RecommendedDisplayCIELabValue for segment(s) "
                         + ", ".join(f"{s.number} ({s.label})" for s in missing_color)
                         + ": shown in default colours")
        shared = _first(ds.get("SharedFunctionalGroupsSequence"))
        orientation = _floats(_first(_get(shared, "PlaneOrientationSequence")),
                              "ImageOrientationPatient", 6)
        if orientation is None:
            orientation = _floats(_first(_get(_first(ds.get("PerFrameFunctionalGroupsSequence")),
                                               "PlaneOrientationSequence")),
                                  "ImageOrientationPatient", 6)
        if orientation is None:
            orientation = _floats(ds, "ImageOrientationPatient", 6)
        measures = _first(_get(shared, "PixelMeasuresSequence"))
        if measures is None:
            measures = _first(_get(_first(ds.get("PerFrameFunctionalGroupsSequence")),
                                   "PixelMeasuresSequence"))
        spacing = _floats(measures, "PixelSpacing", 2) or _floats(ds, "PixelSpacing", 2)
        seg = cls(
            sop_instance_uid=_text(ds, "SOPInstanceUID"),
            series_instance_uid=_text(ds, "SeriesInstanceUID"),
            study_instance_uid=_text(ds, "StudyInstanceUID"),
            sop_class_uid=sop_class,
            frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
            segmentation_type=seg_type,
            fractional_type=fractional_type,
            max_fractional_value=max_fraction,
            pixel=pixel,
            segments=sorted(segments, key=lambda s: s.number),
            frames=frames,
            source_series_uids=_source_series(ds),
            orientation=orientation,
            pixel_spacing=(spacing[0], spacing[1]) if spacing else None,
            slice_thickness=_positive(_get(measures, "SliceThickness")),
            spacing_between_slices=_positive(_get(measures, "SpacingBetweenSlices")),
            label=_text(ds, "ContentLabel"),
            description=_text(ds, "ContentDescription"),
            series_description=_text(ds, "SeriesDescription"),
            notes=notes,
        )
        data = ds.get("PixelData") if "PixelData" in ds else None
        if isinstance(data, (bytes, bytearray)) and data:
            meta = getattr(ds, "file_meta", None)
            syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
            seg.load_pixel_data(bytes(data), syntax or ExplicitVRLittleEndian)
        return seg

    @property
    def rows(self) -> int:
        return self.pixel.rows

    @property
    def columns(self) -> int:
        return self.pixel.columns

    @property
    def number_of_frames(self) -> int:
        return self.pixel.number_of_frames

    def segment(self, number: int) -> Segment:
        try:
            return self._by_number[number]
        except KeyError:
            raise SegmentationError(f"the segmentation has no segment {number}") from None

    def source_series_reason(self, available_series_uids: Iterable[str]) -> str:
        """Why the SEG cannot be shown in a study of these series ("" when its source series,
        or one of them, is there; also "" when the SEG names none: match by position)."""
        if not self.source_series_uids or set(self.source_series_uids) & set(
                available_series_uids):
            return ""
        return ("the segmentation's source series " + ", ".join(self.source_series_uids)
                + " is not in this study")

    def to_json(self) -> dict[str, Any]:
        """What the segmentation panel lists (the masks go separately)."""
        return {
            "sopInstanceUID": self.sop_instance_uid,
            "seriesInstanceUID": self.series_instance_uid,
            "type": self.segmentation_type, "fractionalType": self.fractional_type,
            "label": self.label, "description": self.description,
            "seriesDescription": self.series_description,
            "numberOfFrames": self.number_of_frames, "rows": self.rows, "columns": self.columns,
            "sourceSeriesUIDs": list(self.source_series_uids),
            "segments": [s.to_json() for s in self.segments],
            "notes": list(self.notes),
        }

    # --- pixels ---------------------------------------------------------------------------

    @property
    def pixels_loaded(self) -> bool:
        """Whether every frame's pixels are here (from Pixel Data, or frame by frame)."""
        return (self._packed is not None or self._native is not None
                or len(self._decoded) == self.number_of_frames)

    def load_pixel_data(self, data: bytes, transfer_syntax_uid: str = ExplicitVRLittleEndian
                        ) -> None:
        """The whole Pixel Data value, as stored (native, or encapsulated with its items)."""
        uid = UID(str(transfer_syntax_uid).strip() or ExplicitVRLittleEndian)
        count = self.number_of_frames
        if uid.is_encapsulated:
            try:
                fragments = list(generate_frames(data, number_of_frames=count))
            except (ValueError, TypeError, struct.error) as exc:
                raise SegmentationError(f"the encapsulated Pixel Data does not split into "
                                        f"{count} frames: {exc}") from None
            if len(fragments) != count:
                raise SegmentationError(f"the encapsulated Pixel Data holds {len(fragments)} "
                                        f"frames, NumberOfFrames says {count}")
            for number, fragment in enumerate(fragments, start=1):
                self.set_frame(number, fragment, uid)
            return
        pixels = count * self.rows * self.columns
        if self.pixel.bits_allocated == 1:
            need = -(-pixels // 8)
            if len(data) < need:
                raise SegmentationError(f"bit-packed Pixel Data of {len(data)} bytes, "
                                        f"{count} frames of {self.columns}x{self.rows} need {need}")
            self._packed = np.frombuffer(data, dtype=np.uint8, count=need)
            return
        dtype = np.dtype(f"u{self.pixel.bits_allocated // 8}")
        dtype = dtype.newbyteorder("<" if uid.is_little_endian else ">")
        if len(data) < pixels * dtype.itemsize:
            raise SegmentationError(f"Pixel Data of {len(data)} bytes, {count} frames of "
                                    f"{self.columns}x{self.rows} need {pixels * dtype.itemsize}")
        native = np.frombuffer(data, dtype=dtype, count=pixels)
        if not dtype.isnative:
            native = native.astype(dtype.newbyteorder("="))
        self._native = native.reshape(count, self.rows, self.columns)

    def set_frame(self, frame_number: int, data: bytes, transfer_syntax_uid: str) -> None:
        """One frame as WADO-RS returns it (``frame_number`` from 1).

        A native bit-packed frame is read from the first bit of ``data``. An encapsulated one
        is decoded by :func:`ohifpy.imaging.codecs.decode_frame`: in the browser, await
        ``ohifpy.imaging.load_decoder(transfer_syntax_uid)`` first.
        """
        index = frame_number - 1
        if not 0 <= index < self.number_of_frames:
            raise SegmentationError(f"frame {frame_number} is out of range "
                                    f"1..{self.number_of_frames}")
        uid = UID(str(transfer_syntax_uid).strip() or ExplicitVRLittleEndian)
        size = self.rows * self.columns
        if uid.is_encapsulated:
            values = decode_frame(data, uid, self.pixel).pixels
        elif self.pixel.bits_allocated == 1:
            values = unpack_bits(data, size).reshape(self.rows, self.columns)
        else:
            dtype = np.dtype(f"u{self.pixel.bits_allocated // 8}")
            dtype = dtype.newbyteorder("<" if uid.is_little_endian else ">")
            if len(data) < size * dtype.itemsize:
                raise SegmentationError(f"frame {frame_number}: {len(data)} bytes, a "
                                        f"{self.columns}x{self.rows} frame needs "
                                        f"{size * dtype.itemsize}")
            values = np.frombuffer(data, dtype=dtype, count=size).reshape(self.rows, self.columns)
        self._decoded[index] = _crop_array(np.asarray(values).astype(
            np.uint16 if self.pixel.bits_allocated == 16 else np.uint8, copy=False))
        self._sums = None

    def _crop(self, index: int) -> _Crop | None:
        """Frame ``index``'s stored values inside their bounding box; None when empty."""
        if index in self._decoded:
            return self._decoded[index]
        rows, columns = self.rows, self.columns
        if self._native is not None:
            return _crop_array(self._native[index])
        if self._packed is None:
            raise SegmentationError(f"the pixels of frame {index + 1} of the segmentation are "
                                    "not loaded")
        start = index * rows * columns
        if columns % 8 or start % 8:  # the frame does not start on a byte of its own
            return _crop_array(unpack_bits(self._packed, rows * columns, start)
                               .reshape(rows, columns))
        packed = self._packed[start // 8:(start + rows * columns) // 8].reshape(rows, columns // 8)
        used_rows = np.flatnonzero(packed.any(axis=1))
        if used_rows.size == 0:
            return None
        r0, r1 = int(used_rows[0]), int(used_rows[-1]) + 1
        used_bytes = np.flatnonzero(packed[r0:r1].any(axis=0))
        b0, b1 = int(used_bytes[0]), int(used_bytes[-1]) + 1
        bits = np.unpackbits(packed[r0:r1, b0:b1], axis=1, bitorder="little")
        crop = _crop_array(bits)
        assert crop is not None
        return _Crop(r0 + crop.r0, b0 * 8 + crop.c0, crop.values)

    def frame_values(self, index: int) -> np.ndarray:
        """Frame ``index`` (from 0) as stored values, ``(rows, columns)``: 0/1, 0..max or labels."""
        crop = self._crop(index)
        dtype = np.uint16 if self.pixel.bits_allocated == 16 else np.uint8
        if crop is None:
            return np.zeros((self.rows, self.columns), dtype=dtype)
        return crop.full(self.rows, self.columns, dtype)

    def frame_sums(self) -> np.ndarray:
        """Per frame: set pixels (binary), sum of stored values (fractional) or labelled
        pixels (label map). Vectorised over packed bytes; computed once."""
        if self._sums is not None:
            return self._sums
        count, size = self.number_of_frames, self.rows * self.columns
        if self._packed is not None and size % 8 == 0:
            per_frame = self._packed[:count * size // 8].reshape(count, size // 8)
            sums = np.bitwise_count(per_frame).sum(axis=1, dtype=np.int64)
        elif self._native is not None:
            flat = self._native.reshape(count, size)
            sums = (flat != 0).sum(axis=1) if self.segmentation_type == "LABELMAP" \
                else flat.sum(axis=1, dtype=np.int64)
        else:
            sums = np.zeros(count, dtype=np.int64)
            for index in range(count):
                crop = self._crop(index)
                if crop is not None:
                    sums[index] = (np.count_nonzero(crop.values)
                                   if self.segmentation_type == "LABELMAP"
                                   else int(crop.values.sum(dtype=np.int64)))
        self._sums = sums
        return sums

    def _masks_of_frame(self, index: int) -> list[tuple[int, _Crop]]:
        """(segment number, crop of the mask) for one frame; a label map gives several."""
        crop = self._crop(index)
        if crop is None:
            return []
        number = self.frames[index].segment_number
        if self.segmentation_type != "LABELMAP":
            return [(number, crop)] if number else []
        masks = []
        for label in np.unique(crop.values):
            if label and int(label) in self._by_number:
                masks.append((int(label), _crop_array((crop.values == label).astype(np.uint8),
                                                      crop.r0, crop.c0)))
        return [(n, c) for n, c in masks if c is not None]

    def _weights(self, values: np.ndarray) -> np.ndarray:
        """Stored mask values as what they mean: bool, or float32 fractions 0..1."""
        if self.segmentation_type == "FRACTIONAL":
            return values.astype(np.float32) / np.float32(self.max_fractional_value)
        return values.astype(bool)

    # --- matching -------------------------------------------------------------------------

    def match(self, images: Iterable[ImageLike], *,
              tolerance_mm: float | None = None) -> SegmentationOverlay:
        """Which frames lie on which of ``images`` (the source series' images, any order)."""
        given = [_source_image(i) for i in images]
        sources = given
        if self.source_series_uids:  # images of other series are not this SEG's to cover
            sources = [s for s in given if s.series_instance_uid in ("",
                                                                    *self.source_series_uids)]
        by_key = {s.key: s for s in sources}
        frames_of_sop: dict[str, int] = {}
        for s in sources:
            frames_of_sop[s.sop_instance_uid] = max(frames_of_sop.get(s.sop_instance_uid, 0),
                                                    s.number_of_frames, s.frame_number)
        image_of_frame: dict[int, ImageKey] = {}
        reasons: list[str] = []
        other_grid: SourceImage | None = None
        for frame in self.frames:
            for uid, number in frame.sources:
                key = (uid, number or 1)
                if key in by_key and (number or frames_of_sop.get(uid, 1) == 1):
                    source = by_key[key]
                    if source.rows and (source.rows, source.columns) != (self.rows,
                                                                         self.columns):
                        other_grid = source
                        continue
                    image_of_frame[frame.index] = key
                    break
        if other_grid is not None:
            reasons.append(f"its {self.columns}x{self.rows} frames are not on the images' "
                           f"{other_grid.columns}x{other_grid.rows} pixel grid (resampling is "
                           "not supported)")
        by_reference = len(image_of_frame)
        pending = [f for f in self.frames if f.index not in image_of_frame]
        if pending:
            image_of_frame.update(self._match_by_position(pending, sources, tolerance_mm,
                                                          reasons))
        frames_by_image: dict[ImageKey, list[int]] = {}
        for index, key in sorted(image_of_frame.items()):
            frames_by_image.setdefault(key, []).append(index)
        unmatched = tuple(f.index for f in self.frames if f.index not in image_of_frame)
        reason, notes = "", []
        if not image_of_frame:
            reason = self._no_match_reason(given, reasons)
        elif unmatched:
            notes.append(f"{len(unmatched)} of {self.number_of_frames} frames match no image of "
                         "the series and are not shown")
        return SegmentationOverlay(
            segmentation=self,
            images=tuple(sources),
            frames_by_image={k: tuple(v) for k, v in frames_by_image.items()},
            image_of_frame=image_of_frame,
            unmatched=unmatched,
            matched_by_reference=by_reference,
            matched_by_position=len(image_of_frame) - by_reference,
            reason=reason,
            notes=tuple(notes),
        )

    def _match_by_position(self, frames: Sequence[SegmentationFrame],
                           sources: Sequence[SourceImage], tolerance_mm: float | None,
                           reasons: list[str]) -> dict[int, ImageKey]:
        positioned = [f for f in frames if f.position is not None]
        if not positioned:
            return {}
        if self.orientation is None:
            reasons.append("its frames have no ImageOrientationPatient to match by position")
            return {}
        orientation = np.asarray(self.orientation)
        candidates = [s for s in sources if s.position is not None and s.orientation is not None]
        parallel = [s for s in candidates
                    if np.all(np.abs(np.asarray(s.orientation) - orientation) <= IOP_TOLERANCE)]
        if candidates and not parallel:
            reasons.append("its frames are not parallel to the images (resampling a "
                           "segmentation onto other planes is not supported)")
            return {}
        same_grid = [s for s in parallel if (s.rows, s.columns) in ((self.rows, self.columns),
                                                                   (0, 0))]
        if parallel and not same_grid:
            s = parallel[0]
            reasons.append(f"its {self.columns}x{self.rows} frames are not on the images' "
                           f"{s.columns}x{s.rows} pixel grid (resampling is not supported)")
            return {}
        if not same_grid:
            return {}
        normal = np.cross(orientation[:3], orientation[3:])
        normal /= np.linalg.norm(normal)
        image_positions = np.array([s.position for s in same_grid], dtype=float)
        image_depth = image_positions @ normal
        order = np.argsort(image_depth, kind="stable")
        depths = image_depth[order]
        gaps = np.diff(np.unique(np.round(depths, 4)))
        if tolerance_mm is None:
            through = max(POSITION_TOLERANCE_MM, 0.1 * float(gaps.min()) if gaps.size else 0.0)
            spacing = min(self.pixel_spacing) if self.pixel_spacing else 0.0
            within = max(POSITION_TOLERANCE_MM, 0.1 * spacing)
        else:
            through = within = float(tolerance_mm)
        frame_positions = np.array([f.position for f in positioned], dtype=float)
        frame_depth = frame_positions @ normal
        slot = np.clip(np.searchsorted(depths, frame_depth), 0, len(depths) - 1)
        below = np.clip(slot - 1, 0, len(depths) - 1)
        nearer = np.where(np.abs(depths[below] - frame_depth) < np.abs(depths[slot] - frame_depth),
                          below, slot)
        chosen = order[nearer]
        offset = frame_positions - image_positions[chosen]
        along = offset @ normal
        sideways = np.linalg.norm(offset - along[:, None] * normal, axis=1)
        ok = (np.abs(along) <= through) & (sideways <= within)
        if not ok.any():
            reasons.append("no frame lies on an image plane of the series")
        return {f.index: same_grid[int(i)].key
                for f, i, good in zip(positioned, chosen, ok) if good}

    def _no_match_reason(self, sources: Sequence[SourceImage], reasons: Sequence[str]) -> str:
        series = {s.series_instance_uid for s in sources if s.series_instance_uid}
        if not sources:
            return "the segmentation's source images are not loaded"
        if self.source_series_uids and series and not series & set(self.source_series_uids):
            return ("the images are of series " + ", ".join(sorted(series)) + ", the "
                    "segmentation's source series is " + ", ".join(self.source_series_uids))
        detail = "; ".join(reasons)
        return (f"none of the segmentation's {self.number_of_frames} frames lies on an image of "
                "the series, by reference (SOP Instance UID and frame) or by position"
                + (f": {detail}" if detail else ""))


@dataclass(frozen=True, eq=False)
class SegmentationOverlay:
    """A segmentation matched to the images of a series: the masks to draw over each.

    ``reason`` is why nothing can be shown ("" when something can); ``notes`` what the
    viewer should tell besides (frames that match no image).
    """

    segmentation: Segmentation
    images: tuple[SourceImage, ...]
    frames_by_image: Mapping[ImageKey, tuple[int, ...]]
    image_of_frame: Mapping[int, ImageKey]
    unmatched: tuple[int, ...] = ()
    matched_by_reference: int = 0
    matched_by_position: int = 0
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.reason

    def masks_for(self, image: ImageLike) -> list[tuple[int, np.ndarray]]:
        """``[(segment number, mask)]`` on one image, by segment number, empty ones left out.

        A mask is ``(rows, columns)``: bool for BINARY and LABELMAP, float32 fractions 0..1
        for FRACTIONAL.
        """
        seg = self.segmentation
        masks: dict[int, np.ndarray] = {}
        for index in self.frames_by_image.get(image_key(image), ()):
            for number, crop in seg._masks_of_frame(index):
                full = crop.full(seg.rows, seg.columns, crop.values.dtype)
                weights = seg._weights(full)
                masks[number] = weights if number not in masks \
                    else np.maximum(masks[number], weights)
        return sorted(masks.items())

    def crops_for(self, image: ImageLike) -> list[tuple[int, int, int, np.ndarray]]:
        """What :meth:`masks_for` gives, inside each mask's bounding box only:
        ``[(segment number, first row, first column, mask)]``, by segment number. Blending
        a few segments over an image then costs their boxes, not whole images."""
        seg = self.segmentation
        pieces: dict[int, list[_Crop]] = {}
        for index in self.frames_by_image.get(image_key(image), ()):
            for number, crop in seg._masks_of_frame(index):
                pieces.setdefault(number, []).append(crop)
        out = []
        for number in sorted(pieces):
            crops = pieces[number]
            if len(crops) == 1:
                crop = crops[0]
                out.append((number, crop.r0, crop.c0, seg._weights(crop.values)))
                continue
            r0 = min(c.r0 for c in crops)
            c0 = min(c.c0 for c in crops)
            r1 = max(c.r0 + c.values.shape[0] for c in crops)
            c1 = max(c.c0 + c.values.shape[1] for c in crops)
            merged = None
            for crop in crops:  # several frames of one segment on an image: their union
                box = np.zeros((r1 - r0, c1 - c0), dtype=crop.values.dtype)
                h, w = crop.values.shape
                box[crop.r0 - r0:crop.r0 - r0 + h, crop.c0 - c0:crop.c0 - c0 + w] = crop.values
                weights = seg._weights(box)
                merged = weights if merged is None else np.maximum(merged, weights)
            assert merged is not None
            out.append((number, r0, c0, merged))
        return out

    def _frames_of(self, number: int) -> list[int]:
        """Matched, non-empty frames that may hold segment ``number`` (a label map's: all)."""
        seg = self.segmentation
        sums = seg.frame_sums()
        every = seg.segmentation_type == "LABELMAP"
        return [index for index in self.image_of_frame
                if sums[index] and (every or seg.frames[index].segment_number == number)]

    def segment_images(self, number: int) -> list[ImageKey]:
        """The images on which segment ``number`` has pixels, in the order given to match."""
        seg = self.segmentation
        holding = set()
        for index in self._frames_of(number):
            if seg.segmentation_type != "LABELMAP" or any(
                    n == number for n, _ in seg._masks_of_frame(index)):
                holding.add(self.image_of_frame[index])
        return [s.key for s in self.images if s.key in holding]

    def centre(self, number: int) -> tuple[ImageKey, float, float] | None:
        """The image through segment ``number``'s centre and its (column, row) there: where
        "go to" goes. None when the segment lies on no image."""
        seg = self.segmentation
        weights: dict[ImageKey, float] = {}
        for index in self._frames_of(number):
            key = self.image_of_frame[index]
            for n, crop in seg._masks_of_frame(index):
                if n == number:
                    weights[key] = weights.get(key, 0.0) + float(
                        seg._weights(crop.values).sum(dtype=np.float64))
        weights = {k: w for k, w in weights.items() if w > 0}
        if not weights:
            return None
        ordered = [s for s in self.images if s.key in weights]
        if all(s.position is not None for s in ordered) and seg.orientation is not None:
            normal = np.cross(seg.orientation[:3], seg.orientation[3:])
            depth = np.array([np.dot(s.position, normal) for s in ordered])  # type: ignore[arg-type]
            w = np.array([weights[s.key] for s in ordered])
            centre = float((depth * w).sum() / w.sum())
            best = ordered[int(np.argmin(np.abs(depth - centre)))]
        else:
            cumulative = np.cumsum([weights[s.key] for s in ordered])
            best = ordered[int(np.searchsorted(cumulative, cumulative[-1] / 2))]
        total = np.float64(0)
        column = row = np.float64(0)
        for index in self.frames_by_image[best.key]:
            for n, crop in seg._masks_of_frame(index):
                if n == number:
                    w = seg._weights(crop.values).astype(np.float64)
                    rr, cc = np.indices(w.shape)
                    total += w.sum()
                    row += ((rr + crop.r0) * w).sum()
                    column += ((cc + crop.c0) * w).sum()
        return best.key, float(column / total), float(row / total)

    @property
    def slice_spacing(self) -> float | None:
        """Distance (mm) between adjacent matched images along the normal, or the SEG's own."""
        seg = self.segmentation
        if seg.spacing_between_slices:
            return seg.spacing_between_slices
        if seg.orientation is not None:
            normal = np.cross(seg.orientation[:3], seg.orientation[3:])
            depths = np.unique(np.round([np.dot(s.position, normal) for s in self.images
                                         if s.position is not None], 4))
            if depths.size > 1:
                return median(np.diff(depths))
        return seg.slice_thickness

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason, "notes": list(self.notes),
            "matchedByReference": self.matched_by_reference,
            "matchedByPosition": self.matched_by_position,
            "unmatchedFrames": len(self.unmatched),
            "images": len(self.frames_by_image),
        }


@dataclass(frozen=True)
class SegmentStatistics:
    """One segment's size and the image values under it.

    ``voxels`` counts set voxels (for FRACTIONAL, the sum of fractions); ``volume_ml`` is that
    times the voxel volume. ``mean`` (fraction-weighted for FRACTIONAL), ``minimum`` and
    ``maximum`` are of the values given, over the frames that lie on an image with values.
    """

    segment_number: int
    label: str
    voxels: float
    volume_ml: float | None
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"segmentNumber": self.segment_number, "label": self.label,
                "voxels": self.voxels, "volumeMl": self.volume_ml, "mean": self.mean,
                "min": self.minimum, "max": self.maximum, "unit": self.unit,
                "notes": list(self.notes)}


ValuesSource = Mapping[ImageKey, np.ndarray] | Callable[[ImageKey], np.ndarray | None]


def segment_statistics(overlay: SegmentationOverlay, values: ValuesSource | None = None, *,
                       unit: str = "", voxel_size_mm: Sequence[float] | None = None
                       ) -> list[SegmentStatistics]:
    """Volume and mean / min / max of ``values`` under each segment of ``overlay``.

    ``values`` gives the image values (modality units, ``(rows, columns)``) of a source image
    by key, as a mapping or a function (None: not available). ``voxel_size_mm`` is (row
    spacing, column spacing, slice spacing); by default the SEG's Pixel Measures and the
    spacing of the matched images (:attr:`SegmentationOverlay.slice_spacing`). The volume
    counts every frame of the segment, matched or not.
    """
    seg = overlay.segmentation
    voxel_mm3: float | None = None
    if voxel_size_mm is not None:
        voxel_mm3 = float(np.prod([float(v) for v in voxel_size_mm]))
    elif seg.pixel_spacing and overlay.slice_spacing:
        voxel_mm3 = seg.pixel_spacing[0] * seg.pixel_spacing[1] * overlay.slice_spacing
    lookup: Callable[[ImageKey], np.ndarray | None]
    if values is None:
        def lookup(key: ImageKey) -> np.ndarray | None:
            return None
    elif callable(values):
        lookup = values
    else:
        lookup = values.get
    acc = {s.number: [0.0, 0.0, 0.0, math.inf, -math.inf, 0, 0] for s in seg.segments}
    # voxels, weighted sum, weight under values, min, max, frames with values, frames without
    sums = seg.frame_sums()
    for index in range(seg.number_of_frames):
        if not sums[index]:
            continue
        key = overlay.image_of_frame.get(index)
        image = None if key is None else lookup(key)
        for number, crop in seg._masks_of_frame(index):
            a = acc[number]
            weights = seg._weights(crop.values)
            a[0] += float(weights.sum(dtype=np.float64))
            if key is None:
                continue
            if image is None:
                a[6] += 1
                continue
            h, w = crop.values.shape
            under = np.asarray(image)[crop.r0:crop.r0 + h, crop.c0:crop.c0 + w]
            inside = weights > 0
            picked = under[inside].astype(np.float64)
            if picked.size == 0:
                continue
            if weights.dtype == bool:
                a[1] += float(picked.sum())
                a[2] += float(picked.size)
            else:
                fractions = weights[inside].astype(np.float64)
                a[1] += float((picked * fractions).sum())
                a[2] += float(fractions.sum())
            a[3] = min(a[3], float(picked.min()))
            a[4] = max(a[4], float(picked.max()))
            a[5] += 1
    results = []
    for segment in seg.segments:
        voxels, total, weight, low, high, with_values, without = acc[segment.number]
        notes = []
        if voxel_mm3 is None:
            notes.append("no pixel or slice spacing: no volume")
        if without:
            notes.append(f"{without} frame(s) lie on images whose values are not loaded")
        results.append(SegmentStatistics(
            segment_number=segment.number, label=segment.label,
            voxels=voxels if seg.segmentation_type == "FRACTIONAL" else float(round(voxels)),
            volume_ml=None if voxel_mm3 is None else voxels * voxel_mm3 / 1000.0,
            mean=total / weight if weight else None,
            minimum=low if with_values else None,
            maximum=high if with_values else None,
            unit=unit, notes=tuple(notes)))
    return results


# --- helpers ----------------------------------------------------------------------------


def _crop_array(values: np.ndarray, r0: int = 0, c0: int = 0) -> _Crop | None:
    used_rows = np.flatnonzero(values.any(axis=1))
    if used_rows.size == 0:
        return None
    used_columns = np.flatnonzero(values.any(axis=0))
    r1, c1 = int(used_rows[-1]) + 1, int(used_columns[-1]) + 1
    rs, cs = int(used_rows[0]), int(used_columns[0])
    return _Crop(r0 + rs, c0 + cs, values[rs:r1, cs:c1])


def _get(ds: Dataset | None, keyword: str) -> Any:
    return None if ds is None else ds.get(keyword)


def _first(sequence: Any) -> Dataset | None:
    return sequence[0] if sequence else None


def _text(ds: Dataset | None, keyword: str) -> str:
    value = _get(ds, keyword)
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _floats(ds: Dataset | None, keyword: str, count: int) -> tuple[float, ...] | None:
    value = _get(ds, keyword)
    if value is None:
        return None
    try:
        floats = tuple(float(v) for v in (value if isinstance(value, Sequence)
                                          and not isinstance(value, str) else [value]))
    except (TypeError, ValueError):
        return None
    return floats if len(floats) == count and all(map(math.isfinite, floats)) else None


def _triple(vector: Any) -> tuple[float, float, float] | None:
    if vector is None:
        return None
    x, y, z = (float(v) for v in vector)
    return (x, y, z)


def _code_meaning(item: Dataset, keyword: str) -> str:
    code = _first(item.get(keyword))
    return _text(code, "CodeMeaning") if code is not None else ""


def _segment(item: Dataset, notes: list[str]) -> Segment:
    number = _int(item.get("SegmentNumber"))
    if number is None or number < 1:
        raise SegmentationError(f"a segment has SegmentNumber {item.get('SegmentNumber')!r}; "
                                "segment numbers start at 1")
    label = _text(item, "SegmentLabel") or f"Segment {number}"
    cielab = None
    color = default_color(number)
    raw = item.get("RecommendedDisplayCIELabValue")
    if raw is not None:
        try:
            values = tuple(int(v) for v in raw)
            if len(values) != 3 or not all(0 <= v <= 65535 for v in values):
                raise ValueError(values)
            color = dicom_lab_to_rgb(values)
            cielab = (values[0], values[1], values[2])
        except (TypeError, ValueError):
            notes.append(f"segment {number}: RecommendedDisplayCIELabValue {raw!r} is not three "
                         "values 0..65535")
    algorithm = _first(item.get("SegmentationAlgorithmIdentificationSequence"))
    return Segment(
        number=number, label=label,
        description=_text(item, "SegmentDescription"),
        algorithm_type=_text(item, "SegmentAlgorithmType"),
        algorithm_name=_text(item, "SegmentAlgorithmName")
        or (_text(algorithm, "AlgorithmName") if algorithm is not None else ""),
        category=_code_meaning(item, "SegmentedPropertyCategoryCodeSequence"),
        property_type=_code_meaning(item, "SegmentedPropertyTypeCodeSequence"),
        color=color, cielab=cielab,
        tracking_id=_text(item, "TrackingID"), tracking_uid=_text(item, "TrackingUID"),
    )


def _sources(item: Dataset | None) -> tuple[tuple[str, int], ...]:
    refs = []
    for derivation in _get(item, "DerivationImageSequence") or ():
        for source in derivation.get("SourceImageSequence") or ():
            uid = _text(source, "ReferencedSOPInstanceUID")
            if not uid:
                continue
            numbers = source.get("ReferencedFrameNumber")
            if numbers in (None, ""):
                refs.append((uid, 0))
                continue
            for number in (numbers if isinstance(numbers, Sequence)
                           and not isinstance(numbers, str) else [numbers]):
                value = _int(number)
                if value is not None and value > 0:
                    refs.append((uid, value))
    return tuple(refs)


def _frames(ds: Dataset, count: int, seg_type: str, segments: Sequence[Segment],
            notes: list[str]) -> list[SegmentationFrame]:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or ()
    if len(per_frame) != count:
        notes.append(f"{len(per_frame)} per-frame functional group items for {count} frames")
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    shared_segment = _int(_get(_first(_get(shared, "SegmentIdentificationSequence")),
                               "ReferencedSegmentNumber"))
    shared_sources = _sources(shared)
    shared_position = _floats(_first(_get(shared, "PlanePositionSequence")),
                              "ImagePositionPatient", 3)
    only = segments[0].number if len(segments) == 1 else None
    top_sources: tuple[tuple[str, int], ...] = ()
    if count == 1:  # a single-frame SEG may name its source at the top level
        top_sources = tuple((_text(s, "ReferencedSOPInstanceUID"),
                             _int(s.get("ReferencedFrameNumber")) or 0)
                            for s in ds.get("SourceImageSequence") or ()
                            if _text(s, "ReferencedSOPInstanceUID"))
    unidentified = 0
    frames = []
    for index in range(count):
        item = per_frame[index] if index < len(per_frame) else None
        number = _int(_get(_first(_get(item, "SegmentIdentificationSequence")),
                           "ReferencedSegmentNumber"))
        if number is None:
            number = shared_segment
        if seg_type == "LABELMAP":
            number = 0
        elif number is None:
            if only is not None:
                number = only
            else:
                number = 0
                unidentified += 1
        position = _floats(_first(_get(item, "PlanePositionSequence")), "ImagePositionPatient",
                           3) or shared_position
        frames.append(SegmentationFrame(
            index=index, segment_number=number,
            sources=_sources(item) or shared_sources or top_sources,
            position=position,  # type: ignore[arg-type]
        ))
    if unidentified:
        notes.append(f"{unidentified} frame(s) name no segment (no SegmentIdentificationSequence)"
                     " and are not shown")
    return frames


def _source_series(ds: Dataset) -> tuple[str, ...]:
    uids = [_text(item, "SeriesInstanceUID") for item in ds.get("ReferencedSeriesSequence") or ()]
    for study in ds.get("StudiesContainingOtherReferencedInstancesSequence") or ():
        uids += [_text(item, "SeriesInstanceUID")
                 for item in study.get("ReferencedSeriesSequence") or ()]
    return tuple(dict.fromkeys(u for u in uids if u))
