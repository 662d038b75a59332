"""The export's reads of the LMDB store (the port's scans_since / events_since): the scan
log and the event log in seq order, a chunk at a time, one read transaction each.

A chunk's scans come back as columns: seq, time, verdict as numpy arrays, each row's source
as an index into the chunk's distinct sources (scanner, place, region, lat, lon: a call's
scans share one), and the code keys packed (codekeys.Keys). The records are joined into one
buffer and their fields gathered by numpy at computed offsets; a source is parsed once per
distinct source, not once per scan.
"""
from __future__ import annotations

import json
from itertools import islice

import numpy as np

from .batches import u64
from .codekeys import Keys
from .scanlog import VERDICT_BIAS, _SCAN_HEAD, record_source


def scans_since(store, after_seq: int, limit: int) -> dict:
    with store.env.begin(buffers=False) as txn:
        cur = txn.cursor(db=store.db_scans)
        items = list(islice(cur.iternext(), limit)) if cur.set_range(u64(after_seq + 1)) else []
    # the chunk's records joined in one buffer; each field read at its offsets by numpy
    ks, vs = zip(*items) if items else ((), ())
    n = len(vs)
    lens = np.fromiter(map(len, vs), np.int64, n)
    start = np.zeros(n, np.int64)
    np.cumsum(lens[:-1], out=start[1:])
    buf = np.frombuffer(b"".join(vs), np.uint8)
    time = np.ascontiguousarray(buf[start[:, None] + np.arange(8)]).view(">f8").ravel()
    ls = buf[start + 8].astype(np.int64) << 8 | buf[start + 9]
    lp = buf[start + 10].astype(np.int64) << 8 | buf[start + 11]
    src_len = 4 + ls + (lp & 0x7FFF) + np.where(lp & 0x8000, 20, 0)   # record_source's bytes
    at = start + 8 + src_len
    source, sources = _sources(vs, buf, start + 8, src_len)
    key_at, key_len = at + 9, start + lens - (at + 9)
    keys = Keys.__new__(Keys)
    keys.off = np.zeros(n + 1, np.int64)
    np.cumsum(key_len, out=keys.off[1:])
    keys.buf = buf[np.arange(keys.off[-1]) + np.repeat(key_at - keys.off[:-1], key_len)]
    return {"seq": np.frombuffer(b"".join(ks), ">u8").astype(np.int64),
            "time": time.astype(np.float64),
            "verdict": (buf[at] + VERDICT_BIAS).astype(np.uint8),
            "source": source, "sources": sources, "keys": keys}


def _sources(vs, buf, at, length, widest: int = 512):
    """Each row's index into the chunk's distinct sources (a call's scans share one): the
    source bytes compared as fixed-width rows by numpy, each distinct one parsed once."""
    n = len(vs)
    if not n:
        return np.zeros(0, np.int32), []
    width = int(length.max())
    if width > widest:   # an odd long source: compared as bytes, row by row
        probes = [vs[i][8:8 + int(length[i])] for i in range(n)]
        ids: dict = {}
        source = np.fromiter((ids.setdefault(p, len(ids)) for p in probes), np.int32, n)
        first = np.zeros(len(ids), np.int64)
        first[source[::-1]] = np.arange(n - 1, -1, -1)
    else:
        cols = np.arange(width)
        rows = np.where(cols < length[:, None], buf[np.minimum(at[:, None] + cols, len(buf) - 1)],
                        np.uint8(0))
        # a call's scans are consecutive: only the rows where the source changes are looked up
        change = np.ones(n, bool)
        change[1:] = (rows[1:] != rows[:-1]).any(axis=1)
        heads = np.flatnonzero(change)
        ids: dict = {}
        head_ids = np.fromiter((ids.setdefault(rows[h].tobytes(), len(ids)) for h in heads), np.int32, len(heads))
        source = head_ids[np.cumsum(change) - 1]
        first = np.zeros(len(ids), np.int64)
        first[head_ids[::-1]] = heads[::-1]
    return source, [record_source(vs[int(i)])[:5] for i in first]


def events_since(store, after_seq: int, limit: int) -> list:
    out = []
    with store.env.begin() as txn:
        cur = txn.cursor(db=store.db_events)
        if cur.set_range(u64(after_seq + 1)):
            for _, raw in cur:
                out.append(json.loads(bytes(raw)))
                if len(out) >= limit:
                    break
    return out


def last_seqs(store) -> tuple[int, int]:
    """(the last scan seq, the last event seq) ever given, purged or not; 0 when none."""
    meta = store.batches.meta
    with store.env.begin() as txn:
        got = [txn.get(name, db=meta) for name in (b"next_scan", b"next_event")]
    return tuple(int.from_bytes(raw, "big") - 1 if raw else 0 for raw in got)


assert _SCAN_HEAD.size == 12   # time (8) + the source's lengths (4), as read above
