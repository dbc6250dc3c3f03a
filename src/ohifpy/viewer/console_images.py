"""What the Python console showed, in the viewer: derived images as display sets, masks over images.

The console's worker sends what a cell made (:mod:`ohifpy.console.messages`);
:class:`ConsoleImages` makes each derived image a display set of the study it was
computed from, with metadata a viewer reads like any series' (Secondary Capture, ImageType
DERIVED\\SECONDARY, the source's patient, study and modality, one instance per frame placed
by ImagePositionPatient, ImageOrientationPatient and PixelSpacing, the window) and holds
its frames decoded, so the viewport's window/level, zoom and measurements work on it as on
any image. It is the display sets' data source (named ``console``): nothing is fetched from
it, nothing stored to it. Its masks (:class:`~ohifpy.console.derived.Overlay`) are blended
into the images they lie over when those are rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

from ..console.derived import ConsoleError, DerivedImage, Overlay
from ..console.messages import (
    derived_from_message,
    instances_json,
    overlay_from_message,
    window_message,
)
from ..console.viewer import image_array
from ..datasources.protocol import Capabilities, DataSourceError
from ..dicomweb.client import Frame
from ..errors import DATA_ERRORS
from ..imaging import ImageFrame
from ..model import DisplaySet, ImageRef, Instance, display_sets_from_instances
from .frames import Frames
from .session import ViewerSession

__all__ = ["CONSOLE_SOURCE_NAME", "ConsoleImages"]

CONSOLE_SOURCE_NAME = "console"
FIRST_SERIES_NUMBER = 9001
"""Derived series are numbered from here: after the study's own in the series panel."""
_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
           "StudyDate", "StudyTime", "StudyDescription", "StudyID", "AccessionNumber",
           "ReferringPhysicianName", "Modality", "SpecificCharacterSet")
"""What a derived image's instances take from the first image of their source."""


