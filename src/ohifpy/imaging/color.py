"""Colour stage: decoded colour samples and Palette Color LUTs -> 8-bit RGB."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space

from ohifpy.imaging.lut import LUTError, is_little_endian, little_endian_words

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


def has_palette_data(ds: Dataset) -> bool:
    """Whether `ds` holds a value for the red palette's data, plain or segmented."""
    return any(ds.get(f"{prefix}RedPaletteColorLookupTableData") for prefix in ("", "Segmented"))


@dataclass(frozen=True, eq=False)
class PaletteColorLUT:
    """The Palette Color LUTs (PS3.3 C.7.6.3.1.5) as one ``(entries, 3)`` uint8 RGB table.

    Stored values below the first mapped value take the first entry, above the
    last the last entry. 16-bit entries keep their top 8 bits. LUT data is read in
    the byte order of the file it came from (little endian from DICOM JSON).
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
        if not has_palette_data(ds):
            raise LUTError(
                "PALETTE COLOR image without Red Palette Color Lookup Table Data (0028,1201) "
                "or its segmented form (0028,1221); if the metadata gave a BulkDataURI, "
                "retrieve the bulk data into the dataset before rendering"
            )
        entries, first_mapped = int(descriptor[0]) or 0x10000, int(descriptor[1])
        _check_data_lengths(ds, entries)
        try:
            rgb = apply_color_lut(np.arange(entries) + first_mapped, _little_endian_palette(ds))
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise LUTError(f"unusable Palette Color Lookup Table: {exc}") from exc
        rgb = rgb[:, :3]
        if rgb.dtype != np.uint8:
            # 16-bit words: 16-bit entries keep their top 8 bits; 8-bit entries one per
            # word (PS3.3 C.7.6.3.1.5's note) stay as they are, unless values above 255
            # show the descriptor's 8 is wrong.
            shift = 0 if int(descriptor[2]) == 8 and int(rgb.max()) <= 0xFF else 8
            rgb = np.right_shift(rgb, shift).astype(np.uint8)
        if signed and first_mapped >= 0x8000:
            first_mapped -= 0x10000
        return cls(first_mapped, rgb)

    def lookup(self, stored: np.ndarray) -> np.ndarray:
        """RGB of each stored value, shape ``stored.shape + (3,)``."""
        index = np.clip(stored.astype(np.int64) - self.first_mapped, 0, len(self.rgb) - 1)
        return np.take(self.rgb, index.astype(np.intp), axis=0)  # np.take: intp, int32 in wasm32


def _check_data_lengths(ds: Dataset, entries: int) -> None:
    """Unsegmented data must hold one byte (8-bit entries) or one word per entry: say which
    channel does not, rather than pydicom's guess at a bit depth from the length."""
    for channel in ("Red", "Green", "Blue"):
        keyword = f"{channel}PaletteColorLookupTableData"
        value = ds.get(keyword)
        if isinstance(value, bytes) and value and len(value) not in (entries, 2 * entries):
            tag = ds[keyword].tag
            raise LUTError(
                f"{channel} Palette Color Lookup Table Data ({tag.group:04X},{tag.element:04X}) "
                f"has {len(value)} bytes, not the {entries} or {2 * entries} of the {entries} "
                "entries its descriptor announces"
            )


def _little_endian_palette(ds: Dataset) -> Dataset:
    """Just the palette elements of `ds`, their data in little endian order.

    pydicom's apply_color_lut reads unsegmented data in the machine's order (little
    endian here and in wasm32) whatever the file's, and segmented data in the order
    the dataset states, which one from DICOM JSON lacks: so the data is made little
    endian first and the palette says so.
    """
    little_endian = is_little_endian(ds)
    palette = Dataset()
    for keyword in (k for k in _PALETTE_KEYWORDS if k in ds):
        element = ds[keyword]
        value = element.value
        if isinstance(value, bytes):
            value = little_endian_words(value, element.VR, little_endian)
        palette.add_new(element.tag, element.VR, value)
    palette.set_original_encoding(False, True)
    return palette
