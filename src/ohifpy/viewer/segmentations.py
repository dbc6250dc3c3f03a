"""Segmentations (SEG) and structure sets (RTSTRUCT) over their source images: the worker's
state and logic behind ``loadSegmentation``, ``setSegmentation``, ``removeSegmentation``,
``roiContours`` and the overlay blended into ``renderImage``.

As in OHIF (cornerstone-dicom-seg, cornerstone-dicom-rt), a SEG or an RTSTRUCT is not a
stack of its own: opening one shows it over its source series, which the page puts in a
viewport first when no viewport shows it.

Loading a SEG (:meth:`Segmentations.load`)
    Its metadata is read from the DICOM JSON the study's metadata answer carried
    (:meth:`ohifpy.overlays.seg.Segmentation.from_json`: ten times faster than converting a
    thousand functional groups to a pydicom Dataset first), or from the dataset for local
    files. Its pixels come in one request for all its frames (WADO-RS ``frames/1,2,...``,
    split only to keep URLs short; a static tree answers each frame from a file of its own),
    and native frames are joined back into one Pixel Data value, so bit-packed masks stay
    packed and are unpacked only inside each frame's bounding box when shown. Its frames
    are matched to the images of its source series (by reference, then by position) among
    the open display sets of its study; a SEG whose source series is not open says so in
    ``reason``. Each segment's volume (mL) and the mean / minimum / maximum of the source
    images' modality values under it (HU for CT) are computed from the decoded frames the
    viewer holds (fetched first where missing), fraction-weighted for a FRACTIONAL SEG.

Drawing a SEG (:func:`blend`)
    Into the RGBA of every image of the source display set that ``renderImage`` draws, in
    numpy, so the canvas is exactly what CPython computes: each visible segment's fill in
    its colour at its opacity (a FRACTIONAL segment at opacity x fraction), then each
    outline (the region's pixels with a 4-neighbour outside it; a FRACTIONAL region is
    fraction >= :data:`FRACTION_THRESHOLD`) at full opacity, segments in number order.
    Integer arithmetic throughout: ``(colour * a + value * (255 - a) + 127) // 255`` with
    ``a = round(255 * opacity [* fraction])``. On MPR views the masks are reformatted like
    the volume (each segment a uint8 box of the volume's voxels; exact slices where the
    plane follows the voxels, else trilinear, binary thresholded at one half; a slab view
    shows the masks of its centre plane).

Structure sets
    An RTSTRUCT is read the same way; its ROIs' contours are placed on any image plane of
    its frame of reference by :meth:`ohifpy.overlays.rtstruct.StructureSet.contours_on`
    (stack images and MPR planes alike) and drawn by the page as SVG. An ROI's volume is
    the sum of its closed planar contours' areas times the spacing of their planes.

Styles (``setSegmentation``)
    Per segment or ROI: ``visible``, ``opacity`` (0..1) and ``mode`` (``fill``,
    ``outline`` or ``both``). SEG segments start visible, ``both``, opacity 0.5 (OHIF's
    labelmap defaults: fill alpha 0.5, outline opaque); ROIs visible as outlines.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydicom.uid import UID

from ..datasources import DataSource
from ..dicomweb.limits import PixelDataSize
from ..errors import DATA_ERRORS, BadRequest, OhifpyError
from ..imaging import load_decoder
from ..imaging.codecs import native_frame_length
from ..imaging.reformat import Plane, reformat
from ..measure import ImageGeometry, modality_unit
from ..model import RTSTRUCT, SEG, DisplaySet, ImageRef
from ..numeric import median
from ..overlays.rtstruct import StructureSet
from ..overlays.seg import (
    ImageKey,
    Segmentation,
    SegmentationOverlay,
    image_key,
    segment_statistics,
)
from ..volume import VolumeGeometry
from .frames import LOAD_CONCURRENCY, Frames
from .session import ViewerSession

__all__ = [
    "DEFAULT_OPACITY",
    "FRACTION_THRESHOLD",
    "MODES",
    "MaskLayer",
    "Segmentations",
    "Style",
    "blend",
    "outline",
    "roi_volume_ml",
]

MODES = ("fill", "outline", "both")
DEFAULT_OPACITY = 0.5
FRACTION_THRESHOLD = 0.5
"""A FRACTIONAL segment's region (its outline, its MPR mask) is where fraction >= this."""
FRAMES_PER_REQUEST = 400
"""Frames asked for in one WADO-RS request (``frames/1,2,...``): a URL of about 2 kB."""


