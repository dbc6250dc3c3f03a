"""Write DICOM instances as a static DICOMweb tree that any static web host can serve.

OHIF's ``staticWado`` data sources read QIDO-RS and WADO-RS answers as plain files (no
query string, no server logic). A path cannot be both a file and a directory, so the
QIDO collections that have children are directories holding ``index.json``; the
leaves are plain files named as in PS3.18::

    {root}/studies/index.json                                   QIDO study list
    {root}/studies/{S}/metadata                                 WADO-RS study metadata
    {root}/studies/{S}/series/index.json                        QIDO series list
    {root}/studies/{S}/series/{R}/metadata                      WADO-RS series metadata
    {root}/studies/{S}/series/{R}/instances/index.json          QIDO instance list
    {root}/studies/{S}/series/{R}/instances/{I}/metadata        WADO-RS instance metadata
    {root}/studies/{S}/series/{R}/instances/{I}/frames/{N}      frame N (1-based), raw bytes

A static client therefore reads ``{qidoRoot}/studies/index.json`` (and filters itself),
the other URLs being the usual ones. Frames are the stored bytes of one frame, single
part (``application/octet-stream`` on a static host): the codestream for compressed
transfer syntaxes, native pixels otherwise. Each metadata object carries the transfer
syntax (0002,0010) so the client knows how to decode them, and its pixel data is a
``BulkDataURI`` relative to the series metadata URL (``instances/{I}/frames``), which
RFC 3986 resolves to the frames above.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset

from .datasources.catalog import INSTANCE_KEYWORDS, SERIES_KEYWORDS, STUDY_KEYWORDS
from .dicomweb.dicom_json import PIXEL_DATA_TAGS
from .dicomweb.part10 import split_frames

__all__ = ["StaticTree", "StaticWadoError", "write_static_dicomweb"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_ALL_INLINE = 2**62  # to_json_dict threshold that never moves a value to bulk data


class StaticWadoError(ValueError):
    """An instance cannot be written: a UID is missing or unsafe, or its pixel data is unsplittable."""


@dataclass(frozen=True)
class StaticTree:
    """What :func:`write_static_dicomweb` wrote."""

    studies: int
    series: int
    instances: int
    frames: int


def _uid(ds: Dataset, keyword: str, where: str) -> str:
    value = str(ds.get(keyword, "") or "")
    # UIDs become path segments: anything but digits and dots could escape out_dir.
    if not _UID.match(value) or len(value) > 64:
        raise StaticWadoError(f"{where}: {keyword} {value!r} is missing or not a valid UID")
    return value


def _frames(ds: Dataset, where: str) -> list[bytes]:
    try:
        return split_frames(ds)
    except ValueError as exc:
        raise StaticWadoError(f"{where}: {exc}") from None


def _metadata(ds: Dataset, frames_uri: str) -> dict[str, Any]:
    """DICOM JSON of ``ds`` with its pixel data as a BulkDataURI and its transfer syntax."""
    without_pixels = Dataset()
    pixel_json = {}
    for elem in ds:
        if elem.tag in PIXEL_DATA_TAGS:
            pixel_json[f"{elem.tag:08X}"] = elem.to_json_dict(lambda _: frames_uri, 0)
        else:
            without_pixels.add(elem)
    result = without_pixels.to_json_dict(bulk_data_threshold=_ALL_INLINE)
    result.update(pixel_json)
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is not None:
        result["00020010"] = {"vr": "UI", "Value": [str(ts)]}
    return dict(sorted(result.items()))


def _attributes(ds: Dataset, keywords: tuple[str, ...], **computed: Any) -> dict[str, Any]:
    """QIDO-RS result attributes: the ``keywords`` present in ``ds`` plus computed ones."""
    out = Dataset()
    for keyword in keywords:
        if keyword in ds:
            out[keyword] = ds[keyword]
    for keyword, value in computed.items():
        setattr(out, keyword, value)
    return dict(sorted(out.to_json_dict(bulk_data_threshold=_ALL_INLINE).items()))


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(",", ":")), encoding="utf-8")


def _instance_order(ds: Dataset) -> tuple[int, str]:
    number = ds.get("InstanceNumber")
    return (int(number) if number is not None else 0, str(ds.SOPInstanceUID))


def write_static_dicomweb(datasets: Iterable[Dataset], out_dir: str | Path) -> StaticTree:
    """Write ``datasets`` under ``out_dir`` in the layout of this module's docstring.

    Instances are grouped by their Study and Series Instance UIDs; a repeated SOP
    Instance UID is an error rather than a silent overwrite.
    """
    root = Path(out_dir)
    studies: dict[str, dict[str, dict[str, Dataset]]] = {}
    for index, ds in enumerate(datasets):
        where = f"dataset {index}"
        study = _uid(ds, "StudyInstanceUID", where)
        series = _uid(ds, "SeriesInstanceUID", where)
        sop = _uid(ds, "SOPInstanceUID", where)
        instances = studies.setdefault(study, {}).setdefault(series, {})
        if sop in instances:
            raise StaticWadoError(f"{where}: SOPInstanceUID {sop} appears twice")
        instances[sop] = ds

    study_list = []
    counts = {"series": 0, "instances": 0, "frames": 0}
    for study_uid, series_map in studies.items():
        study_dir = root / "studies" / study_uid
        series_list = []
        study_metadata = []
        modalities: set[str] = set()
        for series_uid, instances in series_map.items():
            series_dir = study_dir / "series" / series_uid
            ordered = sorted(instances.values(), key=_instance_order)
            series_metadata = []
            instance_list = []
            for ds in ordered:
                sop = str(ds.SOPInstanceUID)
                where = f"instance {sop}"
                frames = _frames(ds, where)
                for number, frame in enumerate(frames, start=1):
                    path = series_dir / "instances" / sop / "frames" / str(number)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(frame)
                counts["frames"] += len(frames)
                metadata = _metadata(ds, f"instances/{sop}/frames")
                _write_json(series_dir / "instances" / sop / "metadata", [metadata])
                series_metadata.append(metadata)
                instance_list.append(_attributes(ds, INSTANCE_KEYWORDS))
            _write_json(series_dir / "metadata", series_metadata)
            _write_json(series_dir / "instances" / "index.json", instance_list)
            study_metadata.extend(series_metadata)
            first = ordered[0]
            if first.get("Modality"):
                modalities.add(str(first.Modality))
            series_list.append(
                _attributes(first, SERIES_KEYWORDS, NumberOfSeriesRelatedInstances=len(ordered))
            )
            counts["series"] += 1
            counts["instances"] += len(ordered)
        _write_json(study_dir / "metadata", study_metadata)
        _write_json(study_dir / "series" / "index.json", series_list)
        first_instance = next(iter(next(iter(series_map.values())).values()))
        study_list.append(
            _attributes(
                first_instance,
                STUDY_KEYWORDS,
                ModalitiesInStudy=sorted(modalities),
                NumberOfStudyRelatedSeries=len(series_map),
                NumberOfStudyRelatedInstances=sum(len(i) for i in series_map.values()),
            )
        )
    _write_json(root / "studies" / "index.json", study_list)
    return StaticTree(studies=len(studies), **counts)
