"""The cyclic garbage collector held back while a bulk call builds its many small objects.

An apply() call of a thousand pack events allocates tens of thousands of tuples, lists and
dicts that all live until the call ends; each allocation counts towards the collector's
thresholds, so it runs again and again over them and over everything else the process
holds (measured: 25-120 ms of a 150 ms call, a full collection among them). None of those
objects form cycles, so nothing is lost by collecting once the call is over.

The collector is not disabled but its first threshold raised (to PAUSED_GEN0 allocations):
a server's overlapping calls can keep the pause on for as long as they keep coming, and a
disabled collector would then never reclaim other threads' cycles; a raised threshold still
collects, only every PAUSED_GEN0 allocations instead of every 700, and a 1000-event pack call
(~30 000 allocations) runs without a collection, as fast as with the collector off
(`python -m bench.ab_gcpause`, two runs at load 2.5: disabled 182-192, raised 173-195, untouched
142-151 k codes/s; noise of a shared machine between the first two).

Re-entrant and shared by threads: the thresholds found when the first paused call began are
put back when the last one ends. A collector disabled (or a threshold of 0) stays so.
"""
from __future__ import annotations

import gc
import threading

PAUSED_GEN0 = 100_000   # a 1000-event call's allocations fit; still a bound on uncollected cycles

_lock = threading.Lock()
_depth = 0
_saved: tuple = ()


class paused:
    """with paused(): ... runs with the collector's first threshold raised (see the module's docstring)."""

    __slots__ = ()

    def __enter__(self):
        global _depth, _saved
        with _lock:
            if _depth == 0:
                _saved = gc.get_threshold()
                if _saved[0]:   # 0 means collection is off: leave it so
                    gc.set_threshold(max(_saved[0], PAUSED_GEN0), *_saved[1:])
            _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
