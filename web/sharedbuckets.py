"""Token buckets shared by the worker processes of one `tracecode serve`: a fixed-size hashed
table in anonymous shared memory, created by the supervisor before it forks the workers,
so a limit is the server's and not each worker's (SO_REUSEPORT spreads one client's
connections over all of them).

The table is `slots` records of (key hash u64, tokens f64, last use f64), 24 bytes each,
in groups of 8: a key lives in the group its hash names, in the slot holding its hash,
else it takes the group's empty or least recently used slot (a bucket evicted that way
starts full again, as a forgotten one did in the per-process LRU). Each group belongs to
one of `stripes` locks (multiprocessing locks, shared over fork), so two workers contend
only on the same stripe, for a few microseconds. A worker killed while holding a lock
must not stop the others: a lock not had within 50 ms is done without (a racy update of
one bucket is better than a server that hangs). The clock is CLOCK_MONOTONIC, one for
every process of the machine.

Keys are hashed with Python's hash(), salted per start of the supervisor and inherited
by every worker it forks (the same salt in all of them, unguessable from outside).

>>> t = SharedTable(slots=64, stripes=2)
>>> [t.take(("a", "x"), rate=1.0, burst=2.0, now=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> t.take(("a", "x"), rate=1.0, burst=2.0, now=0.0, peek=True), t.take(("a", "x"), 1.0, 2.0, now=1.0)
(1.0, 0.0)
"""
from __future__ import annotations

import mmap
import multiprocessing as mp
import struct
from time import monotonic

GROUP = 8
_SLOT = struct.Struct("<Qdd")
_GROUP = struct.Struct("<" + "Qdd" * GROUP)
LOCK_TIMEOUT_S = 0.05

_current: SharedTable | None = None


class SharedTable:
    """The shared table (see the module's docstring)."""

    def __init__(self, slots: int, stripes: int = 64):
        groups = 1
        while groups * GROUP < slots:
            groups *= 2
        self.groups = groups
        self.slots = groups * GROUP
        self.mem = mmap.mmap(-1, self.slots * _SLOT.size)   # MAP_SHARED | MAP_ANONYMOUS
        ctx = mp.get_context("fork")
        self.locks = [ctx.Lock() for _ in range(max(1, min(stripes, groups)))]

    def take(self, key, rate: float, burst: float, now: float | None = None, peek: bool = False) -> float:
        """Take a token from key's bucket (rate tokens a second, at most burst): 0.0 if
        there was one, else the seconds until there is (none taken). peek: only say."""
        if now is None:
            now = monotonic()
        h = (hash(key) & 0xFFFFFFFFFFFFFFFF) | 1     # 0 marks an empty slot
        group = (h >> 7) & (self.groups - 1)
        lock = self.locks[group % len(self.locks)]
        had = lock.acquire(timeout=LOCK_TIMEOUT_S)
        try:
            return self._take(group * GROUP * _SLOT.size, h, rate, burst, now, peek)
        finally:
            if had:
                lock.release()

    def _take(self, base: int, h: int, rate, burst, now, peek) -> float:
        mem = self.mem
        row = _GROUP.unpack_from(mem, base)
        victim, oldest = 0, None
        for i in range(GROUP):
            kh, tokens, last = row[3 * i], row[3 * i + 1], row[3 * i + 2]
            if kh == h:
                tokens = min(burst, tokens + (now - last) * rate)
                if tokens >= 1.0:
                    if not peek:
                        _SLOT.pack_into(mem, base + i * _SLOT.size, h, tokens - 1.0, now)
                    return 0.0
                if not peek:
                    _SLOT.pack_into(mem, base + i * _SLOT.size, h, tokens, now)
                return (1.0 - tokens) / rate
            age = -1.0 if kh == 0 else last   # an empty slot first, else the least recently used
            if oldest is None or age < oldest:
                victim, oldest = i, age
        if not peek:
            _SLOT.pack_into(mem, base + victim * _SLOT.size, h, burst - 1.0, now)
        return 0.0

    def __len__(self):
        """The buckets in use (for tests and the curious: a scan of the whole table)."""
        return sum(1 for i in range(self.slots) if _SLOT.unpack_from(self.mem, i * _SLOT.size)[0])


def share(table: SharedTable | None) -> None:
    """The table this process's (and its future children's) limiters use (None: their own)."""
    global _current
    _current = table


def current() -> SharedTable | None:
    return _current
