"""Peak resident memory of issuance and verification as counts grow, in child processes.

Each measurement runs alone in a fresh interpreter (tracecode.capacity.child, or
bench/naive.py for the baseline) that reports its own peaks, so nothing this
process holds is counted: private memory (sampled) and resident memory (VmHWM,
which also counts the index pages LMDB maps from the page cache). The engine's
bulk paths write codes in reused chunks and verify scans a chunk at a time, so
their private peak must not grow with the count; the naive baseline keeps a set
of every code it issued.
"""
import functools
import sys
from pathlib import Path

import pytest

from bench.conftest import size
from tracecode.capacity import child, memory
from tracecode.issuance.issuer import DEFAULT_WRITE_CHUNK

ISSUE = size((10**5, 2 * 10**6, 10**7), (10**6, 10**7, 10**8))
VERIFY = size((10**5, 10**6), (10**5, 10**6, 10**7))
NAIVE = size((50_000, 200_000), (10**5, 10**6))
FLAT = 32e6  # bytes a bulk path's peak may vary by across counts (allocator, caches)
NAIVE_SCRIPT = Path(__file__).with_name("naive.py")


@functools.lru_cache(maxsize=None)  # the flatness tests reuse what the benchmarks measured
def peak(kind: str, n: int, tmp: str) -> dict:
    if kind == "naive":
        return memory.measure([sys.executable, str(NAIVE_SCRIPT), str(n)])
    return memory.run(kind, n, Path(tmp) / f"{kind}-{n}")


def bench_peak(benchmark, tmp_path_factory, kind, n, role, note):
    tmp = str(tmp_path_factory.getbasetemp())
    result = benchmark.pedantic(lambda: peak(kind, n, tmp), rounds=1, iterations=1)
    benchmark.extra_info.update(count=n, peak_rss_bytes=result["peak_rss_bytes"],
                                peak_private_bytes=result["peak_private_bytes"], role=role,
                                note=f"{note}, {result['seconds']:.2f} s")


@pytest.mark.parametrize("n", ISSUE)
@pytest.mark.benchmark(group="memory-issue")
def test_engine_issue_to_file(benchmark, tmp_path_factory, n):
    bench_peak(benchmark, tmp_path_factory, "issue", n, "engine", "cn-pesticide-32 written to a file")


@pytest.mark.parametrize("n", NAIVE)
@pytest.mark.benchmark(group="memory-issue")
def test_naive_issue(benchmark, tmp_path_factory, n):
    bench_peak(benchmark, tmp_path_factory, "naive", n, "baseline", "secrets + stdnum + a set, in a list")


@pytest.mark.parametrize("n", VERIFY)
@pytest.mark.benchmark(group="memory-verify")
def test_engine_verify_chunks(benchmark, tmp_path_factory, n):
    bench_peak(benchmark, tmp_path_factory, "verify", n, "engine", "recorded, 65,536 scans per call")


@pytest.mark.parametrize("kind,counts,chunk", [("issue", ISSUE, DEFAULT_WRITE_CHUNK),
                                               ("verify", VERIFY, child.CHUNK)])
def test_bulk_paths_stay_flat(tmp_path_factory, kind, counts, chunk):
    """Once a count fills a whole chunk, the private peak does not grow with it."""
    tmp = str(tmp_path_factory.getbasetemp())
    peaks = [peak(kind, n, tmp)["peak_private_bytes"] for n in counts if n >= chunk]
    assert len(peaks) >= 2 and max(peaks) - min(peaks) < FLAT, \
        f"{kind}: peaks {[f'{p / 1e6:.0f} MB' for p in peaks]}"
