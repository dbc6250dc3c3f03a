"""Every JSON shape the page receives from the worker, in one place.

Texts from DICOM go out as plain strings (the page sets them as ``textContent``, never
as markup); numbers as numbers; nothing here fetches or decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom import Dataset

from ..datasources import DataSource
from ..imaging import VOIWindow
from ..measure import ImageGeometry, ImageReference
from ..model import DisplaySet, ImageRef, Study
from ..overlay_geometry import geometry_overlay, overlay_geometry
from ..study_list import display_date, study_texts
from .overlay_items import ViewportOverlay

__all__ = ["display_set_info", "image_reference", "local_files_summary", "overlay", "patient",
           "plane_overlay", "source_info", "study_header"]


def source_info(source: DataSource, kind: str) -> dict[str, Any]:
    """A data source as the page's selector and buttons need it; ``kind`` as in the config
    (``dicomweb``, ``staticWado``, ``dicomjson``, ``dicomlocal``, ``merge``)."""
    return {"name": source.name, "friendlyName": source.friendly_name, "kind": kind,
            "canStore": source.capabilities.store,
            "downloadReports": source.capabilities.download_reports}


def study_header(study: Study, display_sets: Sequence[DisplaySet]) -> dict[str, Any]:
    """A study's header in the series panel (texts for textContent) and its display sets."""
    return {
        "studyInstanceUID": study.study_instance_uid,
        "patientName": study.patient_name,
        "patientId": study.patient_id,
        "studyDate": study.study_date,
        "displayDate": display_date(study.study_date, ""),
        "studyDescription": study.study_description,
        "displaySetUIDs": [d.display_set_uid for d in display_sets],
        **study_texts(study),
    }


def display_set_info(display_set: DisplaySet) -> dict[str, Any]:
    """A display set as the series panel and a viewport need it. ``kind`` says how it is
    shown: ``image`` (a stack of ``numImages``), ``seg`` / ``rtstruct`` (over its source
    images), ``sr`` (a document tree), ``pdf``, ``video`` (one instance, no images; a
    video's ``numberOfFrames`` is its clip's)."""
    first = display_set.instance
    return {
        "displaySetUID": display_set.display_set_uid,
        "kind": display_set.kind,
        "sopClassUID": first.sop_class_uid,
        "sopInstanceUID": first.sop_instance_uid,
        "numberOfFrames": first.number_of_frames,
        "studyInstanceUID": display_set.study_instance_uid,
        "seriesInstanceUID": display_set.series_instance_uid,
        "modality": display_set.modality,
        "seriesDescription": display_set.series_description,
        "seriesNumber": display_set.series_number,
        "numImages": len(display_set.images),
        "rows": first.rows,
        "columns": first.columns,
        "isMultiframe": display_set.is_multiframe,
        "frameOfReferenceUID": display_set.frame_of_reference_uid,
        # Whether MPR may use it; the note is why not, or e.g. "2 missing slices" (text).
        "isReconstructable": display_set.is_reconstructable,
        "reconstructionNote": display_set.reconstruction.note,
        # Which instance each image is, in display order (frames of one repeat its UID).
        "sopInstanceUIDs": [image.instance.sop_instance_uid for image in display_set.images],
    }


def overlay(
    display_set: DisplaySet, image: ImageRef, image_index: int, window: VOIWindow | None,
    layout: ViewportOverlay,
) -> dict[str, Any]:
    """The corner texts of a viewport, as plain strings and numbers, with its orientation
    markers and pixel size for the scale bar (see :mod:`ohifpy.overlay_geometry`);
    ``corners`` are the site's ``layout`` for this image (see
    :mod:`ohifpy.viewer.overlay_items`)."""
    return {
        **_overlay_texts(image.instance.metadata, image_index,
                         len(display_set.images), window, layout),
        "instanceNumber": image.instance.instance_number,
        "sopInstanceUID": image.instance.sop_instance_uid,
        "frameNumber": image.frame_number,
        **overlay_geometry(image),
    }


def plane_overlay(
    display_set: DisplaySet, view_label: str, geometry: ImageGeometry, image_index: int,
    num_images: int, window: VOIWindow | None, layout: ViewportOverlay,
) -> dict[str, Any]:
    """:func:`overlay` of a plane reformatted from ``display_set`` (an MPR view): the
    series' texts (its first instance's), the view's name, and the plane's markers and
    pixel size."""
    return {
        **_overlay_texts(display_set.images[0].instance.metadata, image_index,
                         num_images, window, layout),
        "viewLabel": view_label,
        "instanceNumber": None,
        "sopInstanceUID": "",
        "frameNumber": None,
        **geometry_overlay(geometry),
    }


def _overlay_texts(ds: Dataset, image_index: int, num_images: int, window: VOIWindow | None,
                   layout: ViewportOverlay) -> dict[str, Any]:
    """What the corners show (texts from DICOM as their items) and the live values the page
    fills in: the image's place in the stack and the window."""
    return {
        "imageIndex": image_index,
        "numImages": num_images,
        "windowCenter": None if window is None else window.center,
        "windowWidth": None if window is None else window.width,
        "corners": layout.corners(ds),
    }


def image_reference(image: ImageRef) -> ImageReference:
    instance = image.instance
    return ImageReference(instance.study_instance_uid, instance.series_instance_uid,
                          instance.sop_instance_uid, instance.sop_class_uid, image.frame_number,
                          instance.number_of_frames)


def patient(ds: Dataset) -> dict[str, str]:
    return {"PatientName": str(ds.get("PatientName", "") or ""),
            "PatientID": str(ds.get("PatientID", "") or "")}


def local_files_summary(studies: int, instances: int, skipped: int, failed: int) -> str:
    """What opening the user's files gave, in one line:
    ``3 studies, 225 instances; 2 files are not DICOM; 1 file could not be read``."""
    parts = [f"{_count(studies, 'study', 'studies')}, {_count(instances, 'instance')}"
             if studies else "No DICOM images found"]
    if skipped:
        parts.append(f"{_count(skipped, 'file')} {'is' if skipped == 1 else 'are'} not DICOM")
    if failed:
        parts.append(f"{_count(failed, 'file')} could not be read")
    return "; ".join(parts)


def _count(number: int, one: str, many: str = "") -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"
