"""The analytics rules over generated scans (tracecode.analytics.synth): DuckDB, Spark
local[2] on the same data, against DuckDB merely reading the scans (same run).

Quick: 10⁶ scans; BENCH_FULL=1: 10⁷ and 10⁸ (Spark at 10⁷ only: at 10⁸ the 10⁷ ratio
stands for it). DuckDB runs in a child process (bench/analytics_child.py) under
MEMORY_LIMIT (DuckDB spills the rest to a temp folder), so its peak resident memory
(VmHWM, as bench/test_bench_memory.py measures) is its own; the baseline reads the scans
once in a child the same way. Figures (extra_info): seconds of the six rules and per rule,
scans/s, peak RSS and private bytes, the Spark / DuckDB ratio.

BENCH_ANALYTICS_CACHE=DIR keeps the generated data in DIR/scans-<N> and reuses it on the
next run (generating 10⁸ scans takes ~30 min on 2 loaded cores, ~7 GB of Parquet).
"""
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import pytest

from bench.conftest import FULL
from tracecode.analytics import synth
from tracecode.analytics.engines import open_engine
from tracecode.analytics.run import run_rules
from tracecode.capacity.memory import measure

SIZES = (10_000_000, 100_000_000) if FULL else (1_000_000,)   # scans, roughly
SPARK_MAX = 10_000_000
MEMORY_LIMIT = os.environ.get("BENCH_ANALYTICS_MEMORY", "4GB")
_SECONDS = {}   # (kind, n) -> the rules' (or the read's) own seconds, for the ratios
_ALERTS = {}    # n -> how many alerts DuckDB found (Spark must find as many)


def _rounds(n):
    return 3 if n <= 1_000_000 else 1


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n:.0e}")
def data(request, tmp_path_factory):
    n = request.param
    cache = os.environ.get("BENCH_ANALYTICS_CACHE")
    root = (Path(cache) / f"scans-{n}" if cache else tmp_path_factory.mktemp(f"analytics-{n}"))
    done = root / "truth.json"
    if done.exists():
        scans = json.loads(done.read_text())["scans"]
    else:
        shutil.rmtree(root, ignore_errors=True)
        scans = synth.generate(root, n_codes=n // 3, seed=1)["scans"]
        if cache:
            done.write_text(json.dumps({"scans": scans, "n_codes": n // 3, "seed": 1}))
    yield n, root, scans
    if not cache:
        shutil.rmtree(root, ignore_errors=True)


def _child(root, *flags):
    return measure([sys.executable, "-m", "bench.analytics_child", str(root), *flags],
                   cwd=Path(__file__).parent.parent)


@pytest.mark.benchmark(group="analytics")
def test_baseline_duckdb_reads_the_scans(benchmark, data):
    n, root, scans = data
    got = benchmark.pedantic(lambda: _child(root, "--read-only", "--memory-limit", MEMORY_LIMIT),
                             rounds=_rounds(n), iterations=1)
    _SECONDS["read", n] = got["seconds"]
    benchmark.extra_info.update(codes=scans, role="baseline", child=got,
                                note=f"count, count(DISTINCT code), max(lat); {MEMORY_LIMIT}")


@pytest.mark.benchmark(group="analytics")
def test_duckdb_all_rules(benchmark, data):
    n, root, scans = data
    got = benchmark.pedantic(lambda: _child(root, "--memory-limit", MEMORY_LIMIT),
                             rounds=_rounds(n), iterations=1)
    assert got["alerts"] > 0 and got["scans"] == scans
    _SECONDS["duckdb", n] = got["seconds"]
    _ALERTS[n] = got["alerts"]
    benchmark.extra_info.update(codes=scans, role="engine", child=got,
                                note=f"six rules, {got['seconds']} s, peak RSS "
                                     f"{got['peak_rss_bytes'] / 1e9:.1f} GB; {MEMORY_LIMIT}")
    if ("read", n) in _SECONDS:
        benchmark.extra_info["x_read"] = round(got["seconds"] / _SECONDS["read", n], 1)


@pytest.mark.benchmark(group="analytics")
def test_spark_all_rules(benchmark, data):
    n, root, scans = data
    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    if n > SPARK_MAX:
        pytest.skip(f"Spark local[2] measured up to {SPARK_MAX:.0e} scans (the ratio there stands)")
    e = open_engine("spark", root)
    t = time.perf_counter()
    run_rules(e, ["probing"])   # the session and its JVM warmed up once
    benchmark.extra_info["warm_s"] = round(time.perf_counter() - t, 1)
    # one round at the quick size (CI's run, where nothing is asserted about speed; this test
    # was 142 s of CI's 600 s of benchmarks with two), two at the full sizes
    alerts = benchmark.pedantic(lambda: run_rules(e), rounds=min(2, _rounds(n)) if FULL else 1, iterations=1)
    assert alerts
    if n in _ALERTS:   # identity of the alerts is tests/test_analytics_spark.py's; here the count
        assert len(alerts) == _ALERTS[n]
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update(codes=scans, role="engine", scans_per_s=round(scans / mean),
                                alerts=len(alerts), note="six rules, Spark local[2]")
    if ("duckdb", n) in _SECONDS:
        benchmark.extra_info["x_duckdb"] = round(mean / _SECONDS["duckdb", n], 1)
    benchmark.extra_info["peak_rss_mb_parent"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
