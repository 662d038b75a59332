"""The counters' high-water mark (store/postgres/highwater.py) on the issuance path, same run:
PostgreSQL issuance with the mark against the same store with it switched off (the baseline)
and against LMDB. The mark writes DIR/highwater.json (fsync + rename) once per block, so the
ratio with/without should be ~1.0x. Batches of 1e5 codes (1e6 with BENCH_FULL=1) and
reservations of 1,000 codes (where a block covers ~65 reservations)."""
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
    dd = tracecode.init(where, store=server.create_database(f"hw_{next(_dbs)}"))
    if kind == "postgres-no-mark":
        dd.index.store.highwater = None   # the baseline: the reservation without the mark
    return dd


KINDS = ["lmdb", "postgres-no-mark", "postgres-mark"]
ROLE = {"lmdb": "lmdb", "postgres-no-mark": "baseline", "postgres-mark": "engine"}


@pytest.mark.benchmark(group="pg-highwater-issue-batch (codes/s)")
@pytest.mark.parametrize("kind", KINDS)
def test_issue_batch(benchmark, kind, tmp_path, pg_server):
    with _datadir(kind, tmp_path, pg_server) as dd:
        benchmark.extra_info.update(codes=N, role=ROLE[kind], note=f"batch of {N:,}")
        benchmark.pedantic(lambda: len(dd.issue("cn-drug-20", DRUG, N).codes()), rounds=7, warmup_rounds=1)


@pytest.mark.benchmark(group="pg-highwater-reserve-1000 (reservations/s)")
@pytest.mark.parametrize("kind", KINDS)
def test_reserve_small(benchmark, kind, tmp_path, pg_server):
    with _datadir(kind, tmp_path, pg_server) as dd:
        benchmark.extra_info.update(codes=1000, role=ROLE[kind], note="reservations of 1,000 codes")
        benchmark.pedantic(lambda: len(dd.issue("cn-drug-20", DRUG, 1000).codes()), rounds=300, warmup_rounds=5)
