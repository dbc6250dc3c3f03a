"""Synthetic non-image instances: SR documents, an encapsulated PDF and an H.264 video.

What the viewer shows as documents rather than stacks (see :mod:`ohifpy.sr_document`,
:mod:`ohifpy.encapsulated`), made for the tests like :mod:`ohifpy.synthetic`'s images:
deterministic, from fixed strings, with nothing downloaded.

* a Basic Text SR (COMPLETE, VERIFIED): a radiology report of TEXT findings with the
  observer, a date-time, a UID reference, and a key image of the test CT (an IMAGE item
  without a concept name);
* a Comprehensive SR (PARTIAL, UNVERIFIED): a coded finding with its site, a NUM length
  in mm INFERRED FROM a SCOORD polyline SELECTED FROM a CT slice, a NUM in Hounsfield
  units, a DATE and a TIME, and one TEXT finding that is markup
  (:data:`ohifpy.synthetic.XSS_IMG`), which must reach the page as plain text;
* an Encapsulated PDF: one page drawn with Pillow, saved by Pillow's PDF writer;
* a Video Endoscopic Image: a 3 s, 320x240, 25 fps clip of ffmpeg's ``testsrc`` coded
  with libx264 (High profile, level 4.1, yuv420p) in an MP4 container (PS3.5 8.2.7
  allows MPEG-TS or MP4; browsers play MP4), the whole stream in one pixel data fragment
  after an empty Basic Offset Table, as MPEG-4 AVC/H.264 High Profile / Level 4.1
  (1.2.840.10008.1.2.4.102).

The SR and PDF builders need pydicom and Pillow only (they run under Pyodide too); the
clip needs Debian's ``ffmpeg`` (CPython, test-data time), and says so when it is missing.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset, FileDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    MPEG4HP41,
    BasicTextSRStorage,
    ComprehensiveSRStorage,
    EncapsulatedPDFStorage,
    VideoEndoscopicImageStorage,
)

if TYPE_CHECKING:
    from .synthetic import SyntheticStudy

__all__ = [
    "DOCUMENTS_KEY",
    "HOSTILE_TEXT",
    "PDF_TEXT",
    "VIDEO_FRAMES",
    "VIDEO_RATE",
    "VIDEO_SIZE",
    "DocumentToolError",
    "basic_text_sr",
    "comprehensive_sr",
    "documents_study",
    "encapsulated_pdf",
    "h264_clip",
    "pdf_document",
    "video_endoscopic",
]

DOCUMENTS_KEY = "documents"
HOSTILE_TEXT = "<img src=x onerror=alert(1)>"
"""A TEXT finding of the Comprehensive SR: markup the page must show as text (the same as
:data:`ohifpy.synthetic.XSS_IMG`)."""
PDF_TEXT = ("ohifpy encapsulated PDF", "Phantom^Documents  OHIFPY-DOCS",
            "Findings: no acute abnormality.")
VIDEO_SIZE = (320, 240)
VIDEO_RATE = 25
VIDEO_SECONDS = 3
VIDEO_FRAMES = VIDEO_RATE * VIDEO_SECONDS
_FIXED_TIME = time.gmtime(1704445200)  # 2024-01-05 09:00 UTC: the PDF's dates, so its bytes repeat

STUDY = ("documents", "Phantom^Documents", "OHIFPY-DOCS", "Reports and video", "OHIF0011",
         "20240105")
"""Key, patient name and ID, description, accession and date of the documents study."""
SERIES = {
    "basic-text": (1, "SR", "Basic Text SR report", BasicTextSRStorage),
    "comprehensive": (2, "SR", "Comprehensive SR findings", ComprehensiveSRStorage),
    "pdf": (3, "DOC", "Encapsulated PDF report", EncapsulatedPDFStorage),
    "video": (4, "ES", "Endoscopy clip H.264", VideoEndoscopicImageStorage),
}
"""Number, modality, description and SOP class of each series, one instance each."""


class DocumentToolError(RuntimeError):
    """ffmpeg is missing or failed: the video cannot be made."""


def _instance(series: str) -> FileDataset:
    """The one instance of a series of the documents study, with its common modules.

    :mod:`ohifpy.synthetic` is imported here, not with this module: both are test tooling
    of the CPython side, and this module must import wherever the package does.
    """
    from .synthetic import _new_instance, _SeriesSpec, _StudySpec

    return _new_instance(_StudySpec(*STUDY), _SeriesSpec(*SERIES[series]), 0)


# --- SR content items -------------------------------------------------------------------


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _item(relationship: str, value_type: str, name: tuple[str, str, str] | None) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if name is not None:
        item.ConceptNameCodeSequence = [_code(*name)]
    return item


def _text(relationship: str, name: tuple[str, str, str], text: str) -> Dataset:
    item = _item(relationship, "TEXT", name)
    item.TextValue = text
    return item


def _coded(relationship: str, name: tuple[str, str, str], value: tuple[str, str, str],
           children: Sequence[Dataset] = ()) -> Dataset:
    item = _item(relationship, "CODE", name)
    item.ConceptCodeSequence = [_code(*value)]
    if children:
        item.ContentSequence = list(children)
    return item


def _num(relationship: str, name: tuple[str, str, str], value: str,
         unit: tuple[str, str, str], children: Sequence[Dataset] = ()) -> Dataset:
    item = _item(relationship, "NUM", name)
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = [_code(*unit)]
    item.MeasuredValueSequence = [measured]
    if children:
        item.ContentSequence = list(children)
    return item


def _image(relationship: str, name: tuple[str, str, str] | None, image: Dataset) -> Dataset:
    item = _item(relationship, "IMAGE", name)
    reference = Dataset()
    reference.ReferencedSOPClassUID = image.SOPClassUID
    reference.ReferencedSOPInstanceUID = image.SOPInstanceUID
    item.ReferencedSOPSequence = [reference]
    return item


def _container(relationship: str, name: tuple[str, str, str],
               children: Sequence[Dataset]) -> Dataset:
    item = _item(relationship, "CONTAINER", name)
    item.ContinuityOfContent = "SEPARATE"
    item.ContentSequence = list(children)
    return item


REPORT_TITLE = ("18748-4", "LN", "Diagnostic Imaging Report")
LANGUAGE = ("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH = ("en-US", "RFC5646", "English (United States)")
OBSERVER_NAME = ("121008", "DCM", "Person Observer Name")
FINDINGS = ("121070", "DCM", "Findings")
FINDING = ("121071", "DCM", "Finding")
IMPRESSIONS = ("121072", "DCM", "Impressions")
IMPRESSION = ("121073", "DCM", "Impression")
STUDY_UID = ("121018", "DCM", "Procedure Study Instance UID")
MM = ("mm", "UCUM", "millimeter")
HU = ("[hnsf'U]", "UCUM", "Hounsfield unit")
READER = "Reader^Rita"
VERIFIER = "Verifier^Victor"
NODULE_LENGTH_MM = "12.5"
NODULE_HU = "35"
NODULE_POINTS = (200.0, 240.0, 236.0, 252.0)
"""The Length's SCOORD POLYLINE: (column, row) of its two ends on the referenced slice."""


