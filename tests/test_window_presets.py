"""Window presets: OHIF's CT set first (keys 1-5), then the header's windows."""

from __future__ import annotations

from ohifpy.imaging import VOIWindow
from ohifpy.window_presets import window_presets


def test_ct_gets_ohifs_five_presets_in_key_order() -> None:
    presets = [(p.label, p.width, p.center) for p in window_presets("CT", [])]
    assert presets == [("Soft tissue", 400, 40), ("Lung", 1500, -600), ("Liver", 150, 90),
                       ("Bone", 2500, 480), ("Brain", 80, 40)]


def test_header_windows_follow_with_their_explanation_and_are_not_repeated() -> None:
    header = [VOIWindow(40, 400, explanation="SOFT TISSUE"),  # the same as "Soft tissue"
              VOIWindow(300, 1200, explanation="MEDIASTINUM"), VOIWindow(10, 20)]
    presets = window_presets("ct", header)
    assert [p.label for p in presets[5:]] == ["MEDIASTINUM", "Header 3"]
    assert presets[5].to_json() == {"label": "MEDIASTINUM", "center": 300.0, "width": 1200.0}


def test_other_modalities_offer_their_header_windows_only() -> None:
    assert [p.to_json() for p in window_presets("XA", [VOIWindow(512, 1024)])] == [
        {"label": "Header 1", "center": 512.0, "width": 1024.0}]
    assert window_presets("MR", []) == []
