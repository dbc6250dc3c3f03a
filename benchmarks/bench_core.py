"""Core benchmark (CPython): QIDO latency, frame retrieval, decode per syntax, render.

Starts its own Orthanc on 127.0.0.1 loaded with the generated test data (as the tests
do), then prints numbers; nothing is asserted. Run: ``make bench`` or
``.venv/bin/python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

import make_test_data
import pydicom
from orthanc import start_orthanc

from ohifpy.config import DicomWebSource
from ohifpy.dicomweb import DICOMwebClient, StudyQuery
from ohifpy.dicomweb.multipart import build_multipart_related, parse_multipart_related
from ohifpy.imaging import PixelModule, decode_frame, prepare_frame, render_rgba
from ohifpy.model import Instance, display_sets_from_instances


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


async def timed(fn: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return times


async def bench(root: str, manifest: make_test_data.Manifest) -> None:
    ct = manifest.study("ct")
    async with DICOMwebClient(DicomWebSource.from_url(root)) as client:
        print("QIDO-RS (median of 20)")
        for label, query in (
            ("all studies", None),
            ("PatientName=Phantom*", StudyQuery(patient_name="Phantom")),
            ("ModalitiesInStudy=CT", StudyQuery(modalities_in_study=("CT",))),
        ):
            t = await timed(lambda q=query: client.search_for_studies(q), 20)
            print(f"  {label:28s} {ms(statistics.median(t))}")

        series_uid = ct.series[0].series_uid
        t = await timed(lambda: client.retrieve_series_metadata(ct.study_uid, series_uid), 3)
        print(f"series metadata, 200 instances  {ms(min(t))}")
        metadata = await client.retrieve_series_metadata(ct.study_uid, series_uid)
        (display_set,) = display_sets_from_instances(Instance.from_dataset(d) for d in metadata)

        async def fetch(image):
            inst = image.instance
            return await client.retrieve_instance_frames(
                ct.study_uid, series_uid, inst.sop_instance_uid, [image.frame_number])

        for concurrency in (1, 6):
            started = time.perf_counter()
            queue = list(display_set.images)

            async def worker(pending: list) -> None:
                while pending:
                    await fetch(pending.pop())

            await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            print(f"retrieve 200 CT frames, {concurrency} at a time: {elapsed:6.2f} s "
                  f"= {200 / elapsed:6.1f} frames/s")

        print("decode one 512x512 CT frame per transfer syntax (median of 20)")
        for study in manifest.studies:
            if study.group != "transfer-syntax" and study.key != "ct":
                continue
            entry = study.instances[0]
            ds = pydicom.dcmread(manifest.root / entry.path)
            (frame,) = await client.retrieve_instance_frames(
                study.study_uid, study.series[0].series_uid, entry.sop_uid, [1])
            pixel = PixelModule.from_dataset(ds)
            decode_frame(frame.data, frame.transfer_syntax_uid, pixel)  # warm the codec
            times = []
            for _ in range(20):
                started = time.perf_counter()
                decode_frame(frame.data, frame.transfer_syntax_uid, pixel)
                times.append(time.perf_counter() - started)
            direct = []
            arr_index = 0
            for _ in range(20):
                started = time.perf_counter()
                pydicom.pixels.pixel_array(ds, index=arr_index, raw=True)
                direct.append(time.perf_counter() - started)
            print(f"  {study.key:22s} {entry.transfer_syntax_uid:24s} "
                  f"{ms(statistics.median(times))}  (pydicom on the file: "
                  f"{ms(statistics.median(direct)).strip()}, {len(frame.data) / 1024:6.0f} KiB)")

        image = display_set.images[100]
        (frame,) = await fetch(image)
        meta = image.instance.metadata
        prepared = prepare_frame(frame.data, frame.transfer_syntax_uid, meta)
        t_prepare, t_render = [], []
        for _ in range(50):
            started = time.perf_counter()
            prepared = prepare_frame(frame.data, frame.transfer_syntax_uid, meta)
            t_prepare.append(time.perf_counter() - started)
            started = time.perf_counter()
            render_rgba(prepared, prepared.default_window())
            t_render.append(time.perf_counter() - started)
        print(f"512x512 CT: decode + modality LUT {ms(statistics.median(t_prepare))}, "
              f"window -> RGBA {ms(statistics.median(t_render))} (median of 50)")


def bench_multipart() -> None:
    """The multipart parser on a 100 MB body of four frames with every byte value, and on
    20,000 small parts: linear time (the tests check the results, not the time)."""
    frame = bytes(range(256)) * (1024 * 4 * 25)
    for label, parts in (("100 MB, 4 frames", [frame] * 4), ("20,000 parts of 100 B",
                                                              [b"\x00" * 100] * 20000)):
        body, content_type = build_multipart_related(parts, "application/octet-stream")
        started = time.perf_counter()
        parse_multipart_related(body, content_type)
        print(f"multipart parse, {label:22s} {ms(time.perf_counter() - started)}")


def main() -> int:
    bench_multipart()
    manifest = make_test_data.ensure()
    with tempfile.TemporaryDirectory() as work:
        server = start_orthanc(Path(work) / "orthanc")
        try:
            started = time.perf_counter()
            server.upload(manifest.files())
            print(f"Orthanc loaded with {len(manifest.files())} files in "
                  f"{time.perf_counter() - started:.1f} s")
            asyncio.run(bench(server.dicomweb_root, manifest))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
