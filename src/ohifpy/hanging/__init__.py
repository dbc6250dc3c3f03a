"""Hanging protocols: which display set shows in which viewport, and the patient's priors.

:mod:`.grid` (the layout the picker and the saved preference use), :mod:`.protocol` (OHIF's
protocol JSON, checked), :mod:`.constraints` (the rule operators), :mod:`.matcher` (scoring
studies and display sets), :mod:`.builtin` (the protocols that ship), :mod:`.engine`
(choosing the protocol and stage and filling the viewports) and :mod:`.priors` (the study
browser's Primary / Recent / All tabs). Everything decides in Python; the page applies.
"""

from .engine import MPR_LAYOUTS, HangingProtocols, StageView
from .grid import MAX_COLUMNS, MAX_ROWS, Layout
from .priors import study_tabs
from .protocol import Protocol, ProtocolError

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "MPR_LAYOUTS", "HangingProtocols", "Layout", "Protocol",
           "ProtocolError", "StageView", "study_tabs"]
