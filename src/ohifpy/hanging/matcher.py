"""Scoring studies and display sets against a protocol's rules, as OHIF's HPMatcher.

A rule reads one attribute (see :class:`Candidates.read`) and tests it with its constraint
(:mod:`.constraints`); passing adds its ``weight``, failing a ``required`` rule rules the
candidate out whatever else passed. Attributes are DICOM keywords read from the first
instance (``SeriesDescription``, ``ViewPosition``, ``StudyDate``...) or OHIF's custom ones:

study (and protocol) rules
    ``ModalitiesInStudy`` (the study's display sets' modalities when the metadata has
    none), ``NumberOfStudyRelatedSeries``, ``numberOfDisplaySetsWithImages``,
    ``StudyInstanceUID`` and every header field of the study.
series rules
    ``numImageFrames`` (images of a stack, 0 for what is no stack), ``isReconstructable``,
    ``isDisplaySetFromUrl`` (the URL's ``initialSeriesInstanceUID``),
    ``NumberOfSeriesRelatedInstances``, ``ModalitiesInStudy`` of its study.
``from``
    ``current`` / ``prior``: the URL's first / second study; ``instance``: the display set's
    first instance; ``options``: ``studyInstanceUIDsIndex`` (which study of the URL a
    candidate belongs to).

Candidates for a selector are ordered as OHIF orders them: score first, then the study's
place in the URL, then (our tie-break, where OHIF has series number) image stacks before
documents before overlays, then panel order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from ..model import DisplaySet, Instance, Study
from .constraints import check
from .protocol import DisplaySetSelector, Rule

__all__ = ["Candidate", "Candidates", "Score", "instance_attribute", "score"]

KIND_RANK = {"image": 0, "video": 1, "pdf": 1, "sr": 1}
"""Which kinds hang first among candidates that score alike; others (seg, rtstruct) last."""


@dataclass(frozen=True)
class Score:
    """A match's score, whether a required rule failed, and why each failing rule failed."""

    score: int
    required_failed: bool
    failed: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return not self.required_failed


def score(rules: Sequence[Rule], read: Callable[[Rule], Any]) -> Score:
    """Sum the weights of the rules ``read`` values pass (OHIF: 0 once a required one fails)."""
    total, required_failed, failed = 0, False, []
    for rule in rules:
        reason = check(rule.attribute, read(rule), rule.constraint)
        if reason is None:
            total += rule.weight
        else:
            failed.append(reason)
            required_failed = required_failed or rule.required
    return Score(0 if required_failed else total, required_failed, tuple(failed))


@cache
def _tag(keyword: str) -> str | None:
    tag = tag_for_keyword(keyword)
    return None if tag is None else f"{tag:08X}"


def _plain(value: Any) -> Any:
    """A pydicom or DICOM JSON value as OHIF's naturalised metadata holds it: one value
    bare, several as a list, person names as their alphabetic text."""
    if isinstance(value, (list, tuple, MultiValue)):
        values = [_plain(v) for v in value]
        return None if not values else values[0] if len(values) == 1 else values
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, dict):  # a PN of DICOM JSON
        return value.get("Alphabetic", "")
    return value


def instance_attribute(instance: Instance, keyword: str) -> Any:
    """The attribute ``keyword`` of an instance's metadata (None when absent or unknown),
    read from its DICOM JSON when it has one (no dataset is built for matching)."""
    tag = _tag(keyword)
    if tag is None:
        return None
    if instance.json is not None:
        element = instance.json.get(tag)
        if not isinstance(element, dict) or dictionary_VR(int(tag, 16)) == "SQ":
            return None
        return _plain(element.get("Value"))
    value = instance.metadata.get(keyword)
    if value is None or dictionary_VR(int(tag, 16)) == "SQ":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if not float(value).is_integer() else int(value)
    return _plain(value)


@dataclass(frozen=True)
class Candidate:
    """A display set a selector may hang, with its total (study + series) score."""

    display_set: DisplaySet
    study_index: int
    score: int
    order: tuple[int, int, int, int]


