"""Encapsulated PDFs and videos: the bytes and media type the page gets, from every source.

From bytes (PDF checks, fragments, containers, syntaxes) and from local files, here and
under Pyodide; from the real Orthanc (CPython): the PDF through its BulkDataURI, the
video from the instance as stored, each equal to what the test data holds: the PDF
Pillow wrote and the MP4 stream ffmpeg wrote.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import (
    HEVCMP51,
    MPEG2MPML,
    MPEG4HP41,
    MPEG4HP41F,
    EncapsulatedPDFStorage,
    JPEGBaseline8Bit,
)
from support.coroutines import complete

from ohifpy import synthetic, synthetic_documents
from ohifpy.datasources.local_files import LocalFilesDataSource
from ohifpy.dicomweb.dicom_json import bulk_data_uris, set_bulk_data
from ohifpy.encapsulated import (
    EncapsulatedError,
    InstanceSource,
    document_content,
    retrieve_encapsulated,
    video_content,
    video_format,
    video_stream,
)
from ohifpy.model import DisplaySet, Instance, ModelError, display_sets_from_instances
from ohifpy.viewer import documents

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
"""A tiny PDF (for the checks, not for a reader): odd length, so its value is padded."""
URL = "http://127.0.0.1/dicom-web/studies/1/series/2/metadata"


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


MP4 = box(b"ftyp", b"isom\0\0\x02\0isomavc1") + box(b"moov", b"\0" * 20) + box(b"mdat", b"\x01" * 7)
"""An MP4's top-level boxes (not a playable one): 75 bytes, padded to 76 in its fragment."""


def pdf_dataset(document: bytes = PDF, mime: str = "application/pdf") -> Dataset:
    ds = synthetic_documents.encapsulated_pdf(document)
    ds.MIMETypeOfEncapsulatedDocument = mime
    return ds


# --- from bytes -------------------------------------------------------------------------


def test_a_pdf_is_cut_to_its_length_and_checked() -> None:
    ds = pdf_dataset()
    assert len(ds.EncapsulatedDocument) == len(PDF) + 1  # the pad byte
    content = document_content(ds)
    assert (content.data, content.media_type, content.note) == (PDF, "application/pdf", "")
    assert document_content(pdf_dataset(mime="Application/X-PDF; charset=x")).data == PDF
    junk_first = b"\xef\xbb\xbf" + b" " * 900 + PDF  # readers allow "%PDF-" in the first KiB
    assert document_content(pdf_dataset(junk_first)).data == junk_first


@pytest.mark.parametrize(("document", "mime", "message"), [
    (b"<html><script>alert(1)</script></html>", "application/pdf", "not a PDF"),
    (b" " * 1100 + PDF, "application/pdf", "not a PDF"),
    (PDF, "text/html", "declares type 'text/html': only PDF"),
])
def test_what_is_not_a_pdf_is_not_given_to_the_browser(document: bytes, mime: str,
                                                        message: str) -> None:
    with pytest.raises(EncapsulatedError, match=message):
        document_content(pdf_dataset(document, mime))


def test_an_empty_document_is_an_error() -> None:
    ds = pdf_dataset()
    ds.EncapsulatedDocument = b""
    del ds.EncapsulatedDocumentLength
    with pytest.raises(EncapsulatedError, match="empty document"):
        document_content(ds)


def test_a_video_stream_is_its_fragments_joined() -> None:
    pixel_data = encapsulate([MP4 + b"\0"], fragments_per_frame=3, has_bot=False)
    assert video_stream(pixel_data) == MP4 + b"\0"
    with pytest.raises(EncapsulatedError, match="not encapsulated fragments"):
        video_stream(b"\x01\x02\x03\x04")


