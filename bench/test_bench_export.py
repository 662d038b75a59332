"""The Parquet export (tracecode export --parquet) against pyarrow writing the same scan
columns from memory, in the same run: what reading the scan log, telling its code keys as
codes (FF1 once per distinct code) and partitioning by day cost over writing Parquet alone.

Engine: N scans of N / 4 distinct codes (each scanned four times, four sources) exported
from scratch into a fresh folder each round. Baseline: the finished scans table (read back
from a first export) written with pyarrow.parquet.write_table, zstd, one file.
"""
import shutil

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import tracecode
from bench.conftest import size
from tracecode.analytics.export import export

N = size(200_000, 10_000_000)   # scans per round
ROUNDS = size(3, 1)   # at 10⁷ one round of each is minutes on 2 loaded cores
DRUG = {"drug_id": "8177322"}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    d = tracecode.init(base / "data")
    codes = d.issue("cn-drug-20", DRUG, N // 4).codes()
    for i, region in enumerate(("110105", "450100", "310000", None)):
        d.verify_many(codes, scanner=f"pda-{i}", place=f"shop {i}", region=region,
                      lat=None if region is None else 30.0 + i, lon=None if region is None else 110.0 + i)
    export(d, base / "warm")
    table = ds.dataset(base / "warm" / "scans", partitioning="hive").to_table().drop(["day"])
    assert table.num_rows == N
    yield d, base, table
    d.close()


@pytest.mark.benchmark(group="export-scans")
def test_baseline_pyarrow_write(benchmark, scanned):
    _, base, table = scanned
    benchmark.extra_info.update(codes=N, role="baseline", note="pyarrow write_table of the finished columns")
    benchmark.pedantic(lambda: pq.write_table(table, base / "baseline.parquet", compression="zstd"),
                       rounds=ROUNDS, iterations=1)


@pytest.mark.benchmark(group="export-scans")
def test_engine_export(benchmark, scanned):
    d, base, _ = scanned
    rounds = iter(range(ROUNDS + 1))

    def setup():
        out = base / f"out{next(rounds)}"
        shutil.rmtree(out, ignore_errors=True)
        return (out,), {}

    def run(out):
        assert export(d, out)["scans"] == N
    benchmark.extra_info.update(codes=N, role="engine",
                                note="scan log -> codes -> day parts (+ the codes snapshot: no events here)")
    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
