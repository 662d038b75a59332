"""The export's reads of the LMDB store (the port's scans_since / events_since): the scan
log and the event log in seq order, a chunk at a time, one read transaction each.

A chunk's scans come back as columns: seq, time, verdict as numpy arrays, each row's source
as an index into the chunk's distinct sources (scanner, place, region, lat, lon: a call's
scans share one), and the code keys packed (codekeys.Keys). Parsing a source happens once
per distinct record prefix, not once per scan.
"""
from __future__ import annotations

import json

import numpy as np

from .batches import u64
from .codekeys import Keys
from .scanlog import VERDICT_BIAS, _SCAN_HEAD, record_source


def scans_since(store, after_seq: int, limit: int) -> dict:
    seqs, times, verdicts, srcs, keys = [], [], bytearray(), [], []
    sources: list = []
    ids: dict = {}
    with store.env.begin(buffers=False) as txn:
        cur = txn.cursor(db=store.db_scans)
        if cur.set_range(u64(after_seq + 1)):
            for k, raw in cur:
                # the source ends where record_source says; a call's scans share those bytes
                head = raw[8:12]
                ls, lp = int.from_bytes(head[:2], "big"), int.from_bytes(head[2:], "big")
                probe = raw[8:12 + ls + (lp & 0x7FFF) + (20 if lp & 0x8000 else 0)]
                sid = ids.get(probe)
                if sid is None:
                    scanner, place, region, lat, lon, _ = record_source(raw)
                    sid = ids[probe] = len(sources)
                    sources.append((scanner, place, region, lat, lon))
                at = 8 + len(probe)
                seqs.append(k)
                times.append(raw[:8])
                verdicts.append(raw[at])
                srcs.append(sid)
                keys.append(raw[at + 9:])
                if len(seqs) >= limit:
                    break
    n = len(seqs)
    return {"seq": np.frombuffer(b"".join(seqs), ">u8").astype(np.int64),
            "time": np.frombuffer(b"".join(times), ">f8").astype(np.float64),
            "verdict": (np.frombuffer(bytes(verdicts), np.uint8) + VERDICT_BIAS).astype(np.uint8),
            "source": np.fromiter(srcs, np.int32, n), "sources": sources, "keys": Keys.packed(keys)}


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
