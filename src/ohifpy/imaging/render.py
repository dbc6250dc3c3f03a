"""The display pipeline: frame bytes -> ImageFrame (cached) -> 8-bit RGBA (per window).

:func:`prepare_frame` decodes once and gathers what display needs;
:func:`render_rgba` runs on every window/level change, so for integer stored
values it builds one RGBA table over every possible stored value (modality
-> VOI -> MONOCHROME1 -> packing) and indexes it, instead of float maths per
pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ohifpy.imaging.codecs import decode_frame
from ohifpy.imaging.color import PaletteColorLUT, has_palette_data, to_rgb
from ohifpy.imaging.lut import LookupTable
from ohifpy.imaging.modality import ModalityTransform
from ohifpy.imaging.pixel_module import COLOR, PALETTE_COLOR, PixelModule
from ohifpy.imaging.voi import VOIWindow, voi_lut, voi_windows

#: Packed little-endian RGBA, so a uint32 array viewed as bytes reads R, G, B, A.
_RGBA = np.dtype("<u4")
_OPAQUE = np.uint32(0xFF000000)


@dataclass(frozen=True, eq=False)
class ImageFrame:
    """A decoded frame and what displaying it needs; cheap to re-render with any window.

    ``stored`` holds the decoded stored values (MONOCHROME1/2 and PALETTE COLOR)
    or 8-bit RGB (every colour image; ``photometric_interpretation`` is then
    ``"RGB"``).
    ``windows`` are the header's windows, ``voi_lut`` its VOI LUT Sequence,
    ``palette`` the Palette Color LUT of PALETTE COLOR images.
    """

    stored: np.ndarray
    photometric_interpretation: str
    modality: ModalityTransform = field(default_factory=ModalityTransform)
    windows: tuple[VOIWindow, ...] = ()
    voi_lut: LookupTable | None = None
    palette: PaletteColorLUT | None = None

    @property
    def is_color(self) -> bool:
        """RGB or PALETTE COLOR: no modality or VOI stage applies."""
        return self.photometric_interpretation in ("RGB", PALETTE_COLOR)

    @cached_property
    def values(self) -> np.ndarray:
        """Modality values (rescale or Modality LUT applied) for grayscale, else ``stored``.

        Computed on first use (measurements), so a cached frame holds only its
        stored values until then.
        """
        return self.stored if self.is_color else self.modality.apply(self.stored)

    @cached_property
    def stored_range(self) -> tuple[int | float, int | float]:
        """Smallest and largest stored value."""
        return self.stored.min().item(), self.stored.max().item()

    def default_window(self) -> VOIWindow | None:
        """The header's first window, else one spanning the modality values; None for colour.

        Like cornerstone, the computed window runs from the minimum to the
        maximum modality value (LINEAR_EXACT, so they map exactly to black and
        white).
        """
        return None if self.is_color else self._grayscale_window()

    def _grayscale_window(self) -> VOIWindow:
        """:meth:`default_window` of a grayscale frame."""
        if self.windows:
            return self.windows[0]
        if self.modality.lut is None:  # monotonic: the extremes come from the stored extremes
            ends = self.modality.apply(np.array(self.stored_range, dtype=self.stored.dtype))
            low, high = float(ends.min()), float(ends.max())
        else:
            low, high = float(self.values.min()), float(self.values.max())
        return VOIWindow(
            (low + high) / 2, max(high - low, 1.0), "LINEAR_EXACT", "minimum to maximum"
        )


def prepare_frame(
    data: bytes, transfer_syntax_uid: str, ds: Dataset, frame_index: int = 0, *,
    codec_output: Any = None, pixel: PixelModule | None = None,
) -> ImageFrame:
    """Decode a frame and collect its display attributes from the instance metadata `ds`.

    `ds` is metadata only (as from WADO-RS: no Pixel Data, no file meta). ``codec_output``:
    the frame as a codec elsewhere decoded it (see :func:`~ohifpy.imaging.run_codec`).
    ``pixel``: the Image Pixel Module of `ds` when the caller has it already (read from
    `ds` otherwise: a few hundred microseconds a frame under Pyodide).
    """
    pixel = PixelModule.from_dataset(ds) if pixel is None else pixel
    if not 0 <= frame_index < pixel.number_of_frames:
        raise ValueError(
            f"frame index {frame_index} is out of range for an instance of "
            f"{pixel.number_of_frames} frame(s)"
        )
    decoded = decode_frame(data, transfer_syntax_uid, pixel, codec_output=codec_output)
    photometric = decoded.photometric_interpretation
    if photometric in COLOR:
        return ImageFrame(to_rgb(decoded.pixels, photometric, pixel.bits_stored), "RGB")
    if photometric == PALETTE_COLOR:
        palette = PaletteColorLUT.from_dataset(ds, signed=pixel.is_signed)
        return ImageFrame(decoded.pixels, photometric, palette=palette)
    modality = ModalityTransform.from_dataset(ds, frame_index, signed=pixel.is_signed)
    return ImageFrame(
        decoded.pixels,
        photometric,
        modality=modality,
        windows=tuple(voi_windows(ds, frame_index)),
        voi_lut=voi_lut(ds, signed_input=pixel.is_signed or modality.may_be_negative),
    )


def missing_display_attributes(ds: Dataset) -> list[str]:
    """What display needs that the metadata `ds` lacks, as keywords; empty when complete.

    A server's metadata may leave out what the file holds: Orthanc's, of implicit VR
    files, drops every element whose VR is US or SS (palette descriptors, LUT
    Descriptor, LUT Data). A data source can then fill them in from the instance,
    as pydicom would read them from the file. (A VOI LUT Sequence whose items lost
    everything is dropped whole, which no metadata check can see.)
    """
    missing = []
    if str(ds.get("PhotometricInterpretation", "")).strip() == PALETTE_COLOR:
        if not ds.get("RedPaletteColorLookupTableDescriptor"):
            missing.append("RedPaletteColorLookupTableDescriptor")
        if not has_palette_data(ds):
            missing.append("RedPaletteColorLookupTableData")
    for sequence in ("ModalityLUTSequence", "VOILUTSequence"):
        for item in ds.get(sequence) or ():
            missing += [f"{sequence}.{k}" for k in ("LUTDescriptor", "LUTData") if not item.get(k)]
    return missing


def render_rgba(
    frame: ImageFrame, window: VOIWindow | None = None, *, invert: bool = False
) -> np.ndarray:
    """The frame as ``(rows, columns, 4)`` uint8 RGBA, alpha 255.

    Grayscale: `window`, else the header's VOI LUT Sequence, else
    :meth:`ImageFrame.default_window`; MONOCHROME1 shows inverted. A `window`
    on an RGB image windows each channel (as cornerstone does); PALETTE COLOR
    ignores it. `invert` flips the displayed intensities on top of all that.
    """
    if frame.photometric_interpretation == "RGB":
        return _render_rgb(frame.stored, window, invert)
    indexed = _table_index(frame)
    inputs = frame.stored if indexed is None else indexed[0]
    if frame.palette is not None:
        rgb = frame.palette.lookup(inputs)
        packed = _pack_rgb(255 - rgb if invert else rgb)
    else:
        packed = _pack_gray(_gray_levels(frame, inputs, window, invert))
    if indexed is not None:
        packed = packed[indexed[1]]  # fancy indexing: 5x np.take's speed in Pyodide
    return packed.view(np.uint8).reshape(*frame.stored.shape, 4)


def render_frame(
    data: bytes,
    transfer_syntax_uid: str,
    ds: Dataset,
    frame_index: int = 0,
    window: VOIWindow | None = None,
) -> np.ndarray:
    """:func:`prepare_frame` then :func:`render_rgba`: one frame to RGBA in one call."""
    return render_rgba(prepare_frame(data, transfer_syntax_uid, ds, frame_index), window)


def _table_index(frame: ImageFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Every possible stored value and each pixel's index into them, or None for per-pixel maths.

    8- and 16-bit values index a table over their whole dtype through their
    unsigned view (no pass over the pixels at all); wider ones a table over
    their actual range, when that is no longer than the image.
    """
    stored = frame.stored
    if stored.dtype.kind not in "iu":
        return None
    if stored.dtype.itemsize <= 2:
        unsigned = np.dtype(f"u{stored.dtype.itemsize}")
        domain = np.arange(1 << (8 * stored.dtype.itemsize), dtype=unsigned).view(stored.dtype)
        return domain, stored.view(unsigned)
    low, high = (int(end) for end in frame.stored_range)
    if high - low >= max(1 << 16, stored.size):
        return None
    index = (stored - stored.dtype.type(low)).astype(np.intp)  # np.take: intp, int32 in wasm32
    return np.arange(low, high + 1, dtype=np.int64), index