def test_an_mp4_plays_as_video_mp4_with_its_codec() -> None:
    content = video_content(MP4 + b"\0", MPEG4HP41)
    assert content.data == MP4  # the fragment's pad byte is not part of the file
    assert (content.media_type, content.playable_type, content.transfer_syntax_uid) == (
        "video/mp4", 'video/mp4; codecs="avc1.640029"', MPEG4HP41)
    assert video_content(MP4, MPEG4HP41F).data == MP4  # fragmentable: the same stream
    hevc = video_content(MP4, HEVCMP51)
    assert hevc.playable_type == 'video/mp4; codecs="hvc1.1.6.L153.B0"'
    assert "HEVC" in hevc.note
    trailing = MP4 + b"\0\1"  # not padding: the boxes do not account for it, kept
    assert video_content(trailing, MPEG4HP41).data == trailing


def test_what_browsers_do_not_play_says_so() -> None:
    transport = (b"\x47" + b"\0" * 187) * 3
    content = video_content(transport, MPEG4HP41)
    assert content.media_type == "video/mp2t" and "transport stream" in content.note
    bare = video_content(b"\0\0\0\x01\x67\x64\0\x29", MPEG4HP41)
    assert bare.media_type == "video/h264" and "without a container" in bare.note
    mpeg2 = video_content(b"\0\0\x01\xba" + b"\0" * 20, MPEG2MPML)
    assert (mpeg2.media_type, mpeg2.playable_type) == ("video/mpeg", "video/mpeg")
    assert "MPEG-2" in mpeg2.note and "cannot play" in mpeg2.note
    assert video_format(MPEG2MPML).media_type == "video/mpeg"
    with pytest.raises(EncapsulatedError, match="JPEG Baseline.*not as a video stream"):
        video_format(JPEGBaseline8Bit)


# --- through data sources ---------------------------------------------------------------


@pytest.fixture(scope="module")
def documents_study() -> synthetic.SyntheticStudy:
    """The test data's documents study on a small CT, with a stand-in for the clip."""
    return synthetic_documents.documents_study(synthetic.ct_study(8), clip=MP4, document=PDF)


def display_sets_by_kind(instances: list[Instance]) -> dict[str, DisplaySet]:
    sets = display_sets_from_instances(instances)
    assert [d.kind for d in sets] == ["sr", "sr", "pdf", "video"]
    return {d.kind: d for d in sets}


def test_local_files_give_the_pdf_and_the_video(tmp_path: Path,
                                                documents_study: synthetic.SyntheticStudy) -> None:
    for n, ds in enumerate(documents_study.datasets):
        ds.save_as(tmp_path / f"{n}.dcm", enforce_file_format=True)
    source, report = complete(LocalFilesDataSource.from_paths([tmp_path]))
    assert (report.added, report.failed) == (4, [])  # a video's one fragment is enough
    study = complete(source.retrieve_study_instances(documents_study.study_uid))
    by_kind = display_sets_by_kind(study)
    answer = complete(documents.encapsulated(by_kind["pdf"], source))
    assert (answer["data"], answer["mediaType"], answer["fileName"]) == (
        PDF, "application/pdf", "ohifpy test report.pdf")
    video = complete(documents.encapsulated(by_kind["video"], source))
    assert (video["data"], video["mediaType"], video["transferSyntaxUID"]) == (
        MP4, "video/mp4", MPEG4HP41)
    assert (video["numberOfFrames"], video["frameTime"], video["fileName"]) == (
        75, 40.0, "Endoscopy clip H.264.mp4")
    assert video["playableType"] == 'video/mp4; codecs="avc1.640029"'
    assert isinstance(source, InstanceSource)
    with pytest.raises(ModelError, match="is 'sr', not 'pdf' or 'video'"):
        complete(documents.encapsulated(by_kind["sr"], source))


class BulkOnly:
    """A source whose metadata leaves values on the server (``load_bulkdata`` fills them)
    and that cannot give whole instances (as a DICOM JSON file list)."""

    friendly_name = "Bulk only"

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = values
        self.asked: list[str] = []

    async def load_bulkdata(self, dataset: Dataset) -> Dataset:
        for tag, uri in list(bulk_data_uris(dataset).items()):
            self.asked.append(uri)
            set_bulk_data(dataset, tag, self.values[uri])
        return dataset


