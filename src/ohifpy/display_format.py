"""DICOM values as readers read them: names, dates, times, ages and sexes, as plain text.

Names follow OHIF's ``formatPN`` (``Family, Given Middle``), with the prefix before the
given names and the suffix after a comma (``Doe, Dr. John A, Jr.``: OHIF appends both
after the middle name, ``Doe, John A Dr. Jr.``). A name written in several groups
(``Yamada^Tarou=山田^太郎=やまだ^たろう``: alphabetic, ideographic, phonetic) shows its
first group, then the next in parentheses: ``Yamada, Tarou (山田 太郎)``; ideographic and
phonetic groups read family name first, without a comma.

Dates are OHIF's English ``DD-MMM-YYYY`` (``05-Jan-2024``, its ``Common:localDateFormat``),
times ``HH:mm`` on a 24-hour clock. The ``*_iso`` functions give the same moments as ISO
8601 (``2024-01-05``, ``14:30:52``) for a page that formats with the browser's locale
(``Intl.DateTimeFormat``), or ``""`` when the value is malformed. A malformed value is
shown as it is: an unreadable date is still the scanner's evidence, not an empty cell.

Ages (AS) and ``PatientSex`` are spelled out (``45 years``, ``Female``); OHIF 3 shows the
raw codes (its header shows ``F``; no age), which read as a developer's tool.

Every text is plain: control characters (a newline in a name) become spaces, nothing is
escaped, because the page sets texts as ``textContent``.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

__all__ = [
    "age_text",
    "date_iso",
    "date_text",
    "datetime_iso",
    "datetime_text",
    "person_name",
    "sex_text",
    "time_iso",
    "time_text",
    "value_text",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SEXES = {"M": "Male", "F": "Female", "O": "Other"}
"""PatientSex (0010,0040) codes, PS3.3 C.7.1.1."""
AGE_UNITS = {"D": "day", "W": "week", "M": "month", "Y": "year"}
"""The unit letters of an AS value (PS3.5 6.2)."""

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})|(\d{4})\.(\d{2})\.(\d{2})")  # DA; ACR-NEMA's dots
_TIME = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.\d{1,6})?)?)?")  # TM; old colons
_DATETIME = re.compile(r"(\d{8})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?([+-]\d{4})?")
_AGE = re.compile(r"(\d{3})([DWMY])")
_MAX_COMPONENTS = 5  # family, given, middle, prefix, suffix
_FLOAT_VRS = frozenset({"DS", "FD", "FL"})
_INTEGER_VRS = frozenset({"IS", "SL", "SS", "SV", "UL", "US", "UV"})


def _plain(text: str) -> str:
    """One line of text: control characters become spaces, runs of spaces one."""
    spaced = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(spaced.split())


def person_name(value: str | PersonName | None) -> str:
    """``Family, Prefix Given Middle, Suffix``, then the next written group in parentheses."""
    if not value:
        return ""
    groups = value.components if isinstance(value, PersonName) else PersonName(value).components
    texts = [_group(group, first=index == 0) for index, group in enumerate(groups[:3])]
    shown = list(dict.fromkeys(t for t in texts if t))  # the phonetic may repeat one
    if not shown:
        return ""
    return f"{shown[0]} ({shown[1]})" if len(shown) > 1 else shown[0]


def _group(group: str, first: bool) -> str:
    parts = [_plain(part) for part in group.split("^")]
    if len(parts) > _MAX_COMPONENTS:  # not a DICOM name: its words in their order
        return " ".join(p for p in parts if p)
    name = PersonName("^".join(parts))
    family, given, middle = name.family_name, name.given_name, name.middle_name
    prefix, suffix = name.name_prefix, name.name_suffix
    if not first:  # ideographic and phonetic names read family first, without commas
        return " ".join(p for p in (prefix, family, given, middle, suffix) if p)
    given_names = " ".join(p for p in (prefix, given, middle) if p)
    return ", ".join(p for p in (family, given_names, suffix) if p)


def _date(value: str) -> datetime.date | None:
    match = _DATE.fullmatch(value.strip())
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups() if g is not None)
    try:
        return datetime.date(year, month, day)
    except ValueError:  # month 13, February 30, year 0
        return None


def _time(value: str) -> tuple[int, int, int] | None:
    match = _TIME.fullmatch(value.strip())
    if not match:
        return None
    hour, minute, second = (int(g or 0) for g in match.groups())
    return (hour, minute, second) if hour < 24 and minute < 60 and second <= 60 else None


def date_text(value: str) -> str:
    """A DA value as ``05-Jan-2024``; a malformed one as it is."""
    day = _date(value)
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year:04d}" if day else _plain(value)


def date_iso(value: str) -> str:
    """A DA value as ``2024-01-05``, or ``""`` when malformed."""
    day = _date(value)
    return day.isoformat() if day else ""


def time_text(value: str) -> str:
    """A TM value as ``14:30``; a malformed one as it is."""
    clock = _time(value)
    return f"{clock[0]:02d}:{clock[1]:02d}" if clock else _plain(value)


def time_iso(value: str) -> str:
    """A TM value as ``14:30:52`` (fractions dropped; a leap second as 59, which browsers
    parse), or ``""`` when malformed."""
    clock = _time(value)
    return f"{clock[0]:02d}:{clock[1]:02d}:{min(clock[2], 59):02d}" if clock else ""


def _datetime(value: str) -> tuple[str, str, str] | None:
    """A DT value's date, time and offset, each checked; at least a whole date."""
    match = _DATETIME.fullmatch(value.strip())
    if not match or not date_iso(match[1]) or (match[2] and not time_iso(match[2])):
        return None
    return match[1], match[2] or "", match[3] or ""


