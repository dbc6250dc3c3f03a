"""The whole pipeline against the pydicom reference render (within +-1 per channel)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from reference import (
    RENDERABLE_TEST_FILES,
    frames_of,
    load,
    metadata_of,
    needs_codec_plugin,
    reference_render,
    synthetic_instance,
)

from ohifpy.imaging import (
    PixelModuleError,
    VOIWindow,
    prepare_frame,
    render_frame,
    render_rgba,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def assert_matches_reference(ds: Dataset, frame_index: int = 0, window: VOIWindow | None = None):
    """render_frame fed like WADO-RS (frame bytes + JSON metadata) equals the reference +-1."""
    rgba = render_frame(
        frames_of(ds)[frame_index],
        ds.file_meta.TransferSyntaxUID,
        metadata_of(ds),
        frame_index,
        window,
    )
    assert rgba.shape == (ds.Rows, ds.Columns, 4) and rgba.dtype == np.uint8
    assert (rgba[..., 3] == 255).all()
    expected = reference_render(ds, frame_index, window)
    if expected.ndim == 2:
        assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all()
        expected = expected[..., None]
    difference = np.abs(rgba[..., :3].astype(int) - expected).max()
    assert difference <= 1, f"differs from the reference by {difference}"
    return rgba


@pytest.mark.parametrize("name", RENDERABLE_TEST_FILES)
def test_pydicom_test_files_match_the_reference(name):
    ds = load(name)
    for index in range(len(frames_of(ds))):
        assert_matches_reference(ds, index)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
@pytest.mark.parametrize(
    "name", ["MR_small.dcm", "CT_small.dcm", *needs_codec_plugin("MR_small_jp2klossless.dcm")]
)
@pytest.mark.parametrize(
    "window",
    [
        VOIWindow(40, 400),
        VOIWindow(600, 1, "LINEAR"),
        VOIWindow(-20.5, 801, "LINEAR_EXACT"),
        VOIWindow(900, 700, "SIGMOID"),
    ],
)
def test_given_windows_match_the_reference(name, window):
    assert_matches_reference(load(name), window=window)


def test_the_second_header_window_matches_pydicom_index_1():
    ds = load("examples_overlay.dcm")  # centers [450, 200], widths [790, 443]
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    assert frame.default_window() == frame.windows[0] == VOIWindow(450, 790, explanation="WINDOW1")
    assert_matches_reference(ds, window=frame.windows[1])


def ct_like(seed=9, shape=(48, 40)) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1500, 2500, shape).astype(np.int16)


def test_monochrome1_is_inverted():
    stored = np.random.default_rng(10).integers(0, 4096, (30, 20)).astype(np.uint16)
    ds = synthetic_instance(
        stored,
        PhotometricInterpretation="MONOCHROME1",
        BitsStored=12,
        HighBit=11,
        WindowCenter=2048,
        WindowWidth=4096,
    )
    rgba = assert_matches_reference(ds)
    assert rgba[stored == stored.min()][0, 0] == 255 and rgba[stored == stored.max()][0, 0] == 0


def test_invert_flips_the_display_and_undoes_monochrome1():
    ds = synthetic_instance(ct_like(), WindowCenter=0, WindowWidth=1000)
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    plain, inverted = render_rgba(frame), render_rgba(frame, invert=True)
    np.testing.assert_array_equal(inverted[..., :3], 255 - plain[..., :3])
    assert (inverted[..., 3] == 255).all()
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    np.testing.assert_array_equal(render_rgba(mono1, invert=True), plain)


def voi_lut_item(first_mapped: int, entries: np.ndarray, bits: int) -> Dataset:
    item = Dataset()
    item.add_new(
        "LUTDescriptor", "SS" if first_mapped < 0 else "US", [len(entries), first_mapped, bits]
    )
    item.add_new("LUTData", "OW", entries.astype("<u2").tobytes())
    return item


def test_voi_lut_sequence_wins_over_windows_unless_a_window_is_given():
    ramp = np.round(np.linspace(0, 1, 1500) ** 2 * 4095).astype(np.uint16)  # non-linear
    ds = synthetic_instance(
        ct_like(),
        RescaleSlope=1,
        RescaleIntercept=-24,
        WindowCenter=40,
        WindowWidth=400,
        VOILUTSequence=[voi_lut_item(-700, ramp, 12)],
    )
    lut_render = assert_matches_reference(ds)
    windowed = assert_matches_reference(ds, window=VOIWindow(40, 400))
    assert not np.array_equal(lut_render, windowed)


def test_modality_lut_sequence_then_window():
    stored = np.random.default_rng(11).integers(0, 1024, (20, 24)).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [1024, 0, 16]
    item.add_new("LUTData", "US", [int(v) for v in (np.arange(1024) ** 1.5).astype(np.uint16)])
    item.ModalityLUTType = "OD"
    ds = synthetic_instance(
        stored, ModalityLUTSequence=[item], WindowCenter=12000, WindowWidth=20000
    )
    assert_matches_reference(ds)
    del ds.WindowCenter, ds.WindowWidth
    assert_matches_reference(ds)  # computed window over the LUT's output


def test_fractional_rescale_and_computed_window():
    ds = synthetic_instance(ct_like(12), RescaleSlope="0.37", RescaleIntercept="12.25")
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    window = frame.default_window()
    low, high = frame.values.min(), frame.values.max()
    assert window.function == "LINEAR_EXACT"
    assert window.center == pytest.approx((low + high) / 2) and window.width == pytest.approx(
        high - low
    )
    assert_matches_reference(ds)


def test_wide_32_bit_values_render_per_pixel_like_the_reference():
    stored = np.random.default_rng(13).integers(0, 2**31, (16, 16)).astype(np.uint32)
    ds = synthetic_instance(stored, WindowCenter=2**30, WindowWidth=2**30)
    assert_matches_reference(ds)
    del ds.WindowCenter, ds.WindowWidth
    assert_matches_reference(ds)


@pytest.mark.parametrize(("dtype", "low"), [(np.uint32, 3_000_000_000), (np.int32, -70_000)])
def test_narrow_32_bit_values_render_through_a_table_like_the_reference(dtype, low):
    stored = (low + np.random.default_rng(16).integers(0, 300, (16, 16))).astype(dtype)
    assert_matches_reference(synthetic_instance(stored))


def test_constant_image_renders_mid_gray():
    ds = synthetic_instance(np.full((4, 4), 77, dtype=np.uint8))
    assert_matches_reference(ds)


def test_planar_configuration_1_rgb_renders_the_same_as_interleaved():
    rgb = np.random.default_rng(14).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    rgba = assert_matches_reference(synthetic_instance(rgb, PlanarConfiguration=1))
    np.testing.assert_array_equal(rgba[..., :3], rgb)


def test_window_and_invert_on_a_colour_image_act_on_each_channel():
    rgb = np.random.default_rng(15).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    ds = synthetic_instance(rgb)
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    assert frame.is_color and frame.default_window() is None
    rgba = render_rgba(frame, VOIWindow(128, 64, "LINEAR_EXACT"))
    expected = np.rint(np.clip((rgb.astype(float) - 128) / 64 + 0.5, 0, 1) * 255)
    np.testing.assert_array_equal(rgba[..., :3], expected)
    np.testing.assert_array_equal(render_rgba(frame, invert=True)[..., :3], 255 - rgb)
    assert (rgba[..., 3] == 255).all()


def test_palette_color_ignores_windows_and_inverts_on_request():
    ds = load("examples_palette.dcm")
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    plain = render_rgba(frame)
    np.testing.assert_array_equal(render_rgba(frame, VOIWindow(10, 5)), plain)
    np.testing.assert_array_equal(render_rgba(frame, invert=True)[..., :3], 255 - plain[..., :3])
    np.testing.assert_array_equal(frame.values, ds.pixel_array)


def enhanced_instance(
    stored: np.ndarray, groups: list[tuple[float, float, float, float]]
) -> Dataset:
    """Frames with per-frame (slope, intercept, center, width) functional groups."""
    ds = synthetic_instance(stored[0])
    ds.NumberOfFrames = len(stored)
    ds.PixelData = stored.astype("<i2").tobytes()
    items = []
    for slope, intercept, center, width in groups:
        transformation, voi, item = Dataset(), Dataset(), Dataset()
        transformation.RescaleSlope, transformation.RescaleIntercept = slope, intercept
        voi.WindowCenter, voi.WindowWidth = center, width
        item.PixelValueTransformationSequence = [transformation]
        item.FrameVOILUTSequence = [voi]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    return ds


def test_enhanced_multi_frame_uses_each_frames_functional_groups():
    stored = np.stack([ct_like(16), ct_like(17)])
    groups = [(1, -1024, 40, 400), (2, 10, -500, 3000)]
    ds = enhanced_instance(stored, groups)
    for index, (slope, intercept, center, width) in enumerate(groups):
        rgba = render_frame(
            frames_of(ds)[index], ds.file_meta.TransferSyntaxUID, metadata_of(ds), index
        )
        classic = synthetic_instance(
            stored[index],
            RescaleSlope=slope,
            RescaleIntercept=intercept,
            WindowCenter=center,
            WindowWidth=width,
        )
        expected = reference_render(classic)
        assert np.abs(rgba[..., 0].astype(int) - expected).max() <= 1


def test_values_are_modality_values_and_stored_values_stay_compact():
    ds = load("CT_small.dcm")
    frame = prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds))
    assert frame.stored.dtype == np.int16 and frame.values.dtype == np.int16
    np.testing.assert_array_equal(frame.values, ds.pixel_array.astype(int) - 1024)
    assert frame.values is frame.values  # computed once


def test_prepare_frame_rejects_a_frame_index_beyond_the_instance():
    ds = load("rtdose.dcm")
    with pytest.raises(ValueError, match="frame index 15 is out of range .* 15 frame"):
        prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata_of(ds), 15)


def test_prepare_frame_names_a_missing_pixel_module_attribute():
    ds = load("MR_small.dcm")
    metadata = metadata_of(ds)
    del metadata.PhotometricInterpretation
    with pytest.raises(PixelModuleError, match="PhotometricInterpretation"):
        prepare_frame(frames_of(ds)[0], ds.file_meta.TransferSyntaxUID, metadata)