def as_json_with_bulk_data(ds: Dataset, uri: str) -> dict[str, Any]:
    obj = ds.to_json_dict()
    obj["00420011"] = {"vr": "OB", "BulkDataURI": uri}
    return obj


def test_a_bulk_data_document_is_fetched_without_keeping_it_in_the_metadata() -> None:
    uri = "http://127.0.0.1/dicom-web/studies/1/series/2/instances/3/bulk/00420011"
    instance = Instance.from_json(as_json_with_bulk_data(pdf_dataset(), uri), URL)
    source = BulkOnly({uri: PDF + b"\0"})
    content = complete(retrieve_encapsulated(source, instance))  # type: ignore[arg-type]
    assert (content.data, source.asked) == (PDF, [uri])
    assert bulk_data_uris(instance.metadata) == {0x00420011: uri}  # still only a URI
    assert not instance.metadata.EncapsulatedDocument


def test_a_source_without_whole_instances_says_it_cannot_give_the_video(
        documents_study: synthetic.SyntheticStudy) -> None:
    video = documents_study.datasets[3]
    instance = Instance.from_json(video.to_json_dict(), URL)
    assert instance.kind == "video"
    with pytest.raises(EncapsulatedError, match="Bulk only cannot give whole instances"):
        complete(retrieve_encapsulated(BulkOnly({}), instance))  # type: ignore[arg-type]
    sr = Instance.from_dataset(documents_study.datasets[0])
    with pytest.raises(EncapsulatedError, match="neither an encapsulated PDF nor a video"):
        complete(retrieve_encapsulated(BulkOnly({}), sr))  # type: ignore[arg-type]


def test_a_video_syntax_makes_a_video_whatever_the_class() -> None:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1", "1.1", "1.1.1"
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.AvailableTransferSyntaxUID = MPEG4HP41  # a PDF's SOP class, a video's syntax
    ds.Rows, ds.Columns, ds.NumberOfFrames = 240, 320, 30
    assert Instance.from_dataset(ds).kind == "video"
    ds.AvailableTransferSyntaxUID = JPEGBaseline8Bit
    assert Instance.from_dataset(ds).kind == "pdf"


# --- from Orthanc (CPython) -------------------------------------------------------------


@pytest.mark.cpython_only  # Orthanc and httpx
async def test_orthanc_gives_the_pdf_pillow_wrote_and_the_mp4_ffmpeg_wrote(
        orthanc: Any, dicomweb_source: Any) -> None:
    import pydicom

    from ohifpy.datasources.dicomweb import DICOMwebDataSource

    study = orthanc.manifest.study(synthetic_documents.DOCUMENTS_KEY)
    files = {i.sop_class_uid: pydicom.dcmread(orthanc.manifest.root / i.path)
             for i in study.instances}
    original_pdf = files[EncapsulatedPDFStorage]
    original_video = next(ds for ds in files.values() if "PixelData" in ds)
    async with DICOMwebDataSource(dicomweb_source) as source:
        instances = await source.retrieve_study_instances(study.study_uid)
        by_kind = display_sets_by_kind(instances)
        # What Orthanc 1.10 / DICOMweb 1.7 puts in the metadata decides the path taken: the
        # document is a BulkDataURI (.../bulk/00420011), the video's pixel data is absent.
        pdf_metadata = by_kind["pdf"].instance.metadata
        assert bulk_data_uris(pdf_metadata)[0x00420011].endswith("/bulk/00420011")
        assert "PixelData" not in by_kind["video"].instance.metadata
        pdf = await documents.encapsulated(by_kind["pdf"], source)
        video = await documents.encapsulated(by_kind["video"], source)
    assert pdf["data"] == original_pdf.EncapsulatedDocument[:original_pdf.EncapsulatedDocumentLength]
    assert pdf["data"].startswith(b"%PDF-") and pdf["mediaType"] == "application/pdf"
    ffmpeg_wrote = next(generate_frames(original_video.PixelData, number_of_frames=1))
    assert ffmpeg_wrote[4:8] == b"ftyp" and len(ffmpeg_wrote) - len(video["data"]) in (0, 1)
    assert video["data"] == ffmpeg_wrote[:len(video["data"])]
    assert (video["mediaType"], video["transferSyntaxUID"], video["numberOfFrames"]) == (
        "video/mp4", MPEG4HP41, synthetic_documents.VIDEO_FRAMES)
    assert video["frameTime"] == 1000 / synthetic_documents.VIDEO_RATE