def _gray_levels(
    frame: ImageFrame, stored: np.ndarray, window: VOIWindow | None, invert: bool
) -> np.ndarray:
    """8-bit display levels of `stored` values: modality, VOI, then MONOCHROME1/invert."""
    values = frame.modality.apply(stored)
    if window is None and frame.voi_lut is not None:
        scale = float((1 << frame.voi_lut.bits) - 1)
        display = np.clip(frame.voi_lut.lookup(values) / scale, 0.0, 1.0)
    else:
        display = (window or frame._grayscale_window()).apply(values)
    levels = np.rint(display * 255.0).astype(np.uint8)
    if (frame.photometric_interpretation == "MONOCHROME1") != invert:
        np.subtract(255, levels, out=levels)
    return levels


def _render_rgb(rgb: np.ndarray, window: VOIWindow | None, invert: bool) -> np.ndarray:
    """RGB to RGBA; a window or inversion goes through one 256-entry table per channel."""
    if window is None and not invert:
        packed = _pack_rgb(rgb)
    else:
        table = np.arange(256, dtype=np.uint8)
        if window is not None:
            table = np.rint(window.apply(table) * 255.0).astype(np.uint8)
        channel = (255 - table if invert else table).astype(_RGBA)
        packed = channel[rgb[..., 0]]
        packed |= (channel << np.uint32(8))[rgb[..., 1]]
        packed |= (channel << np.uint32(16) | _OPAQUE)[rgb[..., 2]]
    return packed.view(np.uint8).reshape(*rgb.shape[:2], 4)


def _pack_gray(levels: np.ndarray) -> np.ndarray:
    """Gray levels as packed opaque RGBA with R = G = B."""
    packed = levels.astype(_RGBA)
    packed *= np.uint32(0x010101)
    packed |= _OPAQUE
    return packed


def _pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 RGB as packed opaque RGBA."""
    packed = rgb[..., 0].astype(_RGBA)
    packed |= rgb[..., 1].astype(_RGBA) << np.uint32(8)
    packed |= rgb[..., 2].astype(_RGBA) << np.uint32(16)
    packed |= _OPAQUE
    return packed
