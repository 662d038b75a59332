"""The PostgreSQL store against the embedded LMDB store, same run (issue 16's figures).

A data directory on each (tracecode.init(DIR) and tracecode.init(DIR, store=URL)), the
server local on loopback, durable as LMDB is (fsync on, synchronous_commit on):
  - issuance: one reservation + FF1 of a batch (codes/s; target >= 0.8x for batches >= 1e5)
  - verify_many of a batch of commissioned codes (target >= 0.5x)
  - single verify, one code a call (p50; target < 200 us)
  - commission: one event of N codes applied (target >= 0.3x)
Baseline: LMDB, engine: PostgreSQL. Quick sizes unless BENCH_FULL=1.
"""
from __future__ import annotations

import pytest

import tracecode
from bench.conftest import size

N = size(100_000, 1_000_000)
DRUG = {"drug_id": "8177322"}
_dbs = iter(range(1, 1 << 20))


def _datadir(kind, tmp_path, server):
    where = tmp_path / f"{kind}-{next(_dbs)}"
    if kind == "lmdb":
        return tracecode.init(where)
    return tracecode.init(where, store=server.create_database(f"bench_{next(_dbs)}"))


KINDS = [pytest.param("lmdb", id="lmdb"), pytest.param("postgres", id="postgres")]


def _role(kind):
    return "baseline" if kind == "lmdb" else "engine"


@pytest.mark.benchmark(group="postgres-issue (codes/s)")
@pytest.mark.parametrize("kind", KINDS)
def test_issue(benchmark, kind, tmp_path, pg_server):
    dd = _datadir(kind, tmp_path, pg_server)
    try:
        benchmark.extra_info.update(codes=N, role=_role(kind), note=f"batch of {N:,}")
        benchmark.pedantic(lambda: len(dd.issue("cn-drug-20", DRUG, N).codes()), rounds=5, warmup_rounds=1)
    finally:
        dd.close()


def _commissioned(kind, tmp_path, server, n):
    dd = _datadir(kind, tmp_path, server)
    codes = dd.issue("cn-drug-20", DRUG, n).codes()
    dd.apply([{"id": "c", "action": "commission", "codes": [c.decode() for c in codes]}])
    return dd, codes


@pytest.mark.benchmark(group="postgres-verify_many (codes/s)")
@pytest.mark.parametrize("kind", KINDS)
def test_verify_many(benchmark, kind, tmp_path, pg_server):
    dd, codes = _commissioned(kind, tmp_path, pg_server, N)
    try:
        benchmark.extra_info.update(codes=N, role=_role(kind), note="commissioned codes, scans recorded")
        got = benchmark.pedantic(lambda: dd.verify_many(codes), rounds=5, warmup_rounds=1)
        assert int((got.records["verdict"] == 1).sum()) == N   # GENUINE
    finally:
        dd.close()


@pytest.mark.benchmark(group="postgres-verify-single (codes/s; p50 = 1/rate)")
@pytest.mark.parametrize("kind", KINDS)
def test_verify_single(benchmark, kind, tmp_path, pg_server):
    dd, codes = _commissioned(kind, tmp_path, pg_server, 1000)
    it = iter(range(1 << 30))
    try:
        benchmark.extra_info.update(codes=1, role=_role(kind), note="one code a call")
        benchmark.pedantic(lambda: dd.verify(codes[next(it) % 1000]), rounds=2000, warmup_rounds=50)
    finally:
        dd.close()


@pytest.mark.benchmark(group="postgres-commission (codes/s)")
@pytest.mark.parametrize("kind", KINDS)
def test_commission(benchmark, kind, tmp_path, pg_server):
    dd = _datadir(kind, tmp_path, pg_server)
    rounds = iter(range(1 << 20))
    try:
        def setup():
            codes = dd.issue("cn-drug-20", DRUG, N).codes()
            return ([{"id": f"c{next(rounds)}", "action": "commission", "codes": [c.decode() for c in codes]}],), {}
        benchmark.extra_info.update(codes=N, role=_role(kind), note=f"one event of {N:,} codes")
        benchmark.pedantic(lambda events: dd.apply(events), setup=setup, rounds=3)
    finally:
        dd.close()
