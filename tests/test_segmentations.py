"""ohifpy.viewer.segmentations: the blend of segment masks into rendered images, and the
worker's loadSegmentation / setSegmentation / removeSegmentation / roiContours and the
overlay in renderImage, on the ``ct-seg`` study in the real Orthanc.

The blend is checked against its arithmetic written out per pixel; the worker's answers
against the synthetic structures the SEGs and the RTSTRUCT were made from
(:mod:`ohifpy.synthetic_objects`): voxel counts, volumes, the CT values under them, the
slice through each centre, and each circle contour's points on the CT's pixel grid.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from ohifpy import synthetic_objects
from ohifpy.errors import BadRequest
from ohifpy.overlays.cielab import default_color
from ohifpy.viewer.segmentations import (
    MaskLayer,
    Style,
    blend,
    outline,
    roi_volume_ml,
)

GREY = 100


def image(rows: int = 8, columns: int = 10, value: int = GREY) -> np.ndarray:
    rgba = np.full((rows, columns, 4), value, dtype=np.uint8)
    rgba[..., 3] = 255
    return rgba


def mixed(value: int, color: int, alpha: int) -> int:
    """The blend's arithmetic for one channel, written out."""
    return (color * alpha + value * (255 - alpha) + 127) // 255


# ---------------------------------------------------------------- blending


def test_fill_mixes_the_colour_at_its_opacity_inside_the_mask_only() -> None:
    mask = np.zeros((8, 10), bool)
    mask[2:6, 3:8] = True
    out = blend(image(), [MaskLayer(mask, (250, 20, 0), 0.5, "fill")])
    alpha = round(255 * 0.5)
    assert np.array_equal(out[mask][:, :3], np.tile([mixed(GREY, c, alpha) for c in
                                                      (250, 20, 0)], (mask.sum(), 1)))
    assert np.all(out[~mask] == [GREY, GREY, GREY, 255])
    assert np.all(out[..., 3] == 255)


def test_outline_is_the_masks_edge_at_full_opacity() -> None:
    mask = np.zeros((8, 10), bool)
    mask[2:7, 2:9] = True
    out = blend(image(), [MaskLayer(mask, (0, 255, 0), 0.3, "outline")])
    edge = np.zeros_like(mask)
    edge[2, 2:9] = edge[6, 2:9] = edge[2:7, 2] = edge[2:7, 8] = True
    assert np.array_equal(outline(mask), edge)
    assert np.all(out[edge][:, :3] == [0, 255, 0])
    assert np.all(out[~edge][:, :3] == GREY)  # inside and outside untouched


def test_both_fills_then_outlines_and_later_fills_never_hide_outlines() -> None:
    first = np.zeros((8, 10), bool)
    first[1:5, 1:5] = True
    second = np.zeros((8, 10), bool)
    second[2:7, 2:9] = True
    out = blend(image(), [MaskLayer(first, (255, 0, 0), 0.5, "both"),
                          MaskLayer(second, (0, 0, 255), 0.5, "both")])
    assert np.all(out[1, 1, :3] == [255, 0, 0])  # the first's outline
    assert np.all(out[4, 4, :3] == [255, 0, 0])  # its outline, under the second's fill
    inner = (3, 6)  # inside the second only, not on its edge
    assert list(out[inner][:3]) == [mixed(GREY, 0, 128), mixed(GREY, 0, 128),
                                    mixed(GREY, 255, 128)]
    both = (3, 3)  # inside both fills, on neither edge
    once = [mixed(GREY, c, 128) for c in (255, 0, 0)]
    assert list(out[both][:3]) == [mixed(v, c, 128) for v, c in zip(once, (0, 0, 255))]


def test_fractions_scale_the_fill_and_the_outline_takes_half_or_more() -> None:
    fractions = np.array([[0.0, 0.25, 0.5, 0.75, 1.0]] * 3, dtype=np.float32)
    out = blend(image(3, 5), [MaskLayer(fractions, (200, 100, 0), 0.8, "fill")])
    for column, fraction in enumerate(fractions[0]):
        alpha = int(np.rint(np.float64(fraction) * 255 * 0.8))
        assert list(out[1, column, :3]) == [mixed(GREY, c, alpha) for c in (200, 100, 0)]
    edges = blend(image(3, 5), [MaskLayer(fractions, (9, 9, 9), 0.8, "outline")])
    region = fractions >= 0.5
    assert np.array_equal(np.all(edges[..., :3] == 9, axis=-1), outline(region))


