"""The Python console's names, in the viewer and in CPython scripts and notebooks.

A console cell sees ``viewer`` (``viewer.image``, ``viewer.volume``,
``viewer.measurements``), ``show``, ``overlay``, ``np``/``numpy`` and ``pydicom``
(:class:`Console`). The same objects run over the browser worker's open images and, in
CPython, over a study opened from any data source (:func:`open_study`), so a cell runs
unchanged in either::

    from ohifpy.console import open_study

    with open_study("http://127.0.0.1:8042/dicom-web", study_uid) as study:
        viewer, show = study.viewer, study.show
        hu = viewer.image
        print(hu[100:120, 100:120].mean())
        show(viewer.volume.max(axis=0), name="MIP").save("mip.png")

=================  ============================================================
module             what
=================  ============================================================
``arrays``         :class:`SpatialArray`: numpy arrays with spacing, origin,
                   orientation, affine, dataset
``viewer``         :class:`Viewer` over a :class:`ViewerSource`; measurements
``derived``        :class:`DerivedImage`, :class:`Overlay`: what ``show`` and
                   ``overlay`` record for the viewer to display
``namespace``      :class:`Console`: ``show``, ``overlay`` and a cell's globals
``study``          :func:`open_study` (CPython only: httpx, threads)
=================  ============================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .arrays import Grid, SpatialArray
from .derived import ConsoleError, DerivedImage, Overlay
from .namespace import HELP, Console
from .viewer import Viewer, ViewerMeasurement, ViewerSource

if TYPE_CHECKING:
    from .study import AsyncStudy, OpenedStudy, open_study

__all__ = [
    "HELP",
    "AsyncStudy",
    "Console",
    "ConsoleError",
    "DerivedImage",
    "Grid",
    "OpenedStudy",
    "Overlay",
    "SpatialArray",
    "Viewer",
    "ViewerMeasurement",
    "ViewerSource",
    "open_study",
]

_CPYTHON_ONLY = {"open_study", "OpenedStudy", "AsyncStudy"}


def __getattr__(name: str) -> Any:
    """The CPython side on first use: the browser's wheel has no ``study`` module."""
    if name in _CPYTHON_ONLY:
        from . import study

        return getattr(study, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
