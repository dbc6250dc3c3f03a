"""ohifpy.overlays.seg: DICOM SEG frames -> per-segment masks on the right source images.

SEGs written here with pydicom (so these run under Pyodide too) cover bit-packed frames that
do not start on a byte, fractional and label-map frames, matching by reference and by
position, frame-by-frame loading and the reasons nothing can be shown. The test data's SEGs
(written by highdicom: CPython only) are checked against the synthetic structures they were
made from: masks, colours, voxel counts, volumes and the CT values under them.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels.encoders import RLELosslessEncoder
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from ohifpy import synthetic_objects
from ohifpy.model import Instance
from ohifpy.overlays.cielab import default_color, rgb_to_dicom_lab
from ohifpy.overlays.seg import (
    LABEL_MAP_SEGMENTATION_STORAGE,
    SEGMENTATION_STORAGE,
    Segmentation,
    SegmentationError,
    SourceImage,
    image_key,
    is_segmentation,
    segment_statistics,
    unpack_bits,
)

ROWS, COLUMNS = 7, 9  # 63 pixels: bit-packed frames after the first start inside a byte
SPACING = (0.5, 0.8)  # row spacing, column spacing (mm)
SLICE_MM = 2.0
ORIGIN = (-10.0, 20.0, 30.0)
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
STUDY, SERIES, FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.9.7", "1.2.826.0.1.3680043.9.7.1", \
    "1.2.826.0.1.3680043.9.7.9"
RED, BLUE = (220, 50, 50), (50, 160, 230)


def ct_headers(count: int = 6, rows: int = ROWS, columns: int = COLUMNS,
               series: str = SERIES, spacing: Sequence[float] = SPACING,
               slice_mm: float = SLICE_MM) -> list[Dataset]:
    """Header-only CT slices (head to feet), the source images of the SEGs below."""
    headers = []
    for i in range(count):
        ds = Dataset()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, series
        ds.SOPInstanceUID = f"{series}.{i + 1}"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
        ds.Modality, ds.InstanceNumber = "CT", i + 1
        ds.Rows, ds.Columns = rows, columns
        ds.PixelSpacing = list(spacing)
        ds.ImageOrientationPatient = list(AXIAL)
        ds.ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] - i * slice_mm]
        headers.append(ds)
    return headers


def images_of(headers: Sequence[Dataset]) -> list[Any]:
    """The model's images (ohifpy.model.ImageRef) of header datasets."""
    return [ref for ds in headers for ref in Instance.from_dataset(ds).frames()]


def seg_dataset(frames: Sequence[tuple[int, Dataset, np.ndarray]], *,
                segments: Sequence[tuple[int, str, tuple[int, int, int] | None]] = (
                    (1, "Red", RED), (2, "Blue", BLUE), (3, "Plain", None)),
                seg_type: str = "BINARY", max_fraction: int = 255,
                references: bool = True, positions: bool = True,
                rows: int = ROWS, columns: int = COLUMNS,
                source_series: str = SERIES, spacing: Sequence[float] = SPACING,
                slice_mm: float | None = SLICE_MM) -> Dataset:
    """A SEG written with pydicom: ``frames`` are (segment number, source header, mask)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    labelmap = seg_type == "LABELMAP"
    ds.SOPClassUID = LABEL_MAP_SEGMENTATION_STORAGE if labelmap else SEGMENTATION_STORAGE
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.9.7.2.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, "1.2.826.0.1.3680043.9.7.2"
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.Modality, ds.SeriesDescription = "SEG", "test SEG"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, len(frames)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelRepresentation = 0
    bits = 1 if seg_type == "BINARY" else 8
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.SegmentationType = seg_type
    if seg_type == "FRACTIONAL":
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = max_fraction
    ds.ContentLabel = "TEST"
    items = []
    for number, label, rgb in segments:
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel = number, label
        item.SegmentAlgorithmType = "MANUAL"
        if rgb is not None:
            item.RecommendedDisplayCIELabValue = list(rgb_to_dicom_lab(rgb))
        items.append(item)
    ds.SegmentSequence = items
    shared, orientation, measures = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = list(AXIAL)
    measures.PixelSpacing = list(spacing)
    if slice_mm is not None:
        measures.SliceThickness = measures.SpacingBetweenSlices = slice_mm
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = [orientation], [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for number, source, _ in frames:
        item = Dataset()
        if references:
            derivation, image = Dataset(), Dataset()
            image.ReferencedSOPClassUID = source.SOPClassUID
            image.ReferencedSOPInstanceUID = source.SOPInstanceUID
            derivation.SourceImageSequence = [image]
            item.DerivationImageSequence = [derivation]
        if positions:
            position = Dataset()
            position.ImagePositionPatient = list(source.ImagePositionPatient)
            item.PlanePositionSequence = [position]
        if not labelmap:
            identification = Dataset()
            identification.ReferencedSegmentNumber = number
            item.SegmentIdentificationSequence = [identification]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    series = Dataset()
    series.SeriesInstanceUID = source_series
    ds.ReferencedSeriesSequence = [series]
    stacked = np.stack([mask for _, _, mask in frames]).astype(np.uint8)
    if bits == 1:
        ds.PixelData = np.packbits(stacked.ravel(), bitorder="little").tobytes()
    else:
        ds.PixelData = stacked.tobytes()
    return ds


def random_masks(count: int, seed: int, rows: int = ROWS, columns: int = COLUMNS) -> np.ndarray:
    masks = np.random.default_rng(seed).random((count, rows, columns)) < 0.35
    masks[:, 0, :] = False  # a margin, so bounding boxes are not the whole frame
    return masks.astype(np.uint8)


def reread(ds: Dataset) -> Dataset:
    """``ds`` written to a file and read back by pydicom (what the viewer gets locally)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer, force=True)


