"""Modality LUT stage (PS3.3 C.11.1): stored values -> modality values (HU, SUV counts, ...)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from ohifpy.imaging.functional_groups import frame_functional_group
from ohifpy.imaging.lut import LookupTable, is_little_endian


@dataclass(frozen=True, eq=False)
class ModalityTransform:
    """Either a linear rescale or a Modality LUT; the identity is slope 1, intercept 0."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: LookupTable | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset, frame_index: int = 0, *, signed: bool) -> ModalityTransform:
        """The transform for one frame.

        Enhanced multi-frame objects carry it per frame (Pixel Value
        Transformation functional group); classic objects at the top level, where
        a Modality LUT Sequence wins over Rescale Slope/Intercept as in pydicom.
        `signed` is whether stored values are signed (Pixel Representation 1).
        """
        group = frame_functional_group(ds, frame_index, "PixelValueTransformationSequence")
        if group is not None and ("RescaleSlope" in group or "RescaleIntercept" in group):
            return cls._rescale(group)
        if ds.get("ModalityLUTSequence"):
            lut = LookupTable.from_item(
                ds.ModalityLUTSequence[0], signed_input=signed, little_endian=is_little_endian(ds)
            )
            return cls(lut=lut)
        return cls._rescale(ds)

    @classmethod
    def _rescale(cls, source: Dataset) -> ModalityTransform:
        """Rescale Slope/Intercept from `source`; an absent or empty one is the identity's."""
        slope, intercept = source.get("RescaleSlope"), source.get("RescaleIntercept")
        return cls(
            slope=1.0 if slope in (None, "") else float(slope),
            intercept=0.0 if intercept in (None, "") else float(intercept),
        )

    @property
    def keeps_integers(self) -> bool:
        """Whether integer stored values stay integers (no float array needed)."""
        return self.lut is not None or (self.slope == 1 and float(self.intercept).is_integer())

    @property
    def may_be_negative(self) -> bool:
        """Whether outputs can be negative for non-negative inputs (signed VOI LUT input)."""
        return self.lut is None and (self.slope < 0 or self.intercept < 0)

    def apply(self, stored: np.ndarray) -> np.ndarray:
        """Modality values of `stored`.

        A LUT gives its unsigned entries; an integral shift gives the narrowest
        of the stored dtype, int16, int32, int64 that holds the result (CT stays
        int16); any other rescale gives float32, ample for display and
        measurement at a quarter of pydicom's float64 memory per cached frame.
        """
        if self.lut is not None:
            return self.lut.lookup(stored)
        if self.slope == 1 and self.intercept == 0:
            return stored
        if stored.dtype.kind in "iu" and self.keeps_integers:
            shift = int(self.intercept)
            low, high = int(stored.min()) + shift, int(stored.max()) + shift
            dtype = next(
                t
                for t in (stored.dtype, np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
                if np.iinfo(t).min <= min(low, shift) and max(high, shift) <= np.iinfo(t).max
            )
            values = stored.astype(dtype)
            values += shift
            return values
        values = stored.astype(np.float32)
        values *= np.float32(self.slope)
        values += np.float32(self.intercept)
        return values