class ConsoleImages:
    """The console's derived display sets (a data source of decoded frames) and masks."""

    name = CONSOLE_SOURCE_NAME
    friendly_name = "Python console"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self._frames: dict[tuple[str, int], ImageFrame] = {}
        self._overlays: dict[str, list[Overlay]] = {}
        self._made = 0

    def add(self, derived: DerivedImage, source: DisplaySet | None) -> DisplaySet:
        """A display set of ``derived``, in the study of ``source`` (its source display set)."""
        first = source.images[0].instance.metadata if source and source.images else Dataset()
        self._made += 1
        series_uid = generate_uid()
        instances = []
        rows, columns = derived.shape
        for index in range(derived.frames):
            ds = Dataset()
            for keyword in _COPIED:
                if keyword in first:
                    setattr(ds, keyword, first.data_element(keyword).value)
            ds.StudyInstanceUID = source.study_instance_uid if source else generate_uid()
            ds.SeriesInstanceUID = series_uid
            ds.SOPInstanceUID = generate_uid()
            ds.SOPClassUID = SecondaryCaptureImageStorage
            ds.ImageType = ["DERIVED", "SECONDARY"]
            ds.Modality = ds.get("Modality") or "OT"
            ds.SeriesDescription = derived.name
            ds.SeriesNumber = FIRST_SERIES_NUMBER + self._made - 1
            ds.InstanceNumber = index + 1
            ds.Rows, ds.Columns = rows, columns
            ds.SamplesPerPixel = 3 if derived.is_color else 1
            ds.PhotometricInterpretation = derived.photometric_interpretation
            ds.BitsAllocated = ds.BitsStored = 8 * min(derived.array.itemsize, 4) or 8
            ds.HighBit = ds.BitsStored - 1
            ds.PixelRepresentation = int(derived.array.dtype.kind in "if")
            if derived.spacing is not None:
                ds.PixelSpacing = [f"{s:.6g}" for s in derived.spacing]
            if derived.positions is not None and derived.orientation is not None:
                ds.ImagePositionPatient = [f"{v:.6f}" for v in derived.positions[index]]
                ds.ImageOrientationPatient = [f"{v:.6f}" for v in derived.orientation]
                if derived.frame_of_reference_uid:
                    ds.FrameOfReferenceUID = derived.frame_of_reference_uid
            if derived.window is not None:
                ds.WindowCenter = f"{derived.window.center:.6g}"
                ds.WindowWidth = f"{derived.window.width:.6g}"
            instance = Instance.from_dataset(ds)
            self._frames[(instance.sop_instance_uid, 1)] = derived.frame(index)
            instances.append(instance)
        (display_set,) = display_sets_from_instances(instances)
        return display_set

    # ------------------------------------------------------------ the viewer worker's calls

    async def snapshot(
        self, session: ViewerSession, frames: Frames, display_set_uid: str, image_index: int,
        window: Mapping[str, float] | None, volume: bool, display_sets: set[str],
        volumes: set[str],
    ) -> dict[str, Any]:
        """What a console cell reads (see :mod:`ohifpy.console.remote`): the active
        viewport's display set and image (``display_set_uid``, ``image_index``, its
        ``window``), with ``volume`` its whole volume (loaded first). The metadata of
        display sets (``display_sets``) and volumes (``volumes``) the console holds
        already is not sent again. The answer: ``snapshot`` (JSON) and the arrays
        ``imageData``, ``volumeData``; a problem with either is said in ``snapshot``
        (``image.error``, ``volume.error``) for the cell that reads it.
        """
        snapshot: dict[str, Any] = {"window": dict(window) if window else None,
                                    "active": {"displaySetUID": display_set_uid,
                                               "imageIndex": image_index},
                                    "volume": None}
        answer: dict[str, Any] = {"snapshot": snapshot, "imageData": None, "volumeData": None}
        snapshot["displaySets"] = [
            {"displaySetUID": uid, "instances": json.dumps(instances_json(d))}
            for uid, (d, _) in session.display_sets.items()
            if d.is_image and uid not in display_sets]
        if not display_set_uid:
            snapshot["error"] = "the active viewport shows no series"
            return answer
        display_set, source = session.display_set(display_set_uid)
        if not display_set.is_image:
            snapshot["error"] = f"the active viewport shows a {display_set.kind.upper()}, not images"
            return answer
        image, source = session.image(display_set_uid, image_index)
        try:
            frame = await frames.get(source, image)
        except DATA_ERRORS as exc:
            snapshot["image"] = {"error": f"the current image cannot be read: {exc}"}
        else:
            values = np.ascontiguousarray(image_array(frame, image))
            snapshot["image"] = {"dtype": values.dtype.name, "shape": list(values.shape),
                                 "photometric": "RGB" if values.ndim == 3
                                 else frame.photometric_interpretation,
                                 "windows": [window_message(w) for w in frame.windows]}
            answer["imageData"] = values
        if volume and display_set.is_reconstructable and display_set_uid not in volumes:
            try:
                voxels = (await frames.whole_volume(display_set, source)).values()
            except DATA_ERRORS as exc:
                snapshot["volume"] = {"error": str(exc)}
            else:
                snapshot["volume"] = {"dtype": voxels.dtype.name, "shape": list(voxels.shape)}
                answer["volumeData"] = np.ascontiguousarray(voxels)
        return answer

    def show(self, derived: Mapping[str, Any], session: ViewerSession,
             frames: Frames) -> DisplaySet:
        """A cell's ``show`` (a :func:`~ohifpy.console.messages.derived_message`): the
        derived image as a display set of the session (a stack: tracked as a volume)."""
        made = derived_from_message(derived)
        source = session.display_sets.get(made.source_display_set_uid)
        display_set = self.add(made, source[0] if source else None)
        session.add_display_set(display_set, self)
        frames.track(display_set, self)
        return display_set

    def overlay(self, overlay: Mapping[str, Any], session: ViewerSession) -> str:
        """A cell's ``overlay`` (an :func:`~ohifpy.console.messages.overlay_message`): laid
        over its display set's images; answers that display set's UID."""
        made = overlay_from_message(overlay)
        display_set, _ = session.display_set(made.display_set_uid)
        self.add_overlay(made, display_set)
        return display_set.display_set_uid

    # ------------------------------------------------------------ frames

    def holds(self, image: ImageRef) -> bool:
        return (image.instance.sop_instance_uid, image.frame_number) in self._frames

    def frame(self, image: ImageRef) -> ImageFrame:
        """A derived image's frame, as decoded as any frame in the cache."""
        try:
            return self._frames[(image.instance.sop_instance_uid, image.frame_number)]
        except KeyError:
            raise DataSourceError("this image of the Python console is gone") from None

    # ------------------------------------------------------------ masks

    def add_overlay(self, overlay: Overlay, display_set: DisplaySet) -> None:
        """Lay a mask over ``display_set`` (checked against its images' size)."""
        rows, columns = overlay.mask.shape[-2:]
        image = display_set.images[0].instance if display_set.images else None
        if image is None or (image.rows, image.columns) != (rows, columns):
            raise ConsoleError(f"the mask is {rows}x{columns}, the images of "
                               f"{display_set.series_description!r} are not")
        if overlay.slots is not None and len(overlay.slots) != len(display_set.images):
            raise ConsoleError("the mask's slices are not the display set's images")
        if overlay.image_index is not None and not 0 <= overlay.image_index < len(
                display_set.images):
            raise ConsoleError(f"no image {overlay.image_index} to lay the mask over")
        self._overlays.setdefault(display_set.display_set_uid, []).append(overlay)

    def clear_overlays(self) -> None:
        self._overlays.clear()

    def blend(self, display_set_uid: str, image_index: int, rgba: np.ndarray) -> np.ndarray:
        """The masks over image ``image_index`` of a display set, blended into its RGBA."""
        for overlay in self._overlays.get(display_set_uid, ()):
            rgba = overlay.blend(rgba, image_index)
        return rgba

    # ------------------------------------------------------------ the DataSource protocol

    async def search_for_studies(self, *args: Any, **kwargs: Any) -> list[Dataset]:
        return []

    async def search_for_series(self, *args: Any, **kwargs: Any) -> list[Dataset]:
        return []

    async def search_for_instances(self, *args: Any, **kwargs: Any) -> list[Dataset]:
        return []

    async def retrieve_study_metadata(self, *args: Any, **kwargs: Any) -> list[Dataset]:
        return []

    async def retrieve_series_metadata(self, *args: Any, **kwargs: Any) -> list[Dataset]:
        return []

    async def retrieve_study_instances(self, *args: Any, **kwargs: Any) -> list[Instance]:
        return []

    async def retrieve_instance_frames(self, *args: Any, **kwargs: Any) -> list[Frame]:
        raise DataSourceError("the Python console's images are held decoded, not fetched")

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        return dataset

    async def store_instances(self, datasets: Sequence[Dataset]) -> None:
        raise DataSourceError("images made in the Python console are not stored anywhere")

    async def retrieve_rendered(self, *args: Any, **kwargs: Any) -> bytes:
        raise DataSourceError("the Python console renders nothing on a server")

    async def retrieve_thumbnail(self, *args: Any, **kwargs: Any) -> bytes:
        raise DataSourceError("the Python console renders nothing on a server")

    async def aclose(self) -> None:
        self._frames.clear()
        self._overlays.clear()
