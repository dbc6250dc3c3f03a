"""CIELab colours as DICOM encodes them (PS3.3 C.10.7.1.1), to and from sRGB.

Encoding
    Recommended Display CIELab Value (and its kin) holds three unsigned 16-bit values: L*
    scaled so that 0x0000 is 0.0 and 0xFFFF is 100.0; a* and b* offset and scaled so that
    0x0000 is -128.0, 0x8080 is 0.0 and 0xFFFF is 127.0 (the ICC PCS's 16-bit Lab encoding).

Conversion
    CIELab -> CIE XYZ relative to the reference white -> linear sRGB (IEC 61966-2-1) -> the
    sRGB transfer curve, then 0..255. The reference white is D65, the white of sRGB itself,
    as dcmtk (dcmiod's ``IODCIELabUtil``), dcmjs (and so OHIF), highdicom and pixelmed take
    it: SEGs written by those toolkits come back to the RGB they were made from.
    ``reference_white="D50"`` reads the values as ICC PCS Lab instead (D50-relative, the
    ICC's illuminant), chromatically adapted to D65 with the linear Bradford transform, as
    newer dcmjs does; in-gamut colours differ between the two by a few levels.

    Matrices and white points are those of CSS Color Module Level 4 (sRGB primaries and
    white point derived from their x, y chromaticities), so L* 100 a* 0 b* 0 is exactly
    white. A colour outside the sRGB gamut is clipped per channel in linear light (dcmtk
    instead shifts all three channels up by the most negative one; in-gamut colours are
    the same either way).

Default colours
    :data:`DEFAULT_COLORS` is cornerstone3D's segmentation colour table (what OHIF shows a
    segment that brings no colour), indexed by segment number: segment 1 takes its first
    entry, and so on, wrapping around.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = [
    "D50_WHITE",
    "D65_WHITE",
    "DEFAULT_COLORS",
    "default_color",
    "dicom_lab_to_rgb",
    "lab_from_dicom",
    "lab_to_dicom",
    "lab_to_srgb",
    "rgb_to_dicom_lab",
    "srgb_to_lab",
]

ReferenceWhite = Literal["D65", "D50"]
ArrayLike = np.ndarray | Sequence[float] | Sequence[Sequence[float]]
"""Colour triplets, (..., 3) (numpy.typing is not in the browser's numpy)."""

D65_WHITE = np.array([0.3127 / 0.3290, 1.0, (1.0 - 0.3127 - 0.3290) / 0.3290])
"""CIE XYZ of the D65 white point (Y = 1), from its x, y chromaticity, as sRGB defines it."""
D50_WHITE = np.array([0.3457 / 0.3585, 1.0, (1.0 - 0.3457 - 0.3585) / 0.3585])
"""CIE XYZ of the D50 white point, the ICC Profile Connection Space's illuminant."""

_XYZ_TO_LINEAR_SRGB = np.array([
    [12831 / 3959, -329 / 214, -1974 / 3959],
    [-851781 / 878810, 1648619 / 878810, 36519 / 878810],
    [705 / 12673, -2585 / 12673, 705 / 667],
])
_LINEAR_SRGB_TO_XYZ = np.linalg.inv(_XYZ_TO_LINEAR_SRGB)
_BRADFORD_D50_TO_D65 = np.array([
    [0.955473421488075, -0.02309845494876471, 0.06325924320057072],
    [-0.0283697093338637, 1.0099953980813041, 0.021041441191917323],
    [0.012314014864481998, -0.020507649298898964, 1.330365926242124],
])
_BRADFORD_D65_TO_D50 = np.linalg.inv(_BRADFORD_D50_TO_D65)

_EPSILON = 216 / 24389  # (6/29)^3
_KAPPA = 24389 / 27  # (29/3)^3

DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (221, 84, 84), (77, 228, 121), (166, 70, 235), (189, 180, 116), (109, 182, 196),
    (204, 101, 157), (123, 211, 94), (93, 87, 218), (225, 128, 80), (73, 232, 172),
    (181, 119, 186), (176, 193, 112), (105, 153, 200), (208, 97, 120), (90, 215, 101),
    (135, 83, 222), (229, 178, 76), (122, 183, 181), (190, 115, 171), (149, 197, 108),
    (100, 118, 205), (212, 108, 93), (86, 219, 141), (183, 79, 226), (233, 233, 72),
)
"""Colours for segments that carry none: cornerstone3D's COLOR_LUT (entries 1-25), as OHIF."""


