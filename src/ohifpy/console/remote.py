"""The browser's Python console: cells run in a worker of their own, over a snapshot of the viewer.

A cell may compute for seconds; run in the viewer's worker it would freeze scrolling and
window/level, and it could reach the access token the viewer's requests carry. So the
console has its own Pyodide (``web/console_worker.js``) and :class:`ConsoleSession` there
runs the cells. Before a cell runs, the page asks the viewer's worker for what the cell
may read (:meth:`ConsoleSession.needs`: the volume only when the cell's code, or an earlier
cell's, names ``volume``), and hands the answer to :meth:`ConsoleSession.run`:
:class:`SnapshotSource` is the :class:`~ohifpy.console.viewer.ViewerSource` over it. What
the cell showed and laid over the images goes back as messages
(:mod:`ohifpy.console.messages`) for the viewer's worker to display.

A snapshot (the viewer worker's ``consoleSnapshot`` answer) is ``{displaySets: [{displaySetUID,
instances: [DICOM JSON]}], active: {displaySetUID, imageIndex}, image: {dtype, shape,
data, photometric, windows}, window, volume: {dtype, shape, data} | {error} | None,
measurements: [Measurement JSON]}``. Display sets' metadata is sent once (``needs``
lists those held) and so are whole volumes.
"""

from __future__ import annotations

import ast
import json
import linecache
import rlcompleter
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import CodeType
from typing import Any

from ..imaging import ImageFrame, VOIWindow
from ..measure import Measurement
from ..model import DisplaySet, Instance, display_sets_from_instances
from ..volume import Volume, VolumeGeometry
from .derived import ConsoleError
from .messages import (
    array_from_message,
    derived_message,
    overlay_message,
    window_from_message,
)
from .namespace import HELP, Console
from .viewer import Viewer, describe, not_a_volume

__all__ = ["ConsoleSession", "SnapshotSource", "cell_names"]

Write = Callable[[str, str], None]
"""``write(stream, text)``: a cell's output as it is printed (``stdout`` or ``stderr``)."""

VOLUME_NAMES = frozenset({"volume", "volume_index"})
"""Names whose use makes the viewer send the active series' whole volume."""


def cell_names(code: CodeType) -> set[str]:
    """Every global and attribute name a compiled cell (and the functions in it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= cell_names(const)
    return names


class SnapshotSource:
    """The viewer as a cell sees it: what the page sent before the cell ran."""

    def __init__(self, snapshot: Mapping[str, Any], display_sets: Mapping[str, DisplaySet],
                 volumes: dict[str, Volume]) -> None:
        self._snapshot = snapshot
        self._display_sets = display_sets
        self._volumes = volumes
        self._frame: ImageFrame | None = None

    def display_sets(self) -> Sequence[DisplaySet]:
        return list(self._display_sets.values())

    def active(self) -> tuple[DisplaySet, int]:
        active = self._snapshot.get("active") or {}
        uid = str(active.get("displaySetUID") or "")
        if uid not in self._display_sets:
            raise ConsoleError(str(self._snapshot.get("error")
                                   or "the active viewport shows no image series"))
        return self._display_sets[uid], int(active.get("imageIndex") or 0)

    def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        if (display_set, index) != self.active():
            raise ConsoleError("only the active viewport's current image is at hand here")
        if self._frame is None:
            image = self._snapshot.get("image") or {}
            if image.get("error"):
                raise ConsoleError(str(image["error"]))
            values = array_from_message(image, "viewer.image")
            windows = tuple(w for w in map(window_from_message, image.get("windows") or ())
                            if w is not None)
            self._frame = ImageFrame(values, str(image.get("photometric") or "MONOCHROME2"),
                                     windows=windows)
        return self._frame

    def volume(self, display_set: DisplaySet) -> Volume:
        uid = display_set.display_set_uid
        if uid not in self._volumes:
            sent = self._snapshot.get("volume")
            if not sent:
                raise ConsoleError("the volume was not sent: a cell that reads viewer.volume "
                                   "must name it (viewer.volume, not getattr)")
            if sent.get("error"):
                raise not_a_volume(display_set, str(sent["error"]))
            voxels = array_from_message(sent, "viewer.volume")
            geometry = VolumeGeometry.from_display_set(display_set)
            if voxels.shape != geometry.shape:
                raise ConsoleError(f"the volume sent is {voxels.shape}, not {geometry.shape}")
            self._volumes[uid] = Volume.of_voxels(geometry, voxels)
        return self._volumes[uid]

    def window(self) -> VOIWindow | None:
        return window_from_message(self._snapshot.get("window"))

    def measurements(self) -> Sequence[Measurement]:
        return [Measurement.from_json(m) for m in self._snapshot.get("measurements") or ()]

    def activate(self, display_set: DisplaySet, index: int, window: VOIWindow | None) -> None:
        raise ConsoleError("viewer.select works in scripts; here, show the image in the "
                           "active viewport (click the series, scroll to it) and run the cell")


class _Stream:
    """sys.stdout / sys.stderr while a cell runs: each write goes to the page at once."""

    def __init__(self, write: Write, name: str) -> None:
        self._write, self.name = write, name

    def write(self, text: str) -> int:
        if text:
            self._write(self.name, str(text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _CurrentCell:
    """The ViewerSource of whichever cell runs (``viewer`` outlives cells: a cell may keep
    ``v = viewer`` for the next): the running cell's snapshot."""

    source: SnapshotSource | None = None

    def _now(self) -> SnapshotSource:
        if self.source is None:
            raise ConsoleError("the viewer is read while a cell runs")
        return self.source

    def display_sets(self) -> Sequence[DisplaySet]:
        return self._now().display_sets()

    def active(self) -> tuple[DisplaySet, int]:
        return self._now().active()

    def frame(self, display_set: DisplaySet, index: int) -> ImageFrame:
        return self._now().frame(display_set, index)

    def volume(self, display_set: DisplaySet) -> Volume:
        return self._now().volume(display_set)

    def window(self) -> VOIWindow | None:
        return self._now().window()

    def measurements(self) -> Sequence[Measurement]:
        return self._now().measurements()

    def activate(self, display_set: DisplaySet, index: int, window: VOIWindow | None) -> None:
        self._now().activate(display_set, index, window)


