"""A bounded cache: what a hostile stream of distinct keys cannot grow without limit.

Every cache keyed by something a scan or a request names (a product, a batch, a
place) is one of these: the least recently used entry goes when it is full. The
operations are single OrderedDict calls, each atomic under the GIL, so threads
may share one (a lost race costs a recomputation, never a wrong value).
"""
from __future__ import annotations

from collections import OrderedDict

_MISSING = object()


class BoundedCache:
    """A mapping of at most ``size`` entries, least recently used evicted first."""

    __slots__ = ("size", "_data")

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a cache holds at least one entry, got size {size}")
        self.size = size
        self._data: OrderedDict = OrderedDict()

    def get(self, key, default=None):
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return default
        try:
            self._data.move_to_end(key)
        except KeyError:  # evicted by another thread in between
            pass
        return value

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        data = self._data
        data[key] = value
        data.move_to_end(key)
        while len(data) > self.size:
            try:
                data.popitem(last=False)
            except KeyError:  # emptied by another thread
                break

    def __contains__(self, key) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def pop(self, key, default=None):
        return self._data.pop(key, default)

    def clear(self) -> None:
        self._data.clear()