def test_a_crop_at_its_offset_is_the_whole_mask() -> None:
    whole = np.zeros((8, 10), bool)
    whole[3:6, 4:9] = [[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]]
    for mode in ("fill", "outline", "both"):
        full = blend(image(), [MaskLayer(whole, (1, 2, 3), 0.7, mode)])
        cropped = blend(image(), [MaskLayer(whole[3:6, 4:9], (1, 2, 3), 0.7, mode, 3, 4)])
        assert np.array_equal(full, cropped), mode


def test_a_mask_beyond_the_image_is_cut_and_nothing_with_opacity_zero() -> None:
    mask = np.ones((4, 4), bool)
    out = blend(image(), [MaskLayer(mask, (0, 0, 0), 1.0, "fill", 6, 8)])
    assert np.all(out[6:, 8:, :3] == 0) and np.all(out[:6, :, :3] == GREY)
    # the edge is the whole mask's: the cut along the image's border is no outline
    edge = blend(image(), [MaskLayer(mask, (0, 0, 0), 1.0, "outline", 6, 8)])
    drawn = np.all(edge[..., :3] == 0, axis=-1)
    assert drawn[6, 8] and drawn[7, 8] and drawn[6, 9] and not drawn[7, 9]
    assert np.array_equal(blend(image(), [MaskLayer(mask, (0, 0, 0), 0.0, "fill")]), image())
    assert np.array_equal(blend(image(), []), image())


def test_styles_are_checked() -> None:
    style = Style()
    assert (style.visible, style.opacity, style.mode) == (True, 0.5, "both")
    assert style.changed({"visible": False, "opacity": 1, "mode": "outline"}) == Style(
        False, 1.0, "outline")
    for wrong in ({"opacity": 2}, {"opacity": True}, {"opacity": float("nan")},
                  {"mode": "dashed"}, {"visible": "no"}, {"colour": "red"}):
        with pytest.raises(BadRequest):
            style.changed(wrong)


def test_roi_volume_from_stacked_contours() -> None:
    radius, gap = 10.0, 1.0
    angles = np.arange(256) * 2 * math.pi / 256
    contours = []
    for z in np.arange(-radius + gap / 2, radius, gap):
        r = math.sqrt(radius ** 2 - z ** 2)
        contours.append(np.stack([r * np.cos(angles), r * np.sin(angles),
                                  np.full_like(angles, z)], axis=1))
    volume = roi_volume_ml(contours)
    assert volume == pytest.approx(4 / 3 * math.pi * radius ** 3 / 1000, rel=0.01)
    square = np.array([[0, 0, 5.0], [10, 0, 5], [10, 10, 5], [0, 10, 5]])
    assert roi_volume_ml([square]) is None  # one plane: no spacing of its own
    assert roi_volume_ml([square], spacing=2.0) == pytest.approx(0.2)


# ---------------------------------------------------------------- the worker, on Orthanc


@dataclass
class Opened:
    api: Any
    transport: Any
    study_uid: str
    ct: dict[str, Any]
    binary: dict[str, Any]
    fractional: dict[str, Any]
    rtstruct: dict[str, Any]
    hu: np.ndarray  # [image, row, column] in the CT display set's order
    datasets: list[Any]  # the CT's headers, same order


@pytest.fixture(scope="module")
async def opened(orthanc: Any) -> AsyncIterator[Opened]:
    from test_worker_api import ORTHANC_CONFIG, CountingTransport, result

    from ohifpy.datasources.dicomweb import DICOMwebDataSource
    from ohifpy.image_loader import load_image_frame
    from ohifpy.worker_api import WorkerAPI

    transport = CountingTransport()
    api = WorkerAPI(transport)
    await result(api, "init", config=ORTHANC_CONFIG, baseUrl=orthanc.base_url + "/")
    study = orthanc.manifest.study(synthetic_objects.CT_SEG_KEY).study_uid
    viewer = await result(api, "openViewer", studyInstanceUIDs=study)
    kinds = [(d["kind"], d["seriesDescription"]) for d in viewer["displaySets"]]
    assert kinds == [("image", "Axial 1.25mm"), ("seg", "SEG binary, 5 segments"),
                     ("seg", "SEG fractional, 2 segments"),
                     ("rtstruct", "RTSTRUCT of the structures")]
    ct, binary, fractional, rtstruct = viewer["displaySets"]
    display_set, source = api.session.display_set(ct["displaySetUID"])
    frames = await asyncio.gather(*(load_image_frame(source, i) for i in display_set.images))
    datasets = [i.instance.metadata for i in display_set.images]
    assert isinstance(source, DICOMwebDataSource)
    yield Opened(api, transport, study, ct, binary, fractional, rtstruct,
                 np.stack([f.values for f in frames]), datasets)


