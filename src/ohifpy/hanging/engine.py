"""Which protocol and stage hang the opened studies, and what each viewport shows.

:class:`HangingProtocols` holds the built-ins and the site's protocols (the app config's
``hangingProtocols``, checked when the config loads; a site protocol replaces a built-in of
the same id, as OHIF's ``addProtocol``). :meth:`HangingProtocols.hang` follows OHIF's
HangingProtocolService:

1. The protocol: the one the URL names (``hangingProtocolId``), else the best scoring of
   the protocols matched by their rules (the site's and :data:`~.builtin.AUTO_MATCHED`) on
   the current study — ties go to the later one, so a site's protocol wins over a
   built-in — else ``default``.
2. Each stage's status: ``disabled`` when its ``passive`` activation fails (by default it
   never does), ``enabled`` when its ``enabled`` activation passes (by default: one
   viewport filled), else ``passive``.
3. The stage: the one named (``stageId``) or numbered unless disabled, else the first
   enabled, else the first not disabled. A protocol with no stage to show gives way to
   ``default``, and the notice says why.
4. The viewports: each viewport's first display set is the ``matchedDisplaySetsIndex``-th
   candidate of its selector (-1: the best not shown yet); viewports beyond those the stage
   lists take ``defaultViewport``.

An MPR stage (volume viewports: the ``mpr`` and ``primaryAxial`` protocols) is answered as
the default stack hanging with the volume's series first plus the MPR layout to enter, so
leaving MPR brings back the grid the study would have had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..model import DisplaySet, Study
from .builtin import AUTO_MATCHED, BUILTIN_PROTOCOLS, DEFAULT_ID, default_protocol
from .grid import Layout
from .matcher import Candidates
from .protocol import LayoutBox, Protocol, ProtocolError, Stage, StageActivation, ViewportSpec

__all__ = ["MPR_LAYOUTS", "HangingProtocols", "StageView"]

MPR_LAYOUTS = ("mpr", "primaryAxial")
"""The protocols whose viewports are MPR views (the page's MPR layouts)."""

ENABLED, PASSIVE, DISABLED = "enabled", "passive", "disabled"
_PAGE_OPTIONS = ("voi", "voiInverted", "flipHorizontal", "rotation", "viewportType",
                 "orientation")
"""The viewport and display-set options the page applies."""


@dataclass(frozen=True)
class _Filled:
    """A stage's viewports as its selectors fill them."""

    display_sets: tuple[DisplaySet | None, ...]
    options: tuple[dict[str, Any], ...]

    @property
    def matched(self) -> int:
        return sum(d is not None for d in self.display_sets)


@dataclass(frozen=True)
class StageView:
    """The answer the page applies: the grid, each viewport's display set and options."""

    protocol: Protocol
    stage_index: int
    statuses: tuple[str, ...]
    layout: Layout
    boxes: tuple[LayoutBox, ...] | None
    viewports: tuple[DisplaySet | None, ...]
    options: tuple[dict[str, Any], ...]
    active: int = 0
    mpr: str | None = None
    sync_scroll: bool = False
    notice: str = ""

    def step(self, direction: int) -> int | None:
        """The next (``direction`` 1) or previous (-1) stage that is not disabled, if any."""
        index = self.stage_index + direction
        while 0 <= index < len(self.statuses):
            if self.statuses[index] != DISABLED:
                return index
            index += direction
        return None

    def to_json(self) -> dict[str, Any]:
        """The hanging part of ``openViewer``'s and ``applyStage``'s answers."""
        stage = self.protocol.stages[self.stage_index]
        return {
            "layout": {"rows": self.layout.rows, "columns": self.layout.columns,
                       "layoutOptions": None if self.boxes is None
                       else [box.to_json() for box in self.boxes]},
            "viewports": [None if d is None else d.display_set_uid for d in self.viewports],
            "viewportOptions": list(self.options),
            "activeViewport": self.active,
            "protocol": {"id": self.protocol.id, "name": self.protocol.name,
                         "stageIndex": self.stage_index, "stageId": stage.id,
                         "stages": [{"id": s.id, "name": s.name, "status": status}
                                    for s, status in zip(self.protocol.stages, self.statuses)]},
            "mpr": self.mpr,
            "syncScroll": self.sync_scroll,
            "notice": self.notice,
        }


class HangingProtocols:
    """The protocols a viewer knows: the built-ins, then the site's."""

    def __init__(self, site_protocols: Sequence[Mapping[str, Any]] = ()) -> None:
        self.protocols: dict[str, Protocol] = {}
        for obj in BUILTIN_PROTOCOLS:
            protocol = Protocol.from_json(obj)
            self.protocols[protocol.id] = protocol
        site = [Protocol.from_json(obj) for obj in site_protocols]
        self.site = tuple(site_protocols)  # as the config holds them
        for protocol in site:
            volume = any(v.options.get("viewportType") == "volume"
                         for stage in protocol.stages for v in stage.viewports)
            if volume and protocol.id not in MPR_LAYOUTS:
                raise ProtocolError(f"hanging protocol {protocol.id!r}: volume viewports are "
                                    f"shown by the {' and '.join(MPR_LAYOUTS)} protocols only")
            self.protocols[protocol.id] = protocol
        self.auto = [*(p for p in AUTO_MATCHED if p in self.protocols),
                     *(p.id for p in site)]

    @classmethod
    def from_config(cls, value: Any) -> HangingProtocols:
        """From the app config's ``hangingProtocols`` (a list of OHIF protocols)."""
        if value is None:
            return cls()
        if not isinstance(value, (list, tuple)):
            raise ProtocolError("config.hangingProtocols must be a list of hanging protocols, "
                                f"not {type(value).__name__}")
        return cls(value)

    def get(self, protocol_id: str, study_count: int, preferred: Layout | None) -> Protocol | None:
        """The protocol ``protocol_id`` (``default`` made for ``study_count`` studies unless
        the site has its own), None if there is none."""
        if protocol_id == DEFAULT_ID and DEFAULT_ID not in self.protocols:
            return Protocol.from_json(default_protocol(study_count, preferred))
        return self.protocols.get(protocol_id)

    def choose(self, candidates: Candidates, preferred: Layout | None) -> Protocol:
        """The best scoring protocol of those matched by rules, else ``default``."""
        best, best_score = None, 0
        for protocol_id in self.auto:
            protocol = self.protocols[protocol_id]
            if not protocol.matching_rules:
                continue
            result = candidates.study_score(protocol.matching_rules)
            if result.matched and result.score > 0 and result.score >= best_score:
                best, best_score = protocol, result.score
        return best or self._default(candidates, preferred)

    def _default(self, candidates: Candidates, preferred: Layout | None) -> Protocol:
        protocol = self.get(DEFAULT_ID, len(candidates.studies), preferred)
        assert protocol is not None
        return protocol

    def hang(self, studies: Sequence[tuple[Study, Sequence[DisplaySet]]], *,
             protocol_id: str = "", stage_id: str = "", stage_index: int | None = None,
             initial_series_instance_uid: str = "",
             preferred: Layout | None = None) -> StageView:
        """Hang ``studies`` (current first, then priors): see the module's steps."""
        if not any(display_sets for _, display_sets in studies):
            raise ValueError("no display sets to show")
        candidates = Candidates(studies, initial_series_instance_uid)
        notices = []
        protocol = None
        if protocol_id:
            protocol = self.get(protocol_id, len(studies), preferred)
            if protocol is None:
                notices.append(f"No hanging protocol named {protocol_id!r}: the default "
                               "layout is shown.")
        protocol = protocol or self.choose(candidates, preferred)
        fills = [_fill(protocol, stage, candidates) for stage in protocol.stages]
        statuses = tuple(_status(stage, filled, protocol, candidates)
                         for stage, filled in zip(protocol.stages, fills))
        index = _pick_stage(protocol, statuses, stage_id, stage_index, notices)
        if index is None:
            notices.append(_why_not(protocol, candidates))
            fallback = self._default(candidates, preferred)
            view = self.hang(studies, protocol_id=fallback.id,
                             initial_series_instance_uid=initial_series_instance_uid,
                             preferred=preferred)
            return replace(view, notice=" ".join([*notices, view.notice]).strip())
        stage = protocol.stages[index]
        if protocol.id in MPR_LAYOUTS:
            volume = fills[index].display_sets[0]
            assert volume is not None  # a stage without it is disabled
            view = self.hang(studies, protocol_id=DEFAULT_ID, preferred=preferred,
                             initial_series_instance_uid=volume.series_instance_uid)
            return replace(view, protocol=protocol, stage_index=index, statuses=statuses,
                           mpr=protocol.id, notice=" ".join(notices))
        filled = fills[index]
        initial = initial_series_instance_uid
        active = next((i for i, d in enumerate(filled.display_sets)
                       if d is not None and initial and d.series_instance_uid == initial), 0)
        return StageView(protocol, index, statuses, Layout(stage.rows, stage.columns),
                         stage.layout_boxes, filled.display_sets, filled.options, active,
                         sync_scroll=any(v.sync_scroll for v in stage.viewports),
                         notice=" ".join(notices))


def _fill(protocol: Protocol, stage: Stage, candidates: Candidates) -> _Filled:
    """Each viewport's display set and options (see the module's step 4)."""
    active_only = protocol.number_of_priors_referenced == -1
    specs: list[ViewportSpec | None] = list(stage.viewports)
    specs += [protocol.default_viewport] * (stage.size - len(specs))
    shown: list[DisplaySet | None] = []
    options = []
    for spec in specs:
        display_set = None
        page_options: dict[str, Any] = {}
        if spec is not None:
            page_options = {k: v for k, v in spec.options.items() if k in _PAGE_OPTIONS}
        if spec is not None and spec.display_sets:
            ref = spec.display_sets[0]
            page_options.update(ref.options)
            found = candidates.select(protocol.selectors[ref.id], active_only)
            if ref.matched_index >= 0:
                if ref.matched_index < len(found):
                    display_set = found[ref.matched_index].display_set
            else:
                display_set = next((c.display_set for c in found
                                    if c.display_set not in shown), None)
        shown.append(display_set)
        options.append(page_options)
    return _Filled(tuple(shown), tuple(options))


def _activated(activation: StageActivation, default_minimum: int, filled: _Filled,
               protocol: Protocol, candidates: Candidates) -> bool:
    """OHIF's ``matchActivation``: the selectors named matched, enough viewports filled."""
    active_only = protocol.number_of_priors_referenced == -1
    if not all(candidates.select(protocol.selectors[name], active_only)
               for name in activation.selectors_matched):
        return False
    minimum = activation.min_viewports_matched
    return filled.matched >= (default_minimum if minimum is None else minimum)


def _status(stage: Stage, filled: _Filled, protocol: Protocol, candidates: Candidates) -> str:
    """``disabled``, ``passive`` or ``enabled`` (see the module's step 2)."""
    if protocol.id in MPR_LAYOUTS and filled.matched == 0:
        return DISABLED  # no volume to reformat: nothing of the stage can show
    if not _activated(stage.passive, 0, filled, protocol, candidates):
        return DISABLED
    return ENABLED if _activated(stage.enabled, 1, filled, protocol, candidates) else PASSIVE


def _pick_stage(protocol: Protocol, statuses: Sequence[str], stage_id: str,
                stage_index: int | None, notices: list[str]) -> int | None:
    """The stage to show (see the module's step 3); a stage asked for that cannot show adds
    a notice."""
    asked = None
    if stage_id:
        asked = protocol.stage_index(stage_id)
        if asked is None:
            names = ", ".join(s.id for s in protocol.stages)
            notices.append(f"{protocol.name} has no stage {stage_id!r} (it has {names}).")
    elif stage_index is not None:
        asked = stage_index if 0 <= stage_index < len(statuses) else None
    if asked is not None:
        if statuses[asked] != DISABLED:
            return asked
        notices.append(f"Stage {protocol.stages[asked].name!r} of {protocol.name} cannot "
                       "be shown with these studies.")
    if ENABLED in statuses:
        return statuses.index(ENABLED)
    return next((i for i, status in enumerate(statuses) if status != DISABLED), None)


def _why_not(protocol: Protocol, candidates: Candidates) -> str:
    """Why no stage of ``protocol`` can show: for MPR, why the series is no volume."""
    if protocol.id in MPR_LAYOUTS:
        shown = [d for _, display_sets in candidates.studies[:1] for d in display_sets]
        chosen = next((d for d in shown if d.series_instance_uid == candidates.initial),
                      next((d for d in shown if d.is_image), shown[0] if shown else None))
        if chosen is not None:
            why = chosen.reconstruction.note or "not a volume"
            return (f"{protocol.name} cannot be shown: "
                    f"{chosen.series_description or 'this series'}: {why}.")
    return f"{protocol.name} cannot be shown with these studies: the default layout is shown."
