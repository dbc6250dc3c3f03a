"""The console's names in CPython (``ohifpy.console.open_study``) against the real Orthanc:
the cells of issue 18 run as a console runs them (``exec`` in the study's namespace) and
give what an independent path gives, the data source's frames decoded by
``ohifpy.image_loader`` and measured by ``ohifpy.measure``.

* the mean HU of ``viewer.image`` in a circle is the Circle ROI's mean;
* ``viewer.volume`` of the 200-slice CT is the decoded slices stacked in position order
  (HU), and its affine maps each voxel centre to its ImagePositionPatient;
* ``show(viewer.volume.max(axis=0))`` is numpy's MIP through the viewport's window;
* ``overlay`` takes the image's or the volume's shape and says so otherwise;
* a series that is no volume says why, a frame that cannot be decoded says so; the
  stored measurement report is ``viewer.measurements``; a URL, a config and a folder open
  the same way; ``AsyncStudy`` is the same on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import BadStudy, LoadedOrthanc, StoredCopy, store_copy
from PIL import Image
from pydicom import Dataset
from test_console_namespace import run_cell

from ohifpy.config import AppConfig, ConfigError, DicomWebSource
from ohifpy.console import AsyncStudy, ConsoleError, OpenedStudy, SpatialArray, open_study
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.image_loader import load_image_frame
from ohifpy.imaging import FrameDecodeError, ImageFrame, VOIWindow, voi_windows
from ohifpy.measure import ImageGeometry, Measurement, measure
from ohifpy.model import DisplaySet, Instance, display_sets_from_instances
from ohifpy.sr import write_measurement_report
from ohifpy.viewer.presenters import image_reference, patient

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, threads

CELLS = """\
hu = viewer.image
print(hu[100:120, 100:120].mean())
mip = viewer.volume.max(axis=0)
picture = show(mip, name="MIP")
"""
"""The issue's cells, as typed into the console."""


async def reference(source: DicomWebSource, study_uid: str) -> list[DisplaySet]:
    """The study's display sets made from its metadata, as the viewer makes them."""
    async with DICOMwebClient(source) as client:
        instances = [Instance.from_dataset(ds)
                     for ds in await client.retrieve_study_metadata(study_uid)]
    return display_sets_from_instances(instances)


async def decoded(source: DicomWebSource, display_set: DisplaySet,
                  indices: list[int]) -> list[ImageFrame]:
    """Images of a display set decoded through the data source, six at a time."""
    limit = asyncio.Semaphore(6)
    async with DICOMwebClient(source) as client:
        async def one(index: int) -> ImageFrame:
            async with limit:
                return await load_image_frame(client, display_set.images[index])
        return list(await asyncio.gather(*(one(i) for i in indices)))


def header_window(ds: Dataset) -> VOIWindow:
    return voi_windows(ds)[0]


