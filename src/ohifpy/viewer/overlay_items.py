"""The viewport overlay's corners, set by a site in OHIF's customization shape.

OHIF 3 (``CustomizableViewportOverlay.tsx``) reads the customizations
``viewportOverlay.topLeft``, ``.topRight``, ``.bottomLeft`` and ``.bottomRight``: lists of
items ``{id, inheritsFrom, label, title, attribute}`` (``customizationType`` in OHIF
before 3.9). A site changes them in its app config's ``customizationService`` with
OHIF's commands::

    "customizationService": [
      {"viewportOverlay.topRight": {"$push": [
        {"id": "SliceLocation", "inheritsFrom": "ohif.overlayItem",
         "attribute": "SliceLocation", "label": "Loc:", "title": "Slice location"}]}},
      {"viewportOverlay.bottomLeft": {"$set": [
        {"id": "WindowLevel", "inheritsFrom": "ohif.overlayItem.windowLevel"}]}}
    ]

``$set`` replaces a corner's items (so does a bare list, OHIF's older form), ``$push``
appends, ``$splice`` (``[[start, deleteCount, ...items]]``) removes and inserts. The
default corners are today's overlay (:data:`DEFAULT_CUSTOMIZATION`).

Item types: ``ohif.overlayItem`` shows a DICOM attribute of the image's instance,
formatted by its VR (:func:`ohifpy.display_format.value_text`: names, dates, ages,
sexes as readers read them; OHIF shows the raw value unless a ``contentF`` formats it);
``ohif.overlayItem.windowLevel``, ``.zoomLevel`` and ``.instanceNumber``, and our
``ohifpy.overlayItem.frameRate``, show the viewport's live state, so they go to the page
as placeholders it fills. OHIF's ``condition`` and ``contentF`` are JavaScript functions,
which a JSON config cannot hold: an item with one is an error, as is any unknown key or
type (a misspelt key that silently does nothing is the worst way for a site's overlay to
fail); ``color``, ``background`` and ``className`` are accepted and left to the page's
styles. Customizations other than ``viewportOverlay.*`` configure what this viewer does
not have, and are ignored. Every error names the key path
(``config.customizationService[0]['viewportOverlay.topLeft'].$push[1].attribute``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_description, dictionary_VR, tag_for_keyword

from ..config import ConfigError
from ..display_format import value_text

__all__ = ["CORNERS", "DEFAULT_CUSTOMIZATION", "DEFAULT_OVERLAY", "ITEM_KINDS", "OverlayItem",
           "ViewportOverlay"]

CORNERS = ("topLeft", "topRight", "bottomLeft", "bottomRight")
ITEM_KINDS = {
    "ohif.overlayItem": "attribute",
    "ohif.overlayItem.windowLevel": "windowLevel",
    "ohif.overlayItem.zoomLevel": "zoomLevel",
    "ohif.overlayItem.instanceNumber": "instanceNumber",
    "ohifpy.overlayItem.frameRate": "frameRate",
}
"""OHIF's item types (``inheritsFrom``) and the ``kind`` the page gets for each."""
LIVE_TITLES = {"windowLevel": "Window / level", "zoomLevel": "Zoom",
               "instanceNumber": "Image number", "frameRate": "Frame rate"}
"""Tooltips of the items the page fills, when the config gives none."""
_ITEM_KEYS = {"id", "inheritsFrom", "customizationType", "label", "title", "attribute"}
_STYLE_KEYS = {"color", "background", "className"}
_FUNCTION_KEYS = ("condition", "contentF")
_NOT_TEXT_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UN"}

DEFAULT_CUSTOMIZATION: dict[str, list[dict[str, str]]] = {
    "viewportOverlay.topLeft": [
        {"id": "PatientName", "inheritsFrom": "ohif.overlayItem", "attribute": "PatientName",
         "title": "Patient name"},
        {"id": "PatientID", "inheritsFrom": "ohif.overlayItem", "attribute": "PatientID",
         "title": "Patient ID"},
        {"id": "StudyDate", "inheritsFrom": "ohif.overlayItem", "attribute": "StudyDate",
         "title": "Study date"},
        {"id": "StudyDescription", "inheritsFrom": "ohif.overlayItem",
         "attribute": "StudyDescription", "title": "Study description"},
    ],
    "viewportOverlay.topRight": [
        {"id": "SeriesDescription", "inheritsFrom": "ohif.overlayItem",
         "attribute": "SeriesDescription", "title": "Series description"},
        {"id": "SeriesNumber", "inheritsFrom": "ohif.overlayItem", "attribute": "SeriesNumber",
         "label": "Se:", "title": "Series number"},
        {"id": "Modality", "inheritsFrom": "ohif.overlayItem", "attribute": "Modality",
         "title": "Modality"},
    ],
    "viewportOverlay.bottomLeft": [
        {"id": "InstanceNumber", "inheritsFrom": "ohif.overlayItem.instanceNumber"},
    ],
    "viewportOverlay.bottomRight": [
        {"id": "WindowLevel", "inheritsFrom": "ohif.overlayItem.windowLevel"},
        {"id": "ZoomLevel", "inheritsFrom": "ohif.overlayItem.zoomLevel"},
    ],
}
"""Today's overlay in OHIF's shape (OHIF's own default puts window/level and zoom bottom
left and the instance number bottom right, and shows study date, series time and series
description top left)."""