def inside(opened: Opened, structure: synthetic_objects.Structure) -> np.ndarray:
    """The structure's voxels of the CT, ``[image, row, column]`` in display order."""
    return structure.contains(*synthetic_objects.voxel_centres(opened.datasets))


async def call(opened: Opened, method: str, **args: Any) -> Any:
    reply = await opened.api.handle(method, args)
    assert "result" in reply, reply
    return reply["result"]


VOXEL_ML = 0.7 * 0.7 * 1.25 / 1000


@pytest.mark.cpython_only
async def test_binary_seg_segments_volumes_statistics_and_go_to(opened: Opened) -> None:
    answer = await call(opened, "loadSegmentation",
                        displaySetUID=opened.binary["displaySetUID"])
    seg_frames = [u for u, _ in opened.transport.sent if "/frames/" in u
                  and opened.binary["seriesInstanceUID"] in u]
    assert len(seg_frames) == 1  # every frame of the SEG in one request
    # read from the metadata's DICOM JSON as it came: never converted to a pydicom Dataset
    instance = opened.api.session.display_set(opened.binary["displaySetUID"])[0].instance
    assert instance.json is not None and "metadata" not in instance.__dict__
    assert answer["kind"] == "seg" and answer["reason"] == ""
    assert answer["sourceDisplaySetUID"] == opened.ct["displaySetUID"]
    assert answer["segmentationType"] == "BINARY"
    segments = answer["segments"]
    assert [s["number"] for s in segments] == [1, 2, 3, 4, 5]
    for segment, structure in zip(segments, synthetic_objects.STRUCTURES, strict=True):
        assert segment["label"] == structure.label  # the hostile one as it is
        assert segment["color"] == list(structure.rgb or segment["color"])
        assert bool(segment["colorNote"]) == (structure.rgb is None)
        mask = inside(opened, structure)
        assert segment["voxels"] == mask.sum()
        assert segment["volumeMl"] == pytest.approx(mask.sum() * VOXEL_ML, rel=1e-9)
        assert segment["volumeMl"] == pytest.approx(structure.volume_ml, rel=0.05)
        if structure.kind != "cylinder":  # 34 mm tall on 1.25 mm slices: 3 % more
            assert segment["volumeMl"] == pytest.approx(structure.volume_ml, rel=0.01)
        values = opened.hu[mask]
        assert (segment["unit"], segment["min"], segment["max"]) == (
            "HU", values.min(), values.max())
        assert segment["mean"] == pytest.approx(values.mean(), rel=1e-9)
        assert segment["style"] == {"visible": True, "opacity": 0.5, "mode": "both"}
        # "go to": the slice through the centre of the segment's voxels
        slices = mask.sum(axis=(1, 2))
        centre = (slices * np.arange(len(slices))).sum() / slices.sum()
        assert segment["goTo"]["displaySetUID"] == opened.ct["displaySetUID"]
        assert abs(segment["goTo"]["imageIndex"] - centre) <= 0.5
    assert segments[4]["label"] == "<img src=x onerror=alert(1)>"
    again = await call(opened, "loadSegmentation", displaySetUID=opened.binary["displaySetUID"])
    assert again == answer