def _sr_instance(series: str, title: tuple[str, str, str], children: list[Dataset],
                 ct: Sequence[Dataset]) -> FileDataset:
    """The SR Document General and Content modules around ``children`` (root CONTAINER)."""
    ds = _instance(series)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [_code(*title)]
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = children
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.PerformedProcedureCodeSequence = []
    evidence, series_item = Dataset(), Dataset()
    evidence.StudyInstanceUID = ct[0].StudyInstanceUID
    series_item.SeriesInstanceUID = ct[0].SeriesInstanceUID
    references = []
    for image in ct:
        reference = Dataset()
        reference.ReferencedSOPClassUID = image.SOPClassUID
        reference.ReferencedSOPInstanceUID = image.SOPInstanceUID
        references.append(reference)
    series_item.ReferencedSOPSequence = references
    evidence.ReferencedSeriesSequence = [series_item]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    return ds


def _key_images(ct: SyntheticStudy) -> tuple[Dataset, Dataset]:
    """Two slices of the CT the reports refer to: a quarter and half way down the stack."""
    datasets = ct.datasets
    return datasets[len(datasets) // 4], datasets[len(datasets) // 2]


def basic_text_sr(ct: SyntheticStudy) -> FileDataset:
    """A verified Basic Text SR: findings and impressions as TEXT, observer context, and a
    key image (an IMAGE item without a concept name, INFERRED FROM under a finding)."""
    first, _ = _key_images(ct)
    children = [
        _coded("HAS CONCEPT MOD", LANGUAGE, ENGLISH),
        _item("HAS OBS CONTEXT", "PNAME", OBSERVER_NAME),
        _item("HAS OBS CONTEXT", "DATETIME", ("111526", "DCM", "DateTime Started")),
        _item("HAS OBS CONTEXT", "UIDREF", STUDY_UID),
        _container("CONTAINS", FINDINGS, [
            _text("CONTAINS", FINDING, "Lungs are clear.\nNo pleural effusion."),
        ]),
        _container("CONTAINS", IMPRESSIONS, [
            _text("CONTAINS", IMPRESSION, "No acute cardiopulmonary abnormality."),
        ]),
    ]
    children[1].PersonName = READER
    children[2].DateTime = "20240105091500"
    children[3].UID = ct.study_uid
    finding = children[4].ContentSequence[0]
    finding.ContentSequence = [_image("INFERRED FROM", None, first)]
    ds = _sr_instance("basic-text", REPORT_TITLE, children, [first])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    verifier = Dataset()
    verifier.VerifyingObserverName = VERIFIER
    verifier.VerifyingOrganization = "ohifpy synthetic"
    verifier.VerificationDateTime = "20240105100000"
    verifier.VerifyingObserverIdentificationCodeSequence = []
    ds.VerifyingObserverSequence = [verifier]
    return ds


def comprehensive_sr(ct: SyntheticStudy) -> FileDataset:
    """A partial, unverified Comprehensive SR: a coded finding with its site, measurements
    with units (one measured on a CT slice through a SCOORD), a DATE, a TIME, an image
    reference, and a TEXT finding that is markup."""
    first, second = _key_images(ct)
    scoord = _item("INFERRED FROM", "SCOORD", None)
    scoord.GraphicType = "POLYLINE"
    scoord.GraphicData = list(NODULE_POINTS)
    scoord.ContentSequence = [_image("SELECTED FROM", None, second)]
    nodule = _coded("CONTAINS", FINDING, ("4147007", "SCT", "Mass"), [
        _coded("HAS CONCEPT MOD", ("363698007", "SCT", "Finding Site"),
               ("39607008", "SCT", "Lung")),
        _num("HAS PROPERTIES", ("410668003", "SCT", "Length"), NODULE_LENGTH_MM, MM, [scoord]),
        _num("HAS PROPERTIES", ("112031", "DCM", "Attenuation Coefficient"), NODULE_HU, HU),
        _image("INFERRED FROM", ("121112", "DCM", "Source of Measurement"), second),
    ])
    children = [
        _coded("HAS CONCEPT MOD", LANGUAGE, ENGLISH),
        _coded("HAS OBS CONTEXT", ("121005", "DCM", "Observer Type"),
               ("121006", "DCM", "Person")),
        _item("HAS OBS CONTEXT", "PNAME", OBSERVER_NAME),
        _container("CONTAINS", FINDINGS, [
            nodule,
            _text("CONTAINS", FINDING, HOSTILE_TEXT),
            _image("CONTAINS", ("121080", "DCM", "Best illustration of finding"), first),
        ]),
        _container("CONTAINS", IMPRESSIONS, [
            _text("CONTAINS", IMPRESSION, "Pulmonary nodule; follow-up CT in 3 months."),
            _item("HAS OBS CONTEXT", "DATE", ("111060", "DCM", "Study Date")),
            _item("HAS OBS CONTEXT", "TIME", ("111061", "DCM", "Study Time")),
        ]),
    ]
    children[2].PersonName = READER
    children[4].ContentSequence[1].Date = "20240105"
    children[4].ContentSequence[2].Time = "083000"
    ds = _sr_instance("comprehensive", REPORT_TITLE, children, [first, second])
    ds.CompletionFlag = "PARTIAL"
    ds.VerificationFlag = "UNVERIFIED"
    return ds


# --- encapsulated PDF -------------------------------------------------------------------


def pdf_document() -> bytes:
    """A one-page PDF (letter size at 100 dpi) with :data:`PDF_TEXT` drawn on it; the same
    bytes every time (its dates are fixed)."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(page)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=36)
    except ImportError:  # a Pillow without FreeType (some Pyodide builds): its bitmap font
        font = ImageFont.load_default()
    for line, text in enumerate(PDF_TEXT):
        draw.text((60, 60 + 60 * line), text, fill=0, font=font)
    draw.rectangle((60, 300, 790, 1040), outline=0, width=4)
    out = io.BytesIO()
    page.save(out, "PDF", resolution=100.0, title="ohifpy test report",
              creationDate=_FIXED_TIME, modDate=_FIXED_TIME)
    return out.getvalue()


def encapsulated_pdf(document: bytes | None = None) -> FileDataset:
    """Encapsulated PDF Storage of ``document`` (default :func:`pdf_document`), padded to an
    even length with its true length in Encapsulated Document Length."""
    document = pdf_document() if document is None else document
    ds = _instance("pdf")
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "ohifpy test report"
    ds.ConceptNameCodeSequence = [_code(*REPORT_TITLE)]
    ds.AcquisitionDateTime = "20240105090000"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(document)
    ds.add_new("EncapsulatedDocument", "OB", document + b"\0" * (len(document) % 2))
    return ds


# --- video ------------------------------------------------------------------------------


def h264_clip() -> bytes:
    """ffmpeg's ``testsrc`` for :data:`VIDEO_SECONDS` s at :data:`VIDEO_SIZE` and
    :data:`VIDEO_RATE` fps, libx264 High profile level 4.1, yuv420p, in MP4 (moov first).
    One thread and bit-exact flags: the same ffmpeg writes the same bytes."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise DocumentToolError("ffmpeg is not installed (Debian package ffmpeg): "
                                "run scripts/setup.sh as root")
    width, height = VIDEO_SIZE
    with tempfile.TemporaryDirectory(prefix="ohifpy-video-") as tmp:
        out = Path(tmp, "clip.mp4")
        argv = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                "-f", "lavfi",
                "-i", f"testsrc=duration={VIDEO_SECONDS}:size={width}x{height}:rate={VIDEO_RATE}",
                "-c:v", "libx264", "-profile:v", "high", "-level", "4.1",
                "-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart",
                "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
                str(out)]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise DocumentToolError(f"ffmpeg failed ({proc.returncode}): "
                                    f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        return out.read_bytes()


def video_endoscopic(stream: bytes) -> FileDataset:
    """Video Endoscopic Image Storage of an H.264 MP4 ``stream``, MPEG-4 AVC/H.264 High
    Profile / Level 4.1: the whole stream in one fragment, with the cine attributes."""
    ds = _instance("video")
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ""
    ds.AcquisitionDateTime = "20240105090500"
    ds.AcquisitionContextSequence = []
    ds.AnatomicRegionSequence = [_code("69695003", "SCT", "Stomach")]
    ds.NumberOfFrames = VIDEO_FRAMES
    ds.FrameTime = 1000 / VIDEO_RATE
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.CineRate = VIDEO_RATE
    ds.RecommendedDisplayFrameRate = VIDEO_RATE
    ds.StartTrim, ds.StopTrim = 1, VIDEO_FRAMES
    ds.Columns, ds.Rows = VIDEO_SIZE
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    ds.PixelData = encapsulate([stream], has_bot=False)
    ds["PixelData"].VR = "OB"
    return ds


# --- the study --------------------------------------------------------------------------


def documents_study(ct: SyntheticStudy, clip: bytes | None = None,
                    document: bytes | None = None) -> SyntheticStudy:
    """The documents study: both SRs (referring to slices of ``ct``), the PDF (``document``,
    else :func:`pdf_document`) and the video (``clip``, else made with :func:`h264_clip`),
    a series each, in that order."""
    datasets = (basic_text_sr(ct), comprehensive_sr(ct), encapsulated_pdf(document),
                video_endoscopic(h264_clip() if clip is None else clip))
    from .synthetic import SyntheticStudy

    return SyntheticStudy(DOCUMENTS_KEY, STUDY[3], datasets,
                          "non-image instances: Basic Text and Comprehensive SR (markup in a "
                          "TEXT item), an encapsulated PDF, an H.264 video in MP4")
