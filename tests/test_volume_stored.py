"""ohifpy.volume holds each slice once, at its stored size: the stored values and the linear
rescale the frames share, not float32 modality values beside or instead of them.

A volume of frames with a fractional rescale (MR's, PET's) is held at 2 bytes a voxel; its
frames, planes and modality values are what the float32 volume of the old path gives:
exactly for frames and planes on the voxels, to float32 rounding for interpolated ones.
Frames whose rescales differ make the volume hold modality values, still exact. Pure numpy:
runs under Pyodide too.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from test_reformat import views_of
from test_volume import SHAPE, STACKS, WINDOW, slice_order

from ohifpy.imaging import ImageFrame, LookupTable, ModalityTransform, VOIWindow, render_rgba
from ohifpy.imaging.reformat import SLAB_MODES, Slab
from ohifpy.volume import Volume, VolumeGeometry

MR_RESCALE = ModalityTransform(slope=0.5, intercept=3.0)
MR_WINDOW = VOIWindow(260, 500)


def stored_of(hu: np.ndarray, dtype: type = np.uint16) -> np.ndarray:
    """The phantom as an MR's stored values: 0 outside, up to 2,000 (spheres), in `dtype`."""
    return ((hu.astype(np.int32) + 1000) + np.arange(hu.shape[-1]) % 7).astype(dtype)


def mr_frame(stored: np.ndarray, modality: ModalityTransform = MR_RESCALE) -> ImageFrame:
    return ImageFrame(stored, "MONOCHROME2", modality, windows=(MR_WINDOW,))


def filled(name: str, frames: list[ImageFrame]) -> tuple[Volume, VolumeGeometry]:
    """A volume of one stack's geometry with ``frames[k]`` as slice k, put in display order."""
    display_set = STACKS[name].display_set()
    geometry = VolumeGeometry.from_display_set(display_set)
    order = slice_order(display_set)
    volume = Volume(geometry, frames[order[0]])
    for k, slot in zip(order, geometry.slots, strict=True):
        volume.put(slot, frames[k])
    return volume, geometry


def old_volume(geometry: VolumeGeometry, frames: list[ImageFrame]) -> Volume:
    """What the volume held before: every slice's modality values (float32)."""
    return Volume.of_voxels(geometry, np.stack([f.values for f in frames]))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_a_fractional_rescale_is_held_at_the_stored_size(dtype: type) -> None:
    stored = stored_of(STACKS["axial"].hu(), dtype)
    frames = [mr_frame(s) for s in stored]
    volume, _ = filled("axial", frames)
    assert volume.stored.dtype == dtype and volume.nbytes == np.prod(SHAPE) * 2
    assert volume.modality is frames[0].modality
    assert volume.background == 0  # the first frame's lowest stored value
    assert np.array_equal(volume.values(), np.stack([f.values for f in frames]))
    for slot in (0, 17, 39):
        view = volume.frame(slot)
        assert view is not None and np.shares_memory(view.stored, volume.stored)
        assert view.values.dtype == np.float32
        assert np.array_equal(view.values, frames[slot].values)  # bit for bit
        assert view.default_window() == frames[slot].default_window()
        for window in (None, MR_WINDOW, VOIWindow(3.25, 1.0)):
            for invert in (False, True):
                assert np.array_equal(render_rgba(view, window, invert=invert),
                                      render_rgba(frames[slot], window, invert=invert))
        # A slice's modality values are computed when asked, never kept beside it.
        assert view.values is not view.values and "values" not in vars(view)


@pytest.mark.parametrize("view", ["axial", "sagittal", "coronal"])
@pytest.mark.parametrize("acquisition", ["axial", "oblique"])
def test_planes_of_stored_values_are_those_of_the_float_volume(acquisition: str,
                                                               view: str) -> None:
    """Exact slices equal the float volume's bit for bit; interpolated planes and slabs
    (a rescale commutes with them) to float32 rounding, and render alike."""
    frames = [mr_frame(s) for s in stored_of(STACKS[acquisition].hu())]
    volume, geometry = filled(acquisition, frames)
    old = old_volume(geometry, frames)
    old.frames = volume.frames  # the same template: windows, photometric interpretation
    views = views_of(acquisition)
    grid = views.grid(view)
    index = grid.index_of(STACKS[acquisition].sphere_centre)
    plane = grid.plane(index)
    exact = acquisition != "oblique"
    for slab in (None, *(Slab(6.0, mode, grid.step) for mode in SLAB_MODES)):
        new, before = volume.plane_frame(plane, slab), old.plane_frame(plane, slab)
        assert new.modality is volume.modality and before.modality.is_identity
        assert new.values.dtype == before.values.dtype == np.float32
        rendered, expected = render_rgba(new, MR_WINDOW), render_rgba(before, MR_WINDOW)
        if exact and (slab is None or slab.mode != "mean"):
            assert new.stored.dtype == np.uint16
            assert np.array_equal(new.values, before.values)
            assert np.array_equal(rendered, expected)
        else:
            np.testing.assert_allclose(new.values, before.values, rtol=1e-6, atol=1e-3)
            assert np.abs(rendered.astype(int) - expected).max() <= 1


