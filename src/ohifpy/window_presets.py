"""Window presets a viewport offers: per modality (OHIF's CT set) and the header's windows.

The page lists them in its preset menu and binds the first five to keys 1-5, so the
order matters: the modality's fixed presets first (the same keys always mean the
same window on every CT), then the windows the image's header offers, which differ
per series and are told apart by their explanation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ohifpy.imaging import VOIWindow


@dataclass(frozen=True)
class WindowPreset:
    """A named window: ``label`` for the menu, ``center``/``width`` as WindowCenter/Width."""

    label: str
    center: float
    width: float

    def to_json(self) -> dict[str, float | str]:
        return {"label": self.label, "center": self.center, "width": self.width}


MODALITY_PRESETS: dict[str, tuple[WindowPreset, ...]] = {
    # OHIF's default CT presets (width/level in HU).
    "CT": (
        WindowPreset("Soft tissue", 40, 400),
        WindowPreset("Lung", -600, 1500),
        WindowPreset("Liver", 90, 150),
        WindowPreset("Bone", 480, 2500),
        WindowPreset("Brain", 40, 80),
    ),
}


def window_presets(modality: str, header_windows: Iterable[VOIWindow]) -> list[WindowPreset]:
    """The presets of an image: its modality's, then its header's windows.

    A header window is labelled by its WindowCenterWidthExplanation (else "Header N");
    one equal to a modality preset already listed is not repeated.
    """
    presets = list(MODALITY_PRESETS.get(modality.strip().upper(), ()))
    seen = {(p.center, p.width) for p in presets}
    for number, window in enumerate(header_windows, start=1):
        if (window.center, window.width) in seen:
            continue
        seen.add((window.center, window.width))
        label = window.explanation.strip() or f"Header {number}"
        presets.append(WindowPreset(label, window.center, window.width))
    return presets
