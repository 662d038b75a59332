"""Registering codes others assigned (special equipment), against py-lmdb in the same run.

register: a file's bytes to stored codes, every step included (lines split, the layout
checked per code, the case fold, the keys' order, the C loop over LMDB with
MDB_NOOVERWRITE, the commits), into a fresh index each round. Baseline: py-lmdb
putmulti of the same records (the same b"ext\\0" + code keys and the same value) into a
fresh environment, the keys built from the same lines, in file order: what storing them
costs with nothing checked. Issue 15 asks >= 0.5 M codes/s for 1e6 codes (BENCH_FULL=1).

verify: registered codes verify through the index's batch path (verify_many: they are
looked up among the codes issued elsewhere in one C loop), against verify_many of the
same number of codes issued here (cn-drug-20) in the same run.
"""
import shutil

import lmdb
import numpy as np
import pytest

import tracecode
from bench.conftest import size
from tests.special_equipment_data import equipment_codes
from tracecode.index.register import lines_of

N = size(200_000, 1_000_000)
N_VERIFY = size(100_000, 1_000_000)
SCHEME = "cn-equip-18"
VALUE = (b'{"scheme":"cn-equip-18","category":"special_equipment","owner":"maker",'
         b'"source":"codes.txt","registered":1764651000.123}')


def run(benchmark, fn, codes, role="engine", note="", setup=None):
    benchmark.extra_info.update(codes=codes, role=role, note=note)
    return benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1, warmup_rounds=0)


@pytest.fixture(scope="module")
def data():
    return b"\n".join(equipment_codes(N, seed=2026).tolist()) + b"\n"


@pytest.mark.benchmark(group="register")
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


@pytest.mark.benchmark(group="register")
def test_engine_register(benchmark, data, tmp_path):
    where = tmp_path / "data"
    state = {}

    def setup():
        if "d" in state:
            state["d"].close()
        shutil.rmtree(where, ignore_errors=True)
        state["d"] = tracecode.init(where)

    def register():
        state["rep"] = state["d"].register(SCHEME, lines_of(data), owner="maker", source="codes.txt")
    run(benchmark, register, N, note=f"{N:,} {SCHEME} codes from a file's bytes, checked, fresh index",
        setup=setup)
    assert state["rep"].registered == N and state["rep"].rejected == 0
    state["d"].close()


@pytest.fixture(scope="module")
def verify_world(tmp_path_factory):
    d = tracecode.init(tmp_path_factory.mktemp("bench-register-verify") / "data")
    registered = [c.decode() for c in equipment_codes(N_VERIFY, seed=7)]
    assert d.register(SCHEME, registered, owner="maker").registered == N_VERIFY
    issued = [c.decode() for c in d.issue("cn-drug-20", {"drug_id": "8177322"}, N_VERIFY).codes()]
    d.apply([{"id": "c", "action": "commission", "codes": issued}])
    yield d, registered, issued
    d.close()


@pytest.mark.benchmark(group="register-verify")
def test_baseline_verify_issued(benchmark, verify_world):
    d, _, issued = verify_world
    out = run(benchmark, lambda: d.verify_many(issued, record=False), N_VERIFY, "baseline",
              "verify_many of codes issued here (cn-drug-20, commissioned)")
    assert (out.verdicts == tracecode.index.Verdict.GENUINE).all()


@pytest.mark.benchmark(group="register-verify")
def test_engine_verify_registered(benchmark, verify_world):
    d, registered, _ = verify_world
    out = run(benchmark, lambda: d.verify_many(registered, record=False), N_VERIFY,
              note=f"verify_many of {N_VERIFY:,} registered {SCHEME} codes")
    assert (out.verdicts == tracecode.index.Verdict.GENUINE).all()
    assert np.unique(out.records["fault"]).tolist() == [0]
