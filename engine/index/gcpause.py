"""The cyclic garbage collector paused while a bulk call builds its many small objects.

An apply() call of a thousand pack events allocates tens of thousands of tuples, lists and
dicts that all live until the call ends; each allocation counts towards the collector's
thresholds, so it runs again and again over them and over everything else the process
holds (measured: 25-120 ms of a 150 ms call, a full collection among them). None of those
objects form cycles, so nothing is lost by collecting once the call is over.

Re-entrant and shared by threads: the collector is enabled again when the last paused
call ends, and only if it was enabled when the first began.
"""
from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_depth = 0
_was_enabled = False


class paused:
    """with paused(): ... runs with gc disabled (see the module's docstring)."""

    __slots__ = ()

    def __enter__(self):
        global _depth, _was_enabled
        with _lock:
            if _depth == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
