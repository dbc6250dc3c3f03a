"""Lookup tables given as LUT Descriptor + LUT Data (Modality LUT and VOI LUT Sequences).

pydicom's apply_modality_lut / apply_voi read OW LUT Data only when the
dataset knows its byte order, which a dataset built from DICOM JSON does
not; here DICOM JSON InlineBinary counts as little endian (PS3.18 F.2.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from ..errors import OhifpyError


class LUTError(OhifpyError, ValueError):
    """A lookup table (Modality, VOI or Palette Color) in the metadata is unusable."""


#: Bytes per word of the binary VRs that a big endian file stores word by word swapped.
_WORD_BYTES = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def is_little_endian(ds: Dataset) -> bool:
    """Byte order of OW values in `ds`: its file's, else little endian (DICOM JSON)."""
    return ds.original_encoding[1] is not False


def little_endian_words(value: bytes, vr: str, little_endian: bool) -> bytes:
    """A binary value (OW, OL, OF, OD, OV) in little endian order, DICOM JSON's.

    pydicom keeps a big endian file's words as stored, byte-swapped: 16-bit LUT
    entries, and pairs of packed 8-bit entries too. Other VRs and little endian
    values come back unchanged.
    """
    size = _WORD_BYTES.get(vr, 1)
    if little_endian or size == 1 or len(value) % size:
        return value
    return np.frombuffer(value, f">u{size}").astype(f"<u{size}").tobytes()


@dataclass(frozen=True, eq=False)
class LookupTable:
    """A table mapping input values ``first_mapped + i`` to ``data[i]``.

    Inputs below the first mapped value take the first entry and inputs beyond
    the last take the last entry (PS3.3 C.11.1.1.1 / C.11.2.1.1).
    ``bits`` is the descriptor's bits per entry, so outputs span ``0 .. 2**bits - 1``.
    """

    first_mapped: int
    data: np.ndarray
    bits: int

    @classmethod
    def from_item(cls, item: Dataset, *, signed_input: bool, little_endian: bool) -> LookupTable:
        """Read a Modality or VOI LUT Sequence item.

        `signed_input` says the first mapped value is a signed 16-bit number even
        when the descriptor was read as US (PS3.3 C.11.1.1.1).
        """
        descriptor = item.get("LUTDescriptor")
        if descriptor is None or len(descriptor) != 3:
            raise LUTError(f"LUT Descriptor (0028,3002) must have 3 values, got {descriptor!r}")
        entries, first_mapped, bits = (int(v) for v in descriptor)
        entries = entries or 0x10000
        if not 1 <= bits <= 16:
            raise LUTError(f"LUT Descriptor bits per entry must be 1..16, not {bits}")
        if signed_input and first_mapped >= 0x8000:
            first_mapped -= 0x10000
        raw = item.get("LUTData")
        if raw is None or (isinstance(raw, bytes) and not raw):
            raise LUTError(
                "LUT Data (0028,3006) has no value; if the metadata gave a BulkDataURI, "
                "retrieve the bulk data into the dataset before rendering"
            )
        if isinstance(raw, bytes):
            raw = little_endian_words(raw, "OW", little_endian)
            if bits <= 8 and len(raw) in (entries, entries + entries % 2):  # packed 8-bit
                data = np.frombuffer(raw[:entries], dtype=np.uint8)
            elif len(raw) >= 2 * entries:
                data = np.frombuffer(raw[: 2 * entries], dtype="<u2")
            else:
                raise LUTError(
                    f"LUT Data (0028,3006) has {len(raw)} bytes, too few for the "
                    f"{entries} entries its descriptor announces"
                )
        else:  # US: one int or a sequence of ints
            data = np.asarray([raw] if isinstance(raw, int) else list(raw), dtype=np.int64)
        if data.size != entries:
            raise LUTError(
                f"LUT Data (0028,3006) has {data.size} entries, its descriptor says {entries}"
            )
        return cls(first_mapped, data.astype(np.uint16), bits)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Map `values` (rounded to integers) through the table."""
        index = np.rint(values) if values.dtype.kind == "f" else values
        index = np.clip(index.astype(np.int64) - self.first_mapped, 0, self.data.size - 1)
        return np.take(self.data, index.astype(np.intp))  # np.take: intp, int32 in wasm32
