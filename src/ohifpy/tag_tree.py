"""The DICOM tag browser's data: every element of an instance as a JSON-able tree.

Each node is ``{tag, vr, keyword, name, value, children}`` with ``tag`` as
``"(0010,0010)"`` and ``value`` always plain text: multiple values joined by ``\\``,
person names as written (all component groups), binary values as a byte count,
elements the server left as bulk data (WADO-RS metadata gives them only a
BulkDataURI) as ``(bulk data)``. A sequence's children are its items, each holding
its elements. The page shows every string with ``textContent``: a value such as
``<img src=x onerror=alert(1)>`` is returned verbatim and must never become markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydicom import DataElement, Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

from .dicomweb.dicom_json import bulk_data_uris

__all__ = ["BULK_DATA", "MAX_VALUES", "filter_tree", "tag_tree"]

BULK_DATA = "(bulk data)"
MAX_VALUES = 64
"""Values shown of a long multi-valued element (LUT data); the rest are counted."""

Node = dict[str, Any]


def tag_tree(ds: Dataset) -> list[Node]:
    """The elements of ``ds`` (file meta first, if any) in tag order, sequences nested."""
    meta = getattr(ds, "file_meta", None)
    elements = list(meta or ()) + list(ds)
    bulk = bulk_data_uris(ds)
    return [_node(element, element.tag in bulk) for element in elements]


def _node(element: DataElement, is_bulk: bool) -> Node:
    node: Node = {
        "tag": f"({element.tag.group:04X},{element.tag.element:04X})",
        "vr": element.VR,
        "keyword": element.keyword,
        "name": element.name,
        "value": BULK_DATA if is_bulk else "",
        "children": [],
    }
    if element.VR == "SQ" and not is_bulk:
        items = element.value or []
        node["value"] = f"{len(items)} item{'' if len(items) == 1 else 's'}"
        node["children"] = [_item(index, item) for index, item in enumerate(items, 1)]
    elif not is_bulk:
        node["value"] = _text(element)
    return node


def _item(index: int, item: Dataset) -> Node:
    bulk = bulk_data_uris(item)
    return {"tag": "(FFFE,E000)", "vr": "", "keyword": "Item", "name": f"Item {index}",
            "value": "", "children": [_node(e, e.tag in bulk) for e in item]}


def _text(element: DataElement) -> str:
    """An element's value as text: never markup, never the whole of a long binary value."""
    value = element.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return f"({len(value)} bytes)"
    if isinstance(value, MultiValue | list | tuple):
        shown = "\\".join(_one(element, v) for v in list(value)[:MAX_VALUES])
        more = len(value) - MAX_VALUES
        return f"{shown}\\… ({len(value)} values)" if more > 0 else shown
    return _one(element, value)


def _one(element: DataElement, value: Any) -> str:
    if element.VR == "AT" and isinstance(value, int):
        tag = BaseTag(value)
        return f"({tag.group:04X},{tag.element:04X})"
    return str(value)


def filter_tree(nodes: Iterable[Node], search: str) -> list[Node]:
    """The nodes matching ``search`` by tag or keyword, with their ancestors.

    A tag matches written ``(0010,0010)``, ``0010,0010`` or ``00100010``; keywords and
    names match case-insensitively in part. A matching sequence keeps all its items;
    an empty search keeps everything.
    """
    query = search.strip().lower()
    if not query:
        return list(nodes)
    compact = query.strip("()").replace(",", "")
    kept = []
    for node in nodes:
        tag = node["tag"].lower()
        if (query in tag or (len(compact) >= 4 and compact in tag.strip("()").replace(",", ""))
                or query in node["keyword"].lower() or query in node["name"].lower()):
            kept.append(node)
            continue
        children = filter_tree(node["children"], search)
        if children:
            kept.append({**node, "children": children})
    return kept
