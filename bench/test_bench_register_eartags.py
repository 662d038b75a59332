"""Registering livestock ear tags (cn-eartag-15, 15 digits, assigned by the tagging
authority) against py-lmdb putmulti of the same records in the same run, as
bench/test_bench_register.py does for equipment codes (issue 15: >= 0.5 M codes/s at 1e6,
BENCH_FULL=1). Tags come in county runs (tests/livestock_data.py), so keys are clustered."""
import shutil

import lmdb
import pytest

import tracecode
from bench.conftest import size
from tests.livestock_data import ear_tags
from tracecode.index.register import lines_of

N = size(200_000, 1_000_000)
SCHEME = "cn-eartag-15"
VALUE = (b'{"scheme":"cn-eartag-15","category":"livestock","owner":"Santai County Animal Husbandry Bureau",'
         b'"source":"tags.txt","registered":1764651000.123}')


def run(benchmark, fn, role="engine", note="", setup=None):
    benchmark.extra_info.update(codes=N, role=role, note=note)
    return benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1, warmup_rounds=0)


@pytest.fixture(scope="module")
def data():
    return b"\n".join(ear_tags(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register-eartags")
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
    run(benchmark, store, "baseline", "py-lmdb putmulti of the same keys and value, file order, nothing checked",
        setup=setup)


@pytest.mark.benchmark(group="register-eartags")
def test_engine_register(benchmark, data, tmp_path):
    where = tmp_path / "data"
    state = {}

    def setup():
        if "d" in state:
            state["d"].close()
        shutil.rmtree(where, ignore_errors=True)
        state["d"] = tracecode.init(where)

    def register():
        state["rep"] = state["d"].register(SCHEME, lines_of(data), owner="Santai County Animal Husbandry Bureau",
                                           source="tags.txt")
    run(benchmark, register, note=f"{N:,} {SCHEME} tags from a file's bytes, checked, fresh index", setup=setup)
    assert state["rep"].registered == N and state["rep"].rejected == 0
    state["d"].close()
