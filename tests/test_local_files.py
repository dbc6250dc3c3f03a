"""The ``local`` data source: the user's own folders, ZIPs and DICOMDIRs, read lazily.

Real files throughout: synthetic studies and pydicom's test files written to disk, ZIPs
made with ``zipfile``, DICOMDIR sets with ``pydicom.fileset.FileSet``, damaged files cut
from real ones. Pixels are checked the way a user would see them: every frame the source
serves, decoded by the viewer's ``prepare_frame``, equals pydicom's ``pixel_array`` of the
same file. Tests that need the generated test data (made with subprocesses) or CPython's
JPEG codecs are ``cpython_only``; the rest also run under Pyodide in Node, which is why
they drive the source's coroutines with :func:`complete` instead of an event loop.
"""

from __future__ import annotations

import copy
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pydicom
import pytest
from pydicom import Dataset, FileMetaDataset
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.fileset import FileSet
from pydicom.pixels.utils import get_nr_frames, pack_bits
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)
from support.coroutines import complete

from ohifpy import synthetic
from ohifpy.datasources import DataSourceError
from ohifpy.datasources.catalog import Catalog
from ohifpy.datasources.local_files import (
    LocalFilesDataSource,
    LocalFilesReport,
    PathHandle,
    file_handles,
    path_handles,
)
from ohifpy.dicomweb.part10 import write_instance
from ohifpy.dicomweb.query import StudyQuery
from ohifpy.imaging import prepare_frame

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# helpers


def save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def pydicom_file(name: str) -> Path:
    """One of pydicom's test files (shipped with it: found under Pyodide too)."""
    found = get_testdata_file(name)
    assert isinstance(found, str), name
    return Path(found)


def study_uids(rows: list[Dataset]) -> set[str]:
    return {str(row.StudyInstanceUID) for row in rows}


def add_paths(source: LocalFilesDataSource, *paths: Path) -> LocalFilesReport:
    return complete(source.add_files(path_handles(paths)))


def assert_frames_match_pydicom(source: LocalFilesDataSource, path: Path) -> None:
    """Every frame the source serves for ``path``, decoded, equals pydicom's pixel_array."""
    expected = pydicom.dcmread(path)
    uids = (str(expected.StudyInstanceUID), str(expected.SeriesInstanceUID),
            str(expected.SOPInstanceUID))
    (instance,) = [i for i in complete(source.retrieve_study_instances(uids[0]))
                   if i.sop_instance_uid == uids[2]]
    assert "PixelData" not in instance.metadata
    count = get_nr_frames(expected, warn=False)
    arrays = expected.pixel_array if count > 1 else expected.pixel_array[None]
    frames = complete(source.retrieve_instance_frames(*uids, list(range(1, count + 1))))
    assert [f.frame_number for f in frames] == list(range(1, count + 1))
    for frame, array in zip(frames, arrays):
        image = prepare_frame(frame.data, frame.transfer_syntax_uid, instance.metadata,
                              frame.frame_number - 1)
        np.testing.assert_array_equal(image.stored, array, err_msg=f"{path} {frame}")


@dataclass
class CountingHandle:
    """A file on disk that counts the bytes read from it."""

    inner: PathHandle
    bytes_read: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def size(self) -> int:
        return self.inner.size

    def read(self, offset: int, length: int) -> bytes:
        data = self.inner.read(offset, length)
        self.bytes_read += len(data)
        return data


STUDIES = ("ct", "mr", "xa-cine", "no-modality", "utf8", "iso2022-jp")


@pytest.fixture(scope="module")
def studies() -> dict[str, synthetic.SyntheticStudy]:
    made = [synthetic.ct_study(6), synthetic.mr_study(), synthetic.xa_cine_study(8),
            synthetic.no_modality_study(), *synthetic.charset_studies()]
    by_key = {study.key: study for study in made}
    assert tuple(by_key) == STUDIES
    return by_key


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory,
           studies: dict[str, synthetic.SyntheticStudy]) -> Path:
    """The synthetic studies as a user's export: one nested folder per study."""
    root = tmp_path_factory.mktemp("local") / "export"
    for key, study in studies.items():
        for index, ds in enumerate(study.datasets):
            save(ds, root / "patients" / key / f"{index:04d}.dcm")
    return root


