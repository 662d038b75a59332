"""Scan summaries in a table of their own (record format 3): an index of format 2 (each
summary under code key + 0x02 in `codes`) is moved on its first writable open, answers the
same after, refuses politely when read-only, and survives a kill -9 during the move."""
import random
import signal
import subprocess
import sys
import time

import lmdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracecode
from tracecode.index import Verdict
from tracecode.store.lmdb import _codes, seentable

DRUG = "cn-drug-20"
KIND = _codes.SEEN   # format 2's kind byte of a summary under its code key


def build(path, n=2_000, scanned=1_200):
    """A data directory with n codes, half commissioned, `scanned` of them scanned (some
    twice, at two places); returns the codes and what verification and history say."""
    d = tracecode.init(path)
    b = d.issue(DRUG, d.scheme(DRUG).example_product(), n, lot="L1", expiry="20301231")
    codes = [c.decode() for c in b.codes()]
    assert d.apply([{"id": "c", "action": "commission", "codes": codes[: n // 2]}])[0]["ok"]
    d.verify_many(codes[:scanned], place="first")
    d.verify_many(codes[: scanned // 3], place="second")
    d.verify(codes[-1], place="third")   # a code never commissioned, scanned once
    d.close()
    return codes, answers(path, codes)


def answers(path, codes):
    with tracecode.open(path) as d:
        got = [(a.verdict, a.scan_count, a.first_scan_place, a.first_scan_time)
               for a in d.verify_many(codes, record=False)]
        return got, [d.history(c) for c in (codes[0], codes[len(codes) // 2 - 1], codes[-1])]


def to_format_2(path) -> int:
    """Rewrite the index as format 2 wrote it: every summary back under code key + 0x02
    in codes, no seen table, the stamp 2. Returns the summaries moved."""
    env = lmdb.open(str(path / "index"), max_dbs=64, map_size=1 << 30)
    meta, codes, seen = env.open_db(b"meta"), env.open_db(b"codes"), env.open_db(b"seen")
    with env.begin(write=True) as txn:
        rows = list(txn.cursor(db=seen))
        txn.cursor(db=codes).putmulti([(k + KIND, v) for k, v in rows])
        txn.drop(seen, delete=True)
        txn.put(b"format", b"2", db=meta)
    env.close()
    return len(rows)


def layout(path):
    """(format, summaries in codes, entries in seen or None when it has no such table)."""
    env = lmdb.open(str(path / "index"), max_dbs=64, readonly=True, lock=False)
    meta, codes = env.open_db(b"meta", create=False), env.open_db(b"codes", create=False)
    try:
        seen = env.open_db(b"seen", create=False)
    except lmdb.NotFoundError:
        seen = None
    with env.begin() as txn:
        fmt = txn.get(b"format", db=meta)
        inline = sum(1 for k, _ in txn.cursor(db=codes) if k[-1:] == KIND)
        entries = None if seen is None else txn.stat(seen)["entries"]
    env.close()
    return fmt, inline, entries


def test_a_new_index_keeps_its_summaries_in_their_own_table(tmp_path):
    codes, (verdicts, _) = build(tmp_path / "d")
    scanned = sum(1 for v in verdicts if v[1] > 1)   # the count includes this scan
    assert scanned == 1_201
    assert layout(tmp_path / "d") == (b"3", 0, scanned)


def test_a_format_2_index_is_moved_on_open_and_answers_the_same(tmp_path):
    path = tmp_path / "d"
    codes, before = build(path)
    assert to_format_2(path) == 1_201
    assert layout(path) == (b"2", 1_201, None)
    assert answers(path, codes) == before          # the first open moved them
    assert layout(path) == (b"3", 0, 1_201)
    with tracecode.open(path) as d:                 # recording goes on where format 2 left it
        a = d.verify(codes[0], place="fourth")
        assert (a.verdict, a.scan_count, a.first_scan_place) == (Verdict.GENUINE, 3, "first")
    with tracecode.open(path) as d:
        assert [e["place"] for e in d.history(codes[0]) if e["kind"] == "scan"] == ["first", "second", "fourth"]


def test_the_old_layouts_kernels_read_and_write_what_format_2_holds(tmp_path):
    """seen_db=None is format 2's layout: the kernels read a moved-back index as the new
    ones read the moved one, and write the same summary bytes."""
    path = tmp_path / "d"
    codes, _ = build(path, n=400, scanned=300)
    keys = np.zeros(12 * 5, np.uint8)
    with tracecode.open(path) as d:
        st = d.index.store
        with st.env.begin() as txn:
            new = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=st.db_seen)][:5]
    assert len(new) == 5
    for i, (k, _) in enumerate(new):
        keys[12 * i:12 * i + 12] = np.frombuffer(k, np.uint8)
    off = np.arange(0, 61, 12, dtype=np.int64)

    def read(seen_db, env, db_codes):
        out = [np.zeros(5, t) for t in ("u1", "u8", "u4", "u1", "f8", "u8")]
        with env.begin() as txn:
            _codes.read_codes(env, txn, db_codes, keys, off, 0, *out, seen_db=seen_db)
            one = [_codes.read_code(env, txn, db_codes, k, 0, seen_db) for k, _ in new]
        return [o.tolist() for o in out], one

    env = lmdb.open(str(path / "index"), max_dbs=64)
    db_codes, db_seen = env.open_db(b"codes"), env.open_db(b"seen")
    moved = read(db_seen, env, db_codes)
    env.close()
    to_format_2(path)
    env = lmdb.open(str(path / "index"), max_dbs=64)
    db_codes, db_scans = env.open_db(b"codes"), env.open_db(b"scans")
    assert read(None, env, db_codes) == moved
    assert moved[0][2] == [2, 2, 2, 2, 2]   # the batch's first codes: scanned at two places
    # one more scan of each, written by both layouts' writers: the same summary bytes
    args = (np.zeros(5, np.uint8), np.zeros(5, np.int32), np.frombuffer(b"s\x00p\x00", np.uint8),
            np.array([0, 4], np.int64), np.array([9], np.uint32), np.full(5, 1.8e9))
    with env.begin(write=True) as txn:
        _codes.record_scans(env, txn, db_codes, db_scans, 10**6, keys, off, *args)
        inline = [txn.get(k + KIND, db=db_codes) for k, _ in new]
        txn.abort()
    db_seen = env.open_db(b"seen")
    with env.begin(write=True) as txn:
        txn.cursor(db=db_seen).putmulti(new)
        _codes.record_scans(env, txn, db_codes, db_scans, 10**6, keys, off, *args, seen_db=db_seen)
        table = [txn.get(k, db=db_seen) for k, _ in new]
        txn.abort()
    env.close()
    assert inline == table and all(len(v) == seentable.SEEN_SIZE for v in table)
    assert all(a != b for a, (_, b) in zip(table, new))   # the count and last seq moved on


def test_a_read_only_format_2_index_is_refused_with_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "d"
    build(path, n=100, scanned=10)
    to_format_2(path)
    monkeypatch.setattr(tracecode.DataDir, "readonly", property(lambda self: True))
    with pytest.raises(tracecode.TracecodeError, match="format 2 and is read-only: open it writable once"):
        tracecode.open(path).index
    assert layout(path)[:2] == (b"2", 11)


def test_summaries_of_the_wrong_size_refuse_the_move_and_are_kept(tmp_path):
    """A code key + 0x02 record that is no SEEN_SIZE summary: the upgrade is refused with
    how many and their sizes, and nothing is changed (format 2, every record as it was)."""
    path = tmp_path / "d"
    build(path, n=100, scanned=10)
    to_format_2(path)
    env = lmdb.open(str(path / "index"), max_dbs=64, map_size=1 << 30)
    codes_db = env.open_db(b"codes")
    with env.begin(write=True) as txn:
        keys = [k for k, _ in txn.cursor(db=codes_db) if k[-1:] == KIND]
        txn.put(keys[3], b"\x01" * 7, db=codes_db)          # two cut short, one too long
        txn.put(keys[7], b"\x02" * 7, db=codes_db)
        txn.put(keys[9], bytes(seentable.SEEN_SIZE + 1), db=codes_db)
        before = dict(txn.cursor(db=codes_db))
    env.close()
    for _ in range(2):                                       # refused again on the next open
        with pytest.raises(seentable.SummaryDamaged, match=r"3 code key \+ 0x02 records .*"
                           rf"\(2 of 7 bytes, 1 of {seentable.SEEN_SIZE + 1} bytes\); nothing was changed"):
            tracecode.open(path).index
    assert layout(path)[:2] == (b"2", 11) and layout(path)[2] in (None, 0)
    env = lmdb.open(str(path / "index"), max_dbs=64, readonly=True, lock=False)
    codes_db = env.open_db(b"codes", create=False)
    with env.begin() as txn:
        assert dict(txn.cursor(db=codes_db)) == before
    env.close()
    assert issubclass(seentable.SummaryDamaged, tracecode.TracecodeError)


MOVER = """
import sys, tracecode
print("opening", flush=True)
tracecode.open(sys.argv[1]).index
print("moved", flush=True)
"""


def test_a_move_killed_part_way_leaves_format_2_whole(tmp_path):
    """kill -9 at a random moment of the first open: the index is format 2 or 3 whole,
    never half moved, and answers the same once opened."""
    path = tmp_path / "d"
    codes, before = build(path, n=20_000, scanned=15_000)
    rng = random.Random(12)
    for _ in range(3):
        to_format_2(path)
        p = subprocess.Popen([sys.executable, "-c", MOVER, str(path)], stdout=subprocess.PIPE)
        assert p.stdout.readline() == b"opening\n"
        time.sleep(rng.uniform(0.0, 0.4))
        p.send_signal(signal.SIGKILL)
        p.wait()
        fmt, inline, entries = layout(path)
        assert (fmt, inline, entries) in ((b"2", 15_001, None), (b"2", 15_001, 0), (b"3", 0, 15_001))
        assert answers(path, codes) == before
        assert layout(path) == (b"3", 0, 15_001)


def _kernel_env(tmp_path):
    env = lmdb.open(str(tmp_path / "k"), max_dbs=4, map_size=1 << 26)
    return env, env.open_db(b"codes"), env.open_db(b"seen")


# short keys of three bytes >= 0x20 (no code key holds a lower one): many neighbours,
# prefixes of each other, repeats
_key = st.binary(min_size=1, max_size=6).map(lambda b: bytes(0x20 + x % 3 for x in b))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.sets(_key, max_size=30), states=st.sets(_key, max_size=30),
       probes=st.lists(_key, max_size=60), sort=st.booleans())
def test_summaries_read_as_a_merge_join_match_one_lookup_each(tmp_path, stored, states, probes, sort):
    """read_codes walks `seen` forward, skipping what lies between: the same summaries as
    one read_code per key, whatever the order and repeats of the keys asked for."""
    env, codes, seen = _kernel_env(tmp_path)
    with env.begin(write=True) as txn:
        txn.drop(codes, delete=False)
        txn.drop(seen, delete=False)
        for k in states:
            txn.put(k + _codes.STATE, bytes([1]) + len(k).to_bytes(8, "little"), db=codes)
        for i, k in enumerate(sorted(stored)):
            summary = (i + 1).to_bytes(4, "little") + bytes(1) + bytes(8) + (i + 7).to_bytes(8, "little")
            txn.put(k, summary + bytes(seentable.SEEN_SIZE - len(summary)), db=seen)
    buf = np.frombuffer(b"".join(probes), np.uint8) if probes else np.zeros(0, np.uint8)
    off = np.cumsum([0] + [len(p) for p in probes]).astype(np.int64)
    n = len(probes)
    out = [np.zeros(n, t) for t in ("u1", "u8", "u4", "u1", "f8", "u8")]
    order = np.array(sorted(range(n), key=lambda i: (probes[i], i)), np.int64) if sort else None
    with env.begin() as txn:
        _codes.read_codes(env, txn, codes, np.ascontiguousarray(buf), off, 0, *out, order=order,
                          seen_db=seen)
        one = [_codes.read_code(env, txn, codes, p, 0, seen) for p in probes]
    env.close()
    assert out[0].tolist() == [o[0] for o in one]            # status
    assert out[2].tolist() == [o[2] for o in one]            # scan count
    assert out[5].tolist() == [o[5] for o in one]            # first seq
    assert [c for c in out[2].tolist() if c] == [sorted(stored).index(p) + 1 for p in probes if p in stored]
