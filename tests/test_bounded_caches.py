"""Junk scans cannot grow the process: every cache is bounded, and a product the index
never issued is answered UNKNOWN without building its Issuer (no FF1)."""
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tracecode
from tracecode import checks, schemes
from tracecode.cache import BoundedCache
from tracecode.index import Verdict
from tracecode.scan import Fault, ScanParser

DRUG = {"drug_id": "8177322"}


def _junk_drug_codes(n, seed=1, first=1_000_000):
    """Well-formed cn-drug-20 codes (valid Damm digit) of n distinct never-issued products."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = f"{first + i:07d}{rng.randrange(10**12):012d}"
        out.append(body + checks.DAMM.calc(body))
    return out


def test_bounded_cache_evicts_the_least_recently_used():
    c = BoundedCache(3)
    for k in "abc":
        c[k] = k.upper()
    assert c.get("a") == "A"       # a is now the most recent
    c["d"] = "D"
    assert "b" not in c and len(c) == 3 and c["a"] == "A" and c.get("zz", 0) == 0
    with pytest.raises(ValueError):
        BoundedCache(0)


def test_never_issued_products_build_no_issuer(tmp_path):
    with tracecode.init(tmp_path / "d") as d:
        batch = d.issue("cn-drug-20", DRUG, 1000)
        genuine = [c.decode() for c in batch.codes()[:10]]
        d.apply([{"id": "c1", "action": "commission", "codes": genuine}])
        parser = d.index.parser
        issuers = len(parser._issuers)
        junk = _junk_drug_codes(3000)
        out = d.verify_many(junk + genuine, record=False)
        assert (out.verdicts[:3000] == Verdict.UNKNOWN).all()
        assert (out.verdicts[3000:] == Verdict.GENUINE).all()
        assert not out.found[:3000].any() and not out.parsed.counter_ok[:3000].any()
        for code in junk[:500]:
            a = d.verify(code, record=False)
            assert a.verdict == Verdict.UNKNOWN and a.fault is None and a.reasons == ["never issued"]
        assert d.verify(genuine[0], record=False).verdict == Verdict.GENUINE
        assert len(parser._issuers) == issuers   # no Issuer was built for a made-up product
        assert len(parser._products) <= 2        # and single junk scans were not remembered


def test_field_faults_of_never_issued_products_are_still_reported(tmp_path):
    """The rules of product fields (a date, a GTIN's check digit) run in bulk, not per product."""
    with tracecode.init(tmp_path / "d") as d:
        vet = schemes.get("cn-vet-24")
        bad_dates = [f"2014{m:02d}{day:02d}" for m, day in ((2, 30), (13, 1), (4, 31), (0, 10))]
        codes = []
        for i, date in enumerate(bad_dates + ["20140327", "20000229"]):
            body = f"{date}{i:05d}{i:010d}"
            codes.append(body + checks.DAMM.calc(body))
        out = d.verify_many(codes, record=False)
        faults = out.parsed.records["fault"].tolist()
        assert faults == [Fault.INVALID_FIELD] * 4 + [Fault.OK, Fault.OK]
        assert all(vet.code_fields[f].name == "date" for f in out.parsed.records["field"][:4])
        assert (out.verdicts == Verdict.UNKNOWN).all()
        one = d.verify(codes[0], record=False)
        assert one.fault == "INVALID_FIELD"


_RULED = [s for s in ("cn-vet-24", "cn-pesticide-32", "gs1-sgtin")]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_RULED), st.data())
def test_bulk_product_rules_agree_with_product_values(name, data):
    scheme = schemes.get(name)
    parser = ScanParser()
    rows = data.draw(st.lists(st.tuples(*[
        st.text(st.sampled_from(f.alphabet), min_size=f.length, max_size=f.length)
        for f in scheme.product_fields]), min_size=1, max_size=30))
    prod = np.frombuffer("".join("".join(r) for r in rows).encode(), np.uint8).reshape(len(rows), -1)
    faults = scheme.product_faults(prod)
    for r, fault in zip(rows, faults.tolist()):
        got = parser._product(scheme, "".join(r).encode(), remember=False)
        want = scheme.code_fields.index(scheme.field(got.field)) if hasattr(got, "fault") else -1
        assert fault == want, (r, got)


ISSUE_ELSEWHERE = textwrap.dedent("""
    import sys, tracecode
    with tracecode.open(sys.argv[1]) as d:
        b = d.issue("cn-drug-20", {"drug_id": sys.argv[2]}, 10)
        print(b.codes()[3].decode())
""")


