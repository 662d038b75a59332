"""Registering detonator shell codes (cn-detonator-13, GA 441-2003) with the 10-year rule,
against py-lmdb putmulti of the same keys in the same run (as test_bench_register.py).

register: a file's bytes of codes never registered, fresh index each round: the rule costs
one dictionary lookup (the scheme has a reuse window) and nothing per code, since it only
reads codes the store reports as on record. Issue 15: >= 0.5 M codes/s at 1e6 (BENCH_FULL=1).

reregister: the same codes sent again within 10 years, every one refused: the rule's Python
path (the code's record and steps read, the date compared), per code on record. Registering
a file twice is the only way to get there in bulk; it is measured so its cost is known.
"""
import shutil

import lmdb
import pytest

import tracecode
from bench.conftest import size
from tests.hazardous_data import detonator_codes
from tracecode.index.register import lines_of

N = size(200_000, 1_000_000)
N_AGAIN = size(20_000, 100_000)
SCHEME = "cn-detonator-13"
VALUE = (b'{"scheme":"cn-detonator-13","category":"hazardous","owner":"factory 35",'
         b'"source":"shells.txt","registered":1764651000.123}')


def run(benchmark, fn, codes, role="engine", note="", setup=None):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1, warmup_rounds=0)


@pytest.fixture(scope="module")
def data():
    return b"\n".join(detonator_codes(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register-detonator")
def test_baseline_putmulti(benchmark, data, tmp_path):
    where = tmp_path / "lmdb"
    state = {}

    def setup():
        shutil.rmtree(where, ignore_errors=True)
        env = lmdb.open(str(where), map_size=1 << 32, max_dbs=4)
        state["env"], state["db"] = env, env.open_db(b"imported")

    def store():
        items = [(b"ext\x00" + c, VALUE) for c in lines_of(data).tolist()]
        with state["env"].begin(write=True) as txn:
            txn.cursor(db=state["db"]).putmulti(items)
        state["env"].close()
    run(benchmark, store, N, "baseline", "py-lmdb putmulti of the same keys and value, file order, "
                                         "nothing checked", setup=setup)


@pytest.mark.benchmark(group="register-detonator")
def test_engine_register_detonators(benchmark, data, tmp_path):
    where = tmp_path / "data"
    state = {}

    def setup():
        if "d" in state:
            state["d"].close()
        shutil.rmtree(where, ignore_errors=True)
        state["d"] = tracecode.init(where)

    def register():
        state["rep"] = state["d"].register(SCHEME, lines_of(data), owner="factory 35", source="shells.txt")
    run(benchmark, register, N, note=f"{N:,} {SCHEME} codes, checked, 10-year rule, fresh index",
        setup=setup)
    assert state["rep"].registered == N and state["rep"].rejected == 0
    state["d"].close()


@pytest.mark.benchmark(group="register-detonator")
def test_engine_reregister_refused(benchmark, data, tmp_path):
    d = tracecode.init(tmp_path / "again")
    again = lines_of(data)[:N_AGAIN]
    assert d.register(SCHEME, again, owner="factory 35").registered == N_AGAIN
    out = run(benchmark, lambda: d.register(SCHEME, again, owner="factory 35"), N_AGAIN,
              note=f"{N_AGAIN:,} codes on record sent again within 10 years: each refused")
    assert out.rejected == N_AGAIN and out.registered == 0
    d.close()
