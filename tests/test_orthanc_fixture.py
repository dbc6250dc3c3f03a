"""The test data on disk matches its manifest, and the session Orthanc serves all of it."""

from __future__ import annotations

from email.message import Message

import pydicom
import pytest
from conftest import LoadedOrthanc, make_test_data
from pydicom.encaps import generate_frames

from ohifpy.config import DicomWebSource

pytestmark = pytest.mark.cpython_only  # the Orthanc process

FRAMES_AS_STORED = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
NOT_SERVED_AS_STORED = {
    "1.2.840.10008.1.2.2",  # explicit big endian
    "1.2.840.10008.1.2.1.99",  # deflated
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",  # HTJ2K
}
"""Orthanc 1.10 answers 500 to ``transfer-syntax=*`` frame requests for these."""


def _single_part(body: bytes, content_type: str) -> tuple[str, bytes]:
    """(part Content-Type, payload) of a one-part multipart/related answer."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    assert isinstance(boundary, str), content_type
    part = body.split(b"--" + boundary.encode())[1]
    head, _, payload = part.partition(b"\r\n\r\n")
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
    return fields["Content-Type"], payload.removesuffix(b"\r\n")


def _frame_url(study: make_test_data.StudyEntry, number: int = 1) -> str:
    series, instance = study.series[0], study.series[0].instances[0]
    return (f"/dicom-web/studies/{study.study_uid}/series/{series.series_uid}"
            f"/instances/{instance.sop_uid}/frames/{number}")


def test_manifest_describes_the_files_on_disk(testdata: make_test_data.Manifest) -> None:
    keys = [s.key for s in testdata.studies]
    assert len(keys) == len(set(keys))
    for study in testdata.studies:
        for inst in study.instances:
            ds = pydicom.dcmread(testdata.root / inst.path, stop_before_pixels=True)
            assert ds.SOPInstanceUID == inst.sop_uid
            assert ds.StudyInstanceUID == study.study_uid
            assert ds.file_meta.TransferSyntaxUID == inst.transfer_syntax_uid
    variants = [s for s in testdata.studies if s.group == "transfer-syntax"]
    assert {s.key for s in variants} == {v.key for v in make_test_data.VARIANTS}
    for variant in make_test_data.VARIANTS:
        study = testdata.study(variant.key)
        assert study.transfer_syntax_uids == (variant.transfer_syntax_uid,)
        if variant.source == "ct":
            assert study.num_instances == testdata.syntax_slices
    assert testdata.study("ct").num_instances == testdata.ct_slices
    assert testdata.study("no-modality").modality == ""


def test_orthanc_holds_every_study(orthanc: LoadedOrthanc) -> None:
    stats = orthanc.server.get_json("/statistics")
    studies = orthanc.server.get_json("/dicom-web/studies")
    found = {s["0020000D"]["Value"][0] for s in studies}
    assert found >= {s.study_uid for s in orthanc.manifest.studies}  # tests may add more
    assert stats["CountStudies"] == len(found)


def test_qido_finds_the_ct_by_patient_id(orthanc: LoadedOrthanc) -> None:
    ct = orthanc.manifest.study("ct")
    (match,) = orthanc.server.get_json(f"/dicom-web/studies?PatientID={ct.patient_id}")
    assert match["0020000D"]["Value"] == [ct.study_uid]
    assert match["00080061"]["Value"] == ["CT"]
    assert match["00201208"]["Value"] == [ct.num_instances]


@pytest.mark.parametrize(("key", "alphabetic", "ideographic", "description"), [
    ("utf8", "Παπαδόπουλος^Γιάννης", "山田^太郎", "Θώρακας 胸部 🫁 CT"),
    ("iso2022-jp", "Yamada^Tarou", "山田^太郎", "胸部 CT"),
])
def test_qido_keeps_non_latin_characters(orthanc: LoadedOrthanc, key: str, alphabetic: str,
                                         ideographic: str, description: str) -> None:
    study = orthanc.manifest.study(key)
    (match,) = orthanc.server.get_json(
        f"/dicom-web/studies?PatientID={study.patient_id}&includefield=00081030")
    (name,) = match["00100010"]["Value"]
    assert (name["Alphabetic"], name["Ideographic"]) == (alphabetic, ideographic)
    assert match["00081030"]["Value"] == [description]


@pytest.mark.parametrize("variant", [v.key for v in make_test_data.VARIANTS] + ["ct"])
def test_frames_are_served_as_stored(orthanc: LoadedOrthanc, variant: str) -> None:
    study = orthanc.manifest.study(variant)
    syntax = study.transfer_syntax_uids[0]
    status, headers, body = orthanc.server.request(
        "GET", _frame_url(study), headers={"Accept": FRAMES_AS_STORED})
    if syntax in NOT_SERVED_AS_STORED:
        assert status == 500, f"Orthanc now serves {syntax} as stored: update the quirk list"
        return
    assert status == 200, body[:300]
    part_type, payload = _single_part(body, headers["content-type"])
    assert f"transfer-syntax={syntax}" in part_type
    ds = pydicom.dcmread(orthanc.manifest.root / study.instances[0].path)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        expected = next(generate_frames(ds.PixelData, number_of_frames=ds.get(
            "NumberOfFrames", 1)))
    else:
        expected = ds.PixelData[:len(payload)]
        assert len(payload) == ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
    assert payload == expected


def test_palette_lut_data_comes_as_bulk_data(orthanc: LoadedOrthanc) -> None:
    study = orthanc.manifest.study("palette")
    url = f"/dicom-web/studies/{study.study_uid}/series/{study.series[0].series_uid}/metadata"
    (metadata,) = orthanc.server.get_json(url)
    assert metadata["00281101"]["Value"] == [256, 0, 16]  # descriptor inline
    assert metadata["00281201"]["BulkDataURI"].startswith(orthanc.dicomweb_root)
    assert "00020010" not in metadata


def test_dicomweb_source_points_at_orthanc(orthanc: LoadedOrthanc,
                                          dicomweb_source: DicomWebSource) -> None:
    assert dicomweb_source.qidoRoot == dicomweb_source.wadoRoot == orthanc.dicomweb_root
    assert orthanc.dicomweb_root.startswith("http://127.0.0.1:")
    assert dicomweb_source.queryEncoding == "minimal"
    assert not dicomweb_source.qidoSupportsIncludeField