@pytest.fixture(scope="module")
def dicomdir_set(tmp_path_factory: pytest.TempPathFactory,
                 studies: dict[str, synthetic.SyntheticStudy]) -> tuple[Path, list[Dataset]]:
    """A File-set (DICOMDIR and PT*/ST*/SE*/IM* files) of the CT and the first MR slices."""
    datasets: list[Dataset] = [*studies["ct"].datasets[:3], *studies["mr"].datasets[:4]]
    file_set = FileSet()
    for ds in datasets:
        file_set.add(copy.deepcopy(ds))
    root = tmp_path_factory.mktemp("fileset") / "CD"
    file_set.write(root)
    return root, datasets


# ---------------------------------------------------------------------------------------
# searching a folder


def test_a_folder_lists_its_studies_series_and_instances(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, report = complete(LocalFilesDataSource.from_paths([folder]))
    assert (report.skipped, report.failed) == ([], [])
    assert report.added == sum(len(study.datasets) for study in studies.values())
    assert set(report.study_instance_uids) == {s.study_uid for s in studies.values()}

    rows = {str(row.StudyInstanceUID): row for row in complete(source.search_for_studies())}
    assert set(rows) == {s.study_uid for s in studies.values()}
    ct = rows[studies["ct"].study_uid]
    assert (str(ct.PatientName), ct.StudyDate, ct.AccessionNumber) == (
        "Phantom^Chest CT", "20240105", "OHIF0001")
    assert (ct.ModalitiesInStudy, ct.NumberOfStudyRelatedSeries,
            ct.NumberOfStudyRelatedInstances) == ("CT", 1, 6)
    assert rows[studies["no-modality"].study_uid].ModalitiesInStudy in ("", [], None)

    (series,) = complete(source.search_for_series(studies["mr"].study_uid))
    assert (series.Modality, series.SeriesInstanceUID, series.NumberOfSeriesRelatedInstances) \
        == ("MR", studies["mr"].datasets[0].SeriesInstanceUID, 24)
    (cine,) = complete(source.search_for_instances(studies["xa-cine"].study_uid))
    assert (cine.NumberOfFrames, cine.Rows) == (8, studies["xa-cine"].datasets[0].Rows)
    assert complete(source.search_for_series("1.2.3.4")) == []


def test_search_filters_match_like_a_server(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, _ = complete(LocalFilesDataSource.from_paths([folder]))

    def found(**filters: Any) -> set[str]:
        return study_uids(complete(source.search_for_studies(StudyQuery(**filters))))

    def uids(*keys: str) -> set[str]:
        return {studies[key].study_uid for key in keys}

    assert found(patient_name="phANtom") == uids("ct", "mr", "xa-cine", "no-modality")
    assert found(patient_name="Phantom^Ch*") == uids("ct")
    # names decoded from each file's character set (UTF-8, ISO 2022 IR 87)
    assert found(patient_name="山田") == uids("utf8", "iso2022-jp")
    assert found(modalities_in_study=("MR", "XA")) == uids("mr", "xa-cine")
    assert found(study_instance_uid=studies["mr"].study_uid) == uids("mr")
    assert found(patient_name="nobody") == set()
    everything = complete(source.search_for_studies())
    page = complete(source.search_for_studies(limit=2, offset=1))
    assert study_uids(page) == study_uids(everything[1:3])


def test_adding_the_same_folder_twice_adds_nothing(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, first = complete(LocalFilesDataSource.from_paths([folder]))
    again = add_paths(source, folder)
    assert again.added == 0 and again.failed == []
    assert again.study_instance_uids == first.study_instance_uids
    query = StudyQuery(study_instance_uid=studies["ct"].study_uid)
    (ct,) = complete(source.search_for_studies(query))
    assert ct.NumberOfStudyRelatedInstances == 6
    assert len(complete(source.retrieve_study_instances(studies["ct"].study_uid))) == 6


def test_a_second_drop_adds_to_the_first(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source = LocalFilesDataSource()
    first = add_paths(source, folder / "patients" / "ct")
    second = add_paths(source, folder / "patients" / "mr")
    assert (first.added, second.added) == (6, 24)
    assert study_uids(complete(source.search_for_studies())) == {
        studies["ct"].study_uid, studies["mr"].study_uid}


# ---------------------------------------------------------------------------------------
# frames


@pytest.mark.parametrize("name", [
    "CT_small.dcm",  # explicit VR little endian
    "MR_small_RLE.dcm",
    "SC_rgb_rle_2frame.dcm",  # multi-frame, encapsulated, colour
    "rtdose.dcm",  # 15 frames, implicit VR, 32-bit
    "MR_small_bigendian.dcm",  # served big endian, as stored
    "image_dfl.dcm",  # deflated: inflated whole
    "ExplVR_LitEndNoMeta.dcm",  # no preamble, no File Meta
])
def test_frames_decode_to_pydicoms_pixels(name: str) -> None:
    path = pydicom_file(name)
    source = LocalFilesDataSource()
    report = complete(source.add_files([PathHandle.of(path)]))
    if name == "ExplVR_LitEndNoMeta.dcm":  # a header without pixel data: listed, no frames
        assert report.added == 1
        return
    assert (report.added, report.failed) == (1, [])
    assert_frames_match_pydicom(source, path)


@pytest.mark.cpython_only  # pylibjpeg / openjpeg codecs
@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
                                  "JPEG2000.dcm"])
def test_compressed_frames_decode_to_pydicoms_pixels(name: str) -> None:
    path = pydicom_file(name)
    source = LocalFilesDataSource()
    assert (complete(source.add_files([PathHandle.of(path)]))).added == 1
    assert_frames_match_pydicom(source, path)


@pytest.fixture(scope="module")
def cine_files(tmp_path_factory: pytest.TempPathFactory,
               studies: dict[str, synthetic.SyntheticStudy]) -> dict[str, Path]:
    """The 8-frame cine native, and RLE with a Basic, an Extended and no offset table."""
    folder = tmp_path_factory.mktemp("cine")
    cine = studies["xa-cine"].datasets[0]
    files = {"native": save(cine, folder / "native.dcm")}
    rle = copy.deepcopy(cine)
    rle.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    frames = [bytes(f) for f in pydicom.encaps.generate_frames(rle.PixelData,
                                                               number_of_frames=8)]
    for table in ("basic", "extended", "none"):
        ds = copy.deepcopy(rle)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        if table == "extended":
            ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = \
                encapsulate_extended(frames)
        else:
            ds.PixelData = encapsulate(frames, has_bot=table == "basic")
        ds["PixelData"].is_undefined_length = True
        files[table] = save(ds, folder / f"rle-{table}.dcm")
    return files


@pytest.mark.parametrize("kind", ["native", "basic", "extended", "none"])
def test_one_frame_of_a_multi_frame_file_reads_only_that_frame(
    cine_files: dict[str, Path], kind: str
) -> None:
    path = cine_files[kind]
    handle = CountingHandle(PathHandle.of(path))
    source = LocalFilesDataSource()
    assert (complete(source.add_files([handle]))).added == 1
    assert_frames_match_pydicom(source, path)

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    handle.bytes_read = 0
    uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    (frame,) = complete(source.retrieve_instance_frames(*uids, [6]))
    frame_size = ds.Rows * ds.Columns * ds.BitsAllocated // 8
    assert len(frame.data) <= frame_size
    assert handle.bytes_read <= frame_size + 16 * 1024, (handle.bytes_read, handle.size)
    assert frame.transfer_syntax_uid == ds.file_meta.TransferSyntaxUID
    if kind != "native":
        assert frame.content_type == f"image/x-dicom-rle; transfer-syntax={RLELossless}"


def test_headers_longer_than_the_first_read(tmp_path: Path) -> None:
    """A 40 kB private element before the pixels (as MR vendors write): the first files'
    headers are read on from the file, and the later files are read once, more at a time."""
    ds = copy.deepcopy(synthetic.ct_study(1).datasets[0])
    ds.set_pixel_data(np.arange(256, dtype=np.int16).reshape(16, 16), "MONOCHROME2", 16,
                      generate_instance_uid=False)
    block = ds.private_block(0x0029, "OHIFPY TEST", create=True)
    block.add_new(0x10, "OB", bytes(range(256)) * 160)
    paths = []
    for index in range(100):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = index + 1
        paths.append(save(ds, tmp_path / f"{index:03d}.dcm"))
    handles = [CountingHandle(PathHandle.of(path)) for path in paths]
    source = LocalFilesDataSource()
    report = complete(source.add_files(handles))
    assert (report.added, report.failed) == (100, [])
    assert handles[0].bytes_read > handles[-1].bytes_read == handles[-1].size  # one read
    assert_frames_match_pydicom(source, paths[-1])
    header = complete(source.retrieve_study_instances(str(ds.StudyInstanceUID)))[-1].metadata
    assert header[0x0029, 0x1010].value == bytes(range(256)) * 160


def test_one_bit_frames_that_do_not_end_on_a_byte(tmp_path: Path) -> None:
    """Three 5x3 frames of 1-bit pixels: 15 bits each, cut from the packed bits."""
    pixels = np.random.default_rng(7).integers(0, 2, size=(3, 5, 3), dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (
        generate_uid(), generate_uid(), generate_uid())
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 5, 3, 3
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.PixelData = pack_bits(pixels)
    path = save(ds, tmp_path / "bits.dcm")
    source = LocalFilesDataSource()
    assert (add_paths(source, path)).added == 1
    assert_frames_match_pydicom(source, path)


# ---------------------------------------------------------------------------------------
# what is not a usable DICOM file


def test_non_dicom_files_are_skipped_and_damaged_ones_named(
    tmp_path: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    folder = tmp_path / "drop"
    ct = studies["ct"].datasets
    for index in range(3):
        save(ct[index], folder / f"good/{index}.dcm")
    (folder / "notes.txt").write_text("a note that is not DICOM\n")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (folder / "empty").write_bytes(b"")
    whole = save(ct[3], tmp_path / "whole.dcm").read_bytes()
    (folder / "cut-pixels.dcm").write_bytes(whole[: len(whole) // 2])
    (folder / "cut-header.dcm").write_bytes(whole[:700])
    (folder / "garbage.dcm").write_bytes(
        bytes(128) + b"DICM" + np.random.default_rng(1).bytes(4000))
    no_sop = copy.deepcopy(ct[4])
    del no_sop.SOPInstanceUID
    no_sop.save_as(folder / "no-sop.dcm", enforce_file_format=False)
    huge = copy.deepcopy(ct[5])
    huge.private_block(0x0009, "OHIFPY", create=True).add_new(0x01, "OB", bytes(16))
    element = b"\x09\x00\x01\x10OB\x00\x00\x10\x00\x00\x00"  # (0009,1001) OB, 16 bytes
    data = write_instance(huge)
    assert data.count(element) == 1
    (folder / "huge-length.dcm").write_bytes(
        data.replace(element, element[:8] + (0x7FFFFFF0).to_bytes(4, "little")))
    rle = copy.deepcopy(ct[5])
    rle.compress(RLELossless, encoding_plugin="pydicom")
    rle_bytes = write_instance(rle)
    (folder / "cut-rle.dcm").write_bytes(rle_bytes[:-3000])

    source, report = complete(LocalFilesDataSource.from_paths([folder]))
    prefix = folder.as_posix() + "/"
    assert report.added == 3
    assert sorted(report.skipped) == [prefix + name for name in ("empty", "notes.txt",
                                                                 "photo.png")]
    reasons = {name.removeprefix(prefix): reason for name, reason in report.failed}
    assert set(reasons) == {"cut-pixels.dcm", "cut-header.dcm", "garbage.dcm", "no-sop.dcm",
                            "cut-rle.dcm", "huge-length.dcm"}
    assert "truncated" in reasons["cut-pixels.dcm"]
    assert "truncated" in reasons["cut-header.dcm"]
    assert "SOPInstanceUID" in reasons["no-sop.dcm"]
    assert "truncated" in reasons["cut-rle.dcm"]
    assert "truncated" in reasons["huge-length.dcm"]  # read as far as the file goes
    assert all(len(reason) < 200 for reason in reasons.values()), reasons
    (row,) = complete(source.search_for_studies())
    assert row.NumberOfStudyRelatedInstances == 3


def test_pydicoms_truncated_files_are_named() -> None:
    names = ("MR_truncated.dcm", "rtplan_truncated.dcm")
    _, report = complete(LocalFilesDataSource.from_paths(
        [pydicom_file(name) for name in names]))
    assert report.added == 0
    assert [Path(name).name for name, _ in report.failed] == list(names)
    assert all("truncated" in reason for _, reason in report.failed), report.failed


# ---------------------------------------------------------------------------------------
# ZIPs and DICOMDIRs


def zip_folder(archive: Path, folder: Path, prefix: str, compression: int,
               extra: dict[str, bytes]) -> None:
    with zipfile.ZipFile(archive, "w", compression) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in extra.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip_of_nested_folders_with_a_dicomdir_and_a_zip_inside(
    tmp_path: Path, dicomdir_set: tuple[Path, list[Dataset]],
    studies: dict[str, synthetic.SyntheticStudy], compression: int,
) -> None:
    root, datasets = dicomdir_set
    inner = tmp_path / "cine.zip"
    with zipfile.ZipFile(inner, "w", compression) as zf:
        zf.writestr("cine/run1.dcm", write_instance(studies["xa-cine"].datasets[0]))
    archive = tmp_path / "Export (1).zip"
    zip_folder(archive, root, "disc/one/", compression, {
        "disc/README.TXT": b"burnt by ohifpy's tests\n",
        "disc/more/cine.zip": inner.read_bytes(),
    })
    source, report = complete(LocalFilesDataSource.from_paths([archive]))
    assert report.failed == []
    assert report.skipped == [f"{archive.as_posix()}/disc/README.TXT"]
    assert report.added == len(datasets) + 1  # the DICOMDIR's files once, the cine
    expected = {str(ds.StudyInstanceUID) for ds in datasets} | {studies["xa-cine"].study_uid}
    assert study_uids(complete(source.search_for_studies())) == expected

    for ds in (datasets[0], studies["xa-cine"].datasets[0]):  # read through the ZIP(s)
        uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
        count = get_nr_frames(ds, warn=False)
        frames = complete(source.retrieve_instance_frames(*uids, [count, 1]))
        (instance,) = [i for i in complete(source.retrieve_study_instances(uids[0]))
                       if i.sop_instance_uid == uids[2]]
        arrays = ds.pixel_array if count > 1 else ds.pixel_array[None]
        for frame in frames:
            image = prepare_frame(frame.data, frame.transfer_syntax_uid, instance.metadata,
                                  frame.frame_number - 1)
            np.testing.assert_array_equal(image.stored, arrays[frame.frame_number - 1])
    complete(source.aclose())


def test_a_dicomdir_alone_brings_its_files(dicomdir_set: tuple[Path, list[Dataset]],
                                                 tmp_path: Path) -> None:
    root, datasets = dicomdir_set
    source, report = complete(LocalFilesDataSource.from_paths([root / "DICOMDIR"]))
    assert (report.added, report.failed, report.skipped) == (len(datasets), [], [])
    assert_frames_match_pydicom(source, next(root.glob("PT*/ST*/SE*/IM000000")))

    # as Linux mounts a CD: lower-case names, while the DICOMDIR says upper case
    lower = tmp_path / "cdrom"
    for path in root.rglob("*"):
        if path.is_file():
            target = lower / path.relative_to(root).as_posix().lower()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    _, report = complete(LocalFilesDataSource.from_paths([lower / "dicomdir"]))
    assert (report.added, report.failed) == (len(datasets), [])


def test_a_dicomdir_and_its_files_given_together_add_each_file_once(
    dicomdir_set: tuple[Path, list[Dataset]]
) -> None:
    root, datasets = dicomdir_set
    handles = path_handles([root])
    assert len(handles) == len(datasets) + 1
    source = LocalFilesDataSource()
    report = complete(source.add_files(handles))
    assert (report.added, report.failed, report.skipped) == (len(datasets), [], [])
    rows = complete(source.search_for_studies())
    assert sum(row.NumberOfStudyRelatedInstances for row in rows) == len(datasets)


def test_the_pages_files_find_a_dicomdir_by_their_names(
    dicomdir_set: tuple[Path, list[Dataset]], tmp_path: Path
) -> None:
    """As the browser gives them: each file with its path in the dropped folder, the
    bytes anywhere (here a flat folder, so nothing is found next to the DICOMDIR)."""
    root, datasets = dicomdir_set
    flat = tmp_path / "flat"
    flat.mkdir()
    entries = []
    for index, path in enumerate(sorted(root.rglob("*"), reverse=True)):  # DICOMDIR last
        if path.is_file():
            shutil.copy(path, flat / str(index))
            entries.append({"file": str(flat / str(index)),
                            "path": "CD/" + path.relative_to(root).as_posix()})
    handles = file_handles(entries)
    assert [h.name for h in handles] == [e["path"] for e in entries]
    source = LocalFilesDataSource()
    report = complete(source.add_files(handles))
    assert (report.added, report.failed, report.skipped) == (len(datasets), [], [])
    del entries[0]  # an image the DICOMDIR references
    report = complete(LocalFilesDataSource().add_files(file_handles(entries)))
    assert report.added == len(datasets) - 1
    assert [name for name, _ in report.failed] == [handles[0].name]


def test_a_file_missing_from_a_dicomdir_set_is_named(
    dicomdir_set: tuple[Path, list[Dataset]], tmp_path: Path
) -> None:
    root, datasets = dicomdir_set
    copied = tmp_path / "CD"
    shutil.copytree(root, copied)
    missing = next(copied.glob("PT*/ST*/SE*/IM000001"))
    missing.unlink()
    _, report = complete(LocalFilesDataSource.from_paths([copied / "DICOMDIR"]))
    assert report.added == len(datasets) - 1
    ((name, reason),) = report.failed
    assert name.lower() == missing.as_posix().lower()
    assert "DICOMDIR" in reason


# ---------------------------------------------------------------------------------------
# metadata, storing, errors


def test_metadata_is_the_header_without_pixels(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, _ = complete(LocalFilesDataSource.from_paths([folder / "patients" / "ct"]))
    ct = studies["ct"]
    instances = complete(source.retrieve_study_instances(ct.study_uid))
    assert [i.sop_instance_uid for i in instances] == [str(d.SOPInstanceUID) for d in ct.datasets]
    metadata = instances[0].metadata
    assert "PixelData" not in metadata
    assert (metadata.Rows, metadata.WindowCenter, metadata.RescaleIntercept) == (
        512, [40, -600], -1024)
    assert complete(source.load_bulkdata(metadata)) is metadata
    series_uid = str(ct.datasets[0].SeriesInstanceUID)
    assert len(complete(source.retrieve_series_metadata(ct.study_uid, series_uid))) == 6
    assert len(complete(source.retrieve_study_metadata(ct.study_uid))) == 6
    assert source.capabilities.store and source.capabilities.download_reports
    assert not (source.capabilities.rendered or source.capabilities.query_options)


def test_errors_name_what_is_missing(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, _ = complete(LocalFilesDataSource.from_paths([folder / "patients" / "ct"]))
    ds = studies["ct"].datasets[0]
    uids = (str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    with pytest.raises(DataSourceError, match="1.2.3.99"):
        complete(source.retrieve_study_instances("1.2.3.99"))
    with pytest.raises(DataSourceError, match="no series 1.2.3.98"):
        complete(source.retrieve_study_instances(uids[0], ["1.2.3.98"]))
    with pytest.raises(DataSourceError, match="read as stored"):
        complete(source.retrieve_instance_frames(*uids, [1], transfer_syntax_uid=JPEG2000Lossless))
    (frame,) = complete(source.retrieve_instance_frames(
        *uids, [1], transfer_syntax_uid=ExplicitVRLittleEndian))
    assert len(frame.data) == 512 * 512 * 2
    with pytest.raises(DataSourceError, match="not frame 2"):
        complete(source.retrieve_instance_frames(*uids, [2]))
    with pytest.raises(DataSourceError, match="not in series"):
        complete(source.retrieve_instance_frames(uids[0], "1.2.3.97", uids[2], [1]))
    with pytest.raises(DataSourceError, match="render"):
        complete(source.retrieve_rendered(uids[0]))
    with pytest.raises(DataSourceError, match="no such file"):
        path_handles([folder / "nowhere"])


def test_stored_instances_show_up_with_the_loaded_ones(
    folder: Path, studies: dict[str, synthetic.SyntheticStudy]
) -> None:
    source, _ = complete(LocalFilesDataSource.from_paths([folder / "patients" / "ct"]))
    ct = studies["ct"]
    report = Dataset()
    report.SOPClassUID = BASIC_TEXT_SR
    report.SOPInstanceUID, report.SeriesInstanceUID = generate_uid(), generate_uid()
    report.StudyInstanceUID = ct.study_uid
    report.Modality, report.SeriesNumber, report.SeriesDescription = "SR", 99, "Measurements"
    image = copy.deepcopy(ct.datasets[0])
    image.SOPInstanceUID = image.file_meta.MediaStorageSOPInstanceUID = generate_uid()

    assert complete(source.store_instances([report, write_instance(image)], ct.study_uid)) \
        == Dataset()
    (row,) = complete(source.search_for_studies())
    assert (row.ModalitiesInStudy, row.NumberOfStudyRelatedSeries,
            row.NumberOfStudyRelatedInstances) == (["CT", "SR"], 2, 8)
    series = {str(s.SeriesInstanceUID): s for s in complete(source.search_for_series(ct.study_uid))}
    assert series[str(report.SeriesInstanceUID)].SeriesDescription == "Measurements"
    uids = (ct.study_uid, str(image.SeriesInstanceUID), str(image.SOPInstanceUID))
    (frame,) = complete(source.retrieve_instance_frames(*uids, [1]))
    (instance,) = [i for i in complete(source.retrieve_study_instances(ct.study_uid))
                   if i.sop_instance_uid == uids[2]]
    assert "PixelData" not in instance.metadata
    np.testing.assert_array_equal(
        prepare_frame(frame.data, frame.transfer_syntax_uid, instance.metadata).stored,
        image.pixel_array)
    with pytest.raises(DataSourceError, match="no pixel data"):
        complete(source.retrieve_instance_frames(ct.study_uid, str(report.SeriesInstanceUID),
                                              str(report.SOPInstanceUID), [1]))
    other = copy.deepcopy(report)
    other.SOPInstanceUID, other.StudyInstanceUID = generate_uid(), "1.2.3.4"
    with pytest.raises(DataSourceError, match="not of study"):
        complete(source.store_instances([other], ct.study_uid))
    assert len(complete(source.search_for_studies())) == 1


def test_catalog_keeps_the_first_of_a_repeated_instance() -> None:
    catalog = Catalog()
    first, second = Dataset(), Dataset()
    for ds, description in ((first, "first"), (second, "second")):
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2", "1.2.3", "1.2.3.4"
        ds.SeriesDescription = description
    catalog.add(first, "a")
    catalog.add(second, "b")
    assert len(catalog) == 1
    assert catalog.locate("1.2.3.4") == (first, "a")
    (series,) = catalog.search_for_series("1.2")
    assert series.SeriesDescription == "first"
    with pytest.raises(DataSourceError, match="SOPInstanceUID"):
        catalog.add(Dataset(), "c")
    with pytest.raises(DataSourceError, match="1.2.3.5"):
        catalog.locate("1.2.3.5")


# ---------------------------------------------------------------------------------------
# a big folder


@pytest.fixture(scope="session")
def two_thousand_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 tiny images: 2 studies of 5 series of 200 instances."""
    folder = tmp_path_factory.mktemp("big")
    template = synthetic.ct_study(1).datasets[0]
    template.set_pixel_data(np.arange(64, dtype=np.int16).reshape(8, 8), "MONOCHROME2", 16,
                            generate_instance_uid=False)
    for study in range(2):
        study_uid = generate_uid(entropy_srcs=["big", str(study)])
        for series in range(5):
            series_uid = generate_uid(entropy_srcs=["big", str(study), str(series)])
            for index in range(200):
                template.StudyInstanceUID, template.SeriesInstanceUID = study_uid, series_uid
                template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = \
                    generate_uid(entropy_srcs=["big", str(study), str(series), str(index)])
                template.InstanceNumber = index + 1
                save(template, folder / f"s{study}" / f"se{series}" / f"{index:03d}.dcm")
    return folder


def test_two_thousand_files_add_in_reasonable_time(two_thousand_files: Path) -> None:
    started = time.perf_counter()
    source, report = complete(LocalFilesDataSource.from_paths([two_thousand_files]))
    seconds = time.perf_counter() - started
    assert (report.added, report.failed, report.skipped) == (2000, [], [])
    rows = complete(source.search_for_studies())
    assert [(r.NumberOfStudyRelatedSeries, r.NumberOfStudyRelatedInstances) for r in rows] \
        == [(5, 1000), (5, 1000)]
    print(f"2,000 files added in {seconds:.2f} s")
    assert seconds < 60


# ---------------------------------------------------------------------------------------
# the generated test data (every transfer syntax): CPython only, it is made by subprocesses


@pytest.mark.cpython_only
@pytest.mark.filterwarnings("ignore:The value length")  # the long-strings study, on purpose
def test_the_whole_test_data_folder(testdata: Any) -> None:
    source, report = complete(LocalFilesDataSource.from_paths([testdata.root]))
    assert report.failed == []
    assert [Path(name).name for name in report.skipped] == ["manifest.json"]
    expected = {study.study_uid: study for study in testdata.studies}
    assert set(report.study_instance_uids) == set(expected)
    for row in complete(source.search_for_studies(limit=1000)):
        study = expected[str(row.StudyInstanceUID)]
        assert row.NumberOfStudyRelatedInstances == study.num_instances, study.key
        assert row.NumberOfStudyRelatedSeries == len(study.series), study.key


@pytest.mark.cpython_only  # the test data and pylibjpeg's codecs
@pytest.mark.parametrize("key", ["ct-rle", "ct-jpeg-ls", "ct-j2k", "ct-jpeg-lossless",
                                 "ct-htj2k", "ct-explicit-be", "ct-deflated", "ct-implicit-le",
                                 "xa-cine-jpeg-lossless", "rgb-rle", "ybr-full", "palette"])
def test_test_data_frames_decode_to_pydicoms_pixels(testdata: Any, key: str) -> None:
    paths = [testdata.root / entry.path for entry in testdata.study(key).instances[:2]]
    source = LocalFilesDataSource()
    assert (complete(source.add_files(path_handles(paths)))).added == len(paths)
    for path in paths:
        assert_frames_match_pydicom(source, path)
