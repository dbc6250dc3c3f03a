"""DICOM JSON (PS3.18 Annex F) to pydicom datasets, keeping bulk data URIs resolvable.

pydicom's :meth:`~pydicom.dataset.Dataset.from_json` does the conversion (PN
groups, InlineBinary, empty elements); this module adds what a viewer needs around
it: tolerance for the shapes servers really send (one object instead of an array,
an empty body), errors that name the URL, and a record of every element whose value
stayed on the server. Those URIs are resolved against the URL of the response they
came in, so a relative ``BulkDataURI`` can still be fetched later, and kept per
dataset in ``ds.bulk_data_uris`` (``{tag: absolute URI}``; sequence items have
their own) until :func:`set_bulk_data` fills the value in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urljoin

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from .errors import DicomJSONError

__all__ = [
    "PIXEL_DATA_TAGS",
    "bulk_data_uris",
    "dataset_from_json",
    "datasets_from_json",
    "iter_bulk_data",
    "json_objects",
    "json_values",
    "set_bulk_data",
]

# Pixel data is fetched frame by frame (retrieve_instance_frames), never as bulk data.
PIXEL_DATA_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})  # Float, DoubleFloat, PixelData


def datasets_from_json(body: bytes, url: str) -> list[Dataset]:
    """Datasets of a QIDO-RS or metadata response body.

    An empty body is no datasets; a single JSON object where an array was expected
    is one dataset. ``BulkDataURI`` values are resolved against ``url``.

    Raises
    ------
    DicomJSONError
        The body is not JSON, not an array of objects, or an object is not DICOM JSON.
    """
    return [dataset_from_json(obj, url, index) for index, obj in enumerate(json_objects(body, url))]


def json_objects(body: bytes, url: str) -> list[dict[str, Any]]:
    """The DICOM JSON objects of a response body, checked for shape but not converted.

    Converting is most of the cost of a study's metadata (pydicom builds every element
    of every instance); a viewer needs a few attributes of each instance to order a
    stack (:func:`json_values`) and the whole dataset only of the images it shows.
    """
    if not body.strip():
        return []
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError; nesting too deep
        raise DicomJSONError(
            f"response is not JSON ({exc}); it starts {body[:80]!r}", url
        ) from None
    items = [obj] if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        raise DicomJSONError(f"expected a JSON array of datasets, got {type(obj).__name__}", url)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DicomJSONError(
                f"dataset {index + 1} is a JSON {type(item).__name__}, not an object", url
            )
    return items


@cache
def _json_key(keyword: str) -> str:
    """A keyword's DICOM JSON key (``00200032``): looked up 12 times per instance."""
    return f"{tag_for_keyword(keyword):08X}"


def json_values(obj: dict[str, Any], keyword: str) -> list[Any]:
    """The values of a top-level element of a DICOM JSON object ([] when absent or empty).

    A person name gives its Alphabetic group; other values are as the JSON has them
    (strings, numbers, item objects).
    """
    element = obj.get(_json_key(keyword))
    values = element.get("Value") if isinstance(element, dict) else None
    if not isinstance(values, list):
        return []
    if element.get("vr") == "PN":
        return [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in values]
    return values


def dataset_from_json(obj: Any, url: str, index: int = 0) -> Dataset:
    """One dataset from a DICOM JSON object; ``index`` places it in the response for errors."""
    if not isinstance(obj, dict):
        raise DicomJSONError(
            f"dataset {index + 1} is a JSON {type(obj).__name__}, not an object", url
        )
    try:
        ds = Dataset.from_json(_without_bulk_data(obj))
        _record_bulk_data_uris(ds, obj, url)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        # what pydicom raises for values of the wrong type (OverflowError: an infinite
        # number where an integer belongs) and for sequences nested too deep
        raise DicomJSONError(f"dataset {index + 1} is not DICOM JSON: {exc}", url) from None
    return ds


def _without_bulk_data(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with each BulkDataURI element reduced to an empty value of its VR.

    Their values are fetched later (``load_bulkdata``). Handing pydicom a bulk data
    handler instead costs an ``inspect.signature`` call per element (40% of parsing a
    200-instance series' metadata), and no handler makes it warn once per element.
    """
    out = obj
    for key, element in obj.items():
        if not isinstance(element, dict):
            continue
        if "BulkDataURI" in element:
            replacement: dict[str, Any] = {"vr": element.get("vr", "UN")}
        elif element.get("vr") == "SQ" and isinstance(element.get("Value"), list):
            items = [_without_bulk_data(i) if isinstance(i, dict) else i for i in element["Value"]]
            if all(a is b for a, b in zip(items, element["Value"], strict=True)):
                continue
            replacement = {**element, "Value": items}
        else:
            continue
        if out is obj:
            out = dict(obj)
        out[key] = replacement
    return out


def _record_bulk_data_uris(ds: Dataset, obj: dict[str, Any], base_url: str) -> None:
    uris: dict[int, str] = {}
    for key, element in obj.items():
        tag = int(key, 16)
        if "BulkDataURI" in element:
            uri = element["BulkDataURI"]
            uris[tag] = urljoin(base_url, uri[0] if isinstance(uri, list) else uri)
        elif element.get("vr") == "SQ":
            for item, item_obj in zip(ds[tag].value, element.get("Value") or [], strict=True):
                _record_bulk_data_uris(item, item_obj or {}, base_url)
    ds.bulk_data_uris = uris


def bulk_data_uris(ds: Dataset) -> dict[int, str]:
    """``{tag: absolute URI}`` of the elements of ``ds`` whose value is still on the server."""
    return getattr(ds, "bulk_data_uris", {})


def iter_bulk_data(
    ds: Dataset, skip: frozenset[int] = PIXEL_DATA_TAGS
) -> Iterator[tuple[Dataset, int, str]]:
    """``(dataset, tag, uri)`` for every unfetched element, sequence items included."""
    for tag, uri in list(bulk_data_uris(ds).items()):
        if tag not in skip:
            yield ds, tag, uri
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                yield from iter_bulk_data(item, skip)


def set_bulk_data(ds: Dataset, tag: int, data: bytes) -> None:
    """Fill in the value of element ``tag`` of ``ds`` from its fetched bulk data.

    Bulk data is the element's value field in Explicit VR Little Endian (PS3.18
    8.7.2), so pydicom's raw element conversion turns it into the value its VR
    calls for (bytes for OB/OW, a list of ints for US LUT data, ...).
    """
    element = ds[tag]
    raw = RawDataElement(Tag(tag), element.VR, len(data), data, 0, False, True)
    charset = ds.get("SpecificCharacterSet")
    element.value = convert_raw_data_element(raw, encoding=charset).value
    bulk_data_uris(ds).pop(tag, None)
