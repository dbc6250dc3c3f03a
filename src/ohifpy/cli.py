"""The ``ohifpy`` command: the viewer's core on the command line (CPython).

``studies`` runs the study list's QIDO search; ``render`` writes one frame to PNG
through exactly the viewer's pipeline (metadata → display set → WADO-RS frame →
decode → modality LUT → VOI → RGBA); ``serve`` serves a built dist, with an optional
same-origin reverse proxy to a DICOMweb server. Expected failures print one line on stderr
and exit 1; usage errors exit 2 (argparse's convention). pydicom's warnings about the
files (odd dates, over-long values: real archives are full of them) show only with ``-v``,
which also adds the traceback to a failure's line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydicom.errors import InvalidDicomError

from . import __version__
from .config import AppConfig, DicomWebSource, load_config
from .datasources import DataSource, create_data_sources
from .dicomweb import StudyQuery
from .dicomweb.httpx_transport import HttpxTransport
from .errors import DATA_ERRORS
from .image_loader import load_image_frame
from .imaging import VOIWindow, render_rgba
from .model import DisplaySet, ImageRef, Study, display_sets_from_instances
from .serve import add_serve_arguments, run_serve

__all__ = ["main", "render_image"]

EXPECTED_ERRORS = (*DATA_ERRORS, InvalidDicomError, OSError)
"""Every data, server and config error (pydicom's about a file too), and the disk's."""


class CLIError(Exception):
    """A user-facing failure with a one-line message (nothing to add from a traceback)."""


@asynccontextmanager
async def _data_source(args: argparse.Namespace) -> AsyncIterator[DataSource]:
    """The source the arguments name: a DICOMweb root, a config's source, a folder of the
    user's files, or an OHIF dicomjson file; closed on the way out."""
    given = [flag for flag in ("dicomweb", "config", "folder", "dicomjson") if getattr(args, flag)]
    if len(given) != 1:
        raise CLIError("give one of --dicomweb URL, --config FILE, --folder DIR, --dicomjson URL")
    transport = HttpxTransport()
    try:
        yield await _open_source(args, transport)
    finally:
        await transport.aclose()


async def _open_source(args: argparse.Namespace, transport: HttpxTransport) -> DataSource:
    if args.folder:
        from .datasources.local_files import LocalFilesDataSource, file_handles

        local = LocalFilesDataSource()
        _report_files(await local.add_files(file_handles([Path(args.folder)])))
        return local
    if args.dicomjson:
        from .datasources.dicomjson import DicomJsonDataSource

        dicomjson = DicomJsonDataSource("dicomjson", "DICOM JSON", transport)
        given = Path(args.dicomjson)
        if given.is_file():  # a file of ours: its instance URLs are still fetched over http(s)
            dicomjson.add_json(given.read_bytes(), given.resolve().as_uri())
        else:
            await dicomjson.load(args.dicomjson)
        return dicomjson
    if args.config:
        config: AppConfig = load_config(args.config)
        name = args.source or config.defaultDataSourceName
        config.source(name)  # an unknown name is the user's error, said before any request
        return create_data_sources(config, transport)[name]
    # includefield: servers ignore it when unsupported (PS3.18), and without it Orthanc
    # leaves StudyDescription out of study rows.
    options: dict[str, Any] = {"timeout": args.timeout, "qidoSupportsIncludeField": True}
    if args.transfer_syntax:
        options["requestTransferSyntaxUID"] = args.transfer_syntax
    source = DicomWebSource.from_url(args.dicomweb, **options)
    return create_data_sources(AppConfig((source,)), transport)[source.name]


def _report_files(report: Any) -> None:
    """What a folder held besides readable DICOM, on stderr (the table stays on stdout)."""
    if report.skipped:
        print(f"ohifpy: {len(report.skipped)} file(s) are not DICOM", file=sys.stderr)
    for name, reason in report.failed:
        print(f"ohifpy: {_cell(name)}: {_cell(reason)}", file=sys.stderr)


def _window(text: str | None) -> VOIWindow | None:
    if not text:
        return None
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"--window must be CENTER,WIDTH (e.g. 40,400), not {text!r}") from None
    if width < 1:
        raise CLIError(f"--window width must be at least 1, not {width:g}")
    return VOIWindow(center, width)


# ---------------------------------------------------------------- studies

STUDY_COLUMNS = (
    ("Patient", "patient_name"),
    ("MRN", "patient_id"),
    ("Date", "study_date"),
    ("Description", "study_description"),
    ("Modalities", "modalities_in_study"),
    ("Accession", "accession_number"),
    ("Instances", "number_of_instances"),
    ("StudyInstanceUID", "study_instance_uid"),
)


def _cell(value: object) -> str:
    if isinstance(value, tuple):
        value = "/".join(value)
    text = "" if value is None else str(value)
    # One row per study, whatever a hostile tag holds.
    return "".join(ch if ch.isprintable() else " " for ch in text)


def format_study_table(studies: Sequence[Study]) -> str:
    rows = [[_cell(getattr(s, attr)) for _, attr in STUDY_COLUMNS] for s in studies]
    widths = [
        min(max([len(h)] + [len(r[i]) for r in rows]), 64) for i, (h, _) in enumerate(STUDY_COLUMNS)
    ]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, widths)
        ).rstrip()
    out = [line([h for h, _ in STUDY_COLUMNS])]
    out += [line(r) for r in rows]
    out.append(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}")
    return "\n".join(out)


