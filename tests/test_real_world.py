"""Real-world style files (make_test_data's ``real-world`` study) as ``ohifpy render`` shows
them, from Orthanc and from the user's own folder, against pydicom on the file itself.

Each frame must match within 1 per channel what a person would get from pydicom:
``pixel_array`` then ``apply_color_lut`` / ``apply_modality_lut`` / ``apply_voi_lut``
(tests/reference.py). Where pydicom's functions do not read what the file holds, the
reference says how it helps them, and checks that it still has to.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import LoadedOrthanc, make_test_data
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import ExplicitVRBigEndian
from reference import reference_render
from support.dicomjson import write_dicomjson
from support.static_trees import serve_directory

from ohifpy.cli import render_image
from ohifpy.config import DicomWebSource
from ohifpy.datasources import DataSource, DataSourceError
from ohifpy.datasources.dicomjson import DicomJsonDataSource
from ohifpy.datasources.dicomweb import DICOMwebDataSource, fill_in_from_file
from ohifpy.datasources.local_files import LocalFilesDataSource, file_handles
from ohifpy.dicomweb import DICOMwebClient
from ohifpy.dicomweb.httpx_transport import HttpxTransport
from ohifpy.imaging import PaletteColorLUT, VOIWindow, missing_display_attributes

pytestmark = [pytest.mark.cpython_only,  # Orthanc, dcmconv, the files on disk
              pytest.mark.filterwarnings("ignore::UserWarning")]  # the files' odd dates

MANIFEST = make_test_data.ensure()
STUDY = MANIFEST.study("real-world")
FRAMES = [
    pytest.param(instance, number, id=f"{Path(instance.path).stem}-{number}")
    for instance in STUDY.instances
    for number in range(1, instance.number_of_frames + 1)
]


def _functional_groups_at_the_top(ds: Dataset, index: int) -> Dataset:
    """A frame of an enhanced multi-frame instance as a classic one: its shared, then its
    own functional groups' attributes at the top level, where pydicom's functions look."""
    classic = copy.deepcopy(ds)
    del classic.SharedFunctionalGroupsSequence, classic.PerFrameFunctionalGroupsSequence
    for groups in (ds.SharedFunctionalGroupsSequence[0], ds.PerFrameFunctionalGroupsSequence[index]):
        for group in groups:  # each a sequence of one item
            for element in group.value[0]:
                classic[element.tag] = element
    return classic


def _little_endian_copy(path: Path, folder: Path) -> Dataset:
    """The file as DCMTK's dcmconv writes it in explicit VR little endian."""
    converted = folder / f"{path.stem}-le.dcm"
    subprocess.run(["dcmconv", "+te", str(path), str(converted)], check=True,
                   capture_output=True)
    return pydicom.dcmread(converted)


def pydicom_reference(path: Path, index: int, folder: Path) -> np.ndarray:
    """What pydicom shows of frame ``index`` of the file (see tests/reference.py).

    Palettes: 16-bit entries keep their top 8 bits, 8-bit ones (one per word too) stay,
    as the descriptor's bits per entry say. pydicom reads unsegmented palette data in the
    machine's byte order, so a big endian file's is read from DCMTK's little endian copy.
    Enhanced multi-frame: the frame's functional groups moved to the top level.
    """
    ds = pydicom.dcmread(path)
    if ds.PhotometricInterpretation != "PALETTE COLOR":
        if "PerFrameFunctionalGroupsSequence" in ds:
            ds = _functional_groups_at_the_top(ds, index)
        return reference_render(ds, index)
    stored = ds.pixel_array
    if ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian and (
            "RedPaletteColorLookupTableData" in ds):
        swapped = apply_color_lut(stored, ds)
        ds = _little_endian_copy(path, folder)
        assert not np.array_equal(swapped, apply_color_lut(stored, ds)), (
            "pydicom reads this big endian palette right now: drop the dcmconv detour")
    rgb = apply_color_lut(stored, ds)[..., :3]
    return (rgb >> (ds.RedPaletteColorLookupTableDescriptor[2] - 8)).astype(np.uint8)


@pytest.fixture(scope="module")
async def folder_source() -> AsyncIterator[LocalFilesDataSource]:
    """The real-world files as the user's own folder (``ohifpy render --folder``)."""
    source = LocalFilesDataSource()
    report = await source.add_files(file_handles([MANIFEST.root / "real-world"]))
    assert not report.failed and not report.skipped
    yield source
    await source.aclose()


@pytest.fixture(scope="module")
async def dicomjson_source(tmp_path_factory: pytest.TempPathFactory
                           ) -> AsyncIterator[DicomJsonDataSource]:
    """The real-world files listed in an OHIF DICOM JSON file (``ohifpy render --dicomjson``):
    its metadata is JSON, the rest comes from each file, big endian ones included."""
    root = tmp_path_factory.mktemp("real-world-json")
    (root / "data").symlink_to(MANIFEST.root, target_is_directory=True)
    files = [MANIFEST.root / i.path for i in STUDY.instances]
    with serve_directory(root) as url:
        write_dicomjson(root / "study.json", files, MANIFEST.root, url + "data/")
        transport = HttpxTransport()
        source = DicomJsonDataSource("dicomjson", "DICOM JSON", transport)
        await source.load(url + "study.json")
        yield source
        await transport.aclose()


async def _render(source: DataSource, instance: make_test_data.InstanceEntry,
                  number: int) -> tuple[np.ndarray, VOIWindow | None]:
    series = next(s for s in STUDY.series if instance in s.instances)
    rgba, _, window = await render_image(source, STUDY.study_uid, series.series_uid,
                                         instance.sop_uid, number)
    return rgba, window


