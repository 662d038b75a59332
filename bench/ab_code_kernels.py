"""A/B of the per-code record kernels (store/lmdb/_codes.pyx) in one process, on one LMDB
file of R State records (every other counter, 8 products) and N scans (10% no key, half
of the rest hitting a record): read_codes and record_scans in row order against key
order (keyorder.visit_order, one cursor moving forward), best of 3. With --old, the
row-order side runs an older build of _codes (a copied .so) instead of this one; with
--both-ordered both sides visit in key order (an A/B of two builds, nothing else). With
--seen the file also holds a Seen record for every scanned code (recorded once, committed),
so recording updates summaries instead of inserting them (a code's later scans).

    python bench/ab_code_kernels.py 5e6 1e6 [--old /tmp/_codes_old.so [--both-ordered]] [--seen]
"""
import argparse
import importlib.util
import os
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
ap.add_argument("--old", help="an older build of _codes*.so for the row-order side")
ap.add_argument("--both-ordered", action="store_true", help="the old side in key order too")
ap.add_argument("--seen", action="store_true", help="scan summaries exist: recording updates them")
ap.add_argument("--dir", default=tempfile.gettempdir())
a = ap.parse_args()
R, N = int(a.records), int(a.scans)
old = new
if a.old:
    spec = importlib.util.spec_from_file_location("_codes", a.old)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)

path = os.path.join(a.dir, f"ab-code-kernels-{R}" + (f"-seen{N}" if a.seen else ""))
fresh = not os.path.exists(path)
env = lmdb.open(path, max_dbs=4, map_size=1 << 34, sync=False)
codes, scans = env.open_db(b"codes"), env.open_db(b"scans")
k = np.empty(R, [("pid", ">u4"), ("counter", ">u8"), ("kind", "u1")])
k["pid"], k["counter"], k["kind"] = 1 + np.arange(R) % 8, np.arange(R) // 8 * 2, 0
k.sort(order=["pid", "counter"])
if fresh:
    state = bytes([1]) + bytes(8)
    with env.begin(write=True) as txn:
        txn.cursor(db=codes).putmulti(((k[i:i + 1].tobytes(), state) for i in range(R)), append=True)
rng = np.random.default_rng(1)
pick = rng.integers(0, R, N)
sel = np.empty(N, OUR_KEY)
sel["pid"], sel["counter"] = k["pid"][pick], k["counter"][pick] + rng.integers(0, 2, N)
keys = Keys(N, [(np.arange(N), sel.view(np.uint8).reshape(N, 12), np.where(rng.random(N) < 0.1, 0, 12))])


def read(mod, ordered):
    out = [np.zeros(N, t) for t in ("u1", "u8", "u4", "u1", "f8", "u8")]
    with env.begin() as txn:
        t = time.perf_counter()
        extra = {"order": visit_order(keys)} if ordered else {}
        mod.read_codes(env, txn, codes, keys.buf, keys.off, 0, *out, **extra)
        return time.perf_counter() - t, out


def record(mod, ordered, commit=False):
    args = (np.zeros(N, np.uint8), np.zeros(N, np.int32), np.frombuffer(b"sc\x00pl\x00", np.uint8),
            np.array([0, 6], np.int64), np.array([7], np.uint32), np.full(N, 1.7e9))
    if commit:
        with env.begin(write=True) as txn:
            new.record_scans(env, txn, codes, scans, 1, keys.buf, keys.off, *args, order=visit_order(keys))
        return
    txn = env.begin(write=True)
    try:
        t = time.perf_counter()
        extra = {"order": visit_order(keys)} if ordered else {}
        first = N + 1 if a.seen else 1   # after the scans recorded once
        mod.record_scans(env, txn, codes, scans, first, keys.buf, keys.off, *args, **extra)
        return time.perf_counter() - t, sum(1 for _ in txn.cursor(db=scans))
    finally:
        txn.abort()  # the file stays as it was for the next round


if a.seen and fresh:
    record(new, True, commit=True)
row_side = a.both_ordered
read(old, row_side), read(new, True)  # warm the page cache
res = {k: [] for k in ("read, row order", "read, key order", "record, row order", "record, key order")}
for _ in range(3):
    (ta, oa), (tb, ob) = read(old, row_side), read(new, True)
    assert all((x == y).all() for x, y in zip(oa, ob))
    res["read, row order"].append(ta)
    res["read, key order"].append(tb)
    (ta, sa), (tb, sb) = record(old, row_side), record(new, True)
    assert sa == sb == N * (2 if a.seen else 1)
    res["record, row order"].append(ta)
    res["record, key order"].append(tb)
side = "old build" if a.old else "this build"
if row_side:
    res = {k.replace("row order", "old build"): v for k, v in res.items()}
for name, v in res.items():
    print(f"R={R:.0e} N={N:.0e} {name:18s} ({side if 'row' in name or 'old' in name else 'this build'}) "
          f"best {min(v) * 1e3:8.1f} ms {N / min(v) / 1e6:6.2f} M/s")
for what in ("read", "record"):
    a_side = what + (", old build" if row_side else ", row order")
    print(f"{what}: key order, this build {min(res[a_side]) / min(res[what + ', key order']):.2f}x")
env.close()