@pytest.mark.cpython_only
async def test_fractional_seg_volumes_are_the_sums_of_fractions(opened: Opened) -> None:
    answer = await call(opened, "loadSegmentation",
                        displaySetUID=opened.fractional["displaySetUID"])
    assert (answer["segmentationType"], answer["fractionalType"]) == ("FRACTIONAL",
                                                                      "PROBABILITY")
    soft, box = answer["segments"]
    soft_shape, box_shape = synthetic_objects.FRACTIONAL_STRUCTURES
    assert soft["volumeMl"] == pytest.approx(math.pi * soft_shape.size[0] ** 3 / 3 / 1000,
                                             rel=0.01)
    assert box["volumeMl"] == pytest.approx(box_shape.volume_ml, rel=0.01)
    fractions = synthetic_objects.fractional_values(box_shape, opened.datasets)
    assert box["voxels"] == pytest.approx(fractions.sum(), rel=1e-6)
    weighted = (opened.hu * fractions).sum() / fractions.sum()
    assert box["mean"] == pytest.approx(weighted, rel=1e-6)
    assert box["colorNote"] and not soft["colorNote"]
    assert any("Partial box" in note for note in answer["notes"])


def expected_layers(opened: Opened, index: int, styles: dict[int, Style]) -> list[MaskLayer]:
    layers = []
    for structure in synthetic_objects.STRUCTURES:
        style = styles.get(structure.number, Style())
        mask = inside(opened, structure)[index]
        if style.visible and mask.any():
            color = structure.rgb or default_color(structure.number)
            layers.append(MaskLayer(mask, color, style.opacity, style.mode))
    return layers


@pytest.mark.cpython_only
async def test_render_image_blends_the_seg_as_cpython_does_and_styles_change_its_pixels(
        opened: Opened) -> None:
    from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba

    seg, ct = opened.binary["displaySetUID"], opened.ct["displaySetUID"]
    await call(opened, "removeSegmentation", displaySetUID=opened.fractional["displaySetUID"])
    await call(opened, "loadSegmentation", displaySetUID=seg)
    index = 16  # through the sphere's centre, the box and the cylinder
    window = {"center": 40.0, "width": 400.0}

    def plain() -> np.ndarray:
        return render_rgba(ImageFrame(np.ascontiguousarray(opened.hu[index]), "MONOCHROME2"),
                           VOIWindow(40.0, 400.0))

    async def shown() -> np.ndarray:
        return (await call(opened, "renderImage", displaySetUID=ct, imageIndex=index,
                           window=window, details=False))["rgba"]

    assert np.array_equal(await shown(), blend(plain(), expected_layers(opened, index, {})))
    before = await shown()
    # hiding the sphere changes exactly its pixels (back to the plain image)
    styles = await call(opened, "setSegmentation", displaySetUID=seg,
                        segments={"1": {"visible": False}})
    assert styles["styles"]["1"] == {"visible": False, "opacity": 0.5, "mode": "both"}
    hidden = await shown()
    sphere = inside(opened, synthetic_objects.STRUCTURES[0])[index]
    changed = np.any(hidden != before, axis=-1)
    assert np.array_equal(changed, sphere)
    assert np.array_equal(hidden[sphere], plain()[sphere])
    # its opacity while hidden changes nothing; shown again at 0.9, only its fill changes
    await call(opened, "setSegmentation", displaySetUID=seg, segments={1: {"opacity": 0.9}})
    assert np.array_equal(await shown(), hidden)
    await call(opened, "setSegmentation", displaySetUID=seg, segments={1: {"visible": True}})
    denser = await shown()
    changed = np.any(denser != before, axis=-1)
    assert np.array_equal(changed, sphere & ~outline(sphere))
    styles = {1: Style(opacity=0.9)}
    assert np.array_equal(denser, blend(plain(), expected_layers(opened, index, styles)))
    # outlines only
    await call(opened, "setSegmentation", displaySetUID=seg,
               segments={str(n): {"mode": "outline"} for n in range(1, 6)})
    styles = {n: Style(opacity=0.9 if n == 1 else 0.5, mode="outline") for n in range(1, 6)}
    assert np.array_equal(await shown(), blend(plain(), expected_layers(opened, index, styles)))
    await call(opened, "setSegmentation", displaySetUID=seg, segments={
        str(n): {"mode": "both", "opacity": 0.5, "visible": True} for n in range(1, 6)})
    # removed: the plain image again
    await call(opened, "removeSegmentation", displaySetUID=seg)
    assert np.array_equal(await shown(), plain())
    reply = await opened.api.handle("setSegmentation", {"displaySetUID": seg, "segments": {}})
    assert "not loaded" in reply["error"]["message"]
    await call(opened, "loadSegmentation", displaySetUID=seg)


