"""ohifpy.overlays.cielab: DICOM CIELab (PS3.3 C.10.7.1.1) to sRGB against known values."""

from __future__ import annotations

import numpy as np
import pytest

from ohifpy.overlays.cielab import (
    DEFAULT_COLORS,
    default_color,
    dicom_lab_to_rgb,
    lab_from_dicom,
    lab_to_dicom,
    lab_to_srgb,
    rgb_to_dicom_lab,
    srgb_to_lab,
)

# sRGB primaries and secondaries in CIE L*a*b* (D65, 2-degree observer), as published by
# Bruce Lindbloom's calculator and colormine.org (sRGB companding).
D65_REFERENCE = [
    ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
    ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
    ((255, 255, 0), (97.1393, -21.5537, 94.4780)),
    ((0, 255, 255), (91.1132, -48.0875, -14.1312)),
    ((255, 0, 255), (60.3242, 98.2343, -60.8249)),
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
]
# The same colours as ICC PCS (D50-relative) Lab, as CSS Color 4 converts them.
D50_REFERENCE = [
    ((255, 0, 0), (54.29, 80.80, 69.89)),
    ((0, 255, 0), (87.82, -79.27, 80.99)),
    ((0, 0, 255), (29.57, 68.29, -112.03)),
]


def test_dicom_scaling_of_the_end_points() -> None:
    # PS3.3 C.10.7.1.1: 0x0000 is L* 0 and a*/b* -128; 0xFFFF is L* 100 and a*/b* 127;
    # 0x8080 is a*/b* 0 exactly.
    np.testing.assert_allclose(lab_from_dicom([0, 0, 0]), [0, -128, -128])
    np.testing.assert_allclose(lab_from_dicom([0xFFFF, 0xFFFF, 0xFFFF]), [100, 127, 127])
    np.testing.assert_allclose(lab_from_dicom([0x8000, 0x8080, 0x8080]),
                               [0x8000 * 100 / 65535, 0, 0], atol=1e-12)
    assert tuple(lab_to_dicom([100, 0, 0])) == (0xFFFF, 0x8080, 0x8080)
    assert tuple(lab_to_dicom([0, -128, 127])) == (0, 0, 0xFFFF)
    assert tuple(lab_to_dicom([120, -300, 300])) == (0xFFFF, 0, 0xFFFF)  # clipped


def test_white_black_and_grey() -> None:
    assert dicom_lab_to_rgb([0xFFFF, 0x8080, 0x8080]) == (255, 255, 255)
    assert dicom_lab_to_rgb([0, 0x8080, 0x8080]) == (0, 0, 0)
    # L* 50 is 18.4 % luminance: sRGB 119 (the classic middle grey)
    assert dicom_lab_to_rgb([0x7FFF, 0x8080, 0x8080]) == (119, 119, 119)


@pytest.mark.parametrize(("rgb", "lab"), D65_REFERENCE)
def test_known_d65_values(rgb: tuple[int, int, int], lab: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb) / 255), lab, atol=0.02)
    assert tuple(np.rint(lab_to_srgb(lab) * 255).astype(int)) == rgb
    assert dicom_lab_to_rgb(lab_to_dicom(lab)) == rgb


@pytest.mark.parametrize(("rgb", "lab"), D50_REFERENCE)
def test_known_pcs_d50_values(rgb: tuple[int, int, int], lab: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb) / 255, "D50"), lab, atol=0.02)
    assert dicom_lab_to_rgb(lab_to_dicom(lab), "D50") == rgb
    # the same DICOM value read as D65 is a (slightly) different colour
    assert dicom_lab_to_rgb(lab_to_dicom(lab)) != rgb


def test_a_dicom_value_from_highdicom_s_documentation() -> None:
    # highdicom's CIELabColor docs: from_dicom_value((49107, 39048, 53188)) is 'orange'
    assert dicom_lab_to_rgb((49107, 39048, 53188)) == (255, 165, 0)
    assert rgb_to_dicom_lab((255, 165, 0)) == pytest.approx((49107, 39048, 53188), abs=3)


def test_every_8_bit_colour_of_a_grid_survives_the_round_trip() -> None:
    levels = np.arange(0, 256, 15)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    back = lab_to_srgb(lab_from_dicom(lab_to_dicom(srgb_to_lab(rgb / 255))))
    assert np.abs(np.rint(back * 255) - rgb).max() <= 1
    for colour in rgb[::97]:
        assert dicom_lab_to_rgb(rgb_to_dicom_lab(colour)) == tuple(int(c) for c in colour)


def test_out_of_gamut_colours_are_clipped() -> None:
    # L* 50 with a* = 127: redder than sRGB red can be
    linear = lab_to_srgb([50, 127, 0])
    assert linear.min() == 0.0 and linear.max() <= 1.0  # green below 0 before clipping
    assert dicom_lab_to_rgb(lab_to_dicom([50, 127, 0])) == (255, 0, 125)
    assert all(0 <= c <= 255 for c in dicom_lab_to_rgb([0xFFFF, 0xFFFF, 0xFFFF]))


def test_arrays_convert_at_once() -> None:
    values = np.array([[0xFFFF, 0x8080, 0x8080], [0, 0x8080, 0x8080]] * 3).reshape(3, 2, 3)
    rgb = lab_to_srgb(lab_from_dicom(values))
    assert rgb.shape == (3, 2, 3)
    np.testing.assert_allclose(rgb[:, 0], 1.0, atol=1e-9)
    np.testing.assert_allclose(rgb[:, 1], 0.0, atol=1e-9)


@pytest.mark.parametrize("bad", [[1, 2], [1, 2, 3, 4], "red", [1, None, 3], [np.nan, 0, 0]])
def test_a_colour_is_three_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="three numbers|finite"):
        dicom_lab_to_rgb(bad)  # type: ignore[arg-type]


def test_unknown_reference_white() -> None:
    with pytest.raises(ValueError, match="D65"):
        lab_to_srgb([50, 0, 0], "A")  # type: ignore[arg-type]


def test_default_colours_are_cornerstones_table_by_segment_number() -> None:
    assert default_color(1) == (221, 84, 84)
    assert default_color(2) == (77, 228, 121)
    assert default_color(len(DEFAULT_COLORS) + 1) == default_color(1)
    assert len(set(DEFAULT_COLORS)) == len(DEFAULT_COLORS)
