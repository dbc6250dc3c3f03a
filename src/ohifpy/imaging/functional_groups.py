"""Per-frame attributes of enhanced multi-frame objects (PS3.3 C.7.6.16)."""

from __future__ import annotations

from pydicom.dataset import Dataset


def frame_functional_group(ds: Dataset, frame_index: int, keyword: str) -> Dataset | None:
    """The first item of the functional group `keyword` that applies to a frame.

    The Per-Frame Functional Groups item of `frame_index` wins over the Shared
    Functional Groups item; None when neither has the group (e.g. a classic
    single-frame instance, whose attributes sit at the top level instead).
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and 0 <= frame_index < len(per_frame):
        group = per_frame[frame_index].get(keyword)
        if group:
            return group[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        group = shared[0].get(keyword)
        if group:
            return group[0]
    return None