def test_a_product_issued_by_another_process_is_seen(tmp_path):
    """The set of issued products follows the index, not this process's own issuance."""
    with tracecode.init(tmp_path / "d") as d:
        d.issue("cn-drug-20", DRUG, 10)
        assert d.verify(_junk_drug_codes(1, first=1234567)[0], record=False).verdict == Verdict.UNKNOWN
        for drug_id in ("1234567", "7654321"):
            code = subprocess.run([sys.executable, "-c", ISSUE_ELSEWHERE, str(tmp_path / "d"), drug_id],
                                  capture_output=True, text=True, timeout=120, check=True).stdout.strip()
            assert d.verify(code, record=False).verdict == Verdict.NOT_COMMISSIONED
            assert d.verify_many([code], record=False).verdicts[0] == Verdict.NOT_COMMISSIONED


MEMORY_CHILD = textwrap.dedent("""
    import random, sys
    import tracecode
    from tracecode import checks

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def junk(n, first):
        rng = random.Random(first)
        out = []
        for i in range(n):
            body = f"{first + i:07d}{rng.randrange(10**12):012d}"
            out.append(body + checks.DAMM.calc(body))
        return out

    d = tracecode.init(sys.argv[1])
    b = d.issue("cn-drug-20", {"drug_id": "8177322"}, 100_000)
    genuine = [c.decode() for c in b.codes()[:2000]]
    d.verify_many(genuine, record=False)
    for c in genuine[:200]:
        d.verify(c, record=False)
    d.verify_many(junk(2000, 3_000_000), record=False)   # the bulk path's buffers, once
    for c in junk(200, 4_000_000):
        d.verify(c, record=False)
    codes = junk(20_000, 1_000_000)
    before = resident()
    for i in range(0, len(codes), 1000):                # as a server sees them: many calls
        d.verify_many(codes[i:i + 1000], record=False)
    for c in codes:
        d.verify(c, record=False)
    print(resident() - before)
""")


def test_twenty_thousand_never_issued_products_do_not_grow_the_process(tmp_path):
    """Measured in a child process, so nothing else of the test run counts. The index
    used to keep an Issuer (key schedule and ~512 KB of FF1 scratch) per product."""
    run = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    grown = int(run.stdout.split()[-1])
    assert grown < 8 * 2**20, f"20,000 never-issued products grew the process by {grown / 2**20:.1f} MB"


def test_verdicts_stay_right_when_every_cache_evicts(tmp_path, monkeypatch):
    """Caches of two entries against six products: each lookup may miss, none may lie."""
    from tracecode.index import index as index_mod
    from tracecode.store.lmdb import batches as batches_mod
    from tracecode.scan import parser as parser_mod
    for mod, name in ((batches_mod, "PRODUCT_ID_CACHE"), (index_mod, "TABLE_CACHE"),
                      (index_mod, "BATCH_CACHE"), (parser_mod, "ISSUER_CACHE"),
                      (parser_mod, "PRODUCT_CACHE")):
        monkeypatch.setattr(mod, name, 2)
    with tracecode.init(tmp_path / "d") as d:
        codes = []
        for k in range(6):
            b = d.issue("cn-drug-20", {"drug_id": f"{8177300 + k}"}, 50, lot=f"L{k}")
            codes += [c.decode() for c in b.codes()[:3]]
        d.apply([{"id": "c", "action": "commission", "codes": codes[::2]}])
        want = [Verdict.GENUINE if i % 2 == 0 else Verdict.NOT_COMMISSIONED for i in range(len(codes))]
        for _ in range(3):
            assert [d.verify(c, record=False).verdict for c in codes] == want
            assert d.verify_many(codes[::-1], record=False).verdicts.tolist() == want[::-1]
        assert [d.verify(c, record=False).lot for c in codes[::3]] == [f"L{k}" for k in range(6)]
        idx = d.index
        assert max(len(idx.batches._pids), len(idx._tables), len(idx._batch_cache),
                   len(idx.parser._issuers), len(idx.parser._products)) <= 2


def test_products_issued_while_other_threads_verify(tmp_path):
    """The issued-product set is replaced, never mutated, under readers in other threads."""
    import threading
    with tracecode.init(tmp_path / "d") as d:
        d.issue("cn-drug-20", DRUG, 10)
        junk = _junk_drug_codes(2000, first=5_000_000)
        stop, errors = threading.Event(), []

        def verify():
            try:
                while not stop.is_set():
                    d.verify_many(junk, record=False)
                    d.verify(junk[0], record=False)
            except Exception as exc:  # noqa: BLE001 - the test reports any
                errors.append(exc)
        threads = [threading.Thread(target=verify) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            codes = [d.issue("cn-drug-20", {"drug_id": f"{5_000_000 + k}"}, 5).codes()[0].decode()
                     for k in range(40)]
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors
        assert (d.verify_many(codes, record=False).verdicts == Verdict.NOT_COMMISSIONED).all()
        assert all(d.verify(c, record=False).verdict == Verdict.NOT_COMMISSIONED for c in codes)
