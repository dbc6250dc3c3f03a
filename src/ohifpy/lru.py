"""A least-recently-used cache bounded by the size of what it holds, not by a count.

Decoded frames, and the frames of whole instances a server made the client download, are
kept to be used again; what they weigh varies by orders of magnitude, so a budget in bytes
is what bounds the memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SizedLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """Values by key; the least recently used go first once their sizes pass ``max_bytes``.

    ``size_of(value)`` is a value's size in bytes. The newest ``keep`` values stay however
    large: the one just put is about to be used.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[V], int], keep: int = 1) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._size_of = size_of
        self._keep = keep
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value, now the most recently used; None when absent."""
        entry = self._values.get(key)
        if entry is None:
            return None
        self._values.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` (replacing any under ``key``), dropping the oldest while over budget."""
        self.pop(key)
        size = self._size_of(value)
        self._values[key] = (value, size)
        self.bytes += size
        self._evict(self._keep)

    def pop(self, key: K) -> V | None:
        """Remove and answer the value under ``key``, if any."""
        entry = self._values.pop(key, None)
        if entry is None:
            return None
        self.bytes -= entry[1]
        return entry[0]

    def resize(self, max_bytes: int) -> None:
        """A new budget; the oldest values go first, the newest too if need be."""
        self.max_bytes = max_bytes
        self._evict(keep=0)

    def clear(self) -> None:
        self._values.clear()
        self.bytes = 0

    def _evict(self, keep: int) -> None:
        while self.bytes > self.max_bytes and len(self._values) > keep:
            self.bytes -= self._values.popitem(last=False)[1][1]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)
