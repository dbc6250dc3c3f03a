"""The Image Pixel Module attributes (PS3.3 C.7.6.3) that decoding and display depend on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from ..errors import OhifpyError

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
PALETTE_COLOR = "PALETTE COLOR"
#: Three-sample photometric interpretations the pipeline can turn into RGB.
COLOR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")

MAX_FRAME_BYTES = 256 << 20
"""One frame's stored pixels: an 8192x8192 16-bit mammogram takes 128 MiB. Rendering adds
four bytes of RGBA per pixel, and the WebAssembly heap ends at 4 GiB."""
MAX_PIXEL_DATA_BYTES = 2 << 30
"""All frames of one instance: tomosynthesis and long cine runs take a few hundred MB.
Frames load one by one, but a server that fails its frames endpoint makes the viewer
download the instance whole."""
MAX_FRAMES = 100_000
"""Frames of one instance: each becomes an image of its display set (enhanced CT/MR and
cine run to a few thousand)."""


def pixel_data_problem(rows: int, columns: int, samples_per_pixel: int, bits_allocated: int,
                       number_of_frames: int) -> str:
    """Why pixel data of this size is not loaded (too large a claim to allocate), or "".

    Metadata can claim any size; the product is capped, not each factor, because it is
    what decoders and caches allocate. Shared by :class:`PixelModule` (before a frame is
    fetched) and the model (before a display set makes one image per frame).
    """
    if number_of_frames > MAX_FRAMES:
        return (f"NumberOfFrames {number_of_frames} is more than the {MAX_FRAMES} frames an "
                "instance may have")
    frame_bytes = -(-rows * columns * samples_per_pixel * max(bits_allocated, 1) // 8)
    if frame_bytes > MAX_FRAME_BYTES:
        return (f"a {columns}x{rows} frame of {samples_per_pixel} sample(s) of {bits_allocated} "
                f"bits takes {_mib(frame_bytes)}, more than the {_mib(MAX_FRAME_BYTES)} a "
                "frame may take")
    if frame_bytes * number_of_frames > MAX_PIXEL_DATA_BYTES:
        return (f"{number_of_frames} frames of {columns}x{rows} take "
                f"{_mib(frame_bytes * number_of_frames)}, more pixel data than the "
                f"{_mib(MAX_PIXEL_DATA_BYTES)} an instance may hold")
    return ""


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.0f} MiB"


class PixelModuleError(OhifpyError, ValueError):
    """The Image Pixel Module of an instance is missing an attribute or is inconsistent."""


@dataclass(frozen=True)
class PixelModule:
    """How the stored pixels of one instance are laid out.

    Validated on construction, so a decoder never has to guess: a frame is
    ``rows * columns * samples_per_pixel`` values of ``bits_allocated`` bits.
    ``planar_configuration`` only matters for native multi-sample frames; it is
    0 for single-sample images.
    """

    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    photometric_interpretation: str
    planar_configuration: int = 0
    number_of_frames: int = 1

    def __post_init__(self) -> None:
        problems = []
        for name in ("rows", "columns"):
            if not 0 < getattr(self, name) <= 0xFFFF:
                problems.append(f"{name} must be in 1..65535, not {getattr(self, name)}")
        if self.bits_allocated != 1 and (
            self.bits_allocated % 8 or not 0 < self.bits_allocated <= 64
        ):
            problems.append(
                f"bits_allocated must be 1 or a multiple of 8 up to 64, not {self.bits_allocated}"
            )
        if not 0 < self.bits_stored <= self.bits_allocated:
            problems.append(
                f"bits_stored must be in 1..bits_allocated ({self.bits_allocated}), "
                f"not {self.bits_stored}"
            )
        if not 0 <= self.high_bit < self.bits_allocated:
            problems.append(f"high_bit must be below bits_allocated, not {self.high_bit}")
        if self.pixel_representation not in (0, 1):
            problems.append(f"pixel_representation must be 0 or 1, not {self.pixel_representation}")
        if self.planar_configuration not in (0, 1):
            problems.append(f"planar_configuration must be 0 or 1, not {self.planar_configuration}")
        if self.number_of_frames < 1:
            problems.append(f"number_of_frames must be at least 1, not {self.number_of_frames}")
        expected_samples = {
            **dict.fromkeys(MONOCHROME, 1),
            PALETTE_COLOR: 1,
            **dict.fromkeys(COLOR, 3),
        }
        pi = self.photometric_interpretation
        if pi not in expected_samples:
            problems.append(
                f"photometric_interpretation {pi!r} is not supported "
                f"(one of {', '.join(expected_samples)})"
            )
        elif self.samples_per_pixel != expected_samples[pi]:
            problems.append(
                f"photometric_interpretation {pi} needs samples_per_pixel "
                f"{expected_samples[pi]}, not {self.samples_per_pixel}"
            )
        if not problems:
            size = pixel_data_problem(self.rows, self.columns, self.samples_per_pixel,
                                      self.bits_allocated, self.number_of_frames)
            problems += [size] if size else []
        if problems:
            raise PixelModuleError("invalid Image Pixel Module: " + "; ".join(problems))

    @property
    def is_signed(self) -> bool:
        """Whether stored values are two's complement (Pixel Representation 1)."""
        return self.pixel_representation == 1

    @classmethod
    def from_dataset(cls, ds: Dataset) -> PixelModule:
        """Read the module from an instance's metadata (e.g. WADO-RS metadata).

        Type 1 attributes must be present; High Bit, Planar Configuration and
        Number of Frames fall back to their usual values when absent, as viewers
        tolerate that in the wild.
        """
        try:
            samples_per_pixel = int(_value(ds, "SamplesPerPixel"))
            bits_stored = int(_value(ds, "BitsStored"))
            return cls(
                rows=int(_value(ds, "Rows")),
                columns=int(_value(ds, "Columns")),
                samples_per_pixel=samples_per_pixel,
                bits_allocated=int(_value(ds, "BitsAllocated")),
                bits_stored=bits_stored,
                high_bit=int(_value(ds, "HighBit", bits_stored - 1)),
                pixel_representation=int(_value(ds, "PixelRepresentation")),
                photometric_interpretation=str(_value(ds, "PhotometricInterpretation"))
                .strip()
                .upper(),
                planar_configuration=int(_value(ds, "PlanarConfiguration", 0))
                if samples_per_pixel > 1
                else 0,
                number_of_frames=int(_value(ds, "NumberOfFrames", 1)),
            )
        except PixelModuleError:
            raise
        except (TypeError, ValueError) as exc:
            raise PixelModuleError(f"Image Pixel Module: unreadable value ({exc})") from exc


_TAGS = {
    "Rows": "(0028,0010)",
    "Columns": "(0028,0011)",
    "SamplesPerPixel": "(0028,0002)",
    "BitsAllocated": "(0028,0100)",
    "BitsStored": "(0028,0101)",
    "PixelRepresentation": "(0028,0103)",
    "PhotometricInterpretation": "(0028,0004)",
}


def _value(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """The value of `keyword`; absent or empty gives `default`, or an error naming it if none."""
    value = ds.get(keyword)
    if value is not None and value != "":
        return value
    if default is None:
        raise PixelModuleError(
            f"Image Pixel Module: {_TAGS[keyword]} {keyword} is missing or empty in the metadata"
        )
    return default