def _fail(path: str, message: str) -> ConfigError:
    return ConfigError(f"config.customizationService{path}: {message}")


def _string(value: Any, path: str, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(path, f"must be a {'non-empty ' if required else ''}string, not {value!r}")
    return value


@dataclass(frozen=True)
class OverlayItem:
    """One line of a corner: an attribute of the image's instance (``kind`` ``attribute``)
    or a placeholder for the viewport's live state (the other :data:`ITEM_KINDS`)."""

    id: str
    kind: str
    label: str = ""
    title: str = ""
    attribute: str = ""

    @classmethod
    def read(cls, value: Any, path: str) -> OverlayItem:
        """An OHIF overlay item from the config's JSON; errors name ``path``'s key."""
        if not isinstance(value, Mapping):
            raise _fail(path, f"must be an object, not {type(value).__name__}")
        for key in _FUNCTION_KEYS:
            if key in value:
                raise _fail(f"{path}.{key}", "is a JavaScript function in OHIF's config, which "
                                             "a JSON config cannot hold: show an attribute")
        unknown = sorted(set(value) - _ITEM_KEYS - _STYLE_KEYS)
        if unknown:
            raise _fail(f"{path}.{unknown[0]}",
                        f"unknown key (known: {', '.join(sorted(_ITEM_KEYS))})")
        types = [value[key] for key in ("inheritsFrom", "customizationType") if key in value]
        if len(types) == 2 and types[0] != types[1]:
            raise _fail(f"{path}.inheritsFrom", "differs from customizationType, its older name")
        type_name = types[0] if types else None
        if not isinstance(type_name, str) or type_name not in ITEM_KINDS:
            raise _fail(f"{path}.inheritsFrom", f"must be one of {', '.join(ITEM_KINDS)}, "
                                                f"not {type_name!r}")
        kind = ITEM_KINDS[type_name]
        item_id = _string(value.get("id"), f"{path}.id", required=True)
        label = _string(value.get("label", ""), f"{path}.label")
        title = _string(value.get("title", ""), f"{path}.title")
        if kind != "attribute":
            if "attribute" in value:
                raise _fail(f"{path}.attribute", f"only ohif.overlayItem shows an attribute; "
                                                 f"{type_name} shows the viewport's state")
            return cls(item_id, kind, label, title or LIVE_TITLES[kind])
        attribute = _string(value.get("attribute"), f"{path}.attribute", required=True)
        tag = tag_for_keyword(attribute)
        if tag is None:
            raise _fail(f"{path}.attribute", f"{attribute!r} is not a DICOM keyword "
                                             "(e.g. PatientName, SliceLocation)")
        vr = dictionary_VR(tag)
        if set(vr.split(" or ")) & _NOT_TEXT_VRS:
            raise _fail(f"{path}.attribute", f"{attribute} (VR {vr}) cannot be shown as text")
        return cls(item_id, kind, label, title or dictionary_description(tag), attribute)

    def to_json(self, ds: Dataset) -> dict[str, Any] | None:
        """The item for the page: a placeholder ``{id, kind, label, title}``, or for an
        attribute also ``attribute``, ``text`` and ``iso`` (see
        :func:`~ohifpy.display_format.value_text`); None when the instance has no value."""
        shown = {"id": self.id, "kind": self.kind, "label": self.label, "title": self.title}
        if self.kind != "attribute":
            return shown
        if self.attribute not in ds:
            return None
        element = ds[self.attribute]  # the element, with the VR this instance gives it
        if element.VR in _NOT_TEXT_VRS:
            return None
        text, iso = value_text(element.value, element.VR, self.attribute)
        return {**shown, "attribute": self.attribute, "text": text, "iso": iso} if text else None


def _items(value: Any, path: str) -> list[OverlayItem]:
    if not isinstance(value, list):
        raise _fail(path, f"must be a list of overlay items, not {type(value).__name__}")
    return [OverlayItem.read(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _splice(items: list[OverlayItem], splices: Any, path: str) -> list[OverlayItem]:
    """immutability-helper's ``$splice``: each ``[start, deleteCount, ...items]`` in turn."""
    if not isinstance(splices, list):
        raise _fail(path, f"must be a list of [start, deleteCount, ...items], not {splices!r}")
    result = list(items)
    for i, splice in enumerate(splices):
        if (not isinstance(splice, list) or len(splice) < 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in splice[:2])
                or splice[1] < 0):
            raise _fail(f"{path}[{i}]", f"must be [start, deleteCount, ...items] with integers "
                                        f"(deleteCount 0 or more), not {splice!r}")
        start = min(splice[0] if splice[0] >= 0 else max(len(result) + splice[0], 0), len(result))
        result[start:start + splice[1]] = _items(splice[2:], f"{path}[{i}][2:]")
    return result


def _apply(items: list[OverlayItem], change: Any, path: str) -> list[OverlayItem]:
    """A corner's items after one customization: a list (replaces) or one command."""
    if isinstance(change, list):
        return _items(change, path)
    if not isinstance(change, Mapping) or len(change) != 1:
        raise _fail(path, "must be a list of overlay items or one command: {\"$set\": [...]}, "
                          "{\"$push\": [...]} or {\"$splice\": [[start, deleteCount, ...]]}")
    ((command, argument),) = change.items()
    where = f"{path}.{command}"
    if command == "$set":
        return _items(argument, where)
    if command == "$push":
        return [*items, *_items(argument, where)]
    if command == "$splice":
        return _splice(items, argument, where)
    raise _fail(where, "unknown command (a JSON config can use $set, $push and $splice)")


@dataclass(frozen=True)
class ViewportOverlay:
    """The items of each corner, top to bottom."""

    topLeft: tuple[OverlayItem, ...] = ()
    topRight: tuple[OverlayItem, ...] = ()
    bottomLeft: tuple[OverlayItem, ...] = ()
    bottomRight: tuple[OverlayItem, ...] = ()

    @classmethod
    def from_config(cls, customizations: Any) -> ViewportOverlay:
        """The default overlay changed by an app config's ``customizationService`` (OHIF's
        list of objects, or one object), in order."""
        entries = ([("", customizations)] if isinstance(customizations, Mapping) else
                   [(f"[{i}]", entry) for i, entry in enumerate(customizations)]
                   if isinstance(customizations, (list, tuple)) else None)
        if entries is None:
            raise _fail("", f"must be a list of customization objects (OHIF's), not "
                            f"{type(customizations).__name__}")
        corners = {corner: list(getattr(DEFAULT_OVERLAY, corner)) for corner in CORNERS}
        for path, entry in entries:
            if not isinstance(entry, Mapping):
                raise _fail(path, f"must be an object of customizations, not {entry!r}")
            for key, change in entry.items():
                if not str(key).startswith("viewportOverlay."):
                    continue  # OHIF customizes much this viewer does not have
                corner = str(key).removeprefix("viewportOverlay.")
                if corner not in CORNERS:
                    raise _fail(path, f"{key!r} is not one of the overlay's corners "
                                      f"(viewportOverlay.{', viewportOverlay.'.join(CORNERS)})")
                corners[corner] = _apply(corners[corner], change, f"{path}[{key!r}]")
        for corner, items in corners.items():
            ids = [item.id for item in items]
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise _fail("", f"viewportOverlay.{corner} has two items with id {twice[0]!r}")
        return cls(**{corner: tuple(items) for corner, items in corners.items()})

    def corners(self, ds: Dataset) -> dict[str, list[dict[str, Any]]]:
        """Each corner's items for an image whose instance is ``ds`` (items with no value
        left out), as :meth:`OverlayItem.to_json` gives them."""
        return {corner: [shown for item in getattr(self, corner)
                         if (shown := item.to_json(ds)) is not None] for corner in CORNERS}


DEFAULT_OVERLAY = ViewportOverlay(**{
    corner: tuple(_items(DEFAULT_CUSTOMIZATION[f"viewportOverlay.{corner}"], ""))
    for corner in CORNERS})
"""The overlay of a config without ``viewportOverlay`` customizations."""