async def _studies(args: argparse.Namespace) -> int:
    try:
        query = StudyQuery(
            patient_name=args.patient_name or "",
            patient_id=args.patient_id or "",
            accession_number=args.accession or "",
            study_description=args.description or "",
            modalities_in_study=tuple(args.modality or ()),
            study_date_from=args.date_from or "",
            study_date_to=args.date_to or "",
        )
    except ValueError as exc:  # a filter that is not a valid QIDO value (e.g. a date)
        raise CLIError(str(exc)) from None
    async with _data_source(args) as source:
        datasets = await source.search_for_studies(query, limit=args.limit, offset=args.offset)
    if args.json:
        json.dump([ds.to_json_dict() for ds in datasets], sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(format_study_table([Study.from_dataset(ds) for ds in datasets]))
    return 0


# ---------------------------------------------------------------- render


def _pick_image(
    display_sets: Sequence[DisplaySet], series_uid: str | None, sop_uid: str | None, frame: int | None
) -> ImageRef:
    """The image the viewer would show: the first of the first display set, unless told."""
    candidates = [d for d in display_sets if not series_uid or d.series_instance_uid == series_uid]
    if not candidates:
        raise CLIError(f"no image series {series_uid or ''} in this study".replace("  ", " "))
    images = [r for d in candidates for r in d.images]
    if sop_uid:
        images = [r for r in images if r.instance.sop_instance_uid == sop_uid]
        if not images:
            raise CLIError(f"no image instance {sop_uid} in the series")
    if frame is not None:
        matching = [r for r in images if r.frame_number == frame]
        if not matching:
            count = images[0].instance.number_of_frames
            raise CLIError(f"--frame {frame} is out of range: the instance has {count} frame(s)")
        return matching[0]
    return images[0]


async def render_image(
    source: DataSource,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    frame: int | None = None,
    window: VOIWindow | None = None,
):
    """Fetch and render one frame as the viewer does; returns (RGBA array, ImageRef, window)."""
    instances = await source.retrieve_study_instances(study_uid, [series_uid] if series_uid else [])
    image = _pick_image(display_sets_from_instances(instances), series_uid, sop_uid, frame)
    prepared = await load_image_frame(source, image)
    chosen = window or prepared.default_window()
    return render_rgba(prepared, chosen), image, chosen


async def _render(args: argparse.Namespace) -> int:
    from PIL import Image  # CPython only; the browser paints RGBA onto a canvas instead

    window = _window(args.window)
    if args.frame is not None and args.frame < 1:
        raise CLIError("--frame is 1-based (as in WADO-RS): give 1 or more")
    async with _data_source(args) as source:
        rgba, image, chosen = await render_image(
            source, args.study, args.series, args.instance, args.frame, window
        )
    Image.fromarray(rgba, "RGBA").convert("RGB").save(args.output, format="PNG")
    w = f" window {chosen.center:g},{chosen.width:g}" if chosen else ""
    print(
        f"{args.output}: {rgba.shape[1]}x{rgba.shape[0]} SOP {image.instance.sop_instance_uid} "
        f"frame {image.frame_number}{w}",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------- entry point


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ohifpy", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ohifpy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def source_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dicomweb", metavar="URL", help="DICOMweb root (QIDO, WADO and STOW)")
        p.add_argument("--config", metavar="FILE", help="app config JSON instead of --dicomweb")
        p.add_argument("--source", metavar="NAME", help="data source name in --config")
        p.add_argument("--folder", metavar="DIR",
                       help="the DICOM files of a folder (ZIPs and DICOMDIRs too)")
        p.add_argument("--dicomjson", metavar="URL_OR_FILE",
                       help="an OHIF dicomjson file (studies whose instances are URLs)")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
        p.add_argument("--transfer-syntax", metavar="UID",
                       help="ask the server to transcode frames to this syntax")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="show pydicom's warnings about the files, and a failure's traceback")

    studies = sub.add_parser("studies", help="search for studies (QIDO-RS)")
    source_args(studies)
    studies.add_argument("--patient-name")
    studies.add_argument("--patient-id", help="MRN")
    studies.add_argument("--accession")
    studies.add_argument("--description", help="study description")
    studies.add_argument("--modality", action="append", help="repeat for several")
    studies.add_argument("--date-from", metavar="YYYYMMDD")
    studies.add_argument("--date-to", metavar="YYYYMMDD")
    studies.add_argument("--limit", type=int)
    studies.add_argument("--offset", type=int, default=0)
    studies.add_argument("--json", action="store_true", help="DICOM JSON instead of a table")
    studies.set_defaults(run=_studies)

    render = sub.add_parser("render", help="render one frame to PNG as the viewer shows it")
    source_args(render)
    render.add_argument("--study", required=True, metavar="UID")
    render.add_argument("--series", metavar="UID")
    render.add_argument("--instance", metavar="UID")
    render.add_argument("--frame", type=int, help="1-based frame number (WADO-RS)")
    render.add_argument("--window", metavar="C,W", help="window center,width (default: header's first)")
    render.add_argument("-o", "--output", required=True, metavar="PNG")
    render.set_defaults(run=_render)

    serve = sub.add_parser("serve", help="serve a built dist, optionally proxying DICOMweb")
    add_serve_arguments(serve)
    serve.set_defaults(run=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    try:
        with warnings.catch_warnings():
            if not args.verbose:
                warnings.simplefilter("ignore", UserWarning)  # pydicom's category
            return asyncio.run(args.run(args))
    except (CLIError, *EXPECTED_ERRORS) as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"ohifpy {args.command}: {_one_line(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"ohifpy {args.command}: interrupted", file=sys.stderr)
        return 130
    return 1


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (a server's answer may hold several)."""
    return " ".join(str(exc).splitlines()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
