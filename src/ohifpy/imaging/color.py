"""Colour stage: decoded colour samples and Palette Color LUTs -> 8-bit RGB."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space

from ohifpy.imaging.lut import LUTError, is_little_endian

#: JPEG 2000 decoders apply the inverse component transform themselves, so
#: YBR_ICT/YBR_RCT samples arrive as RGB (as pydicom and cornerstone treat them).
_ALREADY_RGB = ("RGB", "YBR_ICT", "YBR_RCT")
#: YBR_FULL_422 is full resolution once decoded (native frames are upsampled by the decoder).
_YBR = ("YBR_FULL", "YBR_FULL_422")

_PALETTE_KEYWORDS = tuple(
    f"{prefix}{channel}PaletteColorLookupTable{suffix}"
    for channel in ("Red", "Green", "Blue")
    for prefix, suffix in (("", "Descriptor"), ("", "Data"), ("Segmented", "Data"))
)


def to_rgb(pixels: np.ndarray, photometric_interpretation: str, bits_stored: int) -> np.ndarray:
    """Decoded ``(rows, columns, 3)`` samples as 8-bit RGB.

    Samples deeper than 8 bits keep their top 8 bits; YBR_FULL(_422) goes
    through pydicom's PS3.3 C.7.6.3.1.2 conversion.
    """
    rgb = pixels
    if rgb.dtype != np.uint8:
        rgb = np.right_shift(rgb, max(bits_stored - 8, 0)).astype(np.uint8)
    if photometric_interpretation in _YBR:
        return convert_color_space(rgb, "YBR_FULL", "RGB")
    if photometric_interpretation in _ALREADY_RGB:
        return rgb
    raise ValueError(
        f"cannot convert photometric interpretation {photometric_interpretation!r} to RGB"
    )


@dataclass(frozen=True, eq=False)
class PaletteColorLUT:
    """The Palette Color LUTs (PS3.3 C.7.6.3.1.5) as one ``(entries, 3)`` uint8 RGB table.

    Stored values below the first mapped value take the first entry, above the
    last the last entry. 16-bit entries keep their top 8 bits.
    """

    first_mapped: int
    rgb: np.ndarray

    @classmethod
    def from_dataset(cls, ds: Dataset, *, signed: bool) -> PaletteColorLUT:
        """Read the (possibly segmented) palette of a PALETTE COLOR image.

        The LUT Data may be bytes from DICOM JSON InlineBinary; it must have been
        retrieved when the metadata gave a BulkDataURI instead.
        """
        descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
        if descriptor is None or len(descriptor) != 3:
            raise LUTError(
                "PALETTE COLOR image without a valid Red Palette Color Lookup Table "
                f"Descriptor (0028,1101): {descriptor!r}"
            )
        if not any(
            ds.get(f"{prefix}RedPaletteColorLookupTableData") for prefix in ("", "Segmented")
        ):
            raise LUTError(
                "PALETTE COLOR image without Red Palette Color Lookup Table Data (0028,1201) "
                "or its segmented form (0028,1221); if the metadata gave a BulkDataURI, "
                "retrieve the bulk data into the dataset before rendering"
            )
        # apply_color_lut needs the byte order of segmented data, which a dataset
        # from DICOM JSON lacks: hand it just the palette, with the order stated.
        palette = Dataset()
        for keyword in _PALETTE_KEYWORDS:
            if keyword in ds:
                palette[keyword] = ds[keyword]
        palette.set_original_encoding(False, is_little_endian(ds))
        entries, first_mapped = int(descriptor[0]) or 0x10000, int(descriptor[1])
        try:
            rgb = apply_color_lut(np.arange(entries) + first_mapped, palette)[:, :3]
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise LUTError(f"unusable Palette Color Lookup Table: {exc}") from exc
        if rgb.dtype != np.uint8:
            rgb = np.right_shift(rgb, 8).astype(np.uint8)
        if signed and first_mapped >= 0x8000:
            first_mapped -= 0x10000
        return cls(first_mapped, rgb)

    def lookup(self, stored: np.ndarray) -> np.ndarray:
        """RGB of each stored value, shape ``stored.shape + (3,)``."""
        index = np.clip(stored.astype(np.int64) - self.first_mapped, 0, len(self.rgb) - 1)
        return np.take(self.rgb, index.astype(np.intp), axis=0)  # np.take: intp, int32 in wasm32
