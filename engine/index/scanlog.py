"""The scan log: append-only, group-committed.

Verification answers at once and hands its scans to this log; a background
thread commits whatever has gathered every `interval` seconds (5 ms by default)
in one write transaction, or at once when MAX_PENDING scans wait. A crash
(kill -9) can therefore lose at most the scans of the last interval plus
MAX_PENDING, never a committed one and never a lifecycle event (those commit
before they are acknowledged). flush() and close() commit what is pending.
"""
from __future__ import annotations

import json
import struct
import threading
import zlib

from .batches import u64
from .env import run_write

MAX_PENDING = 50_000
MAX_PLACES = 8          # distinct places remembered per code
# seen record: scan count, first scan time, number of place hashes, the hashes,
# then the first scan's place (UTF-8)
_SEEN_HEAD = struct.Struct(">IdB")


def pack_seen(count, places, first_time, first_place) -> bytes:
    places = sorted(places)
    return (_SEEN_HEAD.pack(count, first_time, len(places)) + struct.pack(f">{len(places)}I", *places)
            + (first_place or "").encode())


def unpack_seen(raw: bytes):
    count, first_time, n = _SEEN_HEAD.unpack_from(raw)
    places = set(struct.unpack_from(f">{n}I", raw, _SEEN_HEAD.size))
    first_place = raw[_SEEN_HEAD.size + 4 * n:].decode() or None
    return count, places, first_time, first_place


class ScanLog:
    def __init__(self, index, interval: float = 0.005):
        self.index = index
        self.interval = interval
        self._pending: list = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = None

    def add(self, items) -> None:
        """Queue (code key, scanner, place, time, verdict) tuples for the next commit."""
        with self._lock:
            self._pending.extend(items)
            full = len(self._pending) >= MAX_PENDING
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
            self.flush()

    def flush(self) -> int:
        """Commit the pending scans now; returns how many."""
        with self._lock:
            items, self._pending = self._pending, []
        if items:
            run_write(self.index.env, lambda txn: self._write(txn, items))
        return len(items)

    def _write(self, txn, items):
        ix = self.index
        meta = ix.batches.meta
        raw = txn.get(b"next_scan", db=meta)
        seq = int.from_bytes(raw, "big") if raw else 1
        scans = txn.cursor(db=ix.db_scans)
        for key, scanner, place, when, verdict in items:
            rec = {"k": key.decode("utf-8", "replace"), "t": when, "v": verdict}
            if scanner is not None:
                rec["s"] = scanner
            if place is not None:
                rec["p"] = place
            scans.put(u64(seq), json.dumps(rec, ensure_ascii=False).encode(), append=True)
            if key:
                txn.put(key, u64(seq), db=ix.db_code_scans, dupdata=True)
                self._seen(txn, key, when, place)
            seq += 1
        txn.put(b"next_scan", u64(seq), db=meta)

    def _seen(self, txn, key, when, place):
        raw = txn.get(key, db=self.index.db_seen)
        if raw is None:
            count, places, first_time, first_place = 0, set(), when, place
        else:
            count, places, first_time, first_place = unpack_seen(raw)
        if place is not None and len(places) < MAX_PLACES:
            places.add(zlib.crc32(place.encode()))
        txn.put(key, pack_seen(count + 1, places, first_time, first_place), db=self.index.db_seen)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