# ---------------------------------------------------------------------------------------
# binary, bit-packed


def test_unpack_bits_reads_the_least_significant_bit_first() -> None:
    # PS3.5 8.1.1: the first pixel is the lowest bit of the first byte
    assert unpack_bits(bytes([0b00000101, 0b10000000]), 9).tolist() == [1, 0, 1, 0, 0, 0, 0, 0,
                                                                          0]
    assert unpack_bits(bytes([0b00000101, 0b10000000]), 3, bit_offset=13).tolist() == [0, 0, 1]
    with pytest.raises(SegmentationError, match="holds no"):
        unpack_bits(b"\x01", 9)


def test_bit_packed_frames_become_masks_on_their_source_images() -> None:
    headers = ct_headers()
    masks = random_masks(9, seed=1)
    # three segments on a few slices each, in no particular order
    plan = [(1, 0), (1, 1), (1, 2), (2, 4), (2, 1), (3, 5), (3, 3), (2, 2), (1, 3)]
    frames = [(number, headers[i], masks[k]) for k, (number, i) in enumerate(plan)]
    seg = Segmentation.from_dataset(reread(seg_dataset(frames)))
    assert (seg.segmentation_type, seg.number_of_frames, seg.rows, seg.columns) == (
        "BINARY", 9, ROWS, COLUMNS)
    assert seg.pixels_loaded and seg.source_series_uids == (SERIES,)
    for k in range(len(frames)):  # frames 1.. start at bit 63 k: inside a byte
        assert np.array_equal(seg.frame_values(k), masks[k])
    overlay = seg.match(images_of(headers))
    assert overlay.ok and (overlay.matched_by_reference, overlay.matched_by_position) == (9, 0)
    for i, image in enumerate(images_of(headers)):
        expected = {n: masks[k].astype(bool) for k, (n, j) in enumerate(plan) if j == i}
        got = overlay.masks_for(image)
        assert [n for n, _ in got] == sorted(expected)
        for number, mask in got:
            assert mask.dtype == bool and mask.shape == (ROWS, COLUMNS)
            assert np.array_equal(mask, expected[number])
    assert overlay.segment_images(2) == [(headers[i].SOPInstanceUID, 1) for i in (1, 2, 4)]


def test_byte_aligned_frames_crop_on_the_packed_bytes() -> None:
    headers = ct_headers(5, rows=12, columns=16)
    masks = random_masks(5, seed=2, rows=12, columns=16)
    masks[3] = 0  # an empty frame
    masks[4] = 0
    masks[4, 5, 9] = 1  # one pixel, mid-byte
    frames = [(1, headers[i], masks[i]) for i in range(5)]
    seg = Segmentation.from_dataset(seg_dataset(frames, rows=12, columns=16))
    for i in range(5):
        assert np.array_equal(seg.frame_values(i), masks[i])
    assert seg.frame_sums().tolist() == masks.reshape(5, -1).sum(axis=1).tolist()
    overlay = seg.match(images_of(headers))
    assert overlay.masks_for(images_of(headers)[3]) == []
    ((number, mask),) = overlay.masks_for((headers[4].SOPInstanceUID, 1))
    assert number == 1 and np.argwhere(mask).tolist() == [[5, 9]]
    assert overlay.centre(1) is not None


