"""Bulk issuance and FF1, against the naive way in the same run.

The naive way is what a team without this engine would write: Python
`secrets` for an unpredictable serial, python-stdnum for the check digit, a
set to refuse repeats. Engine figures say whether allocation is included:
"reused buffer" fills a pre-faulted array, "fresh array" allocates each round.
"""
import os

import numpy as np
import pytest

from bench.conftest import size
from bench.naive import naive_issue
import tracecode
from tracecode import Key, schemes
from tracecode.fpe.ff1 import FF1
from tracecode.issuance import Issuer

MASTER = Key(bytes(range(32)))
N = size(2_000_000, 20_000_000)
N_NAIVE = size(50_000, 500_000)
PRODUCTS = {name: s.example_product() for name, s in schemes.builtin().items()}


def run(benchmark, fn, codes, role="engine", note=""):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="issue")
def test_naive_secrets_stdnum_set(benchmark):
    out = run(benchmark, lambda: naive_issue(N_NAIVE), N_NAIVE, "baseline", "cn-drug-20")
    assert len(set(out)) == N_NAIVE


@pytest.mark.parametrize("name,render", [("cn-drug-20", "bare"), ("cn-pesticide-32", "bare"),
                                         ("generic", "bare"), ("gs1-sgtin", "element")])
@pytest.mark.benchmark(group="issue")
def test_engine_reused_buffer(benchmark, name, render):
    iss = Issuer(schemes.get(name), PRODUCTS[name], MASTER)
    lay = iss.layout(render, {"expiry": "261231", "lot": "A1"} if render == "element" else None)
    out = np.ones((N, lay.width), np.uint8)  # pre-faulted
    run(benchmark, lambda: iss._fill(lay, 0, out), N, note=f"{name} {render}, reused buffer")
    assert iss.scheme.validate_many(out[:1000].copy().view(f"S{lay.width}").ravel()).all() \
        if render == "bare" else True


@pytest.mark.benchmark(group="issue")
def test_engine_fresh_array(benchmark):
    iss = Issuer(schemes.get("cn-drug-20"), PRODUCTS["cn-drug-20"], MASTER)
    codes = run(benchmark, lambda: iss.codes(0, N), N, note="cn-drug-20, allocation included")
    assert len(codes) == N


@pytest.mark.benchmark(group="issue")
def test_engine_write_file(benchmark, tmp_path):
    iss = Issuer(schemes.get("cn-drug-20"), PRODUCTS["cn-drug-20"], MASTER)
    path = tmp_path / "codes.txt"

    def write():
        with open(path, "wb") as f:
            iss.write(f, 0, N)
    run(benchmark, write, N, note="cn-drug-20 to a file, 1M-code chunks")
    assert path.stat().st_size == N * 21


@pytest.mark.benchmark(group="issue")
def test_engine_through_index(benchmark, tmp_path):
    d = tracecode.init(tmp_path / "data")
    per_request = N // 10
    drugs = iter(range(8177322, 9999999))  # a drug per round: rounds of BENCH_FULL outgrow one's 10^8 codes

    def issue():
        product = {"drug_id": str(next(drugs))}
        with open(os.devnull, "wb") as sink:
            for _ in range(10):
                d.issue("cn-drug-20", product, per_request).write(sink)
    run(benchmark, issue, N, note=f"cn-drug-20 through the index: durable reservation, codes written "
                                  f"to /dev/null, {per_request:,} per request")
    d.close()


@pytest.mark.benchmark(group="ff1")
def test_ff1_scalar_per_code(benchmark):
    f = FF1(os.urandom(32), b"bench", 10, 12)
    plain = [f"{i:012d}" for i in range(N_NAIVE // 5)]
    run(benchmark, lambda: [f.encrypt(p) for p in plain], len(plain), "baseline",
        "one Python call per code")


@pytest.mark.parametrize("radix,length", [(10, 12), (10, 20), (36, 12)])
@pytest.mark.benchmark(group="ff1")
def test_ff1_bulk(benchmark, radix, length):
    f = FF1(os.urandom(32), b"bench", radix, length)
    out = np.empty(N, f"S{length}")
    run(benchmark, lambda: f.encrypt_counters(0, N, out), N,
        note=f"radix {radix}, {length} numerals, AES-256")


@pytest.mark.benchmark(group="ff1")
def test_ff1_bulk_decrypt(benchmark):
    f = FF1(os.urandom(32), b"bench", 10, 12)
    serials = f.encrypt_counters(0, N)
    counters, ok = run(benchmark, lambda: f.decrypt_counters(serials), N, note="decrypt, radix 10")
    assert ok.all()
