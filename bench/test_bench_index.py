"""Verification against the index, against per-code indexes measured in the same run.

Baselines: what a team would build without FF1 — every issued serial stored as
a key, looked up per scan — in py-lmdb and in SQLite with a primary key. The
engine stores nothing per issued code (one record per batch) and recovers the
batch from the serial with FF1.
"""
import secrets
import sqlite3
import statistics
import time

import lmdb
import pytest

import tracecode
from bench.conftest import size

N_ISSUED = size(1_000_000, 100_000_000)
N_SCANS = size(20_000, 1_000_000)
N_BASE = size(200_000, 10_000_000)


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "data"
    d = tracecode.init(path)
    d.issue("cn-drug-20", {"drug_id": "8177322"}, N_ISSUED, lot="L1", expiry="20301231")
    step = max(1, N_ISSUED // N_SCANS)
    scans = [c.decode() for c in d.issuer("cn-drug-20", {"drug_id": "8177322"}).codes(0, N_ISSUED)[::step]]
    d.apply([{"id": "c", "action": "commission", "codes": scans[: len(scans) // 2]}])
    yield d, scans
    d.close()


@pytest.fixture(scope="module")
def random_serials():
    return sorted({f"8177322{secrets.randbelow(10**13):013d}".encode() for _ in range(N_BASE)})


@pytest.mark.benchmark(group="verify")
def test_baseline_lmdb_per_code(benchmark, tmp_path, random_serials):
    env = lmdb.open(str(tmp_path / "base"), map_size=1 << 34)
    with env.begin(write=True) as txn:
        txn.cursor().putmulti([(k, b"\x01") for k in random_serials], append=True)
    probe = random_serials[:: max(1, len(random_serials) // N_SCANS)]

    def lookup():
        with env.begin() as txn:
            return sum(txn.get(k) is not None for k in probe)
    assert run(benchmark, lookup, len(probe), "baseline", "py-lmdb get per scan, random serials") == len(probe)


@pytest.mark.benchmark(group="verify")
def test_baseline_sqlite_per_code(benchmark, tmp_path, random_serials):
    db = sqlite3.connect(tmp_path / "base.sqlite")
    db.execute("CREATE TABLE codes (code TEXT PRIMARY KEY, status INTEGER)")
    db.executemany("INSERT INTO codes VALUES (?, 1)", ((k.decode(),) for k in random_serials))
    db.commit()
    probe = [k.decode() for k in random_serials[:: max(1, len(random_serials) // N_SCANS)]]

    def lookup():
        cur = db.cursor()
        return sum(cur.execute("SELECT status FROM codes WHERE code = ?", (k,)).fetchone() is not None
                   for k in probe)
    run(benchmark, lookup, len(probe), "baseline", "SQLite primary key per scan")


@pytest.mark.benchmark(group="verify")
def test_engine_verify_many(benchmark, data):
    d, scans = data
    answers = run(benchmark, lambda: d.verify_many(scans, record=False), len(scans),
                  note=f"verdicts, {N_ISSUED:,} issued, half commissioned")
    assert {a.verdict.name for a in answers} == {"GENUINE", "NOT_COMMISSIONED"}


@pytest.mark.benchmark(group="verify")
def test_engine_verify_many_recorded(benchmark, data):
    d, scans = data
    run(benchmark, lambda: (d.verify_many(scans, place="bench"), d.index.log.flush()), len(scans),
        note="verdicts + scan log committed")


@pytest.mark.benchmark(group="verify")
def test_engine_verify_single(benchmark, data):
    d, scans = data
    sample = scans[:5000]

    def one_by_one():
        for s in sample:
            d.verify(s, record=False)
    run(benchmark, one_by_one, len(sample), note="single-scan verify() calls")
    lat = []
    for s in sample:
        t = time.perf_counter()
        d.verify(s, record=False)
        lat.append(time.perf_counter() - t)
    benchmark.extra_info["note"] += f", median {statistics.median(lat) * 1e6:.1f} us"


def _db_bytes(env, names):
    """Bytes of the LMDB pages the named databases occupy."""
    total = 0
    with env.begin() as txn:
        for name in names:
            st = txn.stat(env.open_db(name))
            total += st["psize"] * (st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"])
    return total


@pytest.mark.parametrize("issued", [10**6, 10**9])
@pytest.mark.benchmark(group="verify-scale")
def test_engine_verify_at_scale(benchmark, tmp_path, issued):
    """Throughput and index size as the number of issued codes grows 1000-fold."""
    d = tracecode.init(tmp_path / "data")
    per_batch = min(issued, 10**7)
    product = tracecode.schemes.get("cn-pesticide-32").example_product()  # room for 10**16
    for _ in range(issued // per_batch):
        d.issue("cn-pesticide-32", product, per_batch, lot="L1", expiry="20301231")
    iss = d.issuer("cn-pesticide-32", product)
    step = issued // 2000
    sample = [iss.codes(k * step, 1)[0].decode() for k in range(2000)]
    d.apply([{"id": "c", "action": "commission", "codes": sample}])
    scans = sample * 10
    run(benchmark, lambda: d.verify_many(scans, record=False), len(scans),
        note=f"{issued:,} issued in {issued // per_batch} batches")
    env = d.index.env
    untouched = _db_bytes(env, [b"counters", b"batches", b"ranges"])
    touched = _db_bytes(env, [b"codes", b"code_events"])
    benchmark.extra_info["note"] += (f"; index {untouched / issued:.6f} bytes per issued code, "
                                     f"{touched / len(sample):.0f} bytes per code with an event")
    assert untouched / issued < 0.001 or issued < 10**7
    d.close()