class ConsoleSession:
    """One console's cells: their shared globals, what they showed, history of names."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._display_sets: dict[str, DisplaySet] = {}
        self._volumes: dict[str, Volume] = {}
        self._current = _CurrentCell()
        self.console = Console(Viewer(self._current))
        self.globals: dict[str, Any] = {**self.console.namespace(), "__name__": "__console__"}
        self._names: set[str] = set()
        self._cells = 0

    def needs(self, code: str) -> dict[str, Any]:
        """What the viewer must send for ``code``: ``{volume, displaySets, volumes}`` (the
        metadata and volumes held), or ``{error}``: a syntax error, told before anything
        is asked of the viewer."""
        try:
            compiled = compile(code, "<cell>", "exec")
        except (SyntaxError, ValueError, OverflowError) as exc:
            return {"error": "".join(traceback.format_exception_only(exc))}
        self._names |= cell_names(compiled)
        return {"volume": bool(self._names & VOLUME_NAMES),
                "displaySets": sorted(self._display_sets), "volumes": sorted(self._volumes)}

    def run(self, code: str, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """Run a cell over ``snapshot``; its output went to ``write``. The answer:
        ``{ok, shown: [derived message], overlays: [overlay message]}``."""
        self._cells += 1
        name = f"<cell {self._cells}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)  # for tracebacks
        shown, overlaid = len(self.console.shown), len(self.console.overlays)
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(self._write, "stdout"), _Stream(self._write, "stderr")
        ok = True
        try:
            for entry in snapshot.get("displaySets") or ():
                self._add_display_set(entry)
            self._current.source = SnapshotSource(snapshot, self._display_sets, self._volumes)
            self._execute(code, name)
        except KeyboardInterrupt:
            ok = False
            self._write("stderr", "KeyboardInterrupt: the cell was interrupted\n")
        except BaseException as exc:  # noqa: BLE001 - the user's error, told as Python tells it
            ok = False
            self._write("stderr", _traceback(exc, name))
        finally:
            sys.stdout, sys.stderr = streams
            self._current.source = None
        return {"ok": ok,
                "shown": [derived_message(d) for d in self.console.shown[shown:]],
                "overlays": [overlay_message(o) for o in self.console.overlays[overlaid:]]}

    def complete(self, text: str) -> list[str]:
        """Completions of the name or attribute at the end of ``text`` (properties are not
        evaluated: ``viewer.`` lists ``image`` without loading it)."""
        completer = rlcompleter.Completer(self.globals)
        found: list[str] = []
        for state in range(200):
            match = completer.complete(text, state)
            if match is None:
                break
            if match not in found:
                found.append(match)
        return found

    @staticmethod
    def help() -> str:
        """The console's names, as the panel's help shows them."""
        return HELP

    def _execute(self, code: str, name: str) -> None:
        """``exec`` the cell; a last expression's value is printed, as the REPL does."""
        tree = ast.parse(code, name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, name, "exec"), self.globals)  # noqa: S102 - the console's purpose
        if last is not None:
            value = eval(compile(ast.Expression(last.value), name, "eval"), self.globals)
            if value is not None:
                self.globals["_"] = value
                print(repr(value))

    def _add_display_set(self, entry: Mapping[str, Any]) -> None:
        uid = str(entry["displaySetUID"])
        instances = [Instance.from_json(obj, "") for obj in json.loads(entry["instances"])]
        for display_set in display_sets_from_instances(instances):
            if display_set.display_set_uid == uid:
                self._display_sets[uid] = display_set
                return
        raise ConsoleError(f"display set {uid}: its metadata makes no such display set")

    def __repr__(self) -> str:
        names = ", ".join(describe(d) for d in self._display_sets.values())
        return f"<console session: {self._cells} cells; {names or 'no series yet'}>"


def _traceback(exc: BaseException, cell: str) -> str:
    """The error as Python prints it, from the cell's own frames on (not this module's);
    a ConsoleError (a name used wrongly) as its one line."""
    if isinstance(exc, ConsoleError):
        return f"ConsoleError: {exc}\n"
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != cell:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