class SegmentationStateError(OhifpyError, ValueError):
    """A segmentation the page names is not loaded, or is not a segmentation."""


# ---------------------------------------------------------------- styles and blending


@dataclass(frozen=True)
class Style:
    """How one segment or ROI is drawn."""

    visible: bool = True
    opacity: float = DEFAULT_OPACITY
    mode: str = "both"

    def changed(self, obj: Mapping[str, Any]) -> Style:
        """This style with the page's changes (``{visible, opacity, mode}``, any of them)."""
        if not isinstance(obj, Mapping):
            raise BadRequest(f"a segment's style must be an object, not {obj!r}")
        unknown = set(obj) - {"visible", "opacity", "mode"}
        if unknown:
            raise BadRequest(f"unknown style keys {sorted(unknown)}: visible, opacity, mode")
        style = self
        if "visible" in obj:
            if not isinstance(obj["visible"], bool):
                raise BadRequest(f"visible must be true or false, not {obj['visible']!r}")
            style = replace(style, visible=obj["visible"])
        if "opacity" in obj:
            value = obj["opacity"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not 0 <= value <= 1:
                raise BadRequest(f"opacity must be a number 0..1, not {value!r}")
            style = replace(style, opacity=float(value))
        if "mode" in obj:
            if obj["mode"] not in MODES:
                raise BadRequest(f"mode must be one of {', '.join(MODES)}, not {obj['mode']!r}")
            style = replace(style, mode=str(obj["mode"]))
        return style

    def to_json(self) -> dict[str, Any]:
        return {"visible": self.visible, "opacity": self.opacity, "mode": self.mode}


SEG_STYLE = Style()
ROI_STYLE = Style(mode="outline")


@dataclass(frozen=True, eq=False)
class MaskLayer:
    """One segment's mask to blend: ``mask`` (bool, or float fractions 0..1) covers the
    image from row ``row``, column ``column``; drawn in ``color`` as ``mode`` says."""

    mask: np.ndarray
    color: tuple[int, int, int]
    opacity: float = DEFAULT_OPACITY
    mode: str = "both"
    row: int = 0
    column: int = 0


def region(mask: np.ndarray) -> np.ndarray:
    """The pixels a mask covers: itself when bool, else fraction >= one half."""
    return mask if mask.dtype == bool else mask >= FRACTION_THRESHOLD


def outline(inside: np.ndarray) -> np.ndarray:
    """The pixels of a region with a 4-neighbour outside it (beyond the array is outside)."""
    padded = np.pad(inside, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return inside & ~interior


def _alpha(mask: np.ndarray, opacity: float) -> np.ndarray:
    """Fill alpha 0..255 (uint16): ``round(255 * opacity)`` inside a binary mask,
    ``round(255 * opacity * fraction)`` for fractions."""
    if mask.dtype == bool:
        return mask.astype(np.uint16) * np.uint16(round(255 * opacity))
    return np.rint(mask.astype(np.float64) * (255.0 * opacity)).astype(np.uint16)


def blend(rgba: np.ndarray, layers: Iterable[MaskLayer]) -> np.ndarray:
    """Blend segment masks into ``(rows, columns, 4)`` uint8 RGBA, in place (also returned).

    Fills first, every layer in order, then outlines, so that a later segment's fill never
    hides an earlier one's outline; alpha stays as it was. See the module's docstring for
    the arithmetic.
    """
    layers = list(layers)
    rows, columns = rgba.shape[:2]
    boxes: list[tuple[int, int, int, int, np.ndarray] | None] = []
    for layer in layers:
        r0, c0 = max(layer.row, 0), max(layer.column, 0)
        r1 = min(layer.row + layer.mask.shape[0], rows)
        c1 = min(layer.column + layer.mask.shape[1], columns)
        if r1 <= r0 or c1 <= c0:
            boxes.append(None)
            continue
        mask = layer.mask[r0 - layer.row:r1 - layer.row, c0 - layer.column:c1 - layer.column]
        boxes.append((r0, r1, c0, c1, mask))
    for layer, box in zip(layers, boxes, strict=True):
        if box is None or layer.mode not in ("fill", "both") or layer.opacity <= 0:
            continue
        r0, r1, c0, c1, mask = box
        alpha = _alpha(mask, layer.opacity)[..., None]
        target = rgba[r0:r1, c0:c1, :3]
        color = np.asarray(layer.color, dtype=np.uint16)
        mixed = (target.astype(np.uint16) * (np.uint16(255) - alpha) + color * alpha
                 + np.uint16(127)) // np.uint16(255)
        target[...] = mixed.astype(np.uint8)
    for layer, box in zip(layers, boxes, strict=True):
        if box is None or layer.mode not in ("outline", "both"):
            continue
        r0, r1, c0, c1, mask = box
        if (r0, c0, r1, c1) != (layer.row, layer.column, layer.row + layer.mask.shape[0],
                                layer.column + layer.mask.shape[1]):
            # cut by the image's edge: the outline of the whole mask, then cut
            edge = outline(region(layer.mask))[r0 - layer.row:r1 - layer.row,
                                               c0 - layer.column:c1 - layer.column]
        else:
            edge = outline(region(mask))
        rgba[r0:r1, c0:c1, :3][edge] = np.asarray(layer.color, dtype=np.uint8)
    return rgba


def _cropped(mask: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """A plane's mask inside its bounding box (first row, first column, mask), or None."""
    used = mask if mask.dtype == bool else mask > 0
    rows = np.flatnonzero(used.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(used.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1
    return r0, c0, mask[r0:r1, c0:c1]


# ---------------------------------------------------------------- structure set volumes


def roi_volume_ml(contours: Sequence[np.ndarray], spacing: float | None = None) -> float | None:
    """An ROI's volume from its closed planar contours (``(n, 3)`` patient mm): each one's
    area (Newell's formula) times the spacing of their planes (the median gap between
    distinct planes along their normal, else ``spacing``); None when neither exists.
    Contours inside others (holes) are counted as the others are."""
    areas, normals, centres = [], [], []
    for points in contours:
        if len(points) < 3:
            continue
        centred = points - points.mean(axis=0)
        newell = np.cross(centred, np.roll(centred, -1, axis=0)).sum(axis=0)
        length = float(np.linalg.norm(newell))
        if length <= 0:
            continue
        areas.append(length / 2)
        normals.append(newell / length)
        centres.append(points.mean(axis=0))
    if not areas:
        return None
    normal = normals[0]
    depths = np.unique(np.round(np.asarray(centres) @ normal, 3))
    gap = median(np.diff(depths)) if depths.size > 1 else spacing
    if not gap:
        return None
    return float(np.sum(areas)) * gap / 1000.0


# ---------------------------------------------------------------- loaded objects


@dataclass(eq=False)
class _LoadedSeg:
    display_set_uid: str
    segmentation: Segmentation
    source_uid: str | None
    overlay: SegmentationOverlay | None
    styles: dict[int, Style]
    answer: dict[str, Any]
    crops: dict[ImageKey, list[tuple[int, int, int, np.ndarray]]] = field(default_factory=dict)
    boxes: list[tuple[int, np.ndarray, np.ndarray]] | None = None  # MPR: per segment

    def crops_for(self, image: ImageRef) -> list[tuple[int, int, int, np.ndarray]]:
        key = image_key(image)
        crops = self.crops.get(key)
        if crops is None:
            assert self.overlay is not None
            crops = self.crops[key] = self.overlay.crops_for(key)
        return crops


@dataclass(eq=False)
class _LoadedStructureSet:
    display_set_uid: str
    structure_set: StructureSet
    source_uid: str | None
    frames_of_reference: frozenset[str]
    styles: dict[int, Style]
    answer: dict[str, Any]


_Loaded = _LoadedSeg | _LoadedStructureSet


class Segmentations:
    """The SEGs and RTSTRUCTs the page has opened, by their display set UID."""

    def __init__(self, session: ViewerSession, frames: Frames) -> None:
        self.session = session
        self.frames = frames
        self.loaded: dict[str, _Loaded] = {}
        self._loading: dict[str, asyncio.Task[_Loaded]] = {}

    # ------------------------------------------------------------ the page's requests

    async def load(self, display_set_uid: str) -> dict[str, Any]:
        """``loadSegmentation``: read, fetch, match and measure (once; again it answers the
        same with the styles as they are now)."""
        display_set, _ = self.session.display_set(display_set_uid)
        if display_set.kind not in (SEG, RTSTRUCT):
            raise BadRequest(f"display set {display_set_uid} is {display_set.kind!r}, not a "
                             "segmentation (SEG) or structure set (RTSTRUCT)")
        loaded = self.loaded.get(display_set_uid)
        if loaded is None:
            task = self._loading.get(display_set_uid)
            if task is None:
                task = asyncio.ensure_future(self._load(display_set_uid))
                self._loading[display_set_uid] = task
                task.add_done_callback(lambda _: self._loading.pop(display_set_uid, None))
            loaded = await asyncio.shield(task)
            self.loaded.setdefault(display_set_uid, loaded)
        return self._answer(loaded)

    def set_styles(self, display_set_uid: str, segments: Mapping[str, Any]) -> dict[str, Any]:
        """``setSegmentation``: change segments' styles (``{number: {visible, opacity,
        mode}}``, numbers as JSON keys); answers every segment's style."""
        loaded = self._loaded(display_set_uid)
        if not isinstance(segments, Mapping):
            raise BadRequest(f"segments must be an object of segment numbers, not {segments!r}")
        changed = dict(loaded.styles)
        for key, style in segments.items():
            try:
                number = int(key)
            except (TypeError, ValueError):
                raise BadRequest(f"{key!r} is not a segment number") from None
            if number not in changed:
                raise BadRequest(f"{display_set_uid} has no segment {number}; it has "
                                 f"{sorted(changed)}")
            changed[number] = changed[number].changed(style)
        loaded.styles = changed
        return {"displaySetUID": display_set_uid, "sourceDisplaySetUID": loaded.source_uid,
                "styles": _styles_json(changed)}

    def remove(self, display_set_uid: str) -> dict[str, Any]:
        """``removeSegmentation``: no longer drawn (loading it again starts afresh)."""
        loaded = self.loaded.pop(display_set_uid, None)
        return {"displaySetUID": display_set_uid,
                "sourceDisplaySetUID": None if loaded is None else loaded.source_uid}

    def clear(self) -> None:
        """Let go of every loaded SEG and RTSTRUCT (the page opened a viewer anew)."""
        self.loaded.clear()
        self._loading.clear()

    # ------------------------------------------------------------ drawing

    def blend_image(self, display_set_uid: str, image: ImageRef, rgba: np.ndarray) -> np.ndarray:
        """The loaded SEGs over one image of ``display_set_uid`` (their source), blended."""
        layers = []
        for loaded in self._segs_over(display_set_uid):
            segmentation = loaded.segmentation
            for number, row, column, mask in loaded.crops_for(image):
                style = loaded.styles.get(number)
                if style is None or not style.visible:
                    continue
                layers.append(MaskLayer(mask, segmentation.segment(number).color,
                                        style.opacity, style.mode, row, column))
        return blend(rgba, layers) if layers else rgba

    def blend_plane(self, display_set_uid: str, plane: Plane, rgba: np.ndarray) -> np.ndarray:
        """The loaded SEGs over an MPR plane of ``display_set_uid``'s volume, blended."""
        geometry = self.frames.geometry(display_set_uid)
        if geometry is None:
            return rgba
        layers = []
        for loaded in self._segs_over(display_set_uid):
            if not any(s.visible for s in loaded.styles.values()):
                continue
            if loaded.boxes is None:
                loaded.boxes = self._boxes(loaded, geometry)
            binary = loaded.segmentation.segmentation_type != "FRACTIONAL"
            for number, voxels, affine in loaded.boxes:
                style = loaded.styles.get(number)
                if style is None or not style.visible:
                    continue
                values = reformat(voxels, affine, plane, None, 0)
                mask = values >= 127.5 if binary else values.astype(np.float32) / np.float32(255)
                found = _cropped(mask)
                if found is None:
                    continue
                row, column, piece = found
                layers.append(MaskLayer(piece, loaded.segmentation.segment(number).color,
                                        style.opacity, style.mode, row, column))
        return blend(rgba, layers) if layers else rgba

    def contours(self, display_set: DisplaySet, geometry: ImageGeometry,
                 uids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """``roiContours``: the visible ROIs' contours on one image plane of ``display_set``
        (a stack image, or an MPR plane of it), of the loaded structure sets of its frame of
        reference (only ``uids``, when given): per ROI ``{displaySetUID, number, name,
        color, opacity, mode, polygons, polylines, segments, points}``, coordinates as flat
        ``[column, row, column, row, ...]`` lists (``segments``: consecutive pairs)."""
        wanted = None if uids is None else set(uids)
        frame = display_set.frame_of_reference_uid
        out = []
        for uid, loaded in self.loaded.items():
            if not isinstance(loaded, _LoadedStructureSet) or (wanted is not None
                                                                and uid not in wanted):
                continue
            if loaded.source_uid is None or (
                    display_set.display_set_uid != loaded.source_uid
                    and (not frame or frame not in loaded.frames_of_reference)):
                continue
            visible = [n for n, s in loaded.styles.items() if s.visible]
            if not visible:
                continue
            by_roi: dict[int, dict[str, Any]] = {}
            for contour in loaded.structure_set.contours_on(
                    geometry, frame_of_reference_uid=frame or None, rois=visible):
                roi = by_roi.get(contour.roi_number)
                if roi is None:
                    about = loaded.structure_set.roi(contour.roi_number)
                    style = loaded.styles[contour.roi_number]
                    roi = by_roi[contour.roi_number] = {
                        "displaySetUID": uid, "number": about.number, "name": about.name,
                        "color": list(about.color), "opacity": style.opacity,
                        "mode": style.mode, "polygons": [], "polylines": [], "segments": [],
                        "points": []}
                kind = {"polygon": "polygons", "polyline": "polylines", "segments": "segments",
                        "points": "points"}[contour.kind]
                flat = np.round(contour.points, 2).ravel().tolist()
                if kind == "points":
                    roi["points"] += flat
                else:
                    roi[kind].append(flat)
            out += [by_roi[n] for n in sorted(by_roi)]
        return out

    # ------------------------------------------------------------ loading

    def _loaded(self, display_set_uid: str) -> _Loaded:
        loaded = self.loaded.get(display_set_uid)
        if loaded is None:
            raise SegmentationStateError(f"segmentation {display_set_uid!r} is not loaded: "
                                         "call loadSegmentation first")
        return loaded

    def _segs_over(self, display_set_uid: str) -> list[_LoadedSeg]:
        return [loaded for loaded in self.loaded.values()
                if isinstance(loaded, _LoadedSeg) and loaded.source_uid == display_set_uid
                and loaded.overlay is not None]

    def _answer(self, loaded: _Loaded) -> dict[str, Any]:
        key = "segments" if isinstance(loaded, _LoadedSeg) else "rois"
        return {**loaded.answer,
                key: [{**item, "style": loaded.styles[item["number"]].to_json()}
                      for item in loaded.answer[key]]}

    async def _load(self, display_set_uid: str) -> _Loaded:
        display_set, source = self.session.display_set(display_set_uid)
        if display_set.kind == SEG:
            return await self._load_seg(display_set, source)
        return await self._load_structure_set(display_set, source)

    def _images_of_study(self, display_set: DisplaySet) -> list[tuple[DisplaySet, DataSource]]:
        """The open image stacks of the display set's study, in panel order."""
        return [(d, s) for d, s in self.session.display_sets.values()
                if d.is_image and d.study_instance_uid == display_set.study_instance_uid]

    async def _load_seg(self, display_set: DisplaySet, source: DataSource) -> _LoadedSeg:
        instance = display_set.instance
        segmentation = Segmentation.from_json(instance.json) if instance.json is not None \
            else Segmentation.from_dataset(instance.metadata)
        if not segmentation.pixels_loaded:
            await _fetch_pixels(segmentation, source, instance.study_instance_uid,
                                instance.series_instance_uid, instance.sop_instance_uid)
        stacks = self._images_of_study(display_set)
        reason = segmentation.source_series_reason(d.series_instance_uid for d, _ in stacks)
        if reason:
            reason = reason.replace("is not in this study", "is not open in this study")
        overlay, source_set, image_source = None, None, None
        if not reason:
            named = set(segmentation.source_series_uids)
            candidates = [(d, s) for d, s in stacks if not named or d.series_instance_uid in named]
            if not named and segmentation.frame_of_reference_uid:
                candidates = [(d, s) for d, s in candidates if d.frame_of_reference_uid in (
                    "", segmentation.frame_of_reference_uid)]
            best = None
            for candidate, candidate_source in candidates:
                matched = segmentation.match(candidate.images)
                score = len(matched.image_of_frame)
                if best is None or score > best[0]:
                    best = (score, matched, candidate, candidate_source)
            if best is None:
                reason = "no open image series of this study has the segmentation's frame of " \
                         "reference"
            else:
                _, overlay, source_set, image_source = best
                if not overlay.ok:
                    reason, overlay, source_set = overlay.reason, None, None
        unit, values = "", None
        if overlay is not None and source_set is not None and image_source is not None:
            unit = modality_unit(source_set.images[0].instance.metadata)
            values = await self._values(source_set, image_source,
                                        set(overlay.frames_by_image))
        statistics = {s.segment_number: s for s in segment_statistics(
            overlay, values, unit=unit)} if overlay is not None else {}
        index_of = {} if source_set is None else {
            image_key(image): i for i, image in enumerate(source_set.images)}
        segments = []
        for segment in segmentation.segments:
            stat = statistics.get(segment.number)
            centre = overlay.centre(segment.number) if overlay is not None else None
            go_to = None
            if centre is not None and source_set is not None:
                go_to = {"displaySetUID": source_set.display_set_uid,
                         "imageIndex": index_of[centre[0]],
                         "point": [round(centre[1], 2), round(centre[2], 2)]}
            segments.append({
                "number": segment.number, "label": segment.label,
                "description": segment.description, "category": segment.category,
                "type": segment.property_type, "algorithmType": segment.algorithm_type,
                "color": list(segment.color),
                "colorNote": "" if segment.cielab is not None
                else "default colour: the segment has no RecommendedDisplayCIELabValue",
                "volumeMl": None if stat is None else stat.volume_ml,
                "voxels": None if stat is None else stat.voxels,
                "mean": None if stat is None else stat.mean,
                "min": None if stat is None else stat.minimum,
                "max": None if stat is None else stat.maximum,
                "unit": unit, "notes": [] if stat is None else list(stat.notes),
                "goTo": go_to,
            })
        notes = [*segmentation.notes, *(overlay.notes if overlay is not None else ())]
        answer = {
            "displaySetUID": display_set.display_set_uid, "kind": SEG,
            "sopInstanceUID": segmentation.sop_instance_uid,
            "label": segmentation.label or segmentation.series_description,
            "seriesDescription": display_set.series_description,
            "segmentationType": segmentation.segmentation_type,
            "fractionalType": segmentation.fractional_type,
            "sourceDisplaySetUID": None if source_set is None else source_set.display_set_uid,
            "segments": segments, "notes": notes, "reason": reason, "modes": list(MODES),
        }
        styles = {s.number: SEG_STYLE for s in segmentation.segments}
        source_uid = None if source_set is None else source_set.display_set_uid
        return _LoadedSeg(display_set.display_set_uid, segmentation, source_uid, overlay,
                          styles, answer)

    async def _values(self, display_set: DisplaySet, source: DataSource,
                      keys: set[ImageKey]) -> dict[ImageKey, np.ndarray]:
        """The modality values of the display set's images with these keys (the frames the
        viewer holds, fetched where missing; a frame that fails is left out)."""
        wanted = [image for image in display_set.images if image_key(image) in keys]
        gate = asyncio.Semaphore(LOAD_CONCURRENCY)
        values: dict[ImageKey, np.ndarray] = {}

        async def one(image: ImageRef) -> None:
            async with gate:
                try:
                    frame = await self.frames.get(source, image)
                except DATA_ERRORS:
                    return
            if not frame.is_color:
                values[image_key(image)] = frame.values

        await asyncio.gather(*(one(image) for image in wanted))
        return values

    async def _load_structure_set(self, display_set: DisplaySet,
                                  source: DataSource) -> _LoadedStructureSet:
        instance = display_set.instance
        structure_set = StructureSet.from_json(instance.json) if instance.json is not None \
            else StructureSet.from_dataset(instance.metadata)
        stacks = [d for d, _ in self._images_of_study(display_set)]
        named = set(structure_set.referenced_series_uids)
        frames = set(structure_set.frame_of_reference_uids) | {
            r.frame_of_reference_uid for r in structure_set.rois if r.frame_of_reference_uid}
        source_set = next((d for d in stacks if d.series_instance_uid in named), None) \
            or next((d for d in stacks if d.frame_of_reference_uid in frames), None)
        reason = ""
        if source_set is None:
            what = ("series " + ", ".join(sorted(named))) if named else \
                ("frame of reference " + ", ".join(sorted(frames)))
            reason = f"the structure set's {what} is not open in this study"
        else:
            frames.add(source_set.frame_of_reference_uid)
        spacing = _slice_spacing(source_set)
        rois = []
        for roi in structure_set.rois:
            closed = [c.points for c in roi.contours if c.geometric_type == "CLOSED_PLANAR"]
            rois.append({
                "number": roi.number, "name": roi.name, "label": roi.name,
                "color": list(roi.color),
                "colorNote": "" if roi.color_source == "ROIDisplayColor"
                else "default colour: the ROI has no ROIDisplayColor",
                "interpretedType": roi.interpreted_type,
                "contours": len(roi.contours),
                "volumeMl": roi_volume_ml(closed, spacing) if closed else None,
                "goTo": _roi_go_to(roi.contours, source_set),
            })
        answer = {
            "displaySetUID": display_set.display_set_uid, "kind": RTSTRUCT,
            "sopInstanceUID": structure_set.sop_instance_uid,
            "label": structure_set.label or structure_set.name
            or structure_set.series_description,
            "seriesDescription": display_set.series_description,
            "sourceDisplaySetUID": None if source_set is None else source_set.display_set_uid,
            "rois": rois, "notes": list(structure_set.notes), "reason": reason,
            "modes": list(MODES),
        }
        styles = {r.number: ROI_STYLE for r in structure_set.rois}
        source_uid = None if source_set is None else source_set.display_set_uid
        return _LoadedStructureSet(display_set.display_set_uid, structure_set, source_uid,
                                   frozenset(f for f in frames if f), styles, answer)

    def _boxes(self, loaded: _LoadedSeg, geometry: VolumeGeometry
               ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Each segment as a uint8 box of the volume's voxels (255 inside; fractions x 255)
        with the affine of its first voxel: what MPR planes are reformatted from."""
        assert loaded.source_uid is not None
        display_set, _ = self.session.display_set(loaded.source_uid)
        slot_of = {image_key(image): slot for image, slot in
                   zip(display_set.images, geometry.slots, strict=True)}
        pieces: dict[int, list[tuple[int, int, int, np.ndarray]]] = {}
        assert loaded.overlay is not None
        for key in loaded.overlay.frames_by_image:
            slot = slot_of.get(key)
            if slot is None:
                continue
            for number, row, column, mask in loaded.overlay.crops_for(key):
                pieces.setdefault(number, []).append((slot, row, column, mask))
        boxes = []
        for number in sorted(pieces):
            parts = pieces[number]
            s0 = min(p[0] for p in parts)
            s1 = max(p[0] for p in parts) + 1
            r0 = min(p[1] for p in parts)
            r1 = max(p[1] + p[3].shape[0] for p in parts)
            c0 = min(p[2] for p in parts)
            c1 = max(p[2] + p[3].shape[1] for p in parts)
            voxels = np.zeros((s1 - s0, r1 - r0, c1 - c0), dtype=np.uint8)
            for slot, row, column, mask in parts:
                values = mask.astype(np.uint8) * np.uint8(255) if mask.dtype == bool \
                    else np.rint(mask * 255).astype(np.uint8)
                target = voxels[slot - s0, row - r0:row - r0 + mask.shape[0],
                                column - c0:column - c0 + mask.shape[1]]
                np.maximum(target, values, out=target)
            affine = geometry.affine.copy()
            affine[:3, 3] = geometry.affine[:3, :3] @ np.array([c0, r0, s0], float) \
                + geometry.affine[:3, 3]
            boxes.append((number, voxels, affine))
        return boxes


# ---------------------------------------------------------------- helpers


async def _fetch_pixels(segmentation: Segmentation, source: DataSource, study_uid: str,
                        series_uid: str, sop_uid: str) -> None:
    """Every frame of the SEG in as few requests as the URL length allows; native frames
    are joined into one Pixel Data value (bit-packed masks stay packed)."""
    count = segmentation.number_of_frames
    frame_bytes = native_frame_length(segmentation.pixel)
    size = PixelDataSize(frame_bytes, count)
    numbers = list(range(1, count + 1))
    chunks = [numbers[i:i + FRAMES_PER_REQUEST] for i in range(0, count, FRAMES_PER_REQUEST)]
    answers = await asyncio.gather(*(source.retrieve_instance_frames(
        study_uid, series_uid, sop_uid, chunk, pixel_size=size) for chunk in chunks))
    frames = [frame for answer in answers for frame in answer]
    syntaxes = {str(frame.transfer_syntax_uid) for frame in frames}
    pixels = segmentation.rows * segmentation.columns
    joinable = (len(syntaxes) == 1 and not UID(next(iter(syntaxes))).is_encapsulated
                and (segmentation.pixel.bits_allocated != 1 or pixels % 8 == 0)
                and all(len(frame.data) >= frame_bytes for frame in frames))
    if joinable:
        segmentation.load_pixel_data(b"".join(bytes(frame.data[:frame_bytes])
                                              for frame in frames), next(iter(syntaxes)))
        return
    for syntax in syntaxes:
        await load_decoder(syntax)
    for number, frame in zip(numbers, frames, strict=True):
        segmentation.set_frame(number, bytes(frame.data), frame.transfer_syntax_uid)


def _styles_json(styles: Mapping[int, Style]) -> dict[str, Any]:
    return {str(number): style.to_json() for number, style in sorted(styles.items())}


def _slice_spacing(display_set: DisplaySet | None) -> float | None:
    """The spacing between a stack's images along their normal (median), or None."""
    if display_set is None or len(display_set.images) < 2:
        return None
    normal = display_set.images[0].normal
    positions = [i.image_position for i in display_set.images]
    if normal is None or any(p is None for p in positions):
        return None
    depths = np.unique(np.round(np.asarray(positions, dtype=float) @ normal, 3))
    return median(np.diff(depths)) if depths.size > 1 else None


def _roi_go_to(contours: Sequence[Any], display_set: DisplaySet | None) -> dict[str, Any] | None:
    """The image of ``display_set`` nearest an ROI's centre (the mean of its points)."""
    if display_set is None or not contours:
        return None
    normal = display_set.images[0].normal
    positions = [i.image_position for i in display_set.images]
    if normal is None or any(p is None for p in positions):
        return None
    centre = np.concatenate([c.points for c in contours]).mean(axis=0)
    depths = np.asarray(positions, dtype=float) @ normal
    index = int(np.argmin(np.abs(depths - float(centre @ normal))))
    return {"displaySetUID": display_set.display_set_uid, "imageIndex": index}
