"""QIDO-RS query parameters: OHIF's study-list filters and the query-string encoding.

The mapping follows OHIF's ``mapParams`` (extensions/default DicomWebDataSource
qido.js) so a server configured for OHIF answers the same: ``*value*`` wildcards on
the text filters when the source supports wildcards, ``fuzzymatching=true`` when it
supports fuzzy matching, lists joined with ``,``. Two deliberate differences: an
open date range stays open (``from-`` / ``-to``) instead of OHIF's today/1970
stand-ins, and a list of Study Instance UIDs is joined with ``,`` (PS3.18 UID list
matching) rather than ``\\``, because Orthanc 1.10 does not percent-decode ``%5C``.

Sources that cannot answer a query (a static DICOMweb tree, the user's files, a
dicomjson list) read or hold the whole list and apply the same parameters themselves
(:func:`match_static`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from ..config import DicomWebSource

__all__ = [
    "SERIES_LIST_FIELDS",
    "STUDY_LIST_FIELDS",
    "MatchingOptions",
    "StudyQuery",
    "encode_query",
    "match_static",
    "qido_params",
    "with_query",
]

# Attributes the study list shows that servers do not all return by default
# (Orthanc leaves out StudyDescription unless asked).
STUDY_LIST_FIELDS: tuple[str, ...] = (
    "00081030",  # StudyDescription
    "00080061",  # ModalitiesInStudy
    "00201206",  # NumberOfStudyRelatedSeries
    "00201208",  # NumberOfStudyRelatedInstances
    "00080090",  # ReferringPhysicianName
    "00100030",  # PatientBirthDate
)

# OHIF's seriesInStudy asks for these.
SERIES_LIST_FIELDS: tuple[str, ...] = (
    "0008103E",  # SeriesDescription
    "00080021",  # SeriesDate
)

# "minimal" keeps these literal: they are legal in a query string and must reach
# servers that do not percent-decode (Orthanc 1.10) as themselves; ``, * ^`` carry
# meaning in QIDO (lists, wildcards, PN components). ``& = + # %`` and space are
# encoded because they would change the query's structure (``;`` too: old servers
# split on it); ``'`` and ``\`` because a browser's fetch would encode them anyway
# and both transports must send the same bytes.
_MINIMAL_SAFE = "!$()*,/:?@^"

_DATE = re.compile(r"[0-9]{8}")
_UID_SEPARATORS = re.compile(r"[^0-9.]+")


class MatchingOptions(Protocol):
    """What a query needs to know of whoever matches it (a DICOMweb source's OHIF keys)."""

    @property
    def supportsWildcard(self) -> bool: ...

    @property
    def supportsFuzzyMatching(self) -> bool: ...


@dataclass(frozen=True)
class StudyQuery:
    """The study-list filters OHIF offers; empty fields do not filter.

    Dates are ``YYYYMMDD``; either end of the range may be open.
    ``study_instance_uid`` may hold several UIDs separated by anything but digits and dots.
    """

    patient_name: str = ""
    patient_id: str = ""
    accession_number: str = ""
    study_description: str = ""
    modalities_in_study: tuple[str, ...] = ()
    study_date_from: str = ""
    study_date_to: str = ""
    study_instance_uid: str = ""

    def __post_init__(self) -> None:
        modalities = self.modalities_in_study
        if isinstance(modalities, str):
            modalities = re.split(r"[,\\]", modalities)
        object.__setattr__(
            self, "modalities_in_study", tuple(m.strip() for m in modalities if m.strip())
        )
        if self.study_instance_uid and not re.search(r"[0-9]", self.study_instance_uid):
            # Dropping the filter would silently list every study.
            raise ValueError(
                f"StudyQuery.study_instance_uid has no UID: {self.study_instance_uid!r}"
            )
        for name in ("study_date_from", "study_date_to"):
            value = getattr(self, name)
            if value and not _DATE.fullmatch(value):
                raise ValueError(f"StudyQuery.{name} must be YYYYMMDD, not {value!r}")

    def to_params(self, source: MatchingOptions) -> list[tuple[str, str]]:
        """The QIDO matching parameters for ``source``, as OHIF's ``mapParams`` builds them."""

        def text(value: str) -> str:
            return f"*{value}*" if source.supportsWildcard and value else value

        params = [
            ("PatientName", text(self.patient_name)),
            ("PatientID", text(self.patient_id)),
            ("AccessionNumber", text(self.accession_number)),
            ("StudyDescription", text(self.study_description)),
            ("ModalitiesInStudy", ",".join(self.modalities_in_study)),
        ]
        if self.study_date_from or self.study_date_to:
            params.append(("StudyDate", f"{self.study_date_from}-{self.study_date_to}"))
        uids = _UID_SEPARATORS.sub(",", self.study_instance_uid).strip(",")
        params.append(("StudyInstanceUID", uids))
        if source.supportsFuzzyMatching:
            params.append(("fuzzymatching", "true"))
        return [(key, value) for key, value in params if value]


def qido_params(
    source: DicomWebSource,
    filters: Iterable[tuple[str, str]],
    *,
    fields: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[str, str]]:
    """Matching parameters plus ``includefield``, ``limit`` and ``offset``.

    ``includefield`` is sent only when the source supports it
    (``qidoSupportsIncludeField``), as one parameter whose commas the query
    encoding keeps literal where configured (Orthanc ignores a list joined by ``%2C``).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    params = list(filters)
    include = list(dict.fromkeys(fields))
    if include and source.qidoSupportsIncludeField:
        params.append(("includefield", ",".join(include)))
    if limit is not None:
        params.append(("limit", str(limit)))
    if offset:
        params.append(("offset", str(offset)))
    return params


def encode_query(params: Iterable[tuple[str, str]], encoding: str = "minimal") -> str:
    """Percent-encode ``params`` into a query string (without the ``?``).

    ``"minimal"`` leaves ``, * ^`` and the other harmless characters literal,
    ``"strict"`` encodes everything but RFC 3986 unreserved characters. Non-ASCII
    is UTF-8 then percent-encoded in both.
    """
    safe = _MINIMAL_SAFE if encoding == "minimal" else ""
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in params)


def with_query(
    url: str, params: Mapping[str, str] | Iterable[tuple[str, str]], encoding: str
) -> str:
    """``url`` with ``params`` appended as its encoded query string (if any)."""
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    return f"{url}?{encode_query(items, encoding)}" if items else url


def match_static(
    datasets: Sequence[Dataset],
    filters: Iterable[tuple[str, str]],
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Dataset]:
    """The QIDO-RS answer a server would give, computed over a static list.

    Matching follows PS3.4 C.2.2.2 as DICOMweb servers apply it: ``*``/``?``
    wildcards, ``a-b`` ranges on dates and times, ``,`` lists of UIDs, any of the
    values of a multi-valued attribute (ModalitiesInStudy), person names without
    regard to case. Parameters that are not attributes (``fuzzymatching``) are
    ignored, as a server that does not support them would.
    """
    tests = []
    for key, value in filters:
        tag = _tag(key)
        if tag is not None and value:
            tests.append((tag, dictionary_VR(tag), value))
    matched = [ds for ds in datasets if all(_matches(ds, *test) for test in tests)]
    end = None if limit is None else offset + limit
    return matched[offset:end]


def _tag(key: str) -> int | None:
    """The tag of a QIDO key (keyword or 8 hex digits), None for other parameters."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", key):
        tag = int(key, 16)
    else:
        tag = tag_for_keyword(key)
    try:
        return tag if tag is not None and dictionary_VR(tag) else None
    except KeyError:
        return None


def _matches(ds: Dataset, tag: int, vr: str, query: str) -> bool:
    values = ds[tag].value if tag in ds else None
    if values is None or isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = [values]
    texts = ["" if v is None else str(v) for v in values]
    if vr == "UI":
        wanted = set(_UID_SEPARATORS.split(query))
        return any(text in wanted for text in texts)
    if vr in ("DA", "TM", "DT") and "-" in query:
        low, high = query.split("-", 1)
        return any(
            text and (not low or text >= low) and (not high or text <= high) for text in texts
        )
    alternatives = query.split(",") if vr == "CS" else [query]
    flags = re.IGNORECASE if vr == "PN" else 0
    patterns = [re.compile(_wildcard_regex(a), flags) for a in alternatives]
    return any(p.fullmatch(text) for p in patterns for text in texts)


def _wildcard_regex(value: str) -> str:
    """A QIDO value with ``*`` and ``?`` wildcards as a regular expression."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
