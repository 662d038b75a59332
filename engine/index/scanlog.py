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

Per code, a fixed-width "seen" record (count, first scan time and sequence,
up to MAX_PLACES place hashes) is updated with numpy over a whole chunk.
"""
from __future__ import annotations

import struct
import threading
import zlib

import numpy as np

from .batches import u64
from .env import run_write

MAX_PENDING = 4096
MAX_PLACES = 8          # distinct places remembered per code
SEEN_DTYPE = np.dtype([("count", "<u4"), ("first_time", "<f8"), ("first_seq", "<u8"),
                       ("n", "u1"), ("places", "<u4", (MAX_PLACES,))])  # index._SEEN mirrors it
_SCAN_HEAD = struct.Struct(">dHH")


def place_hash(place: str | None) -> int:
    return zlib.crc32(place.encode()) | 1 if place is not None else 0  # 0 means "no place"


def scan_prefix(scanner, place, when) -> bytes:
    """What the scans of one chunk share: time, then scanner and place (lengths first)."""
    s = (scanner or "").encode()
    p = (place or "").encode()
    return _SCAN_HEAD.pack(when, len(s), len(p)) + s + p


def unpack_scan(raw: bytes) -> dict:
    """A scan record: the chunk's prefix, then the verdict (one byte) and the code key."""
    when, ls, lp = _SCAN_HEAD.unpack_from(raw)
    at = _SCAN_HEAD.size
    return {"time": when, "scanner": raw[at:at + ls].decode() or None,
            "place": raw[at + ls:at + ls + lp].decode() or None,
            "verdict": raw[at + ls + lp], "key": raw[at + ls + lp + 1:]}


def read_seen(values) -> np.ndarray:
    """Seen records (bytes each) as a SEEN_DTYPE array."""
    return np.frombuffer(b"".join(values), SEEN_DTYPE)


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

    def add(self, keys, verdicts, scanner, place, when) -> None:
        """Queue one call's scans: code keys (None for unknown codes), verdicts (uint8)."""
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
            self.flush()

    def flush(self) -> int:
        """Commit the pending scans now; returns how many."""
        with self._lock:
            chunks, self._pending, n, self._count = self._pending, [], self._count, 0
        if chunks:
            run_write(self.index.env, lambda txn: self._write(txn, chunks))
        return n

    def _write(self, txn, chunks):
        """All pending chunks in one pass: the scan records appended, the per-code
        index, and the seen summaries (one sorted getmulti, numpy, one putmulti).
        Merging chunks keeps the cost per scan, not per verify call, so a stream of
        single-scan verifications never outruns the writer."""
        ix = self.index
        meta = ix.batches.meta
        raw = txn.get(b"next_scan", db=meta)
        first = int.from_bytes(raw, "big") if raw else 1
        keys, verdicts, which, prefixes, hashes, whens = [], [], [], [], [], []
        for c, (ks, vs, scanner, place, when) in enumerate(chunks):
            keys += ks
            verdicts.append(vs)
            which += [c] * len(ks)
            prefixes.append(scan_prefix(scanner, place, when))
            hashes.append(place_hash(place))
            whens.append(when)
        n = len(keys)
        seqs = [u64(q) for q in range(first, first + n)]
        tails = [bytes((v,)) for v in range(256)]
        verdicts = np.concatenate(verdicts).tolist()
        txn.cursor(db=ix.db_scans).putmulti(
            zip(seqs, [prefixes[c] + tails[v] + (k or b"") for c, v, k in zip(which, verdicts, keys)]),
            append=True)
        rows = [i for i, k in enumerate(keys) if k]
        if rows:
            self._index_scans(txn, [keys[i] for i in rows], [seqs[i] for i in rows],
                              first + np.array(rows, np.uint64),
                              np.array(hashes, np.uint32)[np.array(which)[rows]],
                              np.array(whens)[np.array(which)[rows]])
        txn.put(b"next_scan", u64(first + n), db=meta)

    def _index_scans(self, txn, keys, seq_bytes, seqs, hashes, whens):
        ix = self.index
        txn.cursor(db=ix.db_code_scans).putmulti(zip(keys, seq_bytes), dupdata=True)
        karr = np.array(keys, dtype="S")
        uniq, first, inverse, counts = np.unique(karr, return_index=True, return_inverse=True,
                                                 return_counts=True)
        inverse = inverse.ravel()
        ukeys = [keys[i] for i in first.tolist()]  # sorted, as LMDB orders them
        rec = np.zeros(len(ukeys), SEEN_DTYPE)
        rec["first_time"] = whens[first]
        rec["first_seq"] = seqs[first]
        found = txn.cursor(db=ix.db_seen).getmulti(ukeys)
        if found:
            fk, fv = zip(*found)
            rec[np.searchsorted(uniq, np.array(fk, dtype="S"))] = read_seen(fv)
        rec["count"] += counts.astype(np.uint32)
        for h in np.unique(hashes[hashes != 0]).tolist():  # usually one place per flush
            at = np.unique(inverse[hashes == h])
            add = at[~(rec["places"][at] == h).any(axis=1) & (rec["n"][at] < MAX_PLACES)]
            rec["places"][add, rec["n"][add]] = h
            rec["n"][add] += 1
        txn.cursor(db=ix.db_seen).putmulti(zip(ukeys, [r.tobytes() for r in rec]))

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
