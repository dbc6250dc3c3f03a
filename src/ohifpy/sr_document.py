"""An SR document as the page shows it: its header and its content tree, as text.

Any Structured Report (Basic Text, Enhanced, Comprehensive, Comprehensive 3D SR) that is
not one of the viewer's measurement reports (:mod:`ohifpy.sr`) is shown as a document: a
tree of content items, each a concept name and a value rendered as text, as OHIF's SR
text viewport shows it (``formatContentItem``). Values by value type:

========== ===================================================================
TEXT       the text, verbatim (line breaks kept)
CODE       the code's meaning (``value (scheme)`` when it has none)
NUM        the number and its unit (``12.5 mm``), or the meaning of its qualifier
           when it has no value
DATETIME   ``YYYY-MM-DD HH:MM:SS``; DATE ``YYYY-MM-DD``; TIME ``HH:MM:SS``
PNAME      the person name as stored (``Family^Given``)
UIDREF     the UID
IMAGE      no text; ``references`` name the image (SOP instance, frames)
SCOORD     graphic type and point count; ``references`` the image it is drawn on
           (its SELECTED FROM image, folded into it) with the graphic type and points
SCOORD3D   likewise, in a frame of reference (patient coordinates, mm)
COMPOSITE  the SOP class; ``references`` the instance
CONTAINER  nothing (its concept name titles its children)
========== ===================================================================

Everything here is a plain string, number or list: the page sets text with
``textContent``, so markup in a document (a hostile TEXT value) stays text. A document
of more than :data:`MAX_NODES` items, or nested deeper than :data:`MAX_DEPTH`, is shown
cut (``truncated``), never refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

from .errors import OhifpyError

__all__ = ["MAX_DEPTH", "MAX_NODES", "SRDocumentError", "content_tree", "document_header",
           "sr_document"]

MAX_NODES = 20_000
"""Content items shown of one document; the rest is left out (``truncated``)."""
MAX_DEPTH = 64
"""Nesting shown; deeper items are left out (``truncated``)."""

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(r"(\d{2})(\d{2})?(\d{2})?")


class SRDocumentError(OhifpyError, ValueError):
    """The dataset is not an SR document (no content to show)."""


def sr_document(ds: Dataset) -> dict[str, Any]:
    """The header (:func:`document_header`) and the content tree of an SR document.

    ``root`` is the document's root CONTAINER as a node (see :func:`content_tree`), its
    concept name the title; ``truncated`` says whether items were left out.
    """
    if str(ds.get("ValueType", "")) != "CONTAINER" and "ContentSequence" not in ds:
        raise SRDocumentError(f"SOP instance {ds.get('SOPInstanceUID', '')} is not an SR "
                              "document: it has no content tree")
    counter = _Counter()
    root = _node(ds, "1", 0, counter, root=True)
    return {**document_header(ds), "root": root, "truncated": counter.truncated}


def document_header(ds: Dataset) -> dict[str, Any]:
    """What an SR document says about itself, as text.

    ``title`` (the root concept's meaning), ``documentType`` (the SOP class's name),
    ``completionFlag`` (COMPLETE / PARTIAL), ``verificationFlag`` (VERIFIED /
    UNVERIFIED), ``preliminaryFlag``, ``contentDateTime``, ``observers`` (the persons
    and devices of the root's observation context, and the authors), and
    ``verifyingObservers`` (name, organization, date-time of each).
    """
    sop_class = str(ds.get("SOPClassUID", ""))
    name = UID(sop_class).name if sop_class else ""
    observers = []
    for item in _items(ds, "ContentSequence"):
        if (str(item.get("RelationshipType", "")) == "HAS OBS CONTEXT"
                and str(item.get("ValueType", "")) in ("PNAME", "TEXT")):
            concept = _concept_name(item)
            if concept in ("Person Observer Name", "Device Observer Name"):
                text = _value(item)
                if text and text not in observers:
                    observers.append(text)
    for item in _items(ds, "AuthorObserverSequence"):
        text = _text(item.get("PersonName")) or _text(item.get("DeviceObserverName"))
        if text and text not in observers:
            observers.append(text)
    return {
        "title": _concept_name(ds),
        "documentType": name.removesuffix(" Storage") if name != sop_class else sop_class,
        "completionFlag": _text(ds.get("CompletionFlag")),
        "completionFlagDescription": _text(ds.get("CompletionFlagDescription")),
        "verificationFlag": _text(ds.get("VerificationFlag")),
        "preliminaryFlag": _text(ds.get("PreliminaryFlag")),
        "contentDateTime": _date_time(_text(ds.get("ContentDate")) + _text(ds.get("ContentTime"))),
        "observers": observers,
        "verifyingObservers": [
            {"name": _text(item.get("VerifyingObserverName")),
             "organization": _text(item.get("VerifyingOrganization")),
             "dateTime": _date_time(_text(item.get("VerificationDateTime")))}
            for item in _items(ds, "VerifyingObserverSequence")
        ],
    }


def content_tree(ds: Dataset) -> list[dict[str, Any]]:
    """The nodes under the root of an SR document (the root's children).

    Each node: ``id`` (its position, ``1.2.3``, as by-reference relationships name it),
    ``conceptName``, ``valueType``, ``relationship``, ``value`` (text, see the module),
    ``children`` and ``references`` (``[{sopClassUID, sopInstanceUID, frameNumbers}]``,
    with ``graphicType`` and ``points`` for coordinates, ``frameOfReferenceUID`` for 3D
    ones); NUM nodes add ``unit``, CONTAINER nodes ``continuous``, by-reference ones
    ``referencedContentItem``.
    """
    return sr_document(ds)["root"]["children"]


class _Counter:
    def __init__(self) -> None:
        self.nodes = 0
        self.truncated = False


def _node(item: Dataset, node_id: str, depth: int, counter: _Counter,
          root: bool = False) -> dict[str, Any]:
    counter.nodes += 1
    value_type = _text(item.get("ValueType"))
    node: dict[str, Any] = {
        "id": node_id,
        "conceptName": _concept_name(item),
        "valueType": value_type,
        "relationship": "" if root else _text(item.get("RelationshipType")),
        "value": "",
        "children": [],
        "references": [],
    }
    referenced = item.get("ReferencedContentItemIdentifier")
    if referenced is not None and not value_type:
        target = ".".join(str(n) for n in _list(referenced))
        node["referencedContentItem"] = target
        node["value"] = f"content item {target}"
        return node
    node["value"] = _value(item)
    if value_type == "NUM":
        node["unit"] = _unit(item)
    elif value_type == "CONTAINER":
        node["continuous"] = _text(item.get("ContinuityOfContent")) == "CONTINUOUS"
    node["references"] = _references(item)
    children = list(_items(item, "ContentSequence"))
    if value_type == "SCOORD":
        children = _fold_selected_images(node, children)
    if children and depth + 1 > MAX_DEPTH:
        counter.truncated = True
        return node
    for index, child in enumerate(children, start=1):
        if counter.nodes >= MAX_NODES:
            counter.truncated = True
            break
        node["children"].append(_node(child, f"{node_id}.{index}", depth + 1, counter))
    return node


def _fold_selected_images(node: dict[str, Any], children: list[Dataset]) -> list[Dataset]:
    """A SCOORD's SELECTED FROM images become its references (with its graphic type and
    points); its other children stay children."""
    rest = []
    graphic = {key: node["references"][0][key] for key in ("graphicType", "points")} \
        if node["references"] else {}
    folded = []
    for child in children:
        if (_text(child.get("RelationshipType")) == "SELECTED FROM"
                and _text(child.get("ValueType")) == "IMAGE"):
            folded += [{**reference, **graphic} for reference in _references(child)]
        else:
            rest.append(child)
    if folded:
        node["references"] = folded
    return rest


def _value(item: Dataset) -> str:
    value_type = _text(item.get("ValueType"))
    if value_type == "TEXT":
        return _text(item.get("TextValue"))
    if value_type == "CODE":
        return _code_text(next(iter(_items(item, "ConceptCodeSequence")), None))
    if value_type == "NUM":
        measured = next(iter(_items(item, "MeasuredValueSequence")), None)
        if measured is None:
            qualifier = next(iter(_items(item, "NumericValueQualifierCodeSequence")), None)
            return _code_text(qualifier) if qualifier is not None else ""
        number = _number(measured.get("NumericValue"))
        unit = _unit(item)
        return f"{number} {unit}" if unit else number
    if value_type == "DATETIME":
        return _date_time(_text(item.get("DateTime")))
    if value_type == "DATE":
        return _date(_text(item.get("Date")))
    if value_type == "TIME":
        return _time(_text(item.get("Time")))
    if value_type == "PNAME":
        return _text(item.get("PersonName"))
    if value_type == "UIDREF":
        return _text(item.get("UID"))
    if value_type in ("SCOORD", "SCOORD3D"):
        count = len(_points(item, 3 if value_type == "SCOORD3D" else 2))
        return f"{_text(item.get('GraphicType'))} ({count} point{'s' * (count != 1)})"
    if value_type in ("COMPOSITE", "WAVEFORM"):
        reference = next(iter(_items(item, "ReferencedSOPSequence")), None)
        sop_class = _text(reference.get("ReferencedSOPClassUID")) if reference else ""
        return UID(sop_class).name if sop_class else ""
    if value_type == "TCOORD":
        return _text(item.get("TemporalRangeType"))
    return ""


def _number(value: Any) -> str:
    """A Numeric Value as a person writes it, the same from a file (``"12.50"``) as from
    DICOM JSON (``12.5``): ``12.5``, ``35`` (not ``35.0``); a malformed one as it is."""
    text = _text(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


def _unit(item: Dataset) -> str:
    """A NUM's unit as a person reads it: the UCUM code (``mm``) where it is one, its
    meaning where the code is a bracketed token (``[hnsf'U]``: Hounsfield unit), none for
    UCUM's ``1`` (a count or ratio)."""
    measured = next(iter(_items(item, "MeasuredValueSequence")), None)
    unit = next(iter(_items(measured, "MeasurementUnitsCodeSequence")), None) \
        if measured is not None else None
    if unit is None:
        return ""
    value, scheme = _text(unit.get("CodeValue")), _text(unit.get("CodingSchemeDesignator"))
    meaning = _text(unit.get("CodeMeaning"))
    if scheme == "UCUM" and value:
        if value == "1":
            return ""
        if not any(c in value for c in "[]{}"):
            return value
    return meaning or value


def _references(item: Dataset) -> list[dict[str, Any]]:
    value_type = _text(item.get("ValueType"))
    if value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return [{
            "sopClassUID": _text(reference.get("ReferencedSOPClassUID")),
            "sopInstanceUID": _text(reference.get("ReferencedSOPInstanceUID")),
            "frameNumbers": [int(n) for n in _list(reference.get("ReferencedFrameNumber"))
                             if _is_int(n)],
        } for reference in _items(item, "ReferencedSOPSequence")]
    if value_type == "SCOORD":
        return [{"sopClassUID": "", "sopInstanceUID": "", "frameNumbers": [],
                 "graphicType": _text(item.get("GraphicType")), "points": _points(item, 2)}]
    if value_type == "SCOORD3D":
        return [{"sopClassUID": "", "sopInstanceUID": "", "frameNumbers": [],
                 "frameOfReferenceUID": _text(item.get("ReferencedFrameOfReferenceUID")),
                 "graphicType": _text(item.get("GraphicType")), "points": _points(item, 3)}]
    return []


def _points(item: Dataset, size: int) -> list[list[float]]:
    """GraphicData as points of ``size`` coordinates; a dangling coordinate is dropped,
    as is everything after a value that is not a finite number."""
    values = []
    for value in _list(item.get("GraphicData")):
        try:
            number = float(value)
        except (TypeError, ValueError):
            break
        if not math.isfinite(number):
            break
        values.append(number)
    return [values[i:i + size] for i in range(0, len(values) - size + 1, size)]


def _concept_name(item: Dataset) -> str:
    return _code_text(next(iter(_items(item, "ConceptNameCodeSequence")), None))


def _code_text(code: Dataset | None) -> str:
    if code is None:
        return ""
    meaning = _text(code.get("CodeMeaning"))
    if meaning:
        return meaning
    value = _text(code.get("CodeValue")) or _text(code.get("LongCodeValue")) \
        or _text(code.get("URNCodeValue"))
    scheme = _text(code.get("CodingSchemeDesignator"))
    return f"{value} ({scheme})" if value and scheme else value


def _date(text: str) -> str:
    match = _DATE.match(text.strip())
    return "-".join(match.groups()) if match else text


def _time(text: str) -> str:
    text = text.strip()
    match = _TIME.match(text)
    if not match or not text[:2].isdigit():
        return text
    return ":".join(part for part in match.groups() if part)


def _date_time(text: str) -> str:
    """``YYYYMMDDHHMMSS[.F][&ZZXX]`` as ``YYYY-MM-DD HH:MM:SS``; a bad value as it is."""
    text = text.strip()
    if not _DATE.match(text):
        return text
    date, time = _date(text[:8]), _time(re.split(r"[.+-]", text[8:], maxsplit=1)[0])
    return f"{date} {time}".strip()


def _text(value: Any) -> str:
    """A value as one plain string ('' for none); several values joined by ``\\``."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


def _items(ds: Dataset | None, keyword: str) -> list[Dataset]:
    """The items of a sequence; nothing when it is absent, empty or not a sequence."""
    if ds is None:
        return []
    value = ds.get(keyword)
    if value is None or isinstance(value, (str, bytes)):
        return []
    try:
        return [item for item in value if isinstance(item, Dataset)]
    except TypeError:
        return []
