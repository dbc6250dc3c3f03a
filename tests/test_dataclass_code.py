"""Dataclass methods compiled ahead (ohifpy.dataclass_code): the same classes, no compiling.

Runs in CPython and under Pyodide (tests/test_pyodide_node.py); that the built dist's
table covers every dataclass the core imports is checked on the dist itself
(tests/test_build_static.py, the Node smoke test).
"""

from __future__ import annotations

import dataclasses
import marshal
import sys
from collections.abc import Iterator
from importlib.util import MAGIC_NUMBER
from typing import Any

import pytest

from ohifpy import dataclass_code

SOURCE = '''
from __future__ import annotations
import dataclasses

@dataclasses.dataclass(frozen=True, order=True)
class Point:
    x: float
    y: float = 0.0

@dataclasses.dataclass
class Path:
    name: str
    points: list[Point] = dataclasses.field(default_factory=list)
    closed: bool = dataclasses.field(default=False, kw_only=True)
'''


def define(source: str = SOURCE) -> dict[str, Any]:
    """The classes of ``source``, defined afresh in a namespace of their own."""
    namespace: dict[str, Any] = {"__name__": __name__}  # a module dataclasses can look up
    exec(compile(source, "<sample>", "exec"), namespace)  # noqa: S102 - the test's classes
    return namespace


@pytest.fixture(autouse=True)
def plain_dataclasses() -> Iterator[None]:
    """Each test starts and ends with dataclasses compiling as it does by itself."""
    vars(dataclasses).pop("exec", None)
    yield
    vars(dataclasses).pop("exec", None)


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources dataclass_code compiles from here on (none when the table has them)."""
    sources: list[str] = []
    compile_ = dataclass_code._compile

    def counted(source: str) -> Any:
        sources.append(source)
        return compile_(source)

    monkeypatch.setattr(dataclass_code, "_compile", counted)
    return sources


def recorded_blob() -> tuple[bytes, int]:
    with dataclass_code.recording() as table:
        define()
    assert "exec" not in vars(dataclasses)  # recording ends with dataclasses as it was
    return dataclass_code.dump(table), len(table)


def test_installed_methods_define_the_same_classes_without_compiling(compiled: list[str]) -> None:
    blob, count = recorded_blob()
    assert count >= 8  # Point: init, repr, eq, lt..ge, setattr, delattr, hash; Path: 3
    compiled.clear()
    assert dataclass_code.install(blob) == count
    classes = define()
    assert compiled == []
    Point, Path = classes["Point"], classes["Path"]
    p, q = Point(1.0), Point(1.0, 2.0)
    assert (p.x, p.y, repr(q)) == (1.0, 0.0, "Point(x=1.0, y=2.0)")
    assert p < q and p == Point(1.0, 0.0) and hash(p) == hash(Point(1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3.0
    path = Path("outline", [p, q], closed=True)
    assert (path.points, path.closed, Path("empty").points) == ([p, q], True, [])
    with pytest.raises(TypeError):
        Path("outline", [], True)  # closed is keyword-only
    # the generated __init__ is compiled as dataclasses compiles it: no __future__ flags
    assert Point.__init__.__code__.co_filename == "<string>"
    assert Point.__init__.__annotations__ == define()["Point"].__init__.__annotations__


def test_a_class_the_table_lacks_is_compiled_as_before(compiled: list[str]) -> None:
    blob, _ = recorded_blob()
    dataclass_code.install(blob)
    compiled.clear()
    # methods depend on the fields, not on the class's name: another field is another source
    Other = define(SOURCE.replace("x: float", "z: float"))["Point"]
    assert compiled and Other(2.0, 3.0) == Other(z=2.0, y=3.0)


@pytest.mark.parametrize("damage", ["magic", "version", "truncated", "not a table"])
def test_a_table_this_interpreter_did_not_write_changes_nothing(damage: str) -> None:
    blob, _ = recorded_blob()
    blob = {
        "magic": b"\0\0\0\0" + blob[len(MAGIC_NUMBER):],
        "version": MAGIC_NUMBER + marshal.dumps(("2.7.18", {})),
        "truncated": blob[: len(blob) // 2],
        "not a table": MAGIC_NUMBER + marshal.dumps((sys.version, ["def f(): pass"])),
    }[damage]
    assert dataclass_code.install(blob) == 0
    assert "exec" not in vars(dataclasses)
    assert define()["Point"](1.0).y == 0.0


def test_install_takes_a_memoryview() -> None:
    """The worker hands the fetched file over as a memoryview (pyodide.toPy of bytes)."""
    blob, count = recorded_blob()
    assert dataclass_code.install(memoryview(blob)) == count