@pytest.mark.cpython_only
async def test_bad_requests_are_told(opened: Opened) -> None:
    for method, args, text in (
            ("loadSegmentation", {"displaySetUID": opened.ct["displaySetUID"]},
             "not a segmentation"),
            ("setSegmentation", {"displaySetUID": opened.binary["displaySetUID"],
                                 "segments": {"9": {"visible": False}}}, "no segment 9"),
            ("setSegmentation", {"displaySetUID": opened.binary["displaySetUID"],
                                 "segments": {"1": {"mode": "dotted"}}}, "mode must be"),
            ("roiContours", {"displaySetUID": opened.ct["displaySetUID"], "imageIndex": 99},
             "out of range")):
        if method == "setSegmentation":
            await call(opened, "loadSegmentation", displaySetUID=args["displaySetUID"])
        reply = await opened.api.handle(method, args)
        assert text in reply["error"]["message"], reply


@pytest.mark.cpython_only
async def test_rtstruct_rois_volumes_and_contours_on_the_ct_and_its_mpr(opened: Opened) -> None:
    rt = opened.rtstruct["displaySetUID"]
    ct = opened.ct["displaySetUID"]
    answer = await call(opened, "loadSegmentation", displaySetUID=rt)
    assert answer["kind"] == "rtstruct" and answer["sourceDisplaySetUID"] == ct
    rois = answer["rois"]
    assert [r["name"] for r in rois] == [s.label for s in synthetic_objects.STRUCTURES] + [
        synthetic_objects.POINT_ROI[1], synthetic_objects.LINE_ROI[1]]
    for roi, structure in zip(rois, synthetic_objects.STRUCTURES):
        assert roi["color"] == list(structure.rgb or synthetic_objects.RTSTRUCT_FALLBACK_RGB)
        assert roi["volumeMl"] == pytest.approx(structure.volume_ml, rel=0.03)
    assert rois[5]["volumeMl"] is None and rois[5]["colorNote"]
    assert rois[0]["style"] == {"visible": True, "opacity": 0.5, "mode": "outline"}
    assert rois[0]["goTo"] == {"displaySetUID": ct, "imageIndex": 16}

    # On image 16 (z = -80 mm) the sphere's circle lies at its patient points, mapped to
    # pixels; the point and the open line of z = -80 are there too.
    contours = await call(opened, "roiContours", displaySetUID=ct, imageIndex=16)
    by_number = {r["number"]: r for r in contours["rois"]}
    assert sorted(by_number) == [1, 2, 4, 6, 7]
    ds = opened.datasets[16]
    x0, y0, z = (float(v) for v in ds.ImagePositionPatient)
    row_mm, column_mm = (float(v) for v in ds.PixelSpacing)
    circle = synthetic_objects.STRUCTURES[0].contour(z)
    expected = np.stack([(circle[:, 0] - x0) / column_mm, (circle[:, 1] - y0) / row_mm], 1)
    (polygon,) = by_number[1]["polygons"]
    np.testing.assert_allclose(np.reshape(polygon, (-1, 2)), expected, atol=0.006)
    px, py, _ = synthetic_objects.POINT_ROI[2]
    assert by_number[6]["points"] == pytest.approx([(px - x0) / column_mm, (py - y0) / row_mm],
                                                  abs=0.006)
    assert len(by_number[7]["polylines"]) == 1
    assert by_number[1]["color"] == [220, 50, 50]

    # hidden ROIs are left out
    await call(opened, "setSegmentation", displaySetUID=rt, segments={"1": {"visible": False}})
    hidden = await call(opened, "roiContours", displaySetUID=ct, imageIndex=16)
    assert [r["number"] for r in hidden["rois"]] == [2, 4, 6, 7]
    await call(opened, "setSegmentation", displaySetUID=rt, segments={"1": {"visible": True}})

    # MPR: the coronal plane through the sphere's centre cuts its contours into segments
    mpr = await call(opened, "openMpr", displaySetUID=ct)
    coronal = next(v for v in mpr["views"] if v["name"] == "coronal")
    view = opened.api.mprs[ct]
    grid = view.grid("coronal")
    sphere = synthetic_objects.STRUCTURES[0]
    index = grid.index_of(np.array(sphere.centre))
    cut = await call(opened, "roiContours", displaySetUID=coronal["displaySetUID"],
                     imageIndex=index)
    roi = next(r for r in cut["rois"] if r["number"] == 1)
    assert roi["segments"] and not roi["polygons"]
    plane = grid.plane(index)
    for piece in roi["segments"]:
        for column, row in np.reshape(piece, (-1, 2)):
            point = plane.patient_point(column, row)
            # on the contour's circle of its slice: within the sphere's radius of its centre
            assert np.linalg.norm(point - np.array(sphere.centre)) <= sphere.size[0] + 0.01