@pytest.fixture(scope="module")
def ct(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> Iterator[OpenedStudy]:
    with open_study(dicomweb_source, orthanc.manifest.study("ct").study_uid) as study:
        yield study


async def test_the_mean_hu_in_a_circle_is_the_circle_roi_mean(
        ct: OpenedStudy, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource,
        capsys: pytest.CaptureFixture[str]) -> None:
    hu = run_cell(CELLS, ct.namespace())["hu"]
    (display_set,) = await reference(dicomweb_source, orthanc.manifest.study("ct").study_uid)
    index = len(display_set.images) // 2  # the middle image is current
    assert ct.viewer.index == index
    image = display_set.images[index]
    (frame,) = await decoded(dicomweb_source, display_set, [index])
    ds = image.instance.metadata

    # Modality values (HU: air is about -1000), the frame's, placed by its header.
    assert isinstance(hu, SpatialArray) and hu.dtype == frame.values.dtype
    assert np.array_equal(hu, frame.values) and hu.min() < -900
    assert hu.spacing == tuple(float(v) for v in ds.PixelSpacing)
    np.testing.assert_allclose(hu.origin, [float(v) for v in ds.ImagePositionPatient])
    np.testing.assert_allclose(hu.orientation, [float(v) for v in ds.ImageOrientationPatient])
    assert hu.dataset.SOPInstanceUID == ds.SOPInstanceUID
    printed = float(capsys.readouterr().out.splitlines()[0])
    assert printed == pytest.approx(float(frame.values[100:120, 100:120].mean()), abs=1e-9)

    for (column, row), radius in [((256, 256), 20.5), ((200.5, 300), 35), ((20, 30), 40)]:
        circle = measure("CircleROI", [[column, row], [column + radius, row]],
                         ImageGeometry.from_image(image), frame.values, "HU")
        rows, columns = np.ogrid[:hu.shape[0], :hu.shape[1]]
        inside = (columns - column) ** 2 + (rows - row) ** 2 <= radius ** 2
        assert hu[inside].mean() == pytest.approx(circle.value("mean").value, abs=1e-9)
        assert hu[inside].size == circle.value("pixelCount").value


async def test_the_volume_is_the_decoded_slices_stacked_in_hu_and_placed_by_its_affine(
        ct: OpenedStudy, orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    volume = ct.viewer.volume
    (display_set,) = await reference(dicomweb_source, orthanc.manifest.study("ct").study_uid)
    count = len(display_set.images)
    assert volume.shape == (count, 512, 512) and not volume.flags.writeable
    frames = await decoded(dicomweb_source, display_set, list(range(count)))
    positions = np.array([[float(v) for v in image.instance.metadata.ImagePositionPatient]
                          for image in display_set.images])
    orientation = np.array([float(v) for v in
                            display_set.images[0].instance.metadata.ImageOrientationPatient])
    normal = np.cross(orientation[:3], orientation[3:])
    order = np.argsort(positions @ normal)  # slice k is the k-th lowest along the normal
    stacked = np.stack([frames[i].values for i in order])
    assert volume.dtype == stacked.dtype and np.array_equal(volume, stacked)
    assert stacked.min() < -900  # HU, not stored values

    # Voxel (i, j, k) -> patient: the centre of pixel (column i, row j) of slice k.
    row_spacing, column_spacing = (float(v) for v in
                                   display_set.images[0].instance.metadata.PixelSpacing)
    for k, image_index in enumerate(order):
        for i, j in [(0, 0), (511, 0), (0, 511), (300, 200)]:
            expected = (positions[image_index] + i * column_spacing * orientation[:3]
                        + j * row_spacing * orientation[3:])
            np.testing.assert_allclose((volume.affine @ [i, j, k, 1])[:3], expected, atol=1e-4)
    np.testing.assert_allclose(volume.to_patient([[k, 0, 0] for k in range(count)]),
                               positions[order], atol=1e-4)
    # The current image is its slice volume_index.
    assert np.array_equal(volume[ct.viewer.volume_index], ct.viewer.image)


def test_show_a_mip_gives_numpys_mip_through_the_same_window(ct: OpenedStudy) -> None:
    picture = run_cell("mip = viewer.volume.max(axis=0)\npicture = show(mip, name='MIP')",
                       ct.namespace())["picture"]
    derived = ct.console.shown[-1]
    window = header_window(ct.viewer.image.dataset)
    assert ct.viewer.window == window == derived.window
    voxels = np.asarray(ct.viewer.volume)
    expected = np.rint(window.apply(voxels.max(axis=0)) * 255.0).astype(np.uint8)
    assert isinstance(picture, Image.Image) and picture.mode == "L"
    assert np.array_equal(np.asarray(picture), expected)
    # Placed in the lowest slice's plane with the images' pixel spacing.
    lowest = ct.viewer.volume.dataset  # the display set's first image
    assert derived.name == "MIP" and derived.spacing == tuple(float(v)
                                                              for v in lowest.PixelSpacing)
    np.testing.assert_allclose(derived.origin, ct.viewer.volume.origin)
    assert derived.frame_of_reference_uid == str(lowest.FrameOfReferenceUID)

    # Another window chosen for the viewport is the one shown with.
    ct.viewer.select(window=(400, 2000))
    try:
        again = ct.show(ct.viewer.volume.max(axis=0))
        assert np.array_equal(np.asarray(again), np.rint(
            VOIWindow(400, 2000).apply(voxels.max(axis=0)) * 255.0).astype(np.uint8))
        # A plain image through the viewport's window is what the viewport draws.
        assert np.array_equal(np.asarray(ct.show(ct.viewer.image)), ct.viewer.render()[..., 0])
    finally:
        ct.viewer.select(window=window)


def test_overlay_on_the_image_or_the_volume_and_nothing_else(ct: OpenedStudy) -> None:
    viewer = ct.viewer
    bone = viewer.image > 300
    assert bone.any()
    picture = ct.overlay(bone, colour="red", opacity=0.5, mode="fill")
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    drawn = np.asarray(picture).astype(int)
    gray = viewer.render()[..., 0].astype(int)
    alpha = round(255 * 0.5)
    assert np.array_equal(drawn[bone][:, 0], (255 * alpha + gray[bone] * (255 - alpha) + 127)
                          // 255)
    assert np.array_equal(drawn[~bone][:, 0], gray[~bone])
    made = ct.console.overlays[-1]
    assert (made.image_index, made.display_set_uid) == (viewer.index,
                                                        viewer.display_set.display_set_uid)

    whole = ct.overlay(viewer.volume < -900, colour="#00ff00")
    assert whole.size == (512, 512)
    assert np.array_equal(ct.console.overlays[-1].mask_of(viewer.index),
                          np.asarray(viewer.image) < -900)
    count = len(viewer.display_set.images)
    with pytest.raises(ConsoleError, match=rf"mask's shape \(512, 256\) is neither the "
                                           rf"image's \(512, 512\) nor the volume's "
                                           rf"\({count}, 512, 512\)"):
        ct.overlay(np.zeros((512, 256), dtype=bool))
    with pytest.raises(ConsoleError, match="boolean mask"):
        ct.overlay(np.asarray(viewer.image))
    with pytest.raises(ConsoleError, match="colour must be"):
        ct.overlay(bone, colour="infrared")
    assert len(ct.console.overlays) == 2


@pytest.mark.parametrize(("key", "reason"), [("cr-mono1", "a single image"),
                                             ("xa-cine", "images without ImagePositionPatient")])
def test_a_series_that_is_no_volume_says_why(orthanc: LoadedOrthanc,
                                             dicomweb_source: DicomWebSource, key: str,
                                             reason: str) -> None:
    entry = orthanc.manifest.study(key)
    with open_study(dicomweb_source, entry.study_uid) as study:
        description = entry.series[0].description
        with pytest.raises(ConsoleError, match=rf"^'{description}' is not a volume: {reason}$"):
            _ = study.viewer.volume
        # Its images still are arrays, and show as the viewport shows them (MONOCHROME1 too).
        picture = study.show(study.viewer.image)
        assert np.array_equal(np.asarray(picture), study.viewer.render()[..., 0])


def test_select_series_and_image_of_a_study_of_several(orthanc: LoadedOrthanc) -> None:
    planes = orthanc.manifest.study("planes")
    # Opened from the DICOMweb root's URL alone.
    with open_study(orthanc.dicomweb_root, planes.study_uid, series="Coronal 4mm",
                    index=0) as study:
        viewer = study.viewer
        assert (viewer.display_set.series_description, viewer.index) == ("Coronal 4mm", 0)
        coronal = viewer.volume
        assert coronal.shape == (30, *viewer.image.shape)
        np.testing.assert_allclose(coronal[viewer.volume_index].origin, viewer.image.origin,
                                   atol=1e-4)
        viewer.select(series=planes.series[0].series_uid)  # the middle image of another
        assert (viewer.display_set.series_description, viewer.index) == ("Axial 2mm", 20)
        axial = viewer.volume
        assert axial.shape[0] == 40
        # Both volumes are in one frame of reference: the coronal's centre is inside the
        # axial's extent along its slice normal.
        normal = np.cross(axial.orientation[:3], axial.orientation[3:])
        along = axial.to_patient([[0, 0, 0], [39, 0, 0]]) @ normal
        centre = coronal.to_patient(np.asarray(coronal.shape) / 2) @ normal
        assert min(along) <= centre <= max(along)
        with pytest.raises(ConsoleError, match="no image series 'Axial 3mm'"):
            viewer.select(series="Axial 3mm")
        with pytest.raises(ConsoleError, match=r"index must be an integer in -40\.\.39"):
            viewer.select(index=40)


def test_open_from_a_config_and_a_folder(orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource,
                                         tmp_path: Path) -> None:
    copy = store_copy(orthanc, "ct", "console folder", tmp_path, count=3)
    config = AppConfig((dicomweb_source,), defaultDataSourceName=dicomweb_source.name)
    with open_study(config, copy.study_uid, data_source="orthanc") as from_config:
        served = np.asarray(from_config.viewer.image)
    with open_study(tmp_path) as from_folder:  # the folder's only study: no UID needed
        assert from_folder.summary.study_instance_uid == copy.study_uid
        assert np.array_equal(from_folder.viewer.image, served)
        assert from_folder.viewer.volume.shape == (3, 512, 512)
    with pytest.raises(ConfigError, match="no data source named 'elsewhere'"):
        open_study(config, copy.study_uid, data_source="elsewhere")
    with pytest.raises(ConsoleError, match="give the StudyInstanceUID"):
        open_study(dicomweb_source)


async def test_measurements_are_the_stored_reports(
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource, tmp_path: Path) -> None:
    copy: StoredCopy = store_copy(orthanc, "ct", "console measured", tmp_path, count=3)
    (display_set,) = await reference(dicomweb_source, copy.study_uid)
    (frame,) = await decoded(dicomweb_source, display_set, [2])
    image = display_set.images[2]
    ds = image.instance.metadata
    result = measure("CircleROI", [[250, 260], [250, 280.5]], ImageGeometry.from_image(image),
                     frame.values, "HU")
    circle = Measurement("1.2.826.0.1.3680043.8.498.77", "liver <b>", image_reference(image),
                         result, patient(ds))
    length = Measurement("1.2.826.0.1.3680043.8.498.78", "", image_reference(display_set.images[0]),
                         measure("Length", [[10, 10], [40, 50]],
                                 ImageGeometry.from_image(display_set.images[0])), patient(ds))
    async with DICOMwebClient(dicomweb_source) as client:
        await client.store_instances([write_measurement_report([circle, length], ds)])

    with open_study(dicomweb_source, copy.study_uid) as study:
        namespace = run_cell("m = viewer.measurements[0]\nviewer.select(index=m.image_index)\n"
                             "hu = viewer.image", study.namespace())
        m, hu = namespace["m"], namespace["hu"]
        line = study.viewer.measurements[1]
    assert (m.tool, m.label, m.image_index) == ("CircleROI", "liver <b>", 2)
    np.testing.assert_allclose(m.points, [[250, 260], [250, 280.5]])
    assert m["mean"] == pytest.approx(result.value("mean").value, rel=1e-6)  # SR keeps 7 digits
    rows, columns = np.ogrid[:512, :512]
    inside = (columns - 250) ** 2 + (rows - 260) ** 2 <= 20.5 ** 2
    assert hu[inside].mean() == pytest.approx(m["mean"], rel=1e-6)
    spacing = ImageGeometry.from_image(display_set.images[0]).spacing
    assert (line.tool, line.image_index) == ("Length", 0)
    assert line["length"] == pytest.approx(math.hypot(30 * spacing[1], 40 * spacing[0]),
                                           rel=1e-6)
    np.testing.assert_allclose(line.patient_points[0], ImageGeometry.from_image(
        display_set.images[0]).patient_position(10, 10), atol=1e-4)


async def test_the_async_study_on_the_callers_loop(orthanc: LoadedOrthanc,
                                                   dicomweb_source: DicomWebSource) -> None:
    entry = orthanc.manifest.study("ct-jpeg-ls")
    async with await AsyncStudy.open(dicomweb_source, entry.study_uid) as study:
        (display_set,) = study.images
        frame = await study.frame(display_set, 3)
        volume = await study.volume(display_set)
        assert volume.complete and volume.stored.shape == (16, 512, 512)
        assert await study.measurements() == []
    (expected,) = await decoded(dicomweb_source, display_set, [3])
    assert np.array_equal(frame.values, expected.values)


def test_a_frame_that_cannot_be_decoded_says_so(corrupt_study: BadStudy,
                                                dicomweb_source: DicomWebSource) -> None:
    with open_study(dicomweb_source, corrupt_study.study_uid) as study:
        viewer = study.viewer
        uids = [image.instance.sop_instance_uid for image in viewer.display_set.images]
        viewer.select(index=uids.index(corrupt_study.good_sop_uid))
        good = viewer.image
        viewer.select(index=uids.index(corrupt_study.corrupt_sop_uid))
        with pytest.raises(FrameDecodeError, match="JPEG-LS"):
            _ = viewer.image
        with pytest.raises(FrameDecodeError, match="JPEG-LS"):
            _ = viewer.volume
        viewer.select(index=uids.index(corrupt_study.good_sop_uid))
        assert np.array_equal(viewer.image, good)  # the study goes on
