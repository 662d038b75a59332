"""The scan log: append-only, group-committed.

Verification answers at once and hands its scans to this log, one chunk per
call (the codes, their verdicts, and the scanner, place and time they share);
a background thread commits whatever has gathered every `interval` seconds
(5 ms by default) in one write transaction, and a caller that finds
MAX_PENDING scans waiting commits them itself (backpressure). A crash (kill -9)
can therefore lose at most the scans of the last interval and never more than
2 x MAX_PENDING (those waiting plus those being written), never a committed
one and never a lifecycle event (those commit before they are acknowledged).
flush() and close() commit what is pending.

Writing is one C loop (_codes.record_scans) that runs without the GIL, so
the log commits on one core while verification goes on on another.
"""
from __future__ import annotations

import logging
import struct
import sys
import threading
import zlib

import numpy as np

from . import _codes
from .codekeys import Keys
from .env import run_write

MAX_PENDING = 4096
_log = logging.getLogger("tracecode.scanlog")
_SCAN_HEAD = struct.Struct(">dHH")


def place_hash(place: str | None) -> int:
    return zlib.crc32(place.encode()) | 1 if place is not None else 0  # 0 means "no place"


def scan_prefix(scanner, place, when) -> bytes:
    """What the scans of one chunk share: time, then scanner and place (lengths first)."""
    s = (scanner or "").encode()
    p = (place or "").encode()
    return _SCAN_HEAD.pack(when, len(s), len(p)) + s + p


def unpack_scan(raw: bytes) -> dict:
    """A scan record: the chunk's prefix, the verdict (u8), the seq of the code's
    previous scan (u64, machine order, 0: none) and the code key (empty: unknown code)."""
    when, ls, lp = _SCAN_HEAD.unpack_from(raw)
    at = _SCAN_HEAD.size + ls + lp
    return {"time": when, "scanner": raw[_SCAN_HEAD.size:_SCAN_HEAD.size + ls].decode() or None,
            "place": raw[_SCAN_HEAD.size + ls:at].decode() or None, "verdict": raw[at],
            "prev": int.from_bytes(raw[at + 1:at + 9], sys.byteorder), "key": raw[at + 9:]}


class ScanLog:
    def __init__(self, index, interval: float = 0.005):
        self.index = index
        self.interval = interval
        self._pending: list = []
        self._count = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = None

    def add(self, keys: Keys, verdicts, scanner, place, when) -> None:
        """Queue one call's scans: code keys (empty for unknown codes), verdicts (uint8)."""
        with self._lock:
            self._pending.append((keys, np.asarray(verdicts, np.uint8), scanner, place, when))
            self._count += len(keys)
            full = self._count >= MAX_PENDING
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="tracecode-scanlog",
                                                daemon=True)
                self._thread.start()
        if full:
            self.flush()

    def _run(self):
        while not self._stop:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the scans went back in the queue: say so, try again
                _log.exception("could not commit scans; retrying in %.3f s", self.interval)

    def flush(self) -> int:
        """Commit the pending scans now; returns how many."""
        with self._lock:
            chunks, self._pending, n, self._count = self._pending, [], self._count, 0
        if chunks:
            try:
                run_write(self.index.env, lambda txn: self._write(txn, chunks))
            except BaseException:
                with self._lock:  # nothing was committed: the next flush takes them again
                    self._pending[:0] = chunks
                    self._count += n
                raise
        return n

    def _write(self, txn, chunks):
        """All pending chunks in one C loop: the scan records appended and each
        code's Seen record updated (count, first scan, last scan, places)."""
        ix = self.index
        meta = ix.batches.meta
        raw = txn.get(b"next_scan", db=meta)
        first = int.from_bytes(raw, "big") if raw else 1
        keys = Keys.concat([c[0] for c in chunks])
        verdicts = np.concatenate([c[1] for c in chunks])
        which = np.repeat(np.arange(len(chunks), dtype=np.int32), [len(c[1]) for c in chunks])
        prefixes = [scan_prefix(scanner, place, when) for _, _, scanner, place, when in chunks]
        prefix_off = np.cumsum([0] + [len(p) for p in prefixes]).astype(np.int64)
        _codes.record_scans(ix.env, txn, ix.db_codes, ix.db_scans, first, keys.buf, keys.off,
                            verdicts, which, np.frombuffer(b"".join(prefixes), np.uint8), prefix_off,
                            np.array([place_hash(c[3]) for c in chunks], np.uint32),
                            np.array([c[4] for c in chunks], np.float64))
        txn.put(b"next_scan", (first + len(verdicts)).to_bytes(8, "big"), db=meta)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