class Candidates:
    """The opened studies (the URL's order: current first, then priors), read by rules."""

    def __init__(self, studies: Sequence[tuple[Study, Sequence[DisplaySet]]],
                 initial_series_instance_uid: str = "") -> None:
        self.studies = [(study, tuple(display_sets)) for study, display_sets in studies]
        self.initial = initial_series_instance_uid
        self._selected: dict[tuple[str, bool], tuple[Candidate, ...]] = {}

    def study_value(self, index: int, attribute: str) -> Any:
        """A study-level attribute of the URL's ``index``-th study (None past the last)."""
        if not 0 <= index < len(self.studies):
            return None
        study, display_sets = self.studies[index]
        if attribute == "ModalitiesInStudy":
            return list(study.modalities_in_study) or list(dict.fromkeys(
                d.modality for d in display_sets if d.modality))
        if attribute == "NumberOfStudyRelatedSeries":
            return study.number_of_series or len({d.series_instance_uid for d in display_sets})
        if attribute == "numberOfDisplaySetsWithImages":
            return sum(1 for d in display_sets if d.is_image)
        if attribute == "StudyInstanceUID":
            return study.study_instance_uid
        if not display_sets:
            return None
        return instance_attribute(display_sets[0].instance, attribute)

    def series_value(self, display_set: DisplaySet, index: int, attribute: str) -> Any:
        """A display set's attribute (custom ones first, as OHIF's matcher reads them)."""
        if attribute == "numImageFrames":
            return len(display_set.images) if display_set.is_image else 0
        if attribute == "isReconstructable":
            return display_set.is_reconstructable
        if attribute == "isDisplaySetFromUrl":
            return bool(self.initial) and display_set.series_instance_uid == self.initial
        if attribute == "NumberOfSeriesRelatedInstances":
            return len(display_set.instances)
        if attribute == "ModalitiesInStudy":
            return self.study_value(index, attribute)
        if attribute == "SeriesDescription":
            return display_set.series_description
        if attribute == "Modality":
            return display_set.modality
        if attribute == "SeriesNumber":
            return display_set.series_number
        return instance_attribute(display_set.instance, attribute)

    def read(self, rule: Rule, index: int, display_set: DisplaySet | None = None) -> Any:
        """What ``rule`` tests for study ``index`` (and ``display_set``, for series rules)."""
        if rule.source == "options":
            return {"studyInstanceUIDsIndex": index,
                    "numberOfStudies": len(self.studies)}.get(rule.attribute)
        if rule.source in ("current", "prior"):
            return self.study_value(0 if rule.source == "current" else 1, rule.attribute)
        if display_set is None:
            return self.study_value(index, rule.attribute)
        if rule.source == "instance":
            return instance_attribute(display_set.instance, rule.attribute)
        return self.series_value(display_set, index, rule.attribute)

    def study_score(self, rules: Sequence[Rule], index: int = 0) -> Score:
        """How the URL's ``index``-th study scores on study (or protocol) rules."""
        return score(rules, lambda rule: self.read(rule, index))

    def select(self, selector: DisplaySetSelector, active_only: bool = False) -> tuple[Candidate, ...]:
        """Every display set ``selector`` may hang, best first (see the module's order);
        ``active_only`` (``numberOfPriorsReferenced`` -1) looks at the current study alone."""
        key = (selector.id, active_only)
        if key not in self._selected:
            found = []
            for index, (_, display_sets) in enumerate(self.studies):
                if active_only and index:
                    break
                study = self.study_score(selector.study_rules, index)
                if not study.matched:
                    continue
                for position, display_set in enumerate(display_sets):
                    series = score(selector.series_rules,
                                   partial(self.read, index=index, display_set=display_set))
                    if series.matched:
                        total = study.score + series.score
                        found.append(Candidate(display_set, index, total, (
                            -total, index, KIND_RANK.get(display_set.kind, 2), position)))
            self._selected[key] = tuple(sorted(found, key=lambda c: c.order))
        return self._selected[key]