def assert_matches_pydicom(rgba: np.ndarray, instance: make_test_data.InstanceEntry,
                           number: int, folder: Path) -> None:
    expected = pydicom_reference(MANIFEST.root / instance.path, number - 1, folder)
    assert (rgba[..., 3] == 255).all()
    ours = rgba[..., :3] if expected.ndim == 3 else rgba[..., 0]
    difference = np.abs(ours.astype(int) - expected.astype(int))
    assert difference.max() <= 1, (
        f"{np.count_nonzero(difference > 1)} samples differ from pydicom by more than 1 "
        f"(at most {difference.max()})")


@pytest.mark.parametrize(("instance", "number"), FRAMES)
async def test_from_orthanc_matches_pydicom(instance: make_test_data.InstanceEntry, number: int,
                                            dicomweb_source: DicomWebSource,
                                            tmp_path: Path) -> None:
    async with DICOMwebDataSource(dicomweb_source) as source:
        rgba, window = await _render(source, instance, number)
    assert_matches_pydicom(rgba, instance, number, tmp_path)
    if "enhanced" in instance.path:  # the frame's first Frame VOI LUT window
        assert window is not None
        assert (window.center, window.width) == (300 + 100 * number, 1300 + 200 * number)


@pytest.mark.parametrize(("instance", "number"), FRAMES)
async def test_from_a_folder_matches_pydicom(instance: make_test_data.InstanceEntry, number: int,
                                             folder_source: LocalFilesDataSource,
                                             tmp_path: Path) -> None:
    rgba, _ = await _render(folder_source, instance, number)
    assert_matches_pydicom(rgba, instance, number, tmp_path)


@pytest.mark.parametrize(("instance", "number"), FRAMES)
async def test_from_a_dicomjson_file_matches_pydicom(instance: make_test_data.InstanceEntry,
                                                     number: int,
                                                     dicomjson_source: DicomJsonDataSource,
                                                     tmp_path: Path) -> None:
    rgba, _ = await _render(dicomjson_source, instance, number)
    assert_matches_pydicom(rgba, instance, number, tmp_path)


async def test_orthancs_metadata_of_implicit_vr_lacks_the_palette_and_lut_descriptors(
        orthanc: LoadedOrthanc, dicomweb_source: DicomWebSource) -> None:
    """Why the instance itself is fetched: the metadata lacks what pydicom reads from the
    file, and filling it in from the instance makes the palette pydicom's."""
    implicit = [i for i in STUDY.instances if i.transfer_syntax_uid == "1.2.840.10008.1.2"]
    async with DICOMwebClient(dicomweb_source) as client:  # the plain client: no filling in
        for instance in implicit:
            series = next(s for s in STUDY.series if instance in s.instances)
            metadata = await client.retrieve_instance_metadata(
                STUDY.study_uid, series.series_uid, instance.sop_uid)
            await client.load_bulkdata(metadata)
            missing = missing_display_attributes(metadata)
            assert missing, instance.path
            file = pydicom.dcmread(MANIFEST.root / instance.path)
            fill_in_from_file(metadata, file)
            assert missing_display_attributes(metadata) == []
            if file.PhotometricInterpretation == "PALETTE COLOR":
                ours = PaletteColorLUT.from_dataset(metadata, signed=False)
                theirs = apply_color_lut(np.arange(len(ours.rgb)) + ours.first_mapped, file)
                bits = file.RedPaletteColorLookupTableDescriptor[2]
                np.testing.assert_array_equal(ours.rgb, theirs[:, :3] >> (bits - 8))


def test_filling_in_from_a_big_endian_file_makes_its_words_little_endian(tmp_path: Path) -> None:
    """Metadata is little endian (DICOM JSON): LUT data taken from a big endian file
    must be too, or every palette entry is byte-swapped."""
    (big,) = [i for i in STUDY.instances if i.path.endswith("palette-lut16-explicit-be.dcm")]
    (little,) = [i for i in STUDY.instances if i.path.endswith("palette-lut16-explicit-le.dcm")]
    metadata = Dataset.from_json(pydicom.dcmread(MANIFEST.root / little.path,
                                                 stop_before_pixels=True).to_json_dict())
    for tag in [e.tag for e in metadata if e.keyword.endswith("PaletteColorLookupTableData")]:
        del metadata[tag]
    fill_in_from_file(metadata, pydicom.dcmread(MANIFEST.root / big.path))
    expected = pydicom.dcmread(MANIFEST.root / little.path)
    assert metadata.RedPaletteColorLookupTableData == expected.RedPaletteColorLookupTableData
    assert "PixelData" not in metadata


async def test_metadata_the_instance_cannot_complete_is_one_clear_error(
        dicomweb_source: DicomWebSource) -> None:
    """A palette image whose metadata lacks its palette, and whose instance is not there."""
    metadata = Dataset()
    metadata.StudyInstanceUID, metadata.SeriesInstanceUID = STUDY.study_uid, "1.2.3.4"
    metadata.SOPInstanceUID, metadata.PhotometricInterpretation = "1.2.3.4.5", "PALETTE COLOR"
    async with DICOMwebDataSource(dicomweb_source) as source:
        with pytest.raises(DataSourceError, match=(
                r"instance 1\.2\.3\.4\.5 lacks RedPaletteColorLookupTableDescriptor, "
                r"RedPaletteColorLookupTableData, and the instance itself could not be read "
                r"for them: .*404")):
            await source.load_bulkdata(metadata)
