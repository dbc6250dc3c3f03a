"""Display sets from metadata: geometry sort, InstanceNumber fallback, multi-frame split."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import Dataset, FileMetaDataset, uid
from pydicom.sequence import Sequence as DicomSequence

from ohifpy.model import (
    DisplaySet,
    Instance,
    ModelError,
    Study,
    display_sets_from_instances,
    instance_kind,
    sort_by_position,
)
from ohifpy.viewer.presenters import display_set_info

STUDY = "1.2.3"
URL = "http://127.0.0.1/dicom-web/studies/1.2.3/metadata"
SERIES = "1.2.3.4"


def image(sop: str, number: int | None, z: float | None, *, series: str = SERIES,
          orientation=(1, 0, 0, 0, 1, 0), frames: int | None = None) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = sop
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    ds.Rows = ds.Columns = 4
    if number is not None:
        ds.InstanceNumber = number
    if z is not None:
        ds.ImagePositionPatient = [0, 0, z]
        ds.ImageOrientationPatient = list(orientation)
    if frames:
        ds.NumberOfFrames = frames
    ds.PixelSpacing = [0.5, 0.7]
    return ds


BUILD = {"build": "from_dataset"}


@pytest.fixture(autouse=True, params=["from_dataset", "from_json"])
def construction(request: pytest.FixtureRequest) -> None:
    """Every test runs on instances made from datasets and from DICOM JSON (as openViewer does)."""
    BUILD["build"] = request.param


def instances(*datasets: Dataset) -> list[Instance]:
    if BUILD["build"] == "from_json":
        return [Instance.from_json(ds.to_json_dict(), URL, i) for i, ds in enumerate(datasets)]
    return [Instance.from_dataset(ds) for ds in datasets]


def test_json_instance_converts_its_dataset_only_when_asked():
    ds = image("1.1", 7, 5.0)
    ds.PatientName = "Doe^Jane"
    obj = ds.to_json_dict()
    inst = Instance.from_json(obj, URL)
    assert (inst.sop_instance_uid, inst.instance_number, inst.rows) == ("1.1", 7, 4)
    np.testing.assert_allclose(inst.frames()[0].image_position, [0, 0, 5.0])
    assert "metadata" not in vars(inst)  # not converted by ordering the stack
    assert inst.metadata.PatientName == "Doe^Jane"
    assert inst.metadata is inst.metadata


def test_stack_sorted_by_position_and_opens_where_numbering_starts():
    # Head-first CT numbered from the top: z falls as InstanceNumber rises.
    # Shuffled input, and one InstanceNumber out of order, still sort by position.
    data = [image(f"1.{n}", n, 100.0 - 2.5 * n) for n in (3, 1, 5, 2, 4)]
    data[0].InstanceNumber = 9  # slice at z=92.5 mis-numbered
    (ds,) = display_sets_from_instances(instances(*data))
    zs = [float(r.image_position[2]) for r in ds.images]
    assert zs == [97.5, 95.0, 92.5, 90.0, 87.5]
    assert ds.spacing_between_slices == pytest.approx(2.5)
    assert ds.is_reconstructable


def test_ascending_numbering_keeps_ascending_position():
    data = [image(f"1.{n}", n, 10.0 * n) for n in (2, 0, 1)]
    (ds,) = display_sets_from_instances(instances(*data))
    assert [float(r.image_position[2]) for r in ds.images] == [0.0, 10.0, 20.0]


def test_oblique_normal_is_used_not_z():
    # Sagittal: row = +y, column = -z → normal = +x; z is the same for all.
    ori = (0, 1, 0, 0, 0, -1)
    data = []
    for n, x in ((1, -4.0), (2, 0.0), (3, 4.0)):
        ds = image(f"1.{n}", n, 0.0, orientation=ori)
        ds.ImagePositionPatient = [x, 0, 0]
        data.append(ds)
    (dset,) = display_sets_from_instances(instances(*reversed(data)))
    assert [float(r.image_position[0]) for r in dset.images] == [-4.0, 0.0, 4.0]


def test_falls_back_to_instance_number_without_geometry():
    data = [image(f"1.{n}", n, None) for n in (3, 1, 2)]
    (ds,) = display_sets_from_instances(instances(*data))
    assert [r.instance.instance_number for r in ds.images] == [1, 2, 3]
    assert ds.spacing_between_slices is None and not ds.is_reconstructable


def test_mixed_orientation_falls_back_to_instance_number():
    a = image("1.1", 2, 0.0)
    b = image("1.2", 1, 5.0, orientation=(0, 1, 0, 0, 0, -1))
    refs = [r for i in instances(a, b) for r in i.frames()]
    assert [r.instance.instance_number for r in sort_by_position(refs)] == [1, 2]


def test_multiframe_instance_is_its_own_display_set_with_every_frame():
    mf = image("2.1", 1, None, series="1.2.3.5", frames=5)
    single = image("1.1", 1, 0.0)
    sets = display_sets_from_instances(instances(single, mf))
    by_series = {d.series_instance_uid: d for d in sets}
    multi = by_series["1.2.3.5"]
    assert [r.frame_number for r in multi.images] == [1, 2, 3, 4, 5]
    assert multi.is_multiframe and not by_series[SERIES].is_multiframe


def test_enhanced_per_frame_positions_sort_frames():
    mf = image("3.1", 1, None, frames=3)
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = DicomSequence([orient])
    measures = Dataset()
    measures.PixelSpacing = [0.25, 0.25]
    shared.PixelMeasuresSequence = DicomSequence([measures])
    mf.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for z in (20.0, 0.0, 10.0):
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [0, 0, z]
        item.PlanePositionSequence = DicomSequence([pos])
        per_frame.append(item)
    mf.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    (ds,) = display_sets_from_instances(instances(mf))
    assert [r.frame_number for r in ds.images] == [2, 3, 1]
    np.testing.assert_allclose(ds.pixel_spacing, [0.25, 0.25])
    assert ds.spacing_between_slices == pytest.approx(10.0)


def test_instances_without_pixels_are_left_out():
    sr = image("9.1", 1, None)
    del sr.Rows, sr.Columns
    assert display_sets_from_instances(instances(sr)) == []


def test_missing_uid_is_a_clear_error():
    ds = image("1.1", 1, 0.0)
    del ds.SOPInstanceUID
    with pytest.raises(ModelError, match="SOPInstanceUID"):
        Instance.from_dataset(ds)


def test_study_row_tolerates_missing_and_single_modalities():
    ds = Dataset()
    ds.StudyInstanceUID = STUDY
    assert Study.from_dataset(ds).modalities_in_study == ()
    ds.ModalitiesInStudy = "CT"
    ds.PatientName = "<img src=x onerror=alert(1)>"
    row = Study.from_dataset(ds)
    assert row.modalities_in_study == ("CT",)
    assert row.patient_name == "<img src=x onerror=alert(1)>"
    ds.ModalitiesInStudy = ["CT", "SR"]
    assert Study.from_dataset(ds).modalities_in_study == ("CT", "SR")


# --- display-set kinds (OHIF's SOP class handlers) ---------------------------------------


def non_image(sop: str, sop_class: str, series: str, number: int, modality: str) -> Dataset:
    ds = image(sop, 1, None, series=series)
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.SeriesNumber = number
    del ds.Rows, ds.Columns, ds.PixelSpacing
    return ds


def report_root(ds: Dataset, code: str, scheme: str = "DCM") -> Dataset:
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = code, scheme, "Report"
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = DicomSequence([name])
    return ds


def test_every_non_image_instance_is_a_display_set_of_its_kind():
    ct = [image(f"1.{n}", n, float(n)) for n in (1, 2)]
    for ds in ct:
        ds.SeriesNumber = 5
    seg = image("2.1", 1, None, series="1.2.3.6", frames=3)
    seg.SOPClassUID, seg.Modality, seg.SeriesNumber = uid.SegmentationStorage, "SEG", 6
    data = [
        *ct, seg,
        non_image("3.1", uid.RTStructureSetStorage, "1.2.3.7", 7, "RTSTRUCT"),
        report_root(non_image("4.1", uid.BasicTextSRStorage, "1.2.3.8", 1, "SR"), "18748-4", "LN"),
        report_root(non_image("4.2", uid.Comprehensive3DSRStorage, "1.2.3.8", 1, "SR"), "x"),
        non_image("5.1", uid.EncapsulatedPDFStorage, "1.2.3.9", 2, "DOC"),
    ]
    video = image("6.1", 1, None, series="1.2.3.10", frames=75)
    video.SOPClassUID, video.Modality, video.SeriesNumber = (
        uid.VideoEndoscopicImageStorage, "ES", 3)
    data.append(video)
    sets = display_sets_from_instances(instances(*data))
    assert [(d.kind, d.series_number) for d in sets] == [
        ("sr", 1), ("sr", 1), ("pdf", 2), ("video", 3), ("image", 5), ("seg", 6),
        ("rtstruct", 7)]
    by_kind = {d.kind: d for d in sets}
    assert len(by_kind["image"].images) == 2 and by_kind["image"].instance.sop_instance_uid in {
        "1.1", "1.2"}
    # One display set per instance, named like a multi-frame's: series/SOP instance.
    for kind, sop in (("pdf", "5.1"), ("video", "6.1"), ("rtstruct", "3.1")):
        assert by_kind[kind].images == ()
        assert [i.sop_instance_uid for i in by_kind[kind].instances] == [sop]
        assert by_kind[kind].display_set_uid == f"{by_kind[kind].series_instance_uid}/{sop}"
        assert not by_kind[kind].is_image and not by_kind[kind].is_reconstructable
    assert by_kind["video"].instance.number_of_frames == 75
    assert [d.instance.sop_instance_uid for d in sets if d.kind == "sr"] == ["4.1", "4.2"]
    # A SEG keeps its frames for the overlay code; it is not a stack to reconstruct.
    assert [r.frame_number for r in by_kind["seg"].images] == [1, 2, 3]
    assert by_kind["seg"].pixel_spacing is not None and by_kind["pdf"].pixel_spacing is None
    info = display_set_info(by_kind["video"])
    assert (info["kind"], info["numImages"], info["numberOfFrames"], info["sopInstanceUID"],
            info["modality"]) == ("video", 0, 75, "6.1", "ES")
    assert display_set_info(by_kind["image"])["kind"] == "image"


def test_measurement_reports_stay_out_of_the_display_sets():
    report = report_root(non_image("7.1", uid.Comprehensive3DSRStorage, "1.2.3.11", 1, "SR"),
                         "126000")
    other = report_root(non_image("7.2", uid.ComprehensiveSRStorage, "1.2.3.12", 2, "SR"),
                        "126000", "SCT")  # the same code value in another scheme
    (instance, _) = instances(report, other)
    assert instance.is_measurement_report and instance.kind == "measurement-report"
    assert [d.instance.sop_instance_uid for d in display_sets_from_instances(
        instances(report, other))] == ["7.2"]


@pytest.mark.parametrize(("sop_class", "syntax", "kind"), [
    (uid.SecondaryCaptureImageStorage, uid.MPEG4HP41, "video"),  # a video by its syntax
    (uid.MultiFrameTrueColorSecondaryCaptureImageStorage, uid.HEVCMP51, "video"),
    (uid.VideoEndoscopicImageStorage, uid.MPEG2MPML, "video"),
    (uid.VideoPhotographicImageStorage, "", "video"),  # Orthanc's metadata has no syntax
    (uid.VideoEndoscopicImageStorage, uid.JPEGBaseline8Bit, "image"),  # frames: a stack
    (uid.SecondaryCaptureImageStorage, uid.JPEGBaseline8Bit, "image"),
])
def test_video_is_told_by_transfer_syntax_where_the_metadata_has_it(sop_class, syntax, kind):
    ds = image("8.1", 1, None, frames=30)
    ds.SOPClassUID = sop_class
    if syntax:
        ds.AvailableTransferSyntaxUID = syntax
    (instance,) = instances(ds)
    assert instance.transfer_syntax_uid == syntax
    (display_set,) = display_sets_from_instances([instance])
    assert display_set.kind == kind
    assert len(display_set.images) == (30 if kind == "image" else 0)


def test_file_meta_transfer_syntax_tells_a_local_video():
    ds = image("8.2", 1, None, frames=30)
    ds.SOPClassUID = uid.SecondaryCaptureImageStorage
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid.MPEG4HP41
    assert Instance.from_dataset(ds).kind == "video"


def test_instance_kind_without_pixels_or_class():
    assert instance_kind("1.2.840.10008.5.1.4.1.1.11.1") is None  # a presentation state
    assert instance_kind(uid.CTImageStorage, has_pixels=True) == "image"
    assert instance_kind(uid.EncapsulatedPDFStorage) == "pdf"


def test_display_set_kind_is_checked():
    (inst,) = instances(non_image("9.5", uid.EncapsulatedPDFStorage, "1.2.3.24", 1, "DOC"))
    with pytest.raises(ModelError, match="unknown kind 'movie'"):
        DisplaySet("d", STUDY, "1.2.3.24", "DOC", "", 1, (), kind="movie", instances=(inst,))
    with pytest.raises(ModelError, match="has no instance"):
        DisplaySet("d", STUDY, "1.2.3.24", "DOC", "", 1, (), kind="pdf")
    with pytest.raises(ModelError, match="has no images"):
        DisplaySet("d", STUDY, "1.2.3.24", "DOC", "", 1, (), instances=(inst,))