@pytest.mark.cpython_only  # ffprobe, and Pillow (not installed for the Pyodide run)
def test_the_test_data_is_a_pdf_and_an_h264_clip(testdata: Any, tmp_path: Path) -> None:
    import pydicom

    study = testdata.study(synthetic_documents.DOCUMENTS_KEY)
    files = [pydicom.dcmread(testdata.root / i.path) for i in study.instances]
    (pdf,) = [ds for ds in files if ds.SOPClassUID == EncapsulatedPDFStorage]
    assert document_content(pdf).data == synthetic_documents.pdf_document()
    (video,) = [ds for ds in files if "PixelData" in ds]
    clip = video_content(video_stream(video.PixelData), MPEG4HP41).data
    (tmp_path / "clip.mp4").write_bytes(clip)
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe (Debian package ffmpeg) is not installed: run scripts/setup.sh"
    probe = json.loads(subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-show_streams", "-of", "json",
         str(tmp_path / "clip.mp4")], capture_output=True, text=True, check=True).stdout)
    (stream,) = probe["streams"]
    width, height = synthetic_documents.VIDEO_SIZE
    assert (stream["codec_name"], stream["profile"], stream["level"], stream["pix_fmt"]) == (
        "h264", "High", 41, "yuv420p")
    assert (stream["width"], stream["height"], int(stream["nb_read_frames"])) == (
        width, height, synthetic_documents.VIDEO_FRAMES)
    assert (int(video.NumberOfFrames), float(video.FrameTime), int(video.CineRate)) == (
        synthetic_documents.VIDEO_FRAMES, 40.0, synthetic_documents.VIDEO_RATE)


@pytest.mark.cpython_only  # Orthanc and httpx
async def test_orthanc_sr_documents_refer_to_the_test_ct(orthanc: Any,
                                                        dicomweb_source: Any) -> None:
    from ohifpy.datasources.dicomweb import DICOMwebDataSource

    study = orthanc.manifest.study(synthetic_documents.DOCUMENTS_KEY)
    ct = {i.sop_uid for i in orthanc.manifest.study("ct").instances}
    async with DICOMwebDataSource(dicomweb_source) as source:
        sets = [d for d in display_sets_from_instances(
            await source.retrieve_study_instances(study.study_uid)) if d.kind == "sr"]
        basic, comprehensive = [await documents.sr_document(d, source) for d in sets]
    assert [d.series_description for d in sets] == ["Basic Text SR report",
                                                    "Comprehensive SR findings"]
    assert (basic["documentType"], comprehensive["documentType"]) == (
        "Basic Text SR", "Comprehensive SR")

    def references(node: dict[str, Any]) -> list[str]:
        found = [r["sopInstanceUID"] for r in node["references"]]
        return found + [uid for child in node["children"] for uid in references(child)]

    for document in (basic, comprehensive):
        assert references(document["root"]) and set(references(document["root"])) <= ct
    texts = json.dumps(comprehensive)
    assert json.dumps(synthetic_documents.HOSTILE_TEXT) in texts  # verbatim, as a string