def test_frames_without_references_match_by_position() -> None:
    headers = ct_headers()
    masks = random_masks(4, seed=3)
    plan = [(1, 5), (1, 0), (2, 3), (3, 3)]
    frames = [(n, headers[i], masks[k]) for k, (n, i) in enumerate(plan)]
    seg = Segmentation.from_dataset(seg_dataset(frames, references=False))
    images = images_of(headers)[::-1]  # any order
    overlay = seg.match(images)
    assert overlay.ok and (overlay.matched_by_reference, overlay.matched_by_position) == (0, 4)
    for k, (number, i) in enumerate(plan):
        masks_here = dict(overlay.masks_for(images_of(headers)[i]))
        assert np.array_equal(masks_here[number], masks[k].astype(bool))
    # positions written with rounding (DS strings) still match; a slice's gap away does not
    nudged = seg_dataset(frames, references=False)
    for item in nudged.PerFrameFunctionalGroupsSequence:
        x, y, z = item.PlanePositionSequence[0].ImagePositionPatient
        item.PlanePositionSequence[0].ImagePositionPatient = [x + 0.01, y - 0.01, z + 0.02]
    assert Segmentation.from_dataset(nudged).match(images).matched_by_position == 4
    off = seg_dataset(frames, references=False)
    for item in off.PerFrameFunctionalGroupsSequence:
        x, y, z = item.PlanePositionSequence[0].ImagePositionPatient
        item.PlanePositionSequence[0].ImagePositionPatient = [x, y, z - 0.9]
    overlay = Segmentation.from_dataset(off).match(images)
    assert not overlay.ok and "no frame lies on an image plane" in overlay.reason


def test_references_win_over_positions_and_unknown_references_fall_back() -> None:
    headers = ct_headers()
    masks = random_masks(2, seed=4)
    ds = seg_dataset([(1, headers[0], masks[0]), (2, headers[1], masks[1])])
    # frame 2 names an image the series does not have: its position still places it
    ds.PerFrameFunctionalGroupsSequence[1].DerivationImageSequence[0].SourceImageSequence[0] \
        .ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    overlay = Segmentation.from_dataset(ds).match(images_of(headers))
    assert (overlay.matched_by_reference, overlay.matched_by_position) == (1, 1)
    assert overlay.image_of_frame == {0: (headers[0].SOPInstanceUID, 1),
                                      1: (headers[1].SOPInstanceUID, 1)}


def test_unmatched_frames_are_noted() -> None:
    headers = ct_headers()
    masks = random_masks(2, seed=5)
    ds = seg_dataset([(1, headers[0], masks[0]), (1, headers[1], masks[1])])
    overlay = Segmentation.from_dataset(ds).match(images_of(headers[:1]))
    assert overlay.ok and overlay.unmatched == (1,)
    assert overlay.notes == ("1 of 2 frames match no image of the series and are not shown",)


def test_frame_by_frame_loading_gives_the_same_masks() -> None:
    headers = ct_headers()
    masks = random_masks(6, seed=6)
    frames = [(1 + k % 3, headers[k], masks[k]) for k in range(6)]
    ds = seg_dataset(frames)
    del ds.PixelData
    seg = Segmentation.from_dataset(ds)
    assert not seg.pixels_loaded
    overlay = seg.match(images_of(headers))
    with pytest.raises(SegmentationError, match="not loaded"):
        overlay.masks_for(images_of(headers)[0])
    for k in range(6):  # as WADO-RS returns each: from the first bit of its own bytes
        frame = np.packbits(masks[k].ravel(), bitorder="little").tobytes()
        seg.set_frame(k + 1, frame, ExplicitVRLittleEndian)
    assert seg.pixels_loaded
    for k, image in enumerate(images_of(headers)):
        ((number, mask),) = overlay.masks_for(image)
        assert number == 1 + k % 3 and np.array_equal(mask, masks[k].astype(bool))
    with pytest.raises(SegmentationError, match="out of range"):
        seg.set_frame(7, b"\0" * 8, ExplicitVRLittleEndian)


