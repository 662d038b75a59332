"""A/B of the per-code record layouts (store/lmdb/_codes.pyx) in one process, on one LMDB
file: format 2 (each scan summary under code key + 0x02 in `codes`, beside the code's
state) against format 3 (summaries in `seen` under the bare code key). Both sides hold
the same R state records (every other counter, 8 products) and see the same N scans
(10% no key, half of the rest hitting a record), visited in key order
(keyorder.visit_order): read_codes, record_scans in a transaction aborted, and
record_scans committed (fsync included: the dirty pages written), best of 3, the two
sides alternating. With --old, the format-2 side runs an older build of _codes (a copied
.so, which knows only format 2) instead of this build with seen_db=None. With --seen
both sides first record the scans once, committed, so recording updates summaries
(a code's later scans) instead of inserting them; without it the aborted rounds insert
and the committed rounds (after the first) update.

    python bench/ab_code_kernels.py 5e6 1e6 [--old /tmp/_codes_old.so] [--seen]
"""
import argparse
import importlib.util
import os
import shutil
import tempfile
import time

import lmdb
import numpy as np

from tracecode.store.lmdb import _codes as new
from tracecode.store.lmdb.codekeys import OUR_KEY, Keys
from tracecode.store.lmdb.keyorder import visit_order

ap = argparse.ArgumentParser()
ap.add_argument("records", type=float)
ap.add_argument("scans", type=float)
ap.add_argument("--old", help="an older build of _codes*.so for the format-2 side")
ap.add_argument("--seen", action="store_true", help="scan summaries exist: recording updates them")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--dir", default=tempfile.gettempdir())
a = ap.parse_args()
R, N = int(a.records), int(a.scans)
old = new
if a.old:
    spec = importlib.util.spec_from_file_location("_codes", a.old)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)

path = os.path.join(a.dir, f"ab-layouts-{R}")
shutil.rmtree(path, ignore_errors=True)   # the committed rounds change it: always fresh
env = lmdb.open(path, max_dbs=8, map_size=1 << 35, sync=True, metasync=True)
dbs = {"2": (env.open_db(b"codes2"), env.open_db(b"scans2"), None),
       "3": (env.open_db(b"codes3"), env.open_db(b"scans3"), env.open_db(b"seen3"))}
k = np.empty(R, [("pid", ">u4"), ("counter", ">u8"), ("kind", "u1")])
k["pid"], k["counter"], k["kind"] = 1 + np.arange(R) % 8, np.arange(R) // 8 * 2, 0
k.sort(order=["pid", "counter"])
state = bytes([1]) + bytes(8)
with env.begin(write=True) as txn:
    for codes, _, _ in dbs.values():
        txn.cursor(db=codes).putmulti(((k[i:i + 1].tobytes(), state) for i in range(R)), append=True)
rng = np.random.default_rng(1)
pick = rng.integers(0, R, N)
sel = np.empty(N, OUR_KEY)
sel["pid"], sel["counter"] = k["pid"][pick], k["counter"][pick] + rng.integers(0, 2, N)
keys = Keys(N, [(np.arange(N), sel.view(np.uint8).reshape(N, 12), np.where(rng.random(N) < 0.1, 0, 12))])
order = visit_order(keys)
mods = {"2": old, "3": new}
next_seq = {"2": 1, "3": 1}


def seen_kw(side):
    return {} if side == "2" else {"seen_db": dbs["3"][2]}


def read(side):
    codes = dbs[side][0]
    out = [np.zeros(N, t) for t in ("u1", "u8", "u4", "u1", "f8", "u8")]
    with env.begin() as txn:
        t = time.perf_counter()
        mods[side].read_codes(env, txn, codes, keys.buf, keys.off, 0, *out, order=order, **seen_kw(side))
        return time.perf_counter() - t, out


ARGS = (np.zeros(N, np.uint8), np.zeros(N, np.int32), np.frombuffer(b"sc\x00pl\x00", np.uint8),
        np.array([0, 6], np.int64), np.array([7], np.uint32), np.full(N, 1.7e9))


def record(side, commit):
    codes, scans, _ = dbs[side]
    txn = env.begin(write=True)
    t = time.perf_counter()
    try:
        mods[side].record_scans(env, txn, codes, scans, next_seq[side], keys.buf, keys.off, *ARGS,
                                order=order, **seen_kw(side))
        if commit:
            txn.commit()
            next_seq[side] += N
            return time.perf_counter() - t
        return time.perf_counter() - t
    finally:
        if not commit:
            txn.abort()   # the file stays as it was for the next round


if a.seen:
    for side in dbs:
        record(side, True)
for side in dbs:
    read(side)   # warm the page cache
res = {}
for _ in range(a.rounds):
    outs = {}
    for side in ("2", "3"):
        t, outs[side] = read(side)
        res.setdefault(("read", side), []).append(t)
    assert all((x == y).all() for x, y in zip(outs["2"], outs["3"]))
    for side in ("2", "3"):
        res.setdefault(("record", side), []).append(record(side, False))
    for side in ("2", "3"):
        res.setdefault(("record + commit", side), []).append(record(side, True))
with env.begin() as txn:
    pages = {side: sum(txn.stat(db)["leaf_pages"] for db in (dbs[side][0], dbs[side][2]) if db is not None)
             for side in dbs}
who = {"2": "format 2, " + ("old build" if a.old else "this build"), "3": "format 3, this build"}
for (what, side), v in res.items():
    print(f"R={R:.0e} N={N:.0e} {what:16s} {who[side]:24s} best {min(v) * 1e3:8.1f} ms "
          f"{N / min(v) / 1e6:6.2f} M/s")
for what in ("read", "record", "record + commit"):
    print(f"{what}: format 3 {min(res[(what, '2')]) / min(res[(what, '3')]):.2f}x format 2")
print(f"leaf pages of codes + seen: format 2 {pages['2']:,}, format 3 {pages['3']:,}")
env.close()
shutil.rmtree(path, ignore_errors=True)
