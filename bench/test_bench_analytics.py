"""The analytics rules over generated scans (tracecode.analytics.synth): DuckDB, Spark
local[2] on the same data, against DuckDB merely reading the scans (same run).

Quick: 10⁶ scans; BENCH_FULL=1: 10⁷ (10⁸ would need ~4 GB of Parquet and more time than a
run here has: not measured). Figures: seconds per run of all six rules, scans/s, the DuckDB
child process's peak RSS (extra_info), the Spark / DuckDB ratio.
"""
import json
import resource
import shutil
import subprocess
import sys
import time

import pytest

from bench.conftest import size
from tracecode.analytics import synth
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import run_rules

N = size(1_000_000, 10_000_000)   # scans, roughly (Poisson per code)
_CHILD = """
import json, resource, sys, time
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import run_rules
e = open_engine("duckdb", sys.argv[1]); t = time.perf_counter(); n = len(run_rules(e))
print(json.dumps({"alerts": n, "s": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
_TIMES = {}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("analytics")
    truth = synth.generate(root, n_codes=N // 3, seed=1)
    return root, truth


@pytest.mark.benchmark(group="analytics")
def test_baseline_duckdb_reads_the_scans(benchmark, data):
    root, truth = data
    e = open_engine("duckdb", root)
    sql = "SELECT count(*) AS n, count(DISTINCT code) AS c, max(lat) AS m FROM scans"
    benchmark.pedantic(lambda: e.rows(sql), rounds=3, iterations=1)
    _TIMES["read"] = benchmark.stats.stats.mean
    benchmark.extra_info["scans"] = truth["scans"]
    e.close()


@pytest.mark.benchmark(group="analytics")
def test_duckdb_all_rules(benchmark, data):
    root, truth = data
    e = open_engine("duckdb", root)
    alerts = benchmark.pedantic(lambda: run_rules(e), rounds=3, iterations=1)
    assert alerts
    mean = _TIMES["duckdb"] = benchmark.stats.stats.mean
    benchmark.extra_info.update(scans=truth["scans"], scans_per_s=round(truth["scans"] / mean),
                                alerts=len(alerts))
    if "read" in _TIMES:
        benchmark.extra_info["x_read"] = round(mean / _TIMES["read"], 1)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(root)], capture_output=True,
                         text=True, check=True)
    benchmark.extra_info["child"] = json.loads(out.stdout.splitlines()[-1])
    e.close()


@pytest.mark.benchmark(group="analytics")
def test_spark_all_rules(benchmark, data):
    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    root, truth = data
    e = open_engine("spark", root)
    t = time.perf_counter()
    run_rules(e, ["probing"])   # the session and its JVM warmed up once
    benchmark.extra_info["warm_s"] = round(time.perf_counter() - t, 1)
    alerts = benchmark.pedantic(lambda: run_rules(e), rounds=2, iterations=1)
    assert alerts
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update(scans=truth["scans"], scans_per_s=round(truth["scans"] / mean))
    if "duckdb" in _TIMES:
        benchmark.extra_info["x_duckdb"] = round(mean / _TIMES["duckdb"], 1)
    benchmark.extra_info["peak_rss_mb_parent"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
