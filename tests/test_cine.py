"""Cine frame rate from the header, in OHIF's order of preference."""

from __future__ import annotations

import pytest
from pydicom import Dataset

from ohifpy.cine import cine_frame_rate


def dataset(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(("values", "rate"), [
    ({"RecommendedDisplayFrameRate": 15, "CineRate": 30, "FrameTime": 10}, 15.0),
    ({"CineRate": 30, "FrameTime": 10}, 30.0),
    ({"FrameTime": 40}, 25.0),
    ({"RecommendedDisplayFrameRate": 0, "FrameTime": "50"}, 20.0),
    ({}, None),
    ({"FrameTime": 0}, None),
])
def test_cine_frame_rate(values: dict[str, object], rate: float | None) -> None:
    assert cine_frame_rate(dataset(**values)) == rate
