"""Running a data source's coroutines without an event loop, in CPython and under Pyodide."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on a future to its end, without an event loop.

    Local files are read synchronously: their source's coroutines only ever yield to let
    the worker breathe (``asyncio.sleep(0)``), never to wait. Driving them by hand keeps
    tests runnable under Pyodide, whose event loop cannot block and where pytest-asyncio
    is not installed.
    """
    try:
        while True:
            if coroutine.send(None) is not None:
                raise AssertionError("the coroutine waited on a future: it cannot run in Pyodide")
    except StopIteration as done:
        return done.value
