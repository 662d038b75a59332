"""Registering detonator shell codes (cn-detonator-13, GA 441-2003) with the 10-year rule,
against py-lmdb putmulti of the same keys in the same run (as test_bench_register.py).

register: a file's bytes of codes never registered, fresh index each round: the rule costs
one dictionary lookup (the scheme has a reuse window) and nothing per code, since it only
reads codes the store reports as on record. Issue 15: >= 0.5 M codes/s at 1e6 (BENCH_FULL=1).

reregister: the same codes sent again within 10 years, every one refused: the rule's Python
path (the code's record and steps read, the date compared), per code on record. Registering
a file twice is the only way to get there in bulk; it is measured so its cost is known.
"""
import pytest

import tracecode
from bench.conftest import size
from bench.registering import baseline_putmulti, engine_register, run
from tests.hazardous_data import detonator_codes
from tracecode.index.register import lines_of

N = size(200_000, 1_000_000)
N_AGAIN = size(20_000, 100_000)
SCHEME = "cn-detonator-13"
VALUE = (b'{"scheme":"cn-detonator-13","category":"hazardous","owner":"factory 35",'
         b'"source":"shells.txt","registered":1764651000.123}')


@pytest.fixture(scope="module")
def data():
    return b"\n".join(detonator_codes(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register-detonator")
def test_baseline_putmulti(benchmark, data, tmp_path):
    baseline_putmulti(benchmark, data, VALUE, tmp_path / "lmdb", N)


@pytest.mark.benchmark(group="register-detonator")
def test_engine_register_detonators(benchmark, data, tmp_path):
    engine_register(benchmark, data, SCHEME, tmp_path / "data", N,
                    f"{N:,} {SCHEME} codes, checked, 10-year rule, fresh index",
                    owner="factory 35", source="shells.txt")


@pytest.mark.benchmark(group="register-detonator")
def test_engine_reregister_refused(benchmark, data, tmp_path):
    d = tracecode.init(tmp_path / "again")
    again = lines_of(data)[:N_AGAIN]
    assert d.register(SCHEME, again, owner="factory 35").registered == N_AGAIN
    out = run(benchmark, lambda: d.register(SCHEME, again, owner="factory 35"), N_AGAIN,
              note=f"{N_AGAIN:,} codes on record sent again within 10 years: each refused")
    assert out.rejected == N_AGAIN and out.registered == 0
    d.close()