def datetime_text(value: str) -> str:
    """A DT value as ``05-Jan-2024 14:30``; a malformed or partial one as it is."""
    parts = _datetime(value)
    if not parts:
        return _plain(value)
    day, clock, _ = parts
    return f"{date_text(day)} {time_text(clock)}" if clock else date_text(day)


def datetime_iso(value: str) -> str:
    """A DT value as ``2024-01-05T14:30:52+01:00``, or ``""`` when malformed or partial."""
    parts = _datetime(value)
    if not parts:
        return ""
    day, clock, offset = parts
    zone = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{date_iso(day)}T{time_iso(clock)}{zone}" if clock else date_iso(day)


def age_text(value: str) -> str:
    """An AS value as ``45 years`` or ``1 month``; a malformed one as it is."""
    match = _AGE.fullmatch(value.strip())
    if not match:
        return _plain(value)
    count, unit = int(match[1]), AGE_UNITS[match[2]]
    return f"{count} {unit if count == 1 else unit + 's'}"


def sex_text(value: str) -> str:
    """A PatientSex code spelled out (``F``: ``Female``); another value as it is."""
    return SEXES.get(value.strip(), _plain(value))


def _number(value: Any, vr: str) -> str:
    try:
        if vr in _INTEGER_VRS:
            return str(int(value))
        text = f"{float(value):.2f}".rstrip("0").rstrip(".")  # slice location: 2 decimals
    except (TypeError, ValueError):  # a malformed DS or IS string
        return _plain(str(value))
    return "0" if text == "-0" else text


_TEXTS: dict[str, Callable[[Any], str]] = {"PN": person_name, "DA": date_text, "TM": time_text,
                                           "DT": datetime_text, "AS": age_text}
_ISOS: dict[str, Callable[[str], str]] = {"DA": date_iso, "TM": time_iso, "DT": datetime_iso}


def value_text(value: Any, vr: str, keyword: str = "") -> tuple[str, str]:
    """A data element's value as ``(text, iso)``, formatted by its VR: several values
    joined by ``, ``; ``iso`` only for one DA, TM or DT value. ``("", "")`` when empty."""
    values = [v for v in (value if isinstance(value, (list, MultiValue)) else [value])
              if v is not None and v != ""]
    if not values:
        return "", ""
    if keyword == "PatientSex":
        texts = [sex_text(str(v)) for v in values]
    elif vr in _TEXTS:
        texts = [_TEXTS[vr](v if vr == "PN" else str(v)) for v in values]
    elif vr in _FLOAT_VRS | _INTEGER_VRS:
        texts = [_number(v, vr) for v in values]
    else:
        texts = [_plain(str(v)) for v in values]
    iso = _ISOS[vr](str(values[0])) if vr in _ISOS and len(values) == 1 else ""
    return ", ".join(t for t in texts if t), iso