def test_pixel_data_arriving_later_and_too_short() -> None:
    headers = ct_headers()
    masks = random_masks(3, seed=7)
    ds = seg_dataset([(1, headers[k], masks[k]) for k in range(3)])
    data = ds.PixelData
    del ds.PixelData
    seg = Segmentation.from_dataset(ds)
    with pytest.raises(SegmentationError, match="need 24"):
        seg.load_pixel_data(data[:-1])
    seg.load_pixel_data(data)
    assert np.array_equal(seg.frame_values(2), masks[2])


# ---------------------------------------------------------------------------------------
# fractional and label map


def test_fractional_frames_are_fractions_of_the_maximum() -> None:
    headers = ct_headers()
    rng = np.random.default_rng(8)
    values = rng.integers(0, 201, (3, ROWS, COLUMNS)).astype(np.uint8)
    values[values < 80] = 0
    frames = [(1, headers[0], values[0]), (2, headers[0], values[1]), (1, headers[2], values[2])]
    seg = Segmentation.from_dataset(reread(seg_dataset(frames, seg_type="FRACTIONAL",
                                                       max_fraction=200)))
    assert (seg.segmentation_type, seg.max_fractional_value) == ("FRACTIONAL", 200)
    overlay = seg.match(images_of(headers))
    got = dict(overlay.masks_for(images_of(headers)[0]))
    assert got[1].dtype == np.float32
    np.testing.assert_allclose(got[1], values[0] / 200, rtol=1e-6)
    np.testing.assert_allclose(got[2], values[1] / 200, rtol=1e-6)
    hu = {image_key(image): rng.normal(40, 30, (ROWS, COLUMNS)) for image in images_of(headers)}
    stats = {s.segment_number: s for s in segment_statistics(overlay, hu, unit="HU")}
    fractions = values / 200
    voxel_ml = SPACING[0] * SPACING[1] * SLICE_MM / 1000
    one = stats[1]
    assert one.voxels == pytest.approx(fractions[0].sum() + fractions[2].sum())
    assert one.volume_ml == pytest.approx(one.voxels * voxel_ml)
    keys = [image_key(i) for i in images_of(headers)]
    weights = np.concatenate([fractions[0].ravel(), fractions[2].ravel()])
    under = np.concatenate([hu[keys[0]].ravel(), hu[keys[2]].ravel()])
    assert one.mean == pytest.approx((weights * under).sum() / weights.sum())
    assert (one.minimum, one.maximum) == (under[weights > 0].min(), under[weights > 0].max())
    assert one.unit == "HU" and stats[3].voxels == 0 and stats[3].mean is None


def test_fractional_needs_a_maximum() -> None:
    ds = seg_dataset([(1, ct_headers()[0], np.ones((ROWS, COLUMNS), np.uint8))],
                     seg_type="FRACTIONAL")
    del ds.MaximumFractionalValue
    with pytest.raises(SegmentationError, match="MaximumFractionalValue"):
        Segmentation.from_dataset(ds)


def test_a_label_map_frame_holds_every_segment() -> None:
    headers = ct_headers()
    labels = np.zeros((2, ROWS, COLUMNS), np.uint8)
    labels[0, 1:3, 1:4] = 1
    labels[0, 4:6, 5:8] = 2
    labels[1, 2, 2] = 3
    ds = seg_dataset([(0, headers[1], labels[0]), (0, headers[4], labels[1])],
                     seg_type="LABELMAP")
    seg = Segmentation.from_dataset(ds)
    assert seg.segmentation_type == "LABELMAP" and {f.segment_number for f in seg.frames} == {0}
    overlay = seg.match(images_of(headers))
    got = dict(overlay.masks_for(images_of(headers)[1]))
    assert sorted(got) == [1, 2]
    assert np.array_equal(got[1], labels[0] == 1) and np.array_equal(got[2], labels[0] == 2)
    assert overlay.segment_images(3) == [(headers[4].SOPInstanceUID, 1)]
    stats = {s.segment_number: s.voxels for s in segment_statistics(overlay)}
    assert stats == {1: 6.0, 2: 6.0, 3: 1.0}


