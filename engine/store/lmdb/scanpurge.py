"""Removing scans from the scan log: one scanner's (PIPL: an operator purges a person's
data on request), or all those before a date (a retention period applied).

A scan record names its scanner and the previous scan of the same code (scanlog.py), and
each code's Seen record (_codes.pyx; in the table `seen`, seentable.py) keeps its scan
count, first scan (time, seq), last scan seq and the distinct places scanned at. Purging
a scanner deletes its scan records and, for every code it scanned, relinks the code's
remaining scans (each names the one before it that is kept), and recomputes the Seen
record from them: count, first and last scan, places (the first MAX_PLACES distinct
ones, oldest first, as recording keeps them); a code left with no scan loses its Seen
record. One write transaction: all or nothing.

Python, not a kernel: a rare operator action, one pass over the scan log; the scan
kernels stay as they are.
"""
from __future__ import annotations

import struct
import sys

from ..port import PUBLIC_SCANNER
from . import _codes, publicq
from .batches import u64
from .scanlog import _SCAN_HEAD, place_hash, record_source

_SEEN = struct.Struct("=IBdQQ%dI" % _codes.MAX_PLACES)   # _codes.Seen, packed, machine order
_HEAD = _SCAN_HEAD.size


def _scanner_is(raw: bytes, name: bytes) -> bool:
    ls = int.from_bytes(raw[8:10], "big")
    return ls == len(name) and raw[_HEAD:_HEAD + ls] == name


def _prev_at(raw: bytes) -> int:
    """Offset of a scan record's previous-scan seq (after time, source, verdict)."""
    return record_source(raw)[5] + 1


def _place(raw: bytes) -> str | None:
    return record_source(raw)[1]


def purge(store, txn, scanner: str, *, write: bool = True) -> dict:
    """Delete `scanner`'s scans in `txn` (count them only when not `write`):
    {"scans": removed, "codes": codes whose summary changed}."""
    name = scanner.encode()
    return _purge(store, txn, lambda raw: _scanner_is(raw, name), write)


def purge_before(store, txn, when: float, *, write: bool = True) -> dict:
    """Delete every scan recorded before `when` (a Unix time), the public window's queries
    among them (their by-code entries too): a retention period applied."""
    return _purge(store, txn, lambda raw: _SCAN_HEAD.unpack_from(raw)[0] < when, write)


def _purge(store, txn, match, write: bool) -> dict:
    db_scans, db_seen = store.db_scans, store.db_seen
    public = PUBLIC_SCANNER.encode()
    db_public = getattr(store, "db_public_queries", None)
    doomed, codes, queries = [], set(), []
    for k, raw in txn.cursor(db=db_scans):
        if match(raw):
            doomed.append(k)
            key = raw[_prev_at(raw) + 8:]
            if key:
                codes.add(key)
                if db_public is not None and _scanner_is(raw, public):
                    queries.append(publicq.prefix(key) + publicq._TAIL.pack(_SCAN_HEAD.unpack_from(raw)[0],
                                                                             int.from_bytes(k, "big")))
    if not write:
        return {"scans": len(doomed), "codes": len(codes)}
    for key in sorted(codes):
        _resummarise(txn, db_scans, db_seen, key, match)
    for k in doomed:
        txn.delete(k, db=db_scans)
    for k in queries:
        txn.delete(k, db=db_public)
    return {"scans": len(doomed), "codes": len(codes)}


def _resummarise(txn, db_scans, db_seen, key: bytes, match) -> None:
    seen_key = key   # the summaries' own table (seentable.py), under the bare code key
    raw = txn.get(seen_key, db=db_seen)
    if raw is None or len(raw) != _SEEN.size:
        return
    count, _, _, _, last_seq, *_ = _SEEN.unpack(raw)
    chain, seq = [], last_seq            # newest first
    while seq:
        rec = txn.get(u64(seq), db=db_scans)
        if rec is None:
            break
        chain.append((seq, rec))
        seq = int.from_bytes(rec[_prev_at(rec):_prev_at(rec) + 8], sys.byteorder)
    keep = [(s, r) for s, r in chain if not match(r)]
    if not keep:
        txn.delete(seen_key, db=db_seen)
        return
    for i, (s, r) in enumerate(keep):   # each kept scan names the kept one before it
        want = keep[i + 1][0] if i + 1 < len(keep) else 0
        at = _prev_at(r)
        if int.from_bytes(r[at:at + 8], sys.byteorder) != want:
            txn.put(u64(s), r[:at] + want.to_bytes(8, sys.byteorder) + r[at + 8:], db=db_scans)
    places: list[int] = []
    for _, r in reversed(keep):          # oldest first, as recording adds them
        h = place_hash(_place(r))
        if h and h not in places and len(places) < _codes.MAX_PLACES:
            places.append(h)
    oldest = keep[-1]
    removed = len(chain) - len(keep)
    summary = _SEEN.pack(max(count - removed, len(keep)), len(places), _SCAN_HEAD.unpack_from(oldest[1])[0],
                         oldest[0], keep[0][0], *(places + [0] * (_codes.MAX_PLACES - len(places))))
    txn.put(seen_key, summary, db=db_seen)
