"""Many codes are read and recorded in key order (store/lmdb/keyorder.py), one cursor
moving forward: the answers and the scan log are those of visiting them one by one."""
import random

import numpy as np
import pytest

import tracecode
from tracecode.store.lmdb.codekeys import Keys, ours
from tracecode.store.lmdb.keyorder import visit_order

T0 = 1_700_000_000.0


def _expected(keys):
    return [i for _, i in sorted((k, i) for i, k in enumerate(keys) if k)]


@pytest.mark.parametrize("spread", [10**6, 2**63])  # packed in 64 bits / too wide: lexsort
def test_visit_order_is_key_order_with_a_codes_scans_in_row_order(spread):
    rng = random.Random(spread)
    pool = [ours(rng.randrange(1, 50), rng.randrange(spread)) for _ in range(300)]
    keys = [rng.choice(pool) if rng.random() < 0.9 else b"" for _ in range(2000)]
    assert visit_order(Keys.packed(keys)).tolist() == _expected(keys)


def test_imported_codes_and_sscc_sort_after_ours():
    rng = random.Random(3)
    pool = ([ours(rng.randrange(1, 9), rng.randrange(10**9)) for _ in range(100)]
            + [b"ext\x00" + b"%010d" % rng.randrange(10**10) for _ in range(100)]
            + [b"sscc\x00" + b"%011d" % rng.randrange(10**11) for _ in range(50)])
    keys = [rng.choice(pool) if rng.random() < 0.95 else b"" for _ in range(3000)]
    assert visit_order(Keys.packed(keys)).tolist() == _expected(keys)


def test_small_calls_keep_row_order():
    keys = [ours(1, 5), b"", ours(1, 2)]
    assert visit_order(Keys.packed(keys)).tolist() == [0, 2]


def test_many_scans_in_one_commit_chain_and_count_as_one_by_one(tmp_path):
    d = tracecode.init(tmp_path / "data")
    try:
        codes = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "8177322"}, 400).codes()]
        commissioned = codes[:300]
        assert all(r["ok"] for r in d.apply([{"id": "c", "action": "commission",
                                              "codes": commissioned}]))
        d.index.log.flush()
        rng = random.Random(11)
        calls, scans = [], []
        for k in range(6):  # one commit: repeated codes within a call and across calls
            batch = [rng.choice(codes[:60]) if rng.random() < 0.8 else rng.choice(codes)
                     for _ in range(250)] + ["junk-%d" % k]
            rng.shuffle(batch)
            calls.append(batch)
            scans += [(c, T0 + 100 + k, "P%d" % (k % 4)) for c in batch]
        for k, batch in enumerate(calls):
            d.verify_many(batch, place="P%d" % (k % 4), when=T0 + 100 + k)
        d.index.log.flush()
        base = min(h["scan"] for h in d.history(scans[0][0]) if h["kind"] == "scan")
        base -= next(i for i, s in enumerate(scans) if s[0] == scans[0][0])
        for code in set(codes[:60]) | set(rng.sample(codes, 30)):
            mine = [i for i, s in enumerate(scans) if s[0] == code]
            chain = [h for h in d.history(code) if h["kind"] == "scan"]
            assert sorted(h["scan"] - base for h in chain) == mine
            assert [h["time"] for h in chain] == [scans[i][1] for i in mine]
            a = d.verify(code, record=False)
            assert a.scan_count == len(mine) + 1  # this scan too, as one by one
            if mine:
                assert (a.first_scan_time, a.first_scan_place) == scans[mine[0]][1:]
        got = d.verify_many(codes, record=False)
        one = [d.verify(c, record=False) for c in codes]
        assert [(a.verdict, a.scan_count, a.first_scan_time) for a in got] == \
               [(a.verdict, a.scan_count, a.first_scan_time) for a in one]
        assert np.sum([a.scan_count for a in got]) == len(codes) + sum(1 for s in scans if s[0] in set(codes))
    finally:
        d.close()
