"""Dataclass methods compiled when the site is built, not at every start.

Python 3.12's ``dataclasses`` writes each class's ``__init__``, ``__repr__`` and
``__eq__`` (a frozen class's ``__setattr__``, ``__delattr__`` and ``__hash__`` too) as
source and compiles it with ``exec`` when the class is defined. Importing the viewer core
defines some 60 dataclasses, and under Pyodide on a first visit that compiling took
~110 ms, about half the core's import: nothing else compiles source at start (every module
is bytecode), so the compiler's WebAssembly is still at V8's baseline tier.

The build (``scripts/build_static.py``) imports every module of the core under Pyodide
inside :func:`recording` and ships the code objects keyed by their source
(``dist/pyodide/dataclass-code.bin``); the Python worker hands them to :func:`install`
before it imports the core, and ``dataclasses`` takes them from there. A source not in
the table (a class the build did not see) is compiled as before, and a table written by
another interpreter (bytecode magic, version) is refused, so the classes are the same
either way.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import MAGIC_NUMBER
from types import CodeType
from typing import Any

__all__ = ["dump", "install", "recording"]


def _compile(source: str) -> CodeType:
    """``source`` compiled as ``exec`` in ``dataclasses`` compiles it: file ``<string>``,
    no ``__future__`` flags (this module's would be inherited)."""
    return compile(source, "<string>", "exec", dont_inherit=True)


def _exec_with(code_of: Callable[[str], CodeType]) -> Callable[..., None]:
    """``exec`` as ``dataclasses`` calls it, with source turned into code by ``code_of``."""

    def exec_(source: str | CodeType, globals: Any = None, locals: Any = None, /) -> None:
        code = code_of(source) if isinstance(source, str) else source
        builtins.exec(code, globals, locals)  # noqa: S102 - what dataclasses itself runs

    return exec_


@contextmanager
def recording() -> Iterator[dict[str, CodeType]]:
    """The dataclass methods compiled inside the block, by source."""
    table: dict[str, CodeType] = {}

    def compiled(source: str) -> CodeType:
        if source not in table:
            table[source] = _compile(source)
        return table[source]

    dataclasses.exec = _exec_with(compiled)  # type: ignore[attr-defined]
    try:
        yield table
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]


def dump(table: dict[str, CodeType]) -> bytes:
    """``table`` as :func:`install` reads it: this interpreter's bytecode magic, then its
    version and the table, marshalled."""
    return MAGIC_NUMBER + marshal.dumps((sys.version, table))


def install(blob: bytes | memoryview) -> int:
    """Have ``dataclasses`` take the methods it would compile from ``blob`` (written by
    :func:`dump`). Returns how many it holds; 0, changing nothing, for a table this
    interpreter did not write."""
    if bytes(blob[: len(MAGIC_NUMBER)]) != MAGIC_NUMBER:
        return 0
    try:
        version, table = marshal.loads(blob[len(MAGIC_NUMBER):])
    except (EOFError, ValueError, TypeError):
        return 0
    if version != sys.version or not isinstance(table, dict):
        return 0
    dataclasses.exec = _exec_with(  # type: ignore[attr-defined]
        lambda source: table.get(source) or _compile(source))
    return len(table)