def default_color(number: int) -> tuple[int, int, int]:
    """The default colour of segment (or ROI) ``number`` (1-based; wraps around the table)."""
    return DEFAULT_COLORS[(int(number) - 1) % len(DEFAULT_COLORS)]


def lab_from_dicom(value: ArrayLike) -> np.ndarray:
    """DICOM-encoded CIELab (..., 3) of 0..65535 -> float L* (0..100), a*, b* (-128..127)."""
    v = np.asarray(value, dtype=np.float64)
    _check_triplets(v)
    return np.stack([v[..., 0] * (100.0 / 65535.0),
                     v[..., 1] * (255.0 / 65535.0) - 128.0,
                     v[..., 2] * (255.0 / 65535.0) - 128.0], axis=-1)


def lab_to_dicom(lab: ArrayLike) -> np.ndarray:
    """L*, a*, b* (..., 3) -> DICOM's 16-bit encoding, rounded and clipped to 0..65535."""
    lab = np.asarray(lab, dtype=np.float64)
    _check_triplets(lab)
    encoded = np.stack([lab[..., 0] * (65535.0 / 100.0),
                        (lab[..., 1] + 128.0) * (65535.0 / 255.0),
                        (lab[..., 2] + 128.0) * (65535.0 / 255.0)], axis=-1)
    return np.clip(np.rint(encoded), 0, 65535).astype(np.uint16)


def lab_to_srgb(lab: ArrayLike, reference_white: ReferenceWhite = "D65") -> np.ndarray:
    """L*, a*, b* (..., 3) -> sRGB (..., 3) floats in 0..1 (out-of-gamut colours clipped)."""
    lab = np.asarray(lab, dtype=np.float64)
    _check_triplets(lab)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    ratio = np.where(f > 6 / 29, f**3, (116.0 * f - 16.0) / _KAPPA)
    if reference_white == "D65":
        xyz = ratio * D65_WHITE
    elif reference_white == "D50":
        xyz = (ratio * D50_WHITE) @ _BRADFORD_D50_TO_D65.T
    else:
        raise ValueError(f"reference_white must be 'D65' or 'D50', not {reference_white!r}")
    linear = np.clip(xyz @ _XYZ_TO_LINEAR_SRGB.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(linear, 1 / 2.4) - 0.055)


def srgb_to_lab(rgb: ArrayLike, reference_white: ReferenceWhite = "D65") -> np.ndarray:
    """sRGB (..., 3) floats in 0..1 -> L*, a*, b* (..., 3): the inverse of :func:`lab_to_srgb`."""
    rgb = np.asarray(rgb, dtype=np.float64)
    _check_triplets(rgb)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _LINEAR_SRGB_TO_XYZ.T
    if reference_white == "D65":
        ratio = xyz / D65_WHITE
    elif reference_white == "D50":
        ratio = (xyz @ _BRADFORD_D65_TO_D50.T) / D50_WHITE
    else:
        raise ValueError(f"reference_white must be 'D65' or 'D50', not {reference_white!r}")
    f = np.where(ratio > _EPSILON, np.cbrt(ratio), (_KAPPA * ratio + 16.0) / 116.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]),
                     200.0 * (f[..., 1] - f[..., 2])], axis=-1)


def dicom_lab_to_rgb(value: ArrayLike, reference_white: ReferenceWhite = "D65"
                     ) -> tuple[int, int, int]:
    """One DICOM CIELab triplet (e.g. RecommendedDisplayCIELabValue) -> sRGB 0..255 ints."""
    rgb = lab_to_srgb(lab_from_dicom(_one_triplet(value)), reference_white)
    r, g, b = (int(c) for c in np.rint(rgb * 255.0))
    return r, g, b


def rgb_to_dicom_lab(rgb: ArrayLike, reference_white: ReferenceWhite = "D65"
                     ) -> tuple[int, int, int]:
    """sRGB 0..255 -> a DICOM CIELab triplet (what a writer puts in the dataset)."""
    lab = srgb_to_lab(np.asarray(_one_triplet(rgb), dtype=np.float64) / 255.0, reference_white)
    lightness, a, b = (int(v) for v in lab_to_dicom(lab))
    return lightness, a, b


def _check_triplets(values: np.ndarray) -> None:
    if values.ndim < 1 or values.shape[-1] != 3:
        raise ValueError(f"expected colour triplets (..., 3), got an array of shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("colour values must be finite numbers")


def _one_triplet(value: ArrayLike) -> np.ndarray:
    try:
        triplet = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"a colour is three numbers, not {value!r}") from None
    if triplet.shape != (3,):
        raise ValueError(f"a colour is three numbers, not {value!r}")
    return triplet