@pytest.mark.cpython_only
async def test_mpr_views_blend_the_seg_like_the_stack(opened: Opened) -> None:
    seg, ct = opened.binary["displaySetUID"], opened.ct["displaySetUID"]
    await call(opened, "removeSegmentation", displaySetUID=opened.fractional["displaySetUID"])
    await call(opened, "loadSegmentation", displaySetUID=seg)
    mpr = await call(opened, "openMpr", displaySetUID=ct)
    await call(opened, "loadViewports", viewports=[{"displaySetUID": ct, "imageIndex": 0}])
    async with asyncio.timeout(60):
        while any(not t.done() for t in opened.api.frames.viewport_loads.values()):
            await asyncio.sleep(0.01)
    window = {"center": 40.0, "width": 400.0}
    axial = next(v for v in mpr["views"] if v["name"] == "axial")
    grid = opened.api.mprs[ct].grid("axial")
    index = grid.index_of(np.array(synthetic_objects.STRUCTURES[0].centre))
    plane = (await call(opened, "renderImage", displaySetUID=axial["displaySetUID"],
                        imageIndex=index, window=window, details=False))["rgba"]
    stack = (await call(opened, "renderImage", displaySetUID=ct, imageIndex=16, window=window,
                        details=False))["rgba"]
    assert index == 16  # the axial view counts from the head, as the stack does
    assert np.array_equal(plane, stack)
    # the sagittal view through the sphere's centre shows the sphere's voxels of that column
    sagittal = next(v for v in mpr["views"] if v["name"] == "sagittal")
    column = opened.api.mprs[ct].grid("sagittal").index_of(
        np.array(synthetic_objects.STRUCTURES[0].centre))
    shown = (await call(opened, "renderImage", displaySetUID=sagittal["displaySetUID"],
                        imageIndex=column, window=window, details=False))["rgba"]
    from ohifpy.imaging import ImageFrame, VOIWindow, render_rgba

    values = opened.hu[:, :, column]
    plain = render_rgba(ImageFrame(np.ascontiguousarray(values), "MONOCHROME2"),
                        VOIWindow(40.0, 400.0))
    layers = []
    for structure in synthetic_objects.STRUCTURES:
        mask = inside(opened, structure)[:, :, column]
        if mask.any():
            layers.append(MaskLayer(mask, structure.rgb or default_color(
                structure.number), 0.5, "both"))
    assert np.array_equal(shown, blend(plain, layers))


@pytest.mark.cpython_only
async def test_a_seg_whose_source_series_is_not_open_says_so(orthanc: Any) -> None:
    from test_worker_api import ORTHANC_CONFIG, CountingTransport, result

    from ohifpy.worker_api import WorkerAPI

    api = WorkerAPI(CountingTransport())
    await result(api, "init", config=ORTHANC_CONFIG, baseUrl=orthanc.base_url + "/")
    study = orthanc.manifest.study(synthetic_objects.CT_SEG_KEY)
    seg_series = [s.series_uid for s in study.series
                  if s.instances[0].sop_class_uid.endswith(".66.4")]
    viewer = await result(api, "openViewer", studyInstanceUIDs=study.study_uid,
                          seriesInstanceUIDs=",".join(seg_series))
    binary = next(d for d in viewer["displaySets"] if "binary" in d["seriesDescription"])
    answer = await result(api, "loadSegmentation", displaySetUID=binary["displaySetUID"])
    assert answer["sourceDisplaySetUID"] is None
    assert "source series" in answer["reason"] and "not open" in answer["reason"]
    assert [s["label"] for s in answer["segments"]][:2] == ["Sphere", "Box"]
    assert all(s["goTo"] is None and s["mean"] is None for s in answer["segments"])
