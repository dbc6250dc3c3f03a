"""Every test study, in every transfer syntax, round-trips through a real Orthanc.

For each study: QIDO lists it with the right attributes; every frame retrieved with
``transfer-syntax=*`` decodes to exactly what pydicom reads from the original file
(lossless syntaxes; lossy ones within the codec's rounding), and ``ohifpy render``
of the image the viewer opens first equals the pydicom reference render within ±1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import LoadedOrthanc, make_test_data
from PIL import Image
from reference import reference_render

from ohifpy.cli import main, render_image
from ohifpy.datasources.dicomweb import DICOMwebDataSource
from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient, StudyQuery
from ohifpy.imaging import PixelModule, decode_frame
from ohifpy.model import Study

pytestmark = pytest.mark.cpython_only  # Orthanc, httpx, Pillow, the CLI

MANIFEST = make_test_data.ensure()
STUDY_KEYS = [s.key for s in MANIFEST.studies if s.group not in make_test_data.NON_IMAGE_GROUPS]
FRAMES_PER_STUDY = 4
"""Frames compared per study (spread over the stack): all of a small study, a sample of the CT."""


def _original(study: make_test_data.StudyEntry, sop_uid: str) -> pydicom.FileDataset:
    (entry,) = [i for i in study.instances if i.sop_uid == sop_uid]
    return pydicom.dcmread(MANIFEST.root / entry.path)


def _original_frame(ds: pydicom.Dataset, index: int) -> np.ndarray:
    """Stored values as pydicom decodes them, without colour conversion (as WADO-RS frames)."""
    arr = pydicom.pixels.pixel_array(ds, index=index, raw=True)
    return arr


def _sample(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


async def test_qido_lists_every_study(dicomweb_source: DicomWebSource) -> None:
    async with DICOMwebClient(dicomweb_source) as client:
        rows = await client.search_for_studies(limit=1000)
    # Other tests may add studies (corrupt_study): every generated one must be listed.
    assert {Study.from_dataset(r).study_instance_uid for r in rows} >= {
        s.study_uid for s in MANIFEST.studies
    }


@pytest.mark.parametrize("key", STUDY_KEYS)
async def test_study_round_trips(key: str, orthanc: LoadedOrthanc,
                                 dicomweb_source: DicomWebSource) -> None:
    study = MANIFEST.study(key)
    first = _original(study, study.instances[0].sop_uid)
    async with DICOMwebClient(dicomweb_source) as client:
        (row,) = await client.search_for_studies(StudyQuery(study_instance_uid=study.study_uid))
        found = Study.from_dataset(row)
        assert found.patient_id == study.patient_id
        assert found.patient_name == str(first.PatientName)
        assert found.study_date == str(first.get("StudyDate", ""))
        assert found.number_of_instances == study.num_instances
        if study.modality:
            assert study.modality in found.modalities_in_study
        else:
            assert found.modalities_in_study == ()

        frames = [(i, n) for i in study.instances for n in range(1, i.number_of_frames + 1)]
        for entry, number in _sample(frames, FRAMES_PER_STUDY):
            series_uid = next(s.series_uid for s in study.series if entry in s.instances)
            (frame,) = await client.retrieve_instance_frames(
                study.study_uid, series_uid, entry.sop_uid, [number]
            )
            if entry.transfer_syntax_uid != "1.2.840.10008.1.2.1.99":
                assert frame.transfer_syntax_uid == entry.transfer_syntax_uid
            metadata = await client.retrieve_instance_metadata(
                study.study_uid, series_uid, entry.sop_uid
            )
            decoded = decode_frame(frame.data, frame.transfer_syntax_uid,
                                   PixelModule.from_dataset(metadata))
            expected = _original_frame(_original(study, entry.sop_uid), number - 1)
            assert decoded.pixels.shape == expected.shape, (entry.sop_uid, number)
            if study.lossless:
                np.testing.assert_array_equal(decoded.pixels, expected,
                                              err_msg=f"{key} frame {number}")
            else:
                # Same bytes, same codec family: lossy frames agree to rounding.
                diff = np.abs(decoded.pixels.astype(np.int64) - expected.astype(np.int64))
                assert diff.max() <= 2, f"{key} frame {number}: max diff {diff.max()}"


@pytest.mark.parametrize("key", STUDY_KEYS)
async def test_render_matches_reference(key: str, orthanc: LoadedOrthanc,
                                        dicomweb_source: DicomWebSource) -> None:
    """The image the viewer opens first, through the viewer's pipeline, vs pydicom's render."""
    study = MANIFEST.study(key)
    async with DICOMwebDataSource(dicomweb_source) as client:
        rgba, image, window = await render_image(client, study.study_uid)
    original = _original(study, image.instance.sop_instance_uid)
    expected = reference_render(original, image.frame_index, window)
    ours = rgba[..., :3] if expected.ndim == 3 else rgba[..., 0]
    assert (rgba[..., 3] == 255).all()
    diff = np.abs(ours.astype(int) - expected.astype(int))
    assert diff.max() <= 1, f"{key}: {np.count_nonzero(diff > 1)} pixels differ by more than 1"


def test_cli_render_writes_the_viewers_png(orthanc: LoadedOrthanc, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ct = MANIFEST.study("ct")
    series = ct.series[0]
    sop = series.instances[10].sop_uid
    out = tmp_path / "ct.png"
    assert main(["render", "--dicomweb", orthanc.dicomweb_root, "--study", ct.study_uid,
                 "--series", series.series_uid, "--instance", sop,
                 "--window", "40,400", "-o", str(out)]) == 0
    assert f"SOP {sop}" in capsys.readouterr().err
    png = np.asarray(Image.open(out))
    class Window:
        center, width, function = 40.0, 400.0, "LINEAR"
    expected = reference_render(_original(ct, sop), 0, Window)
    assert png.shape == (512, 512, 3)
    assert np.abs(png[..., 0].astype(int) - expected.astype(int)).max() <= 1
    # Soft-tissue window: air outside the body is black, the body is not all black.
    assert png[0, 0, 0] == 0 and png[256, 256, 0] > 0