# ---------------------------------------------------------------------------------------
# segments, colours, reasons


def test_segments_colours_and_notes() -> None:
    headers = ct_headers()
    ds = seg_dataset([(1, headers[0], random_masks(1, 9)[0])])
    ds.SegmentSequence[0].SegmentDescription = "a red one"
    seg = Segmentation.from_dataset(ds)
    red, blue, plain = seg.segments
    assert (red.number, red.label, red.description, red.color, red.color_source) == (
        1, "Red", "a red one", RED, "RecommendedDisplayCIELabValue")
    assert red.cielab == rgb_to_dicom_lab(RED) and blue.color == BLUE
    assert (plain.color, plain.color_source, plain.cielab) == (default_color(3), "default", None)
    assert seg.notes == (
        "no RecommendedDisplayCIELabValue for segment(s) 3 (Plain): shown in default colours",)
    assert seg.segment(2) is blue
    with pytest.raises(SegmentationError, match="no segment 9"):
        seg.segment(9)
    panel = seg.to_json()
    assert [s["label"] for s in panel["segments"]] == ["Red", "Blue", "Plain"]
    assert panel["segments"][2]["colorSource"] == "default"
    assert json.loads(json.dumps(panel)) == panel


def test_a_hostile_label_is_kept_as_text() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    ds = seg_dataset([(1, ct_headers()[0], random_masks(1, 10)[0])],
                     segments=[(1, hostile, None)])
    seg = Segmentation.from_dataset(reread(ds))
    assert seg.segments[0].label == hostile
    assert seg.to_json()["segments"][0]["label"] == hostile


def test_a_frame_naming_an_unknown_segment_gets_a_default_one() -> None:
    headers = ct_headers()
    ds = seg_dataset([(7, headers[0], random_masks(1, 11)[0])])
    seg = Segmentation.from_dataset(ds)
    assert seg.segment(7).color == default_color(7)
    assert any("segment 7" in note for note in seg.notes)


def test_a_single_segment_seg_without_segment_identification() -> None:
    headers = ct_headers()
    ds = seg_dataset([(1, headers[0], random_masks(1, 12)[0])], segments=[(1, "Only", RED)])
    del ds.PerFrameFunctionalGroupsSequence[0].SegmentIdentificationSequence
    seg = Segmentation.from_dataset(ds)
    assert seg.frames[0].segment_number == 1


def test_missing_source_images_give_the_reason() -> None:
    headers = ct_headers()
    ds = seg_dataset([(1, headers[0], random_masks(1, 13)[0])], references=True)
    seg = Segmentation.from_dataset(ds)
    assert seg.source_series_reason([SERIES, "1.2.3"]) == ""
    assert seg.source_series_reason(["1.2.3"]) == (
        f"the segmentation's source series {SERIES} is not in this study")
    assert seg.match([]).reason == "the segmentation's source images are not loaded"
    others = images_of(ct_headers(series="1.2.826.0.1.3680043.9.7.5"))
    overlay = seg.match(others)
    assert not overlay.ok and overlay.masks_for(others[0]) == []
    assert overlay.reason.startswith("the images are of series 1.2.826.0.1.3680043.9.7.5, the "
                                     f"segmentation's source series is {SERIES}")


def test_reasons_for_other_grids_and_planes() -> None:
    headers = ct_headers()
    frames = [(1, headers[0], random_masks(1, 14)[0])]
    seg = Segmentation.from_dataset(seg_dataset(frames, references=False))
    bigger = images_of(ct_headers(rows=ROWS * 2, columns=COLUMNS * 2))
    assert "pixel grid" in seg.match(bigger).reason
    referring = Segmentation.from_dataset(seg_dataset(frames, references=True))
    assert "are not on the images' 18x14 pixel grid" in referring.match(bigger).reason
    sagittal = [SourceImage(f"1.9.{i}", 1, (i * 1.0, 0.0, 0.0), (0, 1, 0, 0, 0, -1), ROWS,
                            COLUMNS) for i in range(3)]
    assert "not parallel" in seg.match(sagittal).reason


