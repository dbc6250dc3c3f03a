"""What the worker answers for display sets that are not image stacks: SR documents,
encapsulated PDFs and videos (see :mod:`ohifpy.sr_document`, :mod:`ohifpy.encapsulated`).

The page shows an ``sr`` display set as a tree of text (every string set with
``textContent``), a ``pdf`` one in the browser's PDF viewer from a Blob of ``data`` with a
download button, a ``video`` one in a ``<video>`` from a Blob (``note`` shown instead when
``canPlayType(playableType)`` says no, or the element fails to play it). Bytes are
fetched through the display set's source, so they carry its credentials.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..datasources import DataSource
from ..dicomweb.dicom_json import iter_bulk_data
from ..encapsulated import retrieve_encapsulated
from ..model import PDF, SR, VIDEO, DisplaySet, ModelError
from ..sr_document import sr_document as document_tree

__all__ = ["encapsulated", "sr_document"]

_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


async def sr_document(display_set: DisplaySet, source: DataSource | None = None) -> dict[str, Any]:
    """The document of an ``sr`` display set: header and content tree (see
    :func:`ohifpy.sr_document.sr_document`), with ``displaySetUID`` and
    ``sopInstanceUID``. Values the metadata left on the server (a long TEXT as bulk
    data) are fetched first from ``source``, when given."""
    _expect(display_set, SR)
    ds = display_set.instance.metadata
    if source is not None and next(iter_bulk_data(ds), None) is not None:
        await source.load_bulkdata(ds)
    return {"displaySetUID": display_set.display_set_uid,
            "sopInstanceUID": display_set.instance.sop_instance_uid,
            **document_tree(ds)}


async def encapsulated(display_set: DisplaySet, source: DataSource) -> dict[str, Any]:
    """The bytes of a ``pdf`` or ``video`` display set and how to show them.

    ``data`` (bytes) for a Blob of ``mediaType``; ``playableType`` for ``canPlayType``;
    ``note`` (text) to show when the browser cannot play a video; ``fileName`` for the
    download button; for a video its ``transferSyntaxUID``, ``numberOfFrames`` and the
    ``frameTime`` in ms (None when the header gives no rate) for frame stepping.
    """
    _expect(display_set, PDF, VIDEO)
    instance = display_set.instance
    content = await retrieve_encapsulated(source, instance)
    answer: dict[str, Any] = {
        "displaySetUID": display_set.display_set_uid,
        "sopInstanceUID": instance.sop_instance_uid,
        "data": content.data,
        "mediaType": content.media_type,
        "playableType": content.playable_type,
        "note": content.note,
        "fileName": _file_name(display_set, content.media_type),
    }
    if display_set.kind == VIDEO:
        answer.update(transferSyntaxUID=content.transfer_syntax_uid,
                      numberOfFrames=instance.number_of_frames,
                      frameTime=frame_time(instance.metadata))
    return answer


def frame_time(ds: Any) -> float | None:
    """Milliseconds per frame of a cine or video: FrameTime, else 1000 / CineRate, else
    1000 / RecommendedDisplayFrameRate; None when none is a positive number."""
    for keyword, per_second in (("FrameTime", False), ("CineRate", True),
                                ("RecommendedDisplayFrameRate", True)):
        try:
            value = float(ds.get(keyword))
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return 1000.0 / value if per_second else value
    return None


def _file_name(display_set: DisplaySet, media_type: str) -> str:
    """A download name from DocumentTitle or SeriesDescription, only safe characters."""
    ds = display_set.instance.metadata
    title = str(ds.get("DocumentTitle", "") or "") or display_set.series_description
    stem = " ".join(_FILE_NAME_UNSAFE.sub(" ", title).split())[:80].strip(". ") or \
        display_set.kind
    extension = {"application/pdf": ".pdf", "video/mp4": ".mp4", "video/mpeg": ".mpg",
                 "video/mp2t": ".ts"}.get(media_type, ".bin")
    return stem + extension


def _expect(display_set: DisplaySet, *kinds: str) -> None:
    if display_set.kind not in kinds:
        raise ModelError(
            f"display set {display_set.display_set_uid} is {display_set.kind!r}, not "
            + " or ".join(repr(kind) for kind in kinds))
