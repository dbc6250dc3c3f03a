"""ohifpy.static_wado: pydicom's own test files written as a static DICOMweb tree and read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import numpy as np
import pytest
from pydicom import Dataset, FileMetaDataset, dcmread
from pydicom.config import disable_value_validation
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian

from ohifpy.static_wado import StaticWadoError, write_static_dicomweb

FILES = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "SC_rgb_rle_2frame.dcm")


def _load(name: str) -> Dataset:
    return dcmread(get_testdata_file(name))


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Dataset]]:
    root = tmp_path_factory.mktemp("static") / "dicom-web"
    datasets = {name: _load(name) for name in FILES}
    written = write_static_dicomweb(datasets.values(), root)
    assert (written.studies, written.instances, written.frames) == (4, 4, 1 + 1 + 15 + 2)
    return root, datasets


def _series_dir(root: Path, ds: Dataset) -> Path:
    return root / "studies" / ds.StudyInstanceUID / "series" / ds.SeriesInstanceUID


def test_study_list_is_qido_json(tree: tuple[Path, dict[str, Dataset]]) -> None:
    root, datasets = tree
    studies = {s["0020000D"]["Value"][0]: s for s in _read(root / "studies" / "index.json")}
    ct = datasets["CT_small.dcm"]
    row = studies[ct.StudyInstanceUID]
    assert row["00100010"]["Value"] == [{"Alphabetic": str(ct.PatientName)}]
    assert row["00080061"]["Value"] == ["CT"]  # ModalitiesInStudy
    assert row["00201206"]["Value"] == [1] and row["00201208"]["Value"] == [1]
    assert row["00080020"]["Value"] == [ct.StudyDate]


def test_series_and_instance_lists(tree: tuple[Path, dict[str, Dataset]]) -> None:
    root, datasets = tree
    dose = datasets["rtdose.dcm"]
    series = _read(root / "studies" / dose.StudyInstanceUID / "series" / "index.json")
    assert [s["0020000E"]["Value"][0] for s in series] == [dose.SeriesInstanceUID]
    assert series[0]["00080060"]["Value"] == ["RTDOSE"]
    instances = _read(_series_dir(root, dose) / "instances" / "index.json")
    assert instances[0]["00080018"]["Value"] == [dose.SOPInstanceUID]
    assert instances[0]["00280008"]["Value"] == [15]


def test_metadata_round_trips_through_pydicom(tree: tuple[Path, dict[str, Dataset]]) -> None:
    root, datasets = tree
    mr = datasets["MR_small.dcm"]
    metadata = _read(_series_dir(root, mr) / "metadata")
    assert len(metadata) == 1
    back = Dataset.from_json(metadata[0], bulk_data_uri_handler=lambda uri: b"")
    for keyword in ("PatientName", "SOPInstanceUID", "Rows", "Columns", "PixelSpacing"):
        assert back[keyword].value == mr[keyword].value
    assert metadata[0]["00020010"]["Value"] == [mr.file_meta.TransferSyntaxUID]
    study_metadata = _read(root / "studies" / mr.StudyInstanceUID / "metadata")
    instance_metadata = _read(_series_dir(root, mr) / "instances" / mr.SOPInstanceUID / "metadata")
    assert study_metadata == metadata == instance_metadata


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtdose.dcm"])
def test_native_frames_are_the_pixels(tree: tuple[Path, dict[str, Dataset]], name: str) -> None:
    root, datasets = tree
    ds = datasets[name]
    series_url = f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/metadata"
    metadata = _read(root / series_url)[0]
    frames_dir = root / urljoin(series_url, metadata["7FE00010"]["BulkDataURI"])
    pixels = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    dtype = pixels.dtype.newbyteorder("<")
    for index, expected in enumerate(pixels, start=1):
        frame = (frames_dir / str(index)).read_bytes()
        got = np.frombuffer(frame, dtype=dtype).reshape(ds.Rows, ds.Columns)
        assert np.array_equal(got, expected), index


def test_encapsulated_frames_are_the_codestreams(tree: tuple[Path, dict[str, Dataset]]) -> None:
    root, datasets = tree
    ds = datasets["SC_rgb_rle_2frame.dcm"]
    frames_dir = _series_dir(root, ds) / "instances" / ds.SOPInstanceUID / "frames"
    expected = list(generate_frames(ds.PixelData, number_of_frames=2))
    assert [(frames_dir / str(n)).read_bytes() for n in (1, 2)] == expected
    assert sorted(p.name for p in frames_dir.iterdir()) == ["1", "2"]


def _instance(**attrs: Any) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2", "1.2.3", "1.2.3.4"
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        (lambda: [_instance(SOPInstanceUID="")], "SOPInstanceUID '' is missing"),
        (lambda: [_instance(StudyInstanceUID="../../etc")], "not a valid UID"),
        (lambda: [_instance(), _instance()], "appears twice"),
        (
            lambda: [_instance(Rows=2, Columns=2, BitsAllocated=8, PixelData=b"1234")],
            "TransferSyntaxUID",
        ),
    ],
)
def test_bad_instances_are_refused(
    tmp_path: Path, datasets: Callable[[], list[Dataset]], message: str
) -> None:
    with disable_value_validation():  # pydicom would warn about the hostile UIDs
        hostile = datasets()
    with pytest.raises(StaticWadoError, match=message):
        write_static_dicomweb(hostile, tmp_path)
    assert not (tmp_path / "studies" / "index.json").exists()


def test_truncated_pixel_data_is_refused(tmp_path: Path) -> None:
    ds = _instance(
        Rows=4,
        Columns=4,
        BitsAllocated=16,
        SamplesPerPixel=1,
        PhotometricInterpretation="MONOCHROME2",
        PixelData=b"\0" * 10,
    )
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with pytest.raises(StaticWadoError, match="pixel data has 10 bytes, 1 frame"):
        write_static_dicomweb([ds], tmp_path)