@pytest.mark.parametrize(("change", "message"), [
    (lambda ds: setattr(ds, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2"), "not a Segmentation"),
    (lambda ds: delattr(ds, "SegmentSequence"), "no SegmentSequence"),
    (lambda ds: setattr(ds, "SegmentationType", "FUZZY"), "FUZZY"),
    (lambda ds: setattr(ds, "BitsAllocated", 8), "BitsAllocated 8"),
    (lambda ds: delattr(ds, "Rows"), "Rows"),
])
def test_segmentations_that_cannot_be_read(change: Any, message: str) -> None:
    ds = seg_dataset([(1, ct_headers()[0], random_masks(1, 15)[0])])
    change(ds)
    with pytest.raises(SegmentationError, match=message):
        Segmentation.from_dataset(ds)


def test_is_segmentation() -> None:
    assert is_segmentation(SEGMENTATION_STORAGE) and is_segmentation(
        LABEL_MAP_SEGMENTATION_STORAGE)
    assert not is_segmentation("1.2.840.10008.5.1.4.1.1.2")
    assert is_segmentation(seg_dataset([(1, ct_headers()[0], random_masks(1, 16)[0])]))


def test_dicom_json_reads_like_the_dataset() -> None:
    headers = ct_headers()
    masks = random_masks(4, seed=17)
    ds = seg_dataset([(1 + k % 2, headers[k], masks[k]) for k in range(4)])
    from_dataset = Segmentation.from_dataset(ds)
    obj = json.loads(json.dumps(ds.to_json_dict()))  # PixelData as InlineBinary
    from_json = Segmentation.from_json(obj)
    assert from_json.frames == from_dataset.frames
    assert from_json.segments == from_dataset.segments
    assert (from_json.orientation, from_json.pixel_spacing, from_json.source_series_uids) == (
        from_dataset.orientation, from_dataset.pixel_spacing, from_dataset.source_series_uids)
    for k in range(4):
        assert np.array_equal(from_json.frame_values(k), masks[k])


# ---------------------------------------------------------------------------------------
# known structures: voxel counts and volumes


def test_volumes_of_known_structures_on_a_coarse_grid() -> None:
    rows = columns = 40
    headers = ct_headers(16, rows=rows, columns=columns, spacing=(2.0, 2.0), slice_mm=2.5)
    x, y, z = synthetic_objects.voxel_centres(headers)
    structures = [
        synthetic_objects.Structure(1, "Ball", "sphere", (0.0, 55.0, 12.0), (9.0,), RED),
        # box faces between voxel centres: its voxels fill it exactly
        synthetic_objects.Structure(2, "Brick", "box", (5.0, 46.0, 15.0), (6.0, 5.0, 3.75), BLUE),
    ]
    masks = [s.contains(x, y, z) for s in structures]
    frames = [(s.number, headers[i], m[i]) for s, m in zip(structures, masks)
              for i in range(len(headers)) if m[i].any()]
    overlay = Segmentation.from_dataset(reread(seg_dataset(
        frames, rows=rows, columns=columns, spacing=(2.0, 2.0), slice_mm=2.5))).match(
        images_of(headers))
    values = {image_key(image): np.full((rows, columns), float(i))
              for i, image in enumerate(images_of(headers))}
    stats = segment_statistics(overlay, values, unit="HU")
    for structure, mask, stat in zip(structures, masks, stats):
        assert stat.voxels == mask.sum()
        assert stat.volume_ml == pytest.approx(mask.sum() * 2.0 * 2.0 * 2.5 / 1000)
        assert stat.volume_ml == pytest.approx(structure.volume_ml, rel=0.12)
        slices = np.flatnonzero(mask.any(axis=(1, 2)))
        assert (stat.minimum, stat.maximum) == (slices.min(), slices.max())
        per_slice = mask.sum(axis=(1, 2))
        assert stat.mean == pytest.approx((per_slice * np.arange(16)).sum() / per_slice.sum())
    key, column, row = overlay.centre(1)
    centre_slice = int(np.rint((ORIGIN[2] - 12.0) / 2.5))
    assert key == image_key(images_of(headers)[centre_slice])
    assert (column * 2.0 + ORIGIN[0], row * 2.0 + ORIGIN[1]) == pytest.approx((0.0, 55.0),
                                                                               abs=0.5)


def test_statistics_without_spacing_or_values() -> None:
    headers = ct_headers()
    ds = seg_dataset([(1, headers[0], random_masks(1, 18)[0])], slice_mm=None)
    del ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence
    overlay = Segmentation.from_dataset(ds).match(images_of(headers[:1]))
    first = segment_statistics(overlay)[0]
    assert first.volume_ml is None and first.mean is None
    assert "no pixel or slice spacing: no volume" in first.notes
    with_size = segment_statistics(overlay, lambda key: None, voxel_size_mm=(1, 1, 2))[0]
    assert with_size.volume_ml == pytest.approx(first.voxels * 2 / 1000)
    assert with_size.notes == ("1 frame(s) lie on images whose values are not loaded",)


# ---------------------------------------------------------------------------------------
# the test data's SEGs, written by highdicom (CPython only)


@pytest.fixture(scope="module")
def ct_seg() -> Any:
    from ohifpy import synthetic

    study = synthetic_objects.ct_seg_study(synthetic.ct_study(synthetic_objects.CT_SEG_SLICES))
    ct = list(study.datasets[:synthetic_objects.CT_SEG_SLICES])
    binary, fractional, structure_set = (reread(ds) for ds in
                                         study.datasets[synthetic_objects.CT_SEG_SLICES:])
    return ct, binary, fractional, structure_set


def ct_images(ct: Sequence[Dataset]) -> list[Any]:
    return images_of(ct)


@pytest.mark.cpython_only  # highdicom
def test_highdicom_binary_seg_masks_colours_and_volumes(ct_seg: Any) -> None:
    ct, binary, _, _ = ct_seg
    assert binary.BitsAllocated == 1 and binary.SegmentationType == "BINARY"
    seg = Segmentation.from_dataset(binary)
    assert [s.label for s in seg.segments] == [s.label for s in synthetic_objects.STRUCTURES]
    for segment, structure in zip(seg.segments, synthetic_objects.STRUCTURES):
        expected = structure.rgb or default_color(structure.number)
        assert segment.color == expected
        assert segment.color_source == ("default" if structure.rgb is None
                                        else "RecommendedDisplayCIELabValue")
    assert seg.source_series_uids == (str(ct[0].SeriesInstanceUID),)
    overlay = seg.match(ct_images(ct))
    assert overlay.ok and overlay.matched_by_reference == seg.number_of_frames
    x, y, z = synthetic_objects.voxel_centres(ct)
    inside = {s.number: s.contains(x, y, z) for s in synthetic_objects.STRUCTURES}
    for i, image in enumerate(ct_images(ct)):
        got = dict(overlay.masks_for(image))
        assert sorted(got) == [n for n, m in inside.items() if m[i].any()]
        for number, mask in got.items():
            assert np.array_equal(mask, inside[number][i])
    hu = {image_key(image): ds.pixel_array.astype(np.float64) - 1024
          for image, ds in zip(ct_images(ct), ct)}
    stack = np.stack([hu[image_key(image)] for image in ct_images(ct)])
    voxel_mm3 = 0.7 * 0.7 * 1.25
    for stat, structure in zip(segment_statistics(overlay, hu, unit="HU"),
                               synthetic_objects.STRUCTURES):
        mask = inside[structure.number]
        assert stat.voxels == mask.sum()
        assert stat.volume_ml == pytest.approx(mask.sum() * voxel_mm3 / 1000)
        assert stat.volume_ml == pytest.approx(structure.volume_ml, rel=0.05)
        assert stat.mean == pytest.approx(stack[mask].mean())
        assert (stat.minimum, stat.maximum) == (stack[mask].min(), stack[mask].max())


@pytest.mark.cpython_only  # highdicom
def test_highdicom_seg_without_references_matches_by_position(ct_seg: Any) -> None:
    ct, binary, _, _ = ct_seg
    binary = copy.deepcopy(binary)
    for item in binary.PerFrameFunctionalGroupsSequence:
        del item.DerivationImageSequence
    overlay = Segmentation.from_dataset(binary).match(ct_images(ct)[::-1])
    assert overlay.ok and overlay.matched_by_position == overlay.segmentation.number_of_frames
    x, y, z = synthetic_objects.voxel_centres(ct)
    sphere = synthetic_objects.STRUCTURES[0].contains(x, y, z)
    for i, image in enumerate(ct_images(ct)):
        got = dict(overlay.masks_for(image))
        assert np.array_equal(got.get(1, np.zeros_like(sphere[i])), sphere[i])


@pytest.mark.cpython_only  # highdicom
def test_highdicom_fractional_rle_seg(ct_seg: Any) -> None:
    ct, _, fractional, _ = ct_seg
    assert fractional.file_meta.TransferSyntaxUID == RLELossless
    seg = Segmentation.from_dataset(fractional)
    assert (seg.segmentation_type, seg.fractional_type, seg.max_fractional_value) == (
        "FRACTIONAL", "PROBABILITY", 255)
    assert seg.segments[1].color_source == "default" and seg.segments[0].color == (230, 120, 20)
    overlay = seg.match(ct_images(ct))
    assert overlay.ok
    expected = [synthetic_objects.fractional_values(s, ct)
                for s in synthetic_objects.FRACTIONAL_STRUCTURES]
    for i, image in enumerate(ct_images(ct)):
        got = dict(overlay.masks_for(image))
        for number, fractions in enumerate(expected, start=1):
            np.testing.assert_allclose(got.get(number, 0.0), fractions[i], atol=1e-6)
    voxel_mm3 = 0.7 * 0.7 * 1.25
    soft, box = segment_statistics(overlay)
    soft_shape, box_shape = synthetic_objects.FRACTIONAL_STRUCTURES
    assert soft.voxels == pytest.approx(expected[0].sum())
    # a probability falling linearly from the centre sums to pi r^3 / 3; the occupancies
    # of a box sum to its volume
    assert soft.volume_ml == pytest.approx(np.pi * soft_shape.size[0] ** 3 / 3 / 1000, rel=0.01)
    assert box.volume_ml == pytest.approx(box_shape.volume_ml, rel=0.002)
    assert box.volume_ml == pytest.approx(expected[1].sum() * voxel_mm3 / 1000)

    # the same frames one by one, as WADO-RS returns them (RLE codestreams)
    header = copy.deepcopy(fractional)
    del header.PixelData
    framewise = Segmentation.from_dataset(header)
    frames = generate_frames(fractional.PixelData, number_of_frames=seg.number_of_frames)
    for number, frame in enumerate(frames, start=1):
        framewise.set_frame(number, frame, RLELossless)
    for k in range(seg.number_of_frames):
        assert np.array_equal(framewise.frame_values(k), seg.frame_values(k))


@pytest.mark.cpython_only  # highdicom
def test_highdicom_seg_from_dicom_json(ct_seg: Any) -> None:
    ct, binary, _, _ = ct_seg
    pixel_data = binary.PixelData
    obj = json.loads(json.dumps(binary.to_json_dict(bulk_data_threshold=1024,
                                                    bulk_data_element_handler=lambda _: "x")))
    seg = Segmentation.from_json(obj)  # Pixel Data is a BulkDataURI: loaded separately
    assert not seg.pixels_loaded
    seg.load_pixel_data(pixel_data)
    reference = Segmentation.from_dataset(binary)
    assert seg.frames == reference.frames and seg.segments == reference.segments
    overlay = seg.match(ct_images(ct))
    assert overlay.ok and overlay.matched_by_reference == seg.number_of_frames


def test_encapsulated_pixel_data_splits_into_frames() -> None:
    headers = ct_headers()
    values = (random_masks(2, seed=19) * 255).astype(np.uint8)
    ds = seg_dataset([(1, headers[0], values[0]), (2, headers[1], values[1])],
                     seg_type="FRACTIONAL")
    del ds.PixelData
    options = {"rows": ROWS, "columns": COLUMNS, "samples_per_pixel": 1, "bits_allocated": 8,
               "bits_stored": 8, "pixel_representation": 0, "number_of_frames": 1,
               "photometric_interpretation": "MONOCHROME2", "encoding_plugin": "pydicom"}
    rle = [RLELosslessEncoder.encode(v, **options) for v in values]
    seg = Segmentation.from_dataset(ds)
    seg.load_pixel_data(encapsulate(rle), RLELossless)
    for k in range(2):
        assert np.array_equal(seg.frame_values(k), values[k])
    with pytest.raises(SegmentationError, match="holds 1 frames, NumberOfFrames says 2"):
        Segmentation.from_dataset(ds).load_pixel_data(encapsulate(rle[:1]), RLELossless)