def test_frames_whose_rescales_differ_widen_to_float32_and_stay_exact() -> None:
    """PET: each slice its own slope. The first is held stored; the second another slope,
    so the volume holds modality values from then on, every slice as its frame's values."""
    stored = stored_of(STACKS["axial"].hu())
    frames = [mr_frame(s, ModalityTransform(slope=0.25 + k / 64, intercept=-1.5))
              for k, s in enumerate(stored)]
    volume = Volume(STACKS["axial"].geometry(), frames[20])
    view = volume.put(20, frames[20])
    assert volume.stored.dtype == np.uint16 and view.modality is frames[20].modality
    for k in (*range(20), *range(21, 40)):
        volume.put(k, frames[k])
    assert volume.stored.dtype == np.float32 and volume.nbytes == np.prod(SHAPE) * 4
    assert volume.modality.is_identity and volume.background == pytest.approx(-1.5)
    for slot in range(40):
        assert np.array_equal(volume.frame(slot).values, frames[slot].values)
        assert np.array_equal(render_rgba(volume.frame(slot), MR_WINDOW),
                              render_rgba(frames[slot], MR_WINDOW))
    assert np.array_equal(volume.values(), np.stack([f.values for f in frames]))
    assert volume.values() is volume.stored


@pytest.mark.parametrize(("dtype", "padding"), [(np.uint16, 65535), (np.int16, -32768)])
def test_ct_is_held_at_2_bytes_a_voxel_whatever_its_extremes(dtype: type, padding: int) -> None:
    """Modality values of these would need int32 (65535 - 1024 > 32767, -32768 - 1024);
    the stored values fit where they came from."""
    hu = STACKS["axial"].hu()
    stored = (hu.astype(np.int32) + 1024).astype(dtype)
    stored[:, 0, 0] = padding
    frames = [ImageFrame(s, "MONOCHROME2", ModalityTransform(intercept=-1024), windows=(WINDOW,))
              for s in stored]
    assert frames[0].values.dtype == np.int32
    volume, _ = filled("axial", frames)
    assert volume.stored.dtype == dtype and volume.nbytes == np.prod(SHAPE) * 2
    for slot in (0, 39):
        assert np.array_equal(volume.frame(slot).values, frames[slot].values)
        assert np.array_equal(render_rgba(volume.frame(slot), WINDOW),
                              render_rgba(frames[slot], WINDOW))


@pytest.mark.parametrize("modality", [
    ModalityTransform(slope=-0.5, intercept=100.0),  # a maximum of stored is a minimum
    ModalityTransform(lut=LookupTable(first_mapped=0, bits=16,
                                      data=(np.arange(2100) * 3).astype(np.uint16))),
], ids=["negative slope", "Modality LUT"])
def test_a_rescale_that_does_not_commute_holds_modality_values(
        modality: ModalityTransform) -> None:
    frames = [mr_frame(s, modality) for s in stored_of(STACKS["axial"].hu())]
    volume, _ = filled("axial", frames)
    assert volume.modality.is_identity
    assert volume.stored.dtype == frames[0].values.dtype
    assert np.array_equal(volume.values(), np.stack([f.values for f in frames]))


@pytest.mark.parametrize("modality", [MR_RESCALE, ModalityTransform(intercept=-1024),
                                      ModalityTransform(slope=0.75)])
def test_a_put_frame_is_one_copy(modality: ModalityTransform) -> None:
    """Into stored voxels and into modality values alike, put allocates no array the size
    of the frame (numpy's allocations are traced)."""
    stored = (np.arange(512 * 512) % 4001).astype(np.uint16).reshape(512, 512)
    geometry = VolumeGeometry((2, 512, 512), np.eye(4), (0, 1))
    volume = Volume(geometry, mr_frame(stored, modality))
    other = Volume(geometry, mr_frame(stored, modality))
    other.put(0, mr_frame(stored, ModalityTransform(slope=3.0)))  # holds modality values
    assert other.modality.is_identity
    for target in (volume, other):
        frame = mr_frame(stored + 1, modality)
        tracemalloc.start()
        try:
            target.put(1, frame)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < stored.nbytes // 4  # a float32 copy would be 2 x its size
        assert np.array_equal(target.frame(1).values, frame.values)


def test_apply_into_out_equals_apply() -> None:
    stored = stored_of(STACKS["axial"].hu()[18])
    for modality in (MR_RESCALE, ModalityTransform(intercept=-1024), ModalityTransform()):
        values = modality.apply(stored)
        assert values.dtype == modality.dtype_of(stored)
        out = np.empty(stored.shape, np.float32)
        assert modality.apply(stored, out=out) is out and np.array_equal(out, values)
