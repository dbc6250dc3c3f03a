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
    def is_identity(self) -> bool:
        """Modality values are the stored values themselves."""
        return self.lut is None and self.slope == 1 and self.intercept == 0

    @property
    def commutes_with_resampling(self) -> bool:
        """An increasing linear rescale: applied to an interpolated, averaged or maximum
        of stored values it gives the same of their modality values (a LUT does not)."""
        return self.lut is None and self.slope > 0

    def rescales_like(self, other: ModalityTransform) -> bool:
        """The same linear rescale as `other` (both without a LUT)."""
        return (self.lut is None and other.lut is None
                and (self.slope, self.intercept) == (other.slope, other.intercept))

    @property
    def may_be_negative(self) -> bool:
        """Whether outputs can be negative for non-negative inputs (signed VOI LUT input)."""
        return self.lut is None and (self.slope < 0 or self.intercept < 0)

    def dtype_of(self, stored: np.ndarray) -> np.dtype:
        """The dtype :meth:`apply` gives for `stored`.

        A LUT gives its entries' dtype; an integral shift the narrowest of the
        stored dtype, int16, int32, int64 that holds the result (CT stays int16);
        any other rescale float32, ample for display and measurement at a quarter
        of pydicom's float64 memory per cached frame.
        """
        if self.lut is not None:
            return self.lut.data.dtype
        if self.is_identity:
            return stored.dtype
        if stored.dtype.kind not in "iu" or not self.keeps_integers:
            return np.dtype(np.float32)
        shift = int(self.intercept)
        low, high = int(stored.min()) + shift, int(stored.max()) + shift
        return next(
            t
            for t in (stored.dtype, np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
            if np.iinfo(t).min <= min(low, shift) and max(high, shift) <= np.iinfo(t).max
        )

    def apply(self, stored: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Modality values of `stored`, in :meth:`dtype_of`'s dtype (the identity: `stored`
        itself), or written into `out` (any dtype that holds them) with no array between.
        """
        if self.lut is not None or self.is_identity:
            values = stored if self.lut is None else self.lut.lookup(stored)
            if out is None:
                return values
            out[...] = values
            return out
        if out is None:
            out = np.empty(stored.shape, self.dtype_of(stored))
        if stored.dtype.kind in "iu" and self.keeps_integers:
            # Computed in out's dtype: a cast to a narrower integer may wrap, but modular
            # arithmetic gives the exact sum, and out's dtype holds the sum.
            np.add(stored, out.dtype.type(self.intercept), out=out, dtype=out.dtype,
                   casting="unsafe")
        else:  # stored.astype(float32) * slope + intercept, in float32 as the table path does
            np.multiply(stored, np.float32(self.slope), out=out, dtype=np.float32,
                        casting="unsafe")
            np.add(out, np.float32(self.intercept), out=out, dtype=np.float32, casting="unsafe")
        return out
